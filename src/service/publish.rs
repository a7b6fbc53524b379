//! Publishing: turning a folder of packs into a signed catalog on the service.
//!
//! A service root is plain files, so nginx or any CDN can serve downloads:
//!
//! ```text
//! ROOT/catalog/catalog.json        the catalog (sct.catalog.v1)
//! ROOT/catalog/catalog.json.sig    its detached signature (sct.signature.v1)
//! ROOT/catalog/timestamp.json      its freshness statement (sct.timestamp.v1, crate::service::timestamp)
//! ROOT/catalog/timestamp.json.sig  the statement's signature
//! ROOT/packs/<GUID>/<GUID>.cab     each pack's files; catalog paths are relative to ROOT/packs/
//! ROOT/packs/<GUID>/Redist/...
//! ROOT/packs.json                  pack metadata (sct.pack-metadata.v1), not served
//! ROOT/uploads/<hierarchy>/...     usage cabs received by sct-serve, never served
//! ```
//!
//! [`publish`] hashes every file of every pack the metadata lists (on all cores), numbers the new
//! catalog one above the previous one, signs it and writes both files.
//!
//! **Why a reader never sees a mismatched pair.** A client fetches `catalog.json` and then
//! `catalog.json.sig` in two requests, so no order of two renames alone can keep them matched.
//! Instead the signature file always carries signatures over the *current and the previous*
//! catalog bytes, and publishing renames the new signature file into place *before* the new
//! catalog. A reader that got the old catalog finds its signature in either signature file; one
//! that got the new catalog can only get the new signature file. Only two publications between a
//! client's two requests can make it see a mismatch, which it reports as a bad signature and
//! which a retry fixes. Signing the previous bytes again grants nothing new: they were already
//! signed, and rollback and expiry are checked on the catalog's own fields.

use crate::core::catalog::{self, Catalog, Pack, PackFile};
use crate::core::document::{self, Document};
use crate::core::error::Error;
use crate::core::signing::{PrivateKey, PublicKey, SignatureFile};
use crate::service::pack_metadata::{METADATA_FILE, PackMetadata, folder_name};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Default lifetime of a catalog: clients refuse it afterwards, so publish at least this often.
pub const DEFAULT_EXPIRES_IN_DAYS: u32 = 30;

/// Paths inside a service root.
#[derive(Clone, Debug)]
pub struct ServiceRoot {
    pub root: PathBuf,
}

impl ServiceRoot {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub fn catalog_dir(&self) -> PathBuf {
        self.root.join("catalog")
    }

    pub fn catalog(&self) -> PathBuf {
        self.catalog_dir().join(catalog::CATALOG_FILE)
    }

    pub fn signature(&self) -> PathBuf {
        self.catalog_dir().join(catalog::SIGNATURE_FILE)
    }

    /// The freshness statement (`crate::service::timestamp` signs it).
    pub fn timestamp(&self) -> PathBuf {
        self.catalog_dir()
            .join(crate::core::freshness::TIMESTAMP_FILE)
    }

    pub fn timestamp_signature(&self) -> PathBuf {
        self.catalog_dir()
            .join(crate::core::freshness::TIMESTAMP_SIGNATURE_FILE)
    }

    pub fn packs(&self) -> PathBuf {
        self.root.join("packs")
    }

    pub fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    pub fn metadata(&self) -> PathBuf {
        self.root.join(METADATA_FILE)
    }

    /// The currently published catalog and its bytes, if any (read, not verified: it is ours).
    pub fn current(&self) -> anyhow::Result<Option<(Catalog, Vec<u8>)>> {
        let path = self.catalog();
        let bytes = match fs_err::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let catalog: Catalog = document::read(
            &bytes[..],
            &format!("the published catalog `{}`", path.display()),
            catalog::MAX_CATALOG_BYTES,
        )?;
        Ok(Some((catalog, bytes)))
    }
}

/// What to publish.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    pub root: PathBuf,
    /// The metadata file; `ROOT/packs.json` when not given.
    pub metadata: Option<PathBuf>,
    pub expires_in_days: u32,
    /// Bind the catalog to one hierarchy (clients of other hierarchies refuse it).
    pub hierarchy_id: Option<Uuid>,
    /// The keys allowed to sign freshness statements (`crate::core::freshness`); `None` keeps
    /// those the previous catalog named.
    pub timestamp_keys: Option<Vec<PublicKey>>,
}

/// What [`publish`] wrote (`sct.publish-report.v1`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishReport {
    pub schema: crate::core::document::Tag<Self>,
    pub catalog: String,
    pub version: u64,
    pub previous_version: Option<u64>,
    pub issued_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub packs: usize,
    pub files: usize,
    pub bytes: u64,
    pub key_ids: Vec<String>,
    /// IDs of the timestamp keys the catalog names (empty: freeze protection off).
    pub timestamp_key_ids: Vec<String>,
    pub sha256: String,
}

impl Document for PublishReport {
    const SCHEMA: &'static str = "sct.publish-report.v1";
}

/// The component of publish's log entries and notes.
const LOG: &str = "sct-serve";

/// Longest `--expires-in`: ten years. Far above what clients accept by default, it only keeps a
/// typo from signing a catalog that never expires (or a date past the calendar's end).
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// A validity the calendar can hold, and a warning when clients at the default ceiling will
/// refuse the catalog (they may have raised theirs, so it is not an error).
fn check_expires_in(days: u32) -> anyhow::Result<()> {
    if !(1..=MAX_EXPIRES_IN_DAYS).contains(&days) {
        return Err(Error::Usage(format!(
            "--expires-in must be from 1 to {MAX_EXPIRES_IN_DAYS} days (it is {days})"
        ))
        .into());
    }
    let ceiling = catalog::DEFAULT_MAX_CATALOG_VALIDITY_DAYS;
    if days > ceiling {
        let warning = format!(
            "WARNING: a catalog valid for {days} days is refused by every client that keeps the default {ceiling}-day ceiling ({}); publish with --expires-in {ceiling} or less unless your clients raised it",
            catalog::ValidityCeiling::default().setting
        );
        crate::core::logging::warn(LOG, &warning);
        crate::core::report::note(LOG, warning);
    }
    Ok(())
}

/// Builds, signs and writes a new catalog for the packs under `ROOT/packs/`.
pub fn publish(options: &PublishOptions, keys: &[&PrivateKey]) -> anyhow::Result<PublishReport> {
    if keys.is_empty() {
        return Err(Error::Usage("publishing needs at least one signing key".into()).into());
    }
    check_expires_in(options.expires_in_days)?;
    let root = ServiceRoot::new(&options.root);
    let _lock = lock_root(&root)?;
    crate::core::fault::point(crate::core::fault::Point::PublishAfterLock);
    let metadata_path = options.metadata.clone().unwrap_or_else(|| root.metadata());
    let metadata: PackMetadata = document::read(
        fs_err::File::open(&metadata_path)?,
        &format!("pack metadata `{}`", metadata_path.display()),
        catalog::MAX_CATALOG_BYTES,
    )?;
    check_folders_match(&root.packs(), &metadata)?;
    check_release_dates(&metadata)?;
    let previous = root.current()?;
    let packs = build_packs(&root.packs(), &metadata)?;
    let timestamp_keys = timestamp_keys(options, previous.as_ref().map(|(c, _)| c))?;
    let issued_at = jiff::Timestamp::now().round(jiff::Unit::Second)?;
    let expires_at =
        issued_at + jiff::SignedDuration::from_hours(24 * i64::from(options.expires_in_days));
    let catalog = Catalog {
        schema: crate::core::document::Tag::new(),
        version: previous.as_ref().map_or(1, |(c, _)| c.version + 1),
        issued_at,
        expires_at,
        hierarchy_id: options.hierarchy_id,
        timestamp_keys: timestamp_keys.iter().map(ToString::to_string).collect(),
        packs,
    };
    let (bytes, _) = catalog::sign(&catalog, keys)?;
    let mut signatures = SignatureFile::sign(&bytes, keys);
    if let Some((_, old_bytes)) = &previous {
        signatures
            .signatures
            .extend(SignatureFile::sign(old_bytes, keys).signatures);
    }
    let mut sig_bytes = serde_json::to_vec_pretty(&signatures)?;
    sig_bytes.push(b'\n');
    fs_err::create_dir_all(root.catalog_dir())?;
    crate::core::atomic::write_bytes(&root.signature(), &sig_bytes)?;
    crate::core::atomic::write_bytes(&root.catalog(), &bytes)?;
    if !timestamp_keys.is_empty() {
        crate::core::report::note(
            LOG,
            format!(
                "clients refuse catalog version {} until its freshness statement is signed: \
                 `sct-serve run --timestamp-key` does so within {} seconds, or run `sct-serve \
                 timestamp` now",
                catalog.version,
                crate::service::timestamp::CHECK_INTERVAL.as_secs()
            ),
        );
    }
    Ok(PublishReport {
        schema: crate::core::document::Tag::new(),
        catalog: root.catalog().display().to_string(),
        version: catalog.version,
        previous_version: previous.map(|(c, _)| c.version),
        issued_at,
        expires_at,
        packs: catalog.packs.len(),
        files: catalog.packs.iter().map(|p| p.files.len()).sum(),
        bytes: catalog.packs.iter().map(Pack::size).sum(),
        key_ids: keys.iter().map(|k| k.public().key_id()).collect(),
        timestamp_key_ids: timestamp_keys.iter().map(PublicKey::key_id).collect(),
        sha256: crate::core::hash::hex_of(&bytes),
    })
}

/// The timestamp keys the new catalog names: those given, else the previous catalog's (so once
/// one is named, every later publication names it by default). None at all is allowed, with a
/// warning: clients then accept the catalog without freeze protection, as before statements.
fn timestamp_keys(
    options: &PublishOptions,
    previous: Option<&Catalog>,
) -> anyhow::Result<Vec<PublicKey>> {
    let keys = match &options.timestamp_keys {
        Some(keys) => keys.clone(),
        None => previous
            .map(crate::core::freshness::allowed_keys)
            .transpose()?
            .unwrap_or_default(),
    };
    if keys.len() > catalog::MAX_TIMESTAMP_KEYS {
        return Err(Error::Usage(format!(
            "a catalog names at most {} timestamp keys",
            catalog::MAX_TIMESTAMP_KEYS
        ))
        .into());
    }
    if keys.is_empty() {
        let warning = "WARNING: the catalog names no timestamp key, so clients have no freeze \
                       protection (a replayed older catalog is accepted until it expires): make one \
                       with `sct-serve keygen --role timestamp` and publish with --timestamp-key";
        crate::core::logging::warn(LOG, warning);
        crate::core::report::note(LOG, warning);
    }
    Ok(keys)
}

/// One publisher at a time: an OS lock on `ROOT/.publish.lock` ([`crate::core::lock`]), released
/// even when the publisher is killed. Another run holding it exits 3 like fetch and import (it was
/// 2, docs/exit-codes.md).
fn lock_root(root: &ServiceRoot) -> anyhow::Result<crate::core::lock::Lock> {
    let path = root.root.join(".publish.lock");
    match crate::core::lock::try_lock_file(&path) {
        Ok(Some(held)) => Ok(held),
        Ok(None) => Err(Error::LockHeld {
            holder: "publication",
            what: "the service root",
            path,
        }
        .into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("Cannot lock `{}`", path.display()))),
    }
}

/// Every pack's `release_date` is a calendar date, `YYYY-MM-DD`, as the catalog's schema says
/// and the console shows it: a free-form date would be signed into the catalog as it is.
fn check_release_dates(metadata: &PackMetadata) -> anyhow::Result<()> {
    for pack in &metadata.packs {
        let date = &pack.release_date;
        let well_formed = date.len() == 10 && date.parse::<jiff::civil::Date>().is_ok();
        if !well_formed {
            return Err(Error::Usage(format!(
                "pack {}: release_date `{date}` is not a date written YYYY-MM-DD",
                folder_name(&pack.package_guid)
            ))
            .into());
        }
    }
    Ok(())
}

/// Every listed pack has a folder and every folder is listed: nothing is published by accident
/// or silently left out.
fn check_folders_match(packs_dir: &Path, metadata: &PackMetadata) -> anyhow::Result<()> {
    let listed: HashSet<String> = metadata
        .packs
        .iter()
        .map(|p| folder_name(&p.package_guid))
        .collect();
    for name in &listed {
        if !packs_dir.join(name).is_dir() {
            return Err(Error::Usage(format!(
                "pack {name} is in the metadata but `{}` is missing",
                packs_dir.join(name).display()
            ))
            .into());
        }
    }
    for entry in fs_err::read_dir(packs_dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !listed.contains(&name) {
            return Err(Error::Usage(format!(
                "`{}` is not in the pack metadata: add it there or move it out of {}",
                name,
                packs_dir.display()
            ))
            .into());
        }
    }
    Ok(())
}

fn build_packs(packs_dir: &Path, metadata: &PackMetadata) -> anyhow::Result<Vec<Pack>> {
    let mut jobs = Vec::new();
    for (index, info) in metadata.packs.iter().enumerate() {
        let folder = folder_name(&info.package_guid);
        let mut found = Vec::new();
        list_files(&packs_dir.join(&folder), &folder, &mut found)?;
        found.sort();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "pack folder `{}` holds no files",
                packs_dir.join(&folder).display()
            ))
            .into());
        }
        jobs.extend(found.into_iter().map(|path| (index, path)));
    }
    let hashed = hash_all(packs_dir, &jobs)?;
    let mut packs: Vec<Pack> = metadata
        .packs
        .iter()
        .map(|info| Pack {
            info: info.clone(),
            files: Vec::new(),
        })
        .collect();
    for ((index, path), (size, sha256)) in jobs.into_iter().zip(hashed) {
        packs[index].files.push(PackFile { path, size, sha256 });
    }
    Ok(packs)
}

/// Regular files under `dir`, as `/`-separated paths starting with `prefix`; anything else
/// (symbolic links, devices) is refused rather than published.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().into_string().map_err(|name| {
            Error::Usage(format!(
                "`{}` has a name that is not UTF-8",
                dir.join(name).display()
            ))
        })?;
        let kind = entry.file_type()?;
        let relative = format!("{prefix}/{name}");
        if kind.is_dir() {
            list_files(&entry.path(), &relative, out)?;
        } else if kind.is_file() {
            out.push(relative);
        } else {
            return Err(Error::Usage(format!(
                "`{}` is not a regular file; packs hold plain files only",
                entry.path().display()
            ))
            .into());
        }
    }
    Ok(())
}

/// Hashes files on every core ([`crate::core::pool`]); results in the order of `jobs`.
fn hash_all(packs_dir: &Path, jobs: &[(usize, String)]) -> anyhow::Result<Vec<(u64, String)>> {
    crate::core::pool::map(
        jobs,
        |_| 0,
        |(_, path)| crate::core::hash::of_file(&packs_dir.join(path)),
    )
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;
    use crate::service::samples::{SampleOptions, generate};

    fn small() -> SampleOptions {
        SampleOptions {
            cab_payload: 2_000,
            redist_size: 500,
            seed: 3,
        }
    }

    fn options(root: &Path) -> PublishOptions {
        PublishOptions {
            root: root.to_owned(),
            metadata: None,
            expires_in_days: 7,
            hierarchy_id: None,
            timestamp_keys: None,
        }
    }

    #[test]
    fn timestamp_keys_are_named_and_carried_to_the_next_version() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &small()).unwrap();
        let key = PrivateKey::generate();
        let first = publish(&options(dir.path()), &[&key]).unwrap();
        assert!(first.timestamp_key_ids.is_empty());
        let (old, new) = (PrivateKey::generate(), PrivateKey::generate());
        let named = PublishOptions {
            timestamp_keys: Some(vec![old.public()]),
            ..options(dir.path())
        };
        let second = publish(&named, &[&key]).unwrap();
        assert_eq!(second.timestamp_key_ids, vec![old.public().key_id()]);
        let third = publish(&options(dir.path()), &[&key]).unwrap();
        assert_eq!(third.timestamp_key_ids, second.timestamp_key_ids);
        let rotated = PublishOptions {
            timestamp_keys: Some(vec![new.public()]),
            ..options(dir.path())
        };
        let fourth = publish(&rotated, &[&key]).unwrap();
        let (catalog, _) = ServiceRoot::new(dir.path()).current().unwrap().unwrap();
        assert_eq!(fourth.version, 4);
        assert_eq!(catalog.timestamp_keys, vec![new.public().to_string()]);
    }

    #[test]
    fn publishes_monotonic_versions_that_verify_across_the_switch() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &small()).unwrap();
        let key = PrivateKey::generate();
        let first = publish(&options(dir.path()), &[&key]).unwrap();
        assert_eq!(first.version, 1);
        let root = ServiceRoot::new(dir.path());
        let old_bytes = std::fs::read(root.catalog()).unwrap();
        let second = publish(&options(dir.path()), &[&key]).unwrap();
        assert_eq!((second.version, second.previous_version), (2, Some(1)));
        let sig = std::fs::read(root.signature()).unwrap();
        let new_bytes = std::fs::read(root.catalog()).unwrap();
        let now = jiff::Timestamp::now();
        let trusted = [key.public()];
        let (catalog, _) = catalog::verify_bytes(&new_bytes, &sig, &trusted, now, "new").unwrap();
        assert_eq!(catalog.version, 2);
        // A reader that fetched the old catalog just before the switch still verifies it.
        assert!(catalog::verify_bytes(&old_bytes, &sig, &trusted, now, "old").is_ok());
        let pack = &catalog.packs[0];
        let file = &pack.files[0];
        let (size, sha) = crate::core::hash::of_file(&root.packs().join(&file.path)).unwrap();
        assert_eq!((size, sha), (file.size, file.sha256.clone()));
    }

    #[test]
    fn a_release_date_that_is_not_a_date_is_refused_before_signing() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &small()).unwrap();
        let path = dir
            .path()
            .join(crate::service::pack_metadata::METADATA_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["packs"][0]["release_date"] = "14 Oct 2024".into();
        std::fs::write(&path, doc.to_string()).unwrap();
        let key = PrivateKey::generate();
        let err = publish(&options(dir.path()), &[&key]).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        assert!(format!("{err:#}").contains("YYYY-MM-DD"), "{err:#}");
        assert!(!ServiceRoot::new(dir.path()).catalog().exists());
    }

    #[test]
    fn an_expiry_the_calendar_cannot_hold_is_a_usage_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &small()).unwrap();
        let key = PrivateKey::generate();
        for days in [0, MAX_EXPIRES_IN_DAYS + 1, u32::MAX] {
            let options = PublishOptions {
                expires_in_days: days,
                ..options(dir.path())
            };
            let err = publish(&options, &[&key]).unwrap_err();
            assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
            assert!(format!("{err:#}").contains("--expires-in"), "{err:#}");
        }
        assert!(!ServiceRoot::new(dir.path()).catalog().exists());
        // Longer than clients accept by default: published (clients may have raised their
        // ceiling), with a warning.
        let long = PublishOptions {
            expires_in_days: MAX_EXPIRES_IN_DAYS,
            ..options(dir.path())
        };
        let report = publish(&long, &[&key]).unwrap();
        let days = report
            .expires_at
            .duration_since(report.issued_at)
            .as_hours()
            / 24;
        assert_eq!(days, i64::from(MAX_EXPIRES_IN_DAYS));
    }

    #[test]
    fn a_second_publisher_is_refused_while_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &small()).unwrap();
        let key = PrivateKey::generate();
        let held = lock_root(&ServiceRoot::new(dir.path())).unwrap();
        let err = publish(&options(dir.path()), &[&key]).unwrap_err();
        assert!(
            format!("{err:#}").contains("another publication"),
            "{err:#}"
        );
        // Another run holding the lock is a local failure in every stage (was 2 here).
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Io);
        drop(held);
        assert_eq!(publish(&options(dir.path()), &[&key]).unwrap().version, 1);
    }

    #[test]
    fn unlisted_folders_and_missing_packs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &small()).unwrap();
        let key = PrivateKey::generate();
        std::fs::create_dir(dir.path().join("packs/STRAY")).unwrap();
        let err = publish(&options(dir.path()), &[&key]).unwrap_err();
        assert!(format!("{err:#}").contains("STRAY"), "{err:#}");
        std::fs::remove_dir(dir.path().join("packs/STRAY")).unwrap();
        let first = crate::service::samples::sample_infos()[0].package_guid;
        std::fs::remove_dir_all(dir.path().join("packs").join(folder_name(&first))).unwrap();
        let err = publish(&options(dir.path()), &[&key]).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        assert!(!ServiceRoot::new(dir.path()).catalog().exists());
    }
}
