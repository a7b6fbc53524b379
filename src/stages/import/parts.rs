//! Parts of split packs, carried volume by volume (docs/span.md): they wait in a staging area
//! beside the inbox until the last one arrives, and only then is the pack joined, checked against
//! the signed catalog and imported like any pack. No pack is ever half in the inbox.
//!
//! ```text
//! EasySetupPayload/.sct-parts/.sct-parts.lock            one import at a time, as for the inbox
//! EasySetupPayload/.sct-parts/<set>/parts/<path>.003-of-005   a part as it arrived (<set>: the
//!                                                         first 16 hex digits of the catalog's SHA-256)
//! EasySetupPayload/.sct-parts/<set>/joined/               a pack folder of the joined packs
//! ```
//!
//! Each part and each joined file is written to a temporary file and renamed (`core::atomic`), so
//! a kill leaves whole parts and whole joined files, or temporary files that are overwritten on
//! the next run. A part is copied only when its bytes match the volume's record; a joined file is
//! kept only when it has the signed size and SHA-256; the joined folder is then imported through
//! the ordinary import (verified again, staged, renamed, registered), and its parts are removed.

use crate::core::catalog::{self, Catalog, Pack};
use crate::core::error::Error;
use crate::core::fault::Point;
use crate::core::packdir::{FetchRecord, HierarchyRecord};
use crate::core::volume::{Part, VolumeRecord};
use crate::site::SiteIdentity;
use crate::stages::import::inbox::{Inbox, Presence};
use anyhow::Context;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The staging area's folder, beside the inbox.
pub const PARTS_FOLDER: &str = ".sct-parts";
/// Its lock file.
pub const LOCK_FILE: &str = ".sct-parts.lock";

/// The staging area beside `inbox`.
pub fn area_of(inbox: &Inbox) -> PathBuf {
    inbox
        .root
        .parent()
        .unwrap_or(&inbox.root)
        .join(PARTS_FOLDER)
}

/// The staging area of one set of volumes, locked.
pub struct SetArea {
    pub root: PathBuf,
    _lock: crate::core::lock::Lock,
}

/// Packs joined and ready to import from `joined` (a pack folder).
pub struct Joined {
    pub folder: PathBuf,
    pub packs: Vec<Uuid>,
}

impl SetArea {
    /// The area of the volume's set beside `inbox`, created and locked (waiting if `wait`).
    pub fn open(inbox: &Inbox, volume: &VolumeRecord, wait: bool) -> anyhow::Result<Self> {
        let area = area_of(inbox);
        fs_err::create_dir_all(&area)?;
        let lock = lock_area(&area, wait)?;
        let set = volume.set.catalog_sha256.to_ascii_lowercase();
        let root = area.join(&set[..16.min(set.len())]);
        fs_err::create_dir_all(root.join("parts"))?;
        Ok(Self { root, _lock: lock })
    }

    fn staged(&self, path: &str, part: u32, of: u32) -> PathBuf {
        local(
            &self.root.join("parts"),
            &format!("{path}.{part:03}-of-{of:03}"),
        )
    }

    fn joined(&self) -> PathBuf {
        self.root.join("joined")
    }
}

/// Takes the staging area's lock (waiting if `wait`, else failing with exit 3 when held).
fn lock_area(area: &Path, wait: bool) -> anyhow::Result<crate::core::lock::Lock> {
    let lock_path = area.join(LOCK_FILE);
    let locked =
        |e| anyhow::Error::new(e).context(format!("Failed to lock `{}`", lock_path.display()));
    let lock = match crate::core::lock::try_lock_file(&lock_path).map_err(locked)? {
        Some(lock) => lock,
        None if wait => crate::core::lock::lock_file(&lock_path).map_err(locked)?,
        None => {
            return Err(Error::LockHeld {
                holder: "import",
                what: "the staging area of split packs",
                path: lock_path,
            }
            .into());
        }
    };
    Ok(lock)
}

/// A set whose parts wait beside the inbox: its folder name, path and bytes of parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingSet {
    pub set: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// Removes the waiting sets named in `sets` (every one with `all`) under the area's lock — the
/// operator's word that the rest of those volumes will not come. Returns the sets removed (or,
/// with `dry_run`, that would be); a named set that is not there is a usage error.
pub fn remove_sets(
    inbox: &Inbox,
    sets: &[String],
    all: bool,
    dry_run: bool,
) -> anyhow::Result<Vec<WaitingSet>> {
    let area = area_of(inbox);
    if !area.is_dir() {
        return match sets.first() {
            Some(set) => Err(no_such_set(set, &area)),
            None => Ok(Vec::new()),
        };
    }
    let _lock = lock_area(&area, false)?;
    let waiting = waiting_sets(&area)?;
    for set in sets {
        if !waiting.iter().any(|w| &w.set == set) {
            return Err(no_such_set(set, &area));
        }
    }
    let chosen: Vec<WaitingSet> = waiting
        .into_iter()
        .filter(|w| all || sets.contains(&w.set))
        .collect();
    if !dry_run {
        for set in &chosen {
            fs_err::remove_dir_all(&set.path)?;
        }
        let _ = crate::core::atomic::sync_dir(&area);
    }
    Ok(chosen)
}

fn no_such_set(set: &str, area: &Path) -> anyhow::Error {
    Error::Usage(format!(
        "no set of parts `{set}` waits in `{}`",
        area.display()
    ))
    .into()
}

/// Every set folder in the area.
fn waiting_sets(area: &Path) -> anyhow::Result<Vec<WaitingSet>> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir(area)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        out.push(WaitingSet {
            set: entry.file_name().to_string_lossy().into_owned(),
            bytes: bytes_under(&path)?,
            path,
        });
    }
    out.sort_by(|a, b| a.set.cmp(&b.set));
    Ok(out)
}

fn bytes_under(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += bytes_under(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// The split packs on this volume that this site takes: fetched for its hierarchy, applicable,
/// and not already in the inbox.
pub fn wanted(
    volume: &VolumeRecord,
    catalog: &Catalog,
    identity: &SiteIdentity,
    inbox: &Inbox,
) -> anyhow::Result<Vec<Uuid>> {
    let record = split_record(volume, catalog, |_| true);
    if !record
        .hierarchies
        .iter()
        .any(|h| h.hierarchy_id == identity.hierarchy_id)
    {
        return Ok(Vec::new());
    }
    let mut wanted = Vec::new();
    for planned in super::plan::plan(catalog, &record, identity)? {
        if planned.decision == super::plan::Decision::Import
            && inbox.presence(planned.pack)? != Presence::Identical
        {
            wanted.push(planned.pack.package_guid);
        }
    }
    Ok(wanted)
}

/// The fetch record of the volume's split packs that `keep` accepts (hierarchies merged).
fn split_record(
    volume: &VolumeRecord,
    catalog: &Catalog,
    keep: impl Fn(&Uuid) -> bool,
) -> FetchRecord {
    let mut hierarchies: Vec<HierarchyRecord> = Vec::new();
    for split in volume.split_packs.iter().filter(|s| keep(&s.package_guid)) {
        for h in &split.hierarchies {
            match hierarchies
                .iter_mut()
                .find(|m| m.hierarchy_id == h.hierarchy_id)
            {
                Some(merged) => merged.packs.extend(h.packs.iter().copied()),
                None => hierarchies.push(h.clone()),
            }
        }
    }
    FetchRecord {
        schema: crate::core::document::Tag::new(),
        catalog_version: catalog.version,
        freshness_checked_at: None,
        hierarchies,
    }
}

/// Copies the volume's parts of the `wanted` packs into the area (each checked against the
/// record while copied), then joins every wanted pack whose parts have all arrived. Returns the
/// joined pack folder, if any pack is complete.
pub fn stage_and_join(
    area: &SetArea,
    src: &Path,
    volume: &VolumeRecord,
    catalog: &Catalog,
    wanted: &[Uuid],
) -> anyhow::Result<Option<Joined>> {
    for part in volume
        .parts
        .iter()
        .filter(|p| wanted.contains(&p.package_guid))
    {
        stage_part(area, src, volume.volume, part)?;
    }
    // A join a kill interrupted may have left temporary files: every join starts afresh.
    if std::fs::symlink_metadata(area.joined()).is_ok() {
        fs_err::remove_dir_all(area.joined())?;
    }
    let mut complete = Vec::new();
    for guid in wanted {
        let pack = catalog.pack(guid).expect("planned from the catalog");
        if all_parts_here(area, pack)? {
            join_pack(area, pack)?;
            complete.push(*guid);
        }
    }
    if complete.is_empty() {
        return Ok(None);
    }
    let joined = area.joined();
    copy_catalog_side(src, &joined)?;
    let record = split_record(volume, catalog, |g| complete.contains(g));
    let mut text = serde_json::to_vec_pretty(&record)?;
    text.push(b'\n');
    crate::core::atomic::write_bytes(&joined.join(crate::core::packdir::RECORD_FILE), &text)?;
    Ok(Some(Joined {
        folder: joined,
        packs: complete,
    }))
}

/// The signed catalog, its signature and, when the volume carries one, the freshness statement
/// with its signature, from the volume into the joined folder, so import checks them as it does
/// any folder's.
fn copy_catalog_side(src: &Path, joined: &Path) -> anyhow::Result<()> {
    use crate::core::freshness::{MAX_TIMESTAMP_BYTES, TIMESTAMP_FILE, TIMESTAMP_SIGNATURE_FILE};
    let files = [
        (catalog::CATALOG_FILE, catalog::MAX_CATALOG_BYTES, true),
        (catalog::SIGNATURE_FILE, catalog::MAX_CATALOG_BYTES, true),
        (TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES, false),
        (TIMESTAMP_SIGNATURE_FILE, MAX_TIMESTAMP_BYTES, false),
    ];
    for (name, cap, required) in files {
        if !required && std::fs::symlink_metadata(src.join(name)).is_err() {
            continue;
        }
        let bytes = crate::core::medium::read_capped(
            &src.join(name),
            cap,
            crate::core::medium::Links::Refuse,
        )?;
        crate::core::atomic::write_bytes(&joined.join(name), &bytes)?;
    }
    Ok(())
}

/// One part into the area, unless a whole copy is there already.
fn stage_part(area: &SetArea, src: &Path, volume: u32, part: &Part) -> anyhow::Result<()> {
    let dest = area.staged(&part.path, part.part, part.of);
    if std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == part.size) {
        return Ok(());
    }
    if let Some(parent) = dest.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let from = crate::core::medium::open_under(src, &part.name())?;
    crate::core::atomic::write_with(&dest, |file| {
        let (size, digest) = copy_hashing(from.take(part.size + 1), file)?;
        if size != part.size || !crate::core::hash::same(&digest, &part.sha256) {
            return Err(Error::Rejected(format!(
                "volume {volume}: part `{}` changed after it was verified ({size} bytes, SHA-256 {digest})",
                part.name()
            ))
            .into());
        }
        Ok(())
    })?;
    crate::core::fault::point(Point::PartsAfterStage);
    Ok(())
}

/// Whether every part of every file of `pack` is in the area.
fn all_parts_here(area: &SetArea, pack: &Pack) -> anyhow::Result<bool> {
    for file in &pack.files {
        if parts_of(area, &file.path)?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The staged parts of the file at `path`, in order, when all of them are there.
fn parts_of(area: &SetArea, path: &str) -> anyhow::Result<Option<Vec<PathBuf>>> {
    let probe = area.staged(path, 1, 1);
    let folder = probe.parent().expect("a staged part has a folder");
    let Some(name) = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Ok(None);
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(None);
    };
    let prefix = format!("{name}.");
    let mut of = None;
    let mut numbers = Vec::new();
    for entry in entries {
        let entry_name = entry?.file_name().to_string_lossy().into_owned();
        let Some(rest) = entry_name.strip_prefix(&prefix) else {
            continue;
        };
        let Some((part, total)) = rest.split_once("-of-") else {
            continue;
        };
        let (Ok(part), Ok(total)) = (part.parse::<u32>(), total.parse::<u32>()) else {
            continue;
        };
        if of.is_some_and(|o| o != total) {
            return Ok(None);
        }
        of = Some(total);
        numbers.push(part);
    }
    let Some(of) = of else {
        return Ok(None);
    };
    numbers.sort_unstable();
    if numbers != (1..=of).collect::<Vec<_>>() {
        return Ok(None);
    }
    Ok(Some((1..=of).map(|n| area.staged(path, n, of)).collect()))
}

/// Joins every file of `pack` into `joined/`, each checked against the signed size and SHA-256.
fn join_pack(area: &SetArea, pack: &Pack) -> anyhow::Result<()> {
    for file in &pack.files {
        let parts = parts_of(area, &file.path)?.expect("checked by all_parts_here");
        let dest = local(&area.joined(), &file.path);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent)?;
        }
        crate::core::atomic::write_with(&dest, |out| {
            let mut hasher = crate::core::hash::Sha256::new();
            let mut size = 0u64;
            for (index, part) in parts.iter().enumerate() {
                let from =
                    crate::core::medium::open_regular(part, crate::core::medium::Links::Refuse)?;
                let n = copy_into(from.take(file.size + 1), out, &mut hasher)?;
                size += n;
                if index == 0 {
                    crate::core::fault::point(Point::PartsMidJoin);
                }
            }
            let digest = hasher.finish_hex();
            if size != file.size || !crate::core::hash::same(&digest, &file.sha256) {
                return Err(Error::Rejected(format!(
                    "the parts of `{}` join to {size} bytes with SHA-256 {digest}, but the signed catalog says {} bytes with {}",
                    file.path, file.size, file.sha256
                ))
                .into());
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// After the joined packs are imported: removes them and their parts; the set's area goes when
/// nothing is left in it.
pub fn tidy(area: &SetArea, joined: &Joined, catalog: &Catalog) -> anyhow::Result<()> {
    for guid in &joined.packs {
        let pack = catalog.pack(guid).expect("joined from the catalog");
        for file in &pack.files {
            for part in parts_of(area, &file.path)?.unwrap_or_default() {
                fs_err::remove_file(part)?;
            }
        }
    }
    fs_err::remove_dir_all(&joined.folder)?;
    // Temporary files a kill left are not parts: the set's area goes when no part is left.
    if !holds_a_part(&area.root.join("parts"))? {
        fs_err::remove_dir_all(&area.root)?;
    }
    let _ = crate::core::atomic::sync_dir(area.root.parent().unwrap_or(&area.root));
    Ok(())
}

/// Whether `dir` holds a staged part (any file not named like a temporary file) at any depth.
fn holds_a_part(dir: &Path) -> anyhow::Result<bool> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            if holds_a_part(&entry.path())? {
                return Ok(true);
            }
        } else if !entry.file_name().to_string_lossy().starts_with('.') {
            return Ok(true);
        }
    }
    Ok(false)
}

fn copy_hashing(from: impl Read, to: &mut std::fs::File) -> anyhow::Result<(u64, String)> {
    let mut hasher = crate::core::hash::Sha256::new();
    let size = copy_into(from, to, &mut hasher)?;
    Ok((size, hasher.finish_hex()))
}

fn copy_into(
    mut from: impl Read,
    to: &mut std::fs::File,
    hasher: &mut crate::core::hash::Sha256,
) -> anyhow::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("Failed to read a part"),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n]).context("Failed to write a part")?;
        total += n as u64;
    }
}

/// `root/relative` for a `/`-separated name, with the platform's separator.
fn local(root: &Path, relative: &str) -> PathBuf {
    root.join(relative.replace('/', std::path::MAIN_SEPARATOR_STR))
}
