//! `sct-import --status`: what the console will show, and why a pack is not in *Updates and
//! Servicing*. Read only: the site database is read, the inbox is read, nothing is written.
//!
//! For each update pack the site lists, the state the site database records, whether its inbox
//! folder is complete against its catalog entry (the signed catalog of an update pack folder,
//! when one is given), and — for a pack that is not ready to install — why: superseded, not
//! applicable to the site's version, files missing, or a state the site has not yet picked up.

use super::inbox::{Inbox, Presence};
use crate::core::catalog::Catalog;
use crate::core::document::{Document, Tag};
use crate::core::version::CmVersion;
use crate::site::{SiteIdentity, SiteStore, UpdatePackage, state};
use serde::Serialize;
use uuid::Uuid;

/// `sct.pack-status.v1`: one line per update pack the site lists.
#[derive(Clone, Debug, Serialize)]
pub struct PackStatus {
    pub schema: Tag<Self>,
    pub package_guid: Uuid,
    pub name: String,
    pub full_version: CmVersion,
    /// `CM_UpdatePackages.State`, its documented name and what the console shows for it.
    pub state: i32,
    pub state_name: Option<&'static str>,
    pub console_text: Option<&'static str>,
    /// The pack's inbox folder against its catalog entry: `complete`, `incomplete`, `missing`,
    /// or `unchecked` (no catalog lists it).
    pub inbox: &'static str,
    /// What is wrong with the folder, or why it was not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbox_detail: Option<String>,
    /// True when the console lists it as installed or ready to install.
    pub ready: bool,
    /// Why it is not ready, in the administrator's terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Document for PackStatus {
    const SCHEMA: &'static str = "sct.pack-status.v1";
}

/// The status of every pack the site lists, newest first. `catalog`, a verified catalog (of the
/// update pack folder imported from), gives the file lists the inbox folders are checked against.
pub fn status(
    store: &dyn SiteStore,
    inbox: &Inbox,
    catalog: Option<&Catalog>,
) -> anyhow::Result<Vec<PackStatus>> {
    let site = store.identity()?;
    store
        .update_packages()?
        .into_iter()
        .map(|row| {
            let entry = catalog.and_then(|c| c.pack(&row.package_guid));
            let (folder, detail) = folder(inbox, entry)?;
            Ok(judge(row, &site, entry, folder, detail))
        })
        .collect()
}

/// The inbox folder against the catalog entry.
fn folder(
    inbox: &Inbox,
    entry: Option<&crate::core::catalog::Pack>,
) -> anyhow::Result<(&'static str, Option<String>)> {
    let Some(pack) = entry else {
        return Ok((
            "unchecked",
            Some("no catalog lists it: give the update pack folder it was imported from".into()),
        ));
    };
    Ok(match inbox.presence(pack)? {
        Presence::Identical => ("complete", None),
        Presence::Absent => (
            "missing",
            Some(format!(
                "`{}` does not exist",
                inbox.pack_dir(pack).display()
            )),
        ),
        Presence::Different(what) => (
            "incomplete",
            Some(format!("`{}`: {what}", inbox.pack_dir(pack).display())),
        ),
    })
}

/// The line for one pack: ready, or why not (the first reason that applies, in the order an
/// administrator would fix them).
fn judge(
    row: UpdatePackage,
    site: &SiteIdentity,
    entry: Option<&crate::core::catalog::Pack>,
    folder: &'static str,
    detail: Option<String>,
) -> PackStatus {
    let installed = row.state == state::INSTALL_SUCCESS;
    let why = if installed {
        None
    } else if row.full_version <= site.full_version {
        Some(format!(
            "superseded: version {} is not newer than the site's {}",
            row.full_version, site.full_version
        ))
    } else if entry.is_some_and(|pack| !pack.applies_to(&site.full_version)) {
        Some(format!(
            "not applicable to the site's version {}: the catalog says it applies to {} through {}",
            site.full_version,
            entry
                .map(|p| p.min_cm_version.to_string())
                .unwrap_or_default(),
            entry
                .map(|p| p.max_cm_version.to_string())
                .unwrap_or_default()
        ))
    } else if matches!(folder, "missing" | "incomplete") {
        Some(format!(
            "files missing in the inbox: {}; import the update pack folder again",
            detail.clone().unwrap_or_default()
        ))
    } else if row.state != state::DOWNLOAD_SUCCESS {
        Some(format!(
            "state not yet picked up: the site records {} ({}); the site's servicing components \
             (SMS_DMP_DOWNLOADER, hman) take packs from the inbox on their next cycle: see \
             dmpdownloader.log and hman.log",
            state::name(row.state).unwrap_or("an undocumented state"),
            row.state
        ))
    } else {
        None
    };
    PackStatus {
        schema: Tag::new(),
        package_guid: row.package_guid,
        name: row.name,
        full_version: row.full_version,
        state: row.state,
        state_name: state::name(row.state),
        console_text: Some(state::console_text(row.state)).filter(|t| !t.is_empty()),
        inbox: folder,
        inbox_detail: detail,
        ready: why.is_none(),
        why,
    }
}
