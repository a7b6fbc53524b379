//! The reference update service (`sct-serve run`): static downloads plus one upload endpoint.
//!
//! Downloads are plain files from a service root (see [`crate::publish`] for the layout), served
//! with HTTP Range, ETag and Last-Modified, so nginx or a CDN serving the same folder is a drop-in
//! download host. The only dynamic part is `POST /api/v1/usage`: it takes a usage cab (at most
//! [`DEFAULT_MAX_UPLOAD`] bytes unless configured), streams it to a temporary file, checks it fully
//! with [`crate::usage_cab::open_verified`], stores it under `ROOT/uploads/<hierarchy>/` with one
//! rename, and answers with an `sct.receipt.v1`. Anything refused is answered with an
//! `sct.error.v1` document and leaves nothing behind.

use crate::document::Document;
use crate::offer::Receipt;
use crate::publish::ServiceRoot;
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tower_http::services::ServeDir;

/// Largest usage cab accepted unless `--max-upload` says otherwise: 512 MiB, the usage
/// document's own limit ([`crate::usage::MAX_USAGE_BYTES`]); real cabs are a few MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 512 * 1024 * 1024;
/// The upload endpoint's path.
pub const UPLOAD_PATH: &str = "/api/v1/usage";
/// Environment variable holding the bearer token uploads must carry (server and client).
pub const ENV_TOKEN: &str = "SCT_SERVICE_TOKEN";

/// How to run the service.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub root: PathBuf,
    pub bind: SocketAddr,
    /// Certificate chain and private key (PEM) for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Bearer token uploads must present; `None` accepts any upload.
    pub token: Option<String>,
    pub max_upload: u64,
    /// Base URL clients download from (e.g. an nginx or CDN in front of the same root);
    /// defaults to this server as the client reached it.
    pub public_url: Option<String>,
}

/// The error document every refusal carries (`sct.error.v1`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDocument {
    pub schema: String,
    /// HTTP status code, repeated for logs that keep only the body.
    pub status: u16,
    /// A stable word for scripts: `unauthorized`, `too_large`, `not_a_usage_cab`, ...
    pub error: String,
    pub message: String,
}

impl Document for ErrorDocument {
    const SCHEMA: &'static str = "sct.error.v1";
}

/// The line `sct-serve run` prints once it listens (`sct.serve-listening.v1`).
pub fn listening_document(scheme: &str, address: SocketAddr) -> serde_json::Value {
    serde_json::json!({
        "schema": "sct.serve-listening.v1",
        "address": address.to_string(),
        "url": format!("{scheme}://{address}"),
    })
}

/// A refusal: status, stable word and message.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Refusal(status, error, message) = self;
        let doc = ErrorDocument {
            schema: ErrorDocument::SCHEMA.to_owned(),
            status: status.as_u16(),
            error: error.to_owned(),
            message,
        };
        (status, axum::Json(doc)).into_response()
    }
}

struct Service {
    root: ServiceRoot,
    token: Option<String>,
    max_upload: u64,
    public_url: Option<String>,
    scheme: &'static str,
}

/// The service's routes: `/catalog/...` and `/packs/...` as static files, `POST /api/v1/usage`.
pub fn router(options: &ServeOptions) -> Router {
    let root = ServiceRoot::new(&options.root);
    let state = Arc::new(Service {
        root: root.clone(),
        token: options.token.clone(),
        max_upload: options.max_upload,
        public_url: options
            .public_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_owned()),
        scheme: if options.tls.is_some() {
            "https"
        } else {
            "http"
        },
    });
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
        .nest_service("/catalog", ServeDir::new(root.catalog_dir()))
        .nest_service("/packs", ServeDir::new(root.packs()))
        .layer(axum::middleware::from_fn(log_and_revalidate))
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
    crate::logging::detail("sct-serve", &line);
    crate::cli::note("sct-serve", line);
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
        return Err(crate::error::fail(
            crate::error::ExitCode::Usage,
            format!("service root `{}` is not a folder", options.root.display()),
        ));
    }
    fs_err::create_dir_all(incoming_dir(&root))?;
    remove_stale_uploads(&incoming_dir(&root));
    let app = router(&options);
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("Failed to listen on {}", options.bind))?;
    let local = listener.local_addr()?;
    match &options.tls {
        None => {
            ready(local);
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        Some((cert, key)) => {
            let acceptor = crate::tls::acceptor(cert, key)?;
            ready(local);
            axum::serve(crate::tls::TlsListener::new(listener, acceptor), app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    Ok(())
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
    // HTTP/2 carries the host in the URI's authority, HTTP/1.1 in the Host header.
    let host = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    match receive(&service, &headers, host, request.into_body()).await {
        Ok(receipt) => {
            let stored = format!(
                "stored usage of hierarchy {} (site {}, {})",
                receipt.hierarchy_id, receipt.site_code, receipt.site_version
            );
            crate::logging::info("sct-serve", format!("Usage cab received: {stored}"));
            crate::cli::note("sct-serve", stored);
            (StatusCode::OK, axum::Json(receipt)).into_response()
        }
        Err(refusal) => {
            let refused = format!("refused an upload ({}): {}", refusal.0, refusal.2);
            crate::logging::warn("sct-serve", &refused);
            crate::cli::note("sct-serve", refused);
            refusal.into_response()
        }
    }
}

async fn receive(
    service: &Service,
    headers: &HeaderMap,
    host: Option<String>,
    body: Body,
) -> Result<Receipt, Refusal> {
    check_token(service, headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > service.max_upload) {
        return Err(too_large(service.max_upload));
    }
    let (catalog_url, catalog_version) = current_catalog(service, host).await?;
    let temp = receive_to_temp(service, body).await?;
    let temp_path = temp.path().to_owned();
    let checked = tokio::task::spawn_blocking(move || crate::usage_cab::open_verified(&temp_path))
        .await
        .map_err(|e| internal(format!("the cab check stopped: {e}")))?;
    let (doc, report) = checked.map_err(|err| {
        let shown = temp.path().display().to_string();
        let message = format!("{err:#}")
            .replace(&format!("`{shown}`"), "the uploaded file")
            .replace(&shown, "the uploaded file");
        match crate::error::exit_code(&err) {
            // The server's own disk failed, not the client's cab.
            crate::error::ExitCode::Io => internal(message),
            _ => Refusal(StatusCode::UNPROCESSABLE_ENTITY, "not_a_usage_cab", message),
        }
    })?;
    let received_at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_err(|e| internal(e.to_string()))?;
    let receipt = Receipt {
        schema: Receipt::SCHEMA.to_owned(),
        hierarchy_id: doc.site.hierarchy_id,
        site_code: doc.site.site_code.clone(),
        site_version: doc.site.version,
        full_version: doc.site.full_version,
        received_at: received_at.to_string(),
        sha256: report.sha256.clone(),
        catalog_url,
        catalog_version,
    };
    store(service, temp, &receipt, received_at).map_err(|e| internal(format!("{e:#}")))?;
    Ok(receipt)
}

fn check_token(service: &Service, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(expected) = &service.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
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

fn internal(message: String) -> Refusal {
    Refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

/// The catalog URL and version the receipt offers; refuses uploads while nothing is published.
async fn current_catalog(
    service: &Service,
    host: Option<String>,
) -> Result<(String, u64), Refusal> {
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
    let base = match &service.public_url {
        Some(url) => url.clone(),
        None => {
            let host = host
                .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '@']))
                .ok_or_else(|| {
                    Refusal(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "the request has no usable Host header".to_owned(),
                    )
                })?;
            format!("{}://{host}", service.scheme)
        }
    };
    Ok((
        format!("{base}/catalog/{}", crate::catalog::CATALOG_FILE),
        catalog.version,
    ))
}

/// Streams the body into a temporary file, refusing it as soon as it passes the limit.
async fn receive_to_temp(
    service: &Service,
    mut body: Body,
) -> Result<tempfile::NamedTempFile, Refusal> {
    let io = |e: std::io::Error| internal(format!("cannot store the upload: {e}"));
    let temp = tempfile::Builder::new()
        .prefix("upload-")
        .suffix(".cab")
        .tempfile_in(incoming_dir(&service.root))
        .map_err(io)?;
    let mut file = tokio::fs::File::from_std(temp.reopen().map_err(io)?);
    let mut size = 0u64;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
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
    Ok(temp)
}

/// Moves a checked cab into `uploads/<hierarchy>/` with one rename, receipt beside it.
fn store(
    service: &Service,
    temp: tempfile::NamedTempFile,
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
    crate::atomic::write_bytes(&dir.join(format!("{stem}.receipt.json")), &text)?;
    let _ = crate::atomic::sync_dir(&dir);
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
