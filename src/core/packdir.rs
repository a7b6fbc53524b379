//! The update-pack folder that travels back on the USB drive (`-updatepackdest` / `--dest`).
//!
//! ```text
//! DIR/catalog.json          the signed catalog, byte for byte as the service published it
//! DIR/catalog.json.sig      its detached signature
//! DIR/timestamp.json        the catalog's freshness statement (when the catalog names timestamp keys)
//! DIR/timestamp.json.sig    its detached signature
//! DIR/fetched.json          sct.fetch-record.v1: which packs were fetched for which hierarchy
//! DIR/<GUID>/<GUID>.cab     each pack's files, at the paths the catalog lists
//! DIR/<GUID>/Redist/...
//! ```
//!
//! The record is not signed: it only says which hierarchy asked for which pack. Everything that
//! decides what enters a site (bytes, sizes, hashes, versions) comes from the signed catalog, and
//! import re-checks applicability against the local site.

use crate::core::document::Document;
use crate::core::version::CmVersion;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The record's file name.
pub const RECORD_FILE: &str = "fetched.json";
/// Suffix of files still being downloaded.
pub const PART_SUFFIX: &str = ".part";

/// Which packs one hierarchy's offer selected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HierarchyRecord {
    pub hierarchy_id: Uuid,
    pub site_code: String,
    pub site_version: CmVersion,
    /// The selection mode of the latest fetch: latest, all, hotfix or siteversion.
    pub mode: String,
    /// Modes of earlier fetches whose packs the folder still holds for this hierarchy (a second
    /// connect with another mode adds to the folder, so import must know both selections).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_modes: Vec<String>,
    /// Every pack fetched into the folder for this hierarchy (this fetch's selection and earlier
    /// ones' that the catalog still lists: a second connect adds to the folder).
    pub packs: Vec<Uuid>,
}

/// `fetched.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRecord {
    pub schema: crate::core::document::Tag<Self>,
    /// The version of `catalog.json` beside it.
    pub catalog_version: u64,
    /// When the fetch found the catalog fresh (its freshness statement, `timestamp.json`, checked
    /// against the client's clock); absent when the catalog names no timestamp keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness_checked_at: Option<jiff::Timestamp>,
    pub hierarchies: Vec<HierarchyRecord>,
}

impl Document for FetchRecord {
    const SCHEMA: &'static str = "sct.fetch-record.v1";
}

/// Paths inside a pack folder.
pub struct PackDir {
    pub root: PathBuf,
}

impl PackDir {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub fn catalog(&self) -> PathBuf {
        self.root.join(crate::core::catalog::CATALOG_FILE)
    }

    pub fn signature(&self) -> PathBuf {
        self.root.join(crate::core::catalog::SIGNATURE_FILE)
    }

    /// The catalog's freshness statement ([`crate::core::freshness`]).
    pub fn timestamp(&self) -> PathBuf {
        self.root.join(crate::core::freshness::TIMESTAMP_FILE)
    }

    pub fn timestamp_signature(&self) -> PathBuf {
        self.root
            .join(crate::core::freshness::TIMESTAMP_SIGNATURE_FILE)
    }

    pub fn record(&self) -> PathBuf {
        self.root.join(RECORD_FILE)
    }

    /// The local path of a catalog file path (already checked by `Catalog::check_structure`).
    pub fn file(&self, catalog_path: &str) -> PathBuf {
        self.root
            .join(catalog_path.replace('/', std::path::MAIN_SEPARATOR_STR))
    }
}
