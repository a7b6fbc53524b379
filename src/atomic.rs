//! Atomic file replacement: a killed process leaves either the old file or the new one, never half.
//!
//! The bytes go to a temporary file in the destination folder (so the rename stays on one
//! filesystem), are fsynced, renamed over the destination, and the folder entry is fsynced too.

use anyhow::Context;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Checks that `dest`'s folder exists and is a folder, naming both in the error.
pub fn check_parent(dest: &Path) -> anyhow::Result<&Path> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let meta = fs_err::metadata(parent)
        .with_context(|| format!("Cannot write `{}`: its folder is missing", dest.display()))?;
    if !meta.is_dir() {
        anyhow::bail!(
            "Cannot write `{}`: `{}` is not a folder",
            dest.display(),
            parent.display()
        );
    }
    Ok(parent)
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
    temp.persist(dest).map_err(|e| e.error).with_context(|| {
        format!(
            "Failed to move the new file into place as `{}`",
            dest.display()
        )
    })?;
    sync_dir(parent);
    Ok(value)
}

/// Gives the new file the permissions of the file it replaces, or 0644 for a new file: a temp
/// file starts at 0600, which would make a carried cab or CSV unreadable to other accounts.
fn set_permissions_like(file: &File, dest: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (file, dest);
}

/// Writes bytes to `dest` atomically.
pub fn write_bytes(dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_with(dest, |file| Ok(file.write_all(bytes)?))
}

/// Makes a rename durable by syncing the folder entry. Best effort: not every filesystem allows it.
pub fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("nope").join("out.txt");
        let err = write_bytes(&dest, b"x").unwrap_err();
        assert!(format!("{err:#}").contains("its folder is missing"));
    }
}
