//! Member names as the cabinet stores them, decoded by the format's rule.
//!
//! A cab member name is bytes. With the `_A_NAME_IS_UTF` attribute (0x80) they are UTF-8; without
//! it they are in the code page of the Windows that wrote them (makecab, older tools), which for
//! the Western-European Windows the tools were written on is Windows-1252. The `cab` crate turns
//! every name into UTF-8 lossily, so `café.txt` written by such a tool became `caf\u{FFFD}.txt`
//! here while cabextract, 7-Zip and Windows itself keep it. This module reads the names' bytes
//! from the cab's directory (CFFILE entries) and decodes each by its flag: Windows-1252 maps each
//! of the 256 bytes to its own character, so a decoded name encodes back to the same bytes
//! (round-trippable) and no two different names become one.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

/// `_A_NAME_IS_UTF`: the name is UTF-8.
const NAME_IS_UTF: u16 = 0x80;
/// The longest name the format allows, NUL included.
const MAX_NAME: u64 = 256;

/// The decoded name of each member, keyed by the name the `cab` crate gives it.
#[derive(Debug, Default)]
pub struct Names {
    by_crate_name: HashMap<String, Vec<String>>,
}

impl Names {
    /// Reads the directory of the cab in `file` (from its start); `None` when it cannot be read,
    /// in which case the `cab` crate's own parse reports the damage.
    pub fn read(file: impl Read + Seek) -> Option<Self> {
        let mut file = BufReader::new(file);
        file.seek(SeekFrom::Start(0)).ok()?;
        let mut header = [0u8; 36];
        file.read_exact(&mut header).ok()?;
        if &header[..4] != b"MSCF" {
            return None;
        }
        let files_at = u32::from_le_bytes(header[16..20].try_into().ok()?);
        let count = u16::from_le_bytes(header[28..30].try_into().ok()?);
        file.seek(SeekFrom::Start(u64::from(files_at))).ok()?;
        let mut names = Names::default();
        for _ in 0..count {
            let mut fixed = [0u8; 16];
            file.read_exact(&mut fixed).ok()?;
            let attributes = u16::from_le_bytes([fixed[14], fixed[15]]);
            let mut raw = Vec::new();
            (&mut file).take(MAX_NAME).read_until(0, &mut raw).ok()?;
            if raw.pop() != Some(0) {
                return None;
            }
            let decoded = decode(&raw, attributes & NAME_IS_UTF != 0);
            let crate_name = String::from_utf8_lossy(&raw).into_owned();
            let same = names.by_crate_name.entry(crate_name).or_default();
            if !same.contains(&decoded) {
                same.push(decoded);
            }
        }
        Some(names)
    }

    /// The member's name as the format says, from the name the `cab` crate gives it; the crate's
    /// own when the directory could not be read.
    pub fn decoded(&self, crate_name: &str) -> String {
        match self.by_crate_name.get(crate_name).map(Vec::as_slice) {
            Some([only]) => only.clone(),
            _ => crate_name.to_owned(),
        }
    }

    /// A name the `cab` crate cannot tell from another (two different non-UTF-8 names that it
    /// decodes to one): reading either would give the first's bytes, so such a cab is refused.
    pub fn ambiguous(&self) -> Option<String> {
        self.by_crate_name
            .values()
            .find(|names| names.len() > 1)
            .map(|names| names.join("`, `"))
    }
}

/// A name's bytes by its `_A_NAME_IS_UTF` flag. Bytes that are valid UTF-8 are read as UTF-8
/// even without the flag (some writers, gcab among them, leave it out), since a Windows-1252 name
/// is almost never also valid UTF-8; two different byte strings that read as one name are then
/// refused as a repeated name, like any twin.
fn decode(raw: &[u8], utf: bool) -> String {
    match std::str::from_utf8(raw) {
        Ok(text) => text.to_owned(),
        Err(_) if utf => String::from_utf8_lossy(raw).into_owned(),
        Err(_) => crate::core::text::windows_1252(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decode_by_their_flag_and_round_trip() {
        assert_eq!(decode(b"caf\xE9.txt", false), "café.txt");
        assert_eq!(decode("café.txt".as_bytes(), true), "café.txt");
        assert_eq!(decode(b"plain.txt", false), "plain.txt");
        assert_eq!(decode("café.txt".as_bytes(), false), "café.txt");
        // Every byte is its own character: the name encodes back to the same bytes.
        let every: Vec<u8> = (1..=255).rev().collect();
        let text = decode(&every, false);
        let (back, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
        assert!(!lossy);
        assert_eq!(&back[..], &every[..]);
    }
}
