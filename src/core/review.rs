//! The review CSV (`-export`, `sct-pack inspect --csv`): every field a usage cab carries, read
//! back from the cab itself, so reviewers see exactly what will be uploaded.
//!
//! One spreadsheet row per usage row; the site's identity (name, server, install folder,
//! hierarchy hash, ...) repeats on every row so a filtered sheet still shows it.
//!
//! The file is read as any locale's spreadsheet reads it: Excel in de-DE or fr-FR splits a line
//! at `;`, not `,`. So every field is quoted (a separator inside quotes splits nothing), and a
//! formula is neutralised wherever a spreadsheet could start a cell — at the start of the field
//! and after any `,` `;` TAB or line break inside it, past leading spaces, in ASCII or full-width
//! form (`＝` is `=` to a Japanese Excel): a `'` goes before it (OWASP's rule against CSV
//! injection). The cab keeps the original; the review sheet shows it, never evaluates it.

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

/// What starts a formula: ASCII and full-width `=` `+` `-` `@`.
const FORMULA_STARTS: [char; 8] = ['=', '+', '-', '@', '＝', '＋', '－', '＠'];
/// Where a spreadsheet may start a new cell inside a field: the list separators of every locale
/// (ASCII and full-width) and line breaks.
const CELL_BREAKS: [char; 6] = [',', ';', '\t', '\r', '\n', '；'];
/// Spaces a spreadsheet skips before a formula.
const LEADING_SPACES: [char; 3] = [' ', '\u{3000}', '\u{a0}'];

/// A cell as a spreadsheet will show it, never evaluate it: a `'` before every place a formula
/// could start (see the module header); a tab or carriage return leading the field is one too.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let starts: Vec<usize> = formula_starts(cell).collect();
    if starts.is_empty() {
        return Cow::Borrowed(cell);
    }
    let mut out = String::with_capacity(cell.len() + starts.len());
    let mut from = 0;
    for at in starts {
        out.push_str(&cell[from..at]);
        out.push('\'');
        from = at;
    }
    out.push_str(&cell[from..]);
    Cow::Owned(out)
}

/// The byte offsets of cell starts (the field's start, or just past a cell break) that a formula
/// follows, after optional spaces.
fn formula_starts(cell: &str) -> impl Iterator<Item = usize> + '_ {
    let breaks = cell
        .char_indices()
        .filter(|(_, c)| CELL_BREAKS.contains(c))
        .map(|(at, c)| at + c.len_utf8());
    std::iter::once(0).chain(breaks).filter(move |&at| {
        let rest = &cell[at..];
        let formula = rest
            .trim_start_matches(LEADING_SPACES)
            .starts_with(FORMULA_STARTS);
        formula || (at == 0 && rest.starts_with(['\t', '\r']))
    })
}

/// Writes the review CSV of a usage document (RFC 4180, every field quoted).
pub fn write_csv(doc: &UsageDocument, out: impl Write) -> anyhow::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Always)
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
        for cell in [
            "=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", " =3+3", "＝1+1", "＠A1",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"));
        }
        for cell in [
            "PS1",
            "",
            "a=b",
            "{\"x\":1}",
            "5.00.9128.1000",
            "a, b; c",
            " x",
        ] {
            assert_eq!(neutralise(cell), cell);
        }
    }

    /// Issue 21: a formula after a list separator is live in a `;` locale's Excel.
    #[test]
    fn a_formula_after_any_list_separator_is_neutralised() {
        assert_eq!(
            neutralise("Contoso;=cmd|' /C calc'!A0;x"),
            "Contoso;'=cmd|' /C calc'!A0;x"
        );
        for (cell, shown) in [
            ("a,=1", "a,'=1"),
            ("a;  +1", "a;'  +1"),
            ("a\t@x", "a\t'@x"),
            ("a\r\n-1", "a\r\n'-1"),
            ("a；＝1", "a；'＝1"),
            ("=a;=b", "'=a;'=b"),
        ] {
            assert_eq!(neutralise(cell), shown, "{cell:?}");
        }
    }

    #[test]
    fn every_field_is_quoted() {
        let mut doc = sample();
        doc.site.site_name = "Contoso;=cmd|' /C calc'!A0;x".into();
        let mut out = Vec::new();
        write_csv(&doc, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Outside quotes, every field (at a line's start or after a comma) opens with a quote.
        let (mut quoted, mut field_start) = (false, true);
        for c in text.chars() {
            if field_start && !quoted && c != '\n' {
                assert_eq!(c, '"', "an unquoted field in {text}");
            }
            field_start = !quoted && matches!(c, ',' | '\n');
            if c == '"' {
                quoted = !quoted;
            }
        }
        let rows: Vec<_> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().len())
            .collect();
        assert!(rows.iter().all(|&n| n == HEADER.len()), "{rows:?}");
        assert!(text.contains("\"Contoso;'=cmd|' /C calc'!A0;x\""), "{text}");
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
