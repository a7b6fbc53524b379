//! sct-pack: usage document → UsageData.cab, and list / inspect / extract any cab.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Pack usage data into a Microsoft cabinet, or look inside a cab.
#[derive(Parser)]
#[command(version, after_help = AFTER_HELP)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pack a usage document (sct.usage.v1) into a cab; prints a sct.usage-cab.v1 report.
    Create {
        /// The usage document; `-` or nothing reads stdin.
        input: Option<PathBuf>,
        /// The cab to write (replaced atomically).
        #[arg(long, short, value_name = "FILE.cab")]
        output: PathBuf,
    },
    /// List a cab's members as JSON lines (name, size).
    List { cab: PathBuf },
    /// Check a usage cab against its manifest and print its identity (sct.usage-cab.v1).
    Inspect { cab: PathBuf },
    /// Extract every member into an existing folder, all or nothing, never overwriting.
    Extract {
        cab: PathBuf,
        #[arg(long, value_name = "DIR")]
        dest: PathBuf,
    },
}

const AFTER_HELP: &str = "\
Examples:
  sct-collect | sct-pack create -o /media/usb/UsageData.cab
  sct-pack create usage.json -o UsageData.cab
  sct-pack inspect /media/usb/UsageData.cab
  sct-pack extract UsageData.cab --dest review/

Exit codes: 0 done, 1 cab refused (damaged, altered, hostile names), 2 usage error,
3 file could not be read or written, 5 the usage document holds no rows";

/// Largest member `extract` writes: the cabinet format's own limit.
const EXTRACT_LIMIT: u64 = sct::cabinet::MAX_FILE_SIZE;

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sct::cli::run("sct-pack", || run(args.command))
}

fn run(command: Command) -> anyhow::Result<()> {
    let stdout = std::io::stdout().lock();
    match command {
        Command::Create { input, output } => {
            sct::atomic::check_parent(&output)?;
            let doc: sct::usage::UsageDocument = match input.filter(|p| p.as_os_str() != "-") {
                Some(path) => {
                    let file = fs_err::File::open(&path)?;
                    sct::document::read(
                        file,
                        &format!("`{}`", path.display()),
                        sct::usage::MAX_USAGE_BYTES,
                    )?
                }
                None => sct::document::read(
                    std::io::stdin().lock(),
                    "stdin",
                    sct::usage::MAX_USAGE_BYTES,
                )?,
            };
            let report = sct::usage_cab::pack(&doc, &output)?;
            sct::document::write_pretty(stdout, &report)
        }
        Command::List { cab } => {
            let reader = sct::cabinet::CabReader::open(&cab)?;
            let mut out = stdout;
            for member in reader.members() {
                sct::document::write_line(&mut out, &member)?;
            }
            Ok(())
        }
        Command::Inspect { cab } => {
            let (_, report) = sct::usage_cab::open_verified(&cab)?;
            sct::document::write_pretty(stdout, &report)
        }
        Command::Extract { cab, dest } => {
            let done = sct::cabinet::extract(&cab, &dest, EXTRACT_LIMIT)?;
            let mut out = stdout;
            for (member, sha256) in done {
                sct::document::write_line(
                    &mut out,
                    &serde_json::json!({"name": member.name, "size": member.size, "sha256": sha256}),
                )?;
            }
            Ok(())
        }
    }
}
