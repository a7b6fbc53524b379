//! sct-import: not built yet (issue 5). It says so and exits non-zero rather than pretend.

fn main() -> std::process::ExitCode {
    sct::cli::not_built("sct-import", "sct-import", 5)
}
