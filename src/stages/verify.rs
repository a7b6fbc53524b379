//! Verifying a carried update-pack folder, trusting nothing but the pinned keys.
//!
//! Steps, in order (a failure in 1–2 stops; later problems are collected into the report):
//! 1. `catalog.json` verifies against its signature and a pinned key, and has not expired
//!    (see [`crate::core::catalog`] for the catalog's own steps); when it names timestamp keys,
//!    `timestamp.json` is signed by one of them and names this catalog (its age is the fetch's
//!    business, [`crate::core::freshness`]);
//! 2. `fetched.json` is a fetch record for that catalog version, naming only packs it lists;
//! 3. every file of every recorded pack is a regular file, reached through real folders, with the
//!    catalog's size and SHA-256 (files are hashed on all cores, largest first);
//! 4. nothing else is in the folder: no stray files, no leftover `.part`, no symlinks — except
//!    operating-system litter ([`crate::core::litter`]), which is listed as ignored and never opened;
//! 5. a volume of a set (`volume.json`, written by `sct-span`): its record belongs to this catalog,
//!    and each part it holds matches it; a file whose parts are all here is joined and checked
//!    against the signed catalog ([`volume`]).

pub mod volume;

use crate::core::catalog::{self, Catalog};
use crate::core::document::{self, Document};
use crate::core::error::{Error, ExitCode};
use crate::core::packdir::{FetchRecord, PackDir};
use crate::core::signing::{self, PublicKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;
use uuid::Uuid;

/// The outcome for one pack.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackReport {
    pub package_guid: Uuid,
    pub name: String,
    pub files: usize,
    pub bytes: u64,
    pub ok: bool,
    pub problems: Vec<String>,
}

/// `sct.verify.v1`: what `sct-verify` prints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerifyReport {
    pub schema: crate::core::document::Tag<Self>,
    pub dir: String,
    pub catalog_version: u64,
    pub catalog_expires_at: jiff::Timestamp,
    pub key_id: String,
    /// The timestamp key that signed the folder's freshness statement; absent when the catalog
    /// names no timestamp keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_key_id: Option<String>,
    pub packs: Vec<PackReport>,
    /// Entries in the folder that no recorded pack accounts for.
    pub unexpected: Vec<String>,
    /// Operating-system litter (`desktop.ini`, `.DS_Store`, ...): ignored, never opened or copied.
    #[serde(default)]
    pub ignored: Vec<String>,
    /// Step 5, for a volume of a set: its parts and the volumes the set still needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<volume::VolumeReport>,
    pub ok: bool,
}

impl Document for VerifyReport {
    const SCHEMA: &'static str = "sct.verify.v1";
}

/// A folder that passed steps 1–2, with its report for steps 3–4.
pub struct VerifiedDir {
    pub catalog: Catalog,
    pub record: FetchRecord,
    /// The volume record, when the folder is a volume of a set.
    pub volume: Option<crate::core::volume::VolumeRecord>,
    pub report: VerifyReport,
}

/// Runs every step over `dir`. Errors are steps 1–2; per-file problems are in the report.
pub fn verify_dir(
    dir: &Path,
    trusted: &[PublicKey],
    now: jiff::Timestamp,
) -> anyhow::Result<VerifiedDir> {
    verify_dir_with(dir, trusted, |catalog| catalog.check_not_expired(now))
}

/// [`verify_dir`] with the caller deciding whether the catalog is still current (import's grace
/// after expiry, [`crate::stages::import::grace`]).
pub fn verify_dir_with(
    dir: &Path,
    trusted: &[PublicKey],
    expiry: impl FnOnce(&Catalog) -> anyhow::Result<()>,
) -> anyhow::Result<VerifiedDir> {
    let packdir = PackDir::new(dir);
    if !dir.is_dir() {
        let missing = format!("update pack folder `{}` does not exist", dir.display());
        return Err(Error::Io(missing).into());
    }
    crate::core::paths::check_no_twins_on_path(dir)?;
    let bytes = read_capped(&packdir.catalog(), catalog::MAX_CATALOG_BYTES)?;
    let signature = read_capped(&packdir.signature(), signing::MAX_SIGNATURE_BYTES)?;
    let source = format!("catalog `{}`", packdir.catalog().display());
    let (catalog, key_id) =
        catalog::verify_bytes_with(&bytes, &signature, trusted, &source, expiry)?;
    let timestamp_key_id = check_statement(&packdir, &catalog, &bytes)?;
    let record = read_record(&packdir, &catalog)?;
    let recorded: BTreeSet<Uuid> = record
        .hierarchies
        .iter()
        .flat_map(|h| h.packs.iter().copied())
        .collect();
    let volume = volume::read(&packdir, &catalog, &bytes, &recorded)?;
    let mut expected = expected_entries(&catalog, &recorded);
    if let Some(record) = &volume {
        volume::expected_entries(record, &mut expected);
    }
    let files: Vec<&catalog::PackFile> = recorded
        .iter()
        .flat_map(|guid| &catalog.pack(guid).expect("checked by read_record").files)
        .collect();
    let mut problems = check_files(&packdir, &files).into_iter();
    let mut packs = Vec::new();
    for guid in &recorded {
        let pack = catalog.pack(guid).expect("checked by read_record");
        let problems: Vec<String> = problems.by_ref().take(pack.files.len()).flatten().collect();
        packs.push(PackReport {
            package_guid: *guid,
            name: pack.name.clone(),
            files: pack.files.len(),
            bytes: pack.size(),
            ok: problems.is_empty(),
            problems,
        });
    }
    let (unexpected, ignored) = unexpected_entries(dir, &expected)?;
    let volume_report = volume
        .as_ref()
        .map(|record| volume::check_parts(&packdir, record, &catalog));
    let parts_ok = volume_report.as_ref().is_none_or(|v| {
        v.parts
            .iter()
            .all(|p| p.state != volume::PartState::Refused)
    });
    let ok = packs.iter().all(|p| p.ok) && unexpected.is_empty() && parts_ok;
    let report = VerifyReport {
        schema: crate::core::document::Tag::new(),
        dir: dir.display().to_string(),
        catalog_version: catalog.version,
        catalog_expires_at: catalog.expires_at,
        key_id,
        timestamp_key_id,
        packs,
        unexpected,
        ignored,
        volume: volume_report,
        ok,
    };
    Ok(VerifiedDir {
        catalog,
        record,
        volume,
        report,
    })
}

/// Every path step 4 accepts for these packs: the folder's own files, each pack file and the
/// folders on its path (relative, with `/`).
fn expected_entries(catalog: &Catalog, packs: &BTreeSet<Uuid>) -> BTreeSet<String> {
    let mut expected: BTreeSet<String> = [
        catalog::CATALOG_FILE,
        catalog::SIGNATURE_FILE,
        crate::core::packdir::RECORD_FILE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !catalog.timestamp_keys.is_empty() {
        expected.insert(crate::core::freshness::TIMESTAMP_FILE.to_owned());
        expected.insert(crate::core::freshness::TIMESTAMP_SIGNATURE_FILE.to_owned());
    }
    for pack in packs.iter().filter_map(|guid| catalog.pack(guid)) {
        for file in &pack.files {
            expected.insert(file.path.clone());
            let mut folder = Path::new(&file.path).parent();
            while let Some(f) = folder.filter(|f| !f.as_os_str().is_empty()) {
                expected.insert(f.to_string_lossy().replace('\\', "/"));
                folder = f.parent();
            }
        }
    }
    expected
}

/// Step 4 alone, for a folder just written: what `dir` holds beyond these packs of `catalog`,
/// litter aside. `sct-fetch` runs it last, so a folder it calls done is one import accepts.
pub fn strays(
    dir: &Path,
    catalog: &Catalog,
    packs: &BTreeSet<Uuid>,
) -> anyhow::Result<Vec<String>> {
    Ok(unexpected_entries(dir, &expected_entries(catalog, packs))?.0)
}

/// The exit status of a report: `Ok` when everything verified, else a refusal (exit 1) that says
/// how many packs and entries failed.
pub fn outcome(report: &VerifyReport) -> anyhow::Result<()> {
    if report.ok {
        return Ok(());
    }
    let bad = report.packs.iter().filter(|p| !p.ok).count();
    let refused: Vec<&str> = report
        .volume
        .iter()
        .flat_map(|v| &v.parts)
        .filter_map(|p| p.problem.as_deref())
        .collect();
    let parts = if refused.is_empty() {
        String::new()
    } else {
        format!(", {} refused parts ({})", refused.len(), refused.join("; "))
    };
    Err(Error::Rejected(format!(
        "`{}` failed verification: {bad} of {} packs incomplete or altered, {} unexpected entries{parts}",
        report.dir,
        report.packs.len(),
        report.unexpected.len()
    ))
    .into())
}

/// Reads one of the folder's own files through one no-follow handle, capped (see
/// [`crate::core::medium`]); a missing one means the folder cannot be trusted.
fn read_capped(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    crate::core::medium::read_capped(path, limit, crate::core::medium::Links::Refuse).map_err(|err| {
        if crate::core::medium::is_missing(&err) {
            // A carried folder without its signature or record is refused, like an unsigned one.
            Error::Rejected(format!(
                    "The update pack folder is incomplete: `{}` is missing, so nothing in it can be trusted",
                    path.display()
                )).into()
        } else {
            err.context("The update pack folder could not be read")
        }
    })
}

/// Step 1b: when the catalog names timestamp keys, the folder's freshness statement must be
/// signed by one of them and name this catalog (its version and bytes). Its age is not checked:
/// the fetch did that, and a folder is imported weeks later, after its review (import's grace
/// after expiry applies to the catalog). Returns the key that signed it.
fn check_statement(
    packdir: &PackDir,
    catalog: &Catalog,
    catalog_bytes: &[u8],
) -> anyhow::Result<Option<String>> {
    if catalog.timestamp_keys.is_empty() {
        return Ok(None);
    }
    let bytes = read_capped(
        &packdir.timestamp(),
        crate::core::freshness::MAX_TIMESTAMP_BYTES,
    )?;
    let signature = read_capped(&packdir.timestamp_signature(), signing::MAX_SIGNATURE_BYTES)?;
    let source = format!("freshness statement `{}`", packdir.timestamp().display());
    let (_, key_id) =
        crate::core::freshness::check_belongs(&bytes, &signature, catalog, catalog_bytes, &source)?;
    Ok(Some(key_id))
}

fn read_record(packdir: &PackDir, catalog: &Catalog) -> anyhow::Result<FetchRecord> {
    let path = packdir.record();
    let bytes = read_capped(&path, catalog::MAX_CATALOG_BYTES)?;
    let record: FetchRecord = document::read(
        &bytes[..],
        &format!("`{}`", path.display()),
        catalog::MAX_CATALOG_BYTES,
    )?;
    if record.catalog_version != catalog.version {
        return Err(Error::Rejected(format!(
            "`{}` was written for catalog version {}, but the catalog beside it is version {}",
            path.display(),
            record.catalog_version,
            catalog.version
        ))
        .into());
    }
    for hierarchy in &record.hierarchies {
        for guid in &hierarchy.packs {
            if catalog.pack(guid).is_none() {
                return Err(Error::Rejected(format!(
                    "`{}` names pack {guid}, which the signed catalog does not list",
                    path.display()
                ))
                .into());
            }
        }
    }
    Ok(record)
}

/// Step 3 for every file, on all cores, largest first ([`crate::core::pool`]). Returns one entry per
/// file, in the order given (`None` when complete and intact).
fn check_files(packdir: &PackDir, files: &[&catalog::PackFile]) -> Vec<Option<String>> {
    crate::core::pool::map(files, |file| file.size, |file| check_file(packdir, file))
}

/// Step 3 for one file; `None` when it is complete and intact. The file is opened once, with no
/// link followed on the way, and judged and hashed through that handle, capped at its size.
fn check_file(packdir: &PackDir, file: &catalog::PackFile) -> Option<String> {
    if let Some(folder) = linked_folder(packdir, &file.path) {
        return Some(format!(
            "`{}` is reached through `{folder}`, which is not a plain folder (symlink?)",
            file.path
        ));
    }
    let handle = match crate::core::medium::open_under(&packdir.root, &file.path) {
        Ok(handle) => handle,
        Err(err) if crate::core::medium::is_missing(&err) => {
            return Some(format!("`{}` is missing", file.path));
        }
        Err(err) if crate::core::error::exit_code(&err) == ExitCode::Rejected => {
            return Some(format!("`{}` is not a regular file: {err}", file.path));
        }
        Err(err) => return Some(format!("`{}` could not be read: {err:#}", file.path)),
    };
    let size = handle.metadata().map_or(0, |m| m.len());
    if size != file.size {
        return Some(format!(
            "`{}` is {size} bytes, expected {}",
            file.path, file.size
        ));
    }
    match crate::core::hash::of_reader(std::io::Read::take(handle, file.size + 1)) {
        Ok((read, _)) if read != file.size => Some(format!(
            "`{}` is {read} bytes, expected {}",
            file.path, file.size
        )),
        Ok((_, digest)) if crate::core::hash::same(&digest, &file.sha256) => None,
        Ok((_, digest)) => Some(format!(
            "`{}` has SHA-256 {digest}, expected {}",
            file.path, file.sha256
        )),
        Err(err) => Some(format!("`{}` could not be read: {err}", file.path)),
    }
}

/// The first folder on a catalog path that is not a real folder (a planted symlink), if any.
fn linked_folder(packdir: &PackDir, catalog_path: &str) -> Option<String> {
    let parts: Vec<&str> = catalog_path.split('/').collect();
    let mut folder = packdir.root.clone();
    for (depth, part) in parts[..parts.len().saturating_sub(1)].iter().enumerate() {
        folder.push(part);
        match std::fs::symlink_metadata(&folder) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Some(parts[..=depth].join("/")),
            Err(_) => return None,
        }
    }
    None
}

/// Step 4: every entry not in `expected` (relative paths with `/`), every symlink, junction or
/// other reparse point, and every name that is not valid Unicode; then, apart, the
/// operating-system litter, which is neither opened nor descended into. Names are joined from
/// their parts, never by folding `\\`: a file named `<GUID>\\<GUID>.cab` on Linux is an entry of
/// its own, not the pack file.
fn unexpected_entries(
    dir: &Path,
    expected: &BTreeSet<String>,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in fs_err::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            let relative = crate::stages::import::inbox::relative_name(dir, &path);
            if !expected.contains(&relative) && crate::core::litter::is_litter(&entry.file_name()) {
                ignored.push(relative);
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_symlink() || is_reparse_point(&entry) {
                out.push(format!("{relative} (symlink)"));
            } else if entry.file_name().to_str().is_none() {
                out.push(format!("{relative} (a name that is not valid Unicode)"));
            } else if !expected.contains(&relative) {
                out.push(relative);
            } else if kind.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    ignored.sort();
    Ok((out, ignored))
}

/// A junction or other reparse point (Windows), which `is_symlink` does not always report.
fn is_reparse_point(entry: &fs_err::DirEntry) -> bool {
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        entry.metadata().is_ok_and(|m| {
            m.file_attributes()
                & windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_REPARSE_POINT
                != 0
        })
    }
    #[cfg(not(windows))]
    {
        let _ = entry;
        false
    }
}
