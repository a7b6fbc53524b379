//! The wrapper's flag parser on arbitrary command lines: the input split at NUL bytes is argv
//! (without the program name). It must return a phase or a usage error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data
        .split(|b| *b == 0)
        .map(|arg| OsString::from_vec(arg.to_vec()))
        .collect();
    if let Err(err) = sct::cli::wrapper::parse(&args) {
        // Every refusal of a command line is a usage error (exit 2).
        assert_eq!(
            sct::core::error::exit_code(&err),
            sct::core::error::ExitCode::Usage,
            "{err:#}"
        );
    }
});
