//! What every binary shares: running a stage, printing its error once, and mapping it to an exit code.

use crate::error::{ExitCode, exit_code, is_broken_pipe};
use std::io::Write;

/// The exit-code table shown at the end of every `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done
  1  input refused: tampered, unsigned, expired, hostile or for another hierarchy
  2  usage error: a flag or setting is missing or wrong; nothing was done
  3  local failure: a file, folder or the site database could not be read or written
  4  network failure: the update service or proxy could not be reached or refused
  5  nothing to do: for example the site has no usage data yet";

/// Runs a stage and turns its outcome into the process exit code.
///
/// Errors are printed once to stderr as `TOOL: error: ...` followed by `TOOL:   Caused by: ...` lines;
/// every line carries the tool's name because a pipeline shares one stderr. A closed stdout is not an
/// error: the reader simply stopped reading. When a log is open (`sct::logging`), the error, its
/// causes and the exit code are logged as `ERROR:` entries too.
pub fn run(tool: &str, stage: impl FnOnce() -> anyhow::Result<()>) -> std::process::ExitCode {
    match stage() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            report(tool, &err);
            let code = exit_code(&err).code();
            crate::logging::error_chain(tool, &err);
            crate::logging::error(tool, format!("{tool} failed with exit code {code}"));
            std::process::ExitCode::from(code)
        }
    }
}

/// Writes an error and its causes to stderr.
pub fn report(tool: &str, err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let mut chain = err.chain();
    if let Some(head) = chain.next() {
        let _ = writeln!(stderr, "{tool}: error: {head}");
    }
    for cause in chain {
        let _ = writeln!(stderr, "{tool}:   Caused by: {cause}");
    }
}

/// Prints a human note on stderr, prefixed with the tool's name.
pub fn note(tool: &str, message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{tool}: {message}");
}

/// The answer of a binary whose stage is not built yet: plain words and a non-zero code.
pub fn not_built(tool: &str, what: &str, issue: u32) -> std::process::ExitCode {
    note(
        tool,
        format!("{what} is not built yet (tracked as issue {issue}); nothing was done."),
    );
    std::process::ExitCode::from(ExitCode::Io.code())
}
