//! sct-verify: check a carried update-pack folder, trusting nothing but the pinned keys.

use clap::Parser;
use std::path::PathBuf;

/// Verify an update pack folder: catalog signature and expiry, every recorded pack complete, every
/// file's size and SHA-256, nothing unexpected. Prints an sct.verify.v1 report.
#[derive(Parser)]
#[command(version, after_help = AFTER_HELP)]
struct Args {
    /// The update pack folder (as sct-fetch or ServiceConnectionTool -connect wrote it).
    dir: PathBuf,
    /// Pinned catalog key (ed25519:... or a file of them); repeatable [default: SCT_TRUSTED_KEYS, then sct.toml]
    #[arg(long = "trusted-key", value_name = "KEY")]
    trusted_keys: Vec<String>,
}

const AFTER_HELP: &str = "\
Examples:
  sct-verify /media/usb/UpdatePacks
  sct-verify --trusted-key ed25519:3q2+7w... /media/usb/UpdatePacks | jq '.packs[] | select(.ok | not)'

Exit codes: 0 all good; 1 verification failed (the report, or the error on stderr, says what);
2 usage error; 3 the folder could not be read.";

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sct::cli::run("sct-verify", || {
        let config = sct::config::Config::load()?;
        let trusted = config.trusted_keys(&args.trusted_keys)?;
        let verified = sct::verify::verify_dir(&args.dir, &trusted, jiff::Timestamp::now())?;
        sct::document::write_pretty(std::io::stdout().lock(), &verified.report)?;
        sct::verify::outcome(&verified.report)
    })
}
