//! `sct-import` and `ServiceConnectionTool -import`: bring a carried update-pack folder into the site.
//!
//! Steps, in order; nothing is written before step 5:
//! 1. open the site and read its hierarchy ID and version;
//! 2. verify the folder exactly as `sct-verify` does ([`crate::stages::verify::verify_dir`]) and refuse it
//!    unless every check passed;
//! 3. plan ([`plan::plan`]): only packs fetched for this hierarchy that apply to this version;
//! 4. refuse a catalog older than the newest one imported before (rollback), unless overridden;
//! 5. under the inbox lock, remove staging folders a crash left, then stage, check and rename
//!    each selected pack into `EasySetupPayload/offline/<GUID>/` ([`inbox`]);
//! 6. embedded site only: record the packs as Ready to install (262146) and the catalog version
//!    in one transaction ([`crate::site::register`]). SQL Server sites are never written: their own
//!    components pick the files up, and `--wait` polls `CM_UpdatePackages` to watch them do it.
//!
//! Re-running with the same folder changes nothing: present identical packs are `already_present`,
//! their rows are already at 262146, and the catalog version is already in the ledger.

pub mod grace;
pub mod housekeeping;
pub mod inbox;
pub mod ledger;
pub mod parts;
pub mod plan;
pub mod report;
pub mod status;
pub mod wait;

use crate::core::catalog::Pack;
use crate::core::error::{Error, ExitCode};
use crate::core::packdir::PackDir;
use crate::core::report::{Events, Progress, note};
use crate::core::signing::PublicKey;
use crate::site::register::{CatalogStamp, PackRegister};
use crate::site::sqlite::SqliteSite;
use crate::site::{SiteIdentity, SiteLocator, SiteStore};
use crate::stages::config::Config;
use anyhow::Context;
use inbox::{Inbox, Presence};
use plan::Decision;
pub use report::{
    ImportEvent, ImportSummary, Outcome, PackEvent, PackImported, SitePackage, site_packages,
};
use report::{close, event, fill_states, report_packs};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Environment variable naming the site's install folder (after `--install-dir`, before the config).
pub const ENV_INSTALL_DIR: &str = "SCT_INSTALL_DIR";
/// The schema tag of every line import prints.
pub const SCHEMA: &str = "sct.import.v1";
/// The component of import's notes and log entries.
const TOOL: &str = "sct-import";

/// What to import and how.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The update pack folder (`--src`, `-updatepacksrc`).
    pub src: PathBuf,
    /// The site's install folder; `None` resolves it with [`resolve_install_dir`].
    pub install_dir: Option<PathBuf>,
    /// Print the plan, change nothing.
    pub dry_run: bool,
    /// Import a catalog older than the newest one imported before (logged).
    pub allow_rollback: bool,
    /// Fail at once instead of waiting when another import holds the inbox lock.
    pub no_lock_wait: bool,
    /// Days after catalog expiry that the catalog is still accepted (`--expiry-grace-days`);
    /// [`import`] resolves `None` with [`grace::resolve`], [`run`] takes `None` as the default.
    pub expiry_grace_days: Option<u32>,
    /// After importing, poll `CM_UpdatePackages` until the site has processed the packs.
    pub wait: Option<wait::WaitOptions>,
}

/// How import reaches the site database.
pub enum SiteAccess {
    /// The embedded site: read, and written by the import itself.
    Embedded(SqliteSite),
    /// Any other back end (SQL Server): read only, as the original tool.
    ReadOnly(Box<dyn SiteStore>),
}

impl SiteAccess {
    /// Opens the site: the embedded site read-write, every other back end read-only.
    pub fn open(locator: &SiteLocator) -> anyhow::Result<Self> {
        match locator {
            SiteLocator::Sqlite(path) => Ok(Self::Embedded(SqliteSite::open_read_write(path)?)),
            _ => Ok(Self::ReadOnly(crate::site::open(locator)?)),
        }
    }

    /// The read interface, whatever the back end.
    pub fn store(&self) -> &dyn SiteStore {
        match self {
            Self::Embedded(site) => site,
            Self::ReadOnly(store) => store.as_ref(),
        }
    }

    /// The write path, only for the embedded site.
    pub fn register(&mut self) -> Option<&mut dyn PackRegister> {
        match self {
            Self::Embedded(site) => Some(site),
            Self::ReadOnly(_) => None,
        }
    }
}

/// The install folder: `--install-dir`, then `SCT_INSTALL_DIR`, then the config file's
/// `install_dir`, then the site's own `Sites.InstallDir`.
pub fn resolve_install_dir(flag: Option<&Path>, config: &Config, site: &SiteIdentity) -> PathBuf {
    flag.map(Path::to_owned)
        .or_else(|| {
            std::env::var_os(ENV_INSTALL_DIR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| config.install_dir.clone())
        .unwrap_or_else(|| PathBuf::from(&site.install_dir))
}

/// Opens the site from `locator` and runs the import, handing every pack, state and the summary
/// to `on_event`. Errors when the input is refused or anything selected failed (after the
/// summary).
pub fn import(
    locator: &SiteLocator,
    config: &Config,
    options: &ImportOptions,
    trusted: &[PublicKey],
    on_event: &mut Events<'_, ImportEvent>,
) -> anyhow::Result<ImportSummary> {
    let options = &ImportOptions {
        expiry_grace_days: Some(grace::resolve(options.expiry_grace_days, config)?),
        ..options.clone()
    };
    let mut site = SiteAccess::open(locator)?;
    let identity = site.store().identity()?;
    let install_dir = resolve_install_dir(options.install_dir.as_deref(), config, &identity);
    let summary = run(
        &mut site,
        &identity,
        &install_dir,
        options,
        trusted,
        crate::core::clock::now(),
        on_event,
    )?;
    Ok(summary)
}

/// The import itself, over an open site (tests pass fakes for read-only back ends).
#[allow(clippy::too_many_arguments)]
pub fn run(
    site: &mut SiteAccess,
    identity: &SiteIdentity,
    install_dir: &Path,
    options: &ImportOptions,
    trusted: &[PublicKey],
    now: jiff::Timestamp,
    on_event: &mut Events<'_, ImportEvent>,
) -> anyhow::Result<ImportSummary> {
    check_install_dir(install_dir)?;
    // Every refusal before step 5 names the folder, whichever check inside it failed.
    let not_imported = || {
        format!(
            "update pack folder `{}` was not imported",
            options.src.display()
        )
    };
    let grace_days = options.expiry_grace_days.unwrap_or(grace::DEFAULT_DAYS);
    let mut expiry_warning = None;
    let verified = crate::stages::verify::verify_dir_with(&options.src, trusted, |catalog| {
        expiry_warning = grace::check(catalog, now, grace_days)?;
        Ok(())
    })
    .map_err(|err| missing_catalog_hint(err, &options.src))
    .with_context(not_imported)?;
    for entry in &verified.report.ignored {
        crate::core::logging::info(TOOL, crate::core::litter::note(entry));
        note(TOOL, crate::core::litter::note(entry));
    }
    refuse_unless_ok(&verified.report)?;
    if let Some(warning) = expiry_warning {
        // In the log too: an audit of the site shows an expired catalog went in, and why.
        crate::core::logging::warn(TOOL, &warning);
        note(TOOL, warning);
    }
    crate::core::fault::point(crate::core::fault::Point::ImportAfterVerify);
    let catalog = &verified.catalog;
    let planned = plan::plan(catalog, &verified.record, identity).with_context(not_imported)?;
    let inbox = Inbox::of_install_dir(install_dir);
    let rolled_back_from =
        check_rollback(site, &inbox, catalog.version, options).with_context(not_imported)?;
    if let Some(last) = rolled_back_from {
        note(
            TOOL,
            format!(
                "WARNING: importing catalog version {} although version {last} was imported before (--allow-rollback)",
                catalog.version
            ),
        );
    }
    let mut summary = ImportSummary {
        schema: crate::core::document::Tag::new(),
        kind: "summary",
        src: options.src.display().to_string(),
        site_code: identity.site_code.clone(),
        hierarchy_id: identity.hierarchy_id,
        site_version: identity.version.to_string(),
        inbox: inbox.root.display().to_string(),
        catalog_version: catalog.version,
        key_id: verified.report.key_id.clone(),
        rollback_override: rolled_back_from.is_some(),
        dry_run: options.dry_run,
        ..Default::default()
    };
    let mut events: Vec<PackEvent> = planned
        .iter()
        .map(|p| event(p.pack, &inbox, &p.decision))
        .collect();
    if options.dry_run {
        dry_run(&inbox, &planned, &mut events)?;
        summary.database = "dry-run";
        report_packs(&mut summary, &events, on_event)?;
        return close(summary, &events, on_event);
    }
    let joined = import_split_packs(
        site,
        identity,
        install_dir,
        options,
        trusted,
        now,
        &verified,
        &inbox,
        on_event,
    )?;
    let stamp = CatalogStamp {
        version: catalog.version,
        key_id: verified.report.key_id.clone(),
        issued_at: catalog.issued_at,
        source: options.src.display().to_string(),
    };
    let in_place = apply(
        site,
        &inbox,
        &planned,
        &stamp,
        options,
        now,
        &mut summary,
        &mut events,
    );
    let in_place = match in_place {
        Ok(in_place) => in_place,
        Err(err) => {
            // The files already placed stay (a rerun registers them); say what happened.
            summary.database = "failed";
            report_packs(&mut summary, &events, on_event)?;
            on_event(&ImportEvent::Summary(summary))?;
            return Err(err);
        }
    };
    report_packs(&mut summary, &events, on_event)?;
    if let Some(joined) = joined {
        summary.imported += joined.imported;
        summary.already_present += joined.already_present;
        summary.failed += joined.failed;
        summary.rows_changed += joined.rows_changed;
    }
    if let Some(wait_options) = &options.wait {
        summary.wait = Some(wait::wait_for_states(
            site.store(),
            &in_place,
            wait_options,
            &mut |d| std::thread::sleep(d),
            &mut |e| on_event(&ImportEvent::State(e.clone())),
        )?);
    }
    close(summary, &events, on_event)
}

/// A volume's split packs (docs/span.md): stages the parts it holds beside the inbox, and
/// imports each pack whose last part has arrived through the ordinary import of the joined
/// folder (verified again, staged, renamed, registered). Returns that import's summary.
#[allow(clippy::too_many_arguments)]
fn import_split_packs(
    site: &mut SiteAccess,
    identity: &SiteIdentity,
    install_dir: &Path,
    options: &ImportOptions,
    trusted: &[PublicKey],
    now: jiff::Timestamp,
    verified: &crate::stages::verify::VerifiedDir,
    inbox: &Inbox,
    on_event: &mut Events<'_, ImportEvent>,
) -> anyhow::Result<Option<ImportSummary>> {
    let Some(volume) = &verified.volume else {
        return Ok(None);
    };
    let wanted = parts::wanted(volume, &verified.catalog, identity, inbox)?;
    if wanted.is_empty() {
        return Ok(None);
    }
    let area = parts::SetArea::open(inbox, volume, !options.no_lock_wait)?;
    let joined = parts::stage_and_join(&area, &options.src, volume, &verified.catalog, &wanted)?;
    for guid in wanted
        .iter()
        .filter(|g| joined.as_ref().is_none_or(|j| !j.packs.contains(g)))
    {
        let volumes: Vec<String> = volume
            .split_packs
            .iter()
            .filter(|s| s.package_guid == *guid)
            .flat_map(|s| s.volumes.iter().map(u32::to_string))
            .collect();
        note(
            TOOL,
            format!(
                "volume {} of {}: the parts of pack {guid} it holds are staged in `{}`; the pack is imported when its parts from volumes {} have all arrived (if they never will: sct-import inbox remove-parts --set {})",
                volume.volume,
                volume.set.volumes,
                area.root.display(),
                volumes.join(", "),
                area.root.file_name().unwrap_or_default().to_string_lossy()
            ),
        );
    }
    let Some(joined) = joined else {
        return Ok(None);
    };
    let nested = ImportOptions {
        src: joined.folder.clone(),
        wait: None,
        ..options.clone()
    };
    let summary = run(
        site,
        identity,
        install_dir,
        &nested,
        trusted,
        now,
        &mut |event: &ImportEvent| match event {
            ImportEvent::Summary(_) => Ok(()),
            other => on_event(other),
        },
    )?;
    parts::tidy(&area, &joined, &verified.catalog)?;
    Ok(Some(summary))
}

/// Steps 5–6 under the inbox lock: places the packs, then registers them (embedded site) or
/// records the catalog in the inbox ledger (read-only site). Returns the packs now in place.
#[allow(clippy::too_many_arguments)]
fn apply(
    site: &mut SiteAccess,
    inbox: &Inbox,
    planned: &[plan::Planned],
    stamp: &CatalogStamp,
    options: &ImportOptions,
    now: jiff::Timestamp,
    summary: &mut ImportSummary,
    events: &mut [PackEvent],
) -> anyhow::Result<Vec<Uuid>> {
    crate::core::fault::point(crate::core::fault::Point::ImportBeforeLock);
    inbox.ensure()?;
    let lock = inbox.lock(!options.no_lock_wait, |path| {
        note(
            TOOL,
            format!(
                "waiting for another import to finish (inbox lock `{}` is held)",
                path.display()
            ),
        )
    })?;
    let cleaned = inbox.clean_staging(&lock)?;
    for path in &cleaned {
        note(
            TOOL,
            format!(
                "removed `{}`, left by an interrupted import",
                path.display()
            ),
        );
    }
    summary.cleaned_staging = cleaned.len();
    crate::core::fault::point(crate::core::fault::Point::ImportAfterCleanStaging);
    if site.register().is_none() {
        // The file ledger has no transaction: check again now that no other import can run.
        check_rollback(site, inbox, stamp.version, options)?;
    }
    let src = PackDir::new(&options.src);
    let to_copy: u64 = planned
        .iter()
        .filter(|p| p.decision == Decision::Import)
        .map(|p| p.pack.size())
        .sum();
    let progress = Progress::bytes(to_copy, "import");
    for (planned, event) in planned.iter().zip(events.iter_mut()) {
        if planned.decision == Decision::Import {
            place_one(inbox, &src, planned.pack, &lock, event, &progress);
            crate::core::fault::point(crate::core::fault::Point::ImportAfterOnePack);
        }
    }
    progress.finish_and_clear();
    crate::core::fault::point(crate::core::fault::Point::ImportAfterRename);
    let in_place: Vec<&Pack> = planned
        .iter()
        .zip(events.iter())
        .filter(|(_, e)| {
            matches!(
                e.detail.outcome,
                Outcome::Imported | Outcome::AlreadyPresent
            )
        })
        .map(|(p, _)| p.pack)
        .collect();
    summary.database = match site.register() {
        Some(register) => {
            let done = register.register(stamp, &in_place, options.allow_rollback, now)?;
            crate::core::fault::point(crate::core::fault::Point::ImportAfterCommit);
            summary.rows_changed = done.changed.len();
            "registered"
        }
        None => {
            ledger::record(inbox, stamp.version, &stamp.key_id, now, &lock)?;
            "read-only"
        }
    };
    fill_states(site.store(), events)?;
    Ok(in_place.iter().map(|p| p.package_guid).collect())
}

/// The site's install folder must exist: import creates `EasySetupPayload/offline` inside it,
/// never a whole install tree at a mistyped path.
fn check_install_dir(install_dir: &Path) -> anyhow::Result<()> {
    if install_dir.is_dir() {
        return Ok(());
    }
    Err(Error::Io(format!(
        "the site install folder `{}` does not exist; give the right one: {}",
        install_dir.display(),
        crate::core::setting::Setting::InstallDir
            .how_to_give(crate::stages::config::FILE_NAME)
            .unwrap_or_default()
    ))
    .into())
}

/// Step 2: a folder with any problem is refused as a whole.
fn refuse_unless_ok(report: &crate::stages::verify::VerifyReport) -> anyhow::Result<()> {
    if report.ok {
        return Ok(());
    }
    let mut problems: Vec<String> = report
        .packs
        .iter()
        .flat_map(|p| {
            p.problems
                .iter()
                .map(move |q| format!("pack {}: {q}", p.package_guid))
        })
        .collect();
    problems.extend(
        report
            .unexpected
            .iter()
            .map(|u| format!("unexpected entry `{u}`")),
    );
    problems.extend(
        report
            .volume
            .iter()
            .flat_map(|v| &v.parts)
            .filter_map(|p| p.problem.clone()),
    );
    // The first few problems name the cause; a folder with 60,000 strays must not make one
    // multi-megabyte message (and log record).
    Err(Error::Rejected(format!(
        "update pack folder `{}` failed verification; nothing was imported: {}",
        report.dir,
        crate::core::logging::abridged(&problems, 20, "; ")
    ))
    .into())
}

/// Step 4: the newer version imported before, when an older catalog goes in because of
/// `--allow-rollback`.
fn check_rollback(
    site: &mut SiteAccess,
    inbox: &Inbox,
    version: u64,
    options: &ImportOptions,
) -> anyhow::Result<Option<u64>> {
    let where_ = site.store().describe();
    let (last, kept_in) = match site.register() {
        Some(register) => (
            register.last_catalog_version()?,
            format!("site database {where_}"),
        ),
        None => (
            ledger::last_version(inbox)?,
            format!("`{}`", inbox.root.join(ledger::LEDGER_FILE).display()),
        ),
    };
    let Some(last) = last.filter(|last| version < *last) else {
        return Ok(None);
    };
    if options.allow_rollback {
        return Ok(Some(last));
    }
    // The wrapper has no rollback override (nor has the original): its operator is told what the
    // wrapper can do, never a flag it does not take.
    let remedy = if crate::core::setting::is_wrapper() {
        "connect again (-connect) for a current catalog and import that"
    } else {
        "fetch a current catalog, or run sct-import --allow-rollback if you mean to go back"
    };
    Err(Error::Rejected(format!(
            "catalog version {version} is older than version {last} already imported ({kept_in}): rollback refused; {remedy}"
        )).into())
}

/// `--dry-run`: what the inbox holds decides between would_import, already_present and failed.
fn dry_run(
    inbox: &Inbox,
    planned: &[plan::Planned],
    events: &mut [PackEvent],
) -> anyhow::Result<()> {
    for (planned, event) in planned.iter().zip(events.iter_mut()) {
        if planned.decision != Decision::Import {
            continue;
        }
        match inbox.presence(planned.pack)? {
            Presence::Absent => {}
            Presence::Identical => event.detail.outcome = Outcome::AlreadyPresent,
            Presence::Different(why) => {
                event.detail.outcome = Outcome::Failed;
                event.detail.reason = Some(different_reason(&why, &inbox.pack_dir(planned.pack)));
                event.detail.failure = Some(ExitCode::Rejected);
            }
        }
    }
    Ok(())
}

fn different_reason(why: &str, path: &Path) -> String {
    format!(
        "a different pack is already in the inbox under this GUID ({why}); it is never overwritten: \
         unless the site is installing this update (`sct-import inbox list` shows), move `{}` out of the inbox and import again",
        path.display()
    )
}

/// Most entries of a folder looked at for [`missing_catalog_hint`] (a drive's root can be large).
const HINT_SCAN_LIMIT: usize = 1000;

/// The folder given is not an update pack folder (no `catalog.json`) but folders in it are — the
/// drive's root instead of `UpdatePacks`: name them instead of only saying what is missing.
fn missing_catalog_hint(err: anyhow::Error, src: &Path) -> anyhow::Error {
    let catalog = crate::core::catalog::CATALOG_FILE;
    if !src.is_dir() || std::fs::symlink_metadata(src.join(catalog)).is_ok() {
        return err;
    }
    let Ok(entries) = std::fs::read_dir(src) else {
        return err;
    };
    let mut found: Vec<PathBuf> = entries
        .take(HINT_SCAN_LIMIT)
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| std::fs::symlink_metadata(p.join(catalog)).is_ok_and(|m| m.is_file()))
        .collect();
    if found.is_empty() {
        return err;
    }
    found.sort();
    let names: Vec<String> = found.iter().map(|p| format!("`{}`", p.display())).collect();
    Error::Usage(format!(
            "`{}` is not an update pack folder (it has no {catalog}), but {} {} one: import that folder instead",
            src.display(),
            names.join(", "),
            if names.len() == 1 { "has" } else { "each have" }
        )).into()
}

/// Step 5 for one pack; records the outcome in `event`. Copied bytes count on `progress`.
fn place_one(
    inbox: &Inbox,
    src: &PackDir,
    pack: &Pack,
    lock: &inbox::InboxLock,
    event: &mut PackEvent,
    progress: &Progress,
) {
    let result = inbox.presence(pack).and_then(|presence| match presence {
        Presence::Identical => Ok(Outcome::AlreadyPresent),
        Presence::Different(why) => {
            Err(Error::Rejected(different_reason(&why, &inbox.pack_dir(pack))).into())
        }
        Presence::Absent => {
            note(
                TOOL,
                format!(
                    "importing {} ({}, {} bytes)",
                    pack.name,
                    pack.package_guid,
                    pack.size()
                ),
            );
            inbox
                .place(src, pack, lock, progress)
                .map(|()| Outcome::Imported)
        }
    });
    match result {
        Ok(outcome) => event.detail.outcome = outcome,
        Err(err) => {
            note(
                TOOL,
                format!("ERROR: pack {} failed: {err:#}", pack.package_guid),
            );
            event.detail.outcome = Outcome::Failed;
            event.detail.failure = Some(crate::core::error::exit_code(&err));
            event.detail.reason = Some(format!("{err:#}"));
        }
    }
}

#[cfg(test)]
mod tests;
