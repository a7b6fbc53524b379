//! Builds the scale benchmark's inputs (used by `scripts/bench-scale.sh`, never by the tests).
//!
//!   bench_scale packs ROOT PACKS FILES BYTES
//!       PACKS update packs of FILES files of BYTES bytes each (distinct pseudo-random blocks)
//!       under ROOT/packs/<GUID>/, and ROOT/packs.json, ready for `sct-serve publish`. The first
//!       file of a pack is `<GUID>.cab`, the others are spread over `Redist/<n>/` folders of 100
//!       files, as real packs spread thousands of files over folders. Every pack applies to
//!       site versions 5.00.9000.1000 to 5.00.9999.1999 and is newer than all of them.
//!   bench_scale usage DIR COUNT SITE_DB
//!       COUNT usage cabs `DIR/NNNNN.cab` of distinct demo hierarchies on three site versions
//!       (5.00.9128, 9132 and 9135); the demo site database of the first one is kept at SITE_DB
//!       (for the import that follows the connect), the others are thrown away.

#[path = "bench/blocks.rs"]
mod blocks;

use blocks::Blocks;
use sct::service::pack_metadata::{PackInfo, PackMetadata, folder_name};
use sct::site::demo::{DemoSpec, create};
use sct::site::{DiagnosticsLevel, SiteLocator};
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["packs", root, packs, files, bytes] => write_packs(
            Path::new(root),
            packs.parse()?,
            files.parse()?,
            bytes.parse()?,
        ),
        ["usage", dir, count, site_db] => {
            write_usage_cabs(Path::new(dir), count.parse()?, Path::new(site_db))
        }
        _ => anyhow::bail!(
            "usage: bench_scale packs ROOT PACKS FILES BYTES | bench_scale usage DIR COUNT SITE_DB"
        ),
    }
}

/// Writes the packs and `ROOT/packs.json`.
fn write_packs(root: &Path, packs: usize, files: usize, bytes: u64) -> anyhow::Result<()> {
    anyhow::ensure!(files >= 1, "a pack needs at least one file");
    let mut generator = Blocks::new();
    let mut infos = Vec::with_capacity(packs);
    for index in 0..packs {
        let guid = uuid::Uuid::new_v4();
        let folder = root.join("packs").join(folder_name(&guid));
        for n in 0..files {
            let path = if n == 0 {
                folder.join(format!("{}.cab", folder_name(&guid)))
            } else {
                folder
                    .join("Redist")
                    .join(format!("{:03}", n / 100))
                    .join(format!("file{n:05}.bin"))
            };
            std::fs::create_dir_all(path.parent().expect("a pack file has a folder"))?;
            generator.write(&path, bytes)?;
        }
        infos.push(PackInfo {
            package_guid: guid,
            name: format!("Bench pack {index}"),
            update_number: "2503".into(),
            full_version: version(&format!("5.00.{}.1000", 10_000 + index))?,
            update_type: 0,
            min_cm_version: version("5.00.9000.1000")?,
            max_cm_version: version("5.00.9999.1999")?,
            release_date: "2025-04-01".into(),
            more_info_link: String::new(),
            description: format!("Benchmark pack {index} of {packs}"),
        });
    }
    let metadata = PackMetadata {
        schema: sct::core::document::Tag::new(),
        packs: infos,
    };
    let mut text = serde_json::to_vec_pretty(&metadata)?;
    text.push(b'\n');
    std::fs::write(root.join("packs.json"), text)?;
    Ok(())
}

fn version(text: &str) -> anyhow::Result<sct::core::version::CmVersion> {
    text.parse().map_err(anyhow::Error::msg)
}

/// Writes `count` usage cabs of distinct demo hierarchies; keeps the first site at `site_db`.
fn write_usage_cabs(dir: &Path, count: usize, site_db: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let scratch = tempfile::tempdir()?;
    let builds = [9128, 9132, 9135];
    for index in 0..count {
        let db = if index == 0 {
            site_db.to_path_buf()
        } else {
            scratch.path().join(format!("{index}.db"))
        };
        let spec = DemoSpec {
            site_code: format!("P{:02}", index % 100),
            site_name: format!("Bench site {index}"),
            version: version(&format!("5.00.{}.1000", builds[index % builds.len()]))?,
            hierarchy_id: uuid::Uuid::new_v4(),
            level: DiagnosticsLevel::Enhanced,
            install_dir: site_db
                .parent()
                .unwrap_or(Path::new("."))
                .join("install")
                .display()
                .to_string(),
            extra_rows: 0,
            no_usage: false,
        };
        create(&db, &spec)?;
        let locator = SiteLocator::parse(&format!("sqlite:{}", db.display()))?;
        sct::stages::prepare::prepare(&locator, &dir.join(format!("{index:05}.cab")))?;
        if index != 0 {
            std::fs::remove_file(&db)?;
        }
    }
    Ok(())
}
