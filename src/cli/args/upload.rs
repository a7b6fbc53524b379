//! `sct-upload`: usage cabs → the update service → offers (JSON lines) for sct-fetch.

use crate::cli::{NetArgs, OperatorArgs};
use clap::Parser;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-upload";

/// Upload usage cabs to the update service and print one sct.offer.v1 line per hierarchy.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    /// A usage cab, or a folder of them (one cab per hierarchy, unique file names).
    #[arg(value_name = "FILE|DIR", value_parser = crate::core::paths::path_flag)]
    pub source: PathBuf,
    /// Update service base URL [default: SCT_SERVICE_URL, then service_url in sct.toml]
    #[arg(long, value_name = "URL")]
    pub service_url: Option<String>,
    #[command(flatten)]
    pub trust: super::TrustArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// Uploads at once.
    #[arg(long, value_name = "N", default_value_t = crate::stages::upload::DEFAULT_PARALLEL)]
    pub parallel: usize,
    /// Check the cabs and print what would be uploaded (sct.upload-plan.v1); send nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

const AFTER_HELP: &str = "\
Examples:
  sct-upload /media/usb/UsageData.cab --service-url https://updates.example.org
  sct-upload /media/usb/ | sct-fetch --dest /media/usb/UpdatePacks
  SCT_PROXY_PASSWORD=... sct-upload usb/ --proxy itproxy:3128 --proxy-user jqpublic
  sct-upload UsageData.cab --ca-file corp-root.pem --trusted-key ed25519:...
  sct-upload /media/usb/ --dry-run
  sct-upload /media/usb/ --log /media/usb/upload.log

stdout carries only sct.offer.v1 lines (one per hierarchy); a summary goes to stderr.
The upload token, if the service needs one, comes from SCT_SERVICE_TOKEN; over http:// to another
machine it is refused unless SCT_ALLOW_CLEAR_TEXT_TOKEN=1 accepts that anyone on the way can read it.";

/// The exit codes `sct-upload` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (crate::core::error::ExitCode::Success, ""),
    (
        crate::core::error::ExitCode::Rejected,
        "cab, receipt or catalog: tampered, unknown key, expired",
    ),
    (crate::core::error::ExitCode::Usage, ""),
    (crate::core::error::ExitCode::Io, ""),
    (
        crate::core::error::ExitCode::Network,
        "service or proxy unreachable or refusing",
    ),
];

/// Runs `sct-upload`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = crate::stages::config::Config::load()?;
    if args.dry_run {
        return dry_run(&args, &config);
    }
    let options = options(args, &config)?;
    crate::stages::upload::log_proxy(&options.net);
    let runtime = crate::core::runtime::build()?;
    let mut stdout = std::io::stdout().lock();
    let outcome = runtime.block_on(crate::stages::upload::upload_all(
        &options,
        &mut |offered| {
            crate::core::document::write_line(&mut stdout, &offered.offer)?;
            crate::cli::note(TOOL, offer_note(offered));
            Ok(())
        },
    ))?;
    let mut failures = outcome.failures.into_iter();
    let Some((_, first)) = failures.next() else {
        return Ok(());
    };
    for (path, err) in failures {
        crate::cli::note(TOOL, format!("also failed: `{}`: {err:#}", path.display()));
    }
    Err(first)
}

/// What the operator is told of one offer.
fn offer_note(offered: &crate::stages::upload::Offered) -> String {
    let offer = &offered.offer;
    format!(
        "{}: hierarchy {} (site {}, {}) → catalog version {}: sct-fetch selects {} (default mode latest), {} with --mode siteversion",
        offer.usage_cab,
        offer.hierarchy_id,
        offer.site_code,
        offer.full_version,
        offer.receipt.catalog_version,
        crate::cli::count(offered.latest, "pack", "packs"),
        offered.site_version
    )
}

/// `--dry-run`: the plan on stdout, a one-line summary on stderr; nothing is sent.
fn dry_run(args: &Args, config: &crate::stages::config::Config) -> anyhow::Result<()> {
    let net = args.net.options(config)?;
    let plan =
        crate::stages::upload::plan(&args.source, args.service_url.as_deref(), &net, config)?;
    let summary = format!(
        "dry run: would upload {}, {} bytes, to {}; nothing was sent",
        crate::cli::count(plan.cabs.len(), "cab", "cabs"),
        plan.total_bytes,
        plan.upload_url
            .as_deref()
            .unwrap_or("(no service URL configured)")
    );
    crate::core::logging::info(TOOL, &summary);
    crate::cli::note(TOOL, summary);
    crate::core::document::write_pretty(std::io::stdout().lock(), &plan)
}

fn options(
    args: Args,
    config: &crate::stages::config::Config,
) -> anyhow::Result<crate::stages::upload::UploadOptions> {
    let net = args.net.options(config)?;
    let mut options = crate::stages::upload::UploadOptions::resolve(
        args.source,
        args.service_url.as_deref(),
        &args.trust.trusted_keys,
        net,
        config,
    )?;
    options.parallel = args.parallel.max(1);
    Ok(options)
}
