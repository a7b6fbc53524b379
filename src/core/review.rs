//! The review CSV (`-export`, `sct-pack inspect --csv`): every field a usage cab carries, read
//! back from the cab itself, so reviewers see exactly what will be uploaded.
//!
//! One spreadsheet row per usage row; the site's identity (name, server, install folder,
//! hierarchy hash, ...) repeats on every row so a filtered sheet still shows it. A cell that a
//! spreadsheet would evaluate — one starting with `=`, `+`, `-`, `@`, a tab or a carriage return —
//! is written with a leading `'` (OWASP's rule against CSV injection); the cab keeps the original.

use crate::core::usage::UsageDocument;
use anyhow::Context;
use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

/// The columns, in order.
pub const HEADER: [&str; 16] = [
    "SiteCode",
    "SiteName",
    "ServerName",
    "HierarchyID",
    "HierarchyHash",
    "SiteVersion",
    "FullVersion",
    "DiagnosticsLevel",
    "InstallDir",
    "GeneratedAt",
    "Generator",
    "ID",
    "Name",
    "Level",
    "TimeCollected",
    "Results",
];

/// A cell as a spreadsheet will show it, never evaluate it.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Writes the review CSV of a usage document (RFC 4180, quoted where needed).
pub fn write_csv(doc: &UsageDocument, out: impl Write) -> anyhow::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(HEADER).context("Failed to write CSV")?;
    let site = &doc.site;
    let identity = [
        site.site_code.clone(),
        site.site_name.clone(),
        site.server_name.clone(),
        site.hierarchy_id.to_string().to_uppercase(),
        doc.hierarchy_hash.clone(),
        site.version.to_string(),
        site.full_version.to_string(),
        site.diagnostics_level.to_string(),
        site.install_dir.clone(),
        doc.generated_at.clone(),
        doc.generator.clone(),
    ];
    for row in &doc.rows {
        let usage = [
            row.id.to_string().to_uppercase(),
            row.name.clone(),
            row.level.to_string(),
            row.collected_at.clone(),
            row.results.clone(),
        ];
        let cells = identity.iter().chain(&usage).map(|c| neutralise(c));
        writer
            .write_record(cells.map(|c| c.into_owned()))
            .context("Failed to write CSV")?;
    }
    writer.flush().context("Failed to write CSV")?;
    Ok(())
}

/// Reads a usage cab back (checked against its manifest) and writes its review CSV to `out`.
pub fn write_cab_csv(cab: &Path, out: impl Write) -> anyhow::Result<usize> {
    let (doc, _) = crate::core::usage_cab::open_verified(cab)?;
    write_csv(&doc, out)?;
    Ok(doc.rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::usage::tests::sample;

    #[test]
    fn formulas_are_neutralised_and_the_rest_kept() {
        for cell in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell), format!("'{cell}"));
        }
        for cell in ["PS1", "", "a=b", "{\"x\":-1}", "5.00.9128.1000"] {
            assert_eq!(neutralise(cell), cell);
        }
    }

    /// Every string and number the usage document holds (but its schema tag) is a cell.
    #[test]
    fn every_field_of_the_document_is_a_column() {
        let mut doc = sample();
        doc.rows[0].name = "=HYPERLINK(\"http://x\")".into();
        let mut out = Vec::new();
        write_csv(&doc, &mut out).unwrap();
        let mut reader = csv::Reader::from_reader(&out[..]);
        let cells: Vec<String> = reader
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        fn leaves(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => map
                    .iter()
                    .filter(|(key, _)| *key != "schema")
                    .for_each(|(_, v)| leaves(v, out)),
                serde_json::Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
                serde_json::Value::String(s) => out.push(s.clone()),
                other => out.push(other.to_string()),
            }
        }
        let mut fields = Vec::new();
        leaves(&serde_json::to_value(&doc).unwrap(), &mut fields);
        for field in fields {
            let shown = neutralise(&field);
            assert!(
                cells
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(&shown) || *c == shown),
                "`{field}` is not in the review CSV: {cells:?}"
            );
        }
        assert!(cells.contains(&"'=HYPERLINK(\"http://x\")".to_owned()));
    }
}
