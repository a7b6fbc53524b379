//! sct-fetch: not built yet (issue 4). It says so and exits non-zero rather than pretend.

fn main() -> std::process::ExitCode {
    sct::cli::not_built("sct-fetch", "sct-fetch", 4)
}
