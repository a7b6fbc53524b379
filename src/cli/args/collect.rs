//! `sct-collect`: site database → usage document (JSON) or CSV for review.

use crate::cli::OperatorArgs;
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-collect";

/// What `sct-collect` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// The sct.usage.v1 document that sct-pack reads.
    Json,
    /// The review CSV (as `-export`): every field, one line per usage row, formulas neutralised.
    Csv,
}

/// Read the site's identity and usage data at its diagnostics level.
#[derive(Parser, Debug)]
#[command(version, after_help = AFTER_HELP)]
pub struct Args {
    /// Site database: sqlite:PATH, or SQL Server as 'Server=host,1433;Database=CM_PS1;User Id=NAME'
    /// (password from SCT_SITE_PASSWORD or a prompt) [default: $SCT_SITE, then sct.toml]
    #[arg(long, value_name = "LOCATOR")]
    pub site: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write to FILE (replaced atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE", value_parser = crate::core::paths::path_flag)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

const AFTER_HELP: &str = "\
Examples:
  sct-collect --site sqlite:site.db | sct-pack create -o /media/usb/UsageData.cab
  SCT_SITE_PASSWORD=... sct-collect --site 'Server=sql01,1433;Database=CM_PS1;User Id=sct_reader' > usage.json
  sct-collect --format csv -o usagedata.csv
  sct-collect --log /var/log/sct/collect.log > usage.json

Exit codes: 0 done, 2 usage error, 3 site database unreadable, 5 no usage data yet";

/// Runs `sct-collect`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = crate::stages::config::Config::load()?;
    let site = config.site_locator(args.site.as_deref())?;
    crate::core::logging::info(TOOL, format!("Site database: {site}"));
    if let Some(path) = &args.output {
        crate::core::atomic::check_parent(path)?;
    }
    let doc = crate::stages::prepare::collect(&site)?;
    crate::core::logging::info(
        TOOL,
        format!(
            "Collected usage data of site {} (hierarchy {}, version {}): {} rows",
            doc.site.site_code,
            doc.site.hierarchy_id,
            doc.site.full_version,
            doc.rows.len()
        ),
    );
    let write = |out: &mut dyn Write| match args.format {
        Format::Json => crate::core::document::write_pretty(out, &doc),
        Format::Csv => crate::core::review::write_csv(&doc, out),
    };
    match &args.output {
        Some(path) => {
            crate::core::atomic::write_with(path, |file| write(file))?;
            crate::core::logging::info(TOOL, format!("Written to {}", path.display()));
            Ok(())
        }
        None => write(&mut std::io::stdout().lock()),
    }
}
