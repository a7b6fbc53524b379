//! sct-fetch: offers (JSON lines) → a verified update-pack folder, resumable and parallel.
//!
//! A shim: the flags and the work are in `sct::cli::args::fetch`.

use clap::Parser;
use sct::cli::args::fetch::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
