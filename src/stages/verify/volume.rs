//! Verifying a volume of a set ([`crate::core::volume`]): its record against the signed catalog,
//! then each part it holds.
//!
//! The record is unsigned, so it may only refuse: a part whose bytes differ from the record's
//! SHA-256 is refused, but a part is *confirmed* only when every part of its file is on this
//! volume and the joined bytes have the catalog's signed size and SHA-256. A part whose file
//! continues on other volumes stays *unconfirmed*: it matches its record, and import confirms it
//! when the last part arrives and the joined file matches the signed hash.

use crate::core::catalog::{self, Catalog};
use crate::core::error::Error;
use crate::core::packdir::PackDir;
use crate::core::volume::{Part, VOLUME_FILE, VolumeRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use uuid::Uuid;

/// What `sct-verify` found about the volume's parts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VolumeReport {
    /// This volume's number, and how many the set has.
    pub volume: u32,
    pub volumes: u32,
    pub parts: Vec<PartReport>,
    /// The other volumes that hold parts of the split packs on this one: the set still needs
    /// them before those packs can be imported.
    pub needs: Vec<u32>,
}

/// One part's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartReport {
    pub package_guid: Uuid,
    /// Its name inside the volume (`<GUID>/<path>.002`).
    pub name: String,
    pub part: u32,
    pub of: u32,
    pub bytes: u64,
    pub state: PartState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Where a part stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartState {
    /// Its file's parts are all on this volume and the joined file matches the signed catalog.
    Confirmed,
    /// It matches the volume's (unsigned) record; its file continues on other volumes, so only
    /// the joined file, at import, can be checked against the signed catalog.
    Unconfirmed,
    /// Missing, or not what the record or the catalog says.
    Refused,
}

/// Reads `volume.json` when the folder has one (`None` for a plain pack folder) and checks it
/// against the signed catalog and the folder's whole packs; a record from another set, or one
/// naming what the catalog does not list, refuses the whole volume.
pub fn read(
    packdir: &PackDir,
    catalog: &Catalog,
    catalog_bytes: &[u8],
    whole: &BTreeSet<Uuid>,
) -> anyhow::Result<Option<VolumeRecord>> {
    let path = packdir.root.join(VOLUME_FILE);
    let bytes = match crate::core::medium::read_capped(
        &path,
        catalog::MAX_CATALOG_BYTES,
        crate::core::medium::Links::Refuse,
    ) {
        Ok(bytes) => bytes,
        Err(err) if crate::core::medium::is_missing(&err) => return Ok(None),
        Err(err) => return Err(err.context("The volume record could not be read")),
    };
    let source = format!("`{}`", path.display());
    let record: VolumeRecord =
        crate::core::document::read(&bytes[..], &source, catalog::MAX_CATALOG_BYTES)?;
    let sha256 = crate::core::hash::hex_of(catalog_bytes);
    if record.set.catalog_version != catalog.version
        || !crate::core::hash::same(&record.set.catalog_sha256, &sha256)
    {
        return Err(refuse(
            &source,
            format!(
                "belongs to another set of volumes: it was written for catalog version {}, but the \
                 catalog beside it is version {} (or other bytes); use the volumes of one set",
                record.set.catalog_version, catalog.version
            ),
        ));
    }
    check_record(&record, catalog, whole).map_err(|why| refuse(&source, why))?;
    Ok(Some(record))
}

fn refuse(source: &str, why: String) -> anyhow::Error {
    Error::Rejected(format!("{source} {why}")).into()
}

/// The record's own consistency with the catalog; the reason when it is not.
fn check_record(
    record: &VolumeRecord,
    catalog: &Catalog,
    whole: &BTreeSet<Uuid>,
) -> Result<(), String> {
    if record.volume == 0 || record.volume > record.set.volumes {
        return Err(format!(
            "says it is volume {} of {}",
            record.volume, record.set.volumes
        ));
    }
    let listed: BTreeSet<Uuid> = record.packs.iter().copied().collect();
    if &listed != whole {
        return Err("lists other whole packs than the fetch record beside it".into());
    }
    let split: BTreeSet<Uuid> = record.split_packs.iter().map(|s| s.package_guid).collect();
    for part in &record.parts {
        check_part_entry(part, catalog, whole, &split)?;
    }
    Ok(())
}

fn check_part_entry(
    part: &Part,
    catalog: &Catalog,
    whole: &BTreeSet<Uuid>,
    split: &BTreeSet<Uuid>,
) -> Result<(), String> {
    let name = part.name();
    let file = catalog
        .pack(&part.package_guid)
        .and_then(|p| p.files.iter().find(|f| f.path == part.path))
        .ok_or_else(|| format!("names part `{name}` of a file the signed catalog does not list"))?;
    let fits = part
        .offset
        .checked_add(part.size)
        .is_some_and(|end| end <= file.size);
    if part.part == 0 || part.part > part.of || !fits {
        return Err(format!(
            "says part `{name}` is part {} of {} at bytes {}+{}, which cannot be for a file of {} bytes",
            part.part, part.of, part.offset, part.size, file.size
        ));
    }
    if whole.contains(&part.package_guid) || !split.contains(&part.package_guid) {
        return Err(format!(
            "lists part `{name}` of pack {} without listing that pack as split",
            part.package_guid
        ));
    }
    if part.sha256.len() != 64 || !part.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("gives part `{name}` a SHA-256 that is not one"));
    }
    Ok(())
}

/// The names step 4 accepts for the parts: each part and the folders on its path.
pub fn expected_entries(record: &VolumeRecord, expected: &mut BTreeSet<String>) {
    expected.insert(VOLUME_FILE.to_string());
    for part in &record.parts {
        let name = part.name();
        let mut folder = std::path::Path::new(&name).parent();
        while let Some(f) = folder.filter(|f| !f.as_os_str().is_empty()) {
            expected.insert(f.to_string_lossy().replace('\\', "/"));
            folder = f.parent();
        }
        expected.insert(name);
    }
}

/// Checks every part on the volume: against the record, then, for each file whose parts are all
/// here, the joined bytes against the signed catalog.
pub fn check_parts(packdir: &PackDir, record: &VolumeRecord, catalog: &Catalog) -> VolumeReport {
    let problems = crate::core::pool::map(
        &record.parts,
        |p| p.size,
        |p| check_part(packdir, record, p),
    );
    let mut parts: Vec<PartReport> = record
        .parts
        .iter()
        .zip(problems)
        .map(|(part, problem)| PartReport {
            package_guid: part.package_guid,
            name: part.name(),
            part: part.part,
            of: part.of,
            bytes: part.size,
            state: if problem.is_some() {
                PartState::Refused
            } else {
                PartState::Unconfirmed
            },
            problem,
        })
        .collect();
    confirm_whole_files(packdir, record, catalog, &mut parts);
    let needs: BTreeSet<u32> = record
        .split_packs
        .iter()
        .flat_map(|s| s.volumes.iter().copied())
        .filter(|v| *v != record.volume)
        .collect();
    VolumeReport {
        volume: record.volume,
        volumes: record.set.volumes,
        parts,
        needs: needs.into_iter().collect(),
    }
}

/// One part against the record; the problem, naming the volume and the part, if any.
fn check_part(packdir: &PackDir, record: &VolumeRecord, part: &Part) -> Option<String> {
    let name = part.name();
    let at = format!("volume {}: part `{name}`", record.volume);
    let handle = match crate::core::medium::open_under(&packdir.root, &name) {
        Ok(handle) => handle,
        Err(err) if crate::core::medium::is_missing(&err) => {
            return Some(format!("{at} is missing"));
        }
        Err(err) => return Some(format!("{at} could not be read: {err:#}")),
    };
    match crate::core::hash::of_reader(handle.take(part.size + 1)) {
        Ok((read, _)) if read != part.size => {
            Some(format!("{at} is {read} bytes, expected {}", part.size))
        }
        Ok((_, digest)) if crate::core::hash::same(&digest, &part.sha256) => None,
        Ok((_, digest)) => Some(format!(
            "{at} has SHA-256 {digest}, but the volume record says {}",
            part.sha256
        )),
        Err(err) => Some(format!("{at} could not be read: {err}")),
    }
}

/// For each file whose parts are all on this volume and matched their record, joins them and
/// checks the signed size and hash: all confirmed, or all refused.
fn confirm_whole_files(
    packdir: &PackDir,
    record: &VolumeRecord,
    catalog: &Catalog,
    reports: &mut [PartReport],
) {
    let mut by_file: BTreeMap<(Uuid, &str), Vec<usize>> = BTreeMap::new();
    for (index, part) in record.parts.iter().enumerate() {
        by_file
            .entry((part.package_guid, part.path.as_str()))
            .or_default()
            .push(index);
    }
    for ((guid, path), mut indexes) in by_file {
        indexes.sort_by_key(|i| record.parts[*i].part);
        let complete = indexes.len() as u32 == record.parts[indexes[0]].of
            && indexes
                .iter()
                .enumerate()
                .all(|(n, i)| record.parts[*i].part == n as u32 + 1)
            && indexes
                .iter()
                .all(|i| reports[*i].state == PartState::Unconfirmed);
        if !complete {
            continue;
        }
        let file = catalog
            .pack(&guid)
            .and_then(|p| p.files.iter().find(|f| f.path == path))
            .expect("checked by read");
        let parts: Vec<&Part> = indexes.iter().map(|i| &record.parts[*i]).collect();
        let problem = joined_problem(packdir, record.volume, &parts, file);
        for i in indexes {
            reports[i].state = if problem.is_some() {
                PartState::Refused
            } else {
                PartState::Confirmed
            };
            reports[i].problem = problem.clone();
        }
    }
}

/// The joined bytes of `parts` (in order) against the catalog's file; the problem, if any.
fn joined_problem(
    packdir: &PackDir,
    volume: u32,
    parts: &[&Part],
    file: &catalog::PackFile,
) -> Option<String> {
    let mut hasher = crate::core::hash::Sha256::new();
    let mut size = 0u64;
    let mut next = 0u64;
    for part in parts {
        if part.offset != next {
            return Some(format!(
                "volume {volume}: the parts of `{}` do not follow each other",
                file.path
            ));
        }
        next += part.size;
        let read = crate::core::medium::open_under(&packdir.root, &part.name())
            .and_then(|h| Ok(copy_into(h.take(part.size), &mut hasher)?));
        match read {
            Ok(n) => size += n,
            Err(err) => return Some(format!("volume {volume}: `{}`: {err:#}", part.name())),
        }
    }
    let digest = hasher.finish_hex();
    if size == file.size && crate::core::hash::same(&digest, &file.sha256) {
        return None;
    }
    Some(format!(
        "volume {volume}: the parts of `{}` join to {size} bytes with SHA-256 {digest}, but the \
         signed catalog says {} bytes with {}",
        file.path, file.size, file.sha256
    ))
}

fn copy_into(mut from: impl Read, hasher: &mut crate::core::hash::Sha256) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
