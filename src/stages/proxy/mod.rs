//! Which proxy a request goes through, and why: the choice every run logs.
//!
//! The order, first found wins: the proxy flag (`-proxyserveruri`, `--proxy`), `proxy` in
//! `sct.toml`, on Windows this user's Internet Settings proxy ([`system`]), then the
//! environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, with `NO_PROXY`), else none.
//! docs/proxy.md shows the same order to operators.

pub mod auth;
pub mod ntlm;
pub mod relay;
pub mod system;

use crate::core::logging::redact_url as redact;
use crate::stages::http::{NetOptions, proxy_url};
use system::InternetSettings;

/// Where the proxy setting came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// The proxy flag of the running program.
    #[default]
    Flag,
    /// `proxy` in `sct.toml`.
    ConfigFile,
    /// This user's Internet Settings (Windows).
    System,
    /// The named environment variable.
    Environment(&'static str),
}

/// The environment variables that name a proxy, in the order they are looked at.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The proxy setting in force and the rule for which URLs bypass it.
#[derive(Clone, Debug)]
pub struct Route {
    pub origin: Origin,
    rules: Rules,
}

#[derive(Clone, Debug)]
enum Rules {
    /// One proxy for every URL; `NO_PROXY` names the exceptions.
    Fixed(String),
    /// The Internet Settings: a proxy per protocol, `ProxyOverride` the exceptions.
    System(InternetSettings),
    /// The environment, applied by the HTTP client itself (`NO_PROXY` the exceptions).
    Environment,
}

/// The proxy setting in force for these options, by the order in the module documentation.
pub fn choose(net: &NetOptions) -> Option<Route> {
    if let Some(proxy) = &net.proxy {
        let rules = Rules::Fixed(proxy_url(proxy));
        return Some(Route {
            origin: net.proxy_origin,
            rules,
        });
    }
    if let Some(settings) = system::read() {
        return Some(Route {
            origin: Origin::System,
            rules: Rules::System(settings),
        });
    }
    environment_variable().map(|name| Route {
        origin: Origin::Environment(name),
        rules: Rules::Environment,
    })
}

/// The first proxy variable that is set and not empty.
fn environment_variable() -> Option<&'static str> {
    PROXY_VARIABLES
        .into_iter()
        .find(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}

/// `NO_PROXY` (or `no_proxy`), empty when unset.
fn no_proxy_variable() -> String {
    ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .unwrap_or_default()
}

impl Route {
    /// The proxy (as a URL) that `url` goes through, `None` when its exceptions send it direct.
    pub fn proxy_for(&self, url: &reqwest::Url) -> Option<String> {
        let matcher = match &self.rules {
            Rules::Fixed(proxy) => hyper_util::client::proxy::matcher::Matcher::builder()
                .all(proxy.clone())
                .no(no_proxy_variable())
                .build(),
            Rules::Environment => hyper_util::client::proxy::matcher::Matcher::from_env(),
            Rules::System(settings) => {
                let host = url.host_str()?;
                let port = url.port_or_known_default()?;
                let server = settings.server_for(url.scheme())?;
                return (!settings.bypasses(host, port)).then(|| proxy_url(server));
            }
        };
        let uri = url.as_str().parse::<axum::http::Uri>().ok()?;
        matcher
            .intercept(&uri)
            .map(|found| found.uri().to_string().trim_end_matches('/').to_owned())
    }

    /// The proxy as the HTTP client takes it, or `None` when the client applies the
    /// environment itself.
    pub fn client_proxy(&self) -> anyhow::Result<Option<reqwest::Proxy>> {
        use anyhow::Context;
        match &self.rules {
            Rules::Fixed(uri) => {
                let proxy = reqwest::Proxy::all(uri)
                    .with_context(|| format!("`{}` is not a proxy URI", redact(uri)))?;
                // An explicit proxy turns off the client's HTTP(S)_PROXY handling; keep NO_PROXY.
                Ok(Some(proxy.no_proxy(reqwest::NoProxy::from_env())))
            }
            Rules::System(_) => {
                let route = self.clone();
                Ok(Some(reqwest::Proxy::custom(move |url| {
                    route
                        .proxy_for(url)
                        .and_then(|p| reqwest::Url::parse(&p).ok())
                })))
            }
            Rules::Environment => Ok(None),
        }
    }

    /// True when credentials for this proxy go through the relay: always, except for a proxy
    /// from the environment (which reqwest applies itself, with the credentials in its URL).
    pub fn takes_relay(&self) -> bool {
        !matches!(self.rules, Rules::Environment)
    }

    /// The proxy as the HTTP client takes it when `relay` answers the real proxy: every URL this
    /// route sends to a proxy goes to the relay, with the relay's token.
    pub fn through_relay(&self, relay: &relay::Relay) -> reqwest::Proxy {
        let route = self.clone();
        let relay_url = reqwest::Url::parse(&relay.url).ok();
        reqwest::Proxy::custom(move |url| route.proxy_for(url).and(relay_url.clone()))
            .basic_auth("sct", relay.token.expose())
    }

    /// The proxy named for people: one URL, or the per-protocol pair of the Internet Settings.
    pub fn shown(&self) -> String {
        match &self.rules {
            Rules::Fixed(uri) => redact(uri),
            Rules::System(settings) => match (&settings.http, &settings.https) {
                (Some(http), Some(https)) if http == https => redact(&proxy_url(http)),
                (http, https) => format!(
                    "{} for http, {} for https",
                    http.as_deref()
                        .map_or("none".into(), |p| redact(&proxy_url(p))),
                    https
                        .as_deref()
                        .map_or("none".into(), |p| redact(&proxy_url(p)))
                ),
            },
            Rules::Environment => match self.origin {
                Origin::Environment(name) => std::env::var(name)
                    .map(|value| redact(&value))
                    .unwrap_or_default(),
                _ => String::new(),
            },
        }
    }

    /// Why this proxy: where the setting came from, and what is exempt.
    pub fn why(&self) -> String {
        match (&self.origin, &self.rules) {
            (Origin::System, Rules::System(settings)) => format!(
                "from this user's Internet Settings, HKCU\\{}; ProxyOverride: {}",
                system::KEY,
                if settings.overrides.is_empty() {
                    "none"
                } else {
                    &settings.overrides
                }
            ),
            (Origin::Environment(name), _) => format!("from {name}; NO_PROXY applies"),
            (Origin::ConfigFile, _) => "from `proxy` in sct.toml".to_owned(),
            _ => format!("from {}", proxy_flag()),
        }
    }

    /// Where an operator changes this proxy.
    pub fn how_to_change(&self) -> String {
        match self.origin {
            Origin::System => format!(
                "check the proxy in Internet Options (the Internet Settings of this user), or give one with {}",
                proxy_flag()
            ),
            Origin::Environment(name) => {
                format!("check {name}, or give a proxy with {}", proxy_flag())
            }
            _ => format!("check {} or `proxy` in sct.toml", proxy_flag()),
        }
    }
}

/// The proxy flag of the running program (`--proxy`, or the wrapper's `-proxyserveruri`).
fn proxy_flag() -> &'static str {
    crate::core::setting::Setting::Proxy
        .flag()
        .unwrap_or("--proxy")
}

/// Logs which proxy this run uses and why (flag, sct.toml, the Windows setting, the environment,
/// or none), in the original's words where it has them.
pub fn log_choice(component: &str, net: &NetOptions) {
    use crate::core::logging::{self, vocabulary};
    let Some(route) = choose(net) else {
        let windows = if cfg!(windows) {
            ", no proxy in this user's Internet Settings"
        } else {
            ""
        };
        logging::info(
            component,
            format!(
                "{} (no {}, no `proxy` in sct.toml{windows}, no HTTPS_PROXY, HTTP_PROXY or ALL_PROXY)",
                vocabulary::no_proxy(),
                proxy_flag()
            ),
        );
        return;
    };
    let user = net
        .proxy_user
        .as_deref()
        .map_or(String::new(), |u| format!(" as user {u}"));
    logging::info(
        component,
        format!(
            "{}{user} ({})",
            vocabulary::using_proxy(&route.shown()),
            route.why()
        ),
    );
}

/// The last failure of the proxy relay, for the error the HTTP client's caller reports (reqwest
/// sees only the relay's 407 or 502). Cleared by the next request that gets through.
static FAILURE: std::sync::Mutex<Option<relay::Failure>> = std::sync::Mutex::new(None);

fn set_failure(failure: Option<relay::Failure>) {
    *FAILURE.lock().unwrap_or_else(|e| e.into_inner()) = failure;
}

/// The relay's last failure in the operator's terms, and whether a retry may fix it.
pub fn failure() -> Option<(String, bool)> {
    let failure = FAILURE.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
    Some(describe(&failure))
}

/// A relay failure as a sentence naming the proxy, the scheme and what to do.
fn describe(failure: &relay::Failure) -> (String, bool) {
    use auth::Refusal;
    use relay::Failure;
    let user_flag = crate::core::setting::Setting::ProxyUser
        .flag()
        .unwrap_or("--proxy-user");
    let password = crate::stages::http::ENV_PROXY_PASSWORD;
    match failure {
        Failure::Unreachable { proxy, why } => (
            format!(
                "cannot connect to the proxy {} ({why}); the update service was not contacted",
                redact(proxy)
            ),
            true,
        ),
        Failure::Broken { proxy, why } => (
            format!(
                "the proxy {} broke off the authentication: {why}",
                redact(proxy)
            ),
            true,
        ),
        Failure::Refused { proxy, refusal } => {
            let proxy = redact(proxy);
            let text = match refusal {
                Refusal::Refused { scheme } => format!(
                    "the proxy {proxy} answered 407 again: it refused the credentials given ({} authentication); check the user name ({user_flag}) and the password in {password}",
                    scheme.name()
                ),
                Refusal::Unsupported { offered } => format!(
                    "the proxy {proxy} asks for {} authentication, which sct cannot answer (it answers NTLM, Digest and Basic); ask the proxy's administrators for one of those, or for an exception for the update service",
                    offered.join(" or ")
                ),
                Refusal::NoChallenge => format!(
                    "the proxy {proxy} answered 407 (credentials wanted) without naming any authentication scheme"
                ),
            };
            (text, false)
        }
    }
}
