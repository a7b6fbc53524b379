//! A volume: one medium's share of a download laid out by `sct-span` (see docs/span.md).
//!
//! ```text
//! VolumeNN/catalog.json, catalog.json.sig   the signed catalog (and any signed catalog-side file)
//! VolumeNN/fetched.json                     the fetch record, narrowed to the whole packs here
//! VolumeNN/volume.json                      sct.volume.v1: this record
//! VolumeNN/<GUID>/...                       whole packs, at their catalog paths
//! VolumeNN/<GUID>/<path>.001, .002, ...     parts of the files of a split pack
//! ```
//!
//! A volume is a pack folder that verifies alone: its whole packs are checked against the signed
//! catalog as any folder's are. The record is *not* signed, so it may only narrow: a part whose
//! bytes differ from the record's hash is refused, but a part is accepted only when the joined
//! file matches the catalog's signed SHA-256.

use crate::core::document::{Document, Tag};
use crate::core::packdir::HierarchyRecord;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The record's file name inside a volume.
pub const VOLUME_FILE: &str = "volume.json";

/// `volume.json`: what one volume of a set holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub schema: Tag<Self>,
    /// The set this volume belongs to: every volume of a set carries the same catalog.
    pub set: VolumeSet,
    /// This volume's number, from 1.
    pub volume: u32,
    /// The packs this volume holds whole (also in its `fetched.json`).
    pub packs: Vec<Uuid>,
    /// The parts of split packs this volume holds.
    pub parts: Vec<Part>,
    /// Every pack this volume holds parts of, with the volumes that hold the rest.
    pub split_packs: Vec<SplitPack>,
}

impl Document for VolumeRecord {
    const SCHEMA: &'static str = "sct.volume.v1";
}

/// What identifies a set of volumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSet {
    /// The catalog's version.
    pub catalog_version: u64,
    /// SHA-256 of `catalog.json`'s bytes: two sets of the same version but other bytes differ.
    pub catalog_sha256: String,
    /// How many volumes the set has.
    pub volumes: u32,
}

/// One part of one file of a split pack: bytes `offset .. offset + size` of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub package_guid: Uuid,
    /// The file's catalog path (`<GUID>/...`, with `/`).
    pub path: String,
    /// This part's number, from 1, and how many parts the file has.
    pub part: u32,
    pub of: u32,
    pub offset: u64,
    pub size: u64,
    /// SHA-256 of this part's bytes (unsigned: it may refuse a part, never accept one).
    pub sha256: String,
}

impl Part {
    /// The part's name inside the volume: the file's catalog path and the part number (`.001`).
    pub fn name(&self) -> String {
        part_name(&self.path, self.part)
    }
}

/// The name of part `part` of the file at `path`.
pub fn part_name(path: &str, part: u32) -> String {
    format!("{path}.{part:03}")
}

/// A pack whose files are spread over several volumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitPack {
    pub package_guid: Uuid,
    /// Every volume that holds a part of it, in order.
    pub volumes: Vec<u32>,
    /// The hierarchies it was fetched for (the fetch record's, narrowed to this pack): a split
    /// pack is in no volume's `fetched.json`, since no volume holds it whole.
    pub hierarchies: Vec<HierarchyRecord>,
}
