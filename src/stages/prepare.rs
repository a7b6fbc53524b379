//! The prepare phase: site database → usage cab, or → CSV for review (`-export`).

use crate::site::{self, SiteLocator};
use crate::core::usage::{self, UsageDocument};
use crate::core::usage_cab::{self, CabReport};
use anyhow::Context;
use std::path::Path;

/// Reads the site's usage document.
pub fn collect(locator: &SiteLocator) -> anyhow::Result<UsageDocument> {
    let store = site::open(locator)?;
    usage::collect(store.as_ref())
}

/// `-prepare`: collect and pack into `dest`, replacing it atomically.
pub fn prepare(locator: &SiteLocator, dest: &Path) -> anyhow::Result<CabReport> {
    crate::core::atomic::check_parent(dest)?;
    let doc = collect(locator)?;
    usage_cab::pack(&doc, dest)
}

/// `-export`: collect, pack a cab as `-prepare` would (in a scratch folder) and write the review
/// CSV of what that cab carries to `dest`, atomically ([`crate::core::review`]); returns the row count.
pub fn export(locator: &SiteLocator, dest: &Path) -> anyhow::Result<usize> {
    crate::core::atomic::check_parent(dest)?;
    let doc = collect(locator)?;
    let scratch = tempfile::tempdir().context("Failed to create a scratch folder for the cab")?;
    let cab = scratch.path().join("UsageData.cab");
    usage_cab::pack(&doc, &cab)?;
    crate::core::atomic::write_with(dest, |file| crate::core::review::write_cab_csv(&cab, file))
}
