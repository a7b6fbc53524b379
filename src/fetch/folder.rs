//! The folder's own files — catalog, signature, record — and its folders: what is already there
//! (the rollback bar), the order new ones are written in, and the lock that keeps one fetch per
//! folder.

use super::{Plan, prune};
use crate::catalog::{self, Catalog};
use crate::document::{self, Document};
use crate::error::{ExitCode, fail};
use crate::packdir::{FetchRecord, PackDir};
use crate::remote::FetchedCatalog;
use crate::signing::{self, PublicKey};
use anyhow::Context;
use std::collections::HashSet;
use std::path::Path;

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
    crate::medium::read_capped(path, limit, crate::medium::Links::Refuse).ok()
}

/// Holds an exclusive lock on the folder itself (no lock file, which `sct-verify` would report),
/// so two fetches into one folder cannot interleave their writes, on Linux and on Windows
/// ([`crate::atomic::try_lock_folder`]).
pub(super) fn lock_folder(dir: &Path) -> anyhow::Result<crate::atomic::FolderLock> {
    match crate::atomic::try_lock_folder(dir) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err(fail(
            ExitCode::Io,
            format!(
                "another sct-fetch is writing to `{}`; wait for it to finish, then run again",
                dir.display()
            ),
        )),
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
            crate::bail_kind!(
                ExitCode::Rejected,
                "`{}` is a symlink or a file, not a folder; remove it and run again",
                folder.display()
            );
        }
    }
    Ok(())
}

/// Step 5: signature, catalog, then the record (merged with an earlier run's for the same catalog).
pub(super) fn write_folder_records(
    packdir: &PackDir,
    fetched: &FetchedCatalog,
    plan: &Plan,
    old: Option<&Catalog>,
    same_catalog: bool,
) -> anyhow::Result<()> {
    if let Some(old) = old.filter(|_| !same_catalog) {
        // Before the new catalog replaces the old one, so a crash here is redone by the rerun.
        let keep: HashSet<&str> = plan
            .packs
            .iter()
            .filter_map(|(guid, _)| fetched.catalog.pack(guid))
            .flat_map(|p| p.files.iter().map(|f| f.path.as_str()))
            .collect();
        let removed = prune::prune(packdir, old, &keep)?;
        crate::fault::point("fetch:after-prune");
        if !removed.is_empty() {
            crate::cli::note(
                "sct-fetch",
                format!(
                    "INFO: removed {} files that catalog version {} listed and version {} does not select",
                    removed.len(),
                    old.version,
                    fetched.catalog.version
                ),
            );
        }
    }
    let mut hierarchies = Vec::new();
    if same_catalog && let Some(old) = read_record(packdir, fetched.catalog.version) {
        hierarchies.extend(old.hierarchies.into_iter().filter(|h| {
            !plan
                .records
                .iter()
                .any(|n| n.hierarchy_id == h.hierarchy_id)
        }));
    }
    hierarchies.extend(plan.records.iter().cloned());
    if !same_catalog {
        crate::atomic::write_bytes(&packdir.signature(), &fetched.signature)?;
        crate::fault::point("fetch:after-signature-written");
        crate::atomic::write_bytes(&packdir.catalog(), &fetched.bytes)?;
        crate::fault::point("fetch:after-catalog-written");
    }
    let record = FetchRecord {
        schema: FetchRecord::SCHEMA.to_owned(),
        catalog_version: fetched.catalog.version,
        hierarchies,
    };
    let mut bytes = serde_json::to_vec_pretty(&record)?;
    bytes.push(b'\n');
    crate::atomic::write_bytes(&packdir.record(), &bytes)?;
    crate::fault::point("fetch:after-record-written");
    Ok(())
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
                let _ = crate::atomic::sync_dir(parent);
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("Failed to remove `{}`", path.display())))
        }
    }
}
