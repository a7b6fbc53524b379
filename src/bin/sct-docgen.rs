//! sct-docgen: writes man pages and shell completions from the clap definitions (a build helper,
//! not part of the pipeline). See docs/man-and-completions.md.

use clap::Parser;
use std::path::PathBuf;

/// Generate man pages (roff) and bash, zsh and PowerShell completions for every sct binary.
#[derive(Parser)]
#[command(
    version,
    after_help = "Examples:\n  cargo run --bin sct-docgen -- --out target/docs\n  man -l target/docs/man/sct-pack.1"
)]
struct Args {
    /// Folder to write man/ and completions/ into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run("sct-docgen", || {
        let written = sct::cli::docgen::generate(&args.out)?;
        for path in written {
            sct::core::document::write_line(
                std::io::stdout().lock(),
                &serde_json::json!({"written": path}),
            )?;
        }
        Ok(())
    })
}
