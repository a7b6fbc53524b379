//! Versioned JSON documents: the contracts between stages.
//!
//! Every document carries `"schema": "sct.<kind>.v<N>"`. A reader checks that tag *before* decoding
//! the rest, so a stage given the wrong document says which one it got instead of a field error.

use crate::core::error::Error;
use anyhow::Context;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};

/// A JSON document with a fixed schema tag. Output-only kinds (event lines, reports) implement
/// it too; readers ask for `DeserializeOwned` besides.
pub trait Document: Serialize {
    /// The full tag, such as `sct.usage.v1`.
    const SCHEMA: &'static str;
}

/// A document's `schema` field: always `T::SCHEMA`, so no construction writes the tag by hand and
/// no document of one kind can carry another's. Written as the tag; read back, any other tag is
/// refused.
pub struct Tag<T: ?Sized>(std::marker::PhantomData<fn() -> T>);

impl<T: ?Sized> Tag<T> {
    pub const fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<T: Document + ?Sized> Tag<T> {
    /// The tag, such as `sct.usage.v1`.
    pub fn as_str(&self) -> &'static str {
        T::SCHEMA
    }
}

impl<T: ?Sized> Default for Tag<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: ?Sized> Clone for Tag<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Tag<T> {}

impl<T: ?Sized> PartialEq for Tag<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T: ?Sized> Eq for Tag<T> {}

impl<T: ?Sized> std::fmt::Debug for Tag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tag")
    }
}

impl<T: Document + ?Sized> Serialize for Tag<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(T::SCHEMA)
    }
}

impl<'de, T: Document + ?Sized> Deserialize<'de> for Tag<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let found = std::borrow::Cow::<'de, str>::deserialize(d)?;
        if found == T::SCHEMA {
            Ok(Self::new())
        } else {
            Err(serde::de::Error::custom(format_args!(
                "schema `{found}`, expected `{}`",
                T::SCHEMA
            )))
        }
    }
}

/// Splits `sct.usage.v1` into (`usage`, 1).
fn parse_tag(tag: &str) -> Option<(&str, u32)> {
    let rest = tag.strip_prefix("sct.")?;
    let (kind, version) = rest.rsplit_once(".v")?;
    Some((kind, version.parse().ok()?))
}

/// Checks a document's `schema` tag against the expected one, with a message naming both.
pub fn check_schema(value: &serde_json::Value, expected: &str, source: &str) -> anyhow::Result<()> {
    check_tag(
        value.get("schema").and_then(|s| s.as_str()),
        expected,
        source,
    )
}

/// Checks a `schema` tag already read (`None`: the document has none, or it is not a string).
fn check_tag(found: Option<&str>, expected: &str, source: &str) -> anyhow::Result<()> {
    let Some(found) = found else {
        return Err(Error::Rejected(format!(
            "{source} is not an sct document (no \"schema\" field; expected {expected})"
        ))
        .into());
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
    Err(Error::Rejected(message).into())
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
pub fn from_value<T: Document + DeserializeOwned>(
    value: serde_json::Value,
    source: &str,
) -> anyhow::Result<T> {
    check_schema(&value, T::SCHEMA, source)?;
    serde_json::from_value(value).map_err(|e| invalid::<T>(source, e))
}

fn invalid<T: Document>(source: &str, e: serde_json::Error) -> anyhow::Error {
    Error::Rejected(format!("{source} is not a valid {}: {e}", T::SCHEMA)).into()
}

/// Deepest nesting of arrays and objects any reader accepts (serde_json's own recursion limit).
pub const MAX_DEPTH: usize = 128;

/// Decodes one document from bytes already read, at most `limit` of them.
///
/// Memory stays proportional to the bytes, whatever they declare: the text is never turned into a
/// `serde_json::Value` (which costs up to 16 times the text for `[0,0,…]`). The passes over the
/// same bytes: nesting no deeper than [`MAX_DEPTH`], is it JSON (nothing kept), its `schema` tag
/// (nothing else kept), then the typed document, where unknown fields are skipped unread.
pub fn from_bytes<T: Document + DeserializeOwned>(
    bytes: &[u8],
    source: &str,
    limit: u64,
) -> anyhow::Result<T> {
    if bytes.len() as u64 > limit {
        return Err(too_large::<T>(source, limit));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Rejected(format!(
            "{source} is empty (expected a {} document)",
            T::SCHEMA
        ))
        .into());
    }
    if nesting_depth(bytes) > MAX_DEPTH {
        return Err(Error::Rejected(format!(
            "{source} is not JSON: recursion limit exceeded (nested deeper than {MAX_DEPTH} levels)"
        ))
        .into());
    }
    serde_json::from_slice::<IgnoredAny>(bytes)
        .map_err(|e| Error::Rejected(format!("{source} is not JSON: {e}")))?;
    let tag = serde_json::from_slice::<SchemaTag>(bytes)
        .ok()
        .and_then(|t| t.0);
    check_tag(tag.as_deref(), T::SCHEMA, source)?;
    serde_json::from_slice(bytes).map_err(|e| invalid::<T>(source, e))
}

/// The deepest nesting of `[` and `{` outside strings (a scan, so any depth costs nothing).
/// serde_json skips unknown fields without a depth limit; this keeps one limit for every reader.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn too_large<T: Document>(source: &str, limit: u64) -> anyhow::Error {
    Error::TooLarge {
        what: source.to_owned(),
        limit,
        meant_for: Some(T::SCHEMA.to_owned()),
    }
    .into()
}

/// Reads one whole document (stdin or a file), at most `limit` bytes.
pub fn read<T: Document + DeserializeOwned>(
    reader: impl Read,
    source: &str,
    limit: u64,
) -> anyhow::Result<T> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("Failed to read {source}"))?;
    if bytes.len() as u64 > limit {
        return Err(too_large::<T>(source, limit));
    }
    from_bytes(&bytes, source, limit)
}

/// Reads JSON lines (one document per line; blank lines ignored) of one schema: at most
/// `limits.line` bytes a line and `limits.total` bytes in all, so a stream without newlines or
/// without end costs no more than that.
pub fn read_lines<T: Document + DeserializeOwned>(
    mut reader: impl BufRead,
    source: &str,
    limits: LineLimits,
) -> anyhow::Result<Vec<T>> {
    let mut docs = Vec::new();
    let mut total = 0u64;
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let n = (&mut reader)
            .take(limits.line + 1)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("Failed to read {source}"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        let where_ = format!("{source} line {number}");
        if line.len() as u64 > limits.line {
            return Err(Error::TooLarge {
                what: where_,
                limit: limits.line,
                meant_for: Some(T::SCHEMA.to_owned()),
            }
            .into());
        }
        if total > limits.total {
            return Err(Error::TooLarge {
                what: source.to_owned(),
                limit: limits.total,
                meant_for: Some(format!("a stream of {}", T::SCHEMA)),
            }
            .into());
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        docs.push(from_bytes(&line, &where_, limits.line)?);
    }
    Ok(docs)
}

/// Bounds of a JSON-lines stream.
#[derive(Clone, Copy, Debug)]
pub struct LineLimits {
    /// Longest line, newline included.
    pub line: u64,
    /// Most bytes in all.
    pub total: u64,
}

/// The `schema` field of a document when it is a string; every other field is skipped unread.
struct SchemaTag(Option<String>);

impl<'de> Deserialize<'de> for SchemaTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TagVisitor)
    }
}

struct TagVisitor;

impl<'de> Visitor<'de> for TagVisitor {
    type Value = SchemaTag;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SchemaTag, A::Error> {
        let mut tag = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "schema" && tag.is_none() {
                tag = map.next_value::<StringOrSkip>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(SchemaTag(tag))
    }
}

/// A string, or `None` for any other value (skipped unread).
struct StringOrSkip(Option<String>);

impl<'de> Deserialize<'de> for StringOrSkip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringProbe)
    }
}

struct StringProbe;

impl<'de> Visitor<'de> for StringProbe {
    type Value = StringOrSkip;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<StringOrSkip, E> {
        Ok(StringOrSkip(Some(v.to_owned())))
    }

    fn visit_bool<E>(self, _: bool) -> Result<StringOrSkip, E> {
        Ok(StringOrSkip(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<StringOrSkip, E> {
        Ok(StringOrSkip(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<StringOrSkip, E> {
        Ok(StringOrSkip(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<StringOrSkip, E> {
        Ok(StringOrSkip(None))
    }

    fn visit_unit<E>(self) -> Result<StringOrSkip, E> {
        Ok(StringOrSkip(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<StringOrSkip, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| StringOrSkip(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StringOrSkip, A::Error> {
        IgnoredAny.visit_map(map).map(|_| StringOrSkip(None))
    }
}

/// Writes a document as pretty JSON followed by a newline.
pub fn write_pretty<T: Serialize>(out: impl Write, doc: &T) -> anyhow::Result<()> {
    write_bytes(out, serde_json::to_vec_pretty(doc)?)
}

/// Writes one JSON line (for streams with a closing summary record).
pub fn write_line<T: Serialize>(out: impl Write, doc: &T) -> anyhow::Result<()> {
    write_bytes(out, serde_json::to_vec(doc)?)
}

/// The document is serialised first, so a failed write is the writer's own `io::Error`, with the
/// OS code a closed pipe is recognised by ([`crate::core::error::is_broken_pipe`]).
fn write_bytes(mut out: impl Write, mut bytes: Vec<u8>) -> anyhow::Result<()> {
    bytes.push(b'\n');
    out.write_all(&bytes).context("Failed to write JSON")?;
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
        let err = read_lines::<Probe>(text.as_bytes(), "stdin", LIMITS).unwrap_err();
        assert!(message(err).contains("stdin line 3"));
    }

    const LIMITS: LineLimits = LineLimits {
        line: 64,
        total: 200,
    };

    #[test]
    fn lines_are_bounded_one_by_one_and_in_all() {
        let long = format!(
            "{{\"schema\":\"sct.probe.v1\",\"n\":1,\"p\":\"{}\"}}\n",
            "x".repeat(64)
        );
        let err = read_lines::<Probe>(long.as_bytes(), "stdin", LIMITS).unwrap_err();
        assert!(message(err).contains("line 1 is larger than the 64-byte limit"));
        // No newline at all: refused after the limit, not read to the end.
        let endless = std::io::BufReader::new(std::io::repeat(b' '));
        let err = read_lines::<Probe>(endless, "stdin", LIMITS).unwrap_err();
        assert!(message(err).contains("larger than"));
        let many = "{\"schema\":\"sct.probe.v1\",\"n\":1}\n".repeat(10);
        let err = read_lines::<Probe>(many.as_bytes(), "stdin", LIMITS).unwrap_err();
        let text = message(err);
        assert!(text.contains("200-byte limit"), "{text}");
        let ok = "{\"schema\":\"sct.probe.v1\",\"n\":1}\n\n".repeat(2);
        assert_eq!(
            read_lines::<Probe>(ok.as_bytes(), "stdin", LIMITS)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn deep_nesting_and_odd_tags_are_refused_by_name() {
        let deep = format!(
            "{{\"schema\":\"sct.probe.v1\",\"n\":1,\"x\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let err = read::<Probe>(deep.as_bytes(), "stdin", 1 << 20).unwrap_err();
        assert!(message(err).contains("recursion limit"));
        // Brackets inside strings (escaped quotes included) are text, not nesting.
        let text = format!(
            r#"{{"schema":"sct.probe.v1","n":2,"x":"\"{}"}}"#,
            "[".repeat(10_000)
        );
        assert_eq!(
            read::<Probe>(text.as_bytes(), "stdin", 1 << 20).unwrap().n,
            2
        );
        let not_string = r#"{"schema":["sct.probe.v1"],"n":1}"#;
        let err = read::<Probe>(not_string.as_bytes(), "stdin", 1024).unwrap_err();
        assert!(message(err).contains("no \"schema\""));
        let array = r#"[{"schema":"sct.probe.v1"}]"#;
        let err = read::<Probe>(array.as_bytes(), "stdin", 1024).unwrap_err();
        assert!(message(err).contains("not an sct document"));
        // Unknown fields, however large, are skipped: the tag and the typed fields are read.
        let padded = format!(
            r#"{{"pad":[{}0],"schema":"sct.probe.v1","n":7}}"#,
            "0,".repeat(1000)
        );
        assert_eq!(
            read::<Probe>(padded.as_bytes(), "stdin", 1 << 20)
                .unwrap()
                .n,
            7
        );
    }
}
