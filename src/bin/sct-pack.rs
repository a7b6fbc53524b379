//! sct-pack: usage document → UsageData.cab, and list / inspect / extract any cab.
//!
//! A shim: the flags and the work are in `sct::cli::args::pack`.

use clap::Parser;
use sct::cli::args::pack::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
