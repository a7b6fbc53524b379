//! `packs.json`: the metadata of the packs in a service root (`sct.pack-metadata.v1`), which
//! [`crate::service::publish`] reads to build the catalog, and the folder names packs live in.
//!
//! The operator writes this file for real packs; `sct-demo packs` ([`crate::service::samples`])
//! writes it for sample ones.

use crate::core::document::Document;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The metadata file's name in a service root.
pub const METADATA_FILE: &str = "packs.json";

/// A pack's description, as `packs.json` lists it: the catalog's own type.
pub use crate::core::catalog::PackInfo;

/// `packs.json`: the metadata of every pack in a service root (`sct.pack-metadata.v1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackMetadata {
    pub schema: crate::core::document::Tag<Self>,
    pub packs: Vec<PackInfo>,
}

impl Document for PackMetadata {
    const SCHEMA: &'static str = "sct.pack-metadata.v1";
}

/// A pack's folder name: its GUID in upper case, as ConfigMgr writes it.
pub fn folder_name(guid: &Uuid) -> String {
    guid.to_string().to_uppercase()
}
