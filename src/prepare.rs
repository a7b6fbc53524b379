//! The prepare phase: site database → usage cab, or → CSV for review (`-export`).

use crate::site::{self, SiteLocator};
use crate::usage::{self, UsageDocument};
use crate::usage_cab::{self, CabReport};
use std::path::Path;

/// Reads the site's usage document.
pub fn collect(locator: &SiteLocator) -> anyhow::Result<UsageDocument> {
    let store = site::open(locator)?;
    usage::collect(store.as_ref())
}

/// `-prepare`: collect and pack into `dest`, replacing it atomically.
pub fn prepare(locator: &SiteLocator, dest: &Path) -> anyhow::Result<CabReport> {
    crate::atomic::check_parent(dest)?;
    let doc = collect(locator)?;
    usage_cab::pack(&doc, dest)
}

/// `-export`: collect and write the rows as CSV to `dest`, atomically; returns the row count.
pub fn export(locator: &SiteLocator, dest: &Path) -> anyhow::Result<usize> {
    crate::atomic::check_parent(dest)?;
    let doc = collect(locator)?;
    crate::atomic::write_with(dest, |file| usage::write_csv(&doc, file))?;
    Ok(doc.rows.len())
}
