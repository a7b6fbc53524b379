//! Freshness statements (`sct.timestamp.v1`): freeze attacks bounded to a day.
//!
//! A catalog is signed for weeks, so on its own an attacker (or a stale cache or mirror) could
//! replay an older, still valid catalog and hold a site on old packs until it expires. As TUF's
//! *timestamp* role does, an online key signs, every few hours, a short-lived statement naming the
//! current catalog's version and SHA-256; clients refuse a statement that is expired or older than
//! [`MaxAge`]. The catalog (signed by the pinned, possibly offline key) names the keys allowed to
//! sign statements (`Catalog::timestamp_keys`), so the timestamp key rotates without touching the
//! pinned key, and a stolen timestamp key can freeze a site for one statement's lifetime at most,
//! never forge a pack.
//!
//! Checks, in order ([`check_belongs`], then [`Statement::check_fresh`] when fetching):
//! 1. the signature file is an `sct.signature.v1` document within its size limit;
//! 2. a signature by a key the catalog names verifies over the exact statement bytes;
//! 3. the bytes are an `sct.timestamp.v1` document within its size limit;
//! 4. it names this catalog: its version and the SHA-256 of its exact bytes;
//! 5. (fetch only) it has not expired, was issued at most [`MaxAge`] ago, and is not dated more
//!    than [`CLOCK_SKEW_HOURS`] ahead of the clock. Verify and import skip this step: a folder is
//!    imported weeks after its fetch checked it.

use crate::core::catalog::Catalog;
use crate::core::document::{self, Document, Tag};
use crate::core::error::Error;
use crate::core::signing::{self, PrivateKey, PublicKey, SignatureFile};
use serde::{Deserialize, Serialize};

/// The statement's file name, beside the catalog on the service and in a pack folder.
pub const TIMESTAMP_FILE: &str = "timestamp.json";
/// Its detached signature's file name.
pub const TIMESTAMP_SIGNATURE_FILE: &str = "timestamp.json.sig";
/// Largest statement read: it is a few hundred bytes.
pub const MAX_TIMESTAMP_BYTES: u64 = 64 * 1024;

/// Lifetime of a statement when none is given: clients refuse it a day after it was signed.
pub const DEFAULT_LIFETIME_HOURS: u32 = 24;
/// Bounds of a statement's lifetime and of a client's [`MaxAge`], in hours: at least an hour (a
/// signer must keep up), at most a week (beyond that freeze protection means little).
pub const HOURS_BOUNDS: std::ops::RangeInclusive<u32> = 1..=168;

/// How far ahead of the client's clock a statement may claim to be issued: clocks drift.
pub const CLOCK_SKEW_HOURS: i64 = 1;

/// Environment variable with the client's [`MaxAge`] in hours.
pub const ENV_MAX_TIMESTAMP_AGE: &str = "SCT_MAX_TIMESTAMP_AGE_HOURS";
/// The client's [`MaxAge`] when none is set.
pub const DEFAULT_MAX_TIMESTAMP_AGE_HOURS: u32 = 24;

/// The statement document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub schema: Tag<Self>,
    /// The catalog it vouches for: its version...
    pub catalog_version: u64,
    /// ...and the SHA-256 of its exact bytes (64 lowercase hex digits).
    pub catalog_sha256: String,
    pub issued_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
}

impl Document for Statement {
    const SCHEMA: &'static str = "sct.timestamp.v1";
}

/// The oldest statement a fetch accepts, with where it is configured (named when refusing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxAge {
    pub hours: u32,
    pub setting: String,
}

impl Default for MaxAge {
    fn default() -> Self {
        Self {
            hours: DEFAULT_MAX_TIMESTAMP_AGE_HOURS,
            setting: format!("max_timestamp_age_hours in sct.toml or {ENV_MAX_TIMESTAMP_AGE}"),
        }
    }
}

/// Refuses hours outside [`HOURS_BOUNDS`] (usage, exit 2); `what` names the setting.
pub fn check_hours(hours: u32, what: &str) -> anyhow::Result<()> {
    if HOURS_BOUNDS.contains(&hours) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{what} must be from {} to {} hours (it is {hours})",
        HOURS_BOUNDS.start(),
        HOURS_BOUNDS.end()
    ))
    .into())
}

/// Signs a statement for `catalog_bytes`, issued `now` and valid `lifetime_hours`: returns the
/// statement, its bytes and its signature file (signed by `key` over the bytes of this statement
/// and, when given, of the `previous` one — see `crate::service::timestamp` for why).
pub fn sign(
    catalog_bytes: &[u8],
    catalog_version: u64,
    key: &PrivateKey,
    now: jiff::Timestamp,
    lifetime_hours: u32,
    previous: Option<&[u8]>,
) -> anyhow::Result<(Statement, Vec<u8>, Vec<u8>)> {
    check_hours(lifetime_hours, "the statement's lifetime")?;
    let issued_at = now.round(jiff::Unit::Second)?;
    let statement = Statement {
        schema: Tag::new(),
        catalog_version,
        catalog_sha256: crate::core::hash::hex_of(catalog_bytes),
        issued_at,
        expires_at: issued_at + jiff::SignedDuration::from_hours(i64::from(lifetime_hours)),
    };
    let mut bytes = serde_json::to_vec_pretty(&statement)?;
    bytes.push(b'\n');
    let mut signatures = SignatureFile::sign(&bytes, &[key]);
    if let Some(previous) = previous {
        signatures
            .signatures
            .extend(SignatureFile::sign(previous, &[key]).signatures);
    }
    let mut sig = serde_json::to_vec_pretty(&signatures)?;
    sig.push(b'\n');
    Ok((statement, bytes, sig))
}

/// The keys `catalog` allows to sign its statements (checked well formed by
/// `Catalog::check_structure`).
pub fn allowed_keys(catalog: &Catalog) -> anyhow::Result<Vec<PublicKey>> {
    catalog
        .timestamp_keys
        .iter()
        .map(|k| PublicKey::parse(k))
        .collect()
}

/// The warning for a catalog that names no timestamp keys (accepted, as before statements).
pub fn protection_off(catalog: &Catalog) -> String {
    format!(
        "WARNING: catalog version {} names no timestamp keys, so freeze protection is off: an older \
         catalog replayed by a cache, mirror or attacker would be accepted until it expires; ask the \
         service to publish with a timestamp key (sct-serve keygen --role timestamp)",
        catalog.version
    )
}

/// Steps 1–4: the statement is signed by a key `catalog` names and vouches for exactly these
/// catalog bytes; returns it and the ID of the key that signed it. Refused (exit 1) otherwise.
pub fn check_belongs(
    statement_bytes: &[u8],
    signature_bytes: &[u8],
    catalog: &Catalog,
    catalog_bytes: &[u8],
    source: &str,
) -> anyhow::Result<(Statement, String)> {
    let not_fresh = || format!("catalog version {} cannot be shown fresh", catalog.version);
    let signatures: SignatureFile = document::read(
        signature_bytes,
        &format!("the signature of {source}"),
        signing::MAX_SIGNATURE_BYTES,
    )
    .map_err(|e| e.context(not_fresh()))?;
    let allowed = allowed_keys(catalog)?;
    let key_id = signing::verify(statement_bytes, &signatures, &allowed, source).map_err(|e| {
        e.context(format!(
            "{}: only the timestamp keys it names count",
            not_fresh()
        ))
    })?;
    let statement: Statement = document::read(statement_bytes, source, MAX_TIMESTAMP_BYTES)
        .map_err(|e| e.context(not_fresh()))?;
    let sha256 = crate::core::hash::hex_of(catalog_bytes);
    if statement.catalog_version != catalog.version
        || !statement.catalog_sha256.eq_ignore_ascii_case(&sha256)
    {
        return Err(Error::Rejected(format!(
            "{source} names another catalog (version {}, SHA-256 {}) than catalog version {} \
             (SHA-256 {sha256}): a cache or mirror is serving an older catalog, or the service has \
             not re-signed its statement since publishing",
            statement.catalog_version, statement.catalog_sha256, catalog.version
        ))
        .into());
    }
    Ok((statement, key_id))
}

impl Statement {
    /// Step 5: refuses an expired statement or one issued more than `max_age` before `now`.
    pub fn check_fresh(&self, now: jiff::Timestamp, max_age: &MaxAge) -> anyhow::Result<()> {
        let skew = jiff::SignedDuration::from_hours(CLOCK_SKEW_HOURS);
        if self.issued_at > now + skew {
            // Else a stolen timestamp key could sign a statement dated years ahead, which no
            // age bound would ever refuse.
            return Err(Error::Rejected(format!(
                "catalog version {} is not fresh: its freshness statement claims to be issued at \
                 {}, more than {CLOCK_SKEW_HOURS} hour ahead of this computer's clock ({now}); if \
                 this computer's clock is wrong, set it right",
                self.catalog_version, self.issued_at
            ))
            .into());
        }
        let why = if now >= self.expires_at {
            format!("its freshness statement expired at {}", self.expires_at)
        } else if now.duration_since(self.issued_at)
            > jiff::SignedDuration::from_hours(i64::from(max_age.hours))
        {
            format!(
                "its freshness statement was issued at {}, more than {} hours ago ({})",
                self.issued_at, max_age.hours, max_age.setting
            )
        } else {
            return Ok(());
        };
        Err(Error::Rejected(format!(
            "catalog version {} is not fresh: {why}, checked at {now}. The service (or a cache or \
             mirror in between) has served no newer statement since {}: an attacker or a stale \
             copy may be holding this site on old packs. Ask the service's operator whether \
             `sct-serve run` or the scheduled `sct-serve timestamp` still runs; if this computer's \
             clock is wrong, set it right",
            self.catalog_version, self.issued_at
        ))
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::{ExitCode, exit_code};

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    fn catalog_naming(key: &PrivateKey) -> (Catalog, Vec<u8>) {
        let mut catalog = crate::core::catalog::tests::sample(4);
        catalog.timestamp_keys = vec![key.public().to_string()];
        let (bytes, _) = crate::core::catalog::sign(&catalog, &[&PrivateKey::generate()]).unwrap();
        (catalog, bytes)
    }

    #[test]
    fn a_statement_by_a_named_key_belongs_and_ages() {
        let key = PrivateKey::generate();
        let (catalog, bytes) = catalog_naming(&key);
        let now = at("2026-12-01T10:00:00Z");
        let (_, ts, sig) = sign(&bytes, 4, &key, now, 24, None).unwrap();
        let (statement, key_id) = check_belongs(&ts, &sig, &catalog, &bytes, "s").unwrap();
        assert_eq!(key_id, key.public().key_id());
        let max = MaxAge::default();
        assert!(
            statement
                .check_fresh(at("2026-12-02T09:00:00Z"), &max)
                .is_ok()
        );
        let late = statement
            .check_fresh(at("2026-12-03T10:00:00Z"), &max)
            .unwrap_err();
        assert_eq!(exit_code(&late), ExitCode::Rejected);
        assert!(format!("{late:#}").contains("expired at"), "{late:#}");
        let strict = MaxAge {
            hours: 2,
            setting: "the setting".into(),
        };
        let old = statement
            .check_fresh(at("2026-12-01T13:00:00Z"), &strict)
            .unwrap_err();
        assert!(format!("{old:#}").contains("the setting"), "{old:#}");
        // Dated ahead: a little drift passes, a statement from the future never does.
        assert!(
            statement
                .check_fresh(at("2026-12-01T09:30:00Z"), &max)
                .is_ok()
        );
        let ahead = statement
            .check_fresh(at("2026-12-01T08:00:00Z"), &max)
            .unwrap_err();
        assert!(format!("{ahead:#}").contains("ahead of this computer's clock"));
    }

    #[test]
    fn unlisted_keys_and_other_catalogs_are_refused() {
        let key = PrivateKey::generate();
        let (catalog, bytes) = catalog_naming(&key);
        let now = at("2026-12-01T10:00:00Z");
        let (_, ts, sig) = sign(&bytes, 4, &PrivateKey::generate(), now, 24, None).unwrap();
        let err = check_belongs(&ts, &sig, &catalog, &bytes, "s").unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("unknown key"), "{err:#}");
        let (_, ts, sig) = sign(&bytes, 3, &key, now, 24, None).unwrap();
        let err = check_belongs(&ts, &sig, &catalog, &bytes, "s").unwrap_err();
        assert!(format!("{err:#}").contains("another catalog"), "{err:#}");
        let (_, ts, sig) = sign(b"other bytes", 4, &key, now, 24, None).unwrap();
        assert!(check_belongs(&ts, &sig, &catalog, &bytes, "s").is_err());
    }

    #[test]
    fn lifetimes_have_bounds() {
        let key = PrivateKey::generate();
        let now = at("2026-12-01T10:00:00Z");
        assert!(sign(b"c", 1, &key, now, 0, None).is_err());
        assert!(sign(b"c", 1, &key, now, 169, None).is_err());
        assert!(check_hours(168, "x").is_ok());
    }
}
