//! In-process builders for an update service: packs with deterministic bytes, a catalog signed
//! with a test key, and the offers that point at it — no binary runs to make them.

use sct::core::catalog::{Catalog, Pack, PackFile};
use sct::core::offer::{Offer, Receipt};
use sct::core::signing::{PrivateKey, SignatureFile};
use std::io::Read;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Deterministic, incompressible-looking bytes.
pub fn content(seed: u64, size: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A catalog issued a day ago that expires in 30 days: valid now, and for any test's length.
pub fn fresh_catalog(version: u64, hierarchy_id: Option<Uuid>, packs: Vec<Pack>) -> Catalog {
    let now = jiff::Timestamp::now();
    Catalog {
        schema: sct::core::document::Tag::new(),
        version,
        issued_at: now - jiff::SignedDuration::from_hours(24),
        expires_at: now + jiff::SignedDuration::from_hours(24 * 30),
        hierarchy_id,
        timestamp_keys: Vec::new(),
        packs,
    }
}

/// A catalog entry for a file of these bytes.
pub fn pack_file(path: String, bytes: &[u8]) -> PackFile {
    PackFile {
        path,
        size: bytes.len() as u64,
        sha256: sct::core::hash::hex_of(bytes),
    }
}

/// A served folder: `catalog.json`, `catalog.json.sig`, `packs/<GUID>/...`.
pub struct Service {
    pub root: PathBuf,
    pub key: PrivateKey,
    pub packs: Vec<Pack>,
    pub hierarchy: Option<Uuid>,
}

/// A pack to publish: name, kind (0 update, 2 hotfix), full version, applicability range, files.
pub struct PackSpec<'a> {
    pub name: &'a str,
    pub kind: i32,
    pub full: &'a str,
    pub min: &'a str,
    pub max: &'a str,
    pub files: &'a [(&'a str, usize)],
}

impl<'a> PackSpec<'a> {
    /// Update 2503 (5.00.9135.1000) for sites from 2403 (5.00.9128.1000) to 2409, of these files.
    pub fn update_2503(files: &'a [(&'a str, usize)]) -> Self {
        Self {
            name: "2503",
            kind: 0,
            full: "5.00.9135.1000",
            min: "5.00.9128.1000",
            max: "5.00.9132.1999",
            files,
        }
    }
}

impl Service {
    pub fn new(root: PathBuf) -> Self {
        std::fs::create_dir_all(root.join("packs")).unwrap();
        Self {
            root,
            key: PrivateKey::generate(),
            packs: Vec::new(),
            hierarchy: None,
        }
    }

    /// The trusted key in `--trusted-key` form.
    pub fn public_key(&self) -> String {
        self.key.public().to_string()
    }

    /// Writes a pack's files under `packs/` and adds it to the next catalog; returns its GUID.
    pub fn add_pack(&mut self, spec: &PackSpec) -> Uuid {
        let digest = sct::core::hash::hex_of(spec.name.as_bytes());
        let guid = Uuid::parse_str(&digest[..32]).unwrap();
        let folder = guid.to_string().to_uppercase();
        let mut files = Vec::new();
        for (index, (name, size)) in spec.files.iter().enumerate() {
            let path = format!("{folder}/{name}");
            let bytes = content(guid.as_u128() as u64 ^ index as u64, *size);
            let on_disk = self.served(&path);
            std::fs::create_dir_all(on_disk.parent().unwrap()).unwrap();
            std::fs::write(&on_disk, &bytes).unwrap();
            files.push(pack_file(path, &bytes));
        }
        self.packs.push(Pack {
            info: sct::core::catalog::PackInfo {
                package_guid: guid,
                name: format!("Configuration Manager {}", spec.name),
                update_number: spec.name.into(),
                full_version: spec.full.parse().unwrap(),
                update_type: spec.kind,
                min_cm_version: spec.min.parse().unwrap(),
                max_cm_version: spec.max.parse().unwrap(),
                release_date: "2025-04-01".into(),
                more_info_link: "https://example.invalid/info".into(),
                description: String::new(),
            },
            files,
        });
        guid
    }

    /// The served copy of a catalog path.
    pub fn served(&self, catalog_path: &str) -> PathBuf {
        self.root.join("packs").join(catalog_path)
    }

    pub fn catalog(&self, version: u64) -> Catalog {
        fresh_catalog(version, self.hierarchy, self.packs.clone())
    }

    /// Signs and publishes catalog `version` (checked like a real publisher would).
    pub fn publish(&self, version: u64) {
        let (bytes, sig) = sct::core::catalog::sign(&self.catalog(version), &[&self.key]).unwrap();
        std::fs::write(self.root.join("catalog.json"), bytes).unwrap();
        std::fs::write(self.root.join("catalog.json.sig"), sig).unwrap();
    }

    /// Signs and publishes any JSON as the catalog, skipping the publisher's checks (hostile catalogs).
    pub fn publish_raw(&self, catalog: &serde_json::Value) {
        let mut bytes = serde_json::to_vec_pretty(catalog).unwrap();
        bytes.push(b'\n');
        let sig = serde_json::to_vec(&SignatureFile::sign(&bytes, &[&self.key])).unwrap();
        std::fs::write(self.root.join("catalog.json"), bytes).unwrap();
        std::fs::write(self.root.join("catalog.json.sig"), sig).unwrap();
    }

    /// The offer most tests start from: hierarchy A at 2403 (5.00.9128.1000), from `base`.
    pub fn offer_a(&self, base: &str) -> String {
        self.offer(base, super::HIERARCHY_A, "5.00.9128.1000")
    }

    /// Two offers: hierarchy A at 2403, which gets 2503 in latest mode, and B at 2309
    /// (5.00.9122.1000), which gets 2409 — for the three packs of the fetch tests' service.
    pub fn offers_a_and_b(&self, base: &str) -> String {
        let b = self.offer(base, super::HIERARCHY_B, "5.00.9122.1000");
        format!("{}{b}", self.offer_a(base))
    }

    /// One offer line for a hierarchy at a site version, served from `base` (`http://127.0.0.1:PORT`).
    pub fn offer(&self, base: &str, hierarchy: &str, full_version: &str) -> String {
        let full: sct::core::version::CmVersion = full_version.parse().unwrap();
        let hierarchy_id: Uuid = hierarchy.parse().unwrap();
        let offer = Offer {
            schema: sct::core::document::Tag::new(),
            hierarchy_id,
            site_code: "PS1".into(),
            site_version: full.site_version(),
            full_version: full,
            usage_cab: "UsageData.cab".into(),
            catalog_url: format!("{base}/catalog.json"),
            packs_url: format!("{base}/packs/"),
            receipt: Receipt {
                schema: sct::core::document::Tag::new(),
                hierarchy_id,
                site_code: "PS1".into(),
                site_version: full.site_version(),
                full_version: full,
                received_at: "2026-11-26T10:00:00Z".into(),
                sha256: "0".repeat(64),
                catalog_url: format!("{base}/catalog.json"),
                catalog_version: 1,
            },
        };
        let mut line = serde_json::to_string(&offer).unwrap();
        line.push('\n');
        line
    }
}

/// Reads a whole stream of JSON lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Reads a file, for comparing with served bytes.
pub fn read(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}
