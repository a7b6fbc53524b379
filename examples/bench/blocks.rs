//! The benchmark fixtures' payload (included by `examples/bench_fixture.rs` and
//! `examples/bench_scale.rs`): distinct pseudo-random 1 MiB blocks — one random block, its first
//! 8 bytes a running counter — so no two blocks (and no two files) are alike and nothing
//! compresses or deduplicates.

use sct::core::hash::Sha256;
use std::io::Write;
use std::path::Path;

pub struct Blocks {
    block: Vec<u8>,
    counter: u64,
}

impl Blocks {
    pub fn new() -> Self {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let block = (0..1024 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        Self { block, counter: 0 }
    }

    /// Writes a file of `bytes` bytes; returns its SHA-256, hashed while writing.
    pub fn write(&mut self, path: &Path, mut bytes: u64) -> anyhow::Result<String> {
        let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let mut hasher = Sha256::new();
        while bytes > 0 {
            self.counter += 1;
            self.block[..8].copy_from_slice(&self.counter.to_le_bytes());
            let n = bytes.min(self.block.len() as u64) as usize;
            hasher.update(&self.block[..n]);
            file.write_all(&self.block[..n])?;
            bytes -= n as u64;
        }
        file.flush()?;
        Ok(hasher.finish_hex())
    }
}
