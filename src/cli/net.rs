//! The network flags `sct-upload` and `sct-fetch` share, so both stages take the same proxy,
//! CA, timeout and retry settings and refuse the same bad values.

use crate::core::error::Error;
use crate::stages::http::NetOptions;
use std::path::PathBuf;
use std::time::Duration;

/// Proxy, extra CA, timeout and retries. Add them to a stage's clap arguments with
/// `#[command(flatten)] net: NetArgs`, then call [`NetArgs::options`].
#[derive(clap::Args, Clone, Debug)]
pub struct NetArgs {
    /// Proxy URI: http://host:port, or host:port (port 80 when left out) [default: `proxy` in
    /// sct.toml]. Without any: on Windows this user's Internet Settings proxy, else
    /// HTTPS_PROXY/HTTP_PROXY/NO_PROXY (docs/proxy.md).
    #[arg(long, value_name = "URI")]
    pub proxy: Option<String>,
    /// Proxy user name; the password comes from SCT_PROXY_PASSWORD or a terminal prompt, never a flag.
    #[arg(long, value_name = "NAME")]
    pub proxy_user: Option<String>,
    /// CA certificate(s) (PEM) to trust instead of the system's roots: the service's certificate must
    /// chain to one of them, as with `curl --cacert`.
    #[arg(long, value_name = "PEM", value_parser = crate::core::paths::path_flag)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for a connection and for each read before giving up (a stalled server).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub timeout: f64,
    /// Retries of a transient failure (timeouts, resets, 5xx) per upload or file, with backoff
    /// 0.5 s, 1 s, 2 s, ...
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,
    /// Slowest download accepted, in bytes per second over --rate-window (0: no floor); a slower
    /// one is cut and retried, resuming where it stopped.
    #[arg(long, value_name = "BYTES", default_value_t = crate::stages::http::MinRate::DEFAULT.bytes_per_sec)]
    pub min_rate: u64,
    /// Seconds over which --min-rate is measured.
    #[arg(long, value_name = "SECS", default_value_t = crate::stages::http::MinRate::DEFAULT.window.as_secs_f64())]
    pub rate_window: f64,
}

impl NetArgs {
    /// The network options these flags give. The proxy password is not asked for here: a dry
    /// run needs none ([`NetOptions::with_proxy_password`] asks).
    pub fn options(&self, config: &crate::stages::config::Config) -> anyhow::Result<NetOptions> {
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            return Err(
                Error::Usage("--timeout must be a positive number of seconds".into()).into(),
            );
        }
        if !(self.rate_window > 0.0 && self.rate_window.is_finite()) {
            return Err(
                Error::Usage("--rate-window must be a positive number of seconds".into()).into(),
            );
        }
        let timeout = Duration::from_secs_f64(self.timeout);
        let (proxy, proxy_user) =
            config.proxy(self.proxy.as_deref(), self.proxy_user.as_deref())?;
        Ok(NetOptions {
            proxy,
            proxy_origin: config.proxy_origin(self.proxy.as_deref()),
            proxy_user,
            proxy_password: None,
            ca_file: self.ca_file.clone(),
            connect_timeout: timeout,
            read_timeout: timeout,
            retries: self.retries,
            min_rate: crate::stages::http::MinRate {
                bytes_per_sec: self.min_rate,
                window: Duration::from_secs_f64(self.rate_window),
            },
        })
    }
}
