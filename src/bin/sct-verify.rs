//! sct-verify: check a carried update-pack folder, trusting nothing but the pinned keys.
//!
//! A shim: the flags and the work are in `sct::cli::args::verify`.

use clap::Parser;
use sct::cli::args::verify::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
