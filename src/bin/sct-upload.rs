//! sct-upload: usage cabs → the update service → offers (JSON lines) for sct-fetch.
//!
//! A shim: the flags and the work are in `sct::cli::args::upload`.

use clap::Parser;
use sct::cli::args::upload::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
