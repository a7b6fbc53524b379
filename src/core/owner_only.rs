//! Files only their owner may read: the catalog signing key.
//!
//! [`create_new`] makes the file with its permissions already in place, so there is no moment at
//! which it exists with the folder's defaults and someone else can open it:
//!
//! - Unix: mode 0600 at `open`.
//! - Windows: a protected DACL at `CreateFileW` (nothing inherited from the folder, where
//!   `Users` often may read) granting full control to the user who runs sct, `SYSTEM` and
//!   `Administrators` (who own the machine anyway), and no one else. The file is opened without
//!   sharing, so no other handle to it exists while it is written.
//!
//! An existing file is never opened: the caller learns it exists (`AlreadyExists`).

use std::fs::File;
use std::path::Path;

/// Creates `path` (which must not exist) for writing, readable and writable by its owner only.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    imp::create_new(path)
}

#[cfg(not(windows))]
mod imp {
    use std::fs::File;
    use std::path::Path;

    pub fn create_new(path: &Path) -> std::io::Result<File> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path)
    }
}

#[cfg(windows)]
mod imp {
    use std::fs::File;
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::FromRawHandle;
    use std::path::Path;
    use windows_sys::Win32::Foundation::{
        CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, LocalFree,
    };
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
        SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::{
        GetTokenInformation, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY,
        TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::Storage::FileSystem::{CREATE_NEW, CreateFileW, FILE_ATTRIBUTE_NORMAL};
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    pub fn create_new(path: &Path) -> io::Result<File> {
        // P: protected (nothing inherited); FA: full access; SY: SYSTEM; BA: Administrators.
        let sddl = format!(
            "D:P(A;;FA;;;{})(A;;FA;;;SY)(A;;FA;;;BA)",
            current_user_sid()?
        );
        let descriptor = Descriptor::from_sddl(&sddl)?;
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor.0,
            bInheritHandle: 0,
        };
        let wide = wide(path.as_os_str());
        // SAFETY: `wide` is NUL-terminated and `attributes` points at a descriptor that lives
        // until the call returns.
        let handle = unsafe {
            CreateFileW(
                wide.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                0,
                &attributes,
                CREATE_NEW,
                FILE_ATTRIBUTE_NORMAL,
                std::ptr::null_mut(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a valid file handle that nothing else owns.
        Ok(unsafe { File::from_raw_handle(handle) })
    }

    /// The SID of the user this process runs as, as text (`S-1-5-21-…`).
    fn current_user_sid() -> io::Result<String> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the pseudo-handle of this process; `token` receives a handle closed below.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let sid = token_user_sid(token);
        // SAFETY: the handle opened above, closed once.
        unsafe { CloseHandle(token) };
        sid
    }

    fn token_user_sid(token: HANDLE) -> io::Result<String> {
        let mut needed = 0u32;
        // SAFETY: a size query (null buffer, length 0); it fails with the size it needs.
        unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
        // u64s keep the buffer aligned for TOKEN_USER.
        let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
        // SAFETY: the buffer holds `needed` bytes.
        let ok = unsafe {
            GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                needed,
                &mut needed,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: filled by GetTokenInformation with a TOKEN_USER, whose SID points into `buffer`.
        let user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };
        sid_text(user.User.Sid)
    }

    /// A SID as text (`S-1-5-18`).
    fn sid_text(sid: PSID) -> io::Result<String> {
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: the caller's valid SID; `text` receives a LocalAlloc'd string freed below.
        if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a NUL-terminated string from ConvertSidToStringSidW, freed once.
        unsafe {
            let len = (0..).take_while(|&i| *text.add(i) != 0).count();
            let sid = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
            LocalFree(text.cast());
            Ok(sid)
        }
    }

    /// A security descriptor from SDDL, freed when dropped.
    struct Descriptor(PSECURITY_DESCRIPTOR);

    impl Descriptor {
        fn from_sddl(sddl: &str) -> io::Result<Self> {
            let text = wide(std::ffi::OsStr::new(sddl));
            let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
            // SAFETY: NUL-terminated SDDL; the descriptor is LocalAlloc'd and freed on drop.
            let ok = unsafe {
                ConvertStringSecurityDescriptorToSecurityDescriptorW(
                    text.as_ptr(),
                    SDDL_REVISION_1,
                    &mut descriptor,
                    std::ptr::null_mut(),
                )
            };
            if ok == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Self(descriptor))
        }
    }

    impl Drop for Descriptor {
        fn drop(&mut self) {
            // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
            unsafe { LocalFree(self.0) };
        }
    }

    fn wide(text: &std::ffi::OsStr) -> Vec<u16> {
        text.encode_wide().chain(std::iter::once(0)).collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::os::windows::io::AsRawHandle;
        use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_FILE_OBJECT};
        use windows_sys::Win32::Security::{
            ACCESS_ALLOWED_ACE, ACL, ACL_SIZE_INFORMATION, AclSizeInformation,
            DACL_SECURITY_INFORMATION, GetAce, GetAclInformation, GetSecurityDescriptorControl,
            SE_DACL_PROTECTED,
        };

        /// The file's DACL as the API reads it back: whether it is protected, and the SID of
        /// each entry.
        fn dacl_of(path: &Path) -> (bool, Vec<String>) {
            let file = std::fs::File::open(path).unwrap();
            let mut dacl: *mut ACL = std::ptr::null_mut();
            let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
            // SAFETY: a valid handle; what it returns is read below, then freed once.
            unsafe {
                let status = GetSecurityInfo(
                    file.as_raw_handle(),
                    SE_FILE_OBJECT,
                    DACL_SECURITY_INFORMATION,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut dacl,
                    std::ptr::null_mut(),
                    &mut descriptor,
                );
                assert_eq!(status, 0);
                let (mut control, mut revision) = (0u16, 0u32);
                assert_ne!(
                    GetSecurityDescriptorControl(descriptor, &mut control, &mut revision),
                    0
                );
                let mut size = std::mem::zeroed::<ACL_SIZE_INFORMATION>();
                assert_ne!(
                    GetAclInformation(
                        dacl,
                        (&mut size as *mut ACL_SIZE_INFORMATION).cast(),
                        std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
                        AclSizeInformation,
                    ),
                    0
                );
                let sids = (0..size.AceCount)
                    .map(|index| {
                        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
                        assert_ne!(GetAce(dacl, index, &mut ace), 0);
                        let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
                        sid_text(std::ptr::addr_of_mut!((*ace).SidStart).cast()).unwrap()
                    })
                    .collect();
                LocalFree(descriptor);
                (control & SE_DACL_PROTECTED != 0, sids)
            }
        }

        /// Read back through the API: only the user, SYSTEM and Administrators have entries
        /// (a file made without the DACL has one for Everyone or Users), and nothing is
        /// inherited. Wine rebuilds a DACL from the Unix mode it mapped ours to (the user and
        /// SYSTEM, no control flags), so under Wine (`SCT_TEST_WINE`, set by
        /// scripts/test-windows.sh) the entries are checked and the flag is not.
        #[test]
        fn the_file_has_a_protected_dacl_for_the_user_system_and_administrators() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("key.json");
            drop(create_new(&path).unwrap());
            let (protected, sids) = dacl_of(&path);
            let user = current_user_sid().unwrap();
            let allowed = [user.as_str(), "S-1-5-18", "S-1-5-32-544"];
            assert!(sids.contains(&user), "{sids:?}");
            assert!(
                sids.iter().all(|sid| allowed.contains(&sid.as_str())),
                "{sids:?}"
            );
            if std::env::var_os("SCT_TEST_WINE").is_none() {
                assert_eq!(sids.len(), 3, "{sids:?}");
                assert!(protected, "inherits from the folder");
            }
            assert_eq!(
                create_new(&path).unwrap_err().kind(),
                io::ErrorKind::AlreadyExists
            );
        }
    }
}
