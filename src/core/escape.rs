//! Text from outside, made safe to show: the one function every log line and every line for a
//! person goes through.
//!
//! Names from a USB drive, a record's `site_code`, key IDs, the service's receipts and error
//! bodies, URLs and catalog fields are all chosen by someone else. Shown raw, a newline starts a
//! forged log line (`…\nINFO:all packs verified`), a carriage return or an ANSI escape rewrites
//! what a terminal already shows (`PROBLEMS FOUND` overwritten with `all good`), and a Unicode
//! bidirectional override reorders what the reader sees. [`escape`] writes each of those as a
//! visible escape instead, so what is shown is one line and exactly the characters received:
//!
//! - `\n`, `\r`, `\t` as those two characters;
//! - every other control character (C0, DEL, C1 such as the 8-bit CSI `U+009B`) as `\u{..}`;
//! - invisible format characters that reorder or hide text — bidi embeddings, overrides and
//!   isolates (`U+202A`–`U+202E`, `U+2066`–`U+2069`), marks (`U+200E`, `U+200F`, `U+061C`),
//!   zero-width characters, line and paragraph separators (`U+2028`, `U+2029`), the byte-order
//!   mark — as `\u{....}`.
//!
//! A backslash is left as it is: Windows paths are full of them, and no backslash sequence can
//! forge a line or move a cursor.

use std::borrow::Cow;
use std::fmt;

/// `text` with every character that could forge a line, drive a terminal or reorder what is
/// shown written as a visible escape. Borrows when there is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                use fmt::Write;
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A value shown through [`escape`] when formatted: `format!("pack {}", Escaped(&name))`.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

/// True for characters [`escape`] rewrites.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Format characters that reorder, hide or break text without being seen.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'                      // Arabic letter mark
            | '\u{200b}'..='\u{200f}'   // zero-width space, joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'   // line and paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2069}'   // word joiner, invisible operators, bidi isolates
            | '\u{feff}'                // byte-order mark, zero-width no-break space
            | '\u{fff9}'..='\u{fffb}' // interlinear annotation
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = r"D:\USB\UpdatePacks\Pack é 5.00.9132.1000 (ok)";
        assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn line_breaks_and_controls_become_visible() {
        assert_eq!(
            escape("a\nINFO:forged\r\tb\u{0}\u{7f}"),
            r"a\nINFO:forged\r\tb\u{0}\u{7f}"
        );
        assert_eq!(
            escape("\u{1b}[2K\u{1b}[1Aall good"),
            r"\u{1b}[2K\u{1b}[1Aall good"
        );
        // The 8-bit CSI and NEL are C1 controls.
        assert_eq!(escape("x\u{9b}2Ky\u{85}"), r"x\u{9b}2Ky\u{85}");
    }

    #[test]
    fn bidi_overrides_and_invisible_characters_become_visible() {
        assert_eq!(escape("invoice\u{202e}txt.exe"), r"invoice\u{202e}txt.exe");
        assert_eq!(
            escape("\u{2066}a\u{2069}\u{200b}\u{2028}\u{feff}"),
            r"\u{2066}a\u{2069}\u{200b}\u{2028}\u{feff}"
        );
    }

    #[test]
    fn escaped_output_is_one_line_of_visible_text() {
        let every: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = escape(&every);
        assert_eq!(shown.lines().count(), 1);
        assert!(!shown.chars().any(needs_escape));
        assert_eq!(Escaped("a\nb").to_string(), r"a\nb");
    }
}
