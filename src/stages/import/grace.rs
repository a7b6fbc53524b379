//! Import's grace after catalog expiry.
//!
//! A catalog is valid for about 30 days from publication, but a drive carried into an air-gapped
//! site often waits weeks in a security review before anyone runs `-import`. Expiry exists to
//! bound how long a withheld catalog can be replayed; at import the site's own rollback bar (the
//! newest catalog it has imported) already refuses anything older, so import may accept a catalog
//! for a while after it expired without letting the site go back. Fetch and `sct-verify` stay
//! strict: the grace is only import's.
//!
//! The default, [`DEFAULT_DAYS`] (90), covers a quarter's review cycle on top of the 30-day
//! validity — four months from publication; past that the packs are likely superseded and a
//! fresh `-connect` is the better answer. [`MAX_DAYS`] (365) keeps a typo from switching expiry
//! off altogether. `0` restores strict expiry.

use crate::core::catalog::Catalog;
use crate::core::error::Error;
use crate::stages::config::Config;

/// Days after expiry that import still accepts a catalog, unless configured otherwise.
pub const DEFAULT_DAYS: u32 = 90;
/// The largest grace that can be configured.
pub const MAX_DAYS: u32 = 365;
/// Environment variable with the grace in days (after `--expiry-grace-days`, before `sct.toml`).
pub const ENV_GRACE_DAYS: &str = "SCT_IMPORT_GRACE_DAYS";
/// The `sct.toml` key.
pub const CONFIG_KEY: &str = "import_grace_days";
/// Where an operator sets it, for messages.
pub const SETTING: &str =
    "--expiry-grace-days (sct-import), SCT_IMPORT_GRACE_DAYS or import_grace_days in sct.toml";

/// The grace: `--expiry-grace-days`, then `SCT_IMPORT_GRACE_DAYS`, then `import_grace_days` in
/// the config file, then [`DEFAULT_DAYS`]. More than [`MAX_DAYS`] is a usage error.
pub fn resolve(flag: Option<u32>, config: &Config) -> anyhow::Result<u32> {
    let days = match flag {
        Some(days) => days,
        None => match std::env::var(ENV_GRACE_DAYS)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(text) => text.trim().parse::<u32>().map_err(|_| {
                Error::Usage(format!("{ENV_GRACE_DAYS}=`{text}` is not a number of days"))
            })?,
            None => config.import_grace_days.unwrap_or(DEFAULT_DAYS),
        },
    };
    if days > MAX_DAYS {
        return Err(Error::Usage(format!(
            "an expiry grace of {days} days is more than the {MAX_DAYS} allowed ({SETTING})"
        ))
        .into());
    }
    Ok(days)
}

/// Import's expiry decision: `Ok(None)` while the catalog is valid, `Ok(Some(warning))` when it
/// expired less than `days` ago, and a refusal naming the setting once the grace has passed too.
pub fn check(catalog: &Catalog, now: jiff::Timestamp, days: u32) -> anyhow::Result<Option<String>> {
    if now < catalog.expires_at {
        return Ok(None);
    }
    let grace = jiff::SignedDuration::from_hours(24 * i64::from(days));
    let ago = now.as_duration() - catalog.expires_at.as_duration();
    let ago_days = ago.as_hours() / 24;
    if ago < grace {
        return Ok(Some(format!(
            "WARNING: catalog version {} expired at {} ({ago_days} days ago); importing it within the {days}-day grace after expiry ({SETTING})",
            catalog.version, catalog.expires_at
        )));
    }
    Err(Error::Rejected(format!(
            "catalog version {} expired at {} ({ago_days} days ago), beyond import's {days}-day grace after expiry; \
             run -connect again for a fresh catalog, or allow a longer grace (up to {MAX_DAYS} days) with {SETTING}",
            catalog.version, catalog.expires_at
        )).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    fn catalog(expires_at: jiff::Timestamp) -> Catalog {
        Catalog {
            schema: crate::core::document::Tag::new(),
            version: 7,
            issued_at: expires_at - jiff::SignedDuration::from_hours(24 * 30),
            expires_at,
            hierarchy_id: None,
            timestamp_keys: Vec::new(),
            packs: vec![],
        }
    }

    #[test]
    fn valid_within_grace_and_beyond() {
        let expires: jiff::Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let c = catalog(expires);
        let days = |n: i64| jiff::SignedDuration::from_hours(24 * n);
        assert_eq!(check(&c, expires - days(1), 90).unwrap(), None);
        let warning = check(&c, expires + days(40), 90).unwrap().unwrap();
        assert!(warning.contains("40 days ago"), "{warning}");
        assert!(warning.contains(ENV_GRACE_DAYS), "{warning}");
        // The grace ends exactly `days` after expiry.
        assert!(
            check(
                &c,
                expires + days(90) - jiff::SignedDuration::from_secs(1),
                90
            )
            .is_ok()
        );
        let err = check(&c, expires + days(90), 90).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
        let text = format!("{err:#}");
        assert!(text.contains("import_grace_days"), "{text}");
        assert!(text.contains("--expiry-grace-days"), "{text}");
        // No grace: strict expiry, the very second it expires.
        assert!(check(&c, expires, 0).is_err());
    }

    #[test]
    fn flag_beats_config_and_too_long_is_a_usage_error() {
        // The environment is not touched here (tests run in parallel): flag and config only.
        let config = Config {
            import_grace_days: Some(30),
            ..Default::default()
        };
        assert_eq!(resolve(Some(5), &config).unwrap(), 5);
        let err = resolve(Some(MAX_DAYS + 1), &config).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        assert!(format!("{err:#}").contains("SCT_IMPORT_GRACE_DAYS"));
    }
}
