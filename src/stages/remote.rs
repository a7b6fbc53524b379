//! Fetching the signed catalog from the update service (or any static host that mirrors it).
//!
//! Both files are read with a size cap and verified with [`crate::core::catalog::verify_bytes`] before
//! anything in them is used; the catalog's freshness statement beside it is checked with
//! [`crate::core::freshness`]. Transient failures are retried with backoff (see [`crate::stages::http`]).

use crate::core::catalog::{self, Catalog};
use crate::core::error::Error;
use crate::core::freshness::{self, MaxAge, Statement};
use crate::core::signing::{self, PublicKey};
use crate::stages::http::{self, NetOptions, RateFloor};
use crate::stages::retry::{self, Attempt};
use anyhow::Context;

/// A verified catalog with the exact bytes it was verified from (kept beside the packs).
pub struct FetchedCatalog {
    pub catalog: Catalog,
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
    /// Its freshness statement, checked; `None` when the catalog names no timestamp keys.
    pub freshness: Option<FetchedStatement>,
}

/// A freshness statement found fresh, with the exact bytes it was checked from.
pub struct FetchedStatement {
    pub statement: Statement,
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
    /// When it was checked, by this computer's clock (recorded in `fetched.json`).
    pub checked_at: jiff::Timestamp,
}

/// The signature URL of a catalog URL.
pub fn signature_url(catalog_url: &str) -> String {
    format!("{catalog_url}.sig")
}

/// Downloads and verifies a catalog and its signature.
pub async fn fetch_catalog(
    client: &reqwest::Client,
    catalog_url: &str,
    trusted: &[PublicKey],
    net: &NetOptions,
) -> anyhow::Result<FetchedCatalog> {
    let bytes = get_limited(client, catalog_url, catalog::MAX_CATALOG_BYTES, net).await?;
    let sig_url = signature_url(catalog_url);
    let signature = get_limited(client, &sig_url, signing::MAX_SIGNATURE_BYTES, net).await?;
    let source = format!("catalog {}", crate::core::logging::redact_url(catalog_url));
    let (catalog, _) =
        catalog::verify_bytes(&bytes, &signature, trusted, jiff::Timestamp::now(), &source)?;
    Ok(FetchedCatalog {
        catalog,
        bytes,
        signature,
        freshness: None,
    })
}

/// The URL of a file beside the catalog (`timestamp.json` beside `catalog.json`).
pub fn beside_catalog(catalog_url: &str, name: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(catalog_url)
        .and_then(|u| u.join(name))
        .map_err(|e| {
            Error::Rejected(format!(
                "the catalog URL `{}` has no folder to find `{name}` in: {e}",
                crate::core::logging::redact_url(catalog_url)
            ))
        })?;
    Ok(url.to_string())
}

/// Downloads the freshness statement beside a verified catalog and checks it
/// ([`crate::core::freshness`]): signed by a timestamp key the catalog names, naming this
/// catalog, not expired, issued at most `max_age` ago by this computer's clock. `None`, after
/// a warning, for a catalog that names no timestamp keys (freeze protection off, as before).
pub async fn fetch_statement(
    client: &reqwest::Client,
    catalog_url: &str,
    fetched: &FetchedCatalog,
    max_age: &MaxAge,
    net: &NetOptions,
) -> anyhow::Result<Option<FetchedStatement>> {
    let catalog = &fetched.catalog;
    if catalog.timestamp_keys.is_empty() {
        let warning = freshness::protection_off(catalog);
        crate::core::logging::warn("sct-fetch", &warning);
        crate::core::report::note("sct-fetch", warning);
        return Ok(None);
    }
    let url = beside_catalog(catalog_url, freshness::TIMESTAMP_FILE)?;
    let not_fresh = || {
        format!(
            "catalog version {} cannot be shown fresh: its freshness statement could not be downloaded",
            catalog.version
        )
    };
    let bytes = get_limited(client, &url, freshness::MAX_TIMESTAMP_BYTES, net)
        .await
        .with_context(not_fresh)?;
    let signature = get_limited(
        client,
        &signature_url(&url),
        signing::MAX_SIGNATURE_BYTES,
        net,
    )
    .await
    .with_context(not_fresh)?;
    let source = format!(
        "freshness statement {}",
        crate::core::logging::redact_url(&url)
    );
    let (statement, _) =
        freshness::check_belongs(&bytes, &signature, catalog, &fetched.bytes, &source)?;
    let checked_at = crate::core::clock::now();
    statement.check_fresh(checked_at, max_age)?;
    Ok(Some(FetchedStatement {
        statement,
        bytes,
        signature,
        checked_at,
    }))
}

/// GETs a small document fully, refusing bodies over `limit` bytes or slower than `net.min_rate`;
/// retries transient failures.
pub async fn get_limited(
    client: &reqwest::Client,
    url: &str,
    limit: u64,
    net: &NetOptions,
) -> anyhow::Result<Vec<u8>> {
    retry::run(
        net.retries,
        || get_once(client, url, limit, net),
        |retrying| {
            crate::core::logging::detail_warn(
                "sct-fetch",
                format!(
                    "Retrying {} ({} of {}): {:#}",
                    crate::core::logging::redact_url(url),
                    retrying.number,
                    retrying.of,
                    retrying.error
                ),
            );
        },
    )
    .await
    .map_err(|gave_up| {
        (gave_up.error).context(format!(
            "Failed to download {}",
            crate::core::logging::redact_url(url)
        ))
    })
}

async fn get_once(
    client: &reqwest::Client,
    url: &str,
    limit: u64,
    net: &NetOptions,
) -> Result<Vec<u8>, Attempt> {
    // With `net`, a failure names the proxy when it is the one not reached, and a proxy name
    // that does not resolve is not retried.
    let classify = |err: reqwest::Error| http::classify_error(err, url, Some(net));
    let mut response = client.get(url).send().await.map_err(classify)?;
    let status = response.status();
    if !status.is_success() {
        return Err(http::status_attempt(status, url));
    }
    let too_large = || {
        let what = crate::core::logging::redact_url(url);
        Attempt::Fatal(
            Error::TooLarge {
                what,
                limit,
                meant_for: None,
            }
            .into(),
        )
    };
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let mut floor = RateFloor::new(net.min_rate);
    loop {
        let chunk = match floor.next_chunk(&mut response, url).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(err) => return Err(err.attempt(classify)),
        };
        body.extend_from_slice(&chunk);
        if body.len() as u64 > limit {
            return Err(too_large());
        }
    }
    Ok(body)
}
