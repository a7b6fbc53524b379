//! The prepare phase: site database → usage cab, or → CSV for review (`-export`).

use crate::core::error::Error;
use crate::core::usage::UsageDocument;
use crate::core::usage_cab::{self, CabReport};
use crate::site::{self, SiteLocator, SiteStore};
use anyhow::Context;
use std::path::Path;

/// Reads the site's usage document.
pub fn collect(locator: &SiteLocator) -> anyhow::Result<UsageDocument> {
    let store = site::open(locator)?;
    read_usage(store.as_ref())
}

/// `-prepare`: collect and pack into `dest`, replacing it atomically.
pub fn prepare(locator: &SiteLocator, dest: &Path) -> anyhow::Result<CabReport> {
    if dest.is_dir() {
        return Err(Error::Usage(format!(
            "-usagedatadest `{}` is a folder: give the cab file to write, as in {}",
            dest.display(),
            dest.join("UsageData.cab").display()
        ))
        .into());
    }
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

/// Reads identity and usage rows; a site without usage data yet is a "nothing to do" failure.
pub fn read_usage(site: &dyn SiteStore) -> anyhow::Result<UsageDocument> {
    let identity = site.identity()?;
    let rows = site.usage_rows(identity.diagnostics_level)?;
    if rows.is_empty() {
        return Err(Error::NoData(format!(
                "site {} ({}) has no usage data yet: a site collects it every 7 days from its install date \
                 (table TEL_TelemetryResults is empty at level {})",
                identity.site_code,
                site.describe(),
                identity.diagnostics_level
            )).into());
    }
    Ok(UsageDocument {
        schema: crate::core::document::Tag::new(),
        generated_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)?
            .to_string(),
        generator: concat!("sct ", env!("CARGO_PKG_VERSION")).to_owned(),
        hierarchy_hash: identity.hierarchy_hash(),
        site: identity,
        rows,
    })
}
