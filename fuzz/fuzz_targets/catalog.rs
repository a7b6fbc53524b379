//! The catalog reader: `document::read::<Catalog>` and `check_structure` on arbitrary bytes, and
//! `verify_bytes` (signature file, then catalog) with one fixed pinned key. The input is split at
//! the first NUL byte into catalog bytes and signature bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sct::core::catalog::{self, Catalog};
use sct::core::signing::PublicKey;
use std::sync::OnceLock;

/// The fixed pinned key: tests/data/keys/test-only-trusted-key.json, which signed the seeds.
const PINNED: &str = "ed25519:GnTIxxbffyNvuCgGSm5wnakQAbwmBpq520v4Ty2X+kw=";

fn pinned() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| vec![PublicKey::parse(PINNED).expect("valid key")])
}

fuzz_target!(|data: &[u8]| {
    let (catalog_bytes, signature_bytes) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(catalog) =
        sct::core::document::read::<Catalog>(catalog_bytes, "fuzz", catalog::MAX_CATALOG_BYTES)
    {
        let _ = catalog.check_structure();
        let _ = catalog.check_not_expired(jiff::Timestamp::UNIX_EPOCH);
    }
    let now: jiff::Timestamp = "2026-11-26T00:00:00Z".parse().expect("time");
    let _ = catalog::verify_bytes(catalog_bytes, signature_bytes, pinned(), now, "fuzz");
});
