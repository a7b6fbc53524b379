//! Names that come from outside (cab members, catalog file paths, entries on the medium) are
//! hostile until proven to be plain relative paths that stay inside their target folder on
//! Windows and on Unix, and path flags are checked the same way before any work starts.
//!
//! The rules are the same on every platform, because the files travel to Windows: a name that
//! Windows would open as a device (`CON`, `COM¹`, `CONIN$`), trim (`a.`), read as a stream
//! (`a:b`) or merge with another name (`a`/`A`, `é` in NFC and NFD) is refused everywhere.

use crate::core::error::Error;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

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

/// Names Windows reserves in every folder, whatever the extension: Microsoft's "Naming Files,
/// Paths, and Namespaces" lists CON, PRN, AUX, NUL, COM0–9, LPT0–9 and the superscript digits
/// ¹²³ after COM and LPT; CONIN$, CONOUT$ and CLOCK$ are devices too.
const RESERVED: &[&str] = &[
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CONIN$",
    "CONOUT$",
    "CLOCK$",
    "COM0",
    "COM1",
    "COM2",
    "COM3",
    "COM4",
    "COM5",
    "COM6",
    "COM7",
    "COM8",
    "COM9",
    "COM\u{b9}",
    "COM\u{b2}",
    "COM\u{b3}",
    "LPT0",
    "LPT1",
    "LPT2",
    "LPT3",
    "LPT4",
    "LPT5",
    "LPT6",
    "LPT7",
    "LPT8",
    "LPT9",
    "LPT\u{b9}",
    "LPT\u{b2}",
    "LPT\u{b3}",
];

/// Checks a name and returns it as a relative path built from its components.
///
/// Refused: empty names, NUL, control and bidirectional-text characters, absolute paths, drive
/// letters (`C:`), UNC paths, the other separator, `.`/`..`/empty components, Windows reserved
/// device names, trailing dots or spaces, and overlong names.
pub fn safe_relative(name: &str, separator: Separator) -> anyhow::Result<PathBuf> {
    check(name, separator).map_err(|why| {
        Error::Rejected(format!("unsafe name `{}`: {why}", name.escape_debug())).into()
    })
}

fn check(name: &str, separator: Separator) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err("it is longer than 512 bytes".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("it contains a NUL or control character".into());
    }
    if name.chars().any(is_bidi_control) {
        return Err(
            "it contains a bidirectional-text control, which makes a name read as another".into(),
        );
    }
    let (sep, other) = match separator {
        Separator::Backslash => ('\\', '/'),
        Separator::Slash => ('/', '\\'),
    };
    if name.contains(other) {
        return Err(match separator {
            Separator::Backslash => "cabinet names separate folders with `\\`, not `/`",
            Separator::Slash => "it contains a backslash",
        }
        .into());
    }
    if name.starts_with(sep) {
        return Err("it is an absolute path".into());
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err("it starts with a drive letter".into());
    }
    let mut path = PathBuf::new();
    for component in name.split(sep) {
        check_component(component)?;
        path.push(component);
    }
    Ok(path)
}

/// The characters that reorder how text is shown (Unicode's bidirectional embeddings, overrides,
/// isolates and marks): `invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`. No name a catalog or
/// cab legitimately carries needs them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn check_component(component: &str) -> Result<(), String> {
    match component {
        "" => return Err("it has an empty folder name".into()),
        "." | ".." => return Err("it climbs out of its folder with `.` or `..`".into()),
        _ => {}
    }
    if component.len() > MAX_COMPONENT_LEN {
        return Err("a part of it is longer than 255 bytes".into());
    }
    check_windows_name(component).map_err(|why| format!("a part of it {why}"))
}

/// The rules one folder or file name must meet to mean the same thing on Windows; the reason
/// completes "a part of it …".
fn check_windows_name(component: &str) -> Result<(), &'static str> {
    if component.ends_with('.') || component.ends_with(' ') {
        return Err("ends with a dot or a space, which Windows drops");
    }
    if is_device_name(component) {
        return Err("is a Windows device name");
    }
    if component.contains(':') {
        return Err("contains `:` (a drive or an NTFS stream)");
    }
    if component
        .chars()
        .any(|c| matches!(c, '<' | '>' | '"' | '|' | '?' | '*'))
    {
        return Err("contains a character Windows forbids in names");
    }
    Ok(())
}

/// True for a name Windows opens as a device, with or without an extension (`nul.txt`, `COM1 .x`).
pub fn is_device_name(component: &str) -> bool {
    let stem = component.split('.').next().unwrap_or("").trim_end();
    RESERVED.iter().any(|r| {
        r.chars().count() == stem.chars().count()
            && r.chars()
                .zip(stem.chars())
                .all(|(a, b)| a.eq_ignore_ascii_case(&b))
    })
}

/// The key under which two names are the same name somewhere on their way: Windows folds case
/// (`a.cab`/`A.CAB`), macOS and copy tools fold Unicode normalisation (`é` as one code point or
/// as `e` + accent), and full-width or compatibility forms read the same to an operator. The key
/// is NFKC, upper- then lower-cased (so `ß`/`SS`/`ss` meet), then NFKC again.
pub fn fold_key(name: &str) -> String {
    let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
    let once = nfkc.normalize(name);
    let folded = once.to_uppercase().to_lowercase();
    nfkc.normalize(&folded).into_owned()
}

/// Remembers names and refuses one that folds onto an earlier one (see [`fold_key`]).
#[derive(Default)]
pub struct TwinCheck {
    seen: std::collections::HashMap<String, String>,
}

impl TwinCheck {
    /// `Err(earlier)` when `name` is the same name as an earlier one (including itself again).
    pub fn insert(&mut self, name: &str) -> Result<(), String> {
        match self.seen.entry(fold_key(name)) {
            std::collections::hash_map::Entry::Occupied(e) => Err(e.get().clone()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(name.to_owned());
                Ok(())
            }
        }
    }
}

/// A catalog's relative path (`GUID/Redist/ReportViewer.msi`, always with `/`) as a person on
/// this system writes it: with `\` on Windows, so no message mixes `/` into a Windows path.
/// Documents keep the catalog's form.
pub fn native(relative: &str) -> std::borrow::Cow<'_, str> {
    if cfg!(windows) {
        std::borrow::Cow::Owned(relative.replace('/', "\\"))
    } else {
        std::borrow::Cow::Borrowed(relative)
    }
}

/// Checks a path given in a flag (`--dest`, `-updatepackdest`, …) before any work starts, on
/// every stage: use it as the clap `value_parser`, so a refusal is a usage error (exit 2) that
/// names the flag. Refused: a path of the other platform's form (`D:\USB` or `\\server\share`
/// on Linux, `/media/usb` on Windows), and any part Windows cannot hold as named (device names,
/// trailing dots or spaces, `:` streams, forbidden characters). `-` (stdin or stdout) passes.
pub fn path_flag(value: &str) -> Result<PathBuf, String> {
    check_path_flag(value)?;
    Ok(PathBuf::from(value))
}

fn check_path_flag(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.chars().any(|c| c.is_control()) {
        return Err("it contains a control character".into());
    }
    if value == "-" {
        return Ok(());
    }
    if value.contains('"') {
        return Err(SWALLOWED_QUOTE.into());
    }
    check_platform_form(value)?;
    for component in Path::new(value).components() {
        if let Component::Normal(name) = component {
            let name = name.to_string_lossy();
            check_windows_name(&name).map_err(|why| format!("its part `{name}` {why}"))?;
        }
    }
    Ok(())
}

/// Why a path holding `"` is refused: cmd.exe (and every Windows program's argument parser)
/// reads `\"` as a literal quote, so `-UsageDataSrc "D:\USB\" -UpdatePackDest D:\Packs` arrives
/// as one value, `D:\USB" -UpdatePackDest D:\Packs`, and the flags after it are lost.
const SWALLOWED_QUOTE: &str = "it contains `\"`: a folder written as \"D:\\USB\\\" ends in \\\", which \
    Windows reads as a quote mark inside the value, so the closing quote and everything after it \
    became part of this path; leave out the final backslash (\"D:\\USB\") or the quotes (D:\\USB\\)";

/// A Windows path on a Unix build: a drive letter or a backslash (which Linux keeps in the name).
#[cfg(not(windows))]
fn check_platform_form(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(format!(
            "it is a Windows path (drive {}:); on this system give a path such as /media/usb",
            value[..1].to_ascii_uppercase()
        ));
    }
    if value.contains('\\') {
        return Err(
            "it contains `\\`, which separates folders only on Windows; on this system folders are separated by `/`"
                .into(),
        );
    }
    Ok(())
}

/// A Unix path on the Windows build: `/media/usb` would silently mean `\media\usb` on the
/// current drive, and `~` is not expanded. Drive letters, UNC and `\\?\` paths pass; device
/// paths (`\\.\COM1`) do not.
#[cfg(windows)]
fn check_platform_form(value: &str) -> Result<(), String> {
    use std::path::Prefix;
    let unix_root = value.starts_with('/') && !value.starts_with("//");
    if unix_root || value.starts_with("~/") || value == "~" {
        return Err(
            "it is a Linux path; give a Windows path such as D:\\USB or \\\\server\\share\\USB"
                .into(),
        );
    }
    if let Some(Component::Prefix(prefix)) = Path::new(value).components().next()
        && matches!(prefix.kind(), Prefix::DeviceNS(_))
    {
        return Err("it is a device path; give a folder or file such as D:\\USB".into());
    }
    Ok(())
}

/// Refuses a path where an existing part has a twin beside it that differs only in case or
/// Unicode form (`USB/UpdatePacks` beside `USB/updatepacks`): on Windows both are one folder,
/// so which one is meant is unclear. Parts that cannot be listed are not judged.
pub fn check_no_twins_on_path(path: &Path) -> anyhow::Result<()> {
    let Ok(absolute) = std::path::absolute(path) else {
        return Ok(());
    };
    for at in absolute.ancestors() {
        let (Some(parent), Some(name)) = (at.parent(), at.file_name()) else {
            continue;
        };
        if let Some(twin) = twin_beside(parent, name) {
            return Err(Error::Rejected(format!(
                    "`{}` has a twin beside it, `{}`, that differs only in case or Unicode form; on Windows they are one name, so rename or remove one of them",
                    at.display(),
                    parent.join(twin).display()
                )).into());
        }
    }
    Ok(())
}

/// Another entry of `parent` whose name folds onto `name`, if any (streamed: no list is kept).
/// A single entry spelled otherwise is no twin when `name` opens it (a case-insensitive folder,
/// as on Windows: `LOCKDEST` is `lockdest`); where `name` does not open it, using `name` would
/// create the twin.
fn twin_beside(parent: &Path, name: &OsStr) -> Option<std::ffi::OsString> {
    let key = fold_key(&name.to_string_lossy());
    let entries = std::fs::read_dir(parent).ok()?;
    let (mut exact, mut others) = (false, Vec::new());
    for entry in entries.filter_map(Result::ok) {
        let other = entry.file_name();
        if other == name {
            exact = true;
        } else if fold_key(&other.to_string_lossy()) == key {
            others.push(other);
            if others.len() > 1 {
                break;
            }
        }
    }
    let same_entry = others.len() == 1 && !exact && parent.join(name).exists();
    if same_entry { None } else { others.pop() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    #[test]
    fn catalog_paths_are_shown_with_the_systems_separator() {
        let shown = native("8576527E/Redist/ReportViewer.msi");
        let expected = if cfg!(windows) {
            "8576527E\\Redist\\ReportViewer.msi"
        } else {
            "8576527E/Redist/ReportViewer.msi"
        };
        assert_eq!(shown, expected);
    }

    #[test]
    fn a_swallowed_quote_is_explained() {
        let err = path_flag("D:\\USB\" -UpdatePackDest D:\\USB\\UpdatePacks").unwrap_err();
        assert!(err.contains("leave out the final backslash"), "{err}");
    }

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
            "COM0",
            "lpt0.log",
            "COM\u{b9}",
            "lpt\u{b3}.txt",
            "CONIN$",
            "conout$.txt",
            "a/AUX .txt",
            "a/dir./b",
            "invoice\u{202E}fdp.exe",
            "a/\u{2067}b",
            "x\u{200F}.cab",
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

    #[test]
    fn device_names_need_the_whole_stem() {
        for name in [
            "CONSOLE",
            "COM10",
            "LPT",
            "nul_",
            "COM\u{b9}0",
            "auxiliary.txt",
        ] {
            assert!(!is_device_name(name), "{name}");
        }
        for name in ["con", "Nul.tar.gz", "COM\u{b2}", "clock$"] {
            assert!(is_device_name(name), "{name}");
        }
    }

    #[test]
    fn twins_fold_case_and_unicode_form() {
        let mut twins = TwinCheck::default();
        twins.insert("G/Caf\u{e9}.cab").unwrap();
        // NFD (e + combining acute), upper case, and both at once.
        assert!(twins.insert("G/Cafe\u{301}.cab").is_err());
        assert!(twins.insert("g/CAF\u{c9}.CAB").is_err());
        assert!(twins.insert("G/CAFE\u{301}.cab").is_err());
        assert!(twins.insert("G/Cafe.cab").is_ok());
        twins.insert("Stra\u{df}e").unwrap();
        assert!(twins.insert("STRASSE").is_err());
        assert_eq!(
            twins.insert("G/caf\u{e9}.cab").unwrap_err(),
            "G/Caf\u{e9}.cab",
            "names the earlier one"
        );
    }

    #[test]
    fn path_flags_take_this_platform_s_paths() {
        for ok in [
            "UpdatePacks",
            "-",
            "usb/UpdatePacks",
            "../x/UsageData.cab",
            ".hidden",
        ] {
            assert!(path_flag(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "usb/CON/x",
            "usb/nul.txt",
            "usb/x.cab:evil",
            "usb/dir./x",
            "a\tb",
            "x?",
        ] {
            assert!(path_flag(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn windows_paths_are_refused_on_unix() {
        for bad in [
            "D:\\USB\\UsageData.cab",
            "d:/USB",
            "C:",
            "\\\\server\\share\\USB",
            "usb\\UpdatePacks",
        ] {
            let why = path_flag(bad).unwrap_err();
            assert!(why.contains("Windows"), "{bad}: {why}");
        }
        assert!(path_flag("/media/usb/UpdatePacks").is_ok());
    }

    #[cfg(windows)]
    #[test]
    fn unix_paths_are_refused_on_windows() {
        for bad in ["/media/usb", "~/usb", "\\\\.\\COM1"] {
            assert!(path_flag(bad).is_err(), "{bad}");
        }
        for ok in [
            "D:\\USB\\UsageData.cab",
            "\\\\server\\share\\USB",
            "\\\\?\\D:\\USB",
            "D:/USB",
            "\\USB",
        ] {
            assert!(path_flag(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_twin_beside_a_folder_on_the_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let packs = dir.path().join("usb").join("UpdatePacks");
        std::fs::create_dir_all(&packs).unwrap();
        check_no_twins_on_path(&packs.join("not-yet")).unwrap();
        // Another spelling of the one folder is no twin where the filesystem folds case, and
        // would create one where it does not.
        let other_spelling = dir.path().join("USB").join("updatepacks");
        assert_eq!(
            check_no_twins_on_path(&other_spelling).is_ok(),
            other_spelling.exists()
        );
        if std::fs::create_dir(dir.path().join("usb").join("updatepacks")).is_err() {
            return; // a case-insensitive filesystem cannot hold the twin at all
        }
        let err = check_no_twins_on_path(&packs.join("not-yet")).unwrap_err();
        assert!(format!("{err}").contains("twin"), "{err}");
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
    }
}
