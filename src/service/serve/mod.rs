//! The reference update service (`sct-serve run`): static downloads plus one upload endpoint.
//!
//! Downloads are plain files from a service root (see [`crate::service::publish`] for the layout), served
//! with HTTP Range, ETag and Last-Modified, so nginx or a CDN serving the same folder is a drop-in
//! download host. The only dynamic part is `POST /api/v1/usage`: it takes a usage cab (at most
//! [`DEFAULT_MAX_UPLOAD`] bytes unless configured), streams it to a temporary file, checks it fully
//! with [`crate::core::usage_cab::open_verified`], stores it under `ROOT/uploads/<hierarchy>/` with one
//! rename, and answers with an `sct.receipt.v1`. Anything refused is answered with an
//! `sct.error.v1` document and leaves nothing behind.
//!
//! The service faces anyone on the network, so it bounds what they can take: connections
//! ([`connections`]: limits, eviction of idle ones, a header-read timeout), uploads (a bearer
//! token unless the operator allows anonymous uploads, a few at once, a stalled body is cut off,
//! a quota on what is stored: [`quota`]), and the URL a receipt offers comes from the configured
//! public address only, never from what the client sent.

mod accept;
pub mod connections;
pub mod contained;
pub mod quota;

use crate::core::offer::Receipt;
use crate::core::secret::Secret;
use crate::core::wire::{ENV_TOKEN, ErrorDocument, UPLOAD_PATH};
use crate::service::publish::ServiceRoot;
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tower_http::services::ServeDir;

/// Largest usage cab accepted unless `--max-upload` says otherwise: 512 MiB, room for a usage
/// document at its own limit ([`crate::core::usage::MAX_USAGE_BYTES`], 64 MiB) stored uncompressed
/// beside the other members a manifest may list; real cabs are a few MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 512 * 1024 * 1024;
/// Default for `--max-concurrent-uploads`: uploads received at once; more are answered 503.
pub const DEFAULT_CONCURRENT_UPLOADS: usize = 8;
/// Longest an upload may go without sending a byte before it is cut off (408).
pub const UPLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest one upload may take in all (408): a 512 MiB cab at 600 KiB/s.
pub const UPLOAD_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How to run the service.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub root: PathBuf,
    pub bind: SocketAddr,
    /// Certificate chain and private key (PEM) for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Bearer token uploads must present.
    pub token: Option<Secret>,
    /// Accept uploads without a token: only when the operator asks (`--allow-anonymous-uploads`).
    pub allow_anonymous_uploads: bool,
    pub max_upload: u64,
    /// Uploads received at once.
    pub max_concurrent_uploads: usize,
    /// What the upload store may hold.
    pub quota: quota::Quota,
    /// Base URL clients download from (e.g. an nginx or CDN in front of the same root);
    /// defaults to the address this server listens on, never the client's `Host` header.
    pub public_url: Option<String>,
    pub limits: connections::Limits,
    /// The online timestamp key: sign the freshness statement at start and keep it fresh.
    pub timestamp: Option<crate::service::timestamp::TimestampSigner>,
}

impl ServeOptions {
    /// Defaults for everything but the root and the address; no token, no anonymous uploads.
    pub fn new(root: PathBuf, bind: SocketAddr) -> Self {
        Self {
            root,
            bind,
            tls: None,
            token: None,
            allow_anonymous_uploads: false,
            max_upload: DEFAULT_MAX_UPLOAD,
            max_concurrent_uploads: DEFAULT_CONCURRENT_UPLOADS,
            quota: quota::Quota::default(),
            public_url: None,
            limits: connections::Limits::default(),
            timestamp: None,
        }
    }

    /// Refuses settings that cannot work, before anything is bound or written (exit 2): no way
    /// to authenticate uploads, a token and anonymous uploads at once, a public URL that is not
    /// a plain `http(s)://host[:port][/path]`, a wildcard address without a public URL.
    pub fn check(&self) -> anyhow::Result<()> {
        let usage = |m: String| crate::core::error::Error::Usage(m).into();
        match (&self.token, self.allow_anonymous_uploads) {
            (None, false) => {
                return Err(usage(format!(
                    "uploads need a token: set {ENV_TOKEN} or --token-file FILE \
                     (or accept anyone's uploads with --allow-anonymous-uploads)"
                )));
            }
            (Some(_), true) => {
                return Err(usage(
                    "--allow-anonymous-uploads and an upload token contradict each other: \
                     drop one"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(url) = &self.public_url {
            check_public_url(url).map_err(|why| usage(format!("--public-url {why}")))?;
        } else if self.bind.ip().is_unspecified() {
            return Err(usage(format!(
                "listening on {} needs --public-url: receipts must name the address clients \
                 download from, and the client's Host header is not trusted for that",
                self.bind
            )));
        }
        if self.max_concurrent_uploads == 0 {
            return Err(usage(
                "--max-concurrent-uploads must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

/// A public URL must be `http(s)://host[:port][/path]`: no user or password (it is shown to
/// every client), no query or fragment.
fn check_public_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not carry a query or fragment".to_owned());
    }
    Ok(())
}

/// The line `sct-serve run` prints once it listens (`sct.serve-listening.v1`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listening {
    pub schema: crate::core::document::Tag<Self>,
    /// The address it listens on, `IP:port`.
    pub address: String,
    /// The same as a URL, `http://IP:port` or `https://…`.
    pub url: String,
}

impl crate::core::document::Document for Listening {
    const SCHEMA: &'static str = "sct.serve-listening.v1";
}

/// The listening line for `address`, served over `scheme`.
pub fn listening_document(scheme: &str, address: SocketAddr) -> Listening {
    Listening {
        schema: crate::core::document::Tag::new(),
        address: address.to_string(),
        url: format!("{scheme}://{address}"),
    }
}

/// A refusal: status, stable word and message.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Refusal(status, error, message) = self;
        let doc = ErrorDocument {
            schema: crate::core::document::Tag::new(),
            status: status.as_u16(),
            error: error.to_owned(),
            message,
        };
        let mut response = (status, axum::Json(doc)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

struct Service {
    root: ServiceRoot,
    token: Option<Secret>,
    max_upload: u64,
    /// Where clients download from: `--public-url`, else the address this server listens on.
    base_url: String,
    /// One permit per upload being received.
    receiving: Arc<tokio::sync::Semaphore>,
    ledger: quota::Ledger,
}

/// The service's routes: `/catalog/...` and `/packs/...` as static files, `POST /api/v1/usage`.
/// `base_url` is where receipts say the catalog is (see [`base_url`]).
pub fn router(options: &ServeOptions, base_url: &str) -> Router {
    let root = ServiceRoot::new(&options.root);
    let state = Arc::new(Service {
        root: root.clone(),
        token: options.token.clone(),
        max_upload: options.max_upload,
        base_url: base_url.trim_end_matches('/').to_owned(),
        receiving: Arc::new(tokio::sync::Semaphore::new(options.max_concurrent_uploads)),
        ledger: quota::Ledger::open(options.quota, &root.uploads()),
    });
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
        .nest_service("/catalog", plain_files(root.catalog_dir()))
        .nest_service("/packs", plain_files(root.packs()))
        .layer(axum::middleware::from_fn_with_state(
            contained::Served {
                root: root.root.clone(),
            },
            contained::only_plain_files,
        ))
        .layer(axum::middleware::from_fn(log_and_revalidate))
}

/// A static file server for `dir` that never turns a folder into its `index.html`; what it may
/// open is decided before it by [`contained::only_plain_files`].
fn plain_files(dir: PathBuf) -> ServeDir {
    ServeDir::new(dir).append_index_html_on_directories(false)
}

/// Logs each request on stderr and marks the catalog `no-cache`, so caches between the service
/// and clients revalidate it (with its ETag) instead of serving a stale one; packs never change
/// under a given path and may be cached.
async fn log_and_revalidate(request: Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if path.starts_with("/catalog/") {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-cache"),
        );
    }
    let line = format!("{method} {path} {}", response.status().as_u16());
    crate::core::logging::detail("sct-serve", &line);
    crate::core::report::note("sct-serve", line);
    response
}

/// Binds, reports the bound address through `ready`, and serves until `shutdown` completes.
pub async fn serve(
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let root = ServiceRoot::new(&options.root);
    if !options.root.is_dir() {
        let not_a_folder = crate::core::error::Error::NotAFolder {
            path: options.root.clone(),
        };
        return Err(anyhow::Error::from(not_a_folder).context("Cannot serve the service root"));
    }
    options.check()?;
    fs_err::create_dir_all(incoming_dir(&root))?;
    remove_stale_uploads(&incoming_dir(&root));
    let acceptor = match &options.tls {
        Some((cert, key)) => Some(crate::service::tls::acceptor(cert, key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("Failed to listen on {}", options.bind))?;
    let local = listener.local_addr()?;
    if let Some(signer) = &options.timestamp {
        if signer
            .sign_current(&root, crate::core::clock::now())?
            .is_none()
        {
            crate::core::report::note(
                "sct-serve",
                "no catalog is published yet: the freshness statement is signed once one is",
            );
        }
        tokio::spawn(signer.clone().keep_fresh(root.clone()));
    }
    let app = router(&options, &base_url(&options, local));
    ready(local);
    accept::run(listener, acceptor, app, &options.limits, shutdown).await;
    Ok(())
}

/// Where receipts say clients download from: `--public-url`, else this server's own address.
/// Never the client's `Host` header, which anyone can set.
pub fn base_url(options: &ServeOptions, local: SocketAddr) -> String {
    match &options.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let scheme = if options.tls.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{local}")
        }
    }
}

fn incoming_dir(root: &ServiceRoot) -> PathBuf {
    root.uploads().join(".incoming")
}

/// Removes uploads a killed server left half-received: nothing else lives in `.incoming`.
fn remove_stale_uploads(incoming: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(incoming) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("upload-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn upload(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    match receive(&service, &headers, request.into_body()).await {
        Ok(receipt) => {
            let stored = format!(
                "stored usage of hierarchy {} (site {}, {})",
                receipt.hierarchy_id, receipt.site_code, receipt.site_version
            );
            crate::core::logging::info("sct-serve", format!("Usage cab received: {stored}"));
            crate::core::report::note("sct-serve", stored);
            (StatusCode::OK, axum::Json(receipt)).into_response()
        }
        Err(refusal) => {
            let refused = format!("refused an upload ({}): {}", refusal.0, refusal.2);
            crate::core::logging::warn("sct-serve", &refused);
            crate::core::report::note("sct-serve", refused);
            refusal.into_response()
        }
    }
}

async fn receive(service: &Service, headers: &HeaderMap, body: Body) -> Result<Receipt, Refusal> {
    check_token(service, headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > service.max_upload) {
        return Err(too_large(service.max_upload));
    }
    if !service.ledger.has_room_for(declared.unwrap_or(0)) {
        return Err(quota_exceeded(service));
    }
    let _receiving = service.receiving.clone().try_acquire_owned().map_err(|_| {
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "this service is receiving as many uploads as it takes at once; retry shortly"
                .to_owned(),
        )
    })?;
    let (catalog_url, catalog_version) = current_catalog(service).await?;
    let stalled = || {
        Refusal(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the upload took longer than this service allows ({} s in all, {} s without data)",
                UPLOAD_DEADLINE.as_secs(),
                UPLOAD_IDLE_TIMEOUT.as_secs()
            ),
        )
    };
    let (temp, size) = tokio::time::timeout(UPLOAD_DEADLINE, receive_to_temp(service, body))
        .await
        .map_err(|_| stalled())??;
    let temp_path = temp.to_path_buf();
    let checked =
        tokio::task::spawn_blocking(move || crate::core::usage_cab::open_verified(&temp_path))
            .await
            .map_err(|e| internal(format!("the cab check stopped: {e}")))?;
    let (doc, report) = checked.map_err(|err| {
        let shown = temp.display().to_string();
        let message = format!("{err:#}")
            .replace(&format!("`{shown}`"), "the uploaded file")
            .replace(&shown, "the uploaded file");
        match crate::core::error::exit_code(&err) {
            // The server's own disk failed, not the client's cab.
            crate::core::error::ExitCode::Io => internal(message),
            _ => Refusal(StatusCode::UNPROCESSABLE_ENTITY, "not_a_usage_cab", message),
        }
    })?;
    let received_at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_err(|e| internal(e.to_string()))?;
    let receipt = Receipt {
        schema: crate::core::document::Tag::new(),
        hierarchy_id: doc.site.hierarchy_id,
        site_code: doc.site.site_code.clone(),
        site_version: doc.site.version,
        full_version: doc.site.full_version,
        received_at: received_at.to_string(),
        sha256: report.sha256.clone(),
        catalog_url,
        catalog_version,
    };
    service
        .ledger
        .admit(size, || store(service, temp, &receipt, received_at))
        .ok_or_else(|| quota_exceeded(service))?
        .map_err(|e| internal(format!("{e:#}")))?;
    Ok(receipt)
}

fn check_token(service: &Service, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(expected) = &service.token else {
        // Only when the operator allowed anonymous uploads (ServeOptions::check).
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
        Ok(())
    } else {
        Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("uploads need the service's bearer token (the client reads {ENV_TOKEN})"),
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn too_large(limit: u64) -> Refusal {
    Refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the upload is larger than this service's {limit}-byte limit for usage cabs"),
    )
}

fn quota_exceeded(service: &Service) -> Refusal {
    let quota = service.ledger.quota();
    Refusal(
        StatusCode::INSUFFICIENT_STORAGE,
        "quota_exceeded",
        format!(
            "this service stores at most {} usage cabs and {} bytes, and is full; its operator must make room",
            quota.max_files, quota.max_bytes
        ),
    )
}

fn internal(message: String) -> Refusal {
    Refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

/// The catalog URL and version the receipt offers; refuses uploads while nothing is published.
async fn current_catalog(service: &Service) -> Result<(String, u64), Refusal> {
    let root = service.root.clone();
    let current = tokio::task::spawn_blocking(move || root.current())
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(format!("{e:#}")))?;
    let Some((catalog, _)) = current else {
        return Err(Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_catalog",
            "this service has not published a catalog yet (run `sct-serve publish`)".to_owned(),
        ));
    };
    Ok((
        format!(
            "{}/catalog/{}",
            service.base_url,
            crate::core::catalog::CATALOG_FILE
        ),
        catalog.version,
    ))
}

/// Streams the body into a temporary file, refusing it as soon as it passes the limit or stalls
/// for [`UPLOAD_IDLE_TIMEOUT`]; returns the file and its size.
async fn receive_to_temp(
    service: &Service,
    mut body: Body,
) -> Result<(tempfile::TempPath, u64), Refusal> {
    let io = |e: std::io::Error| internal(format!("cannot store the upload: {e}"));
    let temp = tempfile::Builder::new()
        .prefix("upload-")
        .suffix(".cab")
        .tempfile_in(incoming_dir(&service.root))
        .map_err(io)?;
    let mut file = tokio::fs::File::from_std(temp.reopen().map_err(io)?);
    let mut size = 0u64;
    loop {
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx));
        let Some(frame) = tokio::time::timeout(UPLOAD_IDLE_TIMEOUT, next)
            .await
            .map_err(|_| {
                Refusal(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!(
                        "the upload stalled: no data for {} s",
                        UPLOAD_IDLE_TIMEOUT.as_secs()
                    ),
                )
            })?
        else {
            break;
        };
        let frame = frame.map_err(|e| {
            Refusal(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the upload was cut off: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size > service.max_upload {
            return Err(too_large(service.max_upload));
        }
        file.write_all(&data).await.map_err(io)?;
    }
    if size == 0 {
        return Err(Refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_usage_cab",
            "the upload is empty".to_owned(),
        ));
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    // Every handle is closed before the cab is checked: Windows refuses to open a file for the
    // check's exclusive read while a write handle to it is open (a sharing violation).
    drop(file);
    Ok((temp.into_temp_path(), size))
}

/// Moves a checked cab into `uploads/<hierarchy>/` with one rename, receipt beside it.
fn store(
    service: &Service,
    temp: tempfile::TempPath,
    receipt: &Receipt,
    received_at: jiff::Timestamp,
) -> anyhow::Result<()> {
    let dir = service
        .root
        .uploads()
        .join(receipt.hierarchy_id.to_string());
    fs_err::create_dir_all(&dir)?;
    let stamp = received_at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let stem = format!("{stamp}-{}", &receipt.sha256[..16]);
    let mut text = serde_json::to_vec_pretty(receipt)?;
    text.push(b'\n');
    temp.persist(dir.join(format!("{stem}.cab")))
        .map_err(|e| e.error)?;
    crate::core::atomic::write_bytes(&dir.join(format!("{stem}.receipt.json")), &text)?;
    let _ = crate::core::atomic::sync_dir(&dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
