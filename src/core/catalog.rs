//! The signed catalog of update packs (`sct.catalog.v1`) and how a client comes to trust it.
//!
//! A catalog is two static files: `catalog.json` and its detached signature `catalog.json.sig`.
//! [`verify_bytes`] checks them in this order, trusting nothing it has not checked yet:
//!
//! 1. the signature file is an `sct.signature.v1` document within its size limit;
//! 2. a signature by a pinned key verifies over the exact catalog bytes;
//! 3. the bytes are an `sct.catalog.v1` document within its size limit;
//! 4. the catalog has not expired;
//! 5. every pack and file is well formed: unique GUIDs, files under `<GUID>/`, safe unique paths,
//!    sizes within limits, SHA-256 as 64 hex digits; the timestamp keys it names are public keys.
//!
//! Freshness (a short-lived statement by a timestamp key the catalog names) is checked beside it
//! by [`crate::core::freshness`].
//!
//! Rollback (a catalog older than one already seen) and hierarchy checks need state the catalog
//! cannot carry; callers do them with [`Catalog::check_not_older`] and [`Catalog::check_hierarchy`].

use crate::core::document::{self, Document};
use crate::core::error::Error;
use crate::core::paths::{Separator, safe_relative};
use crate::core::signing::{self, PublicKey, SignatureFile};
use crate::core::version::CmVersion;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// Largest catalog read: thousands of packs fit in a few MiB.
pub const MAX_CATALOG_BYTES: u64 = 16 * 1024 * 1024;
/// Largest file a catalog may list (a pack payload): 64 GiB.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024 * 1024;
/// Most files one pack may list.
pub const MAX_FILES_PER_PACK: usize = 10_000;
/// Most timestamp keys one catalog names: a few, for rotation.
pub const MAX_TIMESTAMP_KEYS: usize = 16;
/// The catalog's file name on the service and in a pack folder.
pub const CATALOG_FILE: &str = "catalog.json";
/// The detached signature's file name.
pub const SIGNATURE_FILE: &str = "catalog.json.sig";

/// ConfigMgr's `UpdateType` for packs.
pub mod update_type {
    pub const REGULAR: i32 = 0;
    pub const WEAVE: i32 = 1;
    pub const HOTFIX: i32 = 2;
}

/// The longest validity window a client accepts in a fetched catalog (see
/// [`Catalog::check_validity_window`]).
/// Environment variable with the catalog validity ceiling in days.
pub const ENV_MAX_CATALOG_VALIDITY: &str = "SCT_MAX_CATALOG_VALIDITY_DAYS";
/// The ceiling when none is set: a service publishes for weeks (`sct-serve publish` defaults to
/// 30 days), so 90 leaves room without letting one signature freeze a site for years.
pub const DEFAULT_MAX_CATALOG_VALIDITY_DAYS: u32 = 90;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidityCeiling {
    pub days: u32,
    /// Where it is configured, named when a catalog is refused.
    pub setting: String,
}

impl Default for ValidityCeiling {
    fn default() -> Self {
        Self {
            days: DEFAULT_MAX_CATALOG_VALIDITY_DAYS,
            setting: format!(
                "max_catalog_validity_days in sct.toml or {}",
                ENV_MAX_CATALOG_VALIDITY
            ),
        }
    }
}

/// One file of a pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackFile {
    /// Relative path with `/` separators, starting with the pack's GUID folder.
    pub path: String,
    pub size: u64,
    /// SHA-256, 64 lowercase hex digits.
    pub sha256: String,
}

/// What a catalog says about a pack apart from its files: the one description of a pack, which
/// publishing reads from `packs.json` (`sct.pack-metadata.v1`) and [`Pack`] carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackInfo {
    pub package_guid: Uuid,
    pub name: String,
    /// The release number, such as `2409`.
    pub update_number: String,
    pub full_version: CmVersion,
    /// 0 regular update, 1 Weave, 2 hotfix (ConfigMgr's UpdateType).
    pub update_type: i32,
    /// The lowest site version the pack applies to.
    pub min_cm_version: CmVersion,
    /// The highest site version the pack applies to.
    pub max_cm_version: CmVersion,
    pub release_date: String,
    pub more_info_link: String,
    #[serde(default)]
    pub description: String,
}

/// One update pack: a release or a hotfix of Configuration Manager, and its files. On the wire
/// the description's fields stand beside `files`, as they always have; the buffering `flatten`
/// costs only ever meets a catalog whose signature was checked first ([`verify_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pack {
    #[serde(flatten)]
    pub info: PackInfo,
    pub files: Vec<PackFile>,
}

/// A pack reads as its description (`pack.name`, `pack.full_version`): the files are the only
/// thing a pack adds to it.
impl std::ops::Deref for Pack {
    type Target = PackInfo;
    fn deref(&self) -> &PackInfo {
        &self.info
    }
}

/// One `"type": "pack"` line of a stage's JSON-lines output, the same shape in every stage:
/// which pack, then what the stage did with it (`D`: its fields follow the pack's).
#[derive(Clone, Debug, Serialize)]
#[serde(bound(serialize = "D: PackDetail"))]
pub struct PackEvent<D> {
    pub schema: crate::core::document::Tag<Self>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub package_guid: Uuid,
    pub name: String,
    pub full_version: CmVersion,
    pub update_type: i32,
    #[serde(flatten)]
    pub detail: D,
}

/// The fields a stage adds to its pack lines, and the schema of the lines they go in.
pub trait PackDetail: Serialize {
    const SCHEMA: &'static str;
}

impl<D: PackDetail> Document for PackEvent<D> {
    const SCHEMA: &'static str = D::SCHEMA;
}

impl<D> PackEvent<D> {
    /// The line about `pack`, with what the stage did with it.
    pub fn new(pack: &Pack, detail: D) -> Self {
        Self {
            schema: crate::core::document::Tag::new(),
            kind: "pack",
            package_guid: pack.package_guid,
            name: pack.name.clone(),
            full_version: pack.full_version,
            update_type: pack.update_type,
            detail,
        }
    }
}

impl Pack {
    /// True when the pack applies to a site of this version (inclusive range).
    pub fn applies_to(&self, site_version: &CmVersion) -> bool {
        self.min_cm_version <= *site_version && *site_version <= self.max_cm_version
    }

    pub fn is_hotfix(&self) -> bool {
        self.update_type == update_type::HOTFIX
    }

    /// Total bytes of the pack's files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The catalog document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub schema: crate::core::document::Tag<Self>,
    /// Increases with every publication; clients refuse to go back.
    pub version: u64,
    pub issued_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    /// When set, the catalog is only valid for this hierarchy.
    #[serde(default)]
    pub hierarchy_id: Option<Uuid>,
    /// Public keys (`ed25519:...`) allowed to sign this catalog's freshness statements
    /// ([`crate::core::freshness`]); none means freeze protection is off (older catalogs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timestamp_keys: Vec<String>,
    pub packs: Vec<Pack>,
}

impl Document for Catalog {
    const SCHEMA: &'static str = "sct.catalog.v1";
}

impl Catalog {
    /// The pack with this GUID.
    pub fn pack(&self, guid: &Uuid) -> Option<&Pack> {
        self.packs.iter().find(|p| p.package_guid == *guid)
    }

    /// Step 5: the structure every later stage relies on.
    pub fn check_structure(&self) -> anyhow::Result<()> {
        let refuse = |why: String| {
            Error::Rejected(format!(
                "catalog version {} is malformed: {why}",
                self.version
            ))
            .into()
        };
        if self.expires_at <= self.issued_at {
            return Err(refuse("it expires before it was issued".into()));
        }
        if self.timestamp_keys.len() > MAX_TIMESTAMP_KEYS {
            return Err(refuse(format!(
                "it names {} timestamp keys",
                self.timestamp_keys.len()
            )));
        }
        for key in &self.timestamp_keys {
            if PublicKey::parse(key).is_err() {
                return Err(refuse(format!("timestamp key `{key}` is not a public key")));
            }
        }
        let mut guids = HashSet::new();
        let mut paths = crate::core::paths::TwinCheck::default();
        for pack in &self.packs {
            if !guids.insert(pack.package_guid) {
                return Err(refuse(format!(
                    "pack {} is listed twice",
                    pack.package_guid
                )));
            }
            if pack.min_cm_version > pack.max_cm_version {
                return Err(refuse(format!(
                    "pack {} has MinCMVersion above MaxCMVersion",
                    pack.package_guid
                )));
            }
            if !matches!(pack.update_type, 0..=2) {
                return Err(refuse(format!(
                    "pack {} has unknown update type {}",
                    pack.package_guid, pack.update_type
                )));
            }
            if pack.files.is_empty() || pack.files.len() > MAX_FILES_PER_PACK {
                return Err(refuse(format!(
                    "pack {} lists {} files",
                    pack.package_guid,
                    pack.files.len()
                )));
            }
            if pack.name.len() > 1024
                || pack.description.len() > 64 * 1024
                || pack.more_info_link.len() > 2048
            {
                return Err(refuse(format!(
                    "pack {} has oversized metadata",
                    pack.package_guid
                )));
            }
            let folder = pack.package_guid.to_string().to_uppercase();
            for file in &pack.files {
                safe_relative(&file.path, Separator::Slash)?;
                if !file.path.starts_with(&format!("{folder}/")) {
                    return Err(refuse(format!(
                        "`{}` is outside its pack folder `{folder}/`",
                        file.path
                    )));
                }
                if let Err(earlier) = paths.insert(&file.path) {
                    return Err(refuse(format!(
                        "`{}` is listed twice (as `{earlier}`; names that differ only in case or Unicode form are one name on Windows)",
                        file.path
                    )));
                }
                if file.size > MAX_FILE_BYTES {
                    return Err(refuse(format!(
                        "`{}` declares {} bytes, over the limit",
                        file.path, file.size
                    )));
                }
                if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(refuse(format!("`{}` has no valid SHA-256", file.path)));
                }
            }
        }
        Ok(())
    }

    /// Step 4: refuses an expired catalog.
    pub fn check_not_expired(&self, now: jiff::Timestamp) -> anyhow::Result<()> {
        if now >= self.expires_at {
            return Err(Error::Rejected(format!(
                "catalog version {} expired at {}; fetch a fresh one from the update service",
                self.version, self.expires_at
            ))
            .into());
        }
        Ok(())
    }

    /// Freeze protection: refuses a catalog signed to stay valid longer than the ceiling (its
    /// `expires_at − issued_at`), so one stolen or mistaken long-lived signature cannot pin a site
    /// to old packs for years.
    pub fn check_validity_window(&self, ceiling: &ValidityCeiling) -> anyhow::Result<()> {
        let window = self.expires_at.duration_since(self.issued_at);
        let (max_days, setting) = (ceiling.days, &ceiling.setting);
        if window > jiff::SignedDuration::from_hours(24 * i64::from(max_days)) {
            return Err(Error::Rejected(format!(
                "catalog version {} is signed to stay valid for {} days (issued {}, expires {}), \
                     longer than the {max_days}-day ceiling ({setting})",
                self.version,
                window.as_hours() / 24,
                self.issued_at,
                self.expires_at
            ))
            .into());
        }
        Ok(())
    }

    /// Rollback protection: refuses a catalog older than `seen` (the version already held).
    pub fn check_not_older(&self, seen: u64, where_seen: &str) -> anyhow::Result<()> {
        if self.version < seen {
            return Err(Error::Rejected(format!(
                    "catalog version {} is older than version {seen} already in {where_seen} (rollback refused)",
                    self.version
                )).into());
        }
        Ok(())
    }

    /// Refuses a catalog bound to another hierarchy.
    pub fn check_hierarchy(&self, hierarchy: &Uuid) -> anyhow::Result<()> {
        match self.hierarchy_id {
            Some(bound) if bound != *hierarchy => Err(Error::Rejected(format!(
                "catalog version {} is for hierarchy {bound}, not {hierarchy}",
                self.version
            ))
            .into()),
            _ => Ok(()),
        }
    }
}

/// Steps 1–5: verifies catalog bytes and their signature file against the pinned keys; returns
/// the catalog and the ID of the key whose signature verified.
pub fn verify_bytes(
    catalog_bytes: &[u8],
    signature_bytes: &[u8],
    trusted: &[PublicKey],
    now: jiff::Timestamp,
    source: &str,
) -> anyhow::Result<(Catalog, String)> {
    verify_bytes_with(catalog_bytes, signature_bytes, trusted, source, |catalog| {
        catalog.check_not_expired(now)
    })
}

/// [`verify_bytes`] with the caller deciding step 4 (import allows a grace after expiry).
pub fn verify_bytes_with(
    catalog_bytes: &[u8],
    signature_bytes: &[u8],
    trusted: &[PublicKey],
    source: &str,
    expiry: impl FnOnce(&Catalog) -> anyhow::Result<()>,
) -> anyhow::Result<(Catalog, String)> {
    let signatures: SignatureFile = document::read(
        signature_bytes,
        &format!("the signature of {source}"),
        signing::MAX_SIGNATURE_BYTES,
    )?;
    let key_id = signing::verify(catalog_bytes, &signatures, trusted, source)?;
    let catalog: Catalog = document::read(catalog_bytes, source, MAX_CATALOG_BYTES)?;
    expiry(&catalog)?;
    catalog.check_structure()?;
    Ok((catalog, key_id))
}

/// Serialises and signs a catalog: returns (catalog bytes, signature bytes).
pub fn sign(
    catalog: &Catalog,
    keys: &[&signing::PrivateKey],
) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    catalog.check_structure()?;
    let mut bytes = serde_json::to_vec_pretty(catalog)?;
    bytes.push(b'\n');
    let mut sig = serde_json::to_vec_pretty(&SignatureFile::sign(&bytes, keys))?;
    sig.push(b'\n');
    Ok((bytes, sig))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::error::ExitCode;
    use crate::core::signing::PrivateKey;

    pub(crate) fn sample(version: u64) -> Catalog {
        let guid: Uuid = "3b7d84fa-eccc-4ea0-b8ab-abbda1e88e0e".parse().unwrap();
        let folder = guid.to_string().to_uppercase();
        Catalog {
            version,
            ..of(vec![pack_2409(
                guid,
                &format!("{folder}/{folder}.cab"),
                b"abc",
            )])
        }
    }

    /// Catalog version 1 of `packs`, valid from 2026-11-01 to 2027-02-01, bound to no hierarchy.
    pub(crate) fn of(packs: Vec<Pack>) -> Catalog {
        Catalog {
            schema: crate::core::document::Tag::new(),
            version: 1,
            issued_at: "2026-11-01T00:00:00Z".parse().unwrap(),
            expires_at: "2027-02-01T00:00:00Z".parse().unwrap(),
            hierarchy_id: None,
            timestamp_keys: Vec::new(),
            packs,
        }
    }

    /// Update 2409 (5.00.9132.1000, for sites from 9106) as pack `guid` of one file at `path`.
    pub(crate) fn pack_2409(guid: Uuid, path: &str, bytes: &[u8]) -> Pack {
        Pack {
            info: PackInfo {
                package_guid: guid,
                name: "Configuration Manager 2409".into(),
                update_number: "2409".into(),
                full_version: "5.00.9132.1000".parse().unwrap(),
                update_type: 0,
                min_cm_version: "5.00.9106.1000".parse().unwrap(),
                max_cm_version: "5.00.9132.1009".parse().unwrap(),
                release_date: "2024-10-14".into(),
                more_info_link: "https://example.invalid/2409".into(),
                description: String::new(),
            },
            files: vec![PackFile {
                path: path.to_owned(),
                size: bytes.len() as u64,
                sha256: crate::core::hash::hex_of(bytes),
            }],
        }
    }

    #[test]
    fn validity_window_has_a_ceiling() {
        let mut catalog = sample(1);
        // 2026-11-01 to 2027-02-01: 92 days.
        let ceiling = |days| ValidityCeiling {
            days,
            setting: "the setting".into(),
        };
        assert!(catalog.check_validity_window(&ceiling(92)).is_ok());
        let err = catalog.check_validity_window(&ceiling(91)).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
        let text = format!("{err:#}");
        assert!(
            text.contains("92 days") && text.contains("the setting"),
            "{text}"
        );
        catalog.expires_at = "2126-11-01T00:00:00Z".parse().unwrap();
        assert!(catalog.check_validity_window(&ceiling(90)).is_err());
    }

    fn now() -> jiff::Timestamp {
        "2026-11-26T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn signed_catalog_verifies() {
        let key = PrivateKey::generate();
        let (bytes, sig) = sign(&sample(3), &[&key]).unwrap();
        let (catalog, _) = verify_bytes(&bytes, &sig, &[key.public()], now(), "catalog").unwrap();
        assert_eq!(catalog.version, 3);
    }

    #[test]
    fn tampered_expired_and_rolled_back_catalogs_fail() {
        let key = PrivateKey::generate();
        let (mut bytes, sig) = sign(&sample(3), &[&key]).unwrap();
        let late: jiff::Timestamp = "2027-03-01T00:00:00Z".parse().unwrap();
        assert!(
            format!(
                "{:#}",
                verify_bytes(&bytes, &sig, &[key.public()], late, "c").unwrap_err()
            )
            .contains("expired")
        );
        assert!(sample(3).check_not_older(4, "DIR").is_err());
        assert!(sample(4).check_not_older(4, "DIR").is_ok());
        let at = bytes.iter().position(|b| *b == b'3').unwrap();
        bytes[at] = b'9';
        assert!(
            format!(
                "{:#}",
                verify_bytes(&bytes, &sig, &[key.public()], now(), "c").unwrap_err()
            )
            .contains("bad signature")
        );
    }

    #[test]
    fn hostile_paths_and_duplicates_are_refused() {
        for path in [
            "../x",
            "/abs",
            "C:/x",
            "3B7D84FA-ECCC-4EA0-B8AB-ABBDA1E88E0E\\x",
            "OTHER/x",
        ] {
            let mut catalog = sample(1);
            catalog.packs[0].files[0].path = path.into();
            assert!(catalog.check_structure().is_err(), "{path}");
        }
        let mut catalog = sample(1);
        let file = catalog.packs[0].files[0].clone();
        catalog.packs[0].files.push(file);
        assert!(catalog.check_structure().is_err());
    }

    #[test]
    fn hierarchy_binding() {
        let mut catalog = sample(1);
        let mine = Uuid::new_v4();
        assert!(catalog.check_hierarchy(&mine).is_ok());
        catalog.hierarchy_id = Some(Uuid::new_v4());
        assert!(catalog.check_hierarchy(&mine).is_err());
    }
}
