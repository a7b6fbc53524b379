//! The network seam: one place builds every HTTP client, with stated timeouts, proxy settings and
//! TLS trust, and decides which failures are worth a retry.
//!
//! TLS verification is always on (the platform's roots plus an optional extra CA file). Proxy
//! passwords come from `SCT_PROXY_PASSWORD` or a terminal prompt, never from argv, and are never
//! shown: URLs are printed through [`redact`].

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable holding the proxy password.
pub const ENV_PROXY_PASSWORD: &str = "SCT_PROXY_PASSWORD";

/// Network settings shared by upload and fetch.
#[derive(Clone, Debug)]
pub struct NetOptions {
    /// Proxy URI (`http://host:port`, or `host:port` as the original tool takes it).
    pub proxy: Option<String>,
    pub proxy_user: Option<String>,
    /// The proxy password; filled from the environment or a prompt, never from a flag.
    pub proxy_password: Option<String>,
    /// Extra CA certificate (PEM) to trust besides the platform's roots.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response before giving up.
    pub read_timeout: Duration,
    /// Attempts after the first one, for transient failures only.
    pub retries: u32,
}

impl Default for NetOptions {
    fn default() -> Self {
        Self {
            proxy: None,
            proxy_user: None,
            proxy_password: None,
            ca_file: None,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            retries: 4,
        }
    }
}

/// Builds the HTTP client for these settings.
pub fn client(options: &NetOptions) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.read_timeout)
        .user_agent(concat!("sct/", env!("CARGO_PKG_VERSION")))
        .https_only(false);
    if let Some(path) = &options.ca_file {
        let pem = fs_err::read(path).context("Failed to read the extra CA certificate")?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("`{}` is not a PEM certificate", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    if let Some(uri) = &options.proxy {
        let uri = if uri.contains("://") {
            uri.clone()
        } else {
            format!("http://{uri}")
        };
        let mut proxy = reqwest::Proxy::all(&uri)
            .with_context(|| format!("`{}` is not a proxy URI", redact(&uri)))?;
        if let Some(user) = &options.proxy_user {
            proxy = proxy.basic_auth(user, options.proxy_password.as_deref().unwrap_or(""));
        }
        builder = builder.proxy(proxy);
    }
    builder.build().context("Failed to set up the HTTP client")
}

/// True for failures a retry may fix: timeouts, refused or reset connections, 408, 429 and 5xx.
pub fn is_transient_status(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// True for transport errors a retry may fix.
pub fn is_transient_error(err: &reqwest::Error) -> bool {
    err.is_timeout() || err.is_connect() || err.is_request() || err.is_body()
}

/// An HTTP error status as a classified failure: 407 names the proxy, 5xx and 4xx the server.
pub fn status_error(status: reqwest::StatusCode, url: &str) -> anyhow::Error {
    let shown = redact(url);
    let message = if status == reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED {
        format!(
            "the proxy refused the request to {shown} with 407: it wants credentials (give --proxy-user and SCT_PROXY_PASSWORD) or refused the ones given"
        )
    } else {
        format!("{shown} answered {status}")
    };
    crate::error::fail(crate::error::ExitCode::Network, message)
}

/// Exponential backoff with a cap: 0.5 s, 1 s, 2 s, 4 s, then 8 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4)))
}

/// A URL or URI with any password replaced by `****`.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("http://bob:secret@proxy:3128/"),
            "http://bob:****@proxy:3128/"
        );
        assert_eq!(redact("http://proxy:3128/"), "http://proxy:3128/");
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(10), Duration::from_secs(8));
    }

    #[test]
    fn transient_statuses() {
        assert!(is_transient_status(reqwest::StatusCode::BAD_GATEWAY));
        assert!(is_transient_status(reqwest::StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_transient_status(reqwest::StatusCode::NOT_FOUND));
        assert!(!is_transient_status(
            reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED
        ));
    }
}
