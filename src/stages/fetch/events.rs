//! What `sct-fetch` prints: one `sct.fetch.v1` line per pack as it finishes, then a summary.

use crate::core::catalog::Pack;
use crate::core::packdir::HierarchyRecord;
use crate::core::select::DownloadMode;
use serde::Serialize;
use uuid::Uuid;

/// The schema of every line `sct-fetch` prints.
pub const EVENT_SCHEMA: &str = "sct.fetch.v1";

/// What happened to one pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackStatus {
    /// At least one file was downloaded; all are now in place and verified.
    Downloaded,
    /// Every file was already in place and verified.
    Present,
    /// At least one file is missing or failed verification.
    Failed,
}

/// One line per pack (`"type": "pack"`).
pub type PackEvent = crate::core::catalog::PackEvent<PackFetched>;

/// What fetch did with one pack: the fields after the pack's own in its line.
#[derive(Clone, Debug, Serialize)]
pub struct PackFetched {
    /// The hierarchies that selected this pack.
    pub hierarchies: Vec<Uuid>,
    pub status: PackStatus,
    pub files: usize,
    pub bytes: u64,
    /// Bytes that came over the network in this run.
    pub transferred: u64,
    pub problems: Vec<String>,
}

impl crate::core::catalog::PackDetail for PackFetched {
    const SCHEMA: &'static str = EVENT_SCHEMA;
}

impl crate::core::document::Document for FetchSummary {
    const SCHEMA: &'static str = EVENT_SCHEMA;
}

/// The closing line (`"type": "summary"`).
#[derive(Clone, Debug, Serialize)]
pub struct FetchSummary {
    pub schema: crate::core::document::Tag<Self>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub dest: String,
    pub catalog_version: u64,
    pub mode: DownloadMode,
    pub hierarchies: Vec<HierarchyRecord>,
    pub packs: usize,
    pub downloaded: usize,
    pub present: usize,
    pub failed: usize,
    pub transferred: u64,
    /// True when every selected pack is in place and verified and the folder records are written.
    pub ok: bool,
}

/// A line of `sct-fetch`'s output: each pack as it finishes, then the summary.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum FetchEvent {
    Pack(PackEvent),
    Summary(FetchSummary),
}

pub(super) fn pack_event(pack: &Pack, hierarchies: &[Uuid]) -> PackEvent {
    let fetched = PackFetched {
        hierarchies: hierarchies.to_vec(),
        status: PackStatus::Present,
        files: pack.files.len(),
        bytes: pack.size(),
        transferred: 0,
        problems: Vec::new(),
    };
    PackEvent::new(pack, fetched)
}

pub(super) fn note_pack(event: &PackEvent) {
    let what = match event.detail.status {
        PackStatus::Downloaded => "downloaded and verified",
        PackStatus::Present => "already present and verified",
        PackStatus::Failed => "FAILED",
    };
    crate::core::report::note(
        "sct-fetch",
        format!(
            "{} {} ({}, {}, {} bytes): {what}",
            if event.detail.status == PackStatus::Failed {
                "ERROR:"
            } else {
                "INFO:"
            },
            event.name,
            event.package_guid,
            crate::core::report::count(event.detail.files, "file", "files"),
            event.detail.bytes
        ),
    );
}
