//! `sct-span`: lays a fetched update-pack folder out as volumes of at most a given size, each a
//! pack folder that verifies alone (see docs/span.md and [`crate::core::volume`]).
//!
//! Steps, in order; nothing is written before step 4:
//! 1. verify the source folder exactly as `sct-verify` does, and refuse it unless all is good;
//! 2. plan ([`plan::plan`]) with each volume's room: its size less the signed catalog files and
//!    its two records (the records' size depends on the plan, so the planner runs again with a
//!    larger reserve until every volume fits; hashes are fixed-width, so sizes are exact);
//! 3. `--dry-run` stops here and returns the plan;
//! 4. into an empty `--out`, write each volume as `.VolumeNN.tmp` — catalog files, whole pack
//!    files (hashed while copied, checked against the catalog), parts (hashed into the record),
//!    `fetched.json`, `volume.json` last — then rename it to `VolumeNN`: a volume that exists is
//!    complete.

pub mod plan;
pub mod size;
mod write;

use crate::core::catalog::{self, Catalog};
use crate::core::document::{Document, Tag};
use crate::core::error::Error;
use crate::core::packdir::{FetchRecord, HierarchyRecord};
use crate::core::signing::PublicKey;
use crate::core::volume::{Part, SplitPack, VolumeRecord, VolumeSet};
use plan::{PackInput, VolumePlan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The component of span's notes.
const TOOL: &str = "sct-span";

/// What to lay out and how.
#[derive(Clone, Debug)]
pub struct SpanOptions {
    pub src: PathBuf,
    pub out: PathBuf,
    /// The most bytes of files a volume may hold.
    pub volume_size: u64,
    /// Plan only, write nothing.
    pub dry_run: bool,
}

/// `sct.span.v1`: the plan, and what was written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpanReport {
    pub schema: Tag<Self>,
    pub src: String,
    pub out: String,
    pub volume_size: u64,
    pub catalog_version: u64,
    pub dry_run: bool,
    pub volumes: Vec<VolumeSummary>,
}

impl Document for SpanReport {
    const SCHEMA: &'static str = "sct.span.v1";
}

/// One volume of the plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VolumeSummary {
    pub volume: u32,
    /// Its folder's name under `--out` (`Volume01`, ...).
    pub name: String,
    /// Bytes of files on it: catalog files, records, packs and parts.
    pub bytes: u64,
    /// Whole packs on it.
    pub packs: Vec<Uuid>,
    /// Parts on it, by name inside the volume (`<GUID>/<path>.001`, ...).
    pub parts: Vec<String>,
}

/// A volume ready to write: its plan and records (part hashes filled in while writing).
struct Layout {
    name: String,
    plan: VolumePlan,
    record: VolumeRecord,
    fetched: FetchRecord,
    bytes: u64,
}

/// Runs the steps above.
pub fn span(
    options: &SpanOptions,
    trusted: &[PublicKey],
    now: jiff::Timestamp,
) -> anyhow::Result<SpanReport> {
    let verified = crate::stages::verify::verify_dir(&options.src, trusted, now)?;
    crate::stages::verify::outcome(&verified.report)?;
    let catalog_bytes = crate::core::medium::read_capped(
        &options.src.join(catalog::CATALOG_FILE),
        catalog::MAX_CATALOG_BYTES,
        crate::core::medium::Links::Refuse,
    )?;
    let side = write::catalog_side_files(&options.src)?;
    let side_bytes = side.iter().map(|(_, size)| size).sum();
    let set = VolumeSet {
        catalog_version: verified.catalog.version,
        catalog_sha256: crate::core::hash::hex_of(&catalog_bytes),
        volumes: 0,
    };
    let layouts = lay_out(
        &verified.catalog,
        &verified.record,
        set,
        side_bytes,
        options.volume_size,
    )?;
    if !options.dry_run {
        write::write_volumes(options, &verified.catalog, &side, &layouts)?;
    }
    Ok(SpanReport {
        schema: Tag::new(),
        src: options.src.display().to_string(),
        out: options.out.display().to_string(),
        volume_size: options.volume_size,
        catalog_version: verified.catalog.version,
        dry_run: options.dry_run,
        volumes: layouts.iter().map(summary).collect(),
    })
}

fn summary(layout: &Layout) -> VolumeSummary {
    VolumeSummary {
        volume: layout.record.volume,
        name: layout.name.clone(),
        bytes: layout.bytes,
        packs: layout.plan.packs.clone(),
        parts: layout.record.parts.iter().map(Part::name).collect(),
    }
}

/// Step 2: plans with a growing reserve for the records until every volume fits.
fn lay_out(
    catalog: &Catalog,
    fetched: &FetchRecord,
    set: VolumeSet,
    side_bytes: u64,
    volume_size: u64,
) -> anyhow::Result<Vec<Layout>> {
    let inputs = pack_inputs(catalog, fetched);
    let mut reserve = side_bytes + 4096;
    for _ in 0..16 {
        let room = volume_size.saturating_sub(reserve);
        if room == 0 {
            return Err(too_small(volume_size, reserve));
        }
        let plans = plan::plan(&inputs, room);
        let layouts = layouts(plans, fetched, &set, side_bytes)?;
        let worst = layouts
            .iter()
            .map(|l| l.bytes - l.plan.bytes)
            .max()
            .unwrap_or(0);
        if layouts.iter().all(|l| l.bytes <= volume_size) {
            return Ok(layouts);
        }
        reserve = reserve.max(worst) + 512;
    }
    Err(too_small(volume_size, reserve))
}

fn too_small(volume_size: u64, reserve: u64) -> anyhow::Error {
    Error::Usage(format!(
        "a volume size of {volume_size} bytes leaves no room for packs: the signed catalog and \
         each volume's records take about {reserve} bytes; give a larger --volume-size"
    ))
    .into()
}

/// The recorded packs, in catalog order.
fn pack_inputs(catalog: &Catalog, fetched: &FetchRecord) -> Vec<PackInput> {
    let recorded: std::collections::BTreeSet<Uuid> = fetched
        .hierarchies
        .iter()
        .flat_map(|h| h.packs.iter().copied())
        .collect();
    catalog
        .packs
        .iter()
        .filter(|p| recorded.contains(&p.package_guid))
        .map(|p| PackInput {
            guid: p.package_guid,
            files: p.files.iter().map(|f| (f.path.clone(), f.size)).collect(),
        })
        .collect()
}

/// Records for each planned volume, with placeholder part hashes of the final width.
fn layouts(
    plans: Vec<VolumePlan>,
    fetched: &FetchRecord,
    set: &VolumeSet,
    side_bytes: u64,
) -> anyhow::Result<Vec<Layout>> {
    let count = u32::try_from(plans.len()).expect("fewer than 4 billion volumes");
    let set = VolumeSet {
        volumes: count,
        ..set.clone()
    };
    let mut holders: BTreeMap<Uuid, Vec<u32>> = BTreeMap::new();
    for (index, plan) in plans.iter().enumerate() {
        for part in &plan.parts {
            let volumes = holders.entry(part.pack).or_default();
            let number = index as u32 + 1;
            if volumes.last() != Some(&number) {
                volumes.push(number);
            }
        }
    }
    let width = count.to_string().len().max(2);
    let mut out = Vec::new();
    for (index, plan) in plans.into_iter().enumerate() {
        let number = index as u32 + 1;
        let record = VolumeRecord {
            schema: Tag::new(),
            set: set.clone(),
            volume: number,
            packs: plan.packs.clone(),
            parts: plan.parts.iter().map(unhashed_part).collect(),
            split_packs: split_packs(&plan, &holders, fetched),
        };
        // Every hierarchy stays, with no pack if need be: a volume of parts is one import
        // accepts (and takes nothing from), not a folder fetched for another hierarchy.
        let fetched = narrowed(fetched, |guid| plan.packs.contains(guid), true);
        let records = record_bytes(&record, &fetched)?;
        out.push(Layout {
            name: format!("Volume{number:0width$}"),
            bytes: side_bytes + records + plan.bytes,
            plan,
            record,
            fetched,
        });
    }
    Ok(out)
}

fn unhashed_part(part: &plan::PlannedPart) -> Part {
    Part {
        package_guid: part.pack,
        path: part.path.clone(),
        part: part.part,
        of: part.of,
        offset: part.offset,
        size: part.size,
        sha256: "0".repeat(64),
    }
}

fn split_packs(
    plan: &VolumePlan,
    holders: &BTreeMap<Uuid, Vec<u32>>,
    fetched: &FetchRecord,
) -> Vec<SplitPack> {
    let mut guids: Vec<Uuid> = plan.parts.iter().map(|p| p.pack).collect();
    guids.dedup();
    guids
        .into_iter()
        .map(|guid| SplitPack {
            package_guid: guid,
            volumes: holders[&guid].clone(),
            hierarchies: narrowed(fetched, |g| *g == guid, false).hierarchies,
        })
        .collect()
}

/// The fetch record narrowed to the packs `keep` accepts (hierarchies left with none dropped
/// unless `keep_empty`).
fn narrowed(fetched: &FetchRecord, keep: impl Fn(&Uuid) -> bool, keep_empty: bool) -> FetchRecord {
    let hierarchies = fetched
        .hierarchies
        .iter()
        .map(|h| HierarchyRecord {
            packs: h.packs.iter().copied().filter(|g| keep(g)).collect(),
            ..h.clone()
        })
        .filter(|h| keep_empty || !h.packs.is_empty())
        .collect();
    FetchRecord {
        hierarchies,
        ..fetched.clone()
    }
}

/// The bytes `volume.json` and `fetched.json` take, as [`write`] writes them.
fn record_bytes(record: &VolumeRecord, fetched: &FetchRecord) -> anyhow::Result<u64> {
    Ok((write::record_text(record)?.len() + write::record_text(fetched)?.len()) as u64)
}

/// The folder of volume `name` under `out`.
pub fn volume_dir(out: &Path, name: &str) -> PathBuf {
    out.join(name)
}
