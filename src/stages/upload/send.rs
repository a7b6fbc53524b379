//! Step 2 of an upload: each cab to `POST <service>/api/v1/usage`, several at once (bounded),
//! with bounded retries and backoff on transient failures; the service's receipt must name the
//! hierarchy and SHA-256 that were sent.

use super::{LOG, UploadOptions, upload_url};
use crate::core::document::{self};
use crate::core::error::Error;
use crate::core::offer::Receipt;
use crate::core::report::Progress;
use crate::core::usage_cab::CabReport;
use crate::core::wire::ErrorDocument;
use crate::stages::http::{self, NetOptions};
use crate::stages::retry::{self, Attempt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest receipt or error document read from the service.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Step 2 for every cab, at most `parallel` at once; results in the order of `checked`.
pub(super) async fn upload_bounded(
    client: &reqwest::Client,
    options: &UploadOptions,
    checked: &[(PathBuf, CabReport)],
) -> Vec<anyhow::Result<Receipt>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(options.parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let url = upload_url(&options.service_url);
    for (index, (path, report)) in checked.iter().enumerate() {
        let (client, permits, url) = (client.clone(), permits.clone(), url.clone());
        let (path, report) = (path.clone(), report.clone());
        let (token, net) = (options.token.clone(), options.net.clone());
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let bar = Progress::bytes(report.size, &name);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let upload = Upload {
                client: &client,
                url: &url,
                path: &path,
                report: &report,
                token: token.as_ref().map(crate::core::secret::Secret::expose),
                net: &net,
                bar: &bar,
            };
            let result = upload_one(&upload).await;
            match &result {
                Ok(_) => bar.finish_and_clear(),
                Err(_) => bar.abandon(),
            }
            (index, result)
        });
    }
    let mut results: Vec<Option<anyhow::Result<Receipt>>> =
        (0..checked.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(result),
            Err(err) => {
                // A panicking task cannot report its index; keep its error for the first empty slot.
                if let Some(slot) = results.iter_mut().find(|r| r.is_none()) {
                    *slot = Some(Err(
                        Error::Io(format!("an upload task stopped: {err}")).into()
                    ));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::Io("an upload task vanished".into()).into())))
        .collect()
}

/// One cab's upload: where it goes, how, and the bar that shows its bytes.
struct Upload<'a> {
    client: &'a reqwest::Client,
    url: &'a str,
    path: &'a Path,
    report: &'a CabReport,
    token: Option<&'a str>,
    net: &'a NetOptions,
    bar: &'a Progress,
}

/// One cab, with bounded retries on transient failures; logs the attempt and the receipt.
async fn upload_one(upload: &Upload<'_>) -> anyhow::Result<Receipt> {
    use crate::core::logging;
    let (path, report, net) = (upload.path, upload.report, upload.net);
    let shown = crate::core::logging::redact_url(upload.url);
    logging::info(
        LOG,
        format!(
            "Uploading {} (size = {}, SHA-256 = {}) for hierarchy {} (site {}, version {}) to {shown}",
            path.display(),
            report.size,
            report.sha256,
            report.hierarchy_id,
            report.site_code,
            report.full_version
        ),
    );
    let attempt = || {
        upload.bar.set_position(0);
        attempt_upload(upload)
    };
    let on_retry = |retrying: &retry::Retrying| {
        logging::detail_warn(
            LOG,
            format!(
                "Upload of {} failed ({:#}); retry {} of {} in {:.1} s",
                path.display(),
                retrying.error,
                retrying.number,
                retrying.of,
                retrying.wait.unwrap_or_default().as_secs_f64()
            ),
        );
        upload.bar.set_message(format!("retry {}", retrying.number));
    };
    match retry::run(net.retries, attempt, on_retry).await {
        Ok(receipt) => {
            logging::info(
                LOG,
                format!(
                    "Receipt for {}: hierarchy {}, received at {}, catalog version {} at {}",
                    path.display(),
                    receipt.hierarchy_id,
                    receipt.received_at,
                    receipt.catalog_version,
                    crate::core::logging::redact_url(&receipt.catalog_url)
                ),
            );
            Ok(receipt)
        }
        Err(gave_up) => {
            let tries = if gave_up.retries > 0 {
                format!(" after {} attempts", gave_up.retries + 1)
            } else {
                String::new()
            };
            Err(gave_up.error.context(format!(
                "Failed to upload `{}` to {shown}{tries}",
                path.display()
            )))
        }
    }
}

async fn attempt_upload(upload: &Upload<'_>) -> Result<Receipt, Attempt> {
    let (client, url, path, report) = (upload.client, upload.url, upload.path, upload.report);
    let (token, net) = (upload.token, upload.net);
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Attempt::Fatal(anyhow::Error::new(e).context("Cannot read the cab")))?;
    let bar = upload.bar.clone();
    let counted =
        tokio_util::io::InspectReader::new(file, move |bytes: &[u8]| bar.inc(bytes.len() as u64));
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(counted));
    let mut request = client
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/vnd.ms-cab-compressed",
        )
        .header(reqwest::header::CONTENT_LENGTH, report.size)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| http::classify_error(e, url, Some(net)))?;
    let status = response.status();
    let answer = read_answer(response, url, net.min_rate)
        .await
        .map_err(|e| e.attempt(|e| http::classify_error(e, url, Some(net))))?;
    if status.is_success() {
        let receipt = parse_receipt(&answer, url, report).map_err(Attempt::Fatal)?;
        return Ok(receipt);
    }
    Err(Attempt::new(
        refusal(status, url, &answer),
        worth_retrying(status),
    ))
}

/// The service's answer, at most a little over [`MAX_ANSWER_BYTES`], no slower than `min_rate`.
async fn read_answer(
    mut response: reqwest::Response,
    url: &str,
    min_rate: http::MinRate,
) -> Result<Vec<u8>, http::BodyError> {
    let mut body = Vec::new();
    let mut floor = http::RateFloor::new(min_rate);
    while let Some(chunk) = floor.next_chunk(&mut response, url).await? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(body)
}

fn parse_receipt(answer: &[u8], url: &str, report: &CabReport) -> anyhow::Result<Receipt> {
    let receipt: Receipt = document::read(
        answer,
        &format!("the answer of {}", crate::core::logging::redact_url(url)),
        MAX_ANSWER_BYTES,
    )?;
    if receipt.hierarchy_id != report.hierarchy_id
        || !crate::core::hash::same(&receipt.sha256, &report.sha256)
    {
        return Err(Error::Rejected(format!(
                "the receipt from {} is for hierarchy {} and a cab with SHA-256 {}, not what was sent (hierarchy {}, SHA-256 {})",
                crate::core::logging::redact_url(url),
                receipt.hierarchy_id,
                receipt.sha256,
                report.hierarchy_id,
                report.sha256
            )).into());
    }
    Ok(receipt)
}

/// Transient answers are retried, except a full upload store (507 `quota_exceeded`): it stays
/// full until its operator makes room.
fn worth_retrying(status: reqwest::StatusCode) -> bool {
    http::is_transient_status(status) && status != reqwest::StatusCode::INSUFFICIENT_STORAGE
}

/// A non-success answer as a classified error, quoting the service's `sct.error.v1` message.
fn refusal(status: reqwest::StatusCode, url: &str, answer: &[u8]) -> anyhow::Error {
    use reqwest::StatusCode as S;
    if status == S::PROXY_AUTHENTICATION_REQUIRED {
        return http::status_error(status, url);
    }
    // Its `schema` field reads only as `sct.error.v1`: another document is no quote.
    let said = serde_json::from_slice::<ErrorDocument>(answer)
        .ok()
        .map(|d| d.message);
    if worth_retrying(status) {
        let err = http::status_error(status, url);
        return match said {
            Some(said) => err.context(said),
            None => err,
        };
    }
    Error::UploadRefused {
        url: crate::core::logging::redact_url(url),
        status,
        said,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    #[test]
    fn refusals_quote_the_service_and_are_classified() {
        let body = br#"{"schema":"sct.error.v1","status":422,"error":"not_a_usage_cab","message":"usage cab (upload) is not a valid cabinet"}"#;
        let err = refusal(
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            "http://h/api/v1/usage",
            body,
        );
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("not a valid cabinet"));
        let err = refusal(
            reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "http://h/",
            b"",
        );
        assert!(format!("{err:#}").contains("wants credentials"));
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Network);
        let full = br#"{"schema":"sct.error.v1","status":507,"error":"quota_exceeded","message":"is full"}"#;
        let err = refusal(
            reqwest::StatusCode::INSUFFICIENT_STORAGE,
            "http://h/api/v1/usage",
            full,
        );
        assert!(!worth_retrying(reqwest::StatusCode::INSUFFICIENT_STORAGE));
        assert!(worth_retrying(reqwest::StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Network);
        assert!(format!("{err:#}").contains("is full"), "{err:#}");
    }
}
