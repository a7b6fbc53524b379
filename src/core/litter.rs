//! Operating-system litter: the files and folders that Windows, macOS and their file managers
//! leave on removable media by merely opening a folder (`desktop.ini`, `Thumbs.db`, `.DS_Store`,
//! `._*`, `System Volume Information`, …).
//!
//! An update-pack folder that crossed a desk in Explorer or Finder must still import, so
//! verification and import ignore exactly these names — never copied, never opened, never
//! followed, one note each — while anything else unexpected stays a refusal. Windows names match
//! case-insensitively (as Windows itself does); the macOS names match exactly, as macOS writes them.

use std::ffi::OsStr;

/// Names Windows creates; compared ignoring ASCII case.
const WINDOWS_NAMES: &[&str] = &[
    "desktop.ini",
    "Thumbs.db",
    "System Volume Information",
    "$RECYCLE.BIN",
];

/// Names macOS creates; compared exactly.
const MAC_NAMES: &[&str] = &[".DS_Store", ".Trashes", ".fseventsd", ".Spotlight-V100"];

/// Prefix of macOS's AppleDouble files (`._NAME` beside `NAME` on FAT and exFAT drives).
const APPLE_DOUBLE_PREFIX: &str = "._";

/// True when `name` (one path component) is operating-system litter.
pub fn is_litter(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    WINDOWS_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
        || MAC_NAMES.contains(&name)
        || name.len() > APPLE_DOUBLE_PREFIX.len() && name.starts_with(APPLE_DOUBLE_PREFIX)
}

/// The note printed once for each ignored entry (`relative` uses `/`).
pub fn note(relative: &str) -> String {
    format!("ignored `{relative}`: left by the operating system or a file manager; never copied")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_exactly_these_names() {
        for name in [
            "desktop.ini",
            "Desktop.ini",
            "DESKTOP.INI",
            "Thumbs.db",
            "thumbs.db",
            "System Volume Information",
            "system volume information",
            "$RECYCLE.BIN",
            "$Recycle.Bin",
            ".DS_Store",
            "._8576527E-DDE9-4146-8ED9-DB91091C38EF.cab",
            "._x",
            ".Trashes",
            ".fseventsd",
            ".Spotlight-V100",
        ] {
            assert!(is_litter(OsStr::new(name)), "{name}");
        }
        for name in [
            "._",
            ".ds_store",
            ".DS_STORE",
            ".trashes",
            ".Spotlight-v100",
            "desktop.ini.txt",
            "Thumbs.db:encryptable",
            "xThumbs.db",
            "System Volume",
            "RECYCLE.BIN",
            "$RECYCLE.BIN2",
            "catalog.json",
            "UsageData.cab",
            "8576527E-DDE9-4146-8ED9-DB91091C38EF",
            "notes.txt",
            "",
        ] {
            assert!(!is_litter(OsStr::new(name)), "{name}");
        }
    }
}
