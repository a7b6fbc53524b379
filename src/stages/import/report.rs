//! What import reports: one `sct.import.v1` event per pack, `state` events while `--wait`ing, and
//! a closing summary ([`ImportEvent`]); and how the outcome becomes an exit code. Each pack's
//! outcome and the summary are logged too ([`crate::core::logging`], component `sct-import`).

use super::inbox::Inbox;
use super::plan::Decision;
use super::{SCHEMA, TOOL as LOG, wait};
use crate::core::catalog::Pack;
use crate::core::error::{Error, ExitCode};
use crate::core::report::Events;
use crate::site::{SiteStore, state};
use serde::Serialize;
use uuid::Uuid;

/// A line of import's output, in order: one per pack, `state` lines while `--wait`ing, then the
/// summary.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ImportEvent {
    Pack(PackEvent),
    State(wait::StateEvent),
    Summary(ImportSummary),
}

/// What happened to one pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Imported,
    AlreadyPresent,
    SkippedOtherHierarchy,
    NotApplicable,
    Failed,
    /// `--dry-run`: would be imported.
    WouldImport,
}

/// One `sct.import.v1` line per pack.
pub type PackEvent = crate::core::catalog::PackEvent<PackImported>;

/// What import did with one pack: the fields after the pack's own in its line.
#[derive(Clone, Debug, Serialize)]
pub struct PackImported {
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub files: usize,
    pub bytes: u64,
    /// The pack's `CM_UpdatePackages.State` after the import (embedded site), if it has a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_name: Option<&'static str>,
    /// Exit code class of a failure (not printed).
    #[serde(skip)]
    pub failure: Option<ExitCode>,
}

impl crate::core::catalog::PackDetail for PackImported {
    const SCHEMA: &'static str = SCHEMA;
}

impl crate::core::document::Document for ImportSummary {
    const SCHEMA: &'static str = SCHEMA;
}

impl crate::core::document::Document for SitePackage {
    const SCHEMA: &'static str = "sct.update-package.v1";
}

/// The closing `sct.import.v1` record.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportSummary {
    pub schema: crate::core::document::Tag<Self>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub src: String,
    pub site_code: String,
    pub hierarchy_id: Uuid,
    pub site_version: String,
    pub inbox: String,
    pub catalog_version: u64,
    pub key_id: String,
    pub imported: usize,
    pub already_present: usize,
    pub skipped_other_hierarchy: usize,
    pub not_applicable: usize,
    pub failed: usize,
    pub would_import: usize,
    /// `registered` (embedded site), `read-only` (files only, the site's components take over)
    /// or `dry-run`.
    pub database: &'static str,
    /// Rows created or moved to Ready to install by this run.
    pub rows_changed: usize,
    /// True when an older catalog was imported with `--allow-rollback`.
    pub rollback_override: bool,
    /// Staging folders left by an earlier, interrupted import and removed now.
    pub cleaned_staging: usize,
    pub dry_run: bool,
    /// How `--wait` ended, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<wait::WaitEnd>,
}

/// The event for a planned pack, before anything is done.
pub(super) fn event(pack: &Pack, inbox: &Inbox, decision: &Decision) -> PackEvent {
    let (outcome, reason) = match decision {
        Decision::Import => (Outcome::WouldImport, None),
        Decision::OtherHierarchy(ids) => (
            Outcome::SkippedOtherHierarchy,
            Some(format!(
                "fetched for hierarchy {}, not this one",
                ids.iter()
                    .map(Uuid::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ),
        Decision::NotApplicable(why) => (Outcome::NotApplicable, Some(why.clone())),
    };
    let imported = PackImported {
        outcome,
        reason,
        path: (*decision == Decision::Import).then(|| inbox.pack_dir(pack).display().to_string()),
        files: pack.files.len(),
        bytes: pack.size(),
        state: None,
        state_name: None,
        failure: None,
    };
    PackEvent::new(pack, imported)
}

/// Adds each placed pack's state in `CM_UpdatePackages`, read back from the site.
pub(super) fn fill_states(store: &dyn SiteStore, events: &mut [PackEvent]) -> anyhow::Result<()> {
    let rows = store.update_packages()?;
    for event in events.iter_mut().filter(|e| {
        matches!(
            e.detail.outcome,
            Outcome::Imported | Outcome::AlreadyPresent
        )
    }) {
        if let Some(row) = rows.iter().find(|r| r.package_guid == event.package_guid) {
            event.detail.state = Some(row.state);
            event.detail.state_name = state::name(row.state);
        }
    }
    Ok(())
}

/// Reports the pack events and counts them into the summary.
pub(super) fn report_packs(
    summary: &mut ImportSummary,
    events: &[PackEvent],
    on_event: &mut Events<'_, ImportEvent>,
) -> anyhow::Result<()> {
    for event in events {
        match event.detail.outcome {
            Outcome::Imported => summary.imported += 1,
            Outcome::AlreadyPresent => summary.already_present += 1,
            Outcome::SkippedOtherHierarchy => summary.skipped_other_hierarchy += 1,
            Outcome::NotApplicable => summary.not_applicable += 1,
            Outcome::Failed => summary.failed += 1,
            Outcome::WouldImport => summary.would_import += 1,
        }
        log_event(event);
        on_event(&ImportEvent::Pack(event.clone()))?;
    }
    Ok(())
}

/// One log entry per pack: `Pack <GUID> <name> <version>: <outcome> (<reason>)`; an error for a
/// failed pack.
fn log_event(event: &PackEvent) {
    let outcome = serde_json::to_value(event.detail.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut text = format!(
        "Pack {} {} version {}: {outcome}",
        event.package_guid.to_string().to_uppercase(),
        event.name,
        event.full_version
    );
    if let Some(path) = event
        .detail
        .path
        .as_ref()
        .filter(|_| event.detail.outcome != Outcome::Failed)
    {
        text.push_str(&format!(
            " ({} files, {} bytes, {path})",
            event.detail.files, event.detail.bytes
        ));
    }
    if let Some(reason) = &event.detail.reason {
        text.push_str(&format!(": {reason}"));
    }
    match event.detail.outcome {
        Outcome::Failed => crate::core::logging::error(LOG, text),
        _ => crate::core::logging::info(LOG, text),
    }
}

/// Reports the closing summary; errors (after reporting it) when a selected pack failed or the
/// site did not take the packs while `--wait`ing.
pub(super) fn close(
    summary: ImportSummary,
    events: &[PackEvent],
    on_event: &mut Events<'_, ImportEvent>,
) -> anyhow::Result<ImportSummary> {
    on_event(&ImportEvent::Summary(summary.clone()))?;
    crate::core::logging::info(
        LOG,
        format!(
            "Import of {} into {}: {} imported, {} already present, {} for other hierarchies, {} not applicable, {} failed, {} would import (database: {})",
            summary.src,
            summary.inbox,
            summary.imported,
            summary.already_present,
            summary.skipped_other_hierarchy,
            summary.not_applicable,
            summary.failed,
            summary.would_import,
            summary.database
        ),
    );
    if let Some(first) = events.iter().find(|e| e.detail.outcome == Outcome::Failed) {
        return Err(Error::Several {
            first: first.detail.failure.unwrap_or(ExitCode::Io),
            message: format!(
                "{} of the selected packs failed; first: pack {}: {}",
                summary.failed,
                first.package_guid,
                first.detail.reason.as_deref().unwrap_or("unknown")
            ),
        }
        .into());
    }
    match summary.wait {
        Some(wait::WaitEnd::Failed) => Err(Error::Io("the site reported a failure state for an imported pack (see the state lines)".into()).into()),
        Some(wait::WaitEnd::TimedOut) => Err(Error::Io("the site did not process the imported packs before --wait-timeout; the files are in place".into()).into()),
        _ => Ok(summary),
    }
}

/// One `sct.update-package.v1` line of `sct-import --list`: a `CM_UpdatePackages` row with its
/// state by name, as the console's *Updates and Servicing* node shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SitePackage {
    pub schema: crate::core::document::Tag<Self>,
    #[serde(flatten)]
    pub package: crate::site::UpdatePackage,
    pub state_name: Option<&'static str>,
    pub console_text: Option<&'static str>,
}

/// Every update package the site knows (read only), newest version first, with state names.
pub fn site_packages(store: &dyn SiteStore) -> anyhow::Result<Vec<SitePackage>> {
    let packages = store.update_packages()?;
    Ok(packages
        .into_iter()
        .map(|package| SitePackage {
            schema: crate::core::document::Tag::new(),
            state_name: state::name(package.state),
            console_text: Some(state::console_text(package.state)).filter(|t| !t.is_empty()),
            package,
        })
        .collect())
}
