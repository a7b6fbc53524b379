//! The upload store's quota: how many usage cabs, and how many bytes of them, `sct-serve` keeps
//! under `ROOT/uploads/` before it refuses more (507 `quota_exceeded`). Stored cabs are counted
//! when the server starts and as they arrive; the operator frees room by moving them away (and
//! restarting the server).

use std::path::Path;
use std::sync::Mutex;

/// Default for `--upload-quota`: 16 GiB of stored usage cabs.
pub const DEFAULT_QUOTA_BYTES: u64 = 16 * 1024 * 1024 * 1024;
/// Default for `--upload-quota-files`.
pub const DEFAULT_QUOTA_FILES: u64 = 10_000;

/// The configured ceilings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub max_bytes: u64,
    pub max_files: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_QUOTA_BYTES,
            max_files: DEFAULT_QUOTA_FILES,
        }
    }
}

/// What the store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
}

/// The quota and the store's usage, checked and updated under one lock.
pub struct Ledger {
    quota: Quota,
    usage: Mutex<Usage>,
}

impl Ledger {
    /// Counts the cabs already stored in `uploads` (`<hierarchy>/*.cab`).
    pub fn open(quota: Quota, uploads: &Path) -> Self {
        Self {
            quota,
            usage: Mutex::new(measure(uploads)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a cab of `bytes` (0 when not yet known) would still fit.
    pub fn has_room_for(&self, bytes: u64) -> bool {
        fits(self.quota, *self.lock(), bytes)
    }

    /// Stores a cab of `bytes` with `store` if it fits, counting it; `None` when it does not.
    /// The check and the store happen under one lock, so parallel uploads cannot overshoot.
    pub fn admit<T>(&self, bytes: u64, store: impl FnOnce() -> T) -> Option<T> {
        let mut usage = self.lock();
        if !fits(self.quota, *usage, bytes) {
            return None;
        }
        let stored = store();
        usage.bytes += bytes;
        usage.files += 1;
        Some(stored)
    }

    /// The quota, for messages.
    pub fn quota(&self) -> Quota {
        self.quota
    }
}

fn fits(quota: Quota, usage: Usage, bytes: u64) -> bool {
    usage.files < quota.max_files && usage.bytes.saturating_add(bytes) <= quota.max_bytes
}

/// The cabs stored under `uploads/<hierarchy>/`; the `.incoming` folder is not counted.
fn measure(uploads: &Path) -> Usage {
    let mut usage = Usage::default();
    let Ok(hierarchies) = std::fs::read_dir(uploads) else {
        return usage;
    };
    for dir in hierarchies.flatten() {
        if dir.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for file in files.flatten() {
            let is_cab = file.path().extension().is_some_and(|e| e == "cab");
            if let (true, Ok(meta)) = (is_cab, file.metadata()) {
                usage.bytes += meta.len();
                usage.files += 1;
            }
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_cabs_count_and_the_quota_holds() {
        let dir = tempfile::tempdir().unwrap();
        let hierarchy = dir.path().join("6f1c2f0e-36c1-4b0e-9d1c-2d2d8a0c7e11");
        std::fs::create_dir_all(&hierarchy).unwrap();
        std::fs::create_dir_all(dir.path().join(".incoming")).unwrap();
        std::fs::write(hierarchy.join("a.cab"), [0u8; 100]).unwrap();
        std::fs::write(hierarchy.join("a.receipt.json"), [0u8; 50]).unwrap();
        std::fs::write(dir.path().join(".incoming").join("upload-x.cab"), [0u8; 70]).unwrap();
        let ledger = Ledger::open(
            Quota {
                max_bytes: 250,
                max_files: 3,
            },
            dir.path(),
        );
        assert_eq!(
            *ledger.lock(),
            Usage {
                bytes: 100,
                files: 1
            }
        );
        assert!(ledger.has_room_for(150));
        assert!(!ledger.has_room_for(151));
        assert_eq!(ledger.admit(100, || "stored"), Some("stored"));
        assert_eq!(ledger.admit(51, || "too big"), None);
        assert_eq!(ledger.admit(50, || "stored"), Some("stored"));
        // Three files: the count is full even though a zero-byte cab would fit the bytes.
        assert!(!ledger.has_room_for(0));
        assert_eq!(ledger.admit(0, || "one too many"), None);
    }
}
