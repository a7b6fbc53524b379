//! sct-check: tell the administrator what will fail before it fails.
//!
//! A shim: the flags and the work are in `sct::cli::args::check`.

use clap::Parser;
use sct::cli::args::check::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sct::cli::run(TOOL, || run(args))
}
