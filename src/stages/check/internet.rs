//! The internet machine's checks, in the order a connection is made: the service's name resolves,
//! its port answers, its TLS certificate is trusted (naming the issuer a missing root would be),
//! the proxy is reached and takes the credentials, HTTP answers; then the published catalog
//! verifies with the pinned keys, the machine's clock agrees with the service's `Date`, and the
//! destination has room for what the selected mode would download.

mod tls;

use super::{CLOCK_TOLERANCE, Check, CheckOptions, Group, Status};
use crate::core::catalog::Catalog;
use crate::core::error::{ExitCode, exit_code};
use crate::stages::config::Config;
use crate::stages::http::{self, NetOptions};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

const IDS: &[&str] = &[
    "service.dns",
    "service.tcp",
    "service.tls",
    "proxy",
    "service.http",
    "catalog",
    "clock",
    "destination.room",
];

/// Everything the group needs, owned so it can run on its own thread.
struct Internet {
    config: Config,
    url: reqwest::Url,
    shown: String,
    net: NetOptions,
    key_flags: Vec<String>,
    usage_src: Option<PathBuf>,
    dest: Option<PathBuf>,
    mode: crate::core::select::DownloadMode,
}

pub(super) fn group(options: &CheckOptions) -> Group {
    let Some(service_url) = options.service_url.clone() else {
        let why = format!(
            "no update service is set ({}); not the internet-connected machine",
            options
                .config
                .how_to_give(crate::core::setting::Setting::ServiceUrl)
        );
        return Group {
            ids: IDS,
            work: Box::new(move || IDS.iter().map(|id| Check::skipped(id, &why)).collect()),
        };
    };
    let url = reqwest::Url::parse(&service_url);
    let mut net = options.net.clone();
    // A check asks once: retries would only make a stopped service take longer to report.
    net.retries = 0;
    let internet = url.map(|url| Internet {
        config: options.config.clone(),
        shown: crate::core::logging::redact_url(url.as_str()),
        url,
        net,
        key_flags: options.trusted_key_flags.clone(),
        usage_src: options.usage_src.clone(),
        dest: options.dest.clone(),
        mode: options.mode,
    });
    Group {
        ids: IDS,
        work: Box::new(move || match internet {
            Ok(internet) => internet.run(),
            Err(err) => vec![Check::fail(
                "service.dns",
                ExitCode::Usage,
                format!("`{service_url}` is not a URL: {err}"),
                "give the update service's base URL, as https://updates.contoso.com",
            )],
        }),
    }
}

/// What the HTTP request to the catalog answered.
struct Answer {
    status: reqwest::StatusCode,
    date: Option<String>,
}

impl Internet {
    fn catalog_url(&self) -> String {
        format!(
            "{}/catalog/{}",
            self.url.as_str().trim_end_matches('/'),
            crate::core::catalog::CATALOG_FILE
        )
    }

    fn run(self) -> Vec<Check> {
        let runtime = match crate::core::runtime::current_thread() {
            Ok(runtime) => runtime,
            Err(err) => {
                return vec![Check::fail(
                    "service.dns",
                    ExitCode::Io,
                    format!("{err:#}"),
                    "",
                )];
            }
        };
        runtime.block_on(self.run_async())
    }

    async fn run_async(self) -> Vec<Check> {
        let mut checks = Vec::new();
        let reached = match &self.net.proxy {
            Some(proxy) => {
                let why = format!(
                    "through the proxy {}: this machine does not connect to the service itself",
                    crate::core::logging::redact_url(&http::proxy_url(proxy))
                );
                for id in ["service.dns", "service.tcp", "service.tls"] {
                    checks.push(Check::skipped(id, &why));
                }
                None
            }
            None => Some(self.direct(&mut checks).await),
        };
        if reached == Some(false) {
            return self.rest_skipped(checks, "the service was not reached");
        }
        let answer = self.http(&mut checks).await;
        let Some(answer) = answer else {
            return self.rest_skipped(checks, "the service did not answer over HTTP");
        };
        let catalog = self.catalog(&mut checks).await;
        checks.push(clock(&answer, &self.shown));
        checks.push(self.room(catalog.as_ref()));
        checks
    }

    /// The checks after the first failure, skipped.
    fn rest_skipped(&self, mut checks: Vec<Check>, why: &str) -> Vec<Check> {
        for id in IDS {
            if !checks.iter().any(|c| c.id == *id) {
                checks.push(Check::skipped(id, why));
            }
        }
        checks
    }

    /// `service.dns`, `service.tcp` and, for HTTPS, the TLS handshake; false when the service
    /// cannot be reached at all.
    async fn direct(&self, checks: &mut Vec<Check>) -> bool {
        let host = self.url.host_str().unwrap_or_default().to_owned();
        let port = self.url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(err) => {
                checks.push(Check::fail(
                    "service.dns",
                    ExitCode::Network,
                    format!("{host} (of {}) does not resolve: {err}", self.shown),
                    "check the service URL and this machine's DNS servers",
                ));
                return false;
            }
        };
        let listed: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        checks.push(Check::ok(
            "service.dns",
            format!("{host} resolves to {}", listed.join(", ")),
        ));
        let connect = tokio::time::timeout(
            self.net.connect_timeout,
            tokio::net::TcpStream::connect(addrs.as_slice()),
        )
        .await;
        let stream = match connect {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                checks.push(unreachable(&host, port, &self.shown, &err.to_string()));
                return false;
            }
            Err(_) => {
                let waited = format!(
                    "no answer within {} s",
                    self.net.connect_timeout.as_secs_f64()
                );
                checks.push(unreachable(&host, port, &self.shown, &waited));
                return false;
            }
        };
        checks.push(Check::ok(
            "service.tcp",
            format!("{host}:{port} accepts connections"),
        ));
        if self.url.scheme() == "https" {
            let handshake = tls::handshake(stream, &host, self.net.read_timeout).await;
            checks.push(match handshake {
                Ok(seen) => Check::ok("service.tls", seen.describe(&host)),
                Err(err) => Check::fail(
                    "service.tls",
                    ExitCode::Network,
                    format!("the TLS handshake with {host}:{port} failed: {err:#}"),
                    "the service must offer TLS 1.2 or 1.3; on Windows Server enable TLS 1.2 for \
                     the system (SchUseStrongCrypto)",
                ),
            });
            if checks.last().is_some_and(|c| c.status == Status::Fail) {
                return false;
            }
        } else {
            checks.push(Check::warn(
                "service.tls",
                format!(
                    "{} is plain HTTP: nothing protects the upload in transit",
                    self.shown
                ),
                "use the service's https:// URL (packs and catalog are signed either way)",
            ));
        }
        true
    }

    /// `service.http` (and `proxy` when one is set): a GET of the catalog through the client
    /// every stage uses. A certificate the client refuses turns `service.tls` into a failure
    /// that names the issuer.
    async fn http(&self, checks: &mut Vec<Check>) -> Option<Answer> {
        let url = self.catalog_url();
        let shown = crate::core::logging::redact_url(&url);
        let client = match http::client(&self.net) {
            Ok(client) => client,
            Err(err) => {
                checks.push(Check::fail(
                    "service.http",
                    exit_code(&err),
                    format!("the HTTP client cannot be set up: {err:#}"),
                    "fix the --ca-file or proxy setting named above",
                ));
                return None;
            }
        };
        let sent = client.get(&url).send().await;
        if let Some(proxy) = &self.net.proxy {
            checks.push(self.proxy_check(proxy, &sent));
            if checks.last().is_some_and(|c| c.status == Status::Fail) {
                return None;
            }
        }
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                if tls::is_untrusted(&err) {
                    self.untrusted(checks).await;
                    return None;
                }
                let err = http::name_the_proxy(anyhow::Error::new(err), &self.net);
                checks.push(Check::fail(
                    "service.http",
                    ExitCode::Network,
                    format!("{shown} did not answer: {err:#}"),
                    "start the update service, or check the URL, firewall and proxy",
                ));
                return None;
            }
        };
        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .map(str::to_owned);
        if !status.is_success() {
            checks.push(Check::fail(
                "service.http",
                ExitCode::Network,
                format!("{shown} answered {status}"),
                "check that the service has published a catalog (sct-serve publish) and the URL",
            ));
            return None;
        }
        checks.push(Check::ok(
            "service.http",
            format!("{shown} answered {status}"),
        ));
        Some(Answer { status, date })
    }

    /// Turns `service.tls` into a failure naming the certificate's issuer and what `--ca-file`
    /// does (or, with one, that the issuer is not in it).
    async fn untrusted(&self, checks: &mut Vec<Check>) {
        let host = self.url.host_str().unwrap_or_default().to_owned();
        let port = self.url.port_or_known_default().unwrap_or(443);
        let seen = match tokio::net::TcpStream::connect((host.as_str(), port)).await {
            Ok(stream) => tls::handshake(stream, &host, self.net.read_timeout)
                .await
                .ok(),
            Err(_) => None,
        };
        let issuer = seen.as_ref().map_or_else(
            || "an unknown issuer".to_owned(),
            |s| format!("`{}`", s.issuer),
        );
        let (found, fix) = match &self.net.ca_file {
            Some(ca) => (
                format!(
                    "the certificate of {host} is issued by {issuer}, which is not one of the CAs in \
                     --ca-file `{}`",
                    ca.display()
                ),
                "give --ca-file the PEM of the CA that issued the service's certificate".to_owned(),
            ),
            None => (
                format!(
                    "the certificate of {host} is issued by {issuer}, which this machine does not \
                     trust (its root certificate is missing: \"fail to build chain\")"
                ),
                format!(
                    "install the root certificate of {issuer} in the machine's Trusted Root \
                     Certification Authorities, or give --ca-file with that CA's PEM: the \
                     service's certificate must then chain to a CA in that file"
                ),
            ),
        };
        // In its place, so the report keeps the order of docs/check.md.
        let failed = Check::fail("service.tls", ExitCode::Network, found, fix);
        match checks.iter_mut().find(|c| c.id == "service.tls") {
            Some(check) => *check = failed,
            None => checks.push(failed),
        }
    }

    /// `proxy`: the proxy was reached and took the credentials.
    fn proxy_check(&self, proxy: &str, sent: &Result<reqwest::Response, reqwest::Error>) -> Check {
        let shown = crate::core::logging::redact_url(&http::proxy_url(proxy));
        let user = self
            .net
            .proxy_user
            .as_deref()
            .map_or_else(|| "without credentials".to_owned(), |u| format!("as {u}"));
        let refused_auth = match sent {
            Ok(response) => response.status() == reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            Err(err) => http::is_proxy_auth_error(err),
        };
        if refused_auth {
            return Check::fail(
                "proxy",
                ExitCode::Network,
                format!("the proxy {shown} refused the request {user} (407)"),
                format!(
                    "give the proxy user (--proxy-user, -proxyusername) and its password in {}",
                    http::ENV_PROXY_PASSWORD
                ),
            );
        }
        let unreached = match sent {
            Err(err) if err.is_connect() && !is_tunnel(err) => Some(chain_text(err)),
            _ => None,
        };
        match unreached {
            Some(why) => Check::fail(
                "proxy",
                ExitCode::Network,
                format!("the proxy {shown} cannot be reached: {why}"),
                "check the proxy address and port (--proxy, -proxyserveruri, proxy in sct.toml)",
            ),
            None => Check::ok("proxy", format!("the proxy {shown} was reached {user}")),
        }
    }

    /// `catalog`: the published catalog verifies with the pinned keys, is not expired and is
    /// not signed for longer than the validity ceiling.
    async fn catalog(&self, checks: &mut Vec<Check>) -> Option<Catalog> {
        let url = self.catalog_url();
        let shown = crate::core::logging::redact_url(&url);
        let trusted = match self.config.trusted_keys(&self.key_flags) {
            Ok(keys) => keys,
            Err(_) => {
                checks.push(Check::skipped(
                    "catalog",
                    "no usable pinned key to verify it with (see keys.pinned)",
                ));
                return None;
            }
        };
        let fetched = async {
            let client = http::client(&self.net)?;
            let fetched =
                crate::stages::remote::fetch_catalog(&client, &url, &trusted, &self.net).await?;
            fetched
                .catalog
                .check_validity_window(&self.config.validity_ceiling()?)?;
            anyhow::Ok(fetched.catalog)
        }
        .await;
        match fetched {
            Ok(catalog) => {
                let keys: Vec<String> = trusted.iter().map(|k| k.key_id()).collect();
                checks.push(Check::ok(
                    "catalog",
                    format!(
                        "{shown}: version {}, {} packs, verified with the pinned key(s) {}, \
                         expires {}",
                        catalog.version,
                        catalog.packs.len(),
                        keys.join(", "),
                        catalog.expires_at
                    ),
                ));
                Some(catalog)
            }
            Err(err) => {
                let keys: Vec<String> = trusted.iter().map(|k| k.key_id()).collect();
                checks.push(Check::fail(
                    "catalog",
                    exit_code(&err),
                    format!(
                        "{shown} was refused (pinned key(s) {}): {err:#}",
                        keys.join(", ")
                    ),
                    "pin the key the service signs with (ask its operator for sct-serve's public \
                     key), or have the service publish a fresh catalog",
                ));
                None
            }
        }
    }

    /// `destination.room`: the destination's drive holds what the selected mode would download.
    fn room(&self, catalog: Option<&Catalog>) -> Check {
        let (Some(dest), Some(src)) = (&self.dest, &self.usage_src) else {
            return Check::skipped(
                "destination.room",
                "needs the update pack folder and the usage cabs (--dest and --usage-src; -updatepackdest and -usagedatasrc with -check)",
            );
        };
        let Some(catalog) = catalog else {
            return Check::skipped("destination.room", "the catalog did not verify");
        };
        let reports = match super::usage::read(src) {
            Ok(reports) => reports,
            Err(_) => return Check::skipped("destination.room", "the usage cabs are not usable"),
        };
        let versions: Vec<_> = reports.iter().map(|r| r.full_version).collect();
        let need = plan_bytes(catalog, &versions, self.mode, dest);
        let Some(existing) = nearest_folder(dest) else {
            return Check::fail(
                "destination.room",
                ExitCode::Io,
                format!("no folder of `{}` exists", dest.display()),
                "plug in the drive, or give an update pack folder on an existing drive",
            );
        };
        let free = match crate::core::space::available(&existing) {
            Ok(free) => free,
            Err(err) => {
                return Check::warn(
                    "destination.room",
                    format!(
                        "the free space on `{}` is unknown: {err}",
                        existing.display()
                    ),
                    "",
                );
            }
        };
        let mode = self.mode.name();
        if need.bytes > free {
            return Check::fail(
                "destination.room",
                ExitCode::Io,
                format!(
                    "`{}` has {free} bytes free, but the {mode} selection ({} packs) needs {} bytes",
                    dest.display(),
                    need.packs,
                    need.bytes
                ),
                "free space on the drive, or use a larger one",
            );
        }
        Check::ok(
            "destination.room",
            format!(
                "`{}` has {free} bytes free; the {mode} selection ({} packs) needs {} bytes",
                dest.display(),
                need.packs,
                need.bytes
            ),
        )
    }
}

/// What a fetch would still download.
struct Need {
    packs: usize,
    bytes: u64,
}

/// The bytes of the packs `mode` selects for these site versions that `dest` does not hold yet,
/// as `sct-fetch` counts them.
fn plan_bytes(
    catalog: &Catalog,
    versions: &[crate::core::version::CmVersion],
    mode: crate::core::select::DownloadMode,
    dest: &Path,
) -> Need {
    let mut guids = Vec::new();
    for version in versions {
        for guid in crate::core::select::select_guids(catalog, version, mode) {
            if !guids.contains(&guid) {
                guids.push(guid);
            }
        }
    }
    let packdir = crate::core::packdir::PackDir::new(dest);
    let bytes = guids
        .iter()
        .filter_map(|guid| catalog.pack(guid))
        .map(|pack| crate::stages::fetch::missing_bytes(&packdir, pack))
        .sum();
    Need {
        packs: guids.len(),
        bytes,
    }
}

/// `dir` or its nearest existing ancestor (a fetch creates the folder).
fn nearest_folder(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    absolute
        .ancestors()
        .find(|d| d.is_dir())
        .map(Path::to_owned)
}

/// `service.tcp` failed.
fn unreachable(host: &str, port: u16, shown: &str, why: &str) -> Check {
    Check::fail(
        "service.tcp",
        ExitCode::Network,
        format!("nothing answers on {host}:{port} (of {shown}): {why}"),
        "start the update service, or check the URL's port and any firewall in between",
    )
}

/// `clock`: this machine's clock against the service's `Date` header.
fn clock(answer: &Answer, shown: &str) -> Check {
    let Some(date) = &answer.date else {
        return Check::skipped(
            "clock",
            format!("{shown} sent no Date header ({})", answer.status),
        );
    };
    // An HTTP date is an RFC 2822 date in GMT (RFC 9110 section 5.6.7).
    let parser = jiff::fmt::rfc2822::DateTimeParser::new();
    let Ok(theirs) = parser.parse_timestamp(date) else {
        return Check::skipped(
            "clock",
            format!("the service's Date `{date}` is not a date"),
        );
    };
    let ours = crate::core::clock::now();
    let skew = ours.duration_since(theirs);
    let seconds = skew.as_secs().abs();
    let found = format!(
        "this machine's clock reads {}, the service's {theirs}: {} s {}",
        ours.round(jiff::Unit::Second).unwrap_or(ours),
        seconds,
        if skew.is_negative() {
            "behind"
        } else {
            "ahead"
        }
    );
    if seconds as u64 > CLOCK_TOLERANCE.as_secs() {
        return Check::fail(
            "clock",
            ExitCode::Usage,
            found,
            format!(
                "set the clock right (w32tm /resync, or timedatectl): catalog expiry is judged by \
                 it; more than {} minutes off fails",
                CLOCK_TOLERANCE.as_secs() / 60
            ),
        );
    }
    Check::ok("clock", found)
}

/// True when a transport error is a refused CONNECT tunnel: the proxy answered.
fn is_tunnel(err: &reqwest::Error) -> bool {
    chain_text(err).to_ascii_lowercase().contains("tunnel")
}

/// An error and its causes as one line.
fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}
