//! `sct-check`: every check the settings make possible, before a long download or an import
//! finds the problem. The checks are `crate::stages::check`; this module resolves the settings
//! (the same flags, variables and `sct.toml` keys the other stages take) and prints the result.

use crate::cli::{NetArgs, OperatorArgs, ViewArgs};
use crate::stages::check::{CheckOptions, CheckReport, Source};
use crate::stages::config::Config;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-check";

/// Check the ground before the job: the site database, inbox, pinned keys and log folder on the
/// site server; the usage cabs, the update service (DNS, TCP, TLS, HTTP), the proxy, the signed
/// catalog, the clock and the destination's room on the internet-connected machine; and where
/// every setting came from. Changes nothing. A table on a terminal, sct.check.v1 when piped.
#[derive(Parser, Debug)]
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES))]
pub struct Args {
    /// Site database, e.g. sqlite:/var/lib/sct/site.db [default: SCT_SITE, then sct.toml]
    #[arg(long, value_name = "LOCATOR")]
    pub site: Option<String>,
    /// The site's install folder [default: SCT_INSTALL_DIR, then sct.toml, then the site's own]
    #[arg(long, value_name = "DIR", value_parser = crate::core::paths::path_flag)]
    pub install_dir: Option<PathBuf>,
    /// Update service base URL [default: SCT_SERVICE_URL, then service_url in sct.toml]
    #[arg(long, value_name = "URL")]
    pub service_url: Option<String>,
    /// The usage cab, or folder of cabs, that sct-upload (-connect) would send.
    #[arg(long, value_name = "FILE|DIR", value_parser = crate::core::paths::path_flag)]
    pub usage_src: Option<PathBuf>,
    /// The update pack folder sct-fetch (-connect) would fill: checked for room.
    #[arg(long, value_name = "DIR", value_parser = crate::core::paths::path_flag)]
    pub dest: Option<PathBuf>,
    /// Which packs the room is counted for: latest, all, hotfix, siteversion.
    #[arg(long, default_value = "latest", value_name = "MODE")]
    pub mode: crate::core::select::DownloadMode,
    #[command(flatten)]
    pub trust: super::TrustArgs,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub view: ViewArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

const AFTER_HELP: &str = "\
Examples:
  sct-check                                     # on the site server: the settings in sct.toml
  sct-check --site sqlite:/var/lib/sct/site.db --install-dir /opt/cm
  sct-check --usage-src /media/usb --dest /media/usb/UpdatePacks --mode all
  sct-check --json | jq -r '.checks[] | select(.status == \"fail\") | .id'

A check the settings do not make possible is listed as skipped, with the setting it needs.";

/// The exit codes `sct-check` can end with: the class of the first failing check.
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (crate::core::error::ExitCode::Success, "no check failed"),
    (
        crate::core::error::ExitCode::Rejected,
        "the first failure: the catalog does not verify with the pinned keys, or is expired",
    ),
    (
        crate::core::error::ExitCode::Usage,
        "the first failure: a setting, or the machine's clock, is wrong",
    ),
    (
        crate::core::error::ExitCode::Io,
        "the first failure: the site database, inbox or drive (too small, read-only)",
    ),
    (
        crate::core::error::ExitCode::Network,
        "the first failure: the service, its certificate or the proxy",
    ),
];

/// The settings as given on a command line, before the environment and `sct.toml` fill the rest.
#[derive(Clone, Debug, Default)]
pub struct Given {
    pub site: Option<String>,
    pub install_dir: Option<PathBuf>,
    pub service_url: Option<String>,
    pub trusted_keys: Vec<String>,
    pub usage_src: Option<PathBuf>,
    pub dest: Option<PathBuf>,
    pub mode: crate::core::select::DownloadMode,
    pub net: crate::stages::http::NetOptions,
    /// The proxy and its user as given on the command line (`net` has them merged with sct.toml).
    pub proxy_flags: (Option<String>, Option<String>),
    /// The flag names of this program, for the `settings` check.
    pub flags: Flags,
}

/// How the running program spells its flags.
#[derive(Clone, Copy, Debug)]
pub struct Flags {
    pub site: &'static str,
    pub service_url: &'static str,
    pub trusted_key: &'static str,
    pub proxy: &'static str,
    pub proxy_user: &'static str,
    pub install_dir: &'static str,
}

impl Flags {
    /// `ServiceConnectionTool -check`: only the proxy has flags; the rest come from the
    /// environment or sct.toml.
    pub const WRAPPER: Flags = Flags {
        site: "",
        service_url: "",
        trusted_key: "",
        proxy: "-proxyserveruri",
        proxy_user: "-proxyusername",
        install_dir: "",
    };
}

impl Default for Flags {
    fn default() -> Self {
        Self {
            site: "--site",
            service_url: "--service-url",
            trusted_key: "--trusted-key",
            proxy: "--proxy",
            proxy_user: "--proxy-user",
            install_dir: "--install-dir",
        }
    }
}

/// Runs `sct-check`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = Config::load()?;
    let given = Given {
        site: args.site,
        install_dir: args.install_dir,
        service_url: args.service_url,
        trusted_keys: args.trust.trusted_keys,
        usage_src: args.usage_src,
        dest: args.dest,
        mode: args.mode,
        net: args.net.options(&config)?,
        proxy_flags: (args.net.proxy.clone(), args.net.proxy_user.clone()),
        flags: Flags::default(),
    };
    let report = check(given, config)?;
    print(&report, args.view.human())?;
    crate::stages::check::outcome(&report)
}

/// Resolves the settings and runs the checks (the wrapper's `-check` calls this too).
pub fn check(given: Given, config: Config) -> anyhow::Result<CheckReport> {
    let options = resolve(given, config)?;
    let report = crate::stages::check::run(&options);
    crate::core::logging::info(
        TOOL,
        format!(
            "{} checks, {} failed",
            report.checks.len(),
            report
                .checks
                .iter()
                .filter(|c| c.status == crate::stages::check::Status::Fail)
                .count()
        ),
    );
    Ok(report)
}

/// The report as a table (a person) or one sct.check.v1 document.
pub fn print(report: &CheckReport, human: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if human {
        crate::cli::readable::write_check_report(&mut out, report)
    } else {
        crate::core::document::write_pretty(out, report)
    }
}

/// The settings the checks use: each given one, else its variable, else `sct.toml`. A setting
/// set nowhere skips its checks; one set wrongly is a usage error, as in the stage that takes it.
fn resolve(given: Given, config: Config) -> anyhow::Result<CheckOptions> {
    let sources = sources(&given, &config);
    let site_set = sources[0].value.is_some();
    let site = match config.site_locator(given.site.as_deref()) {
        Ok(locator) => Some(locator),
        Err(_) if !site_set => None,
        Err(err) => return Err(err),
    };
    let service_url = match sources[1].value {
        Some(_) => Some(crate::stages::upload::resolve_service_url(
            given.service_url.as_deref(),
            &config,
        )?),
        None => None,
    };
    let net = match service_url {
        Some(_) => given.net.with_proxy_password()?,
        None => given.net,
    };
    let timeout = (net.connect_timeout + net.read_timeout).max(Duration::from_secs(5));
    Ok(CheckOptions {
        sources,
        site,
        install_dir: given.install_dir,
        trusted_key_flags: given.trusted_keys,
        service_url,
        usage_src: given.usage_src,
        dest: given.dest,
        mode: given.mode,
        timeout: timeout * 2,
        net,
        config,
    })
}

/// Where each setting came from; the site first and the service URL second ([`resolve`] reads them).
fn sources(given: &Given, config: &Config) -> Vec<Source> {
    let flags = given.flags;
    let keys = (!config.trusted_keys.is_empty()).then(|| config.trusted_keys.join(", "));
    let key_flags = (!given.trusted_keys.is_empty()).then(|| given.trusted_keys.join(", "));
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    vec![
        Source::find(
            "site",
            (flags.site, given.site.as_deref()),
            Some(crate::stages::config::ENV_SITE),
            config.site.clone(),
            config,
        ),
        Source::find(
            "service_url",
            (flags.service_url, given.service_url.as_deref()),
            Some(crate::stages::upload::ENV_SERVICE_URL),
            config.service_url.clone(),
            config,
        ),
        Source::find(
            "trusted_keys",
            (flags.trusted_key, key_flags.as_deref()),
            Some(crate::stages::config::ENV_TRUSTED_KEYS),
            keys,
            config,
        ),
        Source::find(
            "proxy",
            (flags.proxy, given.proxy_flags.0.as_deref()),
            None,
            config.proxy.clone(),
            config,
        ),
        Source::find(
            "proxy_user",
            (flags.proxy_user, given.proxy_flags.1.as_deref()),
            None,
            config.proxy_user.clone(),
            config,
        ),
        Source::find(
            "install_dir",
            (flags.install_dir, path(&given.install_dir).as_deref()),
            Some(crate::stages::import::ENV_INSTALL_DIR),
            path(&config.install_dir),
            config,
        ),
        Source::find(
            "log_dir",
            ("", None),
            Some(crate::core::logging::ENV_LOG_DIR),
            path(&config.log_dir),
            config,
        ),
    ]
}
