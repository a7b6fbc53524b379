//! The original tool's command line over the sct library (see `sct::cli::wrapper`).

fn main() -> std::process::ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    sct::cli::run(sct::cli::args::wrapper::TOOL, || {
        sct::cli::wrapper::run(&args)
    })
}
