//! Fetching the signed catalog from the update service (or any static host that mirrors it).
//!
//! Both files are read with a size cap and verified with [`crate::core::catalog::verify_bytes`] before
//! anything in them is used. Transient failures are retried with backoff (see [`crate::stages::http`]).

use crate::core::catalog::{self, Catalog};
use crate::core::error::{ExitCode, fail};
use crate::core::signing::{self, PublicKey};
use crate::stages::http::{self, Attempt, BodyError, MinRate, NetOptions, RateFloor};

/// A verified catalog with the exact bytes it was verified from (kept beside the packs).
pub struct FetchedCatalog {
    pub catalog: Catalog,
    pub bytes: Vec<u8>,
    pub signature: Vec<u8>,
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
    let source = format!("catalog {}", http::redact(catalog_url));
    let (catalog, _) =
        catalog::verify_bytes(&bytes, &signature, trusted, jiff::Timestamp::now(), &source)?;
    Ok(FetchedCatalog {
        catalog,
        bytes,
        signature,
    })
}

/// GETs a small document fully, refusing bodies over `limit` bytes or slower than `net.min_rate`;
/// retries transient failures.
pub async fn get_limited(
    client: &reqwest::Client,
    url: &str,
    limit: u64,
    net: &NetOptions,
) -> anyhow::Result<Vec<u8>> {
    let shown = http::redact(url);
    let mut attempt = 0;
    loop {
        match get_once(client, url, limit, net.min_rate).await {
            Ok(bytes) => return Ok(bytes),
            Err(Attempt::Retry(_)) if attempt < net.retries => {
                tokio::time::sleep(http::backoff(attempt)).await;
                attempt += 1;
            }
            Err(Attempt::Retry(err)) | Err(Attempt::Fatal(err)) => {
                return Err(err.context(format!("Failed to download {shown}")));
            }
        }
    }
}

async fn get_once(
    client: &reqwest::Client,
    url: &str,
    limit: u64,
    min_rate: MinRate,
) -> Result<Vec<u8>, Attempt> {
    let classify = |err: reqwest::Error| http::classify_error(err, url, None);
    let mut response = client.get(url).send().await.map_err(classify)?;
    let status = response.status();
    if !status.is_success() {
        let err = http::status_error(status, url);
        return Err(if http::is_transient_status(status) {
            Attempt::Retry(err)
        } else {
            Attempt::Fatal(err)
        });
    }
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(Attempt::Fatal(fail(
            ExitCode::Rejected,
            format!(
                "{} is larger than the {limit}-byte limit",
                http::redact(url)
            ),
        )));
    }
    let mut body = Vec::new();
    let mut floor = RateFloor::new(min_rate);
    loop {
        let chunk = match floor.next_chunk(&mut response, url).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(BodyError::Transport(err)) => return Err(classify(err)),
            Err(BodyError::TooSlow(err)) => return Err(Attempt::Retry(err)),
        };
        body.extend_from_slice(&chunk);
        if body.len() as u64 > limit {
            return Err(Attempt::Fatal(fail(
                ExitCode::Rejected,
                format!(
                    "{} is larger than the {limit}-byte limit",
                    http::redact(url)
                ),
            )));
        }
    }
    Ok(body)
}
