//! `sct-fetch`: offers (JSON lines) → a verified update-pack folder, resumable and parallel.

use crate::cli::{NetArgs, OperatorArgs};
use clap::Parser;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-fetch";

/// Download the update packs the service offers each hierarchy, verified against the pinned keys.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    /// The update pack folder to fill (created if missing; an interrupted run resumes in it).
    #[arg(long, value_name = "DIR", value_parser = crate::core::paths::path_flag)]
    pub dest: PathBuf,
    /// Offers (sct.offer.v1 JSON lines, as sct-upload prints them); `-` or nothing reads stdin.
    #[arg(long, value_name = "FILE", value_parser = crate::core::paths::path_flag)]
    pub offers: Option<PathBuf>,
    /// Which packs: latest (newest update for the site), all, hotfix, siteversion (newer than the site).
    #[arg(long, default_value = "latest", value_name = "MODE")]
    pub mode: crate::core::select::DownloadMode,
    /// Files downloaded at once.
    #[arg(long, default_value_t = crate::stages::fetch::DEFAULT_JOBS, value_name = "N")]
    pub jobs: usize,
    #[command(flatten)]
    pub trust: super::TrustArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// Verify the catalog and print what would be downloaded (sct.fetch-plan.v1); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

const AFTER_HELP: &str = "\
Examples:
  sct-upload /media/usb/UsageData.cab | sct-fetch --dest /media/usb/UpdatePacks
  sct-fetch --offers offers.jsonl --dest /media/usb/UpdatePacks --mode siteversion --jobs 4
  sct-fetch --offers offers.jsonl --dest /media/usb/UpdatePacks --mode all --dry-run
  SCT_PROXY_PASSWORD=... sct-fetch --offers offers.jsonl --dest packs --proxy itproxy:8080 --proxy-user jqpublic

Output: one sct.fetch.v1 JSON line per pack (\"type\":\"pack\"), then a closing \"type\":\"summary\" line.
After any failure, run the same command again to resume.";

/// The exit codes `sct-fetch` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (
        crate::core::error::ExitCode::Success,
        "every selected pack is in place and verified",
    ),
    (
        crate::core::error::ExitCode::Rejected,
        "bad signature, expired, rollback, catalog not fresh, other hierarchy, tampered or wrong-size file",
    ),
    (crate::core::error::ExitCode::Usage, ""),
    (
        crate::core::error::ExitCode::Io,
        "not enough room on the drive, disk full, read-only folder, another sct-fetch writing to the folder",
    ),
    (
        crate::core::error::ExitCode::Network,
        "the service or proxy unreachable, failing or too slow",
    ),
];

/// Runs `sct-fetch`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = crate::stages::config::Config::load()?;
    let net = args.net.options(&config)?.with_proxy_password()?;
    let options = crate::stages::fetch::FetchOptions {
        dest: args.dest.clone(),
        mode: args.mode,
        jobs: args.jobs,
        net,
        trusted: args.trust.keys(&config, None)?,
        progress: !args.operator.quiet,
        validity: config.validity_ceiling()?,
        max_timestamp_age: config.max_timestamp_age()?,
    };
    let offers = crate::stages::fetch::read_offers(args.offers.as_deref())?;
    if args.dry_run {
        let plan = crate::stages::fetch::dry_run(&options, &offers)?;
        return crate::core::document::write_pretty(std::io::stdout().lock(), &plan);
    }
    let mut stdout = std::io::stdout().lock();
    crate::stages::fetch::fetch(&options, &offers, &mut |event| {
        crate::core::document::write_line(&mut stdout, event)
    })?;
    Ok(())
}
