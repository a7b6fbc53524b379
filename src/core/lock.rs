//! One lock for every "one writer at a time" rule: a publication in a service root, a fetch into
//! a pack folder, an import into a site's inbox. Each is an OS lock that the kernel releases when
//! its holder's handle closes — when the process exits or is killed, even by SIGKILL or
//! `TerminateProcess` — so a crash never leaves a stale lock for an operator to remove by hand.
//!
//! A lock file stays in place after its holder is gone: removing it on the way out would let a
//! waiter lock the removed file while a newcomer locks a new one under the same name.

use std::fs::{File, OpenOptions};
use std::path::Path;

/// A held lock; dropping it (or the process ending in any way) releases it.
pub struct Lock {
    _held: Held,
}

/// What keeps the lock: a locked handle, or on Windows the named event of a folder lock.
enum Held {
    File {
        _handle: File,
    },
    #[cfg(windows)]
    Event {
        _event: windows_lock::NamedEvent,
    },
}

impl Lock {
    fn new(held: Held) -> Self {
        Self { _held: held }
    }
}

/// Takes an exclusive lock on the file `path` (created if missing) if nobody holds it:
/// `Ok(None)` when another process (or this one) does.
pub fn try_lock_file(path: &Path) -> std::io::Result<Option<Lock>> {
    try_lock(open_lock_file(path)?)
}

/// Takes an exclusive lock on the file `path` (created if missing), waiting for its holder.
pub fn lock_file(path: &Path) -> std::io::Result<Lock> {
    let file = open_lock_file(path)?;
    file.lock()?;
    Ok(Lock::new(Held::File { _handle: file }))
}

/// Never through a link planted at the lock's name, never a FIFO or device
/// ([`crate::core::medium::open_writer`]): a refusal comes back as an I/O error naming why.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    crate::core::medium::open_writer(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .map_err(|e| match e.downcast::<std::io::Error>() {
        Ok(io) => io,
        Err(other) => std::io::Error::other(format!("{other:#}")),
    })
}

/// An exclusive lock on an open handle: `flock` on Unix, `LockFileEx` on Windows.
fn try_lock(file: File) -> std::io::Result<Option<Lock>> {
    match file.try_lock() {
        Ok(()) => Ok(Some(Lock::new(Held::File { _handle: file }))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Takes the lock on `dir` if nobody holds it: `Ok(None)` when another process (or this one)
/// does. Unix: `flock` on the folder. Windows cannot lock a folder's bytes (`LockFileEx` on a
/// folder handle fails with `ERROR_INVALID_PARAMETER`), so the lock is a named kernel event
/// `Global\sct-folder-<volume serial>-<file ID>`: whoever creates it holds the lock, a second
/// creator finds it existing, and it vanishes with its holder's handle. The name comes from the
/// folder's identity, not its spelling, so `D:\USB`, `d:\usb\` and `\\?\D:\USB` meet.
pub fn try_lock_folder(dir: &Path) -> std::io::Result<Option<Lock>> {
    #[cfg(unix)]
    {
        try_lock(File::open(dir)?)
    }
    #[cfg(windows)]
    {
        Ok(windows_lock::NamedEvent::create_new(dir)?
            .map(|event| Lock::new(Held::Event { _event: event })))
    }
}

#[cfg(windows)]
mod windows_lock {
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use windows_sys::Win32::Foundation::{CloseHandle, ERROR_ALREADY_EXISTS, GetLastError, HANDLE};
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_FLAG_BACKUP_SEMANTICS, GetFileInformationByHandle,
    };
    use windows_sys::Win32::System::Threading::CreateEventW;

    pub struct NamedEvent(HANDLE);

    // SAFETY: an event handle may be used and closed from any thread.
    unsafe impl Send for NamedEvent {}
    unsafe impl Sync for NamedEvent {}

    impl Drop for NamedEvent {
        fn drop(&mut self) {
            // SAFETY: the handle is ours and closed once.
            unsafe { CloseHandle(self.0) };
        }
    }

    impl NamedEvent {
        /// `Some` when this call created the folder's event, `None` when it already existed.
        pub fn create_new(dir: &Path) -> std::io::Result<Option<Self>> {
            let folder = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
                .open(dir)?;
            // SAFETY: a zeroed plain-data struct, filled by the call from a valid open handle.
            let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
            if unsafe { GetFileInformationByHandle(folder.as_raw_handle() as HANDLE, &mut info) }
                == 0
            {
                return Err(std::io::Error::last_os_error());
            }
            let name = format!(
                "Global\\sct-folder-{:08x}-{:08x}{:08x}",
                info.dwVolumeSerialNumber, info.nFileIndexHigh, info.nFileIndexLow
            );
            let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
            // SAFETY: a NUL-terminated name; default security, manual reset, not signalled.
            let handle = unsafe { CreateEventW(std::ptr::null(), 1, 0, wide.as_ptr()) };
            if handle.is_null() {
                let err = std::io::Error::last_os_error();
                // Created by another account whose event this one may not open: held.
                if err.kind() == std::io::ErrorKind::PermissionDenied {
                    return Ok(None);
                }
                return Err(err);
            }
            // SAFETY: reads the calling thread's last error, set by CreateEventW.
            if unsafe { GetLastError() } == ERROR_ALREADY_EXISTS {
                // SAFETY: our own handle to the existing event, closed once.
                unsafe { CloseHandle(handle) };
                return Ok(None);
            }
            Ok(Some(Self(handle)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let held = try_lock_folder(dir.path()).unwrap().expect("free");
        assert!(try_lock_folder(dir.path()).unwrap().is_none());
        drop(held);
        assert!(try_lock_folder(dir.path()).unwrap().is_some());
    }

    #[test]
    fn a_file_lock_is_exclusive_until_dropped_and_its_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".x.lock");
        let held = try_lock_file(&path).unwrap().expect("free");
        assert!(try_lock_file(&path).unwrap().is_none());
        drop(held);
        assert!(path.is_file());
        let held = lock_file(&path).unwrap();
        assert!(try_lock_file(&path).unwrap().is_none());
        drop(held);
        assert!(try_lock_file(&path).unwrap().is_some());
    }
}
