//! Fault injection for crash tests: a process kills itself at a named point.
//!
//! Crash safety is only believable when a test can kill the process at the worst moment. Code
//! marks those moments with [`point`]; a test sets `SCT_FAULT=import:after-stage` (a
//! comma-separated list of point names) and the process kills itself when it reaches one —
//! SIGKILL on Unix, `TerminateProcess` on Windows — so no destructor, flush or `Drop` runs,
//! exactly as after a power cut or `kill -9`.
//!
//! Only debug builds look at the variable: in release builds [`point`] compiles to nothing, so a
//! stray environment variable can never crash a production import.
//!
//! Point names are `<stage>:<moment>`. Import uses `import:mid-copy`, `import:after-stage`,
//! `import:after-rename` (files in place, database not yet committed) and `import:after-commit`.

/// The environment variable that arms fault points (debug builds only).
pub const ENV_FAULT: &str = "SCT_FAULT";

/// The exit code of a process a fault point ended on Windows (128 + SIGKILL, as shells show).
pub const KILLED_EXIT_CODE: u32 = 137;

/// Kills the process with SIGKILL if `name` is armed in `SCT_FAULT`; does nothing otherwise.
#[inline]
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    if armed(name) {
        crash(name);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// True when `SCT_FAULT` lists `name` (debug builds only; always false in release builds).
pub fn armed(name: &str) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    std::env::var(ENV_FAULT)
        .map(|value| listed(&value, name))
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
        // The test process never sets SCT_FAULT to this name.
        point("test:never-armed");
    }
}
