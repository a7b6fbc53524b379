//! The log files administrators open in CMTrace or OneTrace, and the calls that write them.
//!
//! Two modes, chosen once per process:
//!
//! - **Tool logs** ([`init_tool`], used by `ServiceConnectionTool`): `ServiceConnectionTool.log`
//!   starts afresh on every run, as the original's does, but the previous run is kept as
//!   `ServiceConnectionTool.lo_`; `ConfigMgrSetup.log` is appended to, holds every entry plus the
//!   details ([`detail`]: downloads, sizes, hashes, signature checks, retries, proxy use), and rolls
//!   over to `ConfigMgrSetup.lo_` above [`DETAIL_LOG_MAX_BYTES`].
//! - **A stage log** ([`init_stage_log`], for a stage's `--log FILE`): one appended file that gets
//!   every entry, details included, rolling over the same way.
//!
//! The folder for tool logs is `SCT_LOG_DIR`, else `log_dir` in `sct.toml`, else the folder of the
//! tool binary (where the original writes); when that is not writable, a per-user folder
//! ([`per_user_dir`]). If no folder works the job still runs, without logs.
//!
//! Calls are process-wide and thread-safe ([`info`], [`warn`], [`error`], [`detail`]); before
//! initialisation they cost one atomic load and write nothing. Each entry is one `write` call on an
//! unbuffered file, so a crash loses nothing already logged.
//!
//! **Secrets.** Every message passes through [`redact`] before it is written: passwords in URLs
//! (`http://user:****@proxy`) and in connection strings (`Password=****`) are masked, and so is any
//! value given to [`register_secret`]. Whoever reads a password (the proxy password from
//! `SCT_PROXY_PASSWORD` or a prompt, a SQL password) registers it at once; it can then never reach a
//! log, whatever message happens to quote it. Use [`redact`] too for text shown on stderr or in JSON.

use crate::core::cmtrace::{self, Entry, Severity};
use crate::core::error::Error;
use std::fmt::Display;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

mod secrets;
pub mod vocabulary;

pub use secrets::{MASK, forget_secrets, mask, redact, redact_url, register_secret};

/// The summary log of `ServiceConnectionTool`.
pub const TOOL_LOG: &str = "ServiceConnectionTool.log";
/// The detailed log.
pub const SETUP_LOG: &str = "ConfigMgrSetup.log";
/// Environment variable naming the folder for the tool logs (it wins over `log_dir` in sct.toml).
pub const ENV_LOG_DIR: &str = "SCT_LOG_DIR";
/// Size above which `ConfigMgrSetup.log` and a stage log roll over to `.lo_` (5 MiB).
pub const DETAIL_LOG_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Longest message one record keeps (16 KiB); the rest is replaced by a note of how much was cut.
/// One refused folder with 60,000 stray files must not write megabytes in one record.
pub const MAX_RECORD_MESSAGE_BYTES: usize = 16 * 1024;
/// Shortest time between two roll-overs of one file by one process: a run of a stage rolls a
/// log over at most once; a long-running `sct-serve` at most once an hour.
pub const MIN_ROLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Line ending of log files: CRLF on Windows, where CMTrace runs; LF elsewhere.
const NEWLINE: &str = if cfg!(windows) { "\r\n" } else { "\n" };

/// How a file spells the severity prefix: the original writes `INFO:Downloading Payload ...` in
/// ServiceConnectionTool.log and `INFO: Downloading ...` in ConfigMgrSetup.log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Tool,
    Setup,
}

/// The rolled-over name CMTrace opens: `X.log` → `X.lo_`; other names get `.lo_` appended.
pub fn rolled_path(path: &Path) -> PathBuf {
    match path.extension() {
        Some(ext) if ext.eq_ignore_ascii_case("log") => path.with_extension("lo_"),
        _ => {
            let mut name = path.as_os_str().to_owned();
            name.push(".lo_");
            PathBuf::from(name)
        }
    }
}

/// Moves `path` to its `.lo_` name, replacing an older one. A missing file is not an error, nor
/// one that vanishes meanwhile (another run rolled it over first).
fn roll_over(path: &Path) -> std::io::Result<()> {
    let rolled = rolled_path(path);
    if !path.exists() {
        return Ok(());
    }
    let not_found = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    // Windows cannot rename over an existing file.
    not_found(std::fs::remove_file(&rolled))?;
    not_found(std::fs::rename(path, rolled))
}

/// One open log file.
///
/// A process rolls a file over at most once per [`MIN_ROLL_INTERVAL`] (so a stage's run, at
/// most once): however much one run logs, the `.lo_` it leaves holds what was there before it
/// (the history a noisy run must not evict). Past the cap after that roll, the process goes on
/// appending up to twice the cap ([`Sink::ceiling`]), then writes one warning and drops entries
/// until it may roll over again.
struct Sink {
    path: PathBuf,
    file: File,
    size: u64,
    cap: Option<u64>,
    style: Style,
    /// When this process last rolled the file over.
    rolled_at: Option<std::time::Instant>,
    roll_interval: std::time::Duration,
    /// True once the ceiling was reached and said so.
    full: bool,
}

impl Sink {
    /// Starts `path` afresh, keeping the previous file as `.lo_`.
    fn fresh(path: &Path, style: Style) -> anyhow::Result<Self> {
        roll_over(path)?;
        let mut sink = Self::open(path, None, style)?;
        sink.rolled_at = Some(std::time::Instant::now());
        Ok(sink)
    }

    /// Appends to `path`, rolling it over first when it is already above `cap`.
    fn append(path: &Path, cap: u64, style: Style) -> anyhow::Result<Self> {
        // The name's own size: a planted link is refused by the open below, never rolled away.
        let roll = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() >= cap);
        if roll {
            roll_over(path)?;
        }
        let mut sink = Self::open(path, Some(cap), style)?;
        sink.rolled_at = roll.then(std::time::Instant::now);
        Ok(sink)
    }

    /// The size at which this run stops writing to the file: twice the cap (twice the detail
    /// log's cap for the summary log, which is replaced each run instead of rolling).
    fn ceiling(&self) -> u64 {
        self.cap.unwrap_or(DETAIL_LOG_MAX_BYTES).saturating_mul(2)
    }

    /// Opens `path` for appending, never through a link and never a special file: a log named on
    /// the drive may have been replaced by a link to any file the site's administrator can write.
    fn open(path: &Path, cap: Option<u64>, style: Style) -> anyhow::Result<Self> {
        let mut file = crate::core::medium::open_writer(
            path,
            std::fs::OpenOptions::new().create(true).append(true),
        )?;
        let mut size = file.metadata()?.len();
        if size == 0 {
            // A UTF-8 byte-order mark, so CMTrace shows non-ASCII paths and names correctly.
            file.write_all("\u{feff}".as_bytes())?;
            size = 3;
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            size,
            cap,
            style,
            rolled_at: None,
            roll_interval: MIN_ROLL_INTERVAL,
            full: false,
        })
    }

    /// Whether this process may roll the file over (again).
    fn may_roll(&self) -> bool {
        self.rolled_at
            .is_none_or(|at| at.elapsed() >= self.roll_interval)
    }

    /// Writes one record; failures are ignored, because a log must never fail the job.
    fn write(&mut self, entry: &Entry) {
        if self.full && !self.may_roll() {
            return;
        }
        let record = self.record(entry);
        let over_cap = self
            .cap
            .is_some_and(|cap| self.size > 3 && self.size + record.len() as u64 > cap);
        if over_cap
            && self.may_roll()
            && let Ok(mut next) = roll_over(&self.path)
                .map_err(anyhow::Error::from)
                .and_then(|()| Self::open(&self.path, self.cap, self.style))
        {
            next.rolled_at = Some(std::time::Instant::now());
            next.roll_interval = self.roll_interval;
            *self = next;
        }
        if self.full {
            return;
        }
        if self.size + record.len() as u64 > self.ceiling() {
            self.full = true;
            let mut warning = Entry::now(
                Severity::Warning,
                &entry.component,
                "This log reached its size limit: further entries of this run are not logged here \
                 (a long-running service resumes after its next roll-over, at most an hour later)",
            );
            warning.file = entry.file.clone();
            let record = self.record(&warning);
            let _ = self.file.write_all(record.as_bytes());
            return;
        }
        if self.file.write_all(record.as_bytes()).is_ok() {
            self.size += record.len() as u64;
        }
    }

    /// The record for `entry` in this file's style, its message bounded.
    fn record(&self, entry: &Entry) -> String {
        let mut entry = entry.clone();
        let separator = if self.style == Style::Setup { " " } else { "" };
        entry.message = format!(
            "{}:{separator}{}",
            entry.severity.prefix(),
            bounded(&entry.message, MAX_RECORD_MESSAGE_BYTES)
        );
        cmtrace::format_entry(&entry, NEWLINE)
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), with a note of what was cut.
fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!(
        "{} ... ({} more bytes not logged)",
        &text[..end],
        text.len() - end
    ))
}

/// At most `shown` items of a list for a message, then how many more: `a; b; c; and 59997 more`.
/// Lists built from outside input (stray files, problems) go through it, so one message stays
/// readable and bounded however long the list is.
pub fn abridged(items: &[String], shown: usize, separator: &str) -> String {
    let mut text = items
        .iter()
        .take(shown)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(separator);
    if items.len() > shown {
        text.push_str(&format!("{separator}and {} more", items.len() - shown));
    }
    text
}

/// Where an entry goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The summary log, copied into the detailed log.
    Summary,
    /// Only the detailed log (the stage log in stage mode).
    Detail,
}

/// The open log files of this process.
struct LogSet {
    summary: Sink,
    detail: Option<Sink>,
    /// Tool logs without `ConfigMgrSetup.log`: details go nowhere.
    drop_detail: bool,
}

impl LogSet {
    /// Both tool logs, each in the first of its folders that works; `None` when the summary log
    /// fits nowhere. The detailed log is left out when it fits nowhere.
    fn open_tool(plan: &Plan, with_setup_log: bool) -> Option<(Self, Locations)> {
        let (summary, fell_back_from) = open_first(&plan.tool, |dir| {
            Sink::fresh(&dir.join(TOOL_LOG), Style::Tool)
        });
        let summary = summary?;
        if !with_setup_log {
            let locations = Locations {
                tool_log: summary.path.clone(),
                setup_log: None,
                fell_back_from,
                setup_fell_back_from: None,
            };
            let set = Self {
                summary,
                detail: None,
                drop_detail: true,
            };
            return Some((set, locations));
        }
        // Last resort for the detailed log: beside the summary log.
        let mut setup_dirs = plan.setup.clone();
        setup_dirs.extend(summary.path.parent().map(Path::to_path_buf));
        let (detail, setup_fell_back_from) = open_first(&setup_dirs, |dir| {
            Sink::append(&dir.join(SETUP_LOG), DETAIL_LOG_MAX_BYTES, Style::Setup)
        });
        let locations = Locations {
            tool_log: summary.path.clone(),
            setup_log: detail.as_ref().map(|d| d.path.clone()),
            fell_back_from,
            setup_fell_back_from,
        };
        let set = Self {
            summary,
            detail,
            drop_detail: false,
        };
        Some((set, locations))
    }

    fn open_stage(path: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            summary: Sink::append(path, DETAIL_LOG_MAX_BYTES, Style::Setup)?,
            detail: None,
            drop_detail: false,
        })
    }

    fn write(&mut self, target: Target, entry: &Entry) {
        match (target, &mut self.detail) {
            (Target::Summary, Some(detail)) => {
                self.summary.write(entry);
                detail.write(entry);
            }
            (Target::Detail, Some(detail)) => detail.write(entry),
            (Target::Detail, None) if self.drop_detail => {}
            (_, None) => self.summary.write(entry),
        }
    }
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
static LOGS: Mutex<Option<LogSet>> = Mutex::new(None);

fn install(set: LogSet) {
    *LOGS.lock().unwrap_or_else(|e| e.into_inner()) = Some(set);
    ACTIVE.store(true, Ordering::Release);
}

/// Where the tool logs went, and why not where they were meant to go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locations {
    /// `ServiceConnectionTool.log`, absolute.
    pub tool_log: PathBuf,
    /// `ConfigMgrSetup.log`, absolute; `None` when no folder could take it.
    pub setup_log: Option<PathBuf>,
    /// When the summary log's preferred folder failed: that folder and the error.
    pub fell_back_from: Option<(PathBuf, String)>,
    /// When the detailed log's preferred folder failed: that folder and the error.
    pub setup_fell_back_from: Option<(PathBuf, String)>,
}

/// The folders to try for each tool log, best first.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    /// For `ServiceConnectionTool.log`.
    tool: Vec<PathBuf>,
    /// For `ConfigMgrSetup.log`.
    setup: Vec<PathBuf>,
}

/// Opens a sink in the first of `dirs` (created if missing) that works; also returns the first
/// folder that failed, with why.
fn open_first(
    dirs: &[PathBuf],
    open: impl Fn(&Path) -> anyhow::Result<Sink>,
) -> (Option<Sink>, Option<(PathBuf, String)>) {
    let mut failed = None;
    for dir in dirs {
        let opened = std::fs::create_dir_all(dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| open(dir));
        match opened {
            Ok(sink) => return (Some(sink), failed),
            Err(e) => {
                failed.get_or_insert((dir.clone(), format!("{e:#}")));
            }
        }
    }
    (None, failed)
}

/// The per-user folder for logs: `%LOCALAPPDATA%\sct` on Windows, else `$XDG_STATE_HOME/sct` or
/// `~/.local/state/sct`.
pub fn per_user_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if cfg!(windows) {
        return var("LOCALAPPDATA").map(|d| PathBuf::from(d).join("sct"));
    }
    var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))
        .map(|d| d.join("sct"))
}

/// The root of the system drive (`%SystemDrive%\`, usually `C:\`), where the original writes
/// `ConfigMgrSetup.log`; `None` outside Windows.
pub fn system_drive_root() -> Option<PathBuf> {
    if !cfg!(windows) {
        return None;
    }
    let drive = std::env::var("SystemDrive").ok()?;
    let drive = drive.trim().trim_end_matches(['\\', '/']);
    (drive.len() == 2 && drive.ends_with(':')).then(|| PathBuf::from(format!("{drive}\\")))
}

/// The tool logs' folders: `SCT_LOG_DIR`, else the config's `log_dir`, for both; else the
/// binary's folder for `ServiceConnectionTool.log` and the system drive's root (Windows) for
/// `ConfigMgrSetup.log`, as the original places them; the per-user folder after each.
fn plan_dirs(config_log_dir: Option<&Path>) -> Plan {
    let env = std::env::var_os(ENV_LOG_DIR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let plan = choose_dirs(
        env.or(config_log_dir.map(Path::to_path_buf)),
        exe_dir,
        system_drive_root(),
        per_user_dir(),
    );
    // Absolute, so the paths the log and the warnings name mean the same from anywhere.
    let absolute = |dirs: Vec<PathBuf>| -> Vec<PathBuf> {
        dirs.into_iter()
            .map(|dir| std::path::absolute(&dir).unwrap_or(dir))
            .collect()
    };
    Plan {
        tool: absolute(plan.tool),
        setup: absolute(plan.setup),
    }
}

/// The folder `ServiceConnectionTool.log` goes to first (before the per-user fallback), as
/// [`init_tool`] would choose it; `sct-check` tests that it takes a file.
pub fn tool_log_dir(config_log_dir: Option<&Path>) -> Option<PathBuf> {
    plan_dirs(config_log_dir).tool.into_iter().next()
}

fn choose_dirs(
    chosen: Option<PathBuf>,
    exe_dir: Option<PathBuf>,
    system_root: Option<PathBuf>,
    user: Option<PathBuf>,
) -> Plan {
    let with_user = |first: Option<PathBuf>| -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = first.into_iter().collect();
        if let Some(user) = user.clone().filter(|u| !dirs.contains(u)) {
            dirs.push(user);
        }
        dirs
    };
    let tool = chosen.clone().or(exe_dir.clone());
    let setup = chosen.or(system_root).or(exe_dir);
    Plan {
        tool: with_user(tool),
        setup: with_user(setup),
    }
}

/// Starts the tool logs (`ServiceConnectionTool.log`, `ConfigMgrSetup.log`), each in the first of
/// its folders that works (`plan_dirs`). Returns `None`, logging nothing, when the summary log
/// fits nowhere: a log is never a reason to fail the job.
///
/// `ConfigMgrSetup.log` is opened only `with_setup_log` (the wrapper's `-connect`, as the
/// original): on a site server it is ConfigMgr setup's own log, which the site-side phases leave
/// alone; their details are then dropped, not mixed into the summary log.
pub fn init_tool(config_log_dir: Option<&Path>, with_setup_log: bool) -> Option<Locations> {
    let (set, locations) = LogSet::open_tool(&plan_dirs(config_log_dir), with_setup_log)?;
    install(set);
    Some(locations)
}

/// Starts a stage's `--log FILE`: appended, CMTrace format, details included. Unlike the tool
/// logs, a file the operator named must work: failing to open it is an error (exit 3).
/// A link or special file planted at that name is refused (exit 1), never followed.
pub fn init_stage_log(path: &Path) -> anyhow::Result<()> {
    let set = LogSet::open_stage(path).map_err(|e| {
        if crate::core::error::exit_code(&e) == crate::core::error::ExitCode::Rejected {
            e.context(format!("Refusing log file `{}`", path.display()))
        } else {
            Error::Io(format!(
                "Failed to open log file `{}`: {e:#}",
                path.display()
            ))
            .into()
        }
    })?;
    install(set);
    Ok(())
}

/// True once a log is open: callers can skip building expensive messages otherwise.
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// Closes the logs; later calls write nothing until the next initialisation.
pub fn shutdown() {
    ACTIVE.store(false, Ordering::Release);
    *LOGS.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// A source path as written in the `file` attribute: relative to `src/` (`core/logging/mod.rs`), with `/`.
fn source_name(path: &str) -> String {
    let path = path.replace('\\', "/");
    match path.rfind("src/") {
        Some(at) => path[at + 4..].to_owned(),
        None => path,
    }
}

fn log(
    target: Target,
    severity: Severity,
    component: &str,
    message: &dyn Display,
    at: &std::panic::Location<'_>,
) {
    if !is_active() {
        return;
    }
    // The record stays one line whatever the message holds: cmtrace escapes line breaks,
    // controls and bidi overrides (crate::core::escape).
    let mut entry = Entry::now(severity, component, &redact(&message.to_string()));
    entry.file = format!("{}:{}", source_name(at.file()), at.line());
    if let Some(set) = LOGS.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        set.write(target, &entry);
    }
}

/// The opening entries of every run: `<component> (sct X.Y.Z) started, process N` and
/// `Command line: ...` (passwords masked, as in every entry).
#[track_caller]
pub fn log_start(component: &str, args: &[std::ffi::OsString]) {
    let at = std::panic::Location::caller();
    if !is_active() {
        return;
    }
    let started = format!(
        "{component} (sct {}) started, process {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    log(Target::Summary, Severity::Info, component, &started, at);
    let line: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let line = format!("Command line: {}", line.join(" "));
    log(Target::Summary, Severity::Info, component, &line, at);
}

/// An `INFO:` entry in the summary log (and the detailed log).
#[track_caller]
pub fn info(component: &str, message: impl Display) {
    let at = std::panic::Location::caller();
    log(Target::Summary, Severity::Info, component, &message, at);
}

/// A `WARNING:` entry (yellow in CMTrace) in the summary log (and the detailed log).
#[track_caller]
pub fn warn(component: &str, message: impl Display) {
    let at = std::panic::Location::caller();
    log(Target::Summary, Severity::Warning, component, &message, at);
}

/// An `ERROR:` entry (red in CMTrace) in the summary log (and the detailed log).
#[track_caller]
pub fn error(component: &str, message: impl Display) {
    let at = std::panic::Location::caller();
    log(Target::Summary, Severity::Error, component, &message, at);
}

/// An `INFO:` entry in the detailed log only: each download, size, expected and actual SHA-256,
/// signature check, retry, proxy decision.
#[track_caller]
pub fn detail(component: &str, message: impl Display) {
    let at = std::panic::Location::caller();
    log(Target::Detail, Severity::Info, component, &message, at);
}

/// A `WARNING:` entry in the detailed log only (a retry, a resumed download).
#[track_caller]
pub fn detail_warn(component: &str, message: impl Display) {
    let at = std::panic::Location::caller();
    log(Target::Detail, Severity::Warning, component, &message, at);
}

/// An error and each of its causes, one `ERROR:` entry per line of `error: ... / Caused by: ...`.
#[track_caller]
pub fn error_chain(component: &str, err: &anyhow::Error) {
    let at = std::panic::Location::caller();
    if !is_active() {
        return;
    }
    let mut chain = err.chain();
    if let Some(head) = chain.next() {
        log(Target::Summary, Severity::Error, component, &head, at);
    }
    for cause in chain {
        let text = format!("  Caused by: {cause}");
        log(Target::Summary, Severity::Error, component, &text, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;
    use sct_testkit::cmtrace as reader;

    /// The log's records, read with the test kit's reader (which shares no code with the writer).
    fn entries(path: &Path) -> Vec<reader::Entry> {
        let text = std::fs::read_to_string(path).unwrap();
        reader::parse_log(&text).unwrap()
    }

    fn entry(message: &str) -> Entry {
        Entry::now(Severity::Info, "test", message)
    }

    #[test]
    fn source_names_are_relative_to_src() {
        assert_eq!(source_name("src/wrapper.rs"), "wrapper.rs");
        assert_eq!(source_name("src\\logging\\mod.rs"), "logging/mod.rs");
        assert_eq!(
            source_name("/build/sct/src/bin/sct-fetch.rs"),
            "bin/sct-fetch.rs"
        );
        assert_eq!(source_name("other.rs"), "other.rs");
    }

    #[test]
    fn rolled_names() {
        assert_eq!(
            rolled_path(Path::new("d/ServiceConnectionTool.log")),
            Path::new("d/ServiceConnectionTool.lo_")
        );
        assert_eq!(rolled_path(Path::new("d/X.LOG")), Path::new("d/X.lo_"));
        assert_eq!(
            rolled_path(Path::new("d/fetch.txt")),
            Path::new("d/fetch.txt.lo_")
        );
    }

    /// Both tool logs in `dir`.
    fn open_in(dir: &Path) -> LogSet {
        let plan = Plan {
            tool: vec![dir.to_owned()],
            setup: vec![dir.to_owned()],
        };
        LogSet::open_tool(&plan, true).unwrap().0
    }

    #[test]
    fn tool_log_starts_afresh_and_keeps_the_previous_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = open_in(dir.path());
        first.write(Target::Summary, &entry("run one"));
        first.write(Target::Detail, &entry("detail one"));
        drop(first);
        let mut second = open_in(dir.path());
        second.write(Target::Summary, &entry("run two"));
        drop(second);
        let messages = |name: &str| -> Vec<String> {
            entries(&dir.path().join(name))
                .into_iter()
                .map(|e| e.message)
                .collect()
        };
        assert_eq!(messages(TOOL_LOG), ["INFO:run two"]);
        assert_eq!(messages("ServiceConnectionTool.lo_"), ["INFO:run one"]);
        assert_eq!(
            messages(SETUP_LOG),
            ["INFO: run one", "INFO: detail one", "INFO: run two"]
        );
        assert!(!dir.path().join("ConfigMgrSetup.lo_").exists());
    }

    #[test]
    fn without_the_setup_log_details_go_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            tool: vec![dir.path().to_owned()],
            setup: vec![dir.path().to_owned()],
        };
        let (mut set, found) = LogSet::open_tool(&plan, false).unwrap();
        set.write(Target::Summary, &entry("summary"));
        set.write(Target::Detail, &entry("detail"));
        drop(set);
        assert_eq!(found.setup_log, None);
        assert!(!dir.path().join(SETUP_LOG).exists());
        let tool: Vec<String> = entries(&dir.path().join(TOOL_LOG))
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(tool, ["INFO:summary"]);
    }

    #[test]
    fn each_tool_log_falls_back_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (tool, setup, user) = (
            dir.path().join("tool"),
            dir.path().join("root"),
            dir.path().join("user"),
        );
        // A file where a folder should be: that folder cannot be created.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "").unwrap();
        let plan = Plan {
            tool: vec![tool.clone(), user.clone()],
            setup: vec![blocked.clone(), user.clone()],
        };
        let (mut set, found) = LogSet::open_tool(&plan, true).unwrap();
        set.write(Target::Detail, &entry("detail"));
        drop(set);
        assert_eq!(found.tool_log, tool.join(TOOL_LOG));
        assert_eq!(found.fell_back_from, None);
        assert_eq!(found.setup_log, Some(user.join(SETUP_LOG)));
        assert_eq!(found.setup_fell_back_from.unwrap().0, blocked);
        assert_eq!(entries(&user.join(SETUP_LOG))[0].message, "INFO: detail");
        assert!(!setup.exists() && !tool.join(SETUP_LOG).exists());
        // With every folder of its own blocked, the detailed log joins the summary log.
        let plan = Plan {
            tool: vec![tool.clone()],
            setup: vec![blocked.clone()],
        };
        let (_, found) = LogSet::open_tool(&plan, true).unwrap();
        assert_eq!(found.setup_log, Some(tool.join(SETUP_LOG)));
        let plan = Plan {
            tool: vec![blocked.clone()],
            setup: vec![tool],
        };
        assert!(
            LogSet::open_tool(&plan, true).is_none(),
            "no summary log, no logs"
        );
    }

    #[test]
    fn detail_log_rolls_over_above_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.log");
        let mut sink = Sink::open(&path, Some(600), Style::Setup).unwrap();
        for n in 0..6 {
            sink.write(&entry(&format!("entry {n}")));
        }
        let current = entries(&path);
        let rolled = entries(&dir.path().join("stage.lo_"));
        assert!(!current.is_empty() && !rolled.is_empty());
        assert_eq!(current.len() + rolled.len(), 6);
        assert!(std::fs::metadata(&path).unwrap().len() <= 600);
        assert_eq!(rolled[0].message, "INFO: entry 0");
        // A file already above the cap rolls over when it is opened.
        let again = Sink::append(&path, 10, Style::Setup).unwrap();
        assert_eq!(again.size, 3);
    }

    #[test]
    fn one_run_rolls_over_once_and_stops_at_its_ceiling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ConfigMgrSetup.log");
        // Earlier runs: history that a noisy run must not evict.
        let mut earlier = Sink::append(&path, 1000, Style::Setup).unwrap();
        earlier.write(&entry("history from an earlier run"));
        drop(earlier);
        let mut noisy = Sink::append(&path, 1000, Style::Setup).unwrap();
        for n in 0..200 {
            noisy.write(&entry(&format!("stray file {n:05} of a refused folder")));
        }
        let rolled = entries(&dir.path().join("ConfigMgrSetup.lo_"));
        assert_eq!(
            rolled[0].message, "INFO: history from an earlier run",
            "the one roll-over of this run kept the history"
        );
        let current = entries(&path);
        let last = current.last().unwrap();
        assert_eq!(last.severity, reader::Severity::Warning);
        assert!(last.message.contains("size limit"), "{}", last.message);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size <= 2000 + 400,
            "{size} bytes: the ceiling is twice the cap"
        );
        assert!(rolled.len() + current.len() < 200, "the rest was dropped");
        // Nothing more is written once the ceiling was announced.
        noisy.write(&entry("after the ceiling"));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    }

    #[test]
    fn a_long_running_process_rolls_over_again_once_the_interval_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.log");
        let mut sink = Sink::append(&path, 1000, Style::Setup).unwrap();
        // An interval already over, as for a server an hour after its last roll-over.
        sink.roll_interval = std::time::Duration::ZERO;
        for n in 0..60 {
            sink.write(&entry(&format!("request {n:03} of a long-running service")));
        }
        let current = entries(&path);
        assert_eq!(
            current.last().unwrap().message,
            "INFO: request 059 of a long-running service",
            "still logging"
        );
        assert!(current.iter().all(|e| e.severity == reader::Severity::Info));
        assert!(std::fs::metadata(&path).unwrap().len() <= 1000);
    }

    #[test]
    fn one_huge_message_is_one_bounded_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.log");
        let mut sink = Sink::open(&path, Some(DETAIL_LOG_MAX_BYTES), Style::Setup).unwrap();
        let strays: Vec<String> = (0..60_000).map(|n| format!("stray-{n:05}.bin")).collect();
        sink.write(&entry(&strays.join("; ")));
        let found = entries(&path);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.len() <= MAX_RECORD_MESSAGE_BYTES + 100);
        assert!(found[0].message.ends_with("more bytes not logged)"));
        assert!(std::fs::metadata(&path).unwrap().len() < 2 * MAX_RECORD_MESSAGE_BYTES as u64);
        assert_eq!(
            abridged(&strays, 3, "; "),
            "stray-00000.bin; stray-00001.bin; stray-00002.bin; and 59997 more"
        );
        assert_eq!(
            abridged(&strays[..2], 3, ", "),
            "stray-00000.bin, stray-00001.bin"
        );
        assert_eq!(bounded("éé", 3), "é ... (2 more bytes not logged)");
    }

    #[test]
    fn stage_mode_puts_details_in_the_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fetch.log");
        let mut set = LogSet::open_stage(&path).unwrap();
        set.write(Target::Summary, &entry("a"));
        set.write(Target::Detail, &entry("b"));
        drop(set);
        let found: Vec<String> = entries(&path).into_iter().map(|e| e.message).collect();
        assert_eq!(found, ["INFO: a", "INFO: b"]);
    }

    #[test]
    fn dirs_in_order_of_precedence() {
        let p = |s: &str| Some(PathBuf::from(s));
        let dirs = |list: &[&str]| -> Vec<PathBuf> { list.iter().map(PathBuf::from).collect() };
        // A chosen folder (SCT_LOG_DIR or log_dir) takes both logs.
        let chosen = choose_dirs(p("/env"), p("/exe"), p("C:\\"), p("/user"));
        assert_eq!(chosen.tool, dirs(&["/env", "/user"]));
        assert_eq!(chosen.setup, dirs(&["/env", "/user"]));
        // Otherwise the original's places: beside the binary, and the system drive's root.
        let original = choose_dirs(None, p("/exe"), p("C:\\"), p("/user"));
        assert_eq!(original.tool, dirs(&["/exe", "/user"]));
        assert_eq!(original.setup, dirs(&["C:\\", "/user"]));
        // Without a system drive (not Windows), both beside the binary.
        let unix = choose_dirs(None, p("/exe"), None, p("/exe"));
        assert_eq!(unix.tool, dirs(&["/exe"]));
        assert_eq!(unix.setup, dirs(&["/exe"]));
        let none = choose_dirs(None, None, None, None);
        assert!(none.tool.is_empty() && none.setup.is_empty());
    }

    #[test]
    fn system_drive_root_only_on_windows() {
        let root = system_drive_root().map(|r| r.to_string_lossy().into_owned());
        if !cfg!(windows) {
            assert_eq!(root, None);
        } else if let Ok(drive) = std::env::var("SystemDrive") {
            assert_eq!(root, Some(format!("{}\\", drive.trim())));
        }
    }

    /// The only test that starts the process-wide logger (others may log while it runs).
    #[test]
    fn process_logger_is_silent_until_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.log");
        info("test", "before");
        assert!(!is_active());
        init_stage_log(&path).unwrap();
        let secret = format!("pw-{}", uuid::Uuid::new_v4());
        register_secret(&secret);
        info("sct-fetch", "Downloading Payload X version 5.00.9132.1000");
        detail("sct-fetch", format!("proxy password {secret}"));
        let err = anyhow::anyhow!("disk full").context("Failed to write `x`");
        error_chain("sct-fetch", &err);
        // Threads logging at once never interleave inside a record.
        let workers: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || (0..25).for_each(|n| detail("w", format!("{t}/{n}"))))
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
        shutdown();
        info("test", "after");
        // Other tests run library code that logs while this logger is active: look only at
        // this test's own components.
        let all = entries(&path);
        let threaded: Vec<_> = all.iter().filter(|e| e.component == "w").collect();
        let found: Vec<_> = all.iter().filter(|e| e.component == "sct-fetch").collect();
        assert_eq!(threaded.len(), 100);
        let threads: std::collections::HashSet<u64> = threaded.iter().map(|e| e.thread).collect();
        assert_eq!(threads.len(), 4, "each thread logs its own ID");
        let text: Vec<&str> = found.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            text,
            [
                "INFO: Downloading Payload X version 5.00.9132.1000",
                "INFO: proxy password ****",
                "ERROR: Failed to write `x`",
                "ERROR:   Caused by: disk full",
            ]
        );
        assert_eq!(found[2].severity, reader::Severity::Error);
        assert_eq!(found[0].component, "sct-fetch");
        assert!(
            found[0].file.starts_with("core/logging/mod.rs:"),
            "{}",
            found[0].file
        );
        let missing = dir.path().join("no-such-folder").join("x.log");
        let err = init_stage_log(&missing).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Io);
        assert!(!is_active());
    }
}
