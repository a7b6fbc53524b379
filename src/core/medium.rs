//! Files from outside (the transfer medium, a carried folder, a cab named on the command line),
//! opened once and judged through the open handle: a swap between a check and the open cannot
//! change what is read, and nothing is ever read by path after a check by path.
//!
//! - Linux: `O_NOFOLLOW | O_NONBLOCK`. The kernel refuses a symlink (`ELOOP`), and a FIFO swapped
//!   in cannot block the open (or a lock held around it); `fstat` on the handle then decides.
//!   Folders on the way are opened one by one with `openat(O_DIRECTORY | O_NOFOLLOW)`.
//! - Windows: `FILE_FLAG_OPEN_REPARSE_POINT` opens a symlink, junction or any other reparse point
//!   itself instead of its target, and the attributes of the handle refuse it. The share mode
//!   lets others read the file but not write, rename or delete it while it is open, and folders
//!   on the way are held open without `FILE_SHARE_DELETE`, so they cannot be swapped either.
//!
//! Every read is capped by what the caller expects (`take(limit + 1)`), whatever size the file
//! claims or grows to.

use crate::core::error::Error;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::Path;

/// Whether a link at the last part of the path may be followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// A path the operator named: a link there is their choice.
    Follow,
    /// A name inside a carried folder: links are refused, as `O_NOFOLLOW` does.
    Refuse,
}

/// Opens `path` for reading and checks, through the handle, that it is a regular file.
/// Errors: an I/O error as it is (a missing file stays `NotFound`, see [`is_missing`]); a link,
/// folder, FIFO, device or socket is a refusal (exit 1).
pub fn open_regular(path: &Path, links: Links) -> anyhow::Result<File> {
    open_checked(path, OpenOptions::new().read(true), links, Share::ReadOnly)
}

/// Opens a file on the medium with `options` (for writing, say), never through a link at its
/// name, and checks the handle is a regular file: a `.part` swapped for a link or a FIFO after a
/// check can neither send bytes elsewhere nor block.
pub fn open_with(path: &Path, options: &mut OpenOptions) -> anyhow::Result<File> {
    open_checked(path, options, Links::Refuse, Share::ReadOnly)
}

/// Opens a file sct writes under a name it was given (a log, a lock file) with `options`:
/// never through a link at its last component (a dangling one planted on the drive would
/// otherwise create a file wherever it points, a live one append to any file), never a FIFO,
/// device or folder. Unlike [`open_with`], other processes may go on writing, renaming and
/// deleting it (two runs share a log, a roll-over renames it).
pub fn open_writer(path: &Path, options: &mut OpenOptions) -> anyhow::Result<File> {
    open_checked(path, options, Links::Refuse, Share::All)
}

/// What others may do with a file while sct holds it open (Windows' share mode; Unix has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Share {
    /// Read only: the file cannot change under a reader or a `.part` writer.
    ReadOnly,
    /// Everything a plain open allows.
    All,
}

/// The one open the entry points share: platform flags, the link refusal, the handle's kind.
fn open_checked(
    path: &Path,
    options: &mut OpenOptions,
    links: Links,
    share: Share,
) -> anyhow::Result<File> {
    platform::file_options(options, links, share);
    let file = options.open(path).map_err(|e| {
        if platform::is_link_refusal(&e) && links == Links::Refuse {
            refuse_kind(path, "a symlink (links are never followed)")
        } else if platform::is_unread_fifo(&e) {
            refuse_kind(path, "a FIFO or device that nobody reads")
        } else {
            anyhow::Error::new(e).context(format!("Cannot open `{}`", path.display()))
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| anyhow::Error::new(e).context(format!("Cannot read `{}`", path.display())))?;
    if let Some(kind) = not_regular(&meta, links) {
        return Err(refuse_kind(path, kind));
    }
    Ok(file)
}

/// Opens `root/relative` (`/`-separated, already checked by [`crate::core::paths`]) for reading with no
/// link followed at any level below `root`, and checks that it is a regular file.
pub fn open_under(root: &Path, relative: &str) -> anyhow::Result<File> {
    platform::open_under(root, relative)
}

/// Reads a whole small file through one handle, refusing more than `limit` bytes.
pub fn read_capped(path: &Path, limit: u64, links: Links) -> anyhow::Result<Vec<u8>> {
    let file = open_regular(path, links)?;
    read_capped_from(file, path, limit)
}

/// Reads an opened file, refusing more than `limit` bytes (whatever its size said when opened).
pub fn read_capped_from(file: File, path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let declared = file.metadata().map(|m| m.len()).unwrap_or(0);
    if declared > limit {
        return Err(too_large(path, limit));
    }
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| {
        anyhow::Error::new(e).context(format!("Failed to read `{}`", path.display()))
    })?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(bytes)
}

/// True when `err` says the file does not exist (and nothing worse).
pub fn is_missing(err: &anyhow::Error) -> bool {
    err.root_cause()
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

fn too_large(path: &Path, limit: u64) -> anyhow::Error {
    Error::TooLarge {
        what: format!("`{}`", path.display()),
        limit,
        meant_for: None,
    }
    .into()
}

fn refuse_kind(path: &Path, kind: &str) -> anyhow::Error {
    Error::Rejected(format!(
        "`{}` is {kind}, not a regular file",
        path.display()
    ))
    .into()
}

/// What the opened handle is, when it is not a regular file.
fn not_regular(meta: &Metadata, links: Links) -> Option<&'static str> {
    if links == Links::Refuse && platform::is_reparse_point(meta) {
        return Some("a symlink, junction or other reparse point (links are never followed)");
    }
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    Some(if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symlink (links are never followed)"
    } else {
        platform::special_kind(meta)
    })
}

fn refuse_folder(at: &Path) -> anyhow::Error {
    Error::Rejected(format!(
        "`{}` is not a plain folder (symlink?); refusing to follow it",
        at.display()
    ))
    .into()
}

#[cfg(unix)]
mod platform {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

    pub fn file_options(options: &mut OpenOptions, links: Links, _share: Share) {
        let nofollow = if links == Links::Refuse {
            libc::O_NOFOLLOW
        } else {
            0
        };
        options.custom_flags(libc::O_NONBLOCK | nofollow);
    }

    pub fn is_link_refusal(err: &std::io::Error) -> bool {
        err.raw_os_error() == Some(libc::ELOOP)
    }

    /// A FIFO opened for writing with `O_NONBLOCK` and no reader fails with `ENXIO`.
    pub fn is_unread_fifo(err: &std::io::Error) -> bool {
        err.raw_os_error() == Some(libc::ENXIO)
    }

    /// Unix has no reparse points; symlinks are refused by `O_NOFOLLOW` already.
    pub fn is_reparse_point(_meta: &Metadata) -> bool {
        false
    }

    pub fn special_kind(meta: &Metadata) -> &'static str {
        let kind = meta.file_type();
        if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a device"
        }
    }

    fn open_at(dir: &OwnedFd, name: &str, flags: libc::c_int) -> std::io::Result<OwnedFd> {
        let name = std::ffi::CString::new(name.as_bytes()).map_err(std::io::Error::other)?;
        // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated string, both alive
        // for the call; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub fn open_under(root: &Path, relative: &str) -> anyhow::Result<File> {
        let root_file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(root)
            .map_err(|e| {
                anyhow::Error::new(e).context(format!("Cannot open `{}`", root.display()))
            })?;
        let mut dir = OwnedFd::from(root_file);
        let parts: Vec<&str> = relative.split('/').collect();
        let (name, folders) = parts.split_last().expect("split yields one part at least");
        let mut at = root.to_owned();
        for part in folders {
            at.push(part);
            dir = match open_at(
                &dir,
                part,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            ) {
                Ok(fd) => fd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(
                        anyhow::Error::new(e).context(format!("Cannot open `{}`", at.display()))
                    );
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                    return Err(refuse_folder(&at));
                }
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("Cannot open `{}`", at.display()))
                    );
                }
            };
        }
        at.push(name);
        let fd = open_at(
            &dir,
            name,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        )
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                refuse_kind(&at, "a symlink (links are never followed)")
            } else {
                anyhow::Error::new(e).context(format!("Cannot open `{}`", at.display()))
            }
        })?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|e| {
            anyhow::Error::new(e).context(format!("Cannot read `{}`", at.display()))
        })?;
        if let Some(kind) = not_regular(&meta, Links::Refuse) {
            return Err(refuse_kind(&at, kind));
        }
        Ok(file)
    }
}

#[cfg(windows)]
mod platform {
    use super::*;
    use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
        FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    };

    /// `BACKUP_SEMANTICS` lets a folder open too (so it is refused as a folder, not as "access
    /// denied"); `OPEN_REPARSE_POINT` opens a link itself; others may only read while we do.
    pub fn file_options(options: &mut OpenOptions, links: Links, share: Share) {
        let reparse = if links == Links::Refuse {
            FILE_FLAG_OPEN_REPARSE_POINT
        } else {
            0
        };
        let share = match share {
            Share::ReadOnly => FILE_SHARE_READ,
            Share::All => FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
        };
        options
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | reparse)
            .share_mode(share);
    }

    /// Windows opens the link itself instead of refusing it; the attributes decide.
    pub fn is_link_refusal(_err: &std::io::Error) -> bool {
        false
    }

    /// Windows folders hold no FIFOs; a device is refused through the handle's attributes.
    pub fn is_unread_fifo(_err: &std::io::Error) -> bool {
        false
    }

    pub fn is_reparse_point(meta: &Metadata) -> bool {
        meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0
    }

    pub fn special_kind(_meta: &Metadata) -> &'static str {
        "a device or another special file"
    }

    pub fn open_under(root: &Path, relative: &str) -> anyhow::Result<File> {
        let parts: Vec<&str> = relative.split('/').collect();
        let (name, folders) = parts.split_last().expect("split yields one part at least");
        let mut held = Vec::with_capacity(folders.len());
        let mut at = root.to_owned();
        for part in folders {
            at.push(part);
            let folder = OpenOptions::new()
                .read(true)
                .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
                // Held without FILE_SHARE_DELETE: nobody can rename or replace it until we close.
                .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
                .open(&at)
                .map_err(|e| {
                    anyhow::Error::new(e).context(format!("Cannot open `{}`", at.display()))
                })?;
            let meta = folder.metadata()?;
            if is_reparse_point(&meta) || !meta.is_dir() {
                return Err(refuse_folder(&at));
            }
            held.push(folder);
        }
        at.push(name);
        let file = open_regular(&at, Links::Refuse)?;
        drop(held);
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    #[test]
    fn reads_through_the_cap_whatever_the_file_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.json");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(
            read_capped(&path, 10, Links::Refuse).unwrap(),
            b"0123456789"
        );
        let err = read_capped(&path, 9, Links::Refuse).unwrap_err();
        assert!(format!("{err}").contains("9-byte limit"), "{err}");
        let missing = read_capped(&dir.path().join("nope"), 9, Links::Refuse).unwrap_err();
        assert!(is_missing(&missing));
    }

    #[test]
    fn a_folder_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_regular(dir.path(), Links::Refuse).unwrap_err();
        assert!(format!("{err}").contains("a folder"), "{err}");
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_refused_unless_named_by_the_operator() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret");
        std::fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_regular(&link, Links::Refuse).unwrap_err();
        assert!(format!("{err}").contains("symlink"), "{err}");
        assert!(open_regular(&link, Links::Follow).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn writing_never_goes_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, b"keep").unwrap();
        let part = dir.path().join("x.cab.part");
        std::os::unix::fs::symlink(&outside, &part).unwrap();
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        let err = open_with(&part, &mut options).unwrap_err();
        assert!(format!("{err}").contains("symlink"), "{err}");
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        std::fs::remove_file(&part).unwrap();
        assert!(open_with(&part, &mut options).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_neither_blocks_nor_passes() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pack.cab");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        for links in [Links::Refuse, Links::Follow] {
            let err = open_regular(&fifo, links).unwrap_err();
            assert!(format!("{err}").contains("a FIFO"), "{err}");
        }
        std::fs::create_dir(dir.path().join("G")).unwrap();
        let name = std::ffi::CString::new(dir.path().join("G/x").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = open_under(dir.path(), "G/x").unwrap_err();
        assert!(format!("{err}").contains("a FIFO"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn no_link_is_followed_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("x.cab"), b"x").unwrap();
        let root = dir.path().join("usb");
        std::fs::create_dir_all(root.join("G")).unwrap();
        std::fs::write(root.join("G/real.cab"), b"real").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("L")).unwrap();
        std::os::unix::fs::symlink(outside.join("x.cab"), root.join("G/l.cab")).unwrap();
        let mut read = String::new();
        open_under(&root, "G/real.cab")
            .unwrap()
            .read_to_string(&mut read)
            .unwrap();
        assert_eq!(read, "real");
        let err = open_under(&root, "L/x.cab").unwrap_err();
        assert!(format!("{err}").contains("not a plain folder"), "{err}");
        let err = open_under(&root, "G/l.cab").unwrap_err();
        assert!(format!("{err}").contains("symlink"), "{err}");
        assert!(is_missing(&open_under(&root, "G/none.cab").unwrap_err()));
    }
}
