//! Typed failures and the one table that gives each its exit code.
//!
//! Errors travel as `anyhow::Error` so each layer can add context ("Failed to read cab `X`").
//! Where the *kind* of failure matters to an operator's script, the code that detects it returns
//! an [`Error`]: a variant that names the situation (with its fields) or, for a one-off message,
//! the class itself (`Error::Usage(..)`). [`Error::class`] is the one map from situation to
//! [`ExitCode`], and [`exit_code`] finds the typed error anywhere in the chain. The `--help`
//! texts are generated from [`ExitCode`]'s own table ([`ExitCode::help`]), so the numbers and
//! class names exist once.

use std::fmt::Write as _;
use std::path::PathBuf;

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
    /// Every class, in the order of its number.
    pub const ALL: [ExitCode; 6] = [
        ExitCode::Success,
        ExitCode::Rejected,
        ExitCode::Usage,
        ExitCode::Io,
        ExitCode::Network,
        ExitCode::NoData,
    ];

    /// The numeric code handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The class in a few words, as `--help` names it.
    pub fn label(self) -> &'static str {
        match self {
            ExitCode::Success => "done",
            ExitCode::Rejected => "input refused",
            ExitCode::Usage => "usage error",
            ExitCode::Io => "local failure",
            ExitCode::Network => "network failure",
            ExitCode::NoData => "nothing to do",
        }
    }

    /// What the class covers, for the full table (`ServiceConnectionTool -help`).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "",
            ExitCode::Rejected => "tampered, unsigned, expired, hostile or for another hierarchy",
            ExitCode::Usage => "a flag or setting is missing or wrong; nothing was done",
            ExitCode::Io => "a file, folder or the site database could not be read or written",
            ExitCode::Network => "the update service or a proxy could not be reached or refused",
            ExitCode::NoData => "for example the site has no usage data yet",
        }
    }

    /// The "Exit codes:" section of a stage's `--help`: one line per class the stage can end
    /// with, the class's label followed by the stage's own words for it (none when empty).
    pub fn help(lines: &[(ExitCode, &str)]) -> String {
        let mut text = String::from("Exit codes:");
        for (class, detail) in lines {
            let _ = write!(text, "\n  {}  {}", class.code(), class.label());
            if !detail.is_empty() {
                let _ = write!(text, ": {detail}");
            }
        }
        text
    }

    /// The full table, every class with its general meaning.
    pub fn help_all() -> String {
        let lines = Self::ALL.map(|class| (class, class.meaning()));
        Self::help(&lines)
    }
}

/// A stage's text after its flags (clap's `after_help`): its own text, then the exit codes it can
/// end with, each in the stage's words ([`ExitCode::help`]).
pub fn after_help(text: &str, exits: &[(ExitCode, &str)]) -> String {
    format!("{text}\n\n{}", ExitCode::help(exits))
}

/// A failure whose exit class matters: the situation, with what an operator needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path given as a folder (a destination, a service root) exists and is something else.
    #[error("`{}` is not a folder", path.display())]
    NotAFolder { path: PathBuf },
    /// Another run holds the lock on what this one must write; it is still running, or was killed.
    #[error(
        "another {holder} is writing to {what} (lock `{}` is held); nothing was done, run again \
         when it has finished",
        path.display()
    )]
    LockHeld {
        /// Who holds it: "sct-fetch", "import", "publication".
        holder: &'static str,
        /// What it guards: "the inbox", "the folder", "the service root".
        what: &'static str,
        path: PathBuf,
    },
    /// The update service answered an upload with a refusal: what it means depends on the status.
    #[error(
        "the update service at {url} {} ({status}){}",
        refusal(*status),
        said.as_deref().map(|s| format!(": {s}")).unwrap_or_default()
    )]
    UploadRefused {
        /// The endpoint, already redacted.
        url: String,
        status: reqwest::StatusCode,
        /// What the service said in its error document, if anything.
        said: Option<String>,
    },
    /// Input over a size limit, the bound on what reading it may cost: a document or one line of
    /// a stream, a download, a file from the medium, a cab member.
    #[error(
        "{what} is larger than the {limit}-byte limit{}",
        meant_for.as_deref().map(|m| format!(" for {m}")).unwrap_or_default()
    )]
    TooLarge {
        /// What was read: a source, a URL (already redacted), a path in backquotes.
        what: String,
        limit: u64,
        /// What the limit is for, when it depends on it (a document kind).
        meant_for: Option<String>,
    },
    /// No catalog signing key is pinned, so nothing from the service or the medium can be
    /// checked.
    #[error("no trusted catalog signing key is configured: {how}")]
    NoTrustedKey {
        /// How to give one, in the words of the program that runs.
        how: String,
    },
    /// Several items failed (packs of a fetch or an import): the run ends with the first one's class.
    #[error("{message}")]
    Several { first: ExitCode, message: String },
    /// Input refused by a check (a one-off message; recurring situations get their own variant).
    #[error("{0}")]
    Rejected(String),
    /// A wrong flag or setting, found before any work.
    #[error("{0}")]
    Usage(String),
    /// A local file, folder or the site database failed.
    #[error("{0}")]
    Io(String),
    /// The service or a proxy failed or could not be reached.
    #[error("{0}")]
    Network(String),
    /// There was nothing to do.
    #[error("{0}")]
    NoData(String),
}

impl Error {
    /// [`Error::NoTrustedKey`], saying how to give a key with the config file by its plain name.
    pub fn no_trusted_key() -> Self {
        let setting = crate::core::setting::Setting::TrustedKeys;
        Error::NoTrustedKey {
            how: setting
                .how_to_give(crate::core::setting::CONFIG_FILE)
                .unwrap_or_default(),
        }
    }

    /// The one map from situation to exit class.
    pub fn class(&self) -> ExitCode {
        match self {
            Error::NotAFolder { .. } => ExitCode::Usage,
            Error::LockHeld { .. } => ExitCode::Io,
            Error::UploadRefused { status, .. } => upload_refusal_class(*status),
            Error::TooLarge { .. } => ExitCode::Rejected,
            Error::NoTrustedKey { .. } => ExitCode::Usage,
            Error::Several { first, .. } => *first,
            Error::Rejected(_) => ExitCode::Rejected,
            Error::Usage(_) => ExitCode::Usage,
            Error::Io(_) => ExitCode::Io,
            Error::Network(_) => ExitCode::Network,
            Error::NoData(_) => ExitCode::NoData,
        }
    }
}

/// A refused upload: the cab itself (too large, malformed) is refused input; a refused token or a
/// URL without the endpoint is a setting to fix; anything else is the service failing.
fn upload_refusal_class(status: reqwest::StatusCode) -> ExitCode {
    use reqwest::StatusCode as S;
    match status {
        S::PAYLOAD_TOO_LARGE | S::UNPROCESSABLE_ENTITY | S::BAD_REQUEST => ExitCode::Rejected,
        S::UNAUTHORIZED | S::FORBIDDEN | S::NOT_FOUND | S::METHOD_NOT_ALLOWED => ExitCode::Usage,
        _ => ExitCode::Network,
    }
}

/// What the service's refusal means, in the words of [`Error::UploadRefused`].
fn refusal(status: reqwest::StatusCode) -> &'static str {
    use reqwest::StatusCode as S;
    match status {
        S::PAYLOAD_TOO_LARGE | S::UNPROCESSABLE_ENTITY | S::BAD_REQUEST => "refused the cab",
        S::UNAUTHORIZED | S::FORBIDDEN => {
            "refused the upload credentials (set SCT_SERVICE_TOKEN to the service's token)"
        }
        S::NOT_FOUND | S::METHOD_NOT_ALLOWED => {
            "has no upload endpoint there: check the service URL"
        }
        _ => "refused the upload",
    }
}

/// Finds the exit code for an error: the first typed [`Error`] in the chain wins, then the
/// type of the root causes, and anything unclassified is a local failure (3).
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    // `downcast_ref` also sees errors attached with `.context(Error::..)`; `chain` sees those
    // wrapped as the `source` of another error.
    if let Some(typed) = err.downcast_ref::<Error>() {
        return typed.class();
    }
    for cause in err.chain() {
        if let Some(typed) = cause.downcast_ref::<Error>() {
            return typed.class();
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
        let numbers: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(numbers, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn typed_error_survives_context() {
        let err = Err::<(), _>(Error::Rejected("bad hash".into()))
            .context("Failed to verify `x`")
            .unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Rejected);
    }

    #[test]
    fn typed_error_given_as_context_classifies_its_cause() {
        let err = anyhow::Error::new(std::io::Error::other("refused"))
            .context(Error::Network("Failed to reach the service".into()))
            .context("Failed to upload `x`");
        assert_eq!(exit_code(&err), ExitCode::Network);
    }

    #[test]
    fn the_outermost_typed_error_wins() {
        let err = anyhow::Error::new(Error::Io("disk".into()))
            .context(Error::Usage("bad flag".into()))
            .context("while starting");
        assert_eq!(exit_code(&err), ExitCode::Usage);
    }

    #[test]
    fn the_same_situation_has_one_class() {
        let lock = Error::LockHeld {
            holder: "import",
            what: "the inbox",
            path: "inbox/.lock".into(),
        };
        assert_eq!(lock.class(), ExitCode::Io);
        assert!(
            lock.to_string()
                .contains("another import is writing to the inbox")
        );
        let file = Error::NotAFolder {
            path: "packs".into(),
        };
        assert_eq!(file.class(), ExitCode::Usage);
        assert_eq!(file.to_string(), "`packs` is not a folder");
    }

    #[test]
    fn help_lists_each_class_once_with_its_number() {
        let help = ExitCode::help(&[
            (ExitCode::Success, ""),
            (ExitCode::Io, "the folder could not be read"),
        ]);
        assert_eq!(
            help,
            "Exit codes:\n  0  done\n  3  local failure: the folder could not be read"
        );
        let all = ExitCode::help_all();
        for class in ExitCode::ALL {
            let line = format!("\n  {}  {}", class.code(), class.label());
            assert_eq!(all.matches(&line).count(), 1, "{all}");
        }
    }

    /// docs/exit-codes.md has a row per class (`| N | `Name` |`), and the README's table says
    /// what `--help` says.
    #[test]
    fn docs_list_every_class_with_its_number() {
        let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/exit-codes.md"));
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        for class in ExitCode::ALL {
            let row = format!("| {} | `{class:?}`", class.code());
            assert!(docs.contains(&row), "docs/exit-codes.md has no row `{row}`");
            let words = match class.meaning() {
                "" => class.label().to_owned(),
                meaning => format!("{}: {meaning}", class.label()),
            };
            let row = format!("| {} | {words} |", class.code());
            assert!(readme.contains(&row), "README.md has no row `{row}`");
        }
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
