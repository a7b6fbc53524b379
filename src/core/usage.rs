//! The usage document (`sct.usage.v1`): what `sct-collect` reads from the site and `sct-pack` packs.

use crate::core::document::Document;
use crate::core::error::Error;
use crate::site::{SiteIdentity, SiteStore, UsageRow};
use serde::{Deserialize, Serialize};

/// Site identity and usage rows at the site's diagnostics level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDocument {
    pub schema: String,
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

/// Reads identity and usage rows; a site without usage data yet is a "nothing to do" failure.
pub fn collect(site: &dyn SiteStore) -> anyhow::Result<UsageDocument> {
    let identity = site.identity()?;
    let rows = site.usage_rows(identity.diagnostics_level)?;
    if rows.is_empty() {
        return Err(Error::NoData(format!(
                "site {} ({}) has no usage data yet: a site collects it every 7 days from its install date \
                 (table TEL_TelemetryResults is empty at level {})",
                identity.site_code,
                site.describe(),
                identity.diagnostics_level
            )).into());
    }
    Ok(UsageDocument {
        schema: UsageDocument::SCHEMA.to_owned(),
        generated_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)?
            .to_string(),
        generator: concat!("sct ", env!("CARGO_PKG_VERSION")).to_owned(),
        hierarchy_hash: identity.hierarchy_hash(),
        site: identity,
        rows,
    })
}

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
    use crate::core::error::ExitCode;
    use crate::site::DiagnosticsLevel;

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
            schema: UsageDocument::SCHEMA.into(),
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
    fn csv_is_rfc4180() {
        let mut out = Vec::new();
        crate::core::review::write_csv(&sample(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("SiteCode,SiteName,"));
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
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::NoData);
    }
}
