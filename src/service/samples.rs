//! Realistic sample update packs for the demo, the tests and benchmarks (`sct-demo packs`).
//!
//! Demo data, not a production path: compiled only with the `demo` feature (on by default) and in
//! the library's own tests, so `--no-default-features` release binaries carry none of it.
//!
//! [`generate`] writes, under `ROOT/packs/`, one folder per pack in the original's shape
//! (`<GUID>/<GUID>.cab`, a real cabinet, plus `<GUID>/Redist/...`) and the metadata file
//! `ROOT/packs.json` (`sct.pack-metadata.v1`) that [`crate::service::publish`] turns into a catalog.
//!
//! The set mirrors public facts (configmgr-facts.md §2.4 and §4): the regular updates 2403, 2409
//! and 2503 and their hotfix rollups (UpdateType 2), with their real package GUIDs, full versions
//! and MinCMVersion/MaxCMVersion where Microsoft documents them. Release dates and the versions of
//! the rollups are illustrative. Payload bytes come from a fast seeded generator and are streamed,
//! so packs of several GiB cost disk bandwidth, not memory.

use crate::core::cabinet::{self, Entry};
use crate::core::catalog::update_type;
use crate::core::document::Document;
use crate::core::error::Error;
use crate::core::version::CmVersion;
use crate::service::pack_metadata::{METADATA_FILE, PackInfo, PackMetadata, folder_name};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest payload one sample cab holds: the cabinet format stops at 2 GiB.
pub const MAX_CAB_PAYLOAD: u64 = 2000 * 1024 * 1024;
/// Largest member inside a sample cab; bigger payloads are split into several members.
const MEMBER_CHUNK: u64 = 1024 * 1024 * 1024;

/// How big the sample packs are.
#[derive(Clone, Debug)]
pub struct SampleOptions {
    /// Bytes of payload inside each regular update's cab (hotfixes get a quarter).
    pub cab_payload: u64,
    /// Bytes of each redist file (hotfixes get a quarter).
    pub redist_size: u64,
    /// Seed of the payload generator: the same seed gives the same bytes.
    pub seed: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            cab_payload: 1024 * 1024,
            redist_size: 256 * 1024,
            seed: 2409,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SampleReport {
    pub schema: crate::core::document::Tag<Self>,
    pub root: String,
    pub metadata: String,
    pub packs: Vec<PackInfo>,
    pub files: usize,
    pub bytes: u64,
}

impl Document for SampleReport {
    const SCHEMA: &'static str = "sct.sample-packs.v1";
}

struct Release {
    guid: &'static str,
    number: &'static str,
    full: &'static str,
    kind: i32,
    min: &'static str,
    max: &'static str,
    date: &'static str,
    link: &'static str,
}

const UPDATES_PAGE: &str =
    "https://learn.microsoft.com/en-us/intune/configmgr/core/servers/manage/updates";

/// The sample set. GUIDs: configmgr-facts §4. 2409's Min/Max: the Manifest.xml sample in §2.4.
/// 2503 needs 2403 or later (§4). Other ranges, dates and rollup versions are illustrative.
const RELEASES: &[Release] = &[
    Release {
        guid: "5B8886C7-F967-4F8A-92AA-009E28368853",
        number: "2403",
        full: "5.00.9128.1000",
        kind: update_type::REGULAR,
        min: "5.00.9096.1000",
        max: "5.00.9128.1000",
        date: "2024-04-15",
        link: UPDATES_PAGE,
    },
    Release {
        guid: "A02D38C5-021E-4144-8249-E7CDE48DA83F",
        number: "2403",
        full: "5.00.9128.1029",
        kind: update_type::HOTFIX,
        min: "5.00.9128.1000",
        max: "5.00.9128.1029",
        date: "2024-07-15",
        link: "https://learn.microsoft.com/en-us/intune/configmgr/hotfix/2403/28204160",
    },
    Release {
        guid: "3B7D84FA-ECCC-4EA0-B8AB-ABBDA1E88E0E",
        number: "2409",
        full: "5.00.9132.1000",
        kind: update_type::REGULAR,
        min: "5.00.9106.1000",
        max: "5.00.9132.1009",
        date: "2024-10-14",
        link: UPDATES_PAGE,
    },
    Release {
        guid: "345A6BE1-3D07-43ED-B6E5-FAC0889DA04C",
        number: "2409",
        full: "5.00.9132.1027",
        kind: update_type::HOTFIX,
        min: "5.00.9132.1000",
        max: "5.00.9132.1027",
        date: "2025-01-20",
        link: UPDATES_PAGE,
    },
    Release {
        guid: "8576527E-DDE9-4146-8ED9-DB91091C38EF",
        number: "2503",
        full: "5.00.9135.1000",
        kind: update_type::REGULAR,
        min: "5.00.9128.1000",
        max: "5.00.9135.1000",
        date: "2025-04-07",
        link: "https://learn.microsoft.com/en-us/intune/configmgr/hotfix/2503/31909343",
    },
    Release {
        guid: "6B0783D9-B8A2-4848-82F6-8EFE956F4988",
        number: "2503",
        full: "5.00.9135.1006",
        kind: update_type::HOTFIX,
        min: "5.00.9135.1000",
        max: "5.00.9135.1006",
        date: "2025-07-14",
        link: UPDATES_PAGE,
    },
];

/// Redist file names of a regular update (names from configmgr-facts §2.3 and §2.6).
const REDISTS: &[&str] = &[
    "SQLSysClrTypes.msi",
    "ReportViewer.msi",
    "MMASetup-AMD64.exe",
];

/// The metadata of the sample set, without writing anything.
pub fn sample_infos() -> Vec<PackInfo> {
    RELEASES.iter().map(info).collect()
}

fn info(release: &Release) -> PackInfo {
    let version = |text: &str| text.parse::<CmVersion>().expect("sample versions parse");
    let hotfix = release.kind == update_type::HOTFIX;
    PackInfo {
        package_guid: release.guid.parse().expect("sample GUIDs parse"),
        name: if hotfix {
            format!(
                "Update rollup for Microsoft Configuration Manager version {}",
                release.number
            )
        } else {
            format!("Configuration Manager {}", release.number)
        },
        update_number: release.number.to_owned(),
        full_version: version(release.full),
        update_type: release.kind,
        min_cm_version: version(release.min),
        max_cm_version: version(release.max),
        release_date: release.date.to_owned(),
        more_info_link: release.link.to_owned(),
        description: if hotfix {
            format!(
                "Sample hotfix rollup for {} generated by sct",
                release.number
            )
        } else {
            format!("Sample update pack {} generated by sct", release.number)
        },
    }
}

/// Writes the sample packs under `root/packs/` and `root/packs.json`.
///
/// Refuses (exit 2) when a pack folder already exists; each pack is built in a staging folder
/// and renamed into place, so an interrupted run leaves no half-written pack.
pub fn generate(root: &Path, options: &SampleOptions) -> anyhow::Result<SampleReport> {
    if options.cab_payload > MAX_CAB_PAYLOAD {
        return Err(Error::Usage(format!(
            "a cab payload of {} bytes does not fit in a cabinet (at most {MAX_CAB_PAYLOAD})",
            options.cab_payload
        ))
        .into());
    }
    let packs_dir = root.join("packs");
    fs_err::create_dir_all(&packs_dir)?;
    let infos = sample_infos();
    for info in &infos {
        let folder = packs_dir.join(folder_name(&info.package_guid));
        if folder.exists() {
            return Err(Error::Usage(format!(
                "`{}` already exists; sample packs are never overwritten",
                folder.display()
            ))
            .into());
        }
    }
    let (mut files, mut bytes) = (0, 0);
    for (index, info) in infos.iter().enumerate() {
        let scale = if info.update_type == update_type::HOTFIX {
            4
        } else {
            1
        };
        let seed = options.seed.wrapping_mul(31).wrapping_add(index as u64);
        let (n, size) = write_pack(
            &packs_dir,
            info,
            options.cab_payload / scale,
            options.redist_size / scale,
            seed,
        )?;
        files += n;
        bytes += size;
    }
    let metadata = PackMetadata {
        schema: crate::core::document::Tag::new(),
        packs: infos.clone(),
    };
    let metadata_path = root.join(METADATA_FILE);
    let mut text = serde_json::to_vec_pretty(&metadata)?;
    text.push(b'\n');
    crate::core::atomic::write_bytes(&metadata_path, &text)?;
    Ok(SampleReport {
        schema: crate::core::document::Tag::new(),
        root: root.display().to_string(),
        metadata: metadata_path.display().to_string(),
        packs: infos,
        files,
        bytes,
    })
}

/// Writes one pack into a staging folder, then renames it into place; returns (files, bytes).
fn write_pack(
    packs_dir: &Path,
    info: &PackInfo,
    cab_payload: u64,
    redist_size: u64,
    seed: u64,
) -> anyhow::Result<(usize, u64)> {
    let name = folder_name(&info.package_guid);
    let staging = tempfile::Builder::new()
        .prefix(".sct-sample-")
        .tempdir_in(packs_dir)
        .with_context(|| format!("Cannot write into `{}`", packs_dir.display()))?;
    let redist_dir = staging.path().join("Redist");
    fs_err::create_dir_all(&redist_dir)?;
    let (cab_size, _) = write_payload_cab(
        &staging.path().join(format!("{name}.cab")),
        info,
        cab_payload,
        seed,
    )?;
    let mut bytes = cab_size;
    let redists: Vec<String> = if info.update_type == update_type::HOTFIX {
        vec![format!(
            "KB{}_FileList.txt",
            &info.package_guid.simple().to_string()[..8].to_uppercase()
        )]
    } else {
        REDISTS.iter().map(|s| (*s).to_owned()).collect()
    };
    for (i, redist) in redists.iter().enumerate() {
        let path = redist_dir.join(redist);
        write_stream(&path, redist_size, seed ^ (0x9E37_79B9 + i as u64))?;
        bytes += redist_size;
    }
    let staged = staging.keep();
    let target = packs_dir.join(&name);
    fs_err::rename(&staged, &target)?;
    let _ = crate::core::atomic::sync_dir(packs_dir);
    Ok((1 + redists.len(), bytes))
}

/// The payload cab: an `update.map` text listing plus payload members from the generator.
fn write_payload_cab(
    path: &Path,
    info: &PackInfo,
    payload: u64,
    seed: u64,
) -> anyhow::Result<(u64, String)> {
    let mut entries = Vec::new();
    let mut map = format!(
        "; sct sample payload for {} ({}), UpdateType {}\r\n",
        info.name, info.full_version, info.update_type
    );
    let mut left = payload;
    let mut part = 0;
    while left > 0 || part == 0 {
        let size = left.min(MEMBER_CHUNK);
        let name = format!("SMSSETUP\\BIN\\X64\\payload{part:02}.bin");
        map.push_str(&format!("FILEEX {name} {size}\r\n"));
        entries.push(Entry {
            name,
            size,
            data: Box::new(PseudoRandom::new(seed.wrapping_add(part)).take(size)),
        });
        left -= size;
        part += 1;
    }
    let map_bytes = map.into_bytes();
    entries.insert(
        0,
        Entry {
            name: "SMSSETUP\\update.map".to_owned(),
            size: map_bytes.len() as u64,
            data: Box::new(std::io::Cursor::new(map_bytes)),
        },
    );
    cabinet::write(path, entries)
}

/// Streams `size` generated bytes into a new file.
fn write_stream(path: &PathBuf, size: u64, seed: u64) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1024 * 1024, fs_err::File::create(path)?);
    std::io::copy(&mut PseudoRandom::new(seed).take(size), &mut file)
        .with_context(|| format!("Failed to write `{}`", path.display()))?;
    file.flush()?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Size of the block [`PseudoRandom`] repeats: far beyond MSZIP's 32 KiB window, so the data
/// stays incompressible, yet generated once so the stream runs at memory-copy speed.
const BLOCK: usize = 1024 * 1024;

/// A fast, seeded byte stream: one pseudo-random block (wyrand), repeated with the block number
/// stamped into its first 8 bytes so no two blocks are equal.
pub struct PseudoRandom {
    block: Vec<u8>,
    position: u64,
}

impl PseudoRandom {
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut block = Vec::with_capacity(BLOCK);
        while block.len() < BLOCK {
            state = state.wrapping_add(0xa076_1d64_78bd_642f);
            let t = u128::from(state) * u128::from(state ^ 0xe703_7ed1_a0b4_28db);
            block.extend_from_slice(&(((t >> 64) ^ t) as u64).to_le_bytes());
        }
        Self { block, position: 0 }
    }
}

impl Read for PseudoRandom {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let offset = (self.position % BLOCK as u64) as usize;
        if offset == 0 {
            let stamp = (self.position / BLOCK as u64).to_le_bytes();
            self.block[..8].copy_from_slice(&stamp);
        }
        let n = buf.len().min(BLOCK - offset);
        buf[..n].copy_from_slice(&self.block[offset..offset + n]);
        self.position += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    #[test]
    fn generator_is_seeded_and_never_repeats_a_block() {
        let mut a = vec![0u8; 2 * BLOCK + 13];
        let mut b = vec![0u8; 2 * BLOCK + 13];
        PseudoRandom::new(7).read_exact(&mut a).unwrap();
        PseudoRandom::new(7).read_exact(&mut b).unwrap();
        assert_eq!(a, b);
        assert_ne!(a[..BLOCK], a[BLOCK..2 * BLOCK]);
        PseudoRandom::new(8).read_exact(&mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn sample_set_has_updates_and_hotfixes_with_sane_ranges() {
        let infos = sample_infos();
        assert!(infos.iter().any(|p| p.update_type == update_type::HOTFIX));
        assert!(infos.iter().filter(|p| p.update_type == 0).count() >= 3);
        for p in &infos {
            assert!(p.min_cm_version <= p.max_cm_version, "{}", p.name);
        }
    }

    #[test]
    fn generates_real_cabs_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let options = SampleOptions {
            cab_payload: 10_000,
            redist_size: 3_000,
            seed: 1,
        };
        let report = generate(dir.path(), &options).unwrap();
        assert_eq!(report.packs.len(), RELEASES.len());
        let guid = folder_name(&report.packs[0].package_guid);
        let cab = dir
            .path()
            .join("packs")
            .join(&guid)
            .join(format!("{guid}.cab"));
        let reader = cabinet::CabReader::open(&cab).unwrap();
        let total: u64 = reader.members().iter().skip(1).map(|m| m.size).sum();
        assert_eq!(total, 10_000);
        let redist = dir
            .path()
            .join("packs")
            .join(&guid)
            .join("Redist/ReportViewer.msi");
        assert_eq!(std::fs::metadata(redist).unwrap().len(), 3_000);
        let err = generate(dir.path(), &options).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
    }
}
