//! Names that come from outside (cab members, catalog file paths) are hostile until proven to be
//! plain relative paths that stay inside their target folder on Windows and on Unix.

use crate::error::{ExitCode, fail};
use std::path::PathBuf;

/// Longest accepted name, in bytes: below every filesystem's path limit once joined to a folder.
pub const MAX_NAME_LEN: usize = 512;
/// Longest accepted single component, in bytes (NTFS and ext4 both stop at 255).
pub const MAX_COMPONENT_LEN: usize = 255;

/// Which separator a name format uses between folders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Separator {
    /// Cabinet files separate folders with `\` (the format's rule); `/` is refused.
    Backslash,
    /// sct catalogs separate folders with `/`; `\` is refused.
    Slash,
}

/// Names Windows reserves in every folder, whatever the extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Checks a name and returns it as a relative path built from its components.
///
/// Refused: empty names, NUL and control characters, absolute paths, drive letters (`C:`),
/// UNC paths, the other separator, `.`/`..`/empty components, Windows reserved device names,
/// trailing dots or spaces, and overlong names.
pub fn safe_relative(name: &str, separator: Separator) -> anyhow::Result<PathBuf> {
    check(name, separator).map_err(|why| {
        fail(
            ExitCode::Rejected,
            format!("unsafe name `{}`: {why}", name.escape_debug()),
        )
    })
}

fn check(name: &str, separator: Separator) -> Result<PathBuf, &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("it is longer than 512 bytes");
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("it contains a NUL or control character");
    }
    let (sep, other) = match separator {
        Separator::Backslash => ('\\', '/'),
        Separator::Slash => ('/', '\\'),
    };
    if name.contains(other) {
        return Err(match separator {
            Separator::Backslash => "cabinet names separate folders with `\\`, not `/`",
            Separator::Slash => "it contains a backslash",
        });
    }
    if name.starts_with(sep) {
        return Err("it is an absolute path");
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err("it starts with a drive letter");
    }
    if name.contains(':') {
        return Err("it contains `:` (a drive or an NTFS stream)");
    }
    let mut path = PathBuf::new();
    for component in name.split(sep) {
        check_component(component)?;
        path.push(component);
    }
    Ok(path)
}

fn check_component(component: &str) -> Result<(), &'static str> {
    match component {
        "" => return Err("it has an empty folder name"),
        "." | ".." => return Err("it climbs out of its folder with `.` or `..`"),
        _ => {}
    }
    if component.len() > MAX_COMPONENT_LEN {
        return Err("a part of it is longer than 255 bytes");
    }
    if component.ends_with('.') || component.ends_with(' ') {
        return Err("a part of it ends with a dot or a space, which Windows drops");
    }
    let stem = component.split('.').next().unwrap_or("").trim_end();
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return Err("a part of it is a Windows device name");
    }
    if component
        .chars()
        .any(|c| matches!(c, '<' | '>' | '"' | '|' | '?' | '*'))
    {
        return Err("it contains a character Windows forbids in names");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        assert_eq!(
            safe_relative("Redist\\SQLSysClrTypes.msi", Separator::Backslash).unwrap(),
            PathBuf::from("Redist/SQLSysClrTypes.msi")
        );
        assert!(safe_relative("a/b/c.cab", Separator::Slash).is_ok());
        assert!(safe_relative("UsageData.json", Separator::Backslash).is_ok());
    }

    #[test]
    fn hostile_names_fail() {
        let cases = [
            "",
            "..",
            "../etc/passwd",
            "a/../../b",
            "/etc/passwd",
            "C:/Windows/x",
            "c:evil",
            "//server/share/x",
            "a\\b",
            "a\0b",
            "a/./b",
            "a//b",
            "CON",
            "nul.txt",
            "trailing.",
            "space ",
            "x?y",
            "file.txt:stream",
        ];
        for case in cases {
            assert!(safe_relative(case, Separator::Slash).is_err(), "{case:?}");
        }
        let long = "a".repeat(300);
        assert!(safe_relative(&long, Separator::Slash).is_err());
        assert!(safe_relative(&"a/".repeat(300), Separator::Slash).is_err());
    }

    #[test]
    fn cab_names_refuse_slash_and_traversal() {
        for case in ["..\\x", "\\abs", "\\\\server\\share", "a/b", "C:\\x"] {
            assert!(
                safe_relative(case, Separator::Backslash).is_err(),
                "{case:?}"
            );
        }
    }
}
