//! Versioned JSON documents: the contracts between stages.
//!
//! Every document carries `"schema": "sct.<kind>.v<N>"`. A reader checks that tag *before* decoding
//! the rest, so a stage given the wrong document says which one it got instead of a field error.

use crate::error::{ExitCode, fail};
use anyhow::Context;
use serde::{Serialize, de::DeserializeOwned};
use std::io::{BufRead, Read, Write};

/// A JSON document with a fixed schema tag.
pub trait Document: Serialize + DeserializeOwned {
    /// The full tag, such as `sct.usage.v1`.
    const SCHEMA: &'static str;
}

/// Splits `sct.usage.v1` into (`usage`, 1).
fn parse_tag(tag: &str) -> Option<(&str, u32)> {
    let rest = tag.strip_prefix("sct.")?;
    let (kind, version) = rest.rsplit_once(".v")?;
    Some((kind, version.parse().ok()?))
}

/// Checks a document's `schema` tag against the expected one, with a message naming both.
pub fn check_schema(value: &serde_json::Value, expected: &str, source: &str) -> anyhow::Result<()> {
    let Some(found) = value.get("schema").and_then(|s| s.as_str()) else {
        return Err(fail(
            ExitCode::Rejected,
            format!("{source} is not an sct document (no \"schema\" field; expected {expected})"),
        ));
    };
    if found == expected {
        return Ok(());
    }
    let message = match (parse_tag(found), parse_tag(expected)) {
        (Some((kind, _)), Some((want, _))) if kind != want => format!(
            "{source} holds {} {kind} document ({found}), but this stage reads {want} documents ({expected})",
            article(kind)
        ),
        (Some(_), Some((_, want))) => format!(
            "{source} is {found}, a version this build does not read (it reads v{want}: {expected}); \
             use the sct release that wrote it or a newer one"
        ),
        _ => format!("{source} has an unknown schema tag `{found}` (expected {expected})"),
    };
    Err(fail(ExitCode::Rejected, message))
}

/// `a` or `an` before a document kind (`an offer`, `a usage`).
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Decodes one document from a JSON value, checking its tag first.
pub fn from_value<T: Document>(value: serde_json::Value, source: &str) -> anyhow::Result<T> {
    check_schema(&value, T::SCHEMA, source)?;
    serde_json::from_value(value).map_err(|e| {
        fail(
            ExitCode::Rejected,
            format!("{source} is not a valid {}: {e}", T::SCHEMA),
        )
    })
}

/// Reads one whole document (stdin or a file), at most `limit` bytes.
pub fn read<T: Document>(reader: impl Read, source: &str, limit: u64) -> anyhow::Result<T> {
    let mut text = String::new();
    reader
        .take(limit + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("Failed to read {source}"))?;
    if text.len() as u64 > limit {
        return Err(fail(
            ExitCode::Rejected,
            format!(
                "{source} is larger than the {limit}-byte limit for {}",
                T::SCHEMA
            ),
        ));
    }
    if text.trim().is_empty() {
        return Err(fail(
            ExitCode::Rejected,
            format!("{source} is empty (expected a {} document)", T::SCHEMA),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| fail(ExitCode::Rejected, format!("{source} is not JSON: {e}")))?;
    from_value(value, source)
}

/// Reads JSON lines (one document per line; blank lines ignored) of one schema.
pub fn read_lines<T: Document>(reader: impl BufRead, source: &str) -> anyhow::Result<Vec<T>> {
    let mut docs = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("Failed to read {source}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let where_ = format!("{source} line {}", index + 1);
        let value: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| fail(ExitCode::Rejected, format!("{where_} is not JSON: {e}")))?;
        docs.push(from_value(value, &where_)?);
    }
    Ok(docs)
}

/// Writes a document as pretty JSON followed by a newline.
pub fn write_pretty<T: Serialize>(mut out: impl Write, doc: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut out, doc).context("Failed to write JSON")?;
    out.write_all(b"\n").context("Failed to write JSON")?;
    out.flush().context("Failed to write JSON")?;
    Ok(())
}

/// Writes one JSON line (for streams with a closing summary record).
pub fn write_line<T: Serialize>(mut out: impl Write, doc: &T) -> anyhow::Result<()> {
    serde_json::to_writer(&mut out, doc).context("Failed to write JSON")?;
    out.write_all(b"\n").context("Failed to write JSON")?;
    out.flush().context("Failed to write JSON")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug)]
    struct Probe {
        schema: String,
        n: u32,
    }
    impl Document for Probe {
        const SCHEMA: &'static str = "sct.probe.v1";
    }

    fn message(err: anyhow::Error) -> String {
        format!("{err:#}")
    }

    #[test]
    fn reads_matching_document() {
        let doc: Probe = read(&br#"{"schema":"sct.probe.v1","n":3}"#[..], "stdin", 1024).unwrap();
        assert_eq!(doc.n, 3);
    }

    #[test]
    fn names_the_wrong_kind() {
        let err = read::<Probe>(&br#"{"schema":"sct.offer.v1"}"#[..], "stdin", 1024).unwrap_err();
        let text = message(err);
        assert!(text.contains("holds an offer document"), "{text}");
        assert!(text.contains("sct.probe.v1"), "{text}");
    }

    #[test]
    fn names_the_wrong_version() {
        let err = read::<Probe>(&br#"{"schema":"sct.probe.v2"}"#[..], "stdin", 1024).unwrap_err();
        assert!(message(err).contains("version this build does not read"));
    }

    #[test]
    fn refuses_untagged_empty_and_oversized_input() {
        assert!(
            message(read::<Probe>(&b"{}"[..], "stdin", 1024).unwrap_err())
                .contains("no \"schema\"")
        );
        assert!(message(read::<Probe>(&b"  "[..], "stdin", 1024).unwrap_err()).contains("empty"));
        let big = format!(r#"{{"schema":"sct.probe.v1","pad":"{}"}}"#, "x".repeat(100));
        assert!(message(read::<Probe>(big.as_bytes(), "stdin", 50).unwrap_err()).contains("limit"));
    }

    #[test]
    fn reads_lines_and_names_the_bad_line() {
        let text = "{\"schema\":\"sct.probe.v1\",\"n\":1}\n\n{\"schema\":\"sct.usage.v1\"}\n";
        let err = read_lines::<Probe>(text.as_bytes(), "stdin").unwrap_err();
        assert!(message(err).contains("stdin line 3"));
    }
}
