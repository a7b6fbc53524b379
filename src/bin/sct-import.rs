//! sct-import: a verified update-pack folder → the site's inbox.
//!
//! A shim: the flags and the work are in `sct::cli::args::import`.

use clap::Parser;
use sct::cli::args::import::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
