//! Atomic, durable file replacement, and the folder primitives behind it on Linux and Windows:
//! a killed process or a power cut leaves either the old file or the new one, never half.
//!
//! The bytes go to a temporary file in the destination folder (so the rename stays on one
//! filesystem), are flushed through a handle open for writing, renamed over the destination, and
//! the folder is flushed too ([`sync_dir`]).
//!
//! Windows has no `fsync` of a folder and no `rename` that flushes by itself, so:
//! - renames go through `MoveFileExW` with `MOVEFILE_WRITE_THROUGH` ("the function does not return
//!   until the file is actually moved on the disk", Microsoft's MoveFileExW reference), with
//!   `MOVEFILE_REPLACE_EXISTING` to replace a file, without it to refuse an existing target;
//! - [`sync_dir`] flushes the folder with `FlushFileBuffers` on a handle opened with
//!   `FILE_FLAG_BACKUP_SEMANTICS` (the only way to open a folder, CreateFileW reference) and
//!   `GENERIC_WRITE` ("the file handle must have the GENERIC_WRITE access right",
//!   FlushFileBuffers reference): NTFS writes the folder's metadata then. A read-only handle is
//!   what failed with "Access denied" before.
//!
//! Paths over 260 characters work: std adds the `\\?\` prefix itself, and the calls made here
//! directly get it from `verbatim`.

use anyhow::Context;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Checks that `dest`'s folder exists and is a folder, naming both in the error, and that no part
/// of the path has a case or Unicode twin beside it ([`crate::core::paths::check_no_twins_on_path`]).
pub fn check_parent(dest: &Path) -> anyhow::Result<&Path> {
    if dest.is_dir() {
        // Said in these words, not as the OS's "Access denied" on replacing a folder.
        return Err(crate::core::error::Error::Usage(format!(
            "`{}` is a folder: give the name of the file to write in it",
            dest.display()
        ))
        .into());
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let meta = fs_err::metadata(parent)
        .with_context(|| format!("Cannot write `{}`: its folder is missing", dest.display()))?;
    if !meta.is_dir() {
        // A destination that is not a folder is a usage error in every stage (it was 3 here).
        let not_a_folder = crate::core::error::Error::NotAFolder {
            path: parent.to_owned(),
        };
        return Err(
            anyhow::Error::from(not_a_folder).context(format!("Cannot write `{}`", dest.display()))
        );
    }
    crate::core::paths::check_no_twins_on_path(dest)?;
    check_destination(dest)?;
    Ok(parent)
}

/// Refuses a destination that exists and is not a regular file: a link (a symlink, junction or
/// other reparse point), a FIFO, a device or a folder. The rename would replace a link rather
/// than write through it, but a link planted where sct writes is an attack or a mistake, and
/// either deserves a clear refusal over silently replacing it. A swap after this check is still
/// harmless: the rename replaces whatever is there, it never follows it.
fn check_destination(dest: &Path) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(dest) else {
        return Ok(());
    };
    if meta.is_file() && !is_reparse_point(&meta) {
        return Ok(());
    }
    let kind = if meta.is_dir() && !is_reparse_point(&meta) {
        "a folder"
    } else if meta.file_type().is_symlink() || is_reparse_point(&meta) {
        "a symlink, junction or other link (sct never writes through or over a link)"
    } else {
        "a FIFO, device or other special file"
    };
    Err(crate::core::error::Error::Rejected(format!(
        "Cannot write `{}`: it is {kind}, not a regular file",
        dest.display()
    ))
    .into())
}

#[cfg(windows)]
fn is_reparse_point(meta: &std::fs::Metadata) -> bool {
    use std::os::windows::fs::MetadataExt;
    meta.file_attributes() & windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_REPARSE_POINT
        != 0
}

#[cfg(not(windows))]
fn is_reparse_point(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Writes `dest` atomically; `fill` writes the content into the temporary file.
pub fn write_with<T>(
    dest: &Path,
    fill: impl FnOnce(&mut File) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let parent = check_parent(dest)?;
    let name = dest
        .file_name()
        .with_context(|| format!("`{}` does not name a file", dest.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(parent)
        .with_context(|| format!("Cannot create a temporary file in `{}`", parent.display()))?;
    set_permissions_like(temp.as_file(), dest);
    let value = fill(temp.as_file_mut())
        .with_context(|| format!("Failed to write `{}`", dest.display()))?;
    temp.as_file_mut()
        .flush()
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("Failed to write `{}`", dest.display()))?;
    // Closed before the rename: Windows cannot replace a file through a rename while it is open.
    let temp = temp.into_temp_path();
    rename_replace(&temp, dest).with_context(|| {
        format!(
            "Failed to move the new file into place as `{}`",
            dest.display()
        )
    })?;
    // Renamed away: nothing is left for the guard to remove.
    let _ = temp.keep();
    let _ = sync_dir(parent);
    Ok(value)
}

/// Gives the new file the permissions of the file it replaces, or 0644 for a new file: a temp
/// file starts at 0600, which would make a carried cab or CSV unreadable to other accounts.
fn set_permissions_like(file: &File, dest: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::symlink_metadata(dest).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (file, dest);
}

/// Writes bytes to `dest` atomically.
pub fn write_bytes(dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_with(dest, |file| Ok(file.write_all(bytes)?))
}

/// Flushes a folder, so the entries in it (renames, new files) survive a power cut: `fsync` on
/// Unix, `FlushFileBuffers` through a write handle on Windows (see the module header). A
/// filesystem that cannot flush folders at all (`EINVAL`; `ERROR_INVALID_FUNCTION` on some
/// network shares) counts as flushed: nothing more can be done there, and on Windows the rename
/// itself was written through. An error names the folder; callers that only want their best
/// ignore it. The one folder flush of the crate: every stage calls it.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    match open_dir_for_flush(dir).and_then(|handle| handle.sync_all()) {
        Err(e) if !flush_unsupported(&e) => {
            Err(anyhow::Error::new(e)
                .context(format!("Failed to flush folder `{}`", dir.display())))
        }
        _ => Ok(()),
    }
}

#[cfg(unix)]
fn open_dir_for_flush(dir: &Path) -> std::io::Result<File> {
    File::open(dir)
}

#[cfg(windows)]
fn open_dir_for_flush(dir: &Path) -> std::io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(windows_sys::Win32::Storage::FileSystem::FILE_FLAG_BACKUP_SEMANTICS)
        .open(dir)
}

fn flush_unsupported(err: &std::io::Error) -> bool {
    #[cfg(unix)]
    let codes = [libc::EINVAL, libc::ENOTSUP];
    #[cfg(windows)]
    let codes = [
        windows_sys::Win32::Foundation::ERROR_INVALID_FUNCTION as i32,
        windows_sys::Win32::Foundation::ERROR_NOT_SUPPORTED as i32,
    ];
    err.raw_os_error().is_some_and(|code| codes.contains(&code))
}

/// Flushes a file's bytes to disk through a handle open for writing (Windows refuses to flush
/// through a read-only one).
pub fn sync_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .sync_all()
}

/// Renames `from` over `to`, replacing a file there; on Windows written through to disk.
pub fn rename_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(windows)]
    {
        use windows_sys::Win32::Storage::FileSystem::{
            MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH,
        };
        move_file(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)
    }
    #[cfg(not(windows))]
    std::fs::rename(from, to)
}

/// Renames `from` to `to`, failing with `AlreadyExists` if `to` exists: even a stray empty folder
/// is never replaced. Linux does it atomically (`renameat2(RENAME_NOREPLACE)`), Windows too
/// (`MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`, written through); elsewhere, or on Linux
/// filesystems without it, the check is separate, which the callers' locks make safe.
pub fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(windows)]
    {
        move_file(
            from,
            to,
            windows_sys::Win32::Storage::FileSystem::MOVEFILE_WRITE_THROUGH,
        )
    }
    #[cfg(not(windows))]
    {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::ffi::OsStrExt;
            let c = |p: &Path| {
                std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other)
            };
            let (old, new) = (c(from)?, c(to)?);
            // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
            let rc = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    old.as_ptr(),
                    libc::AT_FDCWD,
                    new.as_ptr(),
                    libc::RENAME_NOREPLACE,
                )
            };
            if rc == 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
                return Err(err);
            }
        }
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
        }
        std::fs::rename(from, to)
    }
}

#[cfg(windows)]
fn move_file(from: &Path, to: &Path, flags: u32) -> std::io::Result<()> {
    let (from, to) = (verbatim(from)?, verbatim(to)?);
    // SAFETY: both are NUL-terminated UTF-16 strings that outlive the call.
    let ok = unsafe {
        windows_sys::Win32::Storage::FileSystem::MoveFileExW(from.as_ptr(), to.as_ptr(), flags)
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `path` made absolute with the `\\?\` (or `\\?\UNC\`) prefix, as NUL-terminated UTF-16: Win32
/// calls then take paths longer than 260 characters, as std's own calls do.
#[cfg(windows)]
pub fn verbatim(path: &Path) -> std::io::Result<Vec<u16>> {
    use std::os::windows::ffi::OsStrExt;
    let absolute = std::path::absolute(path)?;
    let text: Vec<u16> = absolute.as_os_str().encode_wide().collect();
    let starts = |prefix: &str| {
        let prefix: Vec<u16> = prefix.encode_utf16().collect();
        text.starts_with(&prefix)
    };
    let mut out: Vec<u16> = if starts("\\\\?\\") || starts("\\\\.\\") {
        text
    } else if starts("\\\\") {
        "\\\\?\\UNC\\"
            .encode_utf16()
            .chain(text[2..].iter().copied())
            .collect()
    } else {
        "\\\\?\\".encode_utf16().chain(text).collect()
    };
    out.push(0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::{ExitCode, exit_code};

    #[test]
    fn a_destination_folder_that_is_a_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = check_parent(&file.join("out.cab")).unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Usage, "{err:#}");
        assert!(format!("{err:#}").contains("is not a folder"), "{err:#}");
        let err = check_parent(&dir.path().join("missing/out.cab")).unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Io, "{err:#}");
    }

    #[test]
    fn replaces_existing_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        std::fs::write(&dest, "old").unwrap();
        write_bytes(&dest, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_fill_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        std::fs::write(&dest, "old").unwrap();
        let result: anyhow::Result<()> = write_with(&dest, |file| {
            file.write_all(b"half")?;
            anyhow::bail!("interrupted")
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn rename_replaces_a_file_but_never_a_taken_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "new").unwrap();
        std::fs::write(&b, "old").unwrap();
        let err = rename_no_replace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        rename_replace(&a, &b).unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new");
        assert!(!a.exists());
        let (from, to) = (dir.path().join("staging"), dir.path().join("GUID"));
        std::fs::create_dir(&from).unwrap();
        std::fs::create_dir(&to).unwrap();
        let err = rename_no_replace(&from, &to).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(from.is_dir());
        std::fs::remove_dir(&to).unwrap();
        rename_no_replace(&from, &to).unwrap();
        assert!(to.is_dir() && !from.exists());
    }

    #[test]
    fn folders_and_files_flush() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.part");
        std::fs::write(&file, "x").unwrap();
        sync_file(&file).unwrap();
        sync_dir(dir.path()).unwrap();
    }

    #[test]
    fn long_paths_work() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_owned();
        for i in 0..6 {
            deep.push(format!("{i}-{}", "x".repeat(60)));
        }
        std::fs::create_dir_all(&deep).unwrap();
        let dest = deep.join("catalog.json");
        assert!(dest.as_os_str().len() > 300);
        write_bytes(&dest, b"one").unwrap();
        write_bytes(&dest, b"two").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        sync_dir(&deep).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_or_over_a_link_or_a_special_file() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("site-file");
        std::fs::write(&outside, "keep").unwrap();
        let link = dir.path().join("usagedata.csv");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let dangling = dir.path().join("report.json");
        std::os::unix::fs::symlink(dir.path().join("created-elsewhere"), &dangling).unwrap();
        for dest in [&link, &dangling] {
            let err = write_bytes(dest, b"new").unwrap_err();
            assert_eq!(exit_code(&err), ExitCode::Rejected, "{err:#}");
            assert!(format!("{err:#}").contains("not a regular file"), "{err:#}");
        }
        // A folder where a file goes is the operator's slip (`-usagedatadest D:\USB`), said so.
        let err = write_bytes(dir.path(), b"new").unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Usage, "{err:#}");
        assert!(format!("{err:#}").contains("is a folder"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert!(!dir.path().join("created-elsewhere").exists());
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        let fifo = dir.path().join("pipe");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = write_bytes(&fifo, b"new").unwrap_err();
        assert!(format!("{err:#}").contains("special file"), "{err:#}");
    }

    #[cfg(windows)]
    #[test]
    fn never_writes_over_a_junction() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::create_dir(&target).unwrap();
        let link = dir.path().join("link");
        if std::os::windows::fs::symlink_dir(&target, &link).is_err() {
            return; // creating links needs a privilege this account may not hold
        }
        let err = write_bytes(&link, b"new").unwrap_err();
        assert!(format!("{err:#}").contains("link"), "{err:#}");
    }

    #[test]
    fn missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("nope").join("out.txt");
        let err = write_bytes(&dest, b"x").unwrap_err();
        assert!(format!("{err:#}").contains("its folder is missing"));
    }
}
