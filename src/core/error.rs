//! Failure kinds and the one exit-code map every binary shares.
//!
//! Errors travel as `anyhow::Error` so each layer can add context ("Failed to read cab `X`").
//! Where the *kind* of failure matters to an operator's script, the code that detects it attaches
//! a [`Failure`] with [`fail`]; [`exit_code`] then finds it anywhere in the chain.

use std::fmt;

/// Documented process exit codes (README, `--help`, `docs/exit-codes.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// The job was done.
    Success = 0,
    /// The input was checked and refused: tampered, unsigned, expired, hostile or for another hierarchy.
    Rejected = 1,
    /// The command line or configuration is wrong; nothing was done.
    Usage = 2,
    /// A local file, folder or the site database could not be read or written.
    Io = 3,
    /// The update service or a proxy could not be reached or answered with an error.
    Network = 4,
    /// There was nothing to do: for example the site has no usage data yet.
    NoData = 5,
}

impl ExitCode {
    /// The numeric code handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A classified failure, carried inside an `anyhow::Error` chain.
#[derive(Debug)]
pub struct Failure {
    pub kind: ExitCode,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Builds an error of the given kind.
pub fn fail(kind: ExitCode, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind,
        message: message.into(),
    })
}

/// Shorthand for `Err(fail(ExitCode::Usage, ..))`-style early returns.
#[macro_export]
macro_rules! bail_kind {
    ($kind:expr, $($arg:tt)*) => {
        return Err($crate::core::error::fail($kind, format!($($arg)*)))
    };
}

/// Finds the exit code for an error: the first classified [`Failure`] in the chain wins, then the
/// type of the root causes, and anything unclassified is a local failure (3).
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.kind;
        }
    }
    for cause in err.chain() {
        if cause.downcast_ref::<reqwest::Error>().is_some() {
            return ExitCode::Network;
        }
        if let Some(json) = cause.downcast_ref::<serde_json::Error>() {
            // serde_json also reports the writer's failures (a full disk under stdout): local.
            return if json.is_io() {
                ExitCode::Io
            } else {
                ExitCode::Rejected
            };
        }
    }
    ExitCode::Io
}

/// True when the error is a closed stdout (`sct-collect | head`): the reader left, nothing failed.
///
/// serde_json wraps the writer's `io::Error` without exposing it as a source, so its own
/// `io_error_kind` is asked too (JSON written to a closed pipe used to end with exit 1).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe || closed_pipe_on_windows(io))
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|json| json.io_error_kind() == Some(BrokenPipe))
    })
}

/// Windows also reports a reader that left as `ERROR_PIPE_NOT_CONNECTED` (233), which Rust does
/// not map to `BrokenPipe` (it maps `ERROR_BROKEN_PIPE`, 109, and `ERROR_NO_DATA`, 232).
fn closed_pipe_on_windows(io: &std::io::Error) -> bool {
    cfg!(windows) && io.raw_os_error() == Some(233)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_are_distinct_and_stable() {
        let codes = [
            ExitCode::Success,
            ExitCode::Rejected,
            ExitCode::Usage,
            ExitCode::Io,
            ExitCode::Network,
            ExitCode::NoData,
        ];
        let numbers: Vec<u8> = codes.iter().map(|c| c.code()).collect();
        assert_eq!(numbers, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn classified_failure_survives_context() {
        let err = Err::<(), _>(fail(ExitCode::Rejected, "bad hash"))
            .context("Failed to verify `x`")
            .unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Rejected);
    }

    #[test]
    fn plain_io_error_is_local_failure() {
        let err = anyhow::Error::new(std::io::Error::other("disk")).context("writing");
        assert_eq!(exit_code(&err), ExitCode::Io);
        assert!(!is_broken_pipe(&err));
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let err = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing stdout");
        assert!(is_broken_pipe(&err));
    }

    #[test]
    fn broken_pipe_under_json_is_recognised() {
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let err = serde_json::to_writer(Closed, &[1, 2, 3])
            .context("Failed to write JSON")
            .unwrap_err();
        assert!(is_broken_pipe(&err));
        assert_eq!(exit_code(&err), ExitCode::Io);
    }
}
