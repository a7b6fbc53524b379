//! The upload half of *connect*: usage cabs go to the update service, offers come back.
//!
//! [`upload_all`] works in three steps, so a usage error never leaves half a job behind:
//!
//! 1. **check locally**: find the cabs (one file, or every `*.cab` in a folder), open each with
//!    [`crate::usage_cab::open_verified`], and refuse two files with the same name (as Windows
//!    sees names: ignoring case) or two cabs of the same hierarchy: they are reported, not merged;
//! 2. **upload** each cab to `POST <service>/api/v1/usage`, several at once (bounded), retrying
//!    transient failures with backoff ([`crate::http`]); the service answers with a receipt;
//! 3. **verify the offered catalog** with [`crate::remote::fetch_catalog`] against the pinned keys
//!    and turn each receipt into an `sct.offer.v1` for `sct-fetch`.
//!
//! [`plan`] is `--dry-run`: step 1 only, reported as an `sct.upload-plan.v1` document; nothing is
//! sent and no password is asked for.
//!
//! Each upload, its size, hierarchy and receipt, retries and proxy use are logged
//! ([`crate::logging`]); a byte progress bar per cab shows on a terminal ([`crate::progress`]).
//!
//! Pack files are resolved against `packs/` beside the catalog's folder: a catalog at
//! `BASE/catalog/catalog.json` offers packs under `BASE/packs/` (the service layout).

use crate::config::Config;
use crate::document::{self, Document};
use crate::error::{ExitCode, fail};
use crate::http::{self, NetOptions};
use crate::offer::{Offer, Receipt};
use crate::remote::{self, FetchedCatalog};
use crate::serve::{ErrorDocument, UPLOAD_PATH};
use crate::signing::PublicKey;
use crate::usage_cab::{self, CabReport};
use anyhow::Context;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable with the update service's base URL.
pub const ENV_SERVICE_URL: &str = "SCT_SERVICE_URL";
/// Uploads running at once unless told otherwise.
pub const DEFAULT_PARALLEL: usize = 4;
/// Largest receipt or error document read from the service.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Everything an upload run needs, resolved before any I/O.
#[derive(Clone, Debug)]
pub struct UploadOptions {
    /// A usage cab, or a folder of them (one per hierarchy).
    pub source: PathBuf,
    /// The update service's base URL (`https://updates.example.org`).
    pub service_url: String,
    pub net: NetOptions,
    /// Pinned catalog signing keys.
    pub trusted: Vec<PublicKey>,
    /// Uploads at once (at least 1).
    pub parallel: usize,
    /// Bearer token for services that require one.
    pub token: Option<String>,
}

impl UploadOptions {
    /// Resolves what the command line left implicit, before any I/O on the network:
    /// the service URL (flag, `SCT_SERVICE_URL`, config), the pinned keys (flags,
    /// `SCT_TRUSTED_KEYS`, config), the proxy password (`SCT_PROXY_PASSWORD` or a terminal
    /// prompt, when `net.proxy_user` is set and no password is filled in) and the upload token
    /// (`SCT_SERVICE_TOKEN`). The wrapper's `-connect` calls this with its own flags.
    pub fn resolve(
        source: PathBuf,
        service_url: Option<&str>,
        trusted_keys: &[String],
        mut net: NetOptions,
        config: &Config,
    ) -> anyhow::Result<Self> {
        let service_url = resolve_service_url(service_url, config)?;
        let trusted = config.trusted_keys(trusted_keys)?;
        if let (Some(user), None) = (&net.proxy_user, &net.proxy_password) {
            net.proxy_password = Some(http::proxy_password(user)?);
        }
        Ok(Self {
            source,
            service_url,
            net,
            trusted,
            parallel: DEFAULT_PARALLEL,
            token: std::env::var(crate::serve::ENV_TOKEN)
                .ok()
                .filter(|t| !t.is_empty()),
        })
    }
}

/// The result of a run: offers in the order of the cab files, and what failed.
pub struct UploadOutcome {
    pub offers: Vec<Offer>,
    pub failures: Vec<(PathBuf, anyhow::Error)>,
    /// Catalogs that were verified, by URL (for summaries).
    pub catalogs: BTreeMap<String, FetchedCatalog>,
}

/// The service URL: the flag, then `SCT_SERVICE_URL`, then `service_url` in the config file.
pub fn resolve_service_url(flag: Option<&str>, config: &Config) -> anyhow::Result<String> {
    let env = std::env::var(ENV_SERVICE_URL)
        .ok()
        .filter(|v| !v.is_empty());
    let url = flag
        .map(str::to_owned)
        .or(env)
        .or_else(|| config.service_url.clone())
        .ok_or_else(|| {
            fail(
                ExitCode::Usage,
                format!(
                    "no update service given: use --service-url, set {ENV_SERVICE_URL} or add `service_url = ...` to the config file"
                ),
            )
        })?;
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        fail(
            ExitCode::Usage,
            format!("`{}` is not a service URL: {e}", http::redact(&url)),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(fail(
            ExitCode::Usage,
            format!("`{}` is not an http or https URL", http::redact(&url)),
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The upload endpoint of a service.
pub fn upload_url(service_url: &str) -> String {
    format!("{}{UPLOAD_PATH}", service_url.trim_end_matches('/'))
}

/// Where pack files of a catalog are: `packs/` beside the catalog's folder.
pub fn packs_url(catalog_url: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(catalog_url)
        .and_then(|u| u.join("../packs/"))
        .map_err(|e| {
            fail(
                ExitCode::Rejected,
                format!(
                    "the service offered `{}`, not a URL: {e}",
                    http::redact(catalog_url)
                ),
            )
        })?;
    Ok(url.to_string())
}

/// The cabs to upload: `source` itself, or every `*.cab` directly inside it, sorted by name.
pub fn find_cabs(source: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta = fs_err::metadata(source).context("Cannot read the usage data source")?;
    if !meta.is_dir() {
        return Ok(vec![source.to_owned()]);
    }
    let mut cabs = Vec::new();
    for entry in fs_err::read_dir(source)? {
        let path = entry?.path();
        let is_cab = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("cab"));
        if is_cab && path.is_file() {
            cabs.push(path);
        }
    }
    cabs.sort();
    if cabs.is_empty() {
        return Err(fail(
            ExitCode::Usage,
            format!("`{}` holds no .cab files", source.display()),
        ));
    }
    Ok(cabs)
}

/// Step 1: every cab checks out, and no name or hierarchy appears twice.
pub fn check_local(cabs: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, CabReport)>> {
    let mut names: HashMap<String, &Path> = HashMap::new();
    for cab in cabs {
        let name = cab
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if let Some(first) = names.insert(name, cab) {
            return Err(fail(
                ExitCode::Rejected,
                format!(
                    "`{}` and `{}` have the same file name; give each hierarchy's cab a unique name",
                    first.display(),
                    cab.display()
                ),
            ));
        }
    }
    let mut checked = Vec::new();
    let mut hierarchies: HashMap<uuid::Uuid, PathBuf> = HashMap::new();
    for cab in cabs {
        let (_, report) = usage_cab::open_verified(cab)?;
        if let Some(first) = hierarchies.insert(report.hierarchy_id, cab.clone()) {
            return Err(fail(
                ExitCode::Rejected,
                format!(
                    "`{}` and `{}` both hold usage data of hierarchy {}; upload one cab per hierarchy (they are not merged)",
                    first.display(),
                    cab.display(),
                    report.hierarchy_id
                ),
            ));
        }
        checked.push((cab.clone(), report));
    }
    Ok(checked)
}

/// The component name of upload log entries.
const LOG: &str = "sct-upload";

/// One cab in an upload plan: what would be sent, for which hierarchy.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PlannedCab {
    pub cab: String,
    pub size: u64,
    pub sha256: String,
    pub site_code: String,
    pub hierarchy_id: uuid::Uuid,
    pub site_version: crate::version::CmVersion,
    pub full_version: crate::version::CmVersion,
    pub rows: usize,
}

/// `sct-upload --dry-run`: what would be uploaded, where, and how much.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UploadPlan {
    pub schema: &'static str,
    pub source: String,
    /// The upload endpoint, when a service URL is configured (`null` otherwise: a plan needs none).
    pub upload_url: Option<String>,
    /// The proxy that would be used, if one is given by flag (one carrying a password is refused).
    pub proxy: Option<String>,
    pub cabs: Vec<PlannedCab>,
    pub total_bytes: u64,
    pub dry_run: bool,
}

impl UploadPlan {
    /// The plan's schema name.
    pub const SCHEMA: &'static str = "sct.upload-plan.v1";
}

/// Step 1 alone, for `--dry-run`: finds and checks the cabs and says what would be sent. Reads
/// only the local files: contacts nothing, asks for no password (`net.proxy_password` is not
/// used). A missing service URL is not an error here; an invalid one is, and so is a proxy URI or
/// CA file a real run would refuse.
pub fn plan(
    source: &Path,
    service_url: Option<&str>,
    net: &NetOptions,
    config: &Config,
) -> anyhow::Result<UploadPlan> {
    // Building the client reads the CA file and checks the proxy URI (a password in it is
    // refused) as a real run would, without any network I/O.
    http::client(net)?;
    let cabs = find_cabs(source)?;
    let checked = check_local(&cabs)?;
    let configured = service_url.is_some()
        || std::env::var(ENV_SERVICE_URL).is_ok_and(|v| !v.is_empty())
        || config.service_url.is_some();
    let upload_url = match configured {
        true => Some(http::redact(&upload_url(&resolve_service_url(
            service_url,
            config,
        )?))),
        false => None,
    };
    let cabs: Vec<PlannedCab> = checked
        .into_iter()
        .map(|(path, r)| PlannedCab {
            cab: path.display().to_string(),
            size: r.size,
            sha256: r.sha256,
            site_code: r.site_code,
            hierarchy_id: r.hierarchy_id,
            site_version: r.site_version,
            full_version: r.full_version,
            rows: r.rows,
        })
        .collect();
    Ok(UploadPlan {
        schema: UploadPlan::SCHEMA,
        source: source.display().to_string(),
        upload_url,
        proxy: net.proxy.as_deref().map(http::redact),
        total_bytes: cabs.iter().map(|c| c.size).sum(),
        cabs,
        dry_run: true,
    })
}

/// Logs which proxy the uploads go through, in the original's words where it has them.
pub fn log_proxy(net: &NetOptions) {
    use crate::logging::{self, vocabulary};
    if let Some(proxy) = &net.proxy {
        let user = net
            .proxy_user
            .as_deref()
            .map_or(String::new(), |u| format!(" as user {u}"));
        logging::info(LOG, format!("{}{user}", vocabulary::using_proxy(proxy)));
        return;
    }
    let from_env = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        });
    match from_env {
        Some((name, value)) => logging::info(
            LOG,
            format!(
                "{} (from {name}; NO_PROXY applies)",
                vocabulary::using_proxy(&value)
            ),
        ),
        None => logging::info(LOG, vocabulary::no_proxy()),
    }
}

/// Runs the three steps on a new runtime; fails when any cab failed (the wrapper's entry point).
pub fn run(options: &UploadOptions) -> anyhow::Result<Vec<Offer>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("Failed to start the network runtime")?;
    let outcome = runtime.block_on(upload_all(options))?;
    match outcome.failures.into_iter().next() {
        Some((_, err)) => Err(err),
        None => Ok(outcome.offers),
    }
}

/// Steps 1–3. Local problems fail the whole run before anything is sent; network and service
/// problems are reported per cab in [`UploadOutcome::failures`].
pub async fn upload_all(options: &UploadOptions) -> anyhow::Result<UploadOutcome> {
    let cabs = find_cabs(&options.source)?;
    let checked = tokio::task::spawn_blocking(move || check_local(&cabs))
        .await
        .context("the local cab check stopped")??;
    let client = http::client(&options.net)?;
    let receipts = upload_bounded(&client, options, &checked).await;
    let mut catalogs: BTreeMap<String, FetchedCatalog> = BTreeMap::new();
    let mut catalog_errors: HashMap<String, String> = HashMap::new();
    let mut offers = Vec::new();
    let mut failures = Vec::new();
    for ((path, report), receipt) in checked.into_iter().zip(receipts) {
        let offer = match receipt {
            Ok(receipt) => {
                let url = receipt.catalog_url.clone();
                if !catalogs.contains_key(&url) && !catalog_errors.contains_key(&url) {
                    match remote::fetch_catalog(
                        &client,
                        &url,
                        &options.trusted,
                        options.net.retries,
                    )
                    .await
                    {
                        Ok(fetched) => {
                            crate::logging::info(
                                LOG,
                                format!(
                                    "Catalog version {} at {} verified against the pinned keys ({} packs)",
                                    fetched.catalog.version,
                                    http::redact(&url),
                                    fetched.catalog.packs.len()
                                ),
                            );
                            catalogs.insert(url.clone(), fetched);
                        }
                        Err(err) => {
                            crate::logging::error(
                                LOG,
                                format!("Catalog at {} refused: {err:#}", http::redact(&url)),
                            );
                            catalog_errors.insert(url.clone(), format!("{err:#}"));
                            failures.push((path.clone(), err));
                            continue;
                        }
                    }
                }
                match catalogs.get(&url) {
                    Some(fetched) => make_offer(&path, &report, receipt, fetched),
                    None => Err(fail(
                        ExitCode::Rejected,
                        format!(
                            "the catalog offered for `{}` was refused: {}",
                            path.display(),
                            catalog_errors[&url]
                        ),
                    )),
                }
            }
            Err(err) => Err(err),
        };
        match offer {
            Ok(offer) => offers.push(offer),
            Err(err) => failures.push((path, err)),
        }
    }
    Ok(UploadOutcome {
        offers,
        failures,
        catalogs,
    })
}

fn make_offer(
    path: &Path,
    report: &CabReport,
    receipt: Receipt,
    fetched: &FetchedCatalog,
) -> anyhow::Result<Offer> {
    let catalog = &fetched.catalog;
    catalog.check_hierarchy(&receipt.hierarchy_id)?;
    if catalog.version < receipt.catalog_version {
        return Err(fail(
            ExitCode::Rejected,
            format!(
                "the service offered catalog version {} but {} serves version {} (rollback refused)",
                receipt.catalog_version,
                http::redact(&receipt.catalog_url),
                catalog.version
            ),
        ));
    }
    Ok(Offer {
        schema: Offer::SCHEMA.to_owned(),
        hierarchy_id: receipt.hierarchy_id,
        site_code: report.site_code.clone(),
        site_version: report.site_version,
        full_version: report.full_version,
        usage_cab: path.display().to_string(),
        catalog_url: receipt.catalog_url.clone(),
        packs_url: packs_url(&receipt.catalog_url)?,
        receipt,
    })
}

/// Step 2 for every cab, at most `parallel` at once; results in the order of `checked`.
async fn upload_bounded(
    client: &reqwest::Client,
    options: &UploadOptions,
    checked: &[(PathBuf, CabReport)],
) -> Vec<anyhow::Result<Receipt>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(options.parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let url = upload_url(&options.service_url);
    let bars = crate::progress::ProgressGroup::new();
    for (index, (path, report)) in checked.iter().enumerate() {
        let (client, permits, url) = (client.clone(), permits.clone(), url.clone());
        let (path, report) = (path.clone(), report.clone());
        let (token, net) = (options.token.clone(), options.net.clone());
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let bar = bars.bytes(report.size, &name);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let upload = Upload {
                client: &client,
                url: &url,
                path: &path,
                report: &report,
                token: token.as_deref(),
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
                    *slot = Some(Err(anyhow::anyhow!("an upload task stopped: {err}")));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("an upload task vanished"))))
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
    bar: &'a crate::progress::Progress,
}

/// One cab, with bounded retries on transient failures; logs the attempt and the receipt.
async fn upload_one(upload: &Upload<'_>) -> anyhow::Result<Receipt> {
    use crate::logging;
    let (path, report, net) = (upload.path, upload.report, upload.net);
    let shown = http::redact(upload.url);
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
    let mut attempt = 0;
    loop {
        upload.bar.set_position(0);
        match attempt_upload(upload).await {
            Ok(receipt) => {
                logging::info(
                    LOG,
                    format!(
                        "Receipt for {}: hierarchy {}, received at {}, catalog version {} at {}",
                        path.display(),
                        receipt.hierarchy_id,
                        receipt.received_at,
                        receipt.catalog_version,
                        http::redact(&receipt.catalog_url)
                    ),
                );
                return Ok(receipt);
            }
            Err(http::Attempt::Retry(err)) if attempt < net.retries => {
                let wait = http::backoff(attempt);
                logging::detail_warn(
                    LOG,
                    format!(
                        "Upload of {} failed ({err:#}); retry {} of {} in {:.1} s",
                        path.display(),
                        attempt + 1,
                        net.retries,
                        wait.as_secs_f64()
                    ),
                );
                upload.bar.set_message(format!("retry {}", attempt + 1));
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(http::Attempt::Retry(err)) | Err(http::Attempt::Fatal(err)) => {
                let tries = if attempt > 0 {
                    format!(" after {} attempts", attempt + 1)
                } else {
                    String::new()
                };
                return Err(err.context(format!(
                    "Failed to upload `{}` to {shown}{tries}",
                    path.display()
                )));
            }
        }
    }
}

async fn attempt_upload(upload: &Upload<'_>) -> Result<Receipt, http::Attempt> {
    let (client, url, path, report) = (upload.client, upload.url, upload.path, upload.report);
    let (token, net) = (upload.token, upload.net);
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| http::Attempt::Fatal(anyhow::Error::new(e).context("Cannot read the cab")))?;
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
    let answer = read_answer(response)
        .await
        .map_err(|e| http::classify_error(e, url, Some(net)))?;
    if status.is_success() {
        let receipt = parse_receipt(&answer, url, report).map_err(http::Attempt::Fatal)?;
        return Ok(receipt);
    }
    let refused = refusal(status, url, &answer);
    if http::is_transient_status(status) {
        Err(http::Attempt::Retry(refused))
    } else {
        Err(http::Attempt::Fatal(refused))
    }
}

async fn read_answer(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
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
        &format!("the answer of {}", http::redact(url)),
        MAX_ANSWER_BYTES,
    )?;
    if receipt.hierarchy_id != report.hierarchy_id
        || !crate::hash::same(&receipt.sha256, &report.sha256)
    {
        return Err(fail(
            ExitCode::Rejected,
            format!(
                "the receipt from {} is for hierarchy {} and a cab with SHA-256 {}, not what was sent (hierarchy {}, SHA-256 {})",
                http::redact(url),
                receipt.hierarchy_id,
                receipt.sha256,
                report.hierarchy_id,
                report.sha256
            ),
        ));
    }
    Ok(receipt)
}

/// A non-success answer as a classified error, quoting the service's `sct.error.v1` message.
fn refusal(status: reqwest::StatusCode, url: &str, answer: &[u8]) -> anyhow::Error {
    use reqwest::StatusCode as S;
    if status == S::PROXY_AUTHENTICATION_REQUIRED {
        return http::status_error(status, url);
    }
    let said = serde_json::from_slice::<ErrorDocument>(answer)
        .ok()
        .filter(|d| d.schema == ErrorDocument::SCHEMA)
        .map(|d| d.message);
    if http::is_transient_status(status) {
        let err = http::status_error(status, url);
        return match said {
            Some(said) => err.context(said),
            None => err,
        };
    }
    let shown = http::redact(url);
    let (kind, why) = match status {
        S::PAYLOAD_TOO_LARGE | S::UNPROCESSABLE_ENTITY | S::BAD_REQUEST => {
            (ExitCode::Rejected, "refused the cab")
        }
        S::UNAUTHORIZED | S::FORBIDDEN => (
            ExitCode::Usage,
            "refused the upload credentials (set SCT_SERVICE_TOKEN to the service's token)",
        ),
        S::NOT_FOUND | S::METHOD_NOT_ALLOWED => (
            ExitCode::Usage,
            "has no upload endpoint there: check the service URL",
        ),
        _ => (ExitCode::Network, "refused the upload"),
    };
    let message = match said {
        Some(said) => format!("the update service at {shown} {why} ({status}): {said}"),
        None => format!("the update service at {shown} {why} ({status})"),
    };
    fail(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_url_sits_beside_the_catalog_folder() {
        assert_eq!(
            packs_url("https://u.example.org/base/catalog/catalog.json").unwrap(),
            "https://u.example.org/base/packs/"
        );
        assert_eq!(
            packs_url("http://127.0.0.1:8080/catalog/catalog.json").unwrap(),
            "http://127.0.0.1:8080/packs/"
        );
    }

    #[test]
    fn service_url_from_flag_is_checked() {
        let config = Config::default();
        assert_eq!(
            resolve_service_url(Some("http://127.0.0.1:1/"), &config).unwrap(),
            "http://127.0.0.1:1"
        );
        let err = resolve_service_url(Some("ftp://x"), &config).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), ExitCode::Usage);
    }

    #[test]
    fn refusals_quote_the_service_and_are_classified() {
        let body = br#"{"schema":"sct.error.v1","status":422,"error":"not_a_usage_cab","message":"usage cab (upload) is not a valid cabinet"}"#;
        let err = refusal(
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            "http://h/api/v1/usage",
            body,
        );
        assert_eq!(crate::error::exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("not a valid cabinet"));
        let err = refusal(
            reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "http://h/",
            b"",
        );
        assert!(format!("{err:#}").contains("wants credentials"));
        assert_eq!(crate::error::exit_code(&err), ExitCode::Network);
    }

    #[test]
    fn duplicate_names_are_refused_before_reading() {
        let cabs = vec![
            PathBuf::from("/a/UsageData.cab"),
            PathBuf::from("/b/usagedata.CAB"),
        ];
        let err = check_local(&cabs).unwrap_err();
        assert!(format!("{err:#}").contains("same file name"));
    }
}
