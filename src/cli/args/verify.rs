//! `sct-verify`: check a carried update-pack folder, trusting nothing but the pinned keys.

use crate::cli::{OperatorArgs, ViewArgs};
use clap::Parser;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-verify";

/// Verify an update pack folder: catalog signature and expiry, every recorded pack complete, every
/// file's size and SHA-256, nothing unexpected. Prints an sct.verify.v1 report.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    /// The update pack folder (as sct-fetch or ServiceConnectionTool -connect wrote it).
    #[arg(value_parser = crate::core::paths::path_flag)]
    pub dir: PathBuf,
    #[command(flatten)]
    pub trust: super::TrustArgs,
    #[command(flatten)]
    pub view: ViewArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

const AFTER_HELP: &str = "\
Examples:
  sct-verify /media/usb/UpdatePacks            # a readable summary on a terminal, JSON when piped
  sct-verify --human /media/usb/UpdatePacks | tee verify.txt
  sct-verify --trusted-key ed25519:3q2+7w... /media/usb/UpdatePacks | jq '.packs[] | select(.ok | not)'";

/// The exit codes `sct-verify` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (crate::core::error::ExitCode::Success, "all good"),
    (
        crate::core::error::ExitCode::Rejected,
        "verification failed (the report, or the error on stderr, says what)",
    ),
    (crate::core::error::ExitCode::Usage, ""),
    (
        crate::core::error::ExitCode::Io,
        "the folder could not be read",
    ),
];

/// Runs `sct-verify`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = crate::stages::config::Config::load()?;
    let trusted = args.trust.keys(&config, Some(args.dir.as_path()))?;
    let verified = crate::stages::verify::verify_dir(&args.dir, &trusted, jiff::Timestamp::now())?;
    let report = &verified.report;
    for entry in &report.ignored {
        crate::cli::note(TOOL, crate::core::litter::note(entry));
    }
    crate::core::logging::info(
        TOOL,
        format!(
            "Verified {}: catalog version {}, {} packs, {}",
            report.dir,
            report.catalog_version,
            report.packs.len(),
            if report.ok {
                "all good"
            } else {
                "PROBLEMS FOUND"
            }
        ),
    );
    let mut out = std::io::stdout().lock();
    if args.view.human() {
        crate::cli::readable::write_verify_report(&mut out, report)?;
    } else {
        crate::core::document::write_pretty(out, report)?;
    }
    crate::stages::verify::outcome(report)
}
