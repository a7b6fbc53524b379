//! The site's inbox, `<install dir>/EasySetupPayload/offline/`, and how packs enter it.
//!
//! A pack becomes visible under its final name `offline/<PackageGuid>/` in one `rename`, never
//! file by file:
//!
//! 1. every file is copied into `offline/.sct-staging.<GUID>.<pid>/` (same filesystem), hashing
//!    the bytes as they are written and checking size and SHA-256 against the signed catalog;
//! 2. the files and folders of the staging folder are fsynced;
//! 3. the staging folder is renamed to `offline/<GUID>` and the inbox folder is fsynced.
//!
//! A crash leaves at most a staging folder, which the next import removes under the lock. Only
//! one import works on an inbox at a time: the lock is `offline/.sct-import.lock` (an advisory
//! `flock`, released by the kernel when the process dies, even by SIGKILL).

use crate::core::catalog::{Pack, PackFile};
use crate::core::error::Error;
use crate::core::packdir::PackDir;
use crate::core::report::Progress;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the inbox.
pub const LOCK_FILE: &str = ".sct-import.lock";
/// Prefix of staging folders inside the inbox.
pub const STAGING_PREFIX: &str = ".sct-staging.";
/// Copy buffer: large enough for disk speed, small enough to keep memory bounded.
const COPY_CHUNK: usize = 4 * 1024 * 1024;

/// The inbox folder of a site.
#[derive(Clone, Debug)]
pub struct Inbox {
    pub root: PathBuf,
}

/// Whether a pack is already in the inbox under its final name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    Absent,
    /// Present with exactly the catalog's files, sizes and hashes.
    Identical,
    /// Something else holds the name; the text says what differs.
    Different(String),
}

/// The held inbox lock; dropping it (or the process dying) releases it.
pub struct InboxLock {
    _held: crate::core::lock::Lock,
}

impl Inbox {
    /// The inbox of a site installed in `install_dir`.
    pub fn of_install_dir(install_dir: &Path) -> Self {
        Self {
            root: install_dir.join("EasySetupPayload").join("offline"),
        }
    }

    /// The inbox folder itself, `<install dir>/EasySetupPayload/offline`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The final folder of a pack.
    pub fn pack_dir(&self, pack: &Pack) -> PathBuf {
        self.root.join(pack_folder(pack))
    }

    /// Creates the inbox folder if needed, durably: a power cut must not take away a folder whose
    /// packs the database already lists.
    pub fn ensure(&self) -> anyhow::Result<()> {
        if self.root.is_dir() {
            return Ok(());
        }
        fs_err::create_dir_all(&self.root).map_err(|e| {
            io_fail(
                format!("Cannot create the site inbox `{}`", self.root.display()),
                e,
            )
        })?;
        for folder in self.root.ancestors().skip(1).take(2) {
            let _ = crate::core::atomic::sync_dir(folder);
        }
        Ok(())
    }

    /// Takes the inbox lock. When another import holds it: waits if `wait` (calling `on_wait`
    /// first, so the operator knows why nothing happens), else fails with exit code 3.
    pub fn lock(&self, wait: bool, on_wait: impl FnOnce(&Path)) -> anyhow::Result<InboxLock> {
        let path = self.root.join(LOCK_FILE);
        let locked = |e| io_fail(format!("Failed to lock `{}`", path.display()), e);
        let held = match crate::core::lock::try_lock_file(&path).map_err(locked)? {
            Some(held) => held,
            None if wait => {
                on_wait(&path);
                crate::core::lock::lock_file(&path).map_err(locked)?
            }
            None => {
                return Err(Error::LockHeld {
                    holder: "import",
                    what: "the inbox",
                    path,
                }
                .into());
            }
        };
        Ok(InboxLock { _held: held })
    }

    /// Removes staging folders left by an import that died; call with the lock held.
    pub fn clean_staging(&self, _lock: &InboxLock) -> anyhow::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for entry in fs_err::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with(STAGING_PREFIX) {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                fs_err::remove_dir_all(&path)?;
            } else {
                fs_err::remove_file(&path)?;
            }
            removed.push(path);
        }
        if !removed.is_empty() {
            let _ = crate::core::atomic::sync_dir(&self.root);
        }
        Ok(removed)
    }

    /// Compares what holds the pack's final name with the catalog; never follows a symlink.
    pub fn presence(&self, pack: &Pack) -> anyhow::Result<Presence> {
        let dir = self.pack_dir(pack);
        let meta = match std::fs::symlink_metadata(&dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Presence::Absent),
            Err(e) => return Err(io_fail(format!("Cannot read `{}`", dir.display()), e)),
        };
        if !meta.is_dir() {
            return Ok(Presence::Different(format!(
                "`{}` exists and is not a folder",
                dir.display()
            )));
        }
        let found = list_files(&dir)?;
        let expected: BTreeMap<String, &PackFile> = pack
            .files
            .iter()
            .map(|f| (inner_path(f).to_owned(), f))
            .collect();
        for (name, kind) in &found {
            // Explorer browsing the inbox leaves Thumbs.db and the like: not a different pack.
            if !expected.contains_key(name)
                && name
                    .split('/')
                    .any(|part| crate::core::litter::is_litter(std::ffi::OsStr::new(part)))
            {
                continue;
            }
            if kind != "file" {
                return Ok(Presence::Different(format!("`{name}` in it is a {kind}")));
            }
            if !expected.contains_key(name) {
                return Ok(Presence::Different(format!(
                    "it holds `{name}`, which the catalog does not list"
                )));
            }
        }
        for (name, file) in &expected {
            if !found.contains_key(name) {
                return Ok(Presence::Different(format!("`{name}` is missing from it")));
            }
            let path = dir.join(name);
            let source = crate::core::medium::open_under(&dir, name)?;
            let (size, digest) = crate::core::hash::of_reader(source.take(file.size + 1))
                .map_err(|e| io_fail(format!("Failed to read `{}`", path.display()), e))?;
            if size != file.size || !crate::core::hash::same(&digest, &file.sha256) {
                return Ok(Presence::Different(format!(
                    "`{name}` in it is {size} bytes with SHA-256 {digest}, the catalog says {} bytes with {}",
                    file.size, file.sha256
                )));
            }
        }
        Ok(Presence::Identical)
    }

    /// Stages, checks and renames one pack into place; call with the lock held and the pack absent.
    /// Copied bytes count on `progress`.
    pub fn place(
        &self,
        src: &PackDir,
        pack: &Pack,
        _lock: &InboxLock,
        progress: &Progress,
    ) -> anyhow::Result<()> {
        let folder = pack_folder(pack);
        let staging = self
            .root
            .join(format!("{STAGING_PREFIX}{folder}.{}", std::process::id()));
        let result = self.stage(src, pack, &staging, progress).and_then(|()| {
            crate::core::fault::point(crate::core::fault::Point::ImportAfterStage);
            let dest = self.root.join(&folder);
            crate::core::atomic::rename_no_replace(&staging, &dest).map_err(|e| {
                io_fail(
                    format!(
                        "Cannot move pack {} into place as `{}`",
                        pack.package_guid,
                        dest.display()
                    ),
                    e,
                )
            })?;
            crate::core::atomic::sync_dir(&self.root)
        });
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    fn stage(
        &self,
        src: &PackDir,
        pack: &Pack,
        staging: &Path,
        progress: &Progress,
    ) -> anyhow::Result<()> {
        if std::fs::symlink_metadata(staging).is_ok() {
            fs_err::remove_dir_all(staging)?;
        }
        fs_err::create_dir(staging).map_err(|e| {
            io_fail(
                format!("Cannot create staging folder `{}`", staging.display()),
                e,
            )
        })?;
        let mut folders = vec![staging.to_owned()];
        for file in &pack.files {
            let dest = staging.join(inner_path(file));
            if let Some(parent) = dest.parent().filter(|p| !p.exists()) {
                fs_err::create_dir_all(parent)
                    .map_err(|e| io_fail(format!("Cannot create `{}`", parent.display()), e))?;
            }
            for folder in dest.ancestors().skip(1) {
                if folder == staging || !folder.starts_with(staging) {
                    break;
                }
                if !folders.iter().any(|f| f == folder) {
                    folders.push(folder.to_owned());
                }
            }
            copy_checked(src, file, &dest, progress)?;
        }
        // Deepest first, so every entry is durable before the folder that names it.
        folders.sort_by_key(|f| std::cmp::Reverse(f.components().count()));
        for folder in &folders {
            crate::core::atomic::sync_dir(folder)?;
        }
        Ok(())
    }
}

/// The pack's folder name: its GUID in upper case, as the catalog's paths start.
pub fn pack_folder(pack: &Pack) -> String {
    pack.package_guid.to_string().to_uppercase()
}

/// A catalog path without its leading `<GUID>/`.
fn inner_path(file: &PackFile) -> &str {
    file.path
        .split_once('/')
        .map_or(file.path.as_str(), |(_, rest)| rest)
}

/// Every entry under `dir` as relative `/` paths → "file", "folder" or "symlink" (not followed).
fn list_files(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in fs_err::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            let name = relative_name(dir, &path);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else {
                let kind = if kind.is_symlink() {
                    "symlink"
                } else if kind.is_file() {
                    "file"
                } else {
                    "special file"
                };
                out.insert(name, kind.to_owned());
            }
        }
    }
    Ok(out)
}

/// `path` below `dir` as `/`-joined parts. A `\\` inside a part stays in the name (it is no
/// separator on Linux), so `<GUID>\\<GUID>.cab` never reads as `<GUID>/<GUID>.cab`.
pub(crate) fn relative_name(dir: &Path, path: &Path) -> String {
    let parts: Vec<String> = path
        .strip_prefix(dir)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Copies one pack file, hashing while writing; refuses anything but a regular file reached
/// without symlinks, and bytes that differ from the catalog (even if they changed after verify).
fn copy_checked(
    src: &PackDir,
    file: &PackFile,
    dest: &Path,
    progress: &Progress,
) -> anyhow::Result<()> {
    let path = src.file(&file.path);
    let mut source = crate::core::medium::open_under(&src.root, &file.path)?;
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| io_fail(format!("Cannot create `{}`", dest.display()), e))?;
    let mut hasher = crate::core::hash::Sha256::new();
    let mut buf = vec![0u8; COPY_CHUNK.min(file.size as usize + 1).max(1)];
    let mut size = 0u64;
    let mut limited = (&mut source).take(file.size + 1);
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_fail(format!("Failed to read `{}`", path.display()), e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| io_fail(format!("Failed to write `{}`", dest.display()), e))?;
        size += n as u64;
        progress.inc(n as u64);
        crate::core::fault::point(crate::core::fault::Point::ImportMidCopy);
    }
    let digest = hasher.finish_hex();
    if size != file.size || !crate::core::hash::same(&digest, &file.sha256) {
        return Err(Error::Rejected(format!(
                "`{}` changed after verification: {}{size} bytes with SHA-256 {digest}, the catalog says {} bytes with {}",
                path.display(),
                if size > file.size { "more than " } else { "" },
                file.size,
                file.sha256
            )).into());
    }
    out.sync_all()
        .map_err(|e| io_fail(format!("Failed to write `{}`", dest.display()), e))?;
    Ok(())
}

/// A local I/O failure with its cause (unclassified errors exit 3, see `error::exit_code`).
fn io_fail(what: String, err: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(err).context(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, bytes: &[u8]) -> PackFile {
        PackFile {
            path: path.into(),
            size: bytes.len() as u64,
            sha256: crate::core::hash::hex_of(bytes),
        }
    }

    // Symlinks need no privilege only on Unix; medium's tests cover the Windows open flags.
    #[cfg(unix)]
    #[test]
    fn copy_never_follows_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("usb");
        std::fs::create_dir_all(src.join("G/real")).unwrap();
        let outside = dir.path().join("secret");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("x.cab"), b"secret").unwrap();
        std::os::unix::fs::symlink(outside.join("x.cab"), src.join("G/link.cab")).unwrap();
        std::os::unix::fs::symlink(&outside, src.join("G/linkdir")).unwrap();
        let packdir = PackDir::new(&src);
        for path in ["G/link.cab", "G/linkdir/x.cab"] {
            let dest = dir.path().join("out");
            let err = copy_checked(&packdir, &file(path, b"secret"), &dest, &Progress::hidden())
                .unwrap_err();
            assert_eq!(
                crate::core::error::exit_code(&err),
                crate::core::error::ExitCode::Rejected,
                "{path}"
            );
            assert!(!dest.exists(), "{path}");
        }
    }

    #[test]
    fn copy_refuses_bytes_that_changed_after_verification() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("G")).unwrap();
        std::fs::write(dir.path().join("G/a.cab"), b"swapped!").unwrap();
        let packdir = PackDir::new(dir.path());
        let dest = dir.path().join("out");
        let err = copy_checked(
            &packdir,
            &file("G/a.cab", b"original"),
            &dest,
            &Progress::hidden(),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("changed after verification"),
            "{err:#}"
        );
        std::fs::remove_file(&dest).unwrap();
        std::fs::write(dir.path().join("G/a.cab"), b"original plus more").unwrap();
        let err = copy_checked(
            &packdir,
            &file("G/a.cab", b"original"),
            &dest,
            &Progress::hidden(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("more than"), "{err:#}");
        std::fs::remove_file(&dest).unwrap();
        std::fs::write(dir.path().join("G/a.cab"), b"original").unwrap();
        copy_checked(
            &packdir,
            &file("G/a.cab", b"original"),
            &dest,
            &Progress::hidden(),
        )
        .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"original");
    }
}
