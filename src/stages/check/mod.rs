//! `sct-check`: tell the administrator what will fail before it fails.
//!
//! Every check the settings make possible runs, in groups that run in parallel (the site, the
//! internet side, the tool's own settings); each group has its own time limit, and a group that
//! overruns it is reported as failed without holding up the others. No check changes anything: a
//! folder's writability is tested with a temporary file that is created and removed at once.
//!
//! The result is one [`CheckReport`] (`sct.check.v1`); [`outcome`] turns its first failure into
//! that check's exit class.

mod internet;
mod settings;
mod site;
mod usage;

use crate::core::document::{Document, Tag};
use crate::core::error::{Error, ExitCode};
use crate::core::select::DownloadMode;
use crate::site::SiteLocator;
use crate::stages::config::Config;
use crate::stages::http::NetOptions;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use settings::Source;

/// The most a machine's clock may differ from the service's before `clock` fails.
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// What a check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skipped,
}

/// One check's result: a stable `id`, what it found (naming the URL, issuer, key, path or sizes
/// concerned) and, unless it passed, the fix in the operator's terms.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    /// What the check found; for `skipped`, why it did not run.
    pub found: String,
    /// What to do about it (empty when nothing needs doing).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
    /// The exit class a failure of this check ends `sct-check` with.
    #[serde(skip)]
    pub class: ExitCode,
}

impl Check {
    /// A passed check.
    pub fn ok(id: &'static str, found: impl Into<String>) -> Self {
        Self::new(id, Status::Ok, found, "", ExitCode::Success)
    }

    /// A failed check, with its fix and exit class.
    pub fn fail(
        id: &'static str,
        class: ExitCode,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(id, Status::Fail, found, fix, class)
    }

    /// Something that will not stop the job but deserves a look.
    pub fn warn(id: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(id, Status::Warn, found, fix, ExitCode::Success)
    }

    /// A check the settings do not make possible; `why` says which setting would.
    pub fn skipped(id: &'static str, why: impl Into<String>) -> Self {
        Self::new(id, Status::Skipped, why, "", ExitCode::Success)
    }

    fn new(
        id: &'static str,
        status: Status,
        found: impl Into<String>,
        fix: impl Into<String>,
        class: ExitCode,
    ) -> Self {
        Self {
            id,
            status,
            found: crate::core::logging::redact(&found.into()),
            fix: fix.into(),
            class,
        }
    }
}

/// `sct.check.v1`: every check that ran, in a stable order.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub schema: Tag<Self>,
    /// True when no check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Document for CheckReport {
    const SCHEMA: &'static str = "sct.check.v1";
}

/// Everything the checks may use, resolved by the caller from flags, environment and `sct.toml`.
/// A setting left `None` skips the checks that need it.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub config: Config,
    /// Where each setting came from, for the `settings` check.
    pub sources: Vec<Source>,
    /// The site database (`None`: no site given anywhere; the site checks are skipped).
    pub site: Option<SiteLocator>,
    /// `--install-dir`, when given.
    pub install_dir: Option<PathBuf>,
    /// The pinned-key flags (`--trusted-key`), as given.
    pub trusted_key_flags: Vec<String>,
    /// The update service's base URL.
    pub service_url: Option<String>,
    pub net: NetOptions,
    /// The usage cabs to upload (a cab or a folder of them).
    pub usage_src: Option<PathBuf>,
    /// The update pack folder a fetch would fill.
    pub dest: Option<PathBuf>,
    pub mode: DownloadMode,
    /// The most one group of checks may take.
    pub timeout: Duration,
}

/// A group of dependent checks, run in order on one thread: their ids (so an overrun can name
/// them) and the work.
struct Group {
    ids: &'static [&'static str],
    work: Box<dyn FnOnce() -> Vec<Check> + Send>,
}

/// Runs every check and returns the report. Groups run in parallel; each is given
/// `options.timeout`, measured from the start.
pub fn run(options: &CheckOptions) -> CheckReport {
    let groups = vec![
        settings::group(options),
        site::group(options),
        usage::group(options),
        internet::group(options),
    ];
    let checks = run_groups(groups, options.timeout);
    CheckReport {
        schema: Tag::new(),
        ok: checks.iter().all(|c| c.status != Status::Fail),
        checks,
    }
}

/// Runs the groups on threads of their own and collects their checks in the groups' order; a
/// group still running at `limit` is reported as failed, check by check.
fn run_groups(groups: Vec<Group>, limit: Duration) -> Vec<Check> {
    let deadline = Instant::now() + limit;
    let (sender, receiver) = mpsc::channel();
    let ids: Vec<&'static [&'static str]> = groups.iter().map(|g| g.ids).collect();
    for (index, group) in groups.into_iter().enumerate() {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let _ = sender.send((index, (group.work)()));
        });
    }
    drop(sender);
    let mut done: Vec<Option<Vec<Check>>> = vec![None; ids.len()];
    while done.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((index, checks)) => done[index] = Some(checks),
            Err(_) => break,
        }
    }
    done.into_iter()
        .zip(ids)
        .flat_map(|(checks, ids)| checks.unwrap_or_else(|| overran(ids, limit)))
        .collect()
}

/// The checks of a group that did not finish in time.
fn overran(ids: &[&'static str], limit: Duration) -> Vec<Check> {
    ids.iter()
        .map(|id| {
            Check::fail(
                id,
                ExitCode::Network,
                format!("did not finish within {} s", limit.as_secs_f64()),
                "find what is slow (a server that accepts connections and never answers, a \
                 stalled drive), or give it longer with --timeout",
            )
        })
        .collect()
}

/// Ends a run: `Ok` when nothing failed, else the first failing check as an error of its class.
pub fn outcome(report: &CheckReport) -> anyhow::Result<()> {
    let Some(first) = report.checks.iter().find(|c| c.status == Status::Fail) else {
        return Ok(());
    };
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    let message = format!(
        "{failed} check(s) failed; the first, `{}`: {}",
        first.id, first.found
    );
    Err(match first.class {
        ExitCode::Rejected => Error::Rejected(message),
        ExitCode::Usage => Error::Usage(message),
        ExitCode::Network => Error::Network(message),
        ExitCode::NoData => Error::NoData(message),
        ExitCode::Io | ExitCode::Success => Error::Io(message),
    }
    .into())
}

/// Tests that `dir` takes a new file: creates a uniquely named temporary file there and removes
/// it at once (the check's report says so). The file is never left behind.
pub(crate) fn probe_writable(dir: &std::path::Path) -> std::io::Result<()> {
    let file = tempfile::Builder::new()
        .prefix(".sct-check-")
        .tempfile_in(dir)?;
    file.close()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_decides_the_exit_class() {
        let report = CheckReport {
            schema: Tag::new(),
            ok: false,
            checks: vec![
                Check::ok("a", "fine"),
                Check::warn("b", "odd", "look"),
                Check::fail("c", ExitCode::Rejected, "bad key", "pin the right key"),
                Check::fail("d", ExitCode::Network, "down", "start it"),
            ],
        };
        let err = outcome(&report).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Rejected);
        assert!(format!("{err:#}").contains("`c`"), "{err:#}");
        let fine = CheckReport {
            checks: vec![Check::skipped("x", "no setting")],
            ok: true,
            schema: Tag::new(),
        };
        assert!(outcome(&fine).is_ok());
    }

    #[test]
    fn a_group_that_overruns_fails_without_holding_up_the_others() {
        let slow = Group {
            ids: &["slow.one", "slow.two"],
            work: Box::new(|| {
                std::thread::sleep(Duration::from_secs(30));
                vec![]
            }),
        };
        let quick = Group {
            ids: &["quick"],
            work: Box::new(|| vec![Check::ok("quick", "done")]),
        };
        let checks = run_groups(vec![slow, quick], Duration::from_millis(200));
        let ids: Vec<_> = checks.iter().map(|c| (c.id, c.status)).collect();
        assert_eq!(
            ids,
            [
                ("slow.one", Status::Fail),
                ("slow.two", Status::Fail),
                ("quick", Status::Ok)
            ]
        );
    }

    #[test]
    fn probing_a_folder_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        probe_writable(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(probe_writable(&dir.path().join("missing")).is_err());
    }
}
