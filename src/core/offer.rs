//! Offers (`sct.offer.v1`): what `sct-upload` writes, one JSON line per hierarchy, and `sct-fetch`
//! reads. An offer says which hierarchy (and site version) asked, where the signed catalog is, and
//! what the service answered to the upload.

use crate::core::document::Document;
use crate::core::version::CmVersion;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The service's answer to one usage upload (`sct.receipt.v1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub schema: crate::core::document::Tag<Self>,
    pub hierarchy_id: Uuid,
    pub site_code: String,
    pub site_version: CmVersion,
    pub full_version: CmVersion,
    pub received_at: String,
    /// SHA-256 of the cab the service stored.
    pub sha256: String,
    /// The catalog the service offers this hierarchy.
    pub catalog_url: String,
    pub catalog_version: u64,
}

impl Document for Receipt {
    const SCHEMA: &'static str = "sct.receipt.v1";
}

/// One hierarchy's offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub schema: crate::core::document::Tag<Self>,
    pub hierarchy_id: Uuid,
    pub site_code: String,
    pub site_version: CmVersion,
    pub full_version: CmVersion,
    /// The usage cab that was uploaded.
    pub usage_cab: String,
    /// URL of `catalog.json`; its signature is the same URL with `.sig` appended.
    pub catalog_url: String,
    /// Base URL that pack file paths (`<GUID>/...`) are resolved against.
    pub packs_url: String,
    pub receipt: Receipt,
}

impl Document for Offer {
    const SCHEMA: &'static str = "sct.offer.v1";
}
