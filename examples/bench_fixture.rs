//! Builds the fetch/verify benchmark's update service on disk (used by `scripts/bench-fetch.sh`,
//! never by the tests): N packs of M MiB, a catalog signed with a fresh key, an offer for one
//! hierarchy, and the same checksums in the forms `sha256sum -c` and `aria2c -i` read.
//!
//! Usage: bench_fixture OUT_DIR BASE_URL PACKS MIB

#[path = "bench/blocks.rs"]
mod blocks;

use blocks::Blocks;
use sct::core::catalog::{Catalog, Pack, PackFile};
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, base, packs, mib] = &args[..] else {
        anyhow::bail!("usage: bench_fixture OUT_DIR BASE_URL PACKS MIB");
    };
    let out = Path::new(out);
    let (packs, mib): (usize, usize) = (packs.parse()?, mib.parse()?);
    let www = out.join("www");
    std::fs::create_dir_all(www.join("packs"))?;
    let key = sct::core::signing::PrivateKey::generate();
    let mut catalog = Catalog {
        schema: sct::core::document::Tag::new(),
        version: 1,
        issued_at: jiff::Timestamp::now(),
        expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30),
        hierarchy_id: None,
        timestamp_keys: Vec::new(),
        packs: Vec::new(),
    };
    let (mut sums, mut aria) = (String::new(), String::new());
    let mut payload = Blocks::new();
    for index in 0..packs {
        let guid = uuid::Uuid::new_v4();
        let folder = guid.to_string().to_uppercase();
        let path = format!("{folder}/payload.cab");
        let file = www.join("packs").join(&path);
        std::fs::create_dir_all(file.parent().unwrap())?;
        let sha256 = payload.write(&file, (mib * 1024 * 1024) as u64)?;
        sums.push_str(&format!("{sha256}  {path}\n"));
        aria.push_str(&format!(
            "{base}/packs/{path}\n  out={path}\n  checksum=sha-256={sha256}\n"
        ));
        catalog.packs.push(Pack {
            info: sct::core::catalog::PackInfo {
                package_guid: guid,
                name: format!("Bench pack {index}"),
                update_number: "2503".into(),
                full_version: format!("5.00.9135.{}", 1000 + index).parse().unwrap(),
                update_type: if index == 0 { 0 } else { 2 },
                min_cm_version: "5.00.9000.1000".parse().unwrap(),
                max_cm_version: "5.00.9999.1999".parse().unwrap(),
                release_date: "2025-04-01".into(),
                more_info_link: String::new(),
                description: String::new(),
            },
            files: vec![PackFile {
                path,
                size: (mib * 1024 * 1024) as u64,
                sha256,
            }],
        });
    }
    let (bytes, sig) = sct::core::catalog::sign(&catalog, &[&key])?;
    std::fs::write(www.join("catalog.json"), bytes)?;
    std::fs::write(www.join("catalog.json.sig"), sig)?;
    std::fs::write(out.join("trusted.key"), format!("{}\n", key.public()))?;
    std::fs::write(out.join("SHA256SUMS"), sums)?;
    std::fs::write(out.join("aria2.txt"), aria)?;
    let hierarchy = uuid::Uuid::new_v4();
    let offer = serde_json::json!({
        "schema": "sct.offer.v1", "hierarchy_id": hierarchy, "site_code": "PS1",
        "site_version": "5.00.9135.1000", "full_version": "5.00.9135.1000",
        "usage_cab": "UsageData.cab", "catalog_url": format!("{base}/catalog.json"),
        "packs_url": format!("{base}/packs/"),
        "receipt": {"schema": "sct.receipt.v1", "hierarchy_id": hierarchy, "site_code": "PS1",
            "site_version": "5.00.9135.1000", "full_version": "5.00.9135.1000",
            "received_at": "2026-11-26T00:00:00Z", "sha256": "0".repeat(64),
            "catalog_url": format!("{base}/catalog.json"), "catalog_version": 1}
    });
    std::fs::write(out.join("offers.jsonl"), format!("{offer}\n"))?;
    Ok(())
}
