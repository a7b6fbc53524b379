//! Secrets in memory: a password or token is wiped when dropped, never printed, and while the
//! process holds one it cannot be dumped.
//!
//! A core dump (or another process of the same user reading this one's memory) would show every
//! copy of a password. So the first [`Secret`] made switches dumps off for the rest of the run:
//! on Linux `prctl(PR_SET_DUMPABLE, 0)` (no core file, no `ptrace` or `/proc/<pid>/mem` access by
//! other processes of the same user, `/proc/<pid>/` owned by root) and, on every Unix, a core
//! size limit of 0. Windows writes no core dumps; Windows Error Reporting keeps a crash dump only
//! where an administrator configured `LocalDumps`, and only the same user or an administrator may
//! read a process's memory, so sct changes nothing there (docs/reliability.md).

use std::fmt;
use zeroize::Zeroizing;

/// A password or token: `Debug` prints `****`, there is no `Display`, and the bytes are
/// overwritten with zeros when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of a secret; from now on the process cannot be dumped.
    pub fn new(text: impl Into<String>) -> Self {
        forbid_dumps();
        Self(Zeroizing::new(text.into()))
    }

    /// The secret itself, for the one place that must send it (a login, a header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::core::logging::MASK)
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

/// Makes this process non-dumpable, once; later calls do nothing.
pub fn forbid_dumps() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(platform::forbid_dumps);
}

/// Whether this process can currently be dumped (Linux only; elsewhere `None`).
pub fn is_dumpable() -> Option<bool> {
    platform::is_dumpable()
}

#[cfg(unix)]
mod platform {
    pub fn forbid_dumps() {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls with valid arguments; failures leave the process as it was.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
    }

    #[cfg(target_os = "linux")]
    pub fn is_dumpable() -> Option<bool> {
        // SAFETY: PR_GET_DUMPABLE takes no pointer and cannot fail.
        Some(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } != 0)
    }

    #[cfg(not(target_os = "linux"))]
    pub fn is_dumpable() -> Option<bool> {
        None
    }
}

#[cfg(not(unix))]
mod platform {
    /// Nothing to switch off: Windows writes no core dumps (see the module documentation).
    pub fn forbid_dumps() {}

    pub fn is_dumpable() -> Option<bool> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "****");
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(Secret::from("x"), Secret::new("x".to_owned()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn holding_a_secret_makes_the_process_non_dumpable() {
        let _secret = Secret::new("hunter2");
        assert_eq!(is_dumpable(), Some(false));
    }
}
