//! `sct-span`: lay a fetched update-pack folder out as volumes that each verify alone.

use crate::cli::OperatorArgs;
use clap::Parser;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-span";

/// Lay an update pack folder out as Volume01, Volume02, ... of at most --volume-size bytes each,
/// for media smaller than the download (DVDs, small USB drives). Each volume holds the signed
/// catalog, whole packs where they fit, parts of the rest, and a record of what it holds; each
/// verifies alone with sct-verify and imports alone with sct-import. Prints an sct.span.v1 plan.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    /// The update pack folder (as sct-fetch or ServiceConnectionTool -connect wrote it).
    #[arg(value_parser = crate::core::paths::path_flag)]
    pub src: PathBuf,
    /// The most bytes of files one volume may hold: bytes, or 4.7GB, 700MB (powers of 1000),
    /// 16GiB, 600KiB (powers of 1024). File-system overhead is not counted: leave a margin.
    #[arg(long, value_name = "SIZE", value_parser = crate::stages::span::size::parse)]
    pub volume_size: u64,
    /// The folder to write the volumes into (new or empty).
    #[arg(long, value_name = "DIR", value_parser = crate::core::paths::path_flag)]
    pub out: PathBuf,
    /// Verify the folder and print the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub trust: super::TrustArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

const AFTER_HELP: &str = "\
Examples:
  sct-span D:\\UpdatePacks --volume-size 4.7GB --out D:\\Discs        # one folder per DVD
  sct-span /media/usb/UpdatePacks --volume-size 16GiB --out volumes --dry-run
  sct-verify E:\\Volume02 && sct-import --src E:\\Volume02           # at the site, in any order";

/// The exit codes `sct-span` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (
        crate::core::error::ExitCode::Success,
        "every volume written (or planned, with --dry-run)",
    ),
    (
        crate::core::error::ExitCode::Rejected,
        "the folder failed verification, or changed while it was copied",
    ),
    (
        crate::core::error::ExitCode::Usage,
        "a volume size too small for the catalog, an --out folder that is not empty",
    ),
    (
        crate::core::error::ExitCode::Io,
        "a folder could not be read or written, disk full",
    ),
];

/// Runs `sct-span`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = crate::stages::config::Config::load()?;
    let trusted = args.trust.keys(&config, Some(args.src.as_path()))?;
    let options = crate::stages::span::SpanOptions {
        src: args.src,
        out: args.out,
        volume_size: args.volume_size,
        dry_run: args.dry_run,
    };
    let report = crate::stages::span::span(&options, &trusted, jiff::Timestamp::now())?;
    crate::core::logging::info(
        TOOL,
        format!(
            "{} {} into {} volumes of at most {} bytes under {}",
            if report.dry_run {
                "Planned"
            } else {
                "Laid out"
            },
            report.src,
            report.volumes.len(),
            report.volume_size,
            report.out
        ),
    );
    crate::core::document::write_pretty(std::io::stdout().lock(), &report)
}
