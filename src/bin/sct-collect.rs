//! sct-collect: site database → usage document (JSON) or CSV for review.
//!
//! A shim: the flags and the work are in `sct::cli::args::collect`.

use clap::Parser;
use sct::cli::args::collect::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
