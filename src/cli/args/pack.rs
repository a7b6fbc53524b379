//! `sct-pack`: usage document → `UsageData.cab`, and list / inspect / extract any cab.

use crate::cli::{OperatorArgs, ViewArgs};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-pack";

/// Pack usage data into a Microsoft cabinet, or look inside a cab.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

/// What `sct-pack` does.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pack a usage document (sct.usage.v1) into a cab; prints a sct.usage-cab.v1 report.
    #[command(
        after_help = "Examples:\n  sct-collect | sct-pack create -o /media/usb/UsageData.cab\n  sct-pack create usage.json -o UsageData.cab --log pack.log"
    )]
    Create {
        /// The usage document; `-` or nothing reads stdin.
        #[arg(value_parser = crate::core::paths::path_flag)]
        input: Option<PathBuf>,
        /// The cab to write (replaced atomically); `-` writes the cab to stdout instead of the
        /// report.
        #[arg(long, short, value_name = "FILE.cab", value_parser = crate::core::paths::path_flag)]
        output: PathBuf,
    },
    /// List a cab's members as JSON lines (name, size).
    #[command(
        after_help = "Examples:\n  sct-pack list /media/usb/UsageData.cab\n  sct-pack list UsageData.cab | jq -r .name"
    )]
    List {
        /// The cab to list.
        #[arg(value_parser = crate::core::paths::path_flag)]
        cab: PathBuf,
    },
    /// Check a usage cab against its manifest and print its identity: a readable summary on a
    /// terminal, the sct.usage-cab.v1 document when piped or with --json.
    #[command(
        after_help = "Examples:\n  sct-pack inspect /media/usb/UsageData.cab\n  sct-pack inspect UsageData.cab --json | jq .hierarchy_id\n  sct-pack inspect UsageData.cab --csv > review.csv"
    )]
    Inspect {
        /// The usage cab to check; `-` reads it from stdin.
        #[arg(value_parser = crate::core::paths::path_flag)]
        cab: PathBuf,
        /// Print the review CSV instead: every field the cab carries, one row per usage row,
        /// formula-like cells prefixed with ' (as -export writes it; docs/prepare.md).
        #[arg(long, conflicts_with_all = ["json", "human"])]
        csv: bool,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Extract every member into an existing folder, all or nothing, never overwriting.
    #[command(
        after_help = "Examples:\n  mkdir review && sct-pack extract UsageData.cab --dest review/\n  jq .rows[0] review/UsageData.json"
    )]
    Extract {
        /// The cab to extract.
        #[arg(value_parser = crate::core::paths::path_flag)]
        cab: PathBuf,
        /// An existing folder; no member may exist there yet.
        #[arg(long, value_name = "DIR", value_parser = crate::core::paths::path_flag)]
        dest: PathBuf,
        /// The most all members together may hold, in bytes; a cab whose directory declares more
        /// is refused before anything is written (exit 1).
        #[arg(long, value_name = "BYTES", default_value_t = crate::core::cabinet::DEFAULT_EXTRACT_TOTAL)]
        max_total: u64,
    },
}

const AFTER_HELP: &str = "\
Examples:
  sct-collect | sct-pack create -o /media/usb/UsageData.cab
  sct-pack create usage.json -o UsageData.cab --log pack.log
  sct-pack inspect /media/usb/UsageData.cab
  sct-collect | sct-pack create -o - | sct-pack inspect -
  sct-pack inspect --csv /media/usb/UsageData.cab > review.csv
  sct-pack list UsageData.cab
  sct-pack extract UsageData.cab --dest review/";

/// The exit codes `sct-pack` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (crate::core::error::ExitCode::Success, ""),
    (
        crate::core::error::ExitCode::Rejected,
        "cab damaged, altered or with hostile names",
    ),
    (crate::core::error::ExitCode::Usage, ""),
    (
        crate::core::error::ExitCode::Io,
        "a file could not be read or written",
    ),
    (
        crate::core::error::ExitCode::NoData,
        "the usage document holds no rows",
    ),
];

/// Largest member `extract` writes: the cabinet format's own limit.
const EXTRACT_LIMIT: u64 = crate::core::cabinet::MAX_FILE_SIZE;

/// Runs `sct-pack`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let stdout = std::io::stdout().lock();
    match args.command {
        Command::Create { input, output } if output.as_os_str() == "-" => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(crate::core::error::Error::Usage(
                    "-o - writes the cab's bytes to stdout, which is a terminal: redirect it \
                     (> UsageData.cab) or pipe it (| sct-pack inspect -)"
                        .into(),
                )
                .into());
            }
            let doc = read_usage(input)?;
            let scratch = tempfile::tempdir()?;
            let cab = scratch.path().join("UsageData.cab");
            let report = crate::core::usage_cab::pack(&doc, &cab)?;
            log_report("Packed (to stdout)", &report);
            let mut out = stdout;
            std::io::copy(&mut fs_err::File::open(&cab)?, &mut out)?;
            Ok(std::io::Write::flush(&mut out)?)
        }
        Command::Create { input, output } => {
            crate::core::atomic::check_parent(&output)?;
            let doc = read_usage(input)?;
            let report = crate::core::usage_cab::pack(&doc, &output)?;
            log_report("Packed", &report);
            crate::core::document::write_pretty(stdout, &report)
        }
        Command::List { cab } => {
            let reader = crate::core::cabinet::CabReader::open(&cab)?;
            let mut out = stdout;
            for member in reader.members() {
                let line = crate::core::cabinet::MemberLine::new(member, None);
                crate::core::document::write_line(&mut out, &line)?;
            }
            Ok(())
        }
        Command::Inspect { cab, csv, view } => {
            let (doc, report) = inspect(&cab)?;
            log_report("Inspected", &report);
            let mut out = stdout;
            if csv {
                crate::core::review::write_csv(&doc, out)
            } else if view.human() {
                crate::cli::readable::write_cab_report(&mut out, &report)
            } else {
                crate::core::document::write_pretty(out, &report)
            }
        }
        Command::Extract {
            cab,
            dest,
            max_total,
        } => {
            let done = crate::core::cabinet::extract(&cab, &dest, EXTRACT_LIMIT, max_total)?;
            crate::core::logging::info(
                TOOL,
                format!(
                    "Extracted {} members of {} into {}",
                    done.len(),
                    cab.display(),
                    dest.display()
                ),
            );
            let mut out = stdout;
            for (member, sha256) in done {
                let line = crate::core::cabinet::MemberLine::new(member, Some(sha256));
                crate::core::document::write_line(&mut out, &line)?;
            }
            Ok(())
        }
    }
}

/// The usage document from a file, or stdin for `-` or nothing.
fn read_usage(input: Option<PathBuf>) -> anyhow::Result<crate::core::usage::UsageDocument> {
    let max = crate::core::usage::MAX_USAGE_BYTES;
    match input.filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            let file = fs_err::File::open(&path)?;
            crate::core::document::read(file, &format!("`{}`", path.display()), max)
        }
        None => crate::core::document::read(std::io::stdin().lock(), "stdin", max),
    }
}

/// Checks a usage cab from a file, or from stdin for `-` (kept in a scratch file first, since
/// a cab is read by seeking; bounded by the largest usage cab there can be).
fn inspect(
    cab: &std::path::Path,
) -> anyhow::Result<(
    crate::core::usage::UsageDocument,
    crate::core::usage_cab::CabReport,
)> {
    if cab.as_os_str() != "-" {
        return crate::core::usage_cab::open_verified(cab);
    }
    let limit = MAX_STDIN_CAB;
    let scratch = tempfile::tempdir()?;
    let path = scratch.path().join("UsageData.cab");
    let mut file = fs_err::File::create(&path)?;
    let read = std::io::copy(
        &mut std::io::Read::take(std::io::stdin().lock(), limit + 1),
        &mut file,
    )?;
    drop(file);
    if read > limit {
        return Err(crate::core::error::Error::TooLarge {
            what: "the usage cab on stdin".into(),
            limit,
            meant_for: None,
        }
        .into());
    }
    let (doc, mut report) = crate::core::usage_cab::open_verified(&path)?;
    report.cab = "-".into();
    Ok((doc, report))
}

/// Largest usage cab `inspect -` takes from stdin: the usage document's limit, stored, plus
/// room for the cab's headers and its two small members.
const MAX_STDIN_CAB: u64 = crate::core::usage::MAX_USAGE_BYTES + 4 * 1024 * 1024;

fn log_report(verb: &str, report: &crate::core::usage_cab::CabReport) {
    crate::core::logging::info(
        TOOL,
        format!(
            "{verb} usage cab {} (size = {}, SHA-256 = {}): site {}, hierarchy {}, version {}, {} rows",
            report.cab,
            report.size,
            report.sha256,
            report.site_code,
            report.hierarchy_id,
            report.full_version,
            report.rows
        ),
    );
}
