//! `sct-fetch` and the download half of `-connect`: offers in, a verified update-pack folder out.
//!
//! Steps, in order:
//! 1. check the offers: at least one, no hierarchy twice;
//! 2. download and verify each distinct catalog (signature by a pinned key, expiry, structure —
//!    [`crate::stages::remote::fetch_catalog`]); refuse one signed for longer than the validity ceiling
//!    ([`crate::core::catalog::Catalog::check_validity_window`]), one bound to another hierarchy, offers that name
//!    different catalogs, and a catalog older than the one already in `DIR` (rollback); fetch the
//!    freshness statement beside it and refuse it unless a timestamp key the catalog names signed
//!    it, it names this catalog, and it is neither expired nor older than `max_timestamp_age`
//!    ([`crate::stages::remote::fetch_statement`]);
//! 3. select each hierarchy's packs ([`crate::core::select`]); a pack several hierarchies need is
//!    fetched once;
//! 4. download every file of the selected packs, several at once ([`download`]): streamed to
//!    `NAME.part`, hashed on the way, renamed into place only when size and SHA-256 match; a
//!    body slower than [`crate::stages::http::MinRate`] is cut and retried from the `.part`;
//! 5. only when every selected file is in place: remove what an older catalog in `DIR` listed and
//!    the new selection drops ([`prune`]), then write `catalog.json.sig`, `catalog.json`,
//!    `timestamp.json.sig`, `timestamp.json` and last `fetched.json`, each atomically.
//!
//! One fetch at a time per folder: the folder itself is locked while the steps run.
//!
//! The catalog already in `DIR` stays the last known good one until step 5. If the new catalog
//! differs, `fetched.json` is removed before any file is renamed into place, so at no point does
//! a record claim files its catalog does not describe: an interrupted run leaves a folder that
//! `sct-verify` refuses and that a rerun completes.

pub mod download;
mod events;
mod folder;
pub mod prune;

pub use events::{EVENT_SCHEMA, FetchEvent, FetchSummary, PackEvent, PackFetched, PackStatus};
use events::{note_pack, pack_event};
pub use folder::check_dest;
use folder::{
    earlier_record, existing_bytes, existing_catalog, lock_folder, prepare_folders,
    remove_file_if_exists, write_folder_records,
};

use crate::core::catalog::{self, Catalog};
use crate::core::document;
use crate::core::error::Error;
use crate::core::logging::{self, vocabulary};
use crate::core::offer::Offer;
use crate::core::packdir::{HierarchyRecord, PackDir};
use crate::core::report::{self, Events, Progress};
use crate::core::select::{self, DownloadMode};
use crate::core::signing::PublicKey;
use crate::stages::http::{self, NetOptions};
use crate::stages::remote::{self, FetchedCatalog};
use anyhow::Context;
use download::{Counter, FileJob, FileOutcome};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::task::AbortHandle;
use uuid::Uuid;

/// The component name in log entries and on stderr.
const TOOL: &str = "sct-fetch";

/// Default number of files downloaded at once.
pub const DEFAULT_JOBS: usize = 4;
/// Most files downloaded at once.
pub const MAX_JOBS: usize = 64;

/// Everything a fetch needs, checked before any I/O.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The update-pack folder (`--dest`, `-updatepackdest`); created if missing.
    pub dest: PathBuf,
    pub mode: DownloadMode,
    /// Files downloaded at once (1..=64).
    pub jobs: usize,
    pub net: NetOptions,
    /// The pinned catalog keys.
    pub trusted: Vec<PublicKey>,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// The longest validity window a fetched catalog may be signed for.
    pub validity: catalog::ValidityCeiling,
    /// The oldest freshness statement accepted ([`crate::core::freshness`]).
    pub max_timestamp_age: crate::core::freshness::MaxAge,
}

/// Bounds of an offer stream: an offer is a few hundred bytes, one per uploaded cab.
pub const OFFER_LIMITS: document::LineLimits = document::LineLimits {
    line: 64 * 1024,
    total: 16 * 1024 * 1024,
};

/// Reads offers (JSON lines of `sct.offer.v1`) from a file, or stdin for `None` or `-`.
pub fn read_offers(path: Option<&Path>) -> anyhow::Result<Vec<Offer>> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let file = fs_err::File::open(p).context("Failed to read the offers")?;
            let source = format!("`{}`", p.display());
            document::read_lines(std::io::BufReader::new(file), &source, OFFER_LIMITS)
        }
        _ => document::read_lines(std::io::stdin().lock(), "stdin", OFFER_LIMITS),
    }
}

/// Runs a fetch: every event (packs as they finish, then the summary) goes to `on_event`.
///
/// Returns an error when anything selected is missing or unverified, after the summary; its exit
/// code is that of the first failure (1 refused, 3 local, 4 network).
pub fn fetch(
    options: &FetchOptions,
    offers: &[Offer],
    on_event: &mut Events<'_, FetchEvent>,
) -> anyhow::Result<FetchSummary> {
    fetch_on(&crate::core::runtime::build()?, options, offers, on_event)
}

/// [`fetch`] on a runtime the caller already runs (`-connect` fetches on its upload's).
pub fn fetch_on(
    runtime: &tokio::runtime::Runtime,
    options: &FetchOptions,
    offers: &[Offer],
    on_event: &mut Events<'_, FetchEvent>,
) -> anyhow::Result<FetchSummary> {
    check_options(options, offers)?;
    runtime
        .block_on(fetch_async(options, offers, on_event))
        .map_err(|err| http::name_the_proxy(err, &options.net))
}

/// `sct.fetch-plan.v1`: what a fetch would download, printed by `--dry-run`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FetchPlan {
    pub schema: crate::core::document::Tag<Self>,
    pub dest: String,
    pub catalog_version: u64,
    pub mode: DownloadMode,
    pub hierarchies: Vec<HierarchyRecord>,
    pub packs: Vec<PlannedPack>,
    /// Bytes of the planned files that are not already in `dest` at their full size.
    pub to_download: u64,
}

impl crate::core::document::Document for FetchPlan {
    const SCHEMA: &'static str = "sct.fetch-plan.v1";
}

/// One pack of a [`FetchPlan`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct PlannedPack {
    pub package_guid: Uuid,
    pub name: String,
    pub full_version: crate::core::version::CmVersion,
    pub update_type: i32,
    pub files: usize,
    pub bytes: u64,
    /// Bytes of this pack's files not yet in `dest` at their full size.
    pub to_download: u64,
    pub for_hierarchies: Vec<Uuid>,
}

/// `--dry-run`: fetches and verifies the catalog, selects per hierarchy, and reports what would be
/// downloaded. Nothing is written: not the folder, not a lock, not a `.part`. Files already at
/// their full size count as present; the real fetch still checks their SHA-256.
pub fn dry_run(options: &FetchOptions, offers: &[Offer]) -> anyhow::Result<FetchPlan> {
    check_options(options, offers)?;
    let runtime = crate::core::runtime::current_thread()?;
    let client = http::client(&options.net)?;
    let fetched = runtime.block_on(fetch_catalogs(&client, offers, options))?;
    let packdir = PackDir::new(&options.dest);
    let mut plan = Plan::new(&fetched.catalog, offers, options.mode);
    let existing = existing_catalog(&packdir, &options.trusted);
    if let Some(earlier) = earlier_record(&packdir, existing.as_ref()) {
        plan.add_earlier(&earlier, &fetched.catalog);
    }
    let packs: Vec<PlannedPack> = plan
        .packs
        .iter()
        .filter_map(|(guid, who)| fetched.catalog.pack(guid).map(|pack| (pack, who)))
        .map(|(pack, who)| PlannedPack {
            package_guid: pack.package_guid,
            name: pack.name.clone(),
            full_version: pack.full_version,
            update_type: pack.update_type,
            files: pack.files.len(),
            bytes: pack.size(),
            to_download: missing_bytes(&packdir, pack),
            for_hierarchies: who.clone(),
        })
        .collect();
    Ok(FetchPlan {
        schema: crate::core::document::Tag::new(),
        dest: options.dest.display().to_string(),
        catalog_version: fetched.catalog.version,
        mode: options.mode,
        hierarchies: plan.records,
        to_download: packs.iter().map(|p| p.to_download).sum(),
        packs,
    })
}

/// Refuses a fetch the destination's drive cannot possibly hold, before any pack is downloaded.
/// The need is a lower bound (what the files still lack, a `.part` counted as kept, nothing for
/// the file system's own overhead), so a drive is never refused for a fetch that could fit; one
/// that passes and still fills up fails the file that did not fit and keeps the rest for the
/// next run.
fn check_room(
    dest: &Path,
    packdir: &PackDir,
    plan: &Plan,
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let needed: u64 = plan
        .packs
        .iter()
        .filter_map(|(guid, _)| catalog.pack(guid))
        .flat_map(|pack| &pack.files)
        .map(|file| still_lacking(packdir, file))
        .sum();
    if needed == 0 {
        return Ok(());
    }
    let free = match crate::core::space::available(dest) {
        Ok(free) => free,
        Err(err) => {
            logging::warn(
                TOOL,
                format!(
                    "The free space on `{}` is unknown ({err}); downloading anyway",
                    dest.display()
                ),
            );
            return Ok(());
        }
    };
    if needed <= free {
        return Ok(());
    }
    Err(Error::Io(format!(
        "`{}` has {free} bytes free, but the selected packs need at least {needed} bytes more; \
         nothing was downloaded: free space on the drive, or use a larger one",
        dest.display()
    ))
    .into())
}

/// Bytes of one file not yet on the drive: none when it is there at its full size, else what
/// its `.part` lacks.
fn still_lacking(packdir: &PackDir, file: &catalog::PackFile) -> u64 {
    let dest = packdir.file(&file.path);
    if file_len(&dest) == file.size {
        return 0;
    }
    file.size - file_len(&download::part_path(&dest)).min(file.size)
}

/// Bytes of a pack's files that are not in the folder at their full size.
pub(crate) fn missing_bytes(packdir: &PackDir, pack: &catalog::Pack) -> u64 {
    pack.files
        .iter()
        .filter(|f| file_len(&packdir.file(&f.path)) != f.size)
        .map(|f| f.size)
        .sum()
}

/// Length of the regular file at `path` (never through a link); 0 when there is none.
fn file_len(path: &Path) -> u64 {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map_or(0, |m| m.len())
}

fn check_options(options: &FetchOptions, offers: &[Offer]) -> anyhow::Result<()> {
    if !(1..=MAX_JOBS).contains(&options.jobs) {
        return Err(Error::Usage(format!("--jobs must be between 1 and {MAX_JOBS}")).into());
    }
    if options.trusted.is_empty() {
        return Err(Error::no_trusted_key().into());
    }
    if offers.is_empty() {
        return Err(Error::Usage(
            "no offers given: pipe sct-upload's output in, or use --offers FILE".into(),
        )
        .into());
    }
    let mut seen = HashSet::new();
    for offer in offers {
        if !seen.insert(offer.hierarchy_id) {
            return Err(Error::Usage(format!(
                "hierarchy {} has two offers: give one usage cab per hierarchy",
                offer.hierarchy_id
            ))
            .into());
        }
    }
    if let Ok(meta) = std::fs::metadata(&options.dest)
        && !meta.is_dir()
    {
        return Err(Error::NotAFolder {
            path: options.dest.clone(),
        }
        .into());
    }
    check_dest(&options.dest)
}

async fn fetch_async(
    options: &FetchOptions,
    offers: &[Offer],
    on_event: &mut Events<'_, FetchEvent>,
) -> anyhow::Result<FetchSummary> {
    let client = http::client(&options.net)?;
    crate::stages::proxy::log_choice(TOOL, &options.net);
    let fetched = fetch_catalogs(&client, offers, options).await?;
    logging::info(
        TOOL,
        format!(
            "{} (version {}, {} packs) downloaded and its signature verified",
            vocabulary::downloaded_successfully(catalog::CATALOG_FILE, fetched.bytes.len() as u64),
            fetched.catalog.version,
            fetched.catalog.packs.len()
        ),
    );
    crate::core::fault::point(crate::core::fault::Point::FetchAfterCatalog);
    let packdir = PackDir::new(&options.dest);
    fs_err::create_dir_all(&options.dest).context("Cannot create the update pack folder")?;
    let _lock = lock_folder(&options.dest)?;
    crate::core::fault::point(crate::core::fault::Point::FetchAfterLock);
    let existing = existing_catalog(&packdir, &options.trusted);
    if existing.is_none() && packdir.catalog().exists() {
        crate::core::report::note(
            TOOL,
            format!(
                "WARNING: `{}` does not verify against the pinned keys; it will be replaced",
                packdir.catalog().display()
            ),
        );
    }
    if let Some(old) = &existing {
        fetched
            .catalog
            .check_not_older(old.version, &format!("`{}`", options.dest.display()))?;
    }
    let mut plan = Plan::new(&fetched.catalog, offers, options.mode);
    for record in plan.records.iter().filter(|r| r.packs.is_empty()) {
        crate::core::report::note(
            TOOL,
            format!(
                "INFO: no pack in catalog version {} is selected for hierarchy {} ({}, site version {}, mode {})",
                fetched.catalog.version,
                record.hierarchy_id,
                record.site_code,
                record.site_version,
                record.mode
            ),
        );
    }
    // A second fetch into the folder adds to what earlier ones recorded (docs/fetch.md).
    if let Some(earlier) = earlier_record(&packdir, existing.as_ref()) {
        plan.add_earlier(&earlier, &fetched.catalog);
    }
    check_room(&options.dest, &packdir, &plan, &fetched.catalog)?;
    let same_catalog = existing_bytes(&packdir).is_some_and(|b| b == fetched.bytes);
    if !same_catalog {
        // The old record must not outlive the files it describes (see the module header).
        remove_file_if_exists(&packdir.record())?;
        crate::core::fault::point(crate::core::fault::Point::FetchAfterRecordRemoved);
    }
    let results = download_all(&client, options, offers, &plan, &fetched.catalog, on_event).await?;
    let failed: Vec<&anyhow::Error> = results.iter().filter_map(|r| r.error.as_ref()).collect();
    let mut summary = FetchSummary {
        schema: crate::core::document::Tag::new(),
        kind: "summary",
        dest: options.dest.display().to_string(),
        catalog_version: fetched.catalog.version,
        mode: options.mode,
        hierarchies: plan.records.clone(),
        packs: results.len(),
        downloaded: results
            .iter()
            .filter(|r| r.status == PackStatus::Downloaded)
            .count(),
        present: results
            .iter()
            .filter(|r| r.status == PackStatus::Present)
            .count(),
        failed: results
            .iter()
            .filter(|r| r.status == PackStatus::Failed)
            .count(),
        transferred: results.iter().map(|r| r.transferred).sum(),
        ok: false,
    };
    crate::core::fault::point(crate::core::fault::Point::FetchBeforeRecords);
    let written = if failed.is_empty() {
        write_folder_records(&packdir, &fetched, &plan, existing.as_ref(), same_catalog)
            .and_then(|()| refuse_strays(&options.dest, &fetched.catalog, &plan))
    } else {
        Ok(())
    };
    summary.ok = failed.is_empty() && written.is_ok();
    on_event(&FetchEvent::Summary(summary.clone()))?;
    written?;
    if let Some(first) = failed.first() {
        return Err(Error::Several {
            first: crate::core::error::exit_code(first),
            message: format!(
                "{} of {} selected packs are missing or unverified in `{}` (first: {first:#}); run again to resume",
                summary.failed,
                summary.packs,
                options.dest.display()
            ),
        }
        .into());
    }
    Ok(summary)
}

/// Last: the folder holds nothing import would refuse (what no pack accounts for, litter aside),
/// so what a fetch calls done is what import accepts.
fn refuse_strays(dest: &Path, catalog: &Catalog, plan: &Plan) -> anyhow::Result<()> {
    let packs = plan
        .records
        .iter()
        .flat_map(|r| r.packs.iter().copied())
        .collect();
    let strays = crate::stages::verify::strays(dest, catalog, &packs)?;
    if strays.is_empty() {
        return Ok(());
    }
    Err(Error::Rejected(format!(
            "`{}` also holds {} that no pack in it accounts for ({}); import would refuse the folder: remove them and run again",
            dest.display(),
            strays.len(),
            strays
                .iter()
                .take(5)
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )).into())
}

/// Step 2: one verified catalog for all offers.
async fn fetch_catalogs(
    client: &reqwest::Client,
    offers: &[Offer],
    options: &FetchOptions,
) -> anyhow::Result<FetchedCatalog> {
    let trusted = &options.trusted;
    let mut by_url: BTreeMap<&str, FetchedCatalog> = BTreeMap::new();
    for offer in offers {
        if !by_url.contains_key(offer.catalog_url.as_str()) {
            let fetched =
                remote::fetch_catalog(client, &offer.catalog_url, trusted, &options.net).await?;
            let mut fetched = fetched;
            let refused = || {
                format!(
                    "The catalog at {} was refused",
                    crate::core::logging::redact_url(&offer.catalog_url)
                )
            };
            fetched
                .catalog
                .check_validity_window(&options.validity)
                .with_context(refused)?;
            fetched.freshness = remote::fetch_statement(
                client,
                &offer.catalog_url,
                &fetched,
                &options.max_timestamp_age,
                &options.net,
            )
            .await
            .with_context(refused)?;
            by_url.insert(&offer.catalog_url, fetched);
        }
        by_url[offer.catalog_url.as_str()]
            .catalog
            .check_hierarchy(&offer.hierarchy_id)
            .with_context(|| {
                format!(
                    "The catalog offered to hierarchy {} ({}) is not for it",
                    offer.hierarchy_id, offer.site_code
                )
            })?;
    }
    let mut catalogs = by_url.into_iter();
    let (first_url, first) = catalogs.next().expect("offers are not empty");
    for (url, other) in catalogs {
        if other.bytes != first.bytes {
            return Err(Error::Rejected(format!("the offers name different catalogs ({} and {}); one update pack folder holds one catalog: fetch them into separate folders",
                crate::core::logging::redact_url(first_url),
                crate::core::logging::redact_url(url))).into());
        }
    }
    Ok(first)
}

/// Step 3: each hierarchy's selection, and the union of packs to fetch.
struct Plan {
    records: Vec<HierarchyRecord>,
    /// Pack GUID → the hierarchies that selected it, in catalog order of first selection.
    packs: Vec<(Uuid, Vec<Uuid>)>,
}

impl Plan {
    fn new(catalog: &Catalog, offers: &[Offer], mode: DownloadMode) -> Self {
        let mut records = Vec::new();
        let mut packs: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
        for offer in offers {
            let chosen = select::select_guids(catalog, &offer.full_version, mode);
            for guid in &chosen {
                match packs.iter_mut().find(|(g, _)| g == guid) {
                    Some((_, who)) => who.push(offer.hierarchy_id),
                    None => packs.push((*guid, vec![offer.hierarchy_id])),
                }
            }
            records.push(HierarchyRecord {
                hierarchy_id: offer.hierarchy_id,
                site_code: offer.site_code.clone(),
                site_version: offer.site_version,
                mode: mode.name().to_owned(),
                earlier_modes: Vec::new(),
                packs: chosen,
            });
        }
        Self { records, packs }
    }

    /// Merges what earlier fetches into the folder recorded: each hierarchy keeps the packs it
    /// had that `catalog` still lists (this run's mode is recorded), hierarchies this run did not
    /// offer keep theirs, and every such pack is fetched again under `catalog` — skipped when its
    /// files already match. Hierarchies a bound catalog is not for are dropped.
    fn add_earlier(&mut self, earlier: &crate::core::packdir::FetchRecord, catalog: &Catalog) {
        for old in &earlier.hierarchies {
            if catalog.check_hierarchy(&old.hierarchy_id).is_err() {
                continue;
            }
            let kept: Vec<Uuid> = old
                .packs
                .iter()
                .copied()
                .filter(|g| catalog.pack(g).is_some())
                .collect();
            let record = match self
                .records
                .iter_mut()
                .position(|r| r.hierarchy_id == old.hierarchy_id)
            {
                Some(i) => &mut self.records[i],
                None => {
                    self.records.push(HierarchyRecord {
                        packs: Vec::new(),
                        ..old.clone()
                    });
                    self.records.last_mut().expect("just pushed")
                }
            };
            if !kept.is_empty() {
                for mode in std::iter::once(&old.mode).chain(&old.earlier_modes) {
                    if *mode != record.mode && !record.earlier_modes.contains(mode) {
                        record.earlier_modes.push(mode.clone());
                    }
                }
            }
            for guid in kept {
                if !record.packs.contains(&guid) {
                    record.packs.push(guid);
                }
                match self.packs.iter_mut().find(|(g, _)| *g == guid) {
                    Some((_, who)) if who.contains(&old.hierarchy_id) => {}
                    Some((_, who)) => who.push(old.hierarchy_id),
                    None => self.packs.push((guid, vec![old.hierarchy_id])),
                }
            }
        }
    }
}

/// The outcome of one pack.
struct PackResult {
    status: PackStatus,
    transferred: u64,
    error: Option<anyhow::Error>,
}

/// Step 4: every file of every planned pack, `jobs` at a time; one event per pack as it finishes.
async fn download_all(
    client: &reqwest::Client,
    options: &FetchOptions,
    offers: &[Offer],
    plan: &Plan,
    catalog: &Catalog,
    on_event: &mut Events<'_, FetchEvent>,
) -> anyhow::Result<Vec<PackResult>> {
    let packdir = PackDir::new(&options.dest);
    let base = &offers[0].packs_url;
    let mut pending: HashMap<Uuid, (usize, PackEvent, Option<anyhow::Error>)> = HashMap::new();
    let mut jobs: Vec<(Uuid, FileJob)> = Vec::new();
    for (guid, hierarchies) in &plan.packs {
        let pack = catalog.pack(guid).expect("selected from this catalog");
        logging::info(
            TOOL,
            vocabulary::downloading_payload(guid, &pack.full_version, &pack.more_info_link),
        );
        for file in &pack.files {
            let job = file_job(&packdir, base, file)?;
            logging::detail(
                TOOL,
                vocabulary::downloading_as(
                    job.url.as_str(),
                    &crate::core::paths::native(&job.path),
                ),
            );
            jobs.push((*guid, job));
        }
        pending.insert(
            *guid,
            (pack.files.len(), pack_event(pack, hierarchies), None),
        );
    }
    // Largest files first: the last minutes of a run are not spent on one big file alone.
    jobs.sort_by_key(|(_, job)| std::cmp::Reverse(job.size));
    let total: u64 = jobs.iter().map(|(_, j)| j.size).sum();
    let counter: Counter = Arc::new(Default::default());
    let (progress, feeder) = progress_bar(options.progress, total, &counter);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(options.jobs));
    let mut tasks = tokio::task::JoinSet::new();
    for (guid, job) in jobs {
        let (client, semaphore, counter) = (client.clone(), semaphore.clone(), counter.clone());
        let (root, retries, min_rate) = (
            options.dest.clone(),
            options.net.retries,
            options.net.min_rate,
        );
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            // Counted here, so bytes that came before a failure still count.
            let transferred = AtomicU64::new(0);
            let result = match prepare_folders(&root, &job.path) {
                Ok(()) => {
                    let fetch = download::fetch_file(
                        &client,
                        &job,
                        retries,
                        min_rate,
                        &counter,
                        &transferred,
                    );
                    fetch.await
                }
                Err(e) => Err(e),
            };
            (guid, job.path, job.sha256, result, transferred.into_inner())
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (guid, path, sha256, result, transferred) = joined.context("A download task failed")?;
        let entry = pending.get_mut(&guid).expect("planned pack");
        log_file(&path, &sha256, &result);
        entry.1.detail.transferred += transferred;
        match result {
            Ok(FileOutcome::Present) => {}
            Ok(FileOutcome::Downloaded { .. }) => {
                if entry.1.detail.status == PackStatus::Present {
                    entry.1.detail.status = PackStatus::Downloaded;
                }
            }
            Err(err) => {
                entry.1.detail.status = PackStatus::Failed;
                entry.1.detail.problems.push(format!("{err:#}"));
                if entry.2.is_none() {
                    entry.2 = Some(err);
                }
                let _ = path;
            }
        }
        entry.0 -= 1;
        if entry.0 == 0 {
            let (_, event, error) = pending.remove(&guid).expect("planned pack");
            note_pack(&event);
            log_pack(&event);
            // stdout may be the bar's terminal too: the event line goes above the bar.
            report::suspend(|| on_event(&FetchEvent::Pack(event.clone())))?;
            results.push(PackResult {
                status: event.detail.status,
                transferred: event.detail.transferred,
                error,
            });
        }
    }
    if let Some(feeder) = feeder {
        feeder.abort();
    }
    progress.finish_and_clear();
    Ok(results)
}

/// The URL of a catalog path under the offer's `packs_url`, each segment escaped.
pub fn file_url(base: &str, path: &str) -> anyhow::Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(base).map_err(|e| {
        Error::Rejected(format!(
            "the offer's packs_url `{}` is not a URL: {e}",
            crate::core::logging::redact_url(base)
        ))
    })?;
    url.path_segments_mut()
        .map_err(|()| {
            Error::Rejected(format!(
                "the offer's packs_url `{}` cannot hold paths",
                crate::core::logging::redact_url(base)
            ))
        })?
        .pop_if_empty()
        .extend(path.split('/'));
    Ok(url)
}

fn file_job(packdir: &PackDir, base: &str, file: &catalog::PackFile) -> anyhow::Result<FileJob> {
    Ok(FileJob {
        url: file_url(base, &file.path)?,
        path: file.path.clone(),
        dest: packdir.file(&file.path),
        size: file.size,
        sha256: file.sha256.to_ascii_lowercase(),
    })
}

/// A bytes/rate bar on stderr when asked for and stderr is a terminal.
/// ConfigMgrSetup.log: each file's hash check (a file is only in place when its SHA-256 matched).
fn log_file(path: &str, sha256: &str, result: &anyhow::Result<FileOutcome>) {
    match result {
        Ok(_) => logging::detail(TOOL, vocabulary::hash_checked(path, sha256, sha256)),
        Err(err) => logging::error(TOOL, format!("{path}: {err:#}")),
    }
}

/// ServiceConnectionTool.log: each pack's outcome in the original's words.
fn log_pack(event: &PackEvent) {
    match event.detail.status {
        PackStatus::Failed => logging::error(
            TOOL,
            format!(
                "Payload {} was not downloaded: {}",
                event.package_guid.to_string().to_uppercase(),
                event.detail.problems.join("; ")
            ),
        ),
        _ => logging::info(
            TOOL,
            vocabulary::downloaded_payload(&event.package_guid, event.detail.bytes),
        ),
    }
}

/// The overall bar of bytes downloaded, labelled with the running program's name and fed from the
/// download counter until the returned task is aborted (`--quiet`, a pipe or `TERM=dumb` draw
/// none, see [`crate::core::report`]).
fn progress_bar(wanted: bool, total: u64, counter: &Counter) -> (Progress, Option<AbortHandle>) {
    if !wanted || total == 0 {
        return (Progress::hidden(), None);
    }
    let bar = Progress::bytes(total, crate::core::setting::program().unwrap_or(TOOL));
    if !bar.is_visible() {
        return (bar, None);
    }
    let (shown, counter) = (bar.clone(), counter.clone());
    let feeder = tokio::spawn(async move {
        loop {
            shown.set_position(counter.load(std::sync::atomic::Ordering::Relaxed));
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    (bar, Some(feeder.abort_handle()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_escape_segments_and_keep_the_base_path() {
        let url = file_url("http://127.0.0.1:8080/packs/", "ABC/Redist/a b#.cab").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/packs/ABC/Redist/a%20b%23.cab"
        );
        let url = file_url("http://127.0.0.1:8080/packs", "ABC/x.cab").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/packs/ABC/x.cab");
        assert!(file_url("not a url", "x").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn folders_refuse_planted_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        prepare_folders(dir.path(), "A/B/file.cab").unwrap();
        assert!(dir.path().join("A/B").is_dir());
        std::os::unix::fs::symlink(outside.path(), dir.path().join("C")).unwrap();
        let err = prepare_folders(dir.path(), "C/file.cab").unwrap_err();
        assert_eq!(
            crate::core::error::exit_code(&err),
            crate::core::error::ExitCode::Rejected
        );
    }
}
