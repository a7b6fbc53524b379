//! sct-serve: the reference update service — keys, publishing, and the server itself.
//!
//! A shim: the flags and the work are in `sct::cli::args::serve`.

use clap::Parser;
use sct::cli::args::serve::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
