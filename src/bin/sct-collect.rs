//! sct-collect: site database → usage document (JSON) or CSV for review.

use clap::{Parser, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// The sct.usage.v1 document that sct-pack reads.
    Json,
    /// RFC 4180 CSV of the usage rows, to review what would leave the site.
    Csv,
}

/// Read the site's identity and usage data at its diagnostics level.
#[derive(Parser)]
#[command(version, after_help = AFTER_HELP)]
struct Args {
    /// Site database, e.g. sqlite:/var/lib/sct/site.db [default: $SCT_SITE, then sct.toml]
    #[arg(long, value_name = "LOCATOR")]
    site: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Write to FILE (replaced atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Examples:
  sct-collect --site sqlite:site.db | sct-pack create -o /media/usb/UsageData.cab
  sct-collect --format csv -o usagedata.csv

Exit codes: 0 done, 2 usage error, 3 site database unreadable, 5 no usage data yet";

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sct::cli::run("sct-collect", || {
        let config = sct::config::Config::load()?;
        let site = config.site_locator(args.site.as_deref())?;
        if let Some(path) = &args.output {
            sct::atomic::check_parent(path)?;
        }
        let doc = sct::prepare::collect(&site)?;
        let write = |out: &mut dyn Write| match args.format {
            Format::Json => sct::document::write_pretty(out, &doc),
            Format::Csv => sct::usage::write_csv(&doc, out),
        };
        match &args.output {
            Some(path) => sct::atomic::write_with(path, |file| write(file)),
            None => write(&mut std::io::stdout().lock()),
        }
    })
}
