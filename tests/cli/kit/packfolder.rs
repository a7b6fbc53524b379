//! In-process builder for an update pack folder as sct-fetch writes it — the packs' files, a
//! signed catalog, its signature and `fetched.json` — so import tests need no service and no fetch.

use super::catalogs::{fresh_catalog, pack_file};
use sct::core::catalog::{self, Pack};
use sct::core::packdir::{FetchRecord, HierarchyRecord};
use sct::core::signing::PrivateKey;
use std::path::Path;
use uuid::Uuid;

/// A pack and the bytes of its files.
pub struct TestPack {
    pub pack: Pack,
    pub contents: Vec<(String, Vec<u8>)>,
}

/// A pack of two files (payload of `size` bytes and a small redist) for sites `min`..=`max`.
pub fn test_pack(name: &str, min: &str, max: &str, size: usize) -> TestPack {
    let guid = Uuid::new_v4();
    let folder = guid.to_string().to_uppercase();
    let seed = guid.as_bytes()[0] as usize;
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 + seed) as u8).collect();
    let redist = format!("redist of {name}\n").into_bytes();
    let contents = vec![
        (format!("{folder}/{folder}.cab"), payload),
        (format!("{folder}/Redist/readme.txt"), redist),
    ];
    let files = contents
        .iter()
        .map(|(path, bytes)| pack_file(path.clone(), bytes))
        .collect();
    TestPack {
        pack: Pack {
            info: sct::core::catalog::PackInfo {
                package_guid: guid,
                name: name.to_owned(),
                update_number: "2409".into(),
                full_version: max.parse().unwrap(),
                update_type: 0,
                min_cm_version: min.parse().unwrap(),
                max_cm_version: max.parse().unwrap(),
                release_date: "2024-10-14".into(),
                more_info_link: format!("https://example.invalid/{name}"),
                description: format!("{name} for tests"),
            },
            files,
        },
        contents,
    }
}

/// Writes a pack folder at `dir` for catalog `version` (bound to `bound`, if given), signed by
/// `key`, with each hierarchy's packs recorded in fetched.json for a site at `site_version`.
pub fn write_pack_folder(
    dir: &Path,
    version: u64,
    key: &PrivateKey,
    bound: Option<Uuid>,
    entries: &[(Uuid, &[&TestPack])],
    site_version: &str,
) {
    std::fs::create_dir_all(dir).unwrap();
    let mut packs: Vec<Pack> = Vec::new();
    for (_, list) in entries {
        for p in *list {
            if !packs.iter().any(|q| q.package_guid == p.pack.package_guid) {
                packs.push(p.pack.clone());
                for (path, bytes) in &p.contents {
                    let dest = dir.join(path);
                    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                    std::fs::write(dest, bytes).unwrap();
                }
            }
        }
    }
    let (bytes, sig) = catalog::sign(&fresh_catalog(version, bound, packs), &[key]).unwrap();
    std::fs::write(dir.join(catalog::CATALOG_FILE), bytes).unwrap();
    std::fs::write(dir.join(catalog::SIGNATURE_FILE), sig).unwrap();
    let record = FetchRecord {
        schema: sct::core::document::Tag::new(),
        catalog_version: version,
        freshness_checked_at: None,
        hierarchies: entries
            .iter()
            .map(|(h, list)| HierarchyRecord {
                hierarchy_id: *h,
                site_code: "PS1".into(),
                site_version: site_version.parse().unwrap(),
                mode: "all".into(),
                earlier_modes: Vec::new(),
                packs: list.iter().map(|p| p.pack.package_guid).collect(),
            })
            .collect(),
    };
    std::fs::write(
        dir.join(sct::core::packdir::RECORD_FILE),
        serde_json::to_vec_pretty(&record).unwrap(),
    )
    .unwrap();
}
