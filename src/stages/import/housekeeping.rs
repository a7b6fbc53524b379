//! Inbox housekeeping (`sct-import inbox list`, `sct-import inbox remove --superseded`): which
//! packs in `EasySetupPayload/offline/` the site still needs, and removing the ones it does not.
//!
//! Packs pile up in the inbox import after import, and import never overwrites a pack folder, so
//! an operator needs a safe way to clear out the old ones. Each `offline/<GUID>/` folder is judged
//! against the site's `CM_UpdatePackages` row and version:
//!
//! - `installing`: the row is anywhere between content replication and the end of installation,
//!   failures included (the site may retry) — **never removed**;
//! - `superseded`: installed (`INSTALL_SUCCESS`), or a version the site already runs or has passed;
//! - `needed`: registered and newer than the site;
//! - `unregistered`: no row (a SQL Server site may not have picked it up yet) — kept.
//!
//! Removal happens under the inbox lock, after reading the site again: each folder is first
//! renamed to a staging name (`.sct-staging.…`), then deleted, so a crash never leaves half a pack
//! under its GUID; the next import removes the leftover.

use super::inbox::{Inbox, STAGING_PREFIX};
use crate::core::report::{self, Events};
use crate::core::version::CmVersion;
use crate::site::{SiteIdentity, SiteStore, UpdatePackage, state};
use anyhow::Context;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The schema tag of every line housekeeping prints.
pub const SCHEMA: &str = "sct.inbox.v1";

/// What the site makes of one pack folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Needed,
    Installing,
    Superseded,
    Unregistered,
}

/// One `offline/<GUID>/` folder.
#[derive(Clone, Debug, Serialize)]
pub struct InboxPack {
    pub schema: crate::core::document::Tag<Self>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub package_guid: Uuid,
    pub path: String,
    pub files: usize,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_version: Option<CmVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_name: Option<&'static str>,
    pub status: Status,
    pub reason: String,
    /// With `remove`: `removed` or (dry run) `would_remove`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
}

impl crate::core::document::Document for InboxPack {
    const SCHEMA: &'static str = SCHEMA;
}

/// The closing line.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InboxSummary {
    pub schema: crate::core::document::Tag<Self>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub inbox: String,
    pub site_version: String,
    pub packs: usize,
    pub needed: usize,
    pub installing: usize,
    pub superseded: usize,
    pub unregistered: usize,
    pub removed: usize,
    pub would_remove: usize,
    pub bytes_freed: u64,
    pub dry_run: bool,
}

/// A line of housekeeping's output: one per pack folder, then the summary.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum InboxEvent {
    Pack(InboxPack),
    Summary(InboxSummary),
}

impl crate::core::document::Document for InboxSummary {
    const SCHEMA: &'static str = SCHEMA;
}

/// What to do with the superseded packs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    List,
    Remove { dry_run: bool },
}

/// Lists the inbox (and, with [`Action::Remove`], removes the superseded packs), handing one
/// event per pack folder and then the summary to `on_event`.
pub fn run(
    store: &dyn SiteStore,
    inbox: &Inbox,
    action: Action,
    on_event: &mut Events<'_, InboxEvent>,
) -> anyhow::Result<InboxSummary> {
    let mut summary = InboxSummary {
        schema: crate::core::document::Tag::new(),
        kind: "summary",
        inbox: inbox.root.display().to_string(),
        dry_run: matches!(action, Action::Remove { dry_run: true }),
        ..Default::default()
    };
    if !inbox.root.is_dir() {
        report::note(
            super::TOOL,
            format!(
                "the inbox `{}` does not exist yet: nothing was ever imported here",
                inbox.root.display()
            ),
        );
        summary.site_version = store.identity()?.full_version.to_string();
        on_event(&InboxEvent::Summary(summary.clone()))?;
        return Ok(summary);
    }
    // Held while the site is read and folders are removed, so no import places a pack meanwhile.
    let _lock = match action {
        Action::Remove { dry_run: false } => Some(inbox.lock(true, |path| {
            report::note(
                super::TOOL,
                format!(
                    "waiting for an import to finish (inbox lock `{}` is held)",
                    path.display()
                ),
            )
        })?),
        _ => None,
    };
    let identity = store.identity()?;
    summary.site_version = identity.full_version.to_string();
    let rows: HashMap<Uuid, UpdatePackage> = store
        .update_packages()?
        .into_iter()
        .map(|p| (p.package_guid, p))
        .collect();
    for (guid, path) in pack_folders(&inbox.root)? {
        let (files, bytes) = size_of(&path)?;
        let row = rows.get(&guid);
        let (status, reason) = judge(row, &identity);
        let mut line = InboxPack {
            schema: crate::core::document::Tag::new(),
            kind: "pack",
            package_guid: guid,
            path: path.display().to_string(),
            files,
            bytes,
            name: row.map(|r| r.name.clone()),
            full_version: row.map(|r| r.full_version),
            state: row.map(|r| r.state),
            state_name: row.and_then(|r| state::name(r.state)),
            status,
            reason,
            action: None,
        };
        if status == Status::Superseded {
            match action {
                Action::List => {}
                Action::Remove { dry_run: true } => {
                    line.action = Some("would_remove");
                    summary.would_remove += 1;
                    summary.bytes_freed += bytes;
                }
                Action::Remove { dry_run: false } => {
                    remove_pack(inbox, &guid, &path)?;
                    report::note(
                        super::TOOL,
                        format!(
                            "removed `{}` ({}): {}",
                            path.display(),
                            line.name.as_deref().unwrap_or("unnamed"),
                            line.reason
                        ),
                    );
                    line.action = Some("removed");
                    summary.removed += 1;
                    summary.bytes_freed += bytes;
                }
            }
        }
        summary.packs += 1;
        *match status {
            Status::Needed => &mut summary.needed,
            Status::Installing => &mut summary.installing,
            Status::Superseded => &mut summary.superseded,
            Status::Unregistered => &mut summary.unregistered,
        } += 1;
        on_event(&InboxEvent::Pack(line))?;
    }
    on_event(&InboxEvent::Summary(summary.clone()))?;
    Ok(summary)
}

/// The site's view of one pack (see the module header).
pub fn judge(row: Option<&UpdatePackage>, site: &SiteIdentity) -> (Status, String) {
    let Some(row) = row else {
        return (
            Status::Unregistered,
            "the site database does not list this pack (yet); kept".to_owned(),
        );
    };
    let name = state::name(row.state).unwrap_or("unknown state");
    if installing(row.state) {
        return (
            Status::Installing,
            format!("the site is working on it ({name}); never removed"),
        );
    }
    if row.state == state::INSTALL_SUCCESS {
        return (Status::Superseded, format!("installed ({name})"));
    }
    if row.full_version <= site.full_version {
        return (
            Status::Superseded,
            format!(
                "version {} is not newer than the site's {}",
                row.full_version, site.full_version
            ),
        );
    }
    (
        Status::Needed,
        format!(
            "version {} is newer than the site ({name})",
            row.full_version
        ),
    )
}

/// States from content replication to the end of installation, failures included: the site is
/// using (or may retry with) the files.
fn installing(code: i32) -> bool {
    (65_537..=262_143).contains(&code) && code != state::INSTALL_SUCCESS
}

/// Every real folder (not a symlink) in the inbox whose name is a GUID, sorted by name.
fn pack_folders(root: &Path) -> anyhow::Result<Vec<(Uuid, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(guid) = name.to_str().and_then(|n| Uuid::parse_str(n).ok()) else {
            continue;
        };
        if entry.file_type()?.is_dir() {
            out.push((guid, entry.path()));
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Files and bytes under a folder, never following a symlink.
fn size_of(dir: &Path) -> anyhow::Result<(usize, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in fs_err::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files += 1;
                bytes += entry.metadata()?.len();
            }
        }
    }
    Ok((files, bytes))
}

/// Renames the pack folder to a staging name, then deletes it: a crash in between leaves only a
/// staging folder, which the next import removes.
fn remove_pack(inbox: &Inbox, guid: &Uuid, path: &Path) -> anyhow::Result<()> {
    let doomed = inbox.root.join(format!(
        "{STAGING_PREFIX}removing.{}.{}",
        guid.to_string().to_uppercase(),
        std::process::id()
    ));
    crate::core::atomic::rename_no_replace(path, &doomed)
        .with_context(|| format!("Failed to move `{}` aside for removal", path.display()))?;
    let _ = crate::core::atomic::sync_dir(&inbox.root);
    crate::core::fault::point(crate::core::fault::Point::InboxAfterRenameAside);
    fs_err::remove_dir_all(&doomed)?;
    // Best effort: the removal is already safe, a lost flush only brings the folder back aside.
    let _ = crate::core::atomic::sync_dir(&inbox.root);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, state: i32) -> UpdatePackage {
        UpdatePackage {
            package_guid: Uuid::nil(),
            name: "Configuration Manager 2409".into(),
            full_version: version.parse().unwrap(),
            update_type: 0,
            state,
            min_cm_version: "5.00.9000.1000".parse().unwrap(),
            max_cm_version: "5.00.9999.1000".parse().unwrap(),
            date_released: String::new(),
            last_update_time: String::new(),
        }
    }

    fn site(version: &str) -> SiteIdentity {
        SiteIdentity {
            site_code: "PS1".into(),
            site_name: String::new(),
            server_name: String::new(),
            hierarchy_id: Uuid::nil(),
            version: version.parse().unwrap(),
            full_version: version.parse().unwrap(),
            diagnostics_level: crate::site::DiagnosticsLevel::Basic,
            install_dir: String::new(),
        }
    }

    #[test]
    fn never_judges_an_installing_pack_superseded() {
        let at = site("5.00.9132.1000");
        // Older than the site, but the site is still installing it (or may retry): kept.
        for code in [65_537, 131_073, 196_609, 196_613, 262_143] {
            assert_eq!(
                judge(Some(&row("5.00.9128.1000", code)), &at).0,
                Status::Installing
            );
        }
        assert_eq!(
            judge(Some(&row("5.00.9132.1000", state::INSTALL_SUCCESS)), &at).0,
            Status::Superseded
        );
        assert_eq!(
            judge(Some(&row("5.00.9128.1000", state::DOWNLOAD_SUCCESS)), &at).0,
            Status::Superseded
        );
        assert_eq!(
            judge(Some(&row("5.00.9135.1000", state::DOWNLOAD_SUCCESS)), &at).0,
            Status::Needed
        );
        assert_eq!(judge(None, &at).0, Status::Unregistered);
    }
}
