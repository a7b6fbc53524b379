//! Progress bars for long transfers (bytes, rate, ETA) on stderr, for a person watching.
//!
//! Bars appear only when stderr is a terminal, `--quiet` was not given ([`set_quiet`]) and `TERM`
//! is not `dumb`; piped or redirected, a stage prints no bars at all, so logs and CI output stay
//! clean. `NO_COLOR` (set and not empty, see no-color.org) draws them without colour. Bars never go
//! to stdout, which carries only JSON, and never to the log files.
//!
//! ```no_run
//! let bar = sct::cli::progress::Progress::bytes(1_048_576, "248DC1EB.cab");
//! bar.inc(65_536);
//! bar.finish();
//! ```

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::ffi::OsStr;
use std::io::IsTerminal;
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

/// Adds a bar made elsewhere to the process's bars, so [`suspend`] clears it too.
pub fn add(bar: ProgressBar) -> ProgressBar {
    shared().add(bar)
}

/// Runs `f` with every bar cleared and redraws them after: for any line printed on stderr while
/// bars may be drawn ([`crate::cli::note`] does this). Nested calls simply run `f`.
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

/// What a bar counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes, with rate and time left (downloads, copies).
    Bytes,
    /// Whole things, such as packs imported or files verified.
    Items,
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

/// One transfer's bar; every method does nothing when bars are off. Clones share the bar, so a
/// clone can move into a download task.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `total` bytes, labelled (a file name, a pack GUID), shown per [`current`].
    pub fn bytes(total: u64, label: &str) -> Self {
        Self::with_display(total, label, Unit::Bytes, current())
    }

    /// A bar for `total` things (packs, files), shown per [`current`].
    pub fn items(total: u64, label: &str) -> Self {
        Self::with_display(total, label, Unit::Items, current())
    }

    /// A bar shown per an explicit decision.
    pub fn with_display(total: u64, label: &str, unit: Unit, display: Display) -> Self {
        Self {
            bar: display
                .bars
                .then(|| add(new_bar(total, label, unit, display))),
        }
    }

    /// No bar at all.
    pub fn hidden() -> Self {
        Self::default()
    }

    /// Whether a bar is drawn.
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Adds `n` bytes done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Sets the bytes done, as when a download resumes from a partial file.
    pub fn set_position(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// A short status after the numbers (`retry 2 of 5`, `verifying`).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(crate::core::escape::escape(&message.into()).into_owned());
        }
    }

    /// Marks the transfer done and leaves the full bar on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    /// Marks the transfer done and removes the bar, so output that follows starts on a clean line.
    pub fn finish_and_clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Stops the bar where it is, after a failure.
    pub fn abandon(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

/// Several bars drawn together, for parallel downloads; notes printed through it appear above them.
#[derive(Clone, Debug)]
pub struct ProgressGroup {
    multi: Option<MultiProgress>,
    display: Display,
}

impl Default for ProgressGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressGroup {
    /// A group shown per [`current`].
    pub fn new() -> Self {
        Self::with_display(current())
    }

    /// A group shown per an explicit decision.
    pub fn with_display(display: Display) -> Self {
        Self {
            multi: display.bars.then(|| shared().clone()),
            display,
        }
    }

    /// Adds a bar for `total` bytes.
    pub fn bytes(&self, total: u64, label: &str) -> Progress {
        self.add(total, label, Unit::Bytes)
    }

    /// Adds a bar for `total` things, such as an overall "packs done" bar above the downloads.
    pub fn items(&self, total: u64, label: &str) -> Progress {
        self.add(total, label, Unit::Items)
    }

    fn add(&self, total: u64, label: &str, unit: Unit) -> Progress {
        match &self.multi {
            Some(multi) => Progress {
                bar: Some(multi.add(new_bar(total, label, unit, self.display))),
            },
            None => Progress::hidden(),
        }
    }

    /// Prints a line on stderr without tearing the bars (plain `eprintln!` when there are none),
    /// escaped as every line for people is ([`crate::cli::shown`]).
    pub fn println(&self, line: impl AsRef<str>) {
        let line = crate::cli::shown(&line.as_ref());
        match &self.multi {
            Some(multi) if multi.println(&line).is_ok() => {}
            _ => eprintln!("{line}"),
        }
    }

    /// Runs `f` with the bars cleared, for output that must not mix with them (a prompt).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(_) => suspend(f),
            None => f(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn hidden_bars_are_inert() {
        let off = decide(false, false, None, None);
        let bar = Progress::with_display(100, "x.cab", Unit::Bytes, off);
        assert!(!bar.is_visible());
        bar.inc(10);
        bar.set_position(50);
        bar.set_message("retry");
        bar.finish();
        bar.finish_and_clear();
        let group = ProgressGroup::with_display(off);
        assert!(!group.bytes(10, "y").is_visible());
        assert!(!group.items(10, "z").is_visible());
        assert_eq!(group.suspend(|| 7), 7);
    }

    #[test]
    fn nested_suspends_do_not_deadlock() {
        let on = decide(true, false, os("1"), os("xterm"));
        let group = ProgressGroup::with_display(on);
        let bar = group.bytes(10, "n");
        assert_eq!(group.suspend(|| suspend(|| suspend(|| 3))), 3);
        bar.finish_and_clear();
    }

    #[test]
    fn visible_bars_count_bytes() {
        let on = decide(true, false, os("1"), os("xterm"));
        let bar = Progress::with_display(100, "x.cab", Unit::Bytes, on);
        assert!(bar.is_visible());
        bar.set_position(40);
        bar.clone().inc(10);
        assert_eq!(bar.bar.as_ref().map(ProgressBar::position), Some(50));
        bar.finish();
        let group = ProgressGroup::with_display(on);
        let one = group.bytes(5, "a");
        one.inc(5);
        assert_eq!(one.bar.as_ref().map(ProgressBar::position), Some(5));
        let packs = group.items(3, "packs");
        packs.inc(1);
        assert_eq!(packs.bar.as_ref().map(ProgressBar::length), Some(Some(3)));
    }

    #[test]
    fn quiet_switch_is_process_wide() {
        set_quiet(true);
        assert!(!current().bars);
        assert!(!Progress::bytes(1, "q").is_visible());
        set_quiet(false);
    }
}
