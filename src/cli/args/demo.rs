//! `sct-demo`: make demo sites and sample update packs for the demo, tests and benchmarks.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The binary's name, as on stderr.
pub const TOOL: &str = "sct-demo";

/// Create realistic demo data.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// The examples in the words of the system it runs on (no `/tmp` or `export` on Windows).
const AFTER_HELP: &str = if cfg!(windows) {
    "Examples:\n  sct-demo site --db C:\\sct-demo\\ps1.db --site-code PS1 --level Enhanced\n  sct-demo packs --root C:\\sct-demo\\service"
} else {
    "Examples:\n  sct-demo site --db /tmp/ps1.db --site-code PS1 --level Enhanced\n  sct-demo packs --root /srv/sct"
};

const SITE_EXAMPLES: &str = if cfg!(windows) {
    "Examples:\n  sct-demo site --db C:\\sct-demo\\ps1.db --site-code PS1 --version 5.00.9128.1000 --level Enhanced\n  set SCT_SITE=sqlite:C:\\sct-demo\\ps1.db"
} else {
    "Examples:\n  sct-demo site --db /tmp/ps1.db --site-code PS1 --version 5.00.9128.1000 --level Enhanced\n  export SCT_SITE=sqlite:/tmp/ps1.db"
};

const PACKS_EXAMPLES: &str = if cfg!(windows) {
    "Examples:\n  sct-demo packs --root C:\\sct-demo\\service\n  sct-demo packs --root C:\\sct-demo\\bench --cab-size 1GiB --redist-size 512MiB\n  sct-serve publish --root C:\\sct-demo\\service --key signing-key.json"
} else {
    "Examples:\n  sct-demo packs --root /srv/sct\n  sct-demo packs --root /srv/bench --cab-size 1GiB --redist-size 512MiB\n  sct-serve publish --root /srv/sct --key signing-key.json"
};

/// The demo site's install folder unless `--install-dir` says otherwise: a folder of its own,
/// in the form of the system it runs on.
const DEFAULT_INSTALL_DIR: &str = if cfg!(windows) {
    "C:\\sct-demo\\site"
} else {
    "/opt/sct-demo/site"
};

/// The exit codes `sct-demo` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (crate::core::error::ExitCode::Success, ""),
    (crate::core::error::ExitCode::Usage, ""),
    (
        crate::core::error::ExitCode::Io,
        "a file could not be written",
    ),
];

/// What `sct-demo` makes.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create an embedded site database (SQLite) with ConfigMgr's tables and realistic usage rows.
    #[command(after_help = SITE_EXAMPLES)]
    Site {
        /// The database file to create (must not exist).
        #[arg(long, value_name = "FILE", value_parser = crate::core::paths::path_flag)]
        db: PathBuf,
        /// Three-character site code.
        #[arg(long, default_value = "PS1")]
        site_code: String,
        /// The site's display name.
        #[arg(long, default_value = "Contoso Primary Site")]
        site_name: String,
        /// Full version; the site version is its build with revision .1000.
        #[arg(long, default_value = "5.00.9128.1000")]
        version: crate::core::version::CmVersion,
        /// Hierarchy ID [default: a new random GUID]
        #[arg(long)]
        hierarchy_id: Option<uuid::Uuid>,
        /// Diagnostics and usage data level: Basic, Enhanced or Full.
        #[arg(long, default_value = "Enhanced")]
        level: crate::site::DiagnosticsLevel,
        /// The site's install folder (imports go to its EasySetupPayload/offline/).
        #[arg(long, default_value = DEFAULT_INSTALL_DIR)]
        install_dir: String,
        /// Extra usage rows, to make large usage data.
        #[arg(long, default_value_t = 0)]
        extra_rows: u32,
        /// Leave the usage table empty, as on a site installed less than 7 days ago.
        #[arg(long)]
        no_usage: bool,
    },
    /// Write sample update packs (2403/2409/2503 and hotfix rollups) under ROOT/packs/ and their
    /// metadata to ROOT/packs.json, ready for `sct-serve publish`.
    #[command(after_help = PACKS_EXAMPLES)]
    Packs {
        /// The service root to write into (created if missing).
        #[arg(long, value_name = "ROOT", value_parser = crate::core::paths::path_flag)]
        root: PathBuf,
        /// Payload bytes inside each update's cab (hotfixes get a quarter); suffixes KiB, MiB, GiB.
        #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
        cab_size: u64,
        /// Bytes of each Redist file (hotfixes get a quarter); suffixes KiB, MiB, GiB.
        #[arg(long, value_name = "SIZE", default_value = "256KiB", value_parser = parse_size)]
        redist_size: u64,
        /// Seed of the payload generator (same seed, same bytes).
        #[arg(long, default_value_t = 2409)]
        seed: u64,
    },
}

/// Parses `123`, `4KiB`, `5MiB` or `2GiB`.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` (use KiB, MiB or GiB)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("`{text}` is not a size"))
}

/// Runs `sct-demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
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
            let spec = crate::site::demo::DemoSpec {
                site_code,
                site_name,
                version,
                hierarchy_id: hierarchy_id.unwrap_or_else(uuid::Uuid::new_v4),
                level,
                install_dir,
                extra_rows,
                no_usage,
            };
            crate::site::demo::create(&db, &spec)?;
            crate::core::document::write_line(
                std::io::stdout().lock(),
                &crate::site::demo::site_document(&db, &spec),
            )
        }
        Command::Packs {
            root,
            cab_size,
            redist_size,
            seed,
        } => {
            let options = crate::service::samples::SampleOptions {
                cab_payload: cab_size,
                redist_size,
                seed,
            };
            let report = crate::service::samples::generate(&root, &options)?;
            crate::cli::note(
                TOOL,
                format!(
                    "wrote {} sample packs ({} files, {} bytes) under {}",
                    report.packs.len(),
                    report.files,
                    report.bytes,
                    root.join("packs").display()
                ),
            );
            crate::core::document::write_pretty(std::io::stdout().lock(), &report)
        }
    }
}
