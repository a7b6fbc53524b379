//! The cab reader on arbitrary bytes: `CabReader` (header, directory, names, member streams) and
//! the usage-cab check `usage_cab::open_verified`. Any panic, hang or huge allocation is a bug;
//! errors are the expected outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write");
    file.flush().expect("flush");
    let path = file.path();
    if let Ok(mut reader) = sct::core::cabinet::CabReader::open(path) {
        let members = reader.members();
        let _ = reader.checked_paths();
        for member in members.iter().take(16) {
            // A small limit: declared sizes above it must be refused before decompressing.
            let _ = reader.copy_member(&member.name, 1 << 20, &mut std::io::sink());
        }
    }
    let _ = sct::core::usage_cab::open_verified(path);
});
