//! What every binary shares: running a stage, printing its error once, and mapping it to an exit code.
//!
//! The binaries' clap definitions live in [`args`] (one module per binary, each with its `Args`
//! and `run`), so man pages and shell completions are generated from the same definitions
//! ([`args::commands`], `cargo run --bin sct-docgen`). Readable summaries for a terminal are in
//! [`readable`].

use crate::core::error::{exit_code, is_broken_pipe};
use std::io::{IsTerminal, Write};

pub mod args;
pub mod docgen;
mod net;
pub mod progress;
pub mod readable;
pub mod wrapper;

pub use crate::core::report::{count, note};
pub use net::NetArgs;

/// The operator flags every stage shares: `--log FILE` and `--quiet`. Add them to a stage's clap
/// arguments with `#[command(flatten)] operator: sct::cli::OperatorArgs` and call
/// [`OperatorArgs::apply`] first thing in the stage.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct OperatorArgs {
    /// Also write a CMTrace log to FILE (appended; rolls over to .lo_ above 5 MiB; see docs/logs.md).
    #[arg(long, value_name = "FILE", global = true, value_parser = crate::core::paths::path_flag)]
    pub log: Option<std::path::PathBuf>,
    /// Draw no progress bars on stderr.
    #[arg(long, short, global = true, alias = "no-progress")]
    pub quiet: bool,
}

impl OperatorArgs {
    /// Switches progress bars off for `--quiet` and opens `--log FILE`, logging the run's start.
    /// A log file that cannot be opened is a local failure (exit 3). The opening entries name the
    /// caller's source line (the stage's `run`).
    #[track_caller]
    pub fn apply(&self, tool: &str) -> anyhow::Result<()> {
        crate::cli::progress::set_quiet(self.quiet);
        if let Some(path) = &self.log {
            crate::core::logging::init_stage_log(path)?;
            let args: Vec<_> = std::env::args_os().skip(1).collect();
            crate::core::logging::log_start(tool, &args);
        }
        Ok(())
    }
}

/// How a command that inspects something shows it: `--json` and `--human` force one form;
/// otherwise a readable summary when stdout is a terminal and JSON when it is piped.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ViewArgs {
    /// Print JSON even on a terminal.
    #[arg(long, conflicts_with = "human")]
    pub json: bool,
    /// Print the readable summary even when stdout is piped.
    #[arg(long)]
    pub human: bool,
}

impl ViewArgs {
    /// True when the readable summary is wanted, decided with stdout's terminal status now.
    pub fn human(&self) -> bool {
        self.human_given(std::io::stdout().is_terminal())
    }

    /// The decision, given whether stdout is a terminal.
    pub fn human_given(&self, stdout_is_terminal: bool) -> bool {
        !self.json && (self.human || stdout_is_terminal)
    }
}

/// The process's arguments, with the Windows ways of asking for help ([`is_windows_help`])
/// turned into `--help`, for `Args::parse_from` in every binary.
pub fn args_os() -> Vec<std::ffi::OsString> {
    help_spelled_for_clap(std::env::args_os())
}

/// [`args_os`] over any argument list (the program name first).
pub fn help_spelled_for_clap(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| match arg.to_str() {
            Some(text) if i > 0 && is_windows_help(text) => "--help".into(),
            _ => arg,
        })
        .collect()
}

/// `/?` asks for help on every platform (no file name can be `?` on Windows, and no one keeps a
/// file named `?` at a Unix root); `/help` and `/h` (any case) do so on Windows, where they are
/// how every Windows tool is asked, and are paths elsewhere.
pub fn is_windows_help(arg: &str) -> bool {
    arg == "/?" || (cfg!(windows) && matches!(arg.to_ascii_lowercase().as_str(), "/help" | "/h"))
}

/// Runs a stage and turns its outcome into the process exit code.
///
/// Errors are printed once to stderr as `TOOL: error: ...` followed by `TOOL:   Caused by: ...` lines;
/// every line carries the tool's name because a pipeline shares one stderr. A closed stdout is not an
/// error: the reader simply stopped reading. When a log is open (`sct::core::logging`), the error, its
/// causes and the exit code are logged as `ERROR:` entries too.
pub fn run(tool: &str, stage: impl FnOnce() -> anyhow::Result<()>) -> std::process::ExitCode {
    crate::core::setting::set_program(tool);
    progress::install();
    let code = match stage() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            report(tool, &err);
            let code = exit_code(&err).code();
            crate::core::logging::error_chain(tool, &err);
            crate::core::logging::error(tool, format!("{tool} failed with exit code {code}"));
            std::process::ExitCode::from(code)
        }
    };
    // Nothing is written after this: the secrets kept for masking can go.
    crate::core::logging::forget_secrets();
    code
}

/// Writes an error and its causes to stderr, each as one line ([`shown`]).
pub fn report(tool: &str, err: &anyhow::Error) {
    crate::cli::progress::suspend(|| report_now(tool, err));
}

fn report_now(tool: &str, err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let mut chain = err.chain();
    if let Some(head) = chain.next() {
        let _ = writeln!(stderr, "{tool}: error: {}", shown(&head));
    }
    for cause in chain {
        let _ = writeln!(stderr, "{tool}:   Caused by: {}", shown(&cause));
    }
}

/// A message as a person may see it: secrets masked ([`crate::core::logging::redact`]) and anything
/// from outside that could forge a line or drive the terminal escaped ([`crate::core::escape`]).
/// Every line sct writes for people goes through it.
pub fn shown(message: &dyn std::fmt::Display) -> String {
    crate::core::escape::escape(&crate::core::logging::redact(&message.to_string())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Stage {
        #[command(flatten)]
        operator: OperatorArgs,
    }

    #[test]
    fn view_follows_the_terminal_unless_forced() {
        let auto = ViewArgs::default();
        assert!(auto.human_given(true) && !auto.human_given(false));
        let json = ViewArgs {
            json: true,
            human: false,
        };
        assert!(!json.human_given(true));
        let human = ViewArgs {
            json: false,
            human: true,
        };
        assert!(human.human_given(false));
    }

    #[test]
    fn slash_question_mark_is_help() {
        let args = help_spelled_for_clap(["sct-verify", "/?", "D:\\USB"].map(Into::into));
        assert_eq!(
            args,
            ["sct-verify", "--help", "D:\\USB"].map(std::ffi::OsString::from)
        );
        // The program's own name is never rewritten, and `/help` is a path off Windows.
        assert_eq!(help_spelled_for_clap(["/?".into()]), ["/?"]);
        assert_eq!(is_windows_help("/HELP"), cfg!(windows));
    }

    #[test]
    fn operator_flags_parse() {
        let stage = Stage::try_parse_from(["sct-fetch", "--log", "fetch.log", "-q"]).unwrap();
        assert_eq!(
            stage.operator.log.as_deref(),
            Some(std::path::Path::new("fetch.log"))
        );
        assert!(stage.operator.quiet);
        let plain = Stage::try_parse_from(["sct-fetch"]).unwrap();
        assert!(plain.operator.log.is_none() && !plain.operator.quiet);
        assert!(Stage::try_parse_from(["sct-fetch", "--log"]).is_err());
    }
}
