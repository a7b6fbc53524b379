//! The service's freshness statement: `ROOT/catalog/timestamp.json` and its signature, re-signed
//! by the online timestamp key ([`crate::core::freshness`]).
//!
//! `sct-serve timestamp` signs it once (for a static host or CDN: a cron job or scheduled task);
//! `sct-serve run --timestamp-key` signs it at start and then checks every [`CHECK_INTERVAL`],
//! re-signing when it is missing, names another catalog (a publication since) or has lived half
//! its lifetime, so a running service never serves a stale one.
//!
//! **Why a reader never sees a mismatched pair.** As for the catalog (`crate::service::publish`),
//! the signature file carries signatures over the new *and* the previous statement bytes and is
//! renamed into place first: a client that read the old statement finds its signature in either
//! signature file.

use crate::core::freshness::{self, Statement};
use crate::core::signing::PrivateKey;
use crate::service::publish::ServiceRoot;
use std::sync::Arc;
use std::time::Duration;

/// How often a running service looks whether its statement needs signing again.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// The component of the log entries and notes.
const LOG: &str = "sct-serve";

/// The online timestamp key and the lifetime of the statements it signs.
#[derive(Clone)]
pub struct TimestampSigner {
    pub key: Arc<PrivateKey>,
    pub lifetime_hours: u32,
}

impl std::fmt::Debug for TimestampSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampSigner")
            .field("key_id", &self.key.public().key_id())
            .field("lifetime_hours", &self.lifetime_hours)
            .finish()
    }
}

impl TimestampSigner {
    /// Refuses a lifetime outside [`freshness::HOURS_BOUNDS`] (usage, exit 2).
    pub fn new(key: PrivateKey, lifetime_hours: u32) -> anyhow::Result<Self> {
        freshness::check_hours(lifetime_hours, "--lifetime")?;
        Ok(Self {
            key: Arc::new(key),
            lifetime_hours,
        })
    }

    /// Signs a statement for the catalog published now and writes it (signature first); `None`
    /// when nothing is published yet. Warns when the catalog does not name this key: clients
    /// would refuse the statement.
    pub fn sign_current(
        &self,
        root: &ServiceRoot,
        now: jiff::Timestamp,
    ) -> anyhow::Result<Option<Statement>> {
        let Some((catalog, bytes)) = root.current()? else {
            return Ok(None);
        };
        let public = self.key.public().to_string();
        if !catalog.timestamp_keys.contains(&public) {
            let warning = format!(
                "WARNING: catalog version {} does not name timestamp key {}, so clients refuse its \
                 freshness statements: publish with --timestamp-key naming it",
                catalog.version,
                self.key.public().key_id()
            );
            crate::core::logging::warn(LOG, &warning);
            crate::core::report::note(LOG, warning);
        }
        let previous = read_statement_bytes(root);
        let (statement, ts_bytes, sig) = freshness::sign(
            &bytes,
            catalog.version,
            &self.key,
            now,
            self.lifetime_hours,
            previous.as_deref(),
        )?;
        crate::core::atomic::write_bytes(&root.timestamp_signature(), &sig)?;
        crate::core::atomic::write_bytes(&root.timestamp(), &ts_bytes)?;
        crate::core::logging::info(
            LOG,
            format!(
                "Freshness statement for catalog version {} signed, valid until {}",
                statement.catalog_version, statement.expires_at
            ),
        );
        Ok(Some(statement))
    }

    /// True when the served statement is missing, unreadable, names another catalog than the
    /// published one, or has lived half its lifetime.
    pub fn needs_signing(&self, root: &ServiceRoot, now: jiff::Timestamp) -> bool {
        let Ok(Some((catalog, bytes))) = root.current() else {
            return false;
        };
        let Some(statement) = read_statement_bytes(root).and_then(|b| {
            crate::core::document::read::<Statement>(&b[..], "", freshness::MAX_TIMESTAMP_BYTES)
                .ok()
        }) else {
            return true;
        };
        let half = jiff::SignedDuration::from_mins(30 * i64::from(self.lifetime_hours));
        statement.catalog_version != catalog.version
            || statement.catalog_sha256 != crate::core::hash::hex_of(&bytes)
            || now >= statement.issued_at + half
            || now < statement.issued_at
    }

    /// Keeps the statement fresh until the task is dropped: looks every [`CHECK_INTERVAL`] and
    /// re-signs when [`Self::needs_signing`]. A failure is logged and tried again next time.
    pub async fn keep_fresh(self, root: ServiceRoot) {
        loop {
            tokio::time::sleep(CHECK_INTERVAL).await;
            let now = crate::core::clock::now();
            if self.needs_signing(&root, now)
                && let Err(err) = self.sign_current(&root, now)
            {
                crate::core::logging::error_chain(LOG, &err);
            }
        }
    }
}

fn read_statement_bytes(root: &ServiceRoot) -> Option<Vec<u8>> {
    crate::core::medium::read_capped(
        &root.timestamp(),
        freshness::MAX_TIMESTAMP_BYTES,
        crate::core::medium::Links::Refuse,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_signs_when_missing_half_lived_or_naming_another_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let root = ServiceRoot::new(dir.path());
        let signer = TimestampSigner::new(PrivateKey::generate(), 24).unwrap();
        let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        assert!(signer.sign_current(&root, now).unwrap().is_none());
        let mut catalog = crate::core::catalog::tests::sample(1);
        catalog.timestamp_keys = vec![signer.key.public().to_string()];
        let (bytes, _) = crate::core::catalog::sign(&catalog, &[&PrivateKey::generate()]).unwrap();
        std::fs::create_dir_all(root.catalog_dir()).unwrap();
        std::fs::write(root.catalog(), &bytes).unwrap();
        assert!(signer.needs_signing(&root, now));
        let statement = signer.sign_current(&root, now).unwrap().unwrap();
        assert_eq!(statement.catalog_version, 1);
        let hours = |h| now + jiff::SignedDuration::from_hours(h);
        assert!(!signer.needs_signing(&root, hours(11)));
        assert!(signer.needs_signing(&root, hours(12)));
        catalog.version = 2;
        let (bytes, _) = crate::core::catalog::sign(&catalog, &[&PrivateKey::generate()]).unwrap();
        std::fs::write(root.catalog(), &bytes).unwrap();
        assert!(signer.needs_signing(&root, hours(1)));
        // The signature file still verifies the statement before this one.
        let old = std::fs::read(root.timestamp()).unwrap();
        signer.sign_current(&root, hours(1)).unwrap();
        let sig: crate::core::signing::SignatureFile =
            serde_json::from_slice(&std::fs::read(root.timestamp_signature()).unwrap()).unwrap();
        let key = [signer.key.public()];
        assert!(crate::core::signing::verify(&old, &sig, &key, "old").is_ok());
    }
}
