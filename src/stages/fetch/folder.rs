//! The folder's own files — catalog, signature, record — and its folders: what is already there
//! (the rollback bar), the order new ones are written in, and the lock that keeps one fetch per
//! folder.

use super::{Plan, prune};
use crate::core::catalog::{self, Catalog};
use crate::core::document::{self};
use crate::core::error::Error;
use crate::core::packdir::{FetchRecord, PackDir};
use crate::core::signing::{self, PublicKey};
use crate::stages::remote::FetchedCatalog;
use anyhow::Context;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::Path;
use uuid::Uuid;

/// The folder's own files, which a fetch writes beside the pack folders.
const OWN_FILES: [&str; 5] = [
    catalog::CATALOG_FILE,
    catalog::SIGNATURE_FILE,
    crate::core::freshness::TIMESTAMP_FILE,
    crate::core::freshness::TIMESTAMP_SIGNATURE_FILE,
    crate::core::packdir::RECORD_FILE,
];
/// Most stray names one refusal lists.
const STRAYS_SHOWN: usize = 5;

/// The destination must be an update pack folder of its own: missing, empty, or what an earlier
/// fetch wrote (its own files and `<GUID>` folders, plus operating-system litter). Anything else —
/// the drive's `UsageData.cab` when `DIR` is the drive's root, other files — would make import
/// refuse the folder at the site, so it is refused here (usage, exit 2), before anything is sent
/// or written, with a folder to use instead. On Windows a case twin of the folder's name is the
/// same folder, so a path holding one is refused too.
pub fn check_dest(dest: &Path) -> anyhow::Result<()> {
    crate::core::paths::check_no_twins_on_path(dest)?;
    let Ok(entries) = std::fs::read_dir(dest) else {
        return Ok(()); // missing (created later) or unreadable (reported when written)
    };
    let mut strays: Vec<String> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_folder = entry.file_type().is_ok_and(|t| t.is_dir());
        if !belongs(&name, is_folder) {
            strays.push(name.to_string_lossy().into_owned());
        }
    }
    if strays.is_empty() {
        return Ok(());
    }
    strays.sort();
    let more = strays.len().saturating_sub(STRAYS_SHOWN);
    let mut shown: Vec<String> = strays
        .iter()
        .take(STRAYS_SHOWN)
        .map(|s| format!("`{s}`"))
        .collect();
    if more > 0 {
        shown.push(format!("{more} more"));
    }
    Err(Error::Usage(format!(
            "`{}` is not an update pack folder of its own: it also holds {}, and import would refuse the folder for them; \
             give a folder of its own, such as `{}`",
            dest.display(),
            shown.join(", "),
            dest.join("UpdatePacks").display()
        )).into())
}

/// Whether a top-level entry is one a fetch writes (or may leave after a crash), or litter.
fn belongs(name: &OsStr, is_folder: bool) -> bool {
    let text = name.to_string_lossy();
    if is_folder && Uuid::parse_str(&text).is_ok() {
        return true;
    }
    !is_folder && (OWN_FILES.contains(&text.as_ref()) || leftover_temp(&text).is_some())
        || crate::core::litter::is_litter(name)
}

/// `.catalog.json.XXXXXX.tmp` and the like: a temporary file of an atomic write that a killed
/// fetch left behind; returns which of the folder's own files it was for.
fn leftover_temp(name: &str) -> Option<&'static str> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    OWN_FILES
        .iter()
        .copied()
        .filter(|own| {
            inner
                .strip_prefix(own)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|random| !random.is_empty() && !random.contains('.'))
        })
        .max_by_key(|own| own.len())
}

/// Removes temporary files of the folder's own files left by a killed fetch (step 5 rewrites
/// those files anyway), so they never reach import as unexpected entries.
fn remove_leftover_temps(packdir: &PackDir) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(&packdir.root) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && leftover_temp(&entry.file_name().to_string_lossy()).is_some() {
            remove_file_if_exists(&entry.path())?;
        }
    }
    Ok(())
}

/// What earlier fetches recorded under the catalog already in `DIR` (only when that catalog
/// verified): a second connect adds to it instead of leaving it behind unrecorded.
pub(super) fn earlier_record(packdir: &PackDir, existing: Option<&Catalog>) -> Option<FetchRecord> {
    read_record(packdir, existing?.version)
}

/// The catalog already in `DIR`, when its signature verifies (expired or not): the rollback bar.
pub(super) fn existing_catalog(packdir: &PackDir, trusted: &[PublicKey]) -> Option<Catalog> {
    let bytes = existing_bytes(packdir)?;
    let signature = read_small(&packdir.signature(), signing::MAX_SIGNATURE_BYTES)?;
    let source = format!("catalog `{}`", packdir.catalog().display());
    let signatures: signing::SignatureFile =
        document::read(&signature[..], &source, signing::MAX_SIGNATURE_BYTES).ok()?;
    signing::verify(&bytes, &signatures, trusted, &source).ok()?;
    let catalog: Catalog = document::read(&bytes[..], &source, catalog::MAX_CATALOG_BYTES).ok()?;
    // Its paths decide what a later prune may remove: only a well-formed catalog counts.
    catalog.check_structure().ok()?;
    Some(catalog)
}

pub(super) fn existing_bytes(packdir: &PackDir) -> Option<Vec<u8>> {
    read_small(&packdir.catalog(), catalog::MAX_CATALOG_BYTES)
}

fn read_small(path: &Path, limit: u64) -> Option<Vec<u8>> {
    crate::core::medium::read_capped(path, limit, crate::core::medium::Links::Refuse).ok()
}

/// Holds an exclusive lock on the folder itself (no lock file, which `sct-verify` would report),
/// so two fetches into one folder cannot interleave their writes, on Linux and on Windows
/// ([`crate::core::lock::try_lock_folder`]).
pub(super) fn lock_folder(dir: &Path) -> anyhow::Result<crate::core::lock::Lock> {
    match crate::core::lock::try_lock_folder(dir) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err(Error::LockHeld {
            holder: "sct-fetch",
            what: "the folder",
            path: dir.to_owned(),
        }
        .into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("Cannot lock `{}`", dir.display()))),
    }
}

/// Creates the folders of a catalog path under `root`, refusing any that is a symlink (a planted
/// link must not send pack files outside the folder).
pub(super) fn prepare_folders(root: &Path, catalog_path: &str) -> anyhow::Result<()> {
    let mut folder = root.to_owned();
    let parts: Vec<&str> = catalog_path.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        folder.push(part);
        if std::fs::symlink_metadata(&folder).is_err() {
            // Several jobs create the same folders at once: "already exists" is success here,
            // and the check below decides whether what exists is acceptable.
            match std::fs::create_dir(&folder) {
                Ok(()) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("Cannot create folder `{}`", folder.display())));
                }
            }
        }
        let meta = std::fs::symlink_metadata(&folder)
            .with_context(|| format!("Cannot inspect `{}`", folder.display()))?;
        if !meta.is_dir() {
            return Err(Error::Rejected(format!(
                "`{}` is a symlink or a file, not a folder; remove it and run again",
                folder.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// Step 5: signature, catalog, the freshness statement, then the record. The plan already holds
/// what earlier fetches recorded ([`Plan::add_earlier`]), so the record written is the merged one.
pub(super) fn write_folder_records(
    packdir: &PackDir,
    fetched: &FetchedCatalog,
    plan: &Plan,
    old: Option<&Catalog>,
    same_catalog: bool,
) -> anyhow::Result<()> {
    // With the same catalog, what it lists and no record claims is a leftover of an interrupted
    // fetch; with a new one, what the old one listed and the new plan drops. Either would make
    // the folder fail verification, so it goes — before the new catalog replaces the old one, so
    // a crash here is redone by the rerun.
    let prune_by = if same_catalog {
        Some(&fetched.catalog)
    } else {
        old
    };
    if let Some(by) = prune_by {
        let keep: HashSet<&str> = plan
            .packs
            .iter()
            .filter_map(|(guid, _)| fetched.catalog.pack(guid))
            .flat_map(|p| p.files.iter().map(|f| f.path.as_str()))
            .collect();
        let removed = prune::prune(packdir, by, &keep)?;
        crate::core::fault::point(crate::core::fault::Point::FetchAfterPrune);
        if !removed.is_empty() {
            let why = if same_catalog {
                format!(
                    "catalog version {} lists and no fetch into this folder selected (left by an interrupted run)",
                    by.version
                )
            } else {
                format!(
                    "catalog version {} listed and version {} does not select",
                    by.version, fetched.catalog.version
                )
            };
            crate::core::report::note(
                "sct-fetch",
                format!("INFO: removed {} files that {why}", removed.len()),
            );
        }
    }
    remove_leftover_temps(packdir)?;
    let hierarchies = plan.records.clone();
    if !same_catalog {
        crate::core::atomic::write_bytes(&packdir.signature(), &fetched.signature)?;
        crate::core::fault::point(crate::core::fault::Point::FetchAfterSignatureWritten);
        crate::core::atomic::write_bytes(&packdir.catalog(), &fetched.bytes)?;
        crate::core::fault::point(crate::core::fault::Point::FetchAfterCatalogWritten);
    }
    write_statement(packdir, fetched, same_catalog)?;
    let record = FetchRecord {
        schema: crate::core::document::Tag::new(),
        catalog_version: fetched.catalog.version,
        freshness_checked_at: fetched.freshness.as_ref().map(|f| f.checked_at),
        hierarchies,
    };
    let mut bytes = serde_json::to_vec_pretty(&record)?;
    bytes.push(b'\n');
    crate::core::atomic::write_bytes(&packdir.record(), &bytes)?;
    crate::core::fault::point(crate::core::fault::Point::FetchAfterRecordWritten);
    Ok(())
}

/// The freshness statement beside the catalog: signature first, then the statement, as for the
/// catalog. Under the same catalog the record is removed first when the statement changes, so
/// no record ever stands beside a statement and signature that do not match (a killed run leaves
/// a folder `sct-verify` refuses and a rerun completes). A catalog naming no timestamp keys
/// leaves no statement behind.
fn write_statement(
    packdir: &PackDir,
    fetched: &FetchedCatalog,
    same_catalog: bool,
) -> anyhow::Result<()> {
    let Some(fresh) = &fetched.freshness else {
        remove_file_if_exists(&packdir.timestamp())?;
        return remove_file_if_exists(&packdir.timestamp_signature());
    };
    let unchanged = read_small(
        &packdir.timestamp(),
        crate::core::freshness::MAX_TIMESTAMP_BYTES,
    )
    .is_some_and(|b| b == fresh.bytes)
        && read_small(&packdir.timestamp_signature(), signing::MAX_SIGNATURE_BYTES)
            .is_some_and(|b| b == fresh.signature);
    if unchanged {
        return Ok(());
    }
    if same_catalog {
        remove_file_if_exists(&packdir.record())?;
    }
    crate::core::atomic::write_bytes(&packdir.timestamp_signature(), &fresh.signature)?;
    crate::core::fault::point(crate::core::fault::Point::FetchAfterTimestampSignatureWritten);
    crate::core::atomic::write_bytes(&packdir.timestamp(), &fresh.bytes)
}

fn read_record(packdir: &PackDir, version: u64) -> Option<FetchRecord> {
    let bytes = read_small(&packdir.record(), catalog::MAX_CATALOG_BYTES)?;
    let record: FetchRecord =
        document::read(&bytes[..], "fetched.json", catalog::MAX_CATALOG_BYTES).ok()?;
    (record.catalog_version == version).then_some(record)
}

pub(super) fn remove_file_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            if let Some(parent) = path.parent() {
                let _ = crate::core::atomic::sync_dir(parent);
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("Failed to remove `{}`", path.display())))
        }
    }
}
