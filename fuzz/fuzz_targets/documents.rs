//! Every JSON document reader: the first byte picks the kind, the rest is the document (or, for
//! offers, JSON lines). Schema-tag checks run before decoding; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sct::core::document;

const LIMIT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((kind, rest)) = data.split_first() else {
        return;
    };
    match kind % 8 {
        0 => {
            if let Ok(doc) = document::read::<sct::core::usage::UsageDocument>(rest, "fuzz", LIMIT) {
                let _ = sct::core::usage::validate(&doc, "fuzz");
                let _ = sct::core::usage::rows_within_level(&doc);
            }
        }
        1 => {
            let _ = document::read_lines::<sct::core::offer::Offer>(rest, "fuzz", sct::stages::fetch::OFFER_LIMITS);
        }
        2 => {
            let _ = document::read::<sct::core::packdir::FetchRecord>(rest, "fuzz", LIMIT);
        }
        3 => {
            let _ = document::read::<sct::core::offer::Receipt>(rest, "fuzz", LIMIT);
        }
        4 => {
            let _ = document::read::<sct::core::signing::SignatureFile>(rest, "fuzz", LIMIT);
        }
        5 => {
            let _ = document::read::<sct::core::usage_cab::UsageManifest>(rest, "fuzz", LIMIT);
        }
        6 => {
            let _ = document::read::<sct::core::signing::KeyFile>(rest, "fuzz", LIMIT);
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = sct::core::signing::PublicKey::parse(text);
            }
        }
    }
});
