//! sct-demo: make demo sites and sample update packs for the demo, tests and benchmarks.
//!
//! A shim: the flags and the work are in `sct::cli::args::demo`.

use clap::Parser;
use sct::cli::args::demo::{Args, TOOL, run};

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(sct::cli::args_os());
    sct::cli::run(TOOL, || run(args))
}
