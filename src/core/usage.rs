//! The usage document (`sct.usage.v1`): what `sct-collect` reads from the site and `sct-pack` packs,
//! with the site identity and usage rows it carries (the site back ends read them into these types).

use crate::core::document::Document;
use crate::core::error::Error;
use crate::core::version::CmVersion;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The diagnostics and usage data level configured for the hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DiagnosticsLevel {
    Basic = 1,
    Enhanced = 2,
    Full = 3,
}

impl DiagnosticsLevel {
    /// The level stored as an integer in the site database.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Basic),
            2 => Some(Self::Enhanced),
            3 => Some(Self::Full),
            _ => None,
        }
    }
}

impl fmt::Display for DiagnosticsLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::str::FromStr for DiagnosticsLevel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "basic" | "1" => Ok(Self::Basic),
            "enhanced" | "2" => Ok(Self::Enhanced),
            "full" | "3" => Ok(Self::Full),
            _ => Err(format!(
                "`{text}` is not a diagnostics level (Basic, Enhanced or Full)"
            )),
        }
    }
}

/// Who the site is: what the update service needs to choose updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteIdentity {
    pub site_code: String,
    pub site_name: String,
    pub server_name: String,
    /// The hierarchy ID (support ID), from `dbo.fnGetHierarchyID()` on SQL Server.
    pub hierarchy_id: Uuid,
    /// The site version, always `5.00.<build>.1000` (`dbo.fnCurrentSiteVersion()`).
    pub version: CmVersion,
    /// The full version with hotfixes (`fnSetupFullVersion`), `5.00.<build>.10mm`.
    pub full_version: CmVersion,
    pub diagnostics_level: DiagnosticsLevel,
    /// The site's install folder (holds `EasySetupPayload\`), as recorded in `Sites.InstallDir`.
    pub install_dir: String,
}

impl SiteIdentity {
    /// The hashed hierarchy ID that usage data carries: Base64(SHA-256(GUID bytes in .NET order)).
    pub fn hierarchy_hash(&self) -> String {
        hierarchy_hash(&self.hierarchy_id)
    }
}

/// Base64(SHA-256(`Guid.ToByteArray()`)): .NET writes the first three GUID fields little-endian.
pub fn hierarchy_hash(id: &Uuid) -> String {
    let mut hasher = crate::core::hash::Sha256::new();
    hasher.update(&id.to_bytes_le());
    base64::engine::general_purpose::STANDARD.encode(hasher.finish_bytes())
}

/// One row of `TEL_TelemetryResults`: the result of one usage query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The usage query's ID.
    pub id: Uuid,
    /// The collecting procedure, such as `TEL_SetupInfo`.
    pub name: String,
    /// The lowest diagnostics level that sends this row.
    pub level: DiagnosticsLevel,
    /// When the site collected it (ISO 8601, UTC).
    pub collected_at: String,
    /// The query's result, as the site stored it.
    pub results: String,
}

/// Site identity and usage rows at the site's diagnostics level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDocument {
    pub schema: crate::core::document::Tag<Self>,
    /// When sct read the data (ISO 8601, UTC).
    pub generated_at: String,
    /// The sct build that wrote the document.
    pub generator: String,
    pub site: SiteIdentity,
    /// Base64(SHA-256(hierarchy ID)), the form usage data carries to the service.
    pub hierarchy_hash: String,
    pub rows: Vec<UsageRow>,
}

impl Document for UsageDocument {
    const SCHEMA: &'static str = "sct.usage.v1";
}

/// Largest usage document a stage reads. A real site's is well under a few MiB; reading one costs
/// about three times its size (the bytes and the parsed rows), so this bounds a reader's memory.
pub const MAX_USAGE_BYTES: u64 = 64 * 1024 * 1024;

/// Checks what a packer relies on beyond the JSON shape.
pub fn validate(doc: &UsageDocument, source: &str) -> anyhow::Result<()> {
    if doc.rows.is_empty() {
        return Err(Error::NoData(format!("{source} holds no usage rows: nothing to pack")).into());
    }
    if doc.hierarchy_hash != doc.site.hierarchy_hash() {
        return Err(Error::Rejected(format!(
            "{source}: hierarchy_hash does not match hierarchy ID {}",
            doc.site.hierarchy_id
        ))
        .into());
    }
    if doc.site.site_code.is_empty()
        || doc.site.site_code.len() > 3
        || !doc
            .site
            .site_code
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    {
        return Err(Error::Rejected(format!(
            "{source}: `{}` is not a site code (three letters or digits)",
            doc.site.site_code
        ))
        .into());
    }
    Ok(())
}

/// Rows above `level` never leave the site, whatever a hand-edited document says.
pub fn rows_within_level(doc: &UsageDocument) -> bool {
    doc.rows
        .iter()
        .all(|r| r.level <= doc.site.diagnostics_level)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-row usage document, shared by the tests of its readers and writers.
    pub(crate) fn sample() -> UsageDocument {
        let site = SiteIdentity {
            site_code: "PS1".into(),
            site_name: "Primary".into(),
            server_name: "scp.contoso.com".into(),
            hierarchy_id: "0b5e5a3c-8f5f-4b53-9f2e-4e9f6c2d1a10".parse().unwrap(),
            version: "5.00.9128.1000".parse().unwrap(),
            full_version: "5.00.9128.1033".parse().unwrap(),
            diagnostics_level: DiagnosticsLevel::Enhanced,
            install_dir: "C:\\Program Files\\Microsoft Configuration Manager".into(),
        };
        UsageDocument {
            schema: crate::core::document::Tag::new(),
            generated_at: "2026-11-26T10:00:00Z".into(),
            generator: "sct test".into(),
            hierarchy_hash: site.hierarchy_hash(),
            site,
            rows: vec![UsageRow {
                id: "e1201168-0d4e-4cd4-9a1f-3b6c5b1a0c01".parse().unwrap(),
                name: "TEL_SetupInfo".into(),
                level: DiagnosticsLevel::Basic,
                collected_at: "2026-11-22T03:00:00Z".into(),
                results: "{\"a\":\"x, \"\"y\"\"\"}".into(),
            }],
        }
    }

    #[test]
    fn hierarchy_hash_uses_dotnet_byte_order() {
        // Guid.ToByteArray() of 00112233-4455-6677-8899-aabbccddeeff is 33 22 11 00 55 44 77 66 88 ...
        let id: Uuid = "00112233-4455-6677-8899-aabbccddeeff".parse().unwrap();
        assert_eq!(
            id.to_bytes_le(),
            [
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        let expected = base64::engine::general_purpose::STANDARD
            .encode(hex::decode(crate::core::hash::hex_of(&id.to_bytes_le())).unwrap());
        assert_eq!(hierarchy_hash(&id), expected);
        assert_eq!(hierarchy_hash(&id).len(), 44);
    }

    #[test]
    fn csv_is_rfc4180() {
        let mut out = Vec::new();
        crate::core::review::write_csv(&sample(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("\"SiteCode\",\"SiteName\","));
        assert!(text.ends_with("\r\n"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.iter().next_back().unwrap(), sample().rows[0].results);
    }

    #[test]
    fn validate_catches_mismatched_hash_and_empty_rows() {
        let mut doc = sample();
        assert!(validate(&doc, "x").is_ok());
        doc.hierarchy_hash = "AAAA".into();
        assert!(validate(&doc, "x").is_err());
        let mut doc = sample();
        doc.rows.clear();
        let err = validate(&doc, "x").unwrap_err();
        assert_eq!(
            crate::core::error::exit_code(&err),
            crate::core::error::ExitCode::NoData
        );
    }
}
