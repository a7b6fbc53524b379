//! Whether a file lies on removable media (a USB drive, an SD card): settings carried on such a
//! drive must not decide trust (issue 21, docs/reliability.md "settings carried on the drive").
//!
//! - Linux: the device the file's filesystem is on (`st_dev`) is looked up in
//!   `/sys/dev/block/MAJOR:MINOR`; it is removable when that device or its disk says so in
//!   `removable`, or when it hangs off a USB bus (USB hard disks report `removable` 0).
//! - Windows: `GetDriveTypeW` on the file's volume is `DRIVE_REMOVABLE`. A USB hard disk reports
//!   `DRIVE_FIXED` and is not caught: docs/reliability.md says so.
//!
//! Debug builds also count any path under `SCT_TEST_REMOVABLE` as removable, so the tests (on
//! Linux and the `.exe` files under Wine) can stand in for a drive; release builds compile the
//! hook away, like the fault points and the test clock.

use std::path::Path;

/// The test hook's variable (debug builds only).
pub const ENV_TEST_REMOVABLE: &str = "SCT_TEST_REMOVABLE";

/// True when `path` (which exists) is on removable media; false when that cannot be told.
pub fn is_removable(path: &Path) -> bool {
    #[cfg(debug_assertions)]
    if let Some(prefix) = std::env::var_os(ENV_TEST_REMOVABLE).filter(|p| !p.is_empty())
        && let (Ok(path), Ok(prefix)) = (std::fs::canonicalize(path), std::fs::canonicalize(prefix))
        && path.starts_with(prefix)
    {
        return true;
    }
    platform::is_removable(path)
}

#[cfg(target_os = "linux")]
mod platform {
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    pub fn is_removable(path: &Path) -> bool {
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        let dev = meta.dev();
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let Ok(device) = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")) else {
            return false;
        };
        if device
            .components()
            .any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with("usb")))
        {
            return true;
        }
        // A partition has no `removable` of its own: its disk, one folder up, does.
        [device.join("removable"), device.join("../removable")]
            .iter()
            .any(|flag| std::fs::read_to_string(flag).is_ok_and(|t| t.trim() == "1"))
    }
}

#[cfg(windows)]
mod platform {
    use std::path::Path;
    use windows_sys::Win32::Storage::FileSystem::{GetDriveTypeW, GetVolumePathNameW};

    /// `DRIVE_REMOVABLE` in `GetDriveTypeW`'s answers.
    const DRIVE_REMOVABLE: u32 = 2;

    pub fn is_removable(path: &Path) -> bool {
        use std::os::windows::ffi::OsStrExt;
        let Ok(absolute) = std::path::absolute(path) else {
            return false;
        };
        let wide: Vec<u16> = absolute
            .as_os_str()
            .encode_wide()
            .chain(std::iter::once(0))
            .collect();
        let mut volume = vec![0u16; 1024];
        // SAFETY: `wide` is NUL-terminated; `volume` is writable for the length given.
        let ok = unsafe { GetVolumePathNameW(wide.as_ptr(), volume.as_mut_ptr(), 1024) };
        if ok == 0 {
            return false;
        }
        // SAFETY: `volume` now holds a NUL-terminated volume root.
        unsafe { GetDriveTypeW(volume.as_ptr()) == DRIVE_REMOVABLE }
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
mod platform {
    pub fn is_removable(_path: &std::path::Path) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_folder_is_not_removable_unless_the_test_hook_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sct.toml");
        std::fs::write(&file, "").unwrap();
        assert!(!platform::is_removable(&file));
    }
}
