//! The terminal reporter: how notes and progress bars from the library reach a person on stderr.
//!
//! Library code reports through [`crate::core::report`]; [`install`] (called by
//! [`crate::cli::run`]) makes this module its reporter. Bars appear only when stderr is a
//! terminal, `--quiet` was not given ([`set_quiet`]) and `TERM` is not `dumb`; piped or
//! redirected, a stage prints no bars at all, so logs and CI output stay clean. `NO_COLOR` (set
//! and not empty, see no-color.org) draws them without colour. Bars never go to stdout, which
//! carries only JSON, and never to the log files. Every note is one escaped line above the bars.

use crate::core::report::{Bar, Reporter, Unit};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Turns bars off for this process (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Every bar of the process is drawn through this one group, so [`suspend`] can clear them all
/// before a line of other output: a bar never shares a line with a note or an error.
static SHARED: OnceLock<MultiProgress> = OnceLock::new();

thread_local! {
    /// True while this thread runs inside [`suspend`] (a nested suspend would deadlock).
    static SUSPENDED: Cell<bool> = const { Cell::new(false) };
}

fn shared() -> &'static MultiProgress {
    SHARED.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Runs `f` with every bar cleared and redraws them after: for any line printed on stderr while
/// bars may be drawn. Nested calls simply run `f`.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    match SHARED.get() {
        Some(multi) if !SUSPENDED.get() => {
            SUSPENDED.set(true);
            let result = multi.suspend(f);
            SUSPENDED.set(false);
            result
        }
        _ => f(),
    }
}

/// Makes the terminal reporter the process's reporter.
pub fn install() {
    crate::core::report::install(Box::new(Terminal));
}

/// Notes and bars on stderr.
struct Terminal;

/// A note with a severity, as the original shows every line: messages that carry none are
/// `INFO:`.
fn with_severity(message: &str) -> String {
    if ["ERROR:", "WARNING:", "INFO:"]
        .iter()
        .any(|tag| message.starts_with(tag))
    {
        message.to_owned()
    } else {
        format!("INFO: {message}")
    }
}

impl Reporter for Terminal {
    /// One line, prefixed with the name of the program the operator ran (library code inside
    /// `ServiceConnectionTool` passes `sct-fetch`, but the operator ran the wrapper), and for the
    /// wrapper with a severity, as the original's lines have.
    fn note(&self, tool: &str, message: &str) {
        let name = crate::core::setting::program().unwrap_or(tool);
        let line = if crate::core::setting::is_wrapper() {
            crate::cli::shown(&with_severity(message))
        } else {
            crate::cli::shown(&message)
        };
        suspend(|| {
            let _ = writeln!(std::io::stderr().lock(), "{name}: {line}");
        });
    }

    fn bar(&self, total: u64, label: &str, unit: Unit) -> Option<Box<dyn Bar>> {
        let display = current();
        display
            .bars
            .then(|| Box::new(shared().add(new_bar(total, label, unit, display))) as Box<dyn Bar>)
    }

    fn suspend(&self, f: &mut dyn FnMut()) {
        suspend(f)
    }
}

impl Bar for ProgressBar {
    fn set_position(&self, done: u64) {
        ProgressBar::set_position(self, done);
    }
    fn inc(&self, n: u64) {
        ProgressBar::inc(self, n);
    }
    fn set_message(&self, message: &str) {
        ProgressBar::set_message(self, crate::core::escape::escape(message).into_owned());
    }
    fn finish(&self) {
        ProgressBar::finish(self);
    }
    fn finish_and_clear(&self) {
        ProgressBar::finish_and_clear(self);
    }
    fn abandon(&self) {
        ProgressBar::abandon(self);
    }
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Display {
    /// Draw bars at all.
    pub bars: bool,
    /// Draw them in colour.
    pub color: bool,
}

/// The decision, from its inputs: whether stderr is a terminal, `--quiet`, and the values of
/// `NO_COLOR` and `TERM`.
pub fn decide(
    stderr_is_terminal: bool,
    quiet: bool,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
) -> Display {
    let dumb = term.is_some_and(|t| t == "dumb");
    let bars = stderr_is_terminal && !quiet && !dumb;
    let color = bars && no_color.is_none_or(OsStr::is_empty);
    Display { bars, color }
}

/// The decision for this process now.
pub fn current() -> Display {
    decide(
        std::io::stderr().is_terminal(),
        QUIET.load(Ordering::Relaxed),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    )
}

/// The bar's layout: label, bar, amount done and total, then for bytes the rate and time left.
fn template(unit: Unit, color: bool) -> &'static str {
    match (unit, color) {
        (Unit::Bytes, true) => {
            "{prefix:.bold} [{bar:30.cyan/blue}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}"
        }
        (Unit::Bytes, false) => {
            "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}"
        }
        (Unit::Items, true) => "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} ETA {eta} {msg}",
        (Unit::Items, false) => "{prefix} [{bar:30}] {pos}/{len} ETA {eta} {msg}",
    }
}

fn new_bar(total: u64, label: &str, unit: Unit, display: Display) -> ProgressBar {
    let style = ProgressStyle::with_template(template(unit, display.color))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        .with_style(style)
        // Labels are file names from the medium or a catalog: escaped like every line for people.
        .with_prefix(crate::core::escape::escape(label).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_without_a_severity_is_info() {
        assert_eq!(with_severity("ERROR: x"), "ERROR: x");
        assert_eq!(with_severity("WARNING: x"), "WARNING: x");
        assert_eq!(with_severity("importing x"), "INFO: importing x");
    }

    fn os(s: &str) -> Option<&OsStr> {
        Some(OsStr::new(s))
    }

    #[test]
    fn bars_only_on_a_terminal_without_quiet() {
        let on = Display {
            bars: true,
            color: true,
        };
        let off = Display {
            bars: false,
            color: false,
        };
        assert_eq!(decide(true, false, None, os("xterm-256color")), on);
        assert_eq!(decide(false, false, None, os("xterm")), off, "piped");
        assert_eq!(decide(true, true, None, os("xterm")), off, "--quiet");
        assert_eq!(decide(true, false, None, os("dumb")), off, "TERM=dumb");
        assert_eq!(decide(true, false, None, None), on, "no TERM (Windows)");
    }

    #[test]
    fn no_color_keeps_bars_but_drops_colour() {
        let plain = decide(true, false, os("1"), os("xterm"));
        assert!(plain.bars && !plain.color);
        let empty = decide(true, false, os(""), os("xterm"));
        assert!(empty.color, "an empty NO_COLOR does not count");
        for unit in [Unit::Bytes, Unit::Items] {
            let plain = template(unit, false);
            assert!(
                !plain.contains(".cyan") && !plain.contains(".bold"),
                "{plain}"
            );
            assert!(template(unit, true).contains(".cyan"));
        }
        for t in [template(Unit::Bytes, true), template(Unit::Bytes, false)] {
            assert!(t.contains("{binary_bytes_per_sec}") && t.contains("{eta}"));
        }
        assert!(template(Unit::Items, false).contains("{pos}/{len}"));
        for unit in [Unit::Bytes, Unit::Items] {
            for color in [true, false] {
                assert!(ProgressStyle::with_template(template(unit, color)).is_ok());
            }
        }
    }

    #[test]
    fn nested_suspends_do_not_deadlock() {
        let on = decide(true, false, os("1"), os("xterm"));
        let bar = shared().add(new_bar(10, "n", Unit::Bytes, on));
        assert_eq!(suspend(|| suspend(|| suspend(|| 3))), 3);
        bar.finish_and_clear();
    }

    #[test]
    fn visible_bars_count() {
        let on = decide(true, false, os("1"), os("xterm"));
        let bar = new_bar(100, "x.cab", Unit::Bytes, on);
        Bar::set_position(&bar, 40);
        Bar::inc(&bar, 10);
        assert_eq!(bar.position(), 50);
        let packs = new_bar(3, "packs", Unit::Items, on);
        Bar::inc(&packs, 1);
        assert_eq!(packs.length(), Some(3));
    }

    #[test]
    fn quiet_switch_is_process_wide() {
        set_quiet(true);
        assert!(!current().bars);
        assert!(Terminal.bar(1, "q", Unit::Bytes).is_none());
        set_quiet(false);
    }
}
