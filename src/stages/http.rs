//! The network seam: one place builds every HTTP client, with stated timeouts, proxy settings and
//! TLS trust, and decides which failures are worth a retry (the retry loop itself is
//! [`crate::stages::retry`]).
//!
//! TLS verification is always on: against the platform's roots, or, when a CA file is given, against
//! the CAs in that file alone (as `curl --cacert` does). Proxy
//! passwords come from `SCT_PROXY_PASSWORD` or a terminal prompt, never from argv, and are never
//! shown: URLs are printed through [`crate::core::logging::redact_url`].

use crate::core::logging::redact_url as redact;
use crate::stages::retry::Attempt;
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
    /// Where `proxy` came from: the flag or `sct.toml` ([`crate::stages::proxy`] finds the others).
    pub proxy_origin: crate::stages::proxy::Origin,
    pub proxy_user: Option<String>,
    /// The proxy password; filled from the environment or a prompt, never from a flag.
    pub proxy_password: Option<crate::core::secret::Secret>,
    /// Extra CA certificate (PEM) to trust besides the platform's roots.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response before giving up.
    pub read_timeout: Duration,
    /// Attempts after the first one, for transient failures only.
    pub retries: u32,
    /// The slowest response body accepted (the read timeout alone lets a trickle run forever).
    pub min_rate: MinRate,
}

impl NetOptions {
    /// Fills in the proxy password when a proxy user is set and no password is yet
    /// ([`proxy_password`]: `SCT_PROXY_PASSWORD` or a terminal prompt).
    pub fn with_proxy_password(mut self) -> anyhow::Result<Self> {
        if let (Some(user), None) = (&self.proxy_user, &self.proxy_password) {
            self.proxy_password = Some(proxy_password(user)?);
        }
        Ok(self)
    }
}

impl Default for NetOptions {
    fn default() -> Self {
        Self {
            proxy: None,
            proxy_origin: crate::stages::proxy::Origin::Flag,
            proxy_user: None,
            proxy_password: None,
            ca_file: None,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            retries: 4,
            min_rate: MinRate::default(),
        }
    }
}

/// The slowest transfer accepted: a response body that delivers fewer than
/// `bytes_per_sec × window` bytes in any `window` (counted from the first byte asked for) ends the
/// attempt as a network failure worth a retry; a download resumes from its `.part`.
/// `bytes_per_sec` 0 turns the floor off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinRate {
    pub bytes_per_sec: u64,
    pub window: Duration,
}

impl MinRate {
    /// 1 KiB/s over 60 s: far below any working link, far above a trickle meant to hold a
    /// download open.
    pub const DEFAULT: MinRate = MinRate {
        bytes_per_sec: 1024,
        window: Duration::from_secs(60),
    };
}

impl Default for MinRate {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why the next chunk of a body did not come.
pub enum BodyError {
    Transport(reqwest::Error),
    /// Slower than [`MinRate`]; the message says by how much and which flags change it.
    TooSlow(anyhow::Error),
}

/// Reads a response body chunk by chunk, holding it to a [`MinRate`].
pub struct RateFloor {
    min: MinRate,
    window_end: tokio::time::Instant,
    bytes_in_window: u64,
}

impl RateFloor {
    pub fn new(min: MinRate) -> Self {
        Self {
            min,
            window_end: tokio::time::Instant::now() + min.window,
            bytes_in_window: 0,
        }
    }

    /// The next chunk of `response` (`None` at its end). Waits at most until the current window
    /// ends, then judges the window: too few bytes is [`BodyError::TooSlow`].
    pub async fn next_chunk(
        &mut self,
        response: &mut reqwest::Response,
        url: &str,
    ) -> Result<Option<bytes::Bytes>, BodyError> {
        if self.min.bytes_per_sec == 0 {
            return response.chunk().await.map_err(BodyError::Transport);
        }
        loop {
            let next = tokio::time::timeout_at(self.window_end, response.chunk()).await;
            if let Ok(chunk) = &next {
                let n = chunk
                    .as_ref()
                    .map_or(0, |c| c.as_ref().map_or(0, |c| c.len()));
                self.bytes_in_window += n as u64;
            }
            if tokio::time::Instant::now() >= self.window_end {
                self.judge_window(url)?;
            }
            if let Ok(chunk) = next {
                return chunk.map_err(BodyError::Transport);
            }
        }
    }

    /// Ends a window: too slow, or the next window starts.
    fn judge_window(&mut self, url: &str) -> Result<(), BodyError> {
        let wanted = (self.min.bytes_per_sec as f64 * self.min.window.as_secs_f64()) as u64;
        if self.bytes_in_window < wanted {
            return Err(BodyError::TooSlow(
                crate::core::error::Error::Network(format!(
                    "{} sent {} bytes in {} s, below the minimum rate of {} bytes/s \
                     (change it with --min-rate and --rate-window; rerun to resume)",
                    redact(url),
                    self.bytes_in_window,
                    self.min.window.as_secs_f64(),
                    self.min.bytes_per_sec
                ))
                .into(),
            ));
        }
        self.window_end = tokio::time::Instant::now() + self.min.window;
        self.bytes_in_window = 0;
        Ok(())
    }
}

/// The CA certificates of a PEM file (one or several): with them the service's certificate must
/// chain to one of these, not to the platform's roots. Trusting them alone pins the service's own
/// CA, and it keeps the Windows build off the platform verifier's extra-roots path, which needs a
/// chain-engine setting that Wine 8.0 rejects ("Invalid parameter", docs/windows.md).
fn ca_certificates(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = fs_err::read(path).context("Failed to read the CA certificate file")?;
    // The file was read: a wrong one is a setting to fix, a usage error (it was 3).
    let not_pem = || format!("`{}` is not a PEM certificate file", path.display());
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| crate::core::error::Error::Usage(not_pem()))?;
    if certs.is_empty() {
        let empty = format!("{} (no certificate in it)", not_pem());
        return Err(crate::core::error::Error::Usage(empty).into());
    }
    Ok(certs)
}

/// Builds the HTTP client for these settings.
pub fn client(options: &NetOptions) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.read_timeout)
        .user_agent(concat!("sct/", env!("CARGO_PKG_VERSION")))
        .https_only(false);
    if let Some(path) = &options.ca_file {
        builder = builder.tls_certs_only(ca_certificates(path)?);
    }
    if let Some(uri) = &options.proxy {
        let uri = proxy_url(uri);
        if reqwest::Url::parse(&uri).is_ok_and(|u| u.password().is_some()) {
            return Err(crate::core::error::Error::Usage(format!(
                    "the proxy URI `{}` carries a password; give the user with {} and the password in {ENV_PROXY_PASSWORD}, never on the command line",
                    redact(&uri),
                    proxy_user_flag()
                )).into());
        }
    }
    let route = crate::stages::proxy::choose(options);
    // Without a route of its own (the environment's), reqwest itself honours HTTPS_PROXY,
    // HTTP_PROXY, ALL_PROXY and NO_PROXY.
    match (&route, &options.proxy_user, &options.proxy_password) {
        // Credentials: the relay answers whatever the proxy asks (crate::stages::proxy::relay).
        (Some(route), Some(user), Some(password)) if route.takes_relay() => {
            let credentials = crate::stages::proxy::auth::Credentials {
                user: user.clone(),
                password: password.clone(),
            };
            let relay = crate::stages::proxy::relay::relay_for(
                route,
                &credentials,
                options.connect_timeout,
            )?;
            builder = builder.proxy(route.through_relay(&relay));
        }
        _ => {
            if let Some(proxy) = route.map(|r| r.client_proxy()).transpose()?.flatten() {
                builder = builder.proxy(proxy);
            }
        }
    }
    builder.build().context("Failed to set up the HTTP client")
}

/// The proxy as a URL: `host` and `host:port`, as the original's `-proxyserveruri` takes them,
/// become `http://host:port`, and a proxy without a port uses 80, as the original does.
pub fn proxy_url(uri: &str) -> String {
    let url = if uri.contains("://") {
        uri.to_owned()
    } else {
        format!("http://{uri}")
    };
    match reqwest::Url::parse(&url) {
        Ok(parsed) if parsed.port().is_none() && parsed.scheme() == "http" => {
            // `Url` drops a default port when printed: state it, so logs say which port was used.
            let host = parsed.host_str().unwrap_or_default();
            let auth = match (parsed.username(), parsed.password()) {
                ("", None) => String::new(),
                (user, None) => format!("{user}@"),
                (user, Some(password)) => format!("{user}:{password}@"),
            };
            format!(
                "http://{auth}{host}:80{}",
                parsed.path().trim_end_matches('/')
            )
        }
        _ => url,
    }
}

/// A connection failure through a proxy names the proxy, not the update service: with a proxy
/// set, the only connection this machine opens is to the proxy.
pub fn name_the_proxy(err: anyhow::Error, net: &NetOptions) -> anyhow::Error {
    let Some(route) = crate::stages::proxy::choose(net) else {
        return err;
    };
    if matches!(route.origin, crate::stages::proxy::Origin::Environment(_)) {
        return err;
    }
    let mut proxy = None;
    let connect = err.chain().any(|cause| {
        cause.downcast_ref::<reqwest::Error>().is_some_and(|e| {
            proxy = e.url().and_then(|url| route.proxy_for(url));
            e.is_connect() && !is_proxy_auth_error(e) && proxy.is_some()
        })
    });
    // A refused CONNECT tunnel is the proxy's answer about the service, not a failure to reach it.
    let tunnel = err
        .chain()
        .any(|cause| cause.to_string().to_ascii_lowercase().contains("tunnel"));
    if !connect
        || tunnel
        || crate::core::error::exit_code(&err) != crate::core::error::ExitCode::Network
    {
        return err;
    }
    let shown = proxy.map_or_else(|| route.shown(), |p| redact(&p));
    err.context(crate::core::error::Error::Network(format!(
        "cannot connect to the proxy {shown} ({}; {}); the update service was not contacted",
        route.why(),
        route.how_to_change()
    )))
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
    let relayed = matches!(
        status,
        reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED | reqwest::StatusCode::BAD_GATEWAY
    );
    let message = if let Some((failure, _)) = crate::stages::proxy::failure().filter(|_| relayed) {
        format!("{failure}; {shown} was not reached")
    } else if status == reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED {
        format!(
            "the proxy refused the request to {shown} with 407: it wants credentials (give {} and {ENV_PROXY_PASSWORD}) or refused the ones given",
            proxy_user_flag()
        )
    } else {
        format!("{shown} answered {status}")
    };
    crate::core::error::Error::Network(message).into()
}

/// An HTTP error status as an attempt's end: retried when transient ([`is_transient_status`]).
pub fn status_attempt(status: reqwest::StatusCode, url: &str) -> Attempt {
    Attempt::new(status_error(status, url), is_transient_status(status))
}

impl BodyError {
    /// This failure as an attempt's end: a body too slow is retried (a download resumes), a
    /// transport error is sorted by `classify`.
    pub fn attempt(self, classify: impl FnOnce(reqwest::Error) -> Attempt) -> Attempt {
        match self {
            BodyError::Transport(err) => classify(err),
            BodyError::TooSlow(err) => Attempt::Retry(err),
        }
    }
}

/// A transport error as an [`Attempt`], with the wording an operator needs: a timeout names the
/// stated limit, a proxy that refused the tunnel says it wants credentials.
/// `net`, when given, lets the message state the limits that were used.
pub fn classify_error(err: reqwest::Error, url: &str, net: Option<&NetOptions>) -> Attempt {
    // Through the proxy relay, reqwest sees only the relay's refusal: say what the proxy did.
    if let Some((failure, transient)) = crate::stages::proxy::failure().filter(|_| err.is_connect())
    {
        let err = anyhow::Error::new(err).context(crate::core::error::Error::Network(failure));
        return Attempt::new(err, transient);
    }
    if is_proxy_auth_error(&err) {
        return Attempt::Fatal(anyhow::Error::new(err).context(status_error(
            reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            url,
        )));
    }
    // A proxy whose name does not resolve will not resolve on a retry either: said at once.
    let proxy_name_unknown = net.is_some_and(|n| n.proxy.is_some()) && is_dns_error(&err);
    let transient = is_transient_error(&err) && !proxy_name_unknown;
    let err = if err.is_timeout() {
        anyhow::Error::new(err).context(crate::core::error::Error::Network(match net {
            Some(net) => format!(
                "{} did not answer within {} s (the read timeout; the connect timeout is {} s{})",
                redact(url),
                net.read_timeout.as_secs_f64(),
                net.connect_timeout.as_secs_f64(),
                crate::core::setting::Setting::Timeout
                    .flag()
                    .map(|flag| format!("; change them with {flag}"))
                    .unwrap_or_default()
            ),
            None => format!("{} did not answer in time", redact(url)),
        }))
    } else {
        anyhow::Error::new(err)
    };
    let err = match net {
        Some(net) => name_the_proxy(err, net),
        None => err,
    };
    Attempt::new(err, transient)
}

/// True when a host name did not resolve (hyper's "dns error", on every system).
fn is_dns_error(err: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(cause) = source {
        if cause.to_string().to_ascii_lowercase().contains("dns error") {
            return true;
        }
        source = cause.source();
    }
    false
}

/// True when a proxy refused to open a tunnel for want of (valid) credentials.
pub fn is_proxy_auth_error(err: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(cause) = source {
        // hyper-util says "tunnel error: proxy authorization required"; older versions
        // "ProxyAuthRequired" or "proxy authentication required".
        let text = cause.to_string().to_ascii_lowercase();
        if text.contains("proxyauthrequired")
            || text.contains("proxy authorization required")
            || text.contains("proxy authentication required")
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The proxy password for `user`: `SCT_PROXY_PASSWORD`, else a prompt on the terminal.
///
/// Never taken from argv; registered with [`crate::core::logging::register_secret`] as soon as read,
/// so no log can show it. Without the variable and without a terminal this is a usage error.
pub fn proxy_password(user: &str) -> anyhow::Result<crate::core::secret::Secret> {
    if let Ok(password) = std::env::var(ENV_PROXY_PASSWORD) {
        crate::core::logging::register_secret(&password);
        return Ok(crate::core::secret::Secret::new(password));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(crate::core::error::Error::Usage(format!(
                "the proxy user {user} needs a password: set {ENV_PROXY_PASSWORD} (there is no terminal to ask on)"
            )).into());
    }
    let password = rpassword::prompt_password(format!("Proxy password for {user}: "))
        .context("Failed to read the proxy password from the terminal")?;
    let password = crate::core::secret::Secret::new(password);
    crate::core::logging::register_secret(password.expose());
    Ok(password)
}

/// The proxy user's flag in the running program (`--proxy-user`, or the wrapper's `-proxyusername`).
fn proxy_user_flag() -> &'static str {
    crate::core::setting::Setting::ProxyUser
        .flag()
        .unwrap_or("--proxy-user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_uri_with_a_password_is_refused() {
        let options = NetOptions {
            proxy: Some("http://bob:secret@proxy:3128".into()),
            ..NetOptions::default()
        };
        let err = client(&options).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains(ENV_PROXY_PASSWORD) && !text.contains("secret"),
            "{text}"
        );
        let options = NetOptions {
            proxy: Some("proxy.contoso.com:3128".into()),
            ..NetOptions::default()
        };
        assert!(client(&options).is_ok());
    }

    #[test]
    fn a_proxy_without_a_port_uses_80() {
        assert_eq!(
            proxy_url("itproxy.contoso.com"),
            "http://itproxy.contoso.com:80"
        );
        assert_eq!(
            proxy_url("itproxy.contoso.com:8080"),
            "http://itproxy.contoso.com:8080"
        );
        assert_eq!(proxy_url("http://10.0.0.1"), "http://10.0.0.1:80");
        assert_eq!(proxy_url("http://bob@proxy"), "http://bob@proxy:80");
        assert_eq!(proxy_url("https://proxy"), "https://proxy");
        let parsed = reqwest::Url::parse(&proxy_url("itproxy")).unwrap();
        assert_eq!(parsed.port_or_known_default(), Some(80));
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
