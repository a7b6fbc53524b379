//! Fault injection for crash tests: a process kills itself at a named point.
//!
//! Crash safety is only believable when a test can kill the process at the worst moment. Code
//! marks those moments with [`point`]; a test sets `SCT_FAULT=import:after-stage` (a
//! comma-separated list of [`Point::name`]s) and the process kills itself when it reaches one —
//! SIGKILL on Unix, `TerminateProcess` on Windows — so no destructor, flush or `Drop` runs,
//! exactly as after a power cut or `kill -9`.
//!
//! Only debug builds look at the variable: in release builds [`point`] compiles to nothing, so a
//! stray environment variable can never crash a production import.
//!
//! The points are one enum, [`Point`], so the crash tests take their names from
//! [`Point::ALL`]: a point added or renamed here is tested, never silently dropped.

/// The environment variable that arms fault points (debug builds only).
pub const ENV_FAULT: &str = "SCT_FAULT";

/// The exit code of a process a fault point ended on Windows (128 + SIGKILL, as shells show).
pub const KILLED_EXIT_CODE: u32 = 137;

/// A moment where a crash must leave the pack folder, the inbox or the database consistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Point {
    /// Fetch: the new catalog downloaded and checked, the folder not yet locked.
    FetchAfterCatalog,
    /// Fetch: the pack folder locked, nothing changed yet.
    FetchAfterLock,
    /// Fetch: a new catalog: the folder's old record removed, no file downloaded yet.
    FetchAfterRecordRemoved,
    /// Fetch: part of a file written and flushed to its `.part`.
    FetchMidFile,
    /// Fetch: a `.part` complete and checked, not yet renamed.
    FetchBeforeRename,
    /// Fetch: a file renamed to its final name.
    FetchAfterRename,
    /// Fetch: the downloads done, the catalog and record not yet written.
    FetchBeforeRecords,
    /// Fetch: files the new catalog does not select removed.
    FetchAfterPrune,
    /// Fetch: the catalog's signature written, the catalog not yet.
    FetchAfterSignatureWritten,
    /// Fetch: the catalog written, the record not yet.
    FetchAfterCatalogWritten,
    /// Fetch: the freshness statement's new signature written, the statement not yet.
    FetchAfterTimestampSignatureWritten,
    /// Fetch: the record written.
    FetchAfterRecordWritten,
    /// Import: the pack folder verified, the inbox not yet locked.
    ImportAfterVerify,
    /// Import: planned, the inbox lock not yet taken.
    ImportBeforeLock,
    /// Import: staging leftovers of an earlier crash removed.
    ImportAfterCleanStaging,
    /// Import: the first chunk of a pack file written to staging.
    ImportMidCopy,
    /// Import: a staging folder complete and fsynced, not yet renamed.
    ImportAfterStage,
    /// Import: one pack renamed into place, others still to come.
    ImportAfterOnePack,
    /// Import: packs in place, the database transaction not started.
    ImportAfterRename,
    /// Import: inside the database transaction, before COMMIT.
    ImportBeforeCommit,
    /// Import: committed, before the output is printed.
    ImportAfterCommit,
    /// `sct-import inbox remove`: a pack folder renamed to its staging name, not yet deleted.
    InboxAfterRenameAside,
    /// `sct-serve publish`: the service root locked, nothing written yet.
    PublishAfterLock,
    /// Import of a volume: one part of a split pack copied into the staging area of parts.
    PartsAfterStage,
    /// Import of a volume: the first part of a file joined into its temporary file.
    PartsMidJoin,
}

impl Point {
    /// Every point, in the order a run reaches them.
    pub const ALL: &[Point] = &[
        Point::FetchAfterCatalog,
        Point::FetchAfterLock,
        Point::FetchAfterRecordRemoved,
        Point::FetchMidFile,
        Point::FetchBeforeRename,
        Point::FetchAfterRename,
        Point::FetchBeforeRecords,
        Point::FetchAfterPrune,
        Point::FetchAfterSignatureWritten,
        Point::FetchAfterCatalogWritten,
        Point::FetchAfterTimestampSignatureWritten,
        Point::FetchAfterRecordWritten,
        Point::ImportAfterVerify,
        Point::ImportBeforeLock,
        Point::ImportAfterCleanStaging,
        Point::ImportMidCopy,
        Point::ImportAfterStage,
        Point::ImportAfterOnePack,
        Point::ImportAfterRename,
        Point::ImportBeforeCommit,
        Point::ImportAfterCommit,
        Point::InboxAfterRenameAside,
        Point::PublishAfterLock,
        Point::PartsAfterStage,
        Point::PartsMidJoin,
    ];

    /// The name `SCT_FAULT` lists: `<stage>:<moment>`.
    pub const fn name(self) -> &'static str {
        match self {
            Point::FetchAfterCatalog => "fetch:after-catalog",
            Point::FetchAfterLock => "fetch:after-lock",
            Point::FetchAfterRecordRemoved => "fetch:after-record-removed",
            Point::FetchMidFile => "fetch:mid-file",
            Point::FetchBeforeRename => "fetch:before-rename",
            Point::FetchAfterRename => "fetch:after-rename",
            Point::FetchBeforeRecords => "fetch:before-records",
            Point::FetchAfterPrune => "fetch:after-prune",
            Point::FetchAfterSignatureWritten => "fetch:after-signature-written",
            Point::FetchAfterCatalogWritten => "fetch:after-catalog-written",
            Point::FetchAfterTimestampSignatureWritten => "fetch:after-timestamp-signature-written",
            Point::FetchAfterRecordWritten => "fetch:after-record-written",
            Point::ImportAfterVerify => "import:after-verify",
            Point::ImportBeforeLock => "import:before-lock",
            Point::ImportAfterCleanStaging => "import:after-clean-staging",
            Point::ImportMidCopy => "import:mid-copy",
            Point::ImportAfterStage => "import:after-stage",
            Point::ImportAfterOnePack => "import:after-one-pack",
            Point::ImportAfterRename => "import:after-rename",
            Point::ImportBeforeCommit => "import:before-commit",
            Point::ImportAfterCommit => "import:after-commit",
            Point::InboxAfterRenameAside => "inbox:after-rename-aside",
            Point::PublishAfterLock => "publish:after-lock",
            Point::PartsAfterStage => "parts:after-stage",
            Point::PartsMidJoin => "parts:mid-join",
        }
    }

    /// The stage part of the name (`fetch`, `import`, `inbox`, `publish`, `parts`).
    pub fn stage(self) -> &'static str {
        self.name().split_once(':').map_or("", |(stage, _)| stage)
    }
}

/// Kills the process with SIGKILL if `at` is armed in `SCT_FAULT`; does nothing otherwise.
#[inline]
pub fn point(at: Point) {
    #[cfg(debug_assertions)]
    if armed(at) {
        crash(at.name());
    }
    #[cfg(not(debug_assertions))]
    let _ = at;
}

/// True when `SCT_FAULT` lists `at` (debug builds only; always false in release builds).
pub fn armed(at: Point) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    std::env::var(ENV_FAULT)
        .map(|value| listed(&value, at.name()))
        .unwrap_or(false)
}

fn listed(value: &str, name: &str) -> bool {
    value.split(',').map(str::trim).any(|item| item == name)
}

#[cfg(debug_assertions)]
fn crash(name: &str) -> ! {
    crate::core::report::note(
        "sct",
        format!("fault injected at `{name}` ({ENV_FAULT}): killing this process"),
    );
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    // Windows' SIGKILL: TerminateProcess ends every thread at once, with no destructor, flush or
    // exit handler, as a power cut or `taskkill /F` would. Exit code 137 (128 + SIGKILL) is what a
    // shell reports for a killed process, so a test knows the fault point was reached.
    #[cfg(windows)]
    // SAFETY: terminates our own process through its pseudo-handle.
    unsafe {
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};
        TerminateProcess(GetCurrentProcess(), KILLED_EXIT_CODE);
    }
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_matched_by_whole_name() {
        assert!(listed("import:after-stage", "import:after-stage"));
        assert!(listed(
            "fetch:mid-download, import:mid-copy",
            "import:mid-copy"
        ));
        assert!(!listed("import:after-stage", "import:after"));
        assert!(!listed("", "import:mid-copy"));
    }

    #[test]
    fn unarmed_point_returns() {
        // The test process never sets SCT_FAULT.
        point(Point::ImportAfterStage);
    }

    #[test]
    fn every_point_is_listed_once_with_a_stage_and_a_unique_name() {
        let names: std::collections::BTreeSet<&str> = Point::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Point::ALL.len(), "a name or point twice");
        for point in Point::ALL {
            assert!(
                ["fetch", "import", "inbox", "publish", "parts"].contains(&point.stage()),
                "{point:?}: `{}` is not <stage>:<moment>",
                point.name()
            );
        }
        // `name` is a match, so every point has a name; ALL must hold each one, in order
        // (PartsMidJoin is the last variant).
        for (index, point) in Point::ALL.iter().enumerate() {
            assert_eq!(*point as usize, index, "{point:?} out of order in ALL");
        }
        assert_eq!(Point::ALL.len(), Point::PartsMidJoin as usize + 1);
    }
}
