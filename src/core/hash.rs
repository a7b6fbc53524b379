//! SHA-256, behind one module so the implementation can change with the hardware.
//!
//! aws-lc-rs is used because it is the fastest SHA-256 on CPUs without SHA-NI (dependency-notes.md)
//! and rustls already links it.

use anyhow::Context;
use aws_lc_rs::digest;
use std::io::{Read, Write};
use std::path::Path;

/// Read size for hashing files: large enough to amortise syscalls, small enough to stay in cache.
const CHUNK: usize = 256 * 1024;

/// An incremental SHA-256.
#[derive(Clone)]
pub struct Sha256(digest::Context);

impl Default for Sha256 {
    fn default() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }
}

impl Sha256 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest as 64 lowercase hex digits.
    pub fn finish_hex(self) -> String {
        hex::encode(self.0.finish().as_ref())
    }

    /// The raw 32-byte digest.
    pub fn finish_bytes(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

impl Write for Sha256 {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// SHA-256 of a byte slice, as hex.
pub fn hex_of(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// Size and SHA-256 (hex) of everything a reader yields.
pub fn of_reader(mut reader: impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finish_hex()))
}

/// Size and SHA-256 (hex) of a regular file (a link the caller named is followed; a FIFO or
/// device is refused without blocking, see [`crate::core::medium`]).
pub fn of_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let file = crate::core::medium::open_regular(path, crate::core::medium::Links::Follow)?;
    of_reader(file).with_context(|| format!("Failed to read `{}`", path.display()))
}

/// True when two hex digests are equal, ignoring case.
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            hex_of(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex_of(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (size, digest) = of_reader(&data[..]).unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(digest, hex_of(&data));
    }
}
