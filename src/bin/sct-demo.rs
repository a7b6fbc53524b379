//! sct-demo: make demo sites (and, later, demo update packs) for the demo, tests and benchmarks.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Create realistic demo data.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an embedded site database (SQLite) with ConfigMgr's tables and realistic usage rows.
    #[command(
        after_help = "Example:\n  sct-demo site --db /tmp/ps1.db --site-code PS1 --version 5.00.9128.1000 --level Enhanced\n  export SCT_SITE=sqlite:/tmp/ps1.db"
    )]
    Site {
        /// The database file to create (must not exist).
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        #[arg(long, default_value = "PS1")]
        site_code: String,
        #[arg(long, default_value = "Contoso Primary Site")]
        site_name: String,
        /// Full version; the site version is its build with revision .1000.
        #[arg(long, default_value = "5.00.9128.1000")]
        version: sct::version::CmVersion,
        /// Hierarchy ID [default: a new random GUID]
        #[arg(long)]
        hierarchy_id: Option<uuid::Uuid>,
        /// Diagnostics and usage data level: Basic, Enhanced or Full.
        #[arg(long, default_value = "Enhanced")]
        level: sct::site::DiagnosticsLevel,
        /// The site's install folder (imports go to its EasySetupPayload/offline/).
        #[arg(long, default_value = "/opt/sct-demo/site")]
        install_dir: String,
        /// Extra usage rows, to make large usage data.
        #[arg(long, default_value_t = 0)]
        extra_rows: u32,
        /// Leave the usage table empty, as on a site installed less than 7 days ago.
        #[arg(long)]
        no_usage: bool,
    },
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sct::cli::run("sct-demo", || match args.command {
        Command::Site {
            db,
            site_code,
            site_name,
            version,
            hierarchy_id,
            level,
            install_dir,
            extra_rows,
            no_usage,
        } => {
            let spec = sct::site::demo::DemoSpec {
                site_code,
                site_name,
                version,
                hierarchy_id: hierarchy_id.unwrap_or_else(uuid::Uuid::new_v4),
                level,
                install_dir,
                extra_rows,
                no_usage,
            };
            sct::site::demo::create(&db, &spec)?;
            sct::document::write_line(
                std::io::stdout().lock(),
                &serde_json::json!({
                    "schema": "sct.demo-site.v1",
                    "site": format!("sqlite:{}", db.display()),
                    "site_code": spec.site_code,
                    "hierarchy_id": spec.hierarchy_id,
                    "version": spec.version,
                    "level": spec.level,
                }),
            )
        }
    })
}
