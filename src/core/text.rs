//! Text files as Windows editors save them: `sct.toml` edited in Notepad on Server 2016/2019 is
//! saved in the system's ANSI code page by default, as "Unicode" (UTF-16 LE with a byte-order
//! mark) on request, and PowerShell 5.1's `Out-File` and `>` write UTF-16 too. Each is read as
//! what it is, so an administrator's edit never stops the tool with "stream did not contain valid
//! UTF-8".
//!
//! The rule: a byte-order mark names the encoding (UTF-8, UTF-16 LE, UTF-16 BE); without one the
//! bytes are UTF-8 when they are valid UTF-8, else the system's ANSI code page (on Windows the
//! one `GetACP` names, through `MultiByteToWideChar(CP_ACP)`; elsewhere Windows-1252, the code
//! page of Western-European Windows, since a file that is not UTF-8 most likely came from there).

use std::borrow::Cow;

/// The encoding a text file was read in, for messages and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    /// The system's ANSI code page (Windows-1252 off Windows).
    Ansi,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Utf16Le => "UTF-16 LE",
            Encoding::Utf16Be => "UTF-16 BE",
            Encoding::Ansi => "the ANSI code page",
        })
    }
}

/// Why bytes could not be read as text.
#[derive(Debug, thiserror::Error)]
#[error("the file starts with a {0} byte-order mark but is not valid {0}")]
pub struct NotText(Encoding);

/// Decodes a whole text file by the rule in the module header.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Encoding), NotText> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        let text = std::str::from_utf8(rest).map_err(|_| NotText(Encoding::Utf8Bom))?;
        return Ok((Cow::Borrowed(text), Encoding::Utf8Bom));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, Encoding::Utf16Le, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, Encoding::Utf16Be, u16::from_be_bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((Cow::Borrowed(text), Encoding::Utf8)),
        Err(_) => Ok((Cow::Owned(ansi(bytes)), Encoding::Ansi)),
    }
}

/// UTF-16 after its byte-order mark; an odd length or an unpaired surrogate is refused.
fn utf16(
    bytes: &[u8],
    encoding: Encoding,
    unit: fn([u8; 2]) -> u16,
) -> Result<(Cow<'static, str>, Encoding), NotText> {
    if !bytes.len().is_multiple_of(2) {
        return Err(NotText(encoding));
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let text = char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| NotText(encoding))?;
    Ok((Cow::Owned(text), encoding))
}

// `MultiByteToWideChar` (kernel32), declared here rather than through a windows-sys feature:
// a new feature there would rebuild every crate of the Windows tree that depends on it.
#[cfg(windows)]
#[link(name = "kernel32")]
unsafe extern "system" {
    fn MultiByteToWideChar(
        code_page: u32,
        flags: u32,
        multi_byte: *const u8,
        multi_byte_len: i32,
        wide: *mut u16,
        wide_len: i32,
    ) -> i32;
}

/// Bytes in the system's ANSI code page.
#[cfg(windows)]
pub fn ansi(bytes: &[u8]) -> String {
    /// The system's ANSI code page, as `GetACP` names it.
    const CP_ACP: u32 = 0;
    let Ok(len) = i32::try_from(bytes.len()) else {
        return windows_1252(bytes);
    };
    if len == 0 {
        return String::new();
    }
    // SAFETY: the input pointer and length describe `bytes`; the first call only measures, the
    // second writes at most `wide.len()` units into `wide`.
    let wide = unsafe {
        let needed = MultiByteToWideChar(CP_ACP, 0, bytes.as_ptr(), len, std::ptr::null_mut(), 0);
        if needed <= 0 {
            return windows_1252(bytes);
        }
        let mut wide = vec![0u16; needed as usize];
        let written =
            MultiByteToWideChar(CP_ACP, 0, bytes.as_ptr(), len, wide.as_mut_ptr(), needed);
        wide.truncate(written.max(0) as usize);
        wide
    };
    String::from_utf16_lossy(&wide)
}

/// Bytes in the system's ANSI code page: Windows-1252 off Windows (see the module header).
#[cfg(not(windows))]
pub fn ansi(bytes: &[u8]) -> String {
    windows_1252(bytes)
}

/// Bytes in Windows-1252, every byte a character (none is refused).
pub fn windows_1252(bytes: &[u8]) -> String {
    encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "# sct.toml — réglages\nsite = 'sqlite:C:\\sct\\site.db'\n";

    fn utf16(text: &str, unit: fn(u16) -> [u8; 2], bom: &[u8]) -> Vec<u8> {
        let mut bytes = bom.to_vec();
        bytes.extend(text.encode_utf16().flat_map(unit));
        bytes
    }

    #[test]
    fn reads_every_form_notepad_and_powershell_save() {
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(LINE.as_bytes());
        let le = utf16(LINE, u16::to_le_bytes, b"\xFF\xFE");
        let be = utf16(LINE, u16::to_be_bytes, b"\xFE\xFF");
        let (ansi_bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(LINE);
        assert!(!lossy);
        for (bytes, encoding) in [
            (LINE.as_bytes(), Encoding::Utf8),
            (&bom[..], Encoding::Utf8Bom),
            (&le[..], Encoding::Utf16Le),
            (&be[..], Encoding::Utf16Be),
        ] {
            assert_eq!(decode(bytes).unwrap(), (Cow::Borrowed(LINE), encoding));
        }
        // Off Windows the ANSI code page is Windows-1252 (the unit tests run on Linux).
        let (text, encoding) = decode(&ansi_bytes).unwrap();
        assert_eq!(encoding, Encoding::Ansi);
        if cfg!(not(windows)) {
            assert_eq!(text, LINE);
        }
    }

    #[test]
    fn broken_utf16_is_refused_by_name() {
        let odd = b"\xFF\xFEs\x00i";
        let err = decode(odd).unwrap_err();
        assert!(err.to_string().contains("UTF-16 LE"), "{err}");
        let unpaired = b"\xFF\xFE\x00\xD8a\x00";
        assert!(decode(unpaired).is_err());
        assert!(decode(b"\xEF\xBB\xBF\xFF").is_err());
    }
}
