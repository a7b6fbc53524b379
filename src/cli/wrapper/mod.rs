//! `ServiceConnectionTool`: the original tool's command line, so existing runbooks work unchanged.
//!
//! Flags are single-dash and case-insensitive, as on Windows (`-Prepare -UsageDataDest D:\USB\UsageData.cab`).
//! The whole line is parsed and checked before anything runs, so a usage error writes nothing.

use crate::cli::args::wrapper::TOOL;
use crate::core::error::Error;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

mod terminal;

/// Which updates `-connect` downloads (defined with the selection rules in [`crate::core::select`]).
pub use crate::core::select::DownloadMode;

/// One phase of the original tool, with its checked arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    Prepare {
        usage_data_dest: PathBuf,
    },
    Export {
        dest: PathBuf,
    },
    Connect {
        usage_data_src: PathBuf,
        update_pack_dest: PathBuf,
        proxy_server_uri: Option<String>,
        proxy_user_name: Option<String>,
        mode: DownloadMode,
        /// `-volumesize` (an addition to the original's flags): lay the download out as volumes.
        volume_size: Option<u64>,
    },
    Import {
        update_pack_src: PathBuf,
    },
    /// `-import -status` (an addition to the original): what the console will show, and why a
    /// pack is not ready; with -updatepacksrc, the inbox is checked against that folder's catalog.
    Status {
        update_pack_src: Option<PathBuf>,
    },
    /// `-check` (an addition to the original): every check the settings make possible; on the
    /// internet machine with -connect's flags, all optional.
    Check {
        usage_data_src: Option<PathBuf>,
        update_pack_dest: Option<PathBuf>,
        proxy_server_uri: Option<String>,
        proxy_user_name: Option<String>,
        mode: DownloadMode,
    },
    Help,
    Version,
}

/// Flags that take a value, and the phase they belong to.
const VALUE_FLAGS: &[(&str, &str)] = &[
    ("usagedatadest", "prepare"),
    ("dest", "export"),
    ("usagedatasrc", "connect"),
    ("updatepackdest", "connect"),
    ("proxyserveruri", "connect"),
    ("proxyusername", "connect"),
    ("volumesize", "connect"),
    ("updatepacksrc", "import"),
];

/// Switches: the phases, the download modes (which belong to -connect), help and version.
const PHASES: &[&str] = &["prepare", "export", "connect", "import", "check"];
const MODES: &[(&str, DownloadMode)] = &[
    ("downloadall", DownloadMode::All),
    ("downloadhotfix", DownloadMode::Hotfix),
    ("downloadsiteversion", DownloadMode::SiteVersion),
];

fn usage(message: impl Into<String>) -> anyhow::Error {
    Error::Usage(format!(
        "{} (run ServiceConnectionTool -help for the flags)",
        message.into()
    ))
    .into()
}

/// A flag as typed (`-UsageDataDest`, `--usagedatadest`) → its lowercase name, or `None` for a value.
fn flag_name(arg: &str) -> Option<String> {
    let name = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    if name.is_empty() {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// A checked command line: the phase, and whether `-json` asked for JSON on a terminal too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub phase: Phase,
    pub json: bool,
}

/// Parses and checks the original command line (without the program name).
pub fn parse(args: &[OsString]) -> anyhow::Result<Phase> {
    parse_line(args).map(|line| line.phase)
}

/// [`parse`], with the switches that are not a phase's (`-json`).
pub fn parse_line(args: &[OsString]) -> anyhow::Result<Line> {
    let mut json = false;
    let mut status = false;
    let mut phase: Option<String> = None;
    let mut mode: Option<(String, DownloadMode)> = None;
    let mut values: Vec<(String, String)> = Vec::new();
    let mut iter = args.iter();
    while let Some(raw) = iter.next() {
        let arg = raw.to_str().ok_or_else(|| {
            usage(format!(
                "argument `{}` is not valid Unicode",
                raw.to_string_lossy()
            ))
        })?;
        if crate::cli::is_windows_help(arg) {
            return Ok(Line::of(Phase::Help));
        }
        let Some(name) = flag_name(arg) else {
            return Err(usage(format!(
                "unexpected argument `{arg}`: values follow their flag, as in -usagedatadest D:\\USB\\UsageData.cab"
            )));
        };
        match name.as_str() {
            "help" | "?" | "h" => return Ok(Line::of(Phase::Help)),
            "version" => return Ok(Line::of(Phase::Version)),
            "json" => {
                json = true;
                continue;
            }
            "status" => {
                status = true;
                continue;
            }
            _ => {}
        }
        if PHASES.contains(&name.as_str()) {
            if let Some(previous) = &phase {
                return Err(usage(format!(
                    "-{previous} and -{name} cannot run together: give one phase"
                )));
            }
            phase = Some(name);
        } else if let Some((_, m)) = MODES.iter().find(|(n, _)| *n == name) {
            if let Some((previous, _)) = &mode {
                return Err(usage(format!(
                    "-{previous} and -{name} cannot be combined: give at most one download mode"
                )));
            }
            mode = Some((name, *m));
        } else if VALUE_FLAGS.iter().any(|(n, _)| *n == name) {
            let value = iter
                .next()
                .and_then(|v| v.to_str())
                .filter(|v| flag_name(v).is_none_or(|n| !is_known(&n)))
                .ok_or_else(|| usage(format!("-{name} needs a value")))?;
            if values.iter().any(|(n, _)| *n == name) {
                return Err(usage(format!("-{name} is given twice")));
            }
            values.push((name, value.to_owned()));
        } else {
            return Err(usage(format!("unknown flag `{arg}`")));
        }
    }
    let Some(phase) = phase else {
        return Err(usage(
            "no phase given: use -prepare, -connect, -import, -export or -check",
        ));
    };
    for (name, _) in &values {
        let owner = VALUE_FLAGS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .unwrap_or("");
        // -check takes -connect's flags, to check what that -connect would need.
        if owner != phase && !(phase == "check" && owner == "connect") {
            return Err(usage(format!("-{name} belongs to -{owner}, not -{phase}")));
        }
    }
    if let Some((name, _)) = &mode
        && phase != "connect"
        && phase != "check"
    {
        return Err(usage(format!("-{name} belongs to -connect, not -{phase}")));
    }
    if status && phase != "import" {
        return Err(usage(format!("-status belongs to -import, not -{phase}")));
    }
    let take = |name: &str| {
        values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let need = |name: &str| take(name).ok_or_else(|| usage(format!("-{phase} needs -{name}")));
    // Checked like every stage's path flags (crate::core::paths::path_flag), naming the flag.
    let path = |name: &str| {
        let value = need(name)?;
        crate::core::paths::path_flag(&value)
            .map_err(|why| usage(format!("-{name} `{value}`: {why}")))
    };
    let optional_path = |name: &str| match take(name) {
        Some(_) => path(name).map(Some),
        None => Ok(None),
    };
    let phase = match phase.as_str() {
        "import" if status => Phase::Status {
            update_pack_src: optional_path("updatepacksrc")?,
        },
        "check" => Phase::Check {
            usage_data_src: optional_path("usagedatasrc")?,
            update_pack_dest: optional_path("updatepackdest")?,
            proxy_server_uri: take("proxyserveruri"),
            proxy_user_name: take("proxyusername"),
            mode: mode.map(|(_, m)| m).unwrap_or_default(),
        },
        "prepare" => Phase::Prepare {
            usage_data_dest: path("usagedatadest")?,
        },
        "export" => Phase::Export {
            dest: path("dest")?,
        },
        "connect" => Phase::Connect {
            usage_data_src: path("usagedatasrc")?,
            update_pack_dest: path("updatepackdest")?,
            proxy_server_uri: take("proxyserveruri"),
            proxy_user_name: take("proxyusername"),
            mode: mode.map(|(_, m)| m).unwrap_or_default(),
            volume_size: take("volumesize")
                .map(|v| {
                    crate::stages::span::size::parse(&v)
                        .map_err(|why| usage(format!("-volumesize: {why}")))
                })
                .transpose()?,
        },
        _ => Phase::Import {
            update_pack_src: path("updatepacksrc")?,
        },
    };
    Ok(Line { phase, json })
}

impl Line {
    fn of(phase: Phase) -> Self {
        Self { phase, json: false }
    }
}

fn is_known(name: &str) -> bool {
    PHASES.contains(&name)
        || MODES.iter().any(|(n, _)| *n == name)
        || VALUE_FLAGS.iter().any(|(n, _)| *n == name)
        || matches!(name, "help" | "?" | "h" | "version" | "json" | "status")
}

/// The wrapper's help text, with the original's example command lines.
pub const HELP: &str = "\
ServiceConnectionTool - the Configuration Manager service connection tool, re-implemented by sct

Usage:
  ServiceConnectionTool -prepare -usagedatadest FILE.cab
  ServiceConnectionTool -export -dest FILE.csv
  ServiceConnectionTool -connect -usagedatasrc FILE|DIR -updatepackdest DIR
                        [-proxyserveruri HOST[:PORT]] [-proxyusername NAME]
                        [-downloadall | -downloadhotfix | -downloadsiteversion]
                        [-volumesize SIZE]
  ServiceConnectionTool -import -updatepacksrc DIR
  ServiceConnectionTool -import -status [-updatepacksrc DIR]
  ServiceConnectionTool -check [-usagedatasrc FILE|DIR] [-updatepackdest DIR] [-connect's other flags]
  Any phase takes -json: JSON on stdout even on a terminal.

Phases:
  -prepare   on the service connection point: put the site's usage data into a cab file
  -export    on the service connection point: write the same usage data as CSV to review it
  -connect   on a computer with internet access: upload usage cabs, download update packs
  -import    on the service connection point: bring downloaded update packs into the site
  -import -status  (an addition to the original) what the console will show: each update pack
             the site lists, its state, its inbox folder, and why it is not ready to install
  -check     on either machine, before the others (an addition to the original): check the
             site database, inbox, keys, service, certificate, proxy, catalog, clock and the
             drive's room, and say which setting came from where; changes nothing

-volumesize SIZE (4.7GB, 16GiB, ...; not in the original tool) lays the downloaded folder out, after
the download, as DIR.Volumes\\Volume01, Volume02, ... of at most SIZE bytes each, for discs or small
drives; each volume verifies and imports alone (-import -updatepacksrc E:\\Volume02).

Flags are case-insensitive and start with one dash, as on Windows. On a terminal the tool prints
what it did, pack by pack, on stderr; stdout carries JSON when it is piped, or with -json.

Settings: an environment variable, else the key in sct.toml beside the tool (or the file named
by SCT_CONFIG):
  SCT_SITE             site             site database, e.g. sqlite:C:/sct/site.db or
                                        Server=sql01;Database=CM_PS1 (-prepare, -export, -import)
  SCT_SITE_PASSWORD                     SQL Server password for a site string with a User Id
                                        (else asked on a terminal; never a flag)
  SCT_INSTALL_DIR      install_dir      the site's install folder (-import) [default: the one
                                        the site database records]
  SCT_SERVICE_URL      service_url      update service base URL (-connect)
  SCT_SERVICE_TOKEN                     token for an update service that asks for one (-connect)
  SCT_ALLOW_CLEAR_TEXT_TOKEN            1 to send that token over http:// to another machine,
                                        where anyone on the way can read it (else refused)
  SCT_TRUSTED_KEYS     trusted_keys     pinned catalog signing keys, ed25519:... (-connect, -import)
                       proxy            proxy when -proxyserveruri is not given, HOST[:PORT]
                       proxy_user       proxy user when -proxyusername is not given
  SCT_PROXY_PASSWORD                    proxy password (else asked on a terminal; never a flag)
  SCT_LOG_DIR          log_dir          folder for ServiceConnectionTool.log and ConfigMgrSetup.log
A proxy without a port uses port 80. Without -proxyserveruri or proxy: this user's Internet
Settings proxy (Windows), else HTTPS_PROXY/HTTP_PROXY. The proxy's NTLM, Digest or Basic challenge
is answered (docs/proxy.md).

Examples:
  ServiceConnectionTool.exe -prepare -usagedatadest D:\\USB\\UsageData.cab
  ServiceConnectionTool.exe -export -dest D:\\USB\\usagedata.csv
  ServiceConnectionTool.exe -connect -usagedatasrc D:\\USB\\ -updatepackdest D:\\USB\\UpdatePacks
  ServiceConnectionTool.exe -connect -usagedatasrc D:\\USB\\Usagedata.cab -updatepackdest D:\\USB\\UpdatePacks -proxyserveruri itproxy.contoso.com -proxyusername jqpublic
  ServiceConnectionTool.exe -connect -downloadsiteversion -usagedatasrc D:\\USB -updatepackdest D:\\USB\\UpdatePacks
  ServiceConnectionTool.exe -import -updatepacksrc D:\\USB\\UpdatePacks
  ServiceConnectionTool.exe -check -usagedatasrc D:\\USB\\ -updatepackdest D:\\USB\\UpdatePacks
";

/// `-connect`'s checked arguments.
#[derive(Clone, Debug)]
pub struct ConnectRequest {
    pub usage_data_src: PathBuf,
    pub update_pack_dest: PathBuf,
    pub proxy_server_uri: Option<String>,
    pub proxy_user_name: Option<String>,
    pub mode: DownloadMode,
}

/// The upload half of `-connect`: usage cabs in, one offer per hierarchy out, on the runtime the
/// fetch then runs on too.
pub type UploadSeam<'a> = dyn Fn(
        &tokio::runtime::Runtime,
        &ConnectRequest,
        &crate::stages::http::NetOptions,
        &crate::stages::config::Config,
    ) -> anyhow::Result<Vec<crate::core::offer::Offer>>
    + 'a;

/// `-connect`: upload the usage data, then fetch what the service offers, in one process.
///
/// Everything local is resolved first (trusted keys, proxy password, destination), so a usage
/// error sends nothing. `upload` is the seam to `sct-upload`'s library entry.
pub fn connect(
    request: &ConnectRequest,
    config: &crate::stages::config::Config,
    upload: &UploadSeam<'_>,
    on_event: &mut dyn FnMut(&crate::stages::fetch::FetchEvent) -> anyhow::Result<()>,
) -> anyhow::Result<crate::stages::fetch::FetchSummary> {
    let (proxy, proxy_user) = config.proxy(
        request.proxy_server_uri.as_deref(),
        request.proxy_user_name.as_deref(),
    )?;
    let net = crate::stages::http::NetOptions {
        proxy,
        proxy_origin: config.proxy_origin(request.proxy_server_uri.as_deref()),
        proxy_user,
        ..Default::default()
    }
    .with_proxy_password()?;
    let options = crate::stages::fetch::FetchOptions {
        dest: request.update_pack_dest.clone(),
        mode: request.mode,
        jobs: crate::stages::fetch::DEFAULT_JOBS,
        net: net.clone(),
        trusted: config.trusted_keys(&[])?,
        progress: true,
        validity: config.validity_ceiling()?,
        max_timestamp_age: config.max_timestamp_age()?,
    };
    if request.update_pack_dest.is_file() {
        return Err(usage(format!(
            "-updatepackdest `{}` is a file; give a folder",
            request.update_pack_dest.display()
        )));
    }
    // A folder import would refuse (the drive's root beside UsageData.cab) is refused before upload.
    crate::stages::fetch::check_dest(&request.update_pack_dest)?;
    let runtime = crate::core::runtime::build()?;
    let offers = upload(&runtime, request, &net, config)?;
    for offer in &offers {
        let message = format!(
            "usage data of site {} (hierarchy {}, version {}) uploaded from {}",
            offer.site_code,
            offer.hierarchy_id.to_string().to_uppercase(),
            offer.full_version,
            offer.usage_cab
        );
        crate::core::logging::info(TOOL, &message);
        crate::cli::note(TOOL, format!("INFO: {message}"));
    }
    crate::stages::fetch::fetch_on(&runtime, &options, &offers, on_event)
}

/// The folder `-connect -volumesize` writes the volumes into: beside the download, named after it
/// (`D:\USB\UpdatePacks` → `D:\USB\UpdatePacks.Volumes`), so the download itself stays as it is
/// and a later `-connect` resumes in it.
pub fn volumes_dir(update_pack_dest: &Path) -> PathBuf {
    let mut name = update_pack_dest
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "UpdatePacks".into());
    name.push(".Volumes");
    update_pack_dest.with_file_name(name)
}

/// `-connect -volumesize`: `sct-span` over the fetched folder.
fn lay_out_volumes(
    update_pack_dest: &Path,
    volume_size: u64,
    config: &crate::stages::config::Config,
) -> anyhow::Result<()> {
    let options = crate::stages::span::SpanOptions {
        src: update_pack_dest.to_owned(),
        out: volumes_dir(update_pack_dest),
        volume_size,
        dry_run: false,
    };
    let trusted = config.trusted_keys(&[])?;
    let report = crate::stages::span::span(&options, &trusted, jiff::Timestamp::now())?;
    let message = format!(
        "the update packs are laid out as {} volumes of at most {volume_size} bytes in {}; carry each to the site and run -import -updatepacksrc on it",
        report.volumes.len(),
        report.out
    );
    crate::core::logging::info(TOOL, &message);
    crate::cli::note(TOOL, format!("INFO: {message}"));
    Ok(())
}

/// The upload half of `-connect`: `sct-upload`'s library entry with the wrapper's settings.
fn upload_offers(
    runtime: &tokio::runtime::Runtime,
    request: &ConnectRequest,
    net: &crate::stages::http::NetOptions,
    config: &crate::stages::config::Config,
) -> anyhow::Result<Vec<crate::core::offer::Offer>> {
    let options = crate::stages::upload::UploadOptions::resolve(
        request.usage_data_src.clone(),
        None,
        &[],
        net.clone(),
        config,
    )?;
    // The local check first (a drive not plugged in is said as such), then the service's proof
    // that it serves a catalog of a pinned key, and only then any usage data.
    crate::stages::upload::find_cabs(&options.source)?;
    crate::stages::upload::check_service_catalog(runtime, &options)?;
    // The offers go on to the fetch half; the wrapper says what came of them once it is done.
    crate::stages::upload::run(runtime, &options, &mut |_| Ok(()))
}

/// The phase's name as typed on the command line.
fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Prepare { .. } => "prepare",
        Phase::Export { .. } => "export",
        Phase::Connect { .. } => "connect",
        Phase::Import { .. } => "import",
        Phase::Check { .. } => "check",
        Phase::Status { .. } => "import -status",
        Phase::Help => "help",
        Phase::Version => "version",
    }
}

/// Opens `ServiceConnectionTool.log` and `ConfigMgrSetup.log` and writes the run's opening
/// entries. A folder that cannot be written is reported on stderr, never a reason to fail.
fn start_logs(config: &crate::stages::config::Config, args: &[OsString], phase: &Phase) {
    use crate::core::logging;
    // A relative `log_dir` is read from the config file's folder, so `log_dir = "logs"` means
    // beside sct.toml whatever the working folder.
    let log_dir = config.log_dir.as_ref().map(|dir| match &config.source {
        Some(file) if dir.is_relative() => file.parent().unwrap_or(Path::new("")).join(dir),
        _ => dir.clone(),
    });
    // ConfigMgrSetup.log during -connect only, as the original writes it.
    let with_setup_log = matches!(phase, Phase::Connect { .. });
    let Some(found) = logging::init_tool(log_dir.as_deref(), with_setup_log) else {
        crate::cli::note(
            TOOL,
            "warning: no log folder is writable (see docs/logs.md); running without logs",
        );
        return;
    };
    logging::log_start(TOOL, args);
    let setup_log = found.setup_log.as_deref();
    let fallbacks = [
        (&found.fell_back_from, Some(found.tool_log.as_path())),
        (&found.setup_fell_back_from, setup_log),
    ];
    for (dir, why, now) in fallbacks
        .into_iter()
        .filter_map(|(from, now)| from.as_ref().map(|(dir, why)| (dir, why, now)))
    {
        let instead = now.map_or_else(
            || format!("running without {}", logging::SETUP_LOG),
            |p| format!("logging to {} instead", p.display()),
        );
        let message = format!("cannot write logs in {} ({why}); {instead}", dir.display());
        crate::cli::note(TOOL, format!("warning: {message}"));
        logging::warn(TOOL, message);
    }
    logging::info(TOOL, format!("Phase: -{}", phase_name(phase)));
    let source = config
        .source
        .as_ref()
        .map_or_else(|| "none".to_owned(), |p| p.display().to_string());
    logging::info(TOOL, format!("Config file: {source}"));
    let setup_log = setup_log.map_or("no detailed log".to_owned(), |p| p.display().to_string());
    logging::detail(
        TOOL,
        format!("Logs: {} and {setup_log}", found.tool_log.display()),
    );
}

/// Runs the wrapper: parse everything first, then the phase.
///
/// Every run that gets past parsing writes `ServiceConnectionTool.log` in the original's vocabulary
/// (`INFO:` / `ERROR:` entries); `sct::cli::run` logs a failure and its exit code.
pub fn run(args: &[OsString]) -> anyhow::Result<()> {
    let line = parse_line(args)?;
    if matches!(line.phase, Phase::Help | Phase::Version) {
        // Help never depends on sct.toml: it is what an operator reads to mend a broken one.
        return run_phase(line.phase, &Default::default(), false);
    }
    let config = crate::stages::config::Config::load()?;
    start_logs(&config, args, &line.phase);
    let json = line.json || !std::io::stdout().is_terminal();
    run_phase(line.phase, &config, json)?;
    crate::core::logging::info(TOOL, "ServiceConnectionTool finished successfully");
    Ok(())
}

/// Runs one phase; `json` puts the phase's JSON on stdout (piped, or `-json`), else stdout
/// stays empty and the readable lines on stderr tell the whole story.
fn run_phase(
    phase: Phase,
    config: &crate::stages::config::Config,
    json: bool,
) -> anyhow::Result<()> {
    use crate::core::logging;
    let stdout = std::io::stdout().lock();
    match phase {
        Phase::Help => {
            use std::io::Write;
            let mut out = stdout;
            writeln!(out, "{HELP}\n{}", crate::core::error::ExitCode::help_all())?;
        }
        Phase::Version => {
            use std::io::Write;
            let mut out = stdout;
            writeln!(
                out,
                "ServiceConnectionTool (sct) {}",
                env!("CARGO_PKG_VERSION")
            )?;
        }
        Phase::Prepare { usage_data_dest } => {
            let site = config.site_locator(None)?;
            logging::info(TOOL, format!("Site database: {site}"));
            logging::info(
                TOOL,
                format!("Preparing usage data in {}", usage_data_dest.display()),
            );
            let report = crate::stages::prepare::prepare(&site, &usage_data_dest)?;
            logging::info(
                TOOL,
                format!(
                    "Usage data of site {} ({} rows, version {}) written to {} (size = {}, SHA-256 = {})",
                    report.site_code,
                    report.rows,
                    report.full_version,
                    report.cab,
                    report.size,
                    report.sha256
                ),
            );
            crate::cli::note(
                TOOL,
                format!(
                    "INFO: usage data of site {} ({}, version {}) written to {}; review it with -export, then carry it to -connect",
                    report.site_code,
                    terminal::count(report.rows, "row", "rows"),
                    report.full_version,
                    report.cab
                ),
            );
            if json {
                crate::core::document::write_pretty(stdout, &report)?;
            }
        }
        Phase::Export { dest } => {
            let site = config.site_locator(None)?;
            logging::info(TOOL, format!("Site database: {site}"));
            let rows = crate::stages::prepare::export(&site, &dest)?;
            logging::info(
                TOOL,
                format!("{rows} usage rows exported to {}", dest.display()),
            );
            crate::cli::note(
                TOOL,
                format!(
                    "INFO: {} and every field the usage cab carries exported to {} for review",
                    terminal::count(rows, "usage row", "usage rows"),
                    dest.display()
                ),
            );
        }
        Phase::Connect {
            usage_data_src,
            update_pack_dest,
            proxy_server_uri,
            proxy_user_name,
            mode,
            volume_size,
        } => {
            let request = ConnectRequest {
                usage_data_src,
                update_pack_dest,
                proxy_server_uri,
                proxy_user_name,
                mode,
            };
            let mut out = stdout;
            let summary = connect(&request, config, &upload_offers, &mut |event| {
                if json {
                    crate::core::document::write_line(&mut out, event)?;
                }
                Ok(())
            })?;
            let message = format!(
                "update packs in {}: {} ({} downloaded, {} already present); carry the folder back and run -import",
                summary.dest, summary.packs, summary.downloaded, summary.present
            );
            logging::info(TOOL, &message);
            crate::cli::note(TOOL, format!("INFO: {message}"));
            if let Some(volume_size) = volume_size {
                lay_out_volumes(&request.update_pack_dest, volume_size, config)?;
            }
        }
        Phase::Status { update_pack_src } => {
            let mut args = vec![OsString::from("sct-import"), OsString::from("--status")];
            args.push(OsString::from(if json { "--json" } else { "--human" }));
            args.extend(update_pack_src.map(OsString::from));
            let parsed = <crate::cli::args::import::Args as clap::Parser>::try_parse_from(args)
                .map_err(|e| usage(e.to_string()))?;
            drop(stdout);
            crate::cli::args::import::status_of(&parsed, config)?;
        }
        Phase::Check {
            usage_data_src,
            update_pack_dest,
            proxy_server_uri,
            proxy_user_name,
            mode,
        } => {
            let (proxy, proxy_user) =
                config.proxy(proxy_server_uri.as_deref(), proxy_user_name.as_deref())?;
            let given = crate::cli::args::check::Given {
                usage_src: usage_data_src,
                dest: update_pack_dest,
                mode,
                net: crate::stages::http::NetOptions {
                    proxy,
                    proxy_user,
                    ..Default::default()
                },
                proxy_flags: (proxy_server_uri, proxy_user_name),
                flags: crate::cli::args::check::Flags::WRAPPER,
                ..Default::default()
            };
            let report = crate::cli::args::check::check(given, config.clone())?;
            if json {
                crate::core::document::write_pretty(stdout, &report)?;
            } else {
                drop(stdout);
                crate::cli::args::check::print(&report, true)?;
            }
            crate::stages::check::outcome(&report)?;
        }
        Phase::Import { update_pack_src } => {
            let site = config.site_locator(None)?;
            let trusted = config.trusted_keys_for(&[], Some(update_pack_src.as_path()))?;
            let options = crate::stages::import::ImportOptions {
                src: update_pack_src,
                ..Default::default()
            };
            let mut out = stdout;
            let summary =
                crate::stages::import::import(&site, config, &options, &trusted, &mut |event| {
                    if json {
                        crate::core::document::write_line(&mut out, event)?;
                    } else if let crate::stages::import::ImportEvent::Pack(pack) = event {
                        crate::cli::note(TOOL, terminal::import_line(pack));
                    }
                    Ok(())
                })?;
            crate::cli::note(
                TOOL,
                format!(
                    "INFO: {} imported, {} already present, {} not applicable to this site, into {}",
                    terminal::count(summary.imported, "update pack", "update packs"),
                    summary.already_present,
                    summary.not_applicable,
                    summary.inbox
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    fn parse_str(line: &str) -> anyhow::Result<Phase> {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        parse(&args)
    }

    /// The original's Windows example paths, as this system writes them (`D:\USB\x` stays on
    /// Windows, becomes `/media/usb/x` elsewhere, where a Windows path is a usage error).
    fn native(line: &str) -> String {
        if cfg!(windows) {
            line.to_owned()
        } else {
            line.replace("D:\\USB", "/media/usb").replace('\\', "/")
        }
    }

    fn usage_message(line: &str) -> String {
        let err = parse_str(line).unwrap_err();
        assert_eq!(
            crate::core::error::exit_code(&err),
            ExitCode::Usage,
            "{line}"
        );
        format!("{err:#}")
    }

    #[test]
    fn original_examples_parse() {
        assert_eq!(
            parse_str(&native("-prepare -usagedatadest D:\\USB\\UsageData.cab")).unwrap(),
            Phase::Prepare {
                usage_data_dest: native("D:\\USB\\UsageData.cab").into()
            }
        );
        assert_eq!(
            parse_str(&native("-export -dest D:\\USB\\usagedata.csv")).unwrap(),
            Phase::Export {
                dest: native("D:\\USB\\usagedata.csv").into()
            }
        );
        let connect = parse_str(&native("-connect -usagedatasrc D:\\USB\\Usagedata.cab -updatepackdest D:\\USB\\UpdatePacks -proxyserveruri itproxy.contoso.com -proxyusername jqpublic")).unwrap();
        assert!(
            matches!(connect, Phase::Connect { mode: DownloadMode::Latest, proxy_user_name: Some(ref u), .. } if u == "jqpublic")
        );
        let connect = parse_str(&native("-connect -downloadsiteversion -usagedatasrc D:\\USB -updatepackdest D:\\USB\\UpdatePacks")).unwrap();
        assert!(matches!(
            connect,
            Phase::Connect {
                mode: DownloadMode::SiteVersion,
                ..
            }
        ));
        assert_eq!(
            parse_str(&native("-import -updatepacksrc D:\\USB\\UpdatePacks")).unwrap(),
            Phase::Import {
                update_pack_src: native("D:\\USB\\UpdatePacks").into()
            }
        );
    }

    #[test]
    fn path_flags_of_the_other_platform_are_usage_errors() {
        let windows_only = if cfg!(windows) {
            "-prepare -usagedatadest /media/usb/UsageData.cab"
        } else {
            "-prepare -usagedatadest D:\\USB\\UsageData.cab"
        };
        assert!(usage_message(windows_only).contains("-usagedatadest"));
        let message = usage_message("-import -updatepacksrc usb/CON/UpdatePacks");
        assert!(
            message.contains("-updatepacksrc") && message.contains("device name"),
            "{message}"
        );
        assert!(
            usage_message("-connect -usagedatasrc usb -updatepackdest usb/Packs.")
                .contains("-updatepackdest")
        );
    }

    #[test]
    fn flags_are_case_insensitive() {
        assert!(matches!(
            parse_str("-PREPARE -UsageDataDest x.cab").unwrap(),
            Phase::Prepare { .. }
        ));
        assert!(matches!(
            parse_str("--Import --UpdatePackSrc dir").unwrap(),
            Phase::Import { .. }
        ));
    }

    #[test]
    fn usage_errors_name_the_flag() {
        assert!(usage_message("-prepare").contains("-prepare needs -usagedatadest"));
        assert!(usage_message("-export").contains("-export needs -dest"));
        assert!(
            usage_message("-connect -usagedatasrc x").contains("-connect needs -updatepackdest")
        );
        assert!(usage_message("-import").contains("-import needs -updatepacksrc"));
        assert!(usage_message("").contains("no phase given"));
        assert!(usage_message("-prepare -import").contains("cannot run together"));
        assert!(
            usage_message(
                "-connect -downloadall -downloadhotfix -usagedatasrc a -updatepackdest b"
            )
            .contains("cannot be combined")
        );
        assert!(
            usage_message("-prepare -dest x.csv -usagedatadest a")
                .contains("-dest belongs to -export")
        );
        assert!(
            usage_message("-prepare -downloadall -usagedatadest a").contains("belongs to -connect")
        );
        assert!(usage_message("-prepare -usagedatadest").contains("-usagedatadest needs a value"));
        assert!(usage_message("-prepare -usagedatadest -import").contains("needs a value"));
        assert!(usage_message("-prepare -bogus").contains("unknown flag"));
        assert!(usage_message("-prepare -usagedatadest a -usagedatadest b").contains("twice"));
        assert!(usage_message("prepare").contains("unexpected argument"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse_str("-?").unwrap(), Phase::Help);
        assert_eq!(parse_str("-Help").unwrap(), Phase::Help);
        assert_eq!(parse_str("-prepare /?").unwrap(), Phase::Help);
        assert_eq!(parse_str("-version").unwrap(), Phase::Version);
    }
}
