//! sct-span: lay a fetched update-pack folder out as volumes that each verify alone.
//!
//! A shim: the flags and the work are in `sct::cli::args::span`.

use clap::Parser;
use sct::cli::args::span::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sct::cli::run(TOOL, || run(args))
}
