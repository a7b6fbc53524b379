//! The upload half of *connect*: usage cabs go to the update service, offers come back.
//!
//! [`upload_all`] works in three steps, so a usage error never leaves half a job behind:
//!
//! 1. **check locally**: find the cabs (one file, or every `*.cab` in a folder), open each with
//!    [`crate::core::usage_cab::open_verified`], and refuse two files with the same name (as Windows
//!    sees names: ignoring case) or two cabs of the same hierarchy: they are reported, not merged;
//! 2. **upload** each cab to `POST <service>/api/v1/usage`, several at once (bounded), retrying
//!    transient failures with backoff ([`crate::stages::http`]); the service answers with a receipt;
//! 3. **verify the offered catalog** with [`crate::stages::remote::fetch_catalog`] against the pinned keys
//!    and turn each receipt into an `sct.offer.v1` for `sct-fetch`.
//!
//! [`plan`] is `--dry-run`: step 1 only, reported as an `sct.upload-plan.v1` document; nothing is
//! sent and no password is asked for.
//!
//! Each upload, its size, hierarchy and receipt, retries and proxy use are logged
//! ([`crate::core::logging`]); a byte progress bar per cab shows on a terminal ([`crate::core::report`]).
//!
//! Pack files are resolved against `packs/` beside the catalog's folder: a catalog at
//! `BASE/catalog/catalog.json` offers packs under `BASE/packs/` (the service layout).

mod local;
mod send;

pub use local::{PlannedCab, UploadPlan, check_local, find_cabs, plan};

use crate::core::error::Error;
use crate::core::offer::{Offer, Receipt};
use crate::core::report::Events;
use crate::core::select::{self, DownloadMode};
use crate::core::signing::PublicKey;
use crate::core::usage_cab::CabReport;
use crate::core::wire::UPLOAD_PATH;
use crate::stages::config::Config;
use crate::stages::http::{self, NetOptions};
use crate::stages::remote::{self, FetchedCatalog};
use anyhow::Context;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Environment variable with the update service's base URL.
pub const ENV_SERVICE_URL: &str = "SCT_SERVICE_URL";
/// Uploads running at once unless told otherwise.
pub const DEFAULT_PARALLEL: usize = 4;

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
    pub token: Option<crate::core::secret::Secret>,
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
        net: NetOptions,
        config: &Config,
    ) -> anyhow::Result<Self> {
        let service_url = resolve_service_url(service_url, config)?;
        let token = token_from_env();
        check_token_transport(&service_url, token.is_some(), clear_text_allowed())?;
        let trusted = config.trusted_keys(trusted_keys)?;
        let net = net.with_proxy_password()?;
        Ok(Self {
            source,
            service_url,
            net,
            trusted,
            parallel: DEFAULT_PARALLEL,
            token,
        })
    }
}

/// The upload token from `SCT_SERVICE_TOKEN`, registered as a secret so nothing shows it.
fn token_from_env() -> Option<crate::core::secret::Secret> {
    let token = std::env::var(crate::core::wire::ENV_TOKEN)
        .ok()
        .filter(|t| !t.is_empty())?;
    crate::core::logging::register_secret(&token);
    Some(crate::core::secret::Secret::new(token))
}

/// Environment variable by which the operator accepts sending the upload token in clear
/// (`http://`) to a service that is not on this machine: anyone on the way can read it then.
pub const ENV_ALLOW_CLEAR_TEXT_TOKEN: &str = "SCT_ALLOW_CLEAR_TEXT_TOKEN";

fn clear_text_allowed() -> bool {
    std::env::var(ENV_ALLOW_CLEAR_TEXT_TOKEN)
        .is_ok_and(|v| matches!(v.trim(), "1" | "yes" | "true"))
}

/// Refuses (exit 2, before anything is sent) a token that would cross the network in clear: an
/// `http://` service on another host. Loopback (`localhost`, `127.0.0.0/8`, `::1`) never leaves
/// the machine; [`ENV_ALLOW_CLEAR_TEXT_TOKEN`] is the operator's explicit acceptance.
pub fn check_token_transport(
    service_url: &str,
    has_token: bool,
    allowed: bool,
) -> anyhow::Result<()> {
    let Ok(url) = reqwest::Url::parse(service_url) else {
        return Ok(());
    };
    let host = url.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !has_token || allowed || url.scheme() != "http" || loopback {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the upload token ({}) would travel in clear over http:// to {}: anyone on the network \
         path could read it; give an https:// service_url, or set {ENV_ALLOW_CLEAR_TEXT_TOKEN}=1 \
         to accept that risk",
        crate::core::wire::ENV_TOKEN,
        url.host_str().unwrap_or("the service")
    ))
    .into())
}

/// `-connect`'s first request: the service's own catalog (`SERVICE/catalog/catalog.json`, where
/// `sct-serve` publishes it), verified against the pinned keys, so no usage data is sent to a
/// service that cannot show a catalog signed by a pinned key.
pub fn check_service_catalog(
    runtime: &tokio::runtime::Runtime,
    options: &UploadOptions,
) -> anyhow::Result<()> {
    let url = format!(
        "{}/catalog/{}",
        options.service_url.trim_end_matches('/'),
        crate::core::catalog::CATALOG_FILE
    );
    let client = http::client(&options.net)?;
    let fetched = runtime
        .block_on(remote::fetch_catalog(
            &client,
            &url,
            &options.trusted,
            &options.net,
        ))
        .map_err(|err| {
            let shown = crate::core::logging::redact_url(&options.service_url);
            let connect = err.chain().any(|cause| {
                cause
                    .downcast_ref::<reqwest::Error>()
                    .is_some_and(reqwest::Error::is_connect)
            });
            if !connect {
                return err.context(format!(
                    "no usage data was sent: the update service {shown} did not show a catalog \
                     signed by a pinned key at {}",
                    crate::core::logging::redact_url(&url)
                ));
            }
            if options.net.proxy.is_some() {
                // The proxy is named already (`http::classify_error`), with what to check.
                return err;
            }
            let how = |setting: crate::core::setting::Setting| {
                setting
                    .how_to_give(crate::core::setting::CONFIG_FILE)
                    .unwrap_or_default()
            };
            err.context(format!(
                "cannot reach the update service at {shown}; no usage data was sent. Check its \
                 address ({}) and that this computer can reach it, or give a proxy ({})",
                how(crate::core::setting::Setting::ServiceUrl),
                how(crate::core::setting::Setting::Proxy)
            ))
        })?;
    crate::core::logging::info(
        LOG,
        format!(
            "The service's catalog version {} at {} is signed by a pinned key; sending usage data",
            fetched.catalog.version,
            crate::core::logging::redact_url(&url)
        ),
    );
    Ok(())
}

/// The result of a run: offers in the order of the cab files, and what failed.
pub struct UploadOutcome {
    pub offers: Vec<Offer>,
    pub failures: Vec<(PathBuf, anyhow::Error)>,
}

/// One offer, handed to `on_event` once its catalog is verified: the `sct.offer.v1` line, and
/// how many packs `sct-fetch` will select from that catalog in each download mode.
#[derive(Clone, Debug)]
pub struct Offered {
    pub offer: Offer,
    /// Packs selected in the default mode, `latest`.
    pub latest: usize,
    /// Packs selected with `--mode siteversion`.
    pub site_version: usize,
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
            Error::Usage(format!(
                "no update service given: {}",
                config.how_to_give(crate::core::setting::Setting::ServiceUrl)
            ))
        })?;
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        Error::Usage(format!(
            "`{}` is not a service URL: {e}",
            crate::core::logging::redact_url(&url)
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Usage(format!(
            "`{}` is not an http or https URL",
            crate::core::logging::redact_url(&url)
        ))
        .into());
    }
    // A command line is visible to every user of the machine: no password in it.
    if flag.is_some() && parsed.password().is_some() {
        return Err(Error::Usage(format!(
            "--service-url must not carry a password (`{}`): every user of the machine can \
                 read a command line; the service's token goes in {}",
            crate::core::logging::redact_url(&url),
            crate::core::wire::ENV_TOKEN
        ))
        .into());
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
            Error::Rejected(format!(
                "the service offered `{}`, not a URL: {e}",
                crate::core::logging::redact_url(catalog_url)
            ))
        })?;
    Ok(url.to_string())
}

/// The component name of upload log entries.
const LOG: &str = "sct-upload";

/// Logs which proxy the uploads go through and why ([`crate::stages::proxy::log_choice`]).
pub fn log_proxy(net: &NetOptions) {
    crate::stages::proxy::log_choice(LOG, net);
}

/// Runs the three steps on `runtime`; fails when any cab failed (the wrapper's entry point).
pub fn run(
    runtime: &tokio::runtime::Runtime,
    options: &UploadOptions,
    on_event: &mut Events<'_, Offered>,
) -> anyhow::Result<Vec<Offer>> {
    let outcome = runtime.block_on(upload_all(options, on_event))?;
    match outcome.failures.into_iter().next() {
        Some((_, err)) => Err(err),
        None => Ok(outcome.offers),
    }
}

/// Steps 1–3, handing each offer to `on_event` in the order of the cab files. Local problems fail
/// the whole run before anything is sent; network and service problems are reported per cab in
/// [`UploadOutcome::failures`].
pub async fn upload_all(
    options: &UploadOptions,
    on_event: &mut Events<'_, Offered>,
) -> anyhow::Result<UploadOutcome> {
    let cabs = find_cabs(&options.source)?;
    let checked = tokio::task::spawn_blocking(move || check_local(&cabs))
        .await
        .context("the local cab check stopped")??;
    let client = http::client(&options.net)?;
    let receipts = send::upload_bounded(&client, options, &checked).await;
    let mut catalogs = Catalogs {
        client: &client,
        options,
        verified: BTreeMap::new(),
        refused: HashMap::new(),
    };
    let mut offers = Vec::new();
    let mut failures = Vec::new();
    for ((path, report), receipt) in checked.into_iter().zip(receipts) {
        match offer_for(&path, &report, receipt, &mut catalogs).await {
            Ok(offered) => {
                on_event(&offered)?;
                offers.push(offered.offer);
            }
            Err(err) => failures.push((path, err)),
        }
    }
    Ok(UploadOutcome { offers, failures })
}

/// Step 3 for one cab: the catalog its receipt names, verified, turned into an offer.
async fn offer_for(
    path: &Path,
    report: &CabReport,
    receipt: anyhow::Result<Receipt>,
    catalogs: &mut Catalogs<'_>,
) -> anyhow::Result<Offered> {
    let receipt = receipt?;
    let url = receipt.catalog_url.clone();
    let fetched = catalogs.verified(&url, path).await?;
    let offer = make_offer(path, report, receipt, fetched)?;
    // Counted as sct-fetch selects, so the number stated is the number then downloaded.
    let selects = |mode| select::select_guids(&fetched.catalog, &offer.full_version, mode).len();
    Ok(Offered {
        latest: selects(DownloadMode::Latest),
        site_version: selects(DownloadMode::SiteVersion),
        offer,
    })
}

/// The offered catalogs, each fetched and verified once however many cabs it is offered to.
struct Catalogs<'a> {
    client: &'a reqwest::Client,
    options: &'a UploadOptions,
    verified: BTreeMap<String, FetchedCatalog>,
    /// Refused catalogs by URL, with why: the refusal is logged once, repeated for every cab.
    refused: HashMap<String, String>,
}

impl Catalogs<'_> {
    /// The catalog at `url`, verified against the pinned keys, for the cab at `path`.
    async fn verified(&mut self, url: &str, path: &Path) -> anyhow::Result<&FetchedCatalog> {
        if let Some(why) = self.refused.get(url) {
            return Err(Error::Rejected(format!(
                "the catalog offered for `{}` was refused: {why}",
                path.display()
            ))
            .into());
        }
        if !self.verified.contains_key(url) {
            let (trusted, net) = (&self.options.trusted, &self.options.net);
            match remote::fetch_catalog(self.client, url, trusted, net).await {
                Ok(fetched) => {
                    crate::core::logging::info(
                        LOG,
                        format!(
                            "Catalog version {} at {} verified against the pinned keys ({} packs)",
                            fetched.catalog.version,
                            crate::core::logging::redact_url(url),
                            fetched.catalog.packs.len()
                        ),
                    );
                    self.verified.insert(url.to_owned(), fetched);
                }
                Err(err) => {
                    crate::core::logging::error(
                        LOG,
                        format!(
                            "Catalog at {} refused: {err:#}",
                            crate::core::logging::redact_url(url)
                        ),
                    );
                    self.refused.insert(url.to_owned(), format!("{err:#}"));
                    return Err(err);
                }
            }
        }
        Ok(&self.verified[url])
    }
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
        return Err(Error::Rejected(format!(
            "the service offered catalog version {} but {} serves version {} (rollback refused)",
            receipt.catalog_version,
            crate::core::logging::redact_url(&receipt.catalog_url),
            catalog.version
        ))
        .into());
    }
    Ok(Offer {
        schema: crate::core::document::Tag::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

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
    fn a_token_never_crosses_the_network_in_clear_unless_allowed() {
        let refused = |url: &str| check_token_transport(url, true, false).is_err();
        assert!(refused("http://updates.contoso.com"));
        assert!(refused("http://10.0.0.5:8080/base"));
        for fine in [
            "https://updates.contoso.com",
            "http://127.0.0.1:8080",
            "http://127.8.0.1",
            "http://localhost:1",
            "http://[::1]:8080",
        ] {
            assert!(!refused(fine), "{fine}");
        }
        assert!(check_token_transport("http://updates.contoso.com", false, false).is_ok());
        assert!(check_token_transport("http://updates.contoso.com", true, true).is_ok());
        let err = check_token_transport("http://updates.contoso.com", true, false).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        assert!(format!("{err}").contains(ENV_ALLOW_CLEAR_TEXT_TOKEN));
    }

    #[test]
    fn service_url_from_flag_is_checked() {
        let config = Config::default();
        assert_eq!(
            resolve_service_url(Some("http://127.0.0.1:1/"), &config).unwrap(),
            "http://127.0.0.1:1"
        );
        let err = resolve_service_url(Some("ftp://x"), &config).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
    }
}
