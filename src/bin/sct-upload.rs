//! sct-upload: not built yet (issue 3). It says so and exits non-zero rather than pretend.

fn main() -> std::process::ExitCode {
    sct::cli::not_built("sct-upload", "sct-upload", 3)
}
