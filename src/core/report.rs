//! What library code tells the person running it — notes and progress bars — through the one
//! reporter the front end installs.
//!
//! Stages, site back ends and the service never print. They call [`note`] or open a
//! [`Progress`]; the reporter installed once per process ([`install`], done by
//! `sct::cli::run`) decides how that reaches a person: one escaped line on stderr above the bars,
//! a bar drawn or not (`--quiet`, a pipe, `TERM=dumb`, `NO_COLOR`). With no reporter installed
//! (the library used on its own, unit tests) nothing is shown. It is the `log` crate's pattern:
//! one facade for every caller, one implementation chosen by the binary. Log files are separate
//! ([`crate::core::logging`]): they record, this shows.
//!
//! What a stage produces item by item — a pack fetched, an offer made, a pack imported — is not
//! a note: it is machine output. A stage hands each such event, as it happens, to the caller's
//! [`Events`] callback; the front end writes it as a JSON line, the wrapper as a readable line,
//! a test collects it.

use std::fmt::Display;
use std::sync::{Arc, OnceLock};

/// The front end's way of showing things to a person.
pub trait Reporter: Send + Sync {
    /// Shows one note, on behalf of the program `tool` (the front end may name the program the
    /// operator actually ran instead).
    fn note(&self, tool: &str, message: &str);
    /// A new bar of `total` units, or `None` when bars are not drawn.
    fn bar(&self, total: u64, label: &str, unit: Unit) -> Option<Box<dyn Bar>>;
    /// Runs `f` with every bar cleared, so what `f` shows never shares a line with a bar.
    fn suspend(&self, f: &mut dyn FnMut());
}

/// One drawn bar, as the front end draws it.
pub trait Bar: Send + Sync {
    fn set_position(&self, done: u64);
    fn inc(&self, n: u64);
    fn set_message(&self, message: &str);
    /// Done: leave the full bar on screen.
    fn finish(&self);
    /// Done: remove the bar, so what follows starts on a clean line.
    fn finish_and_clear(&self);
    /// Failed: stop the bar where it is.
    fn abandon(&self);
}

/// What a bar counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes, with rate and time left.
    Bytes,
    /// Things: packs, files.
    Items,
}

/// Where a stage sends its per-item events, in order, as they happen (`on_event` in every
/// stage). An error from it (stdout closed) stops the stage and is returned.
pub type Events<'a, E> = dyn FnMut(&E) -> anyhow::Result<()> + 'a;

static REPORTER: OnceLock<Box<dyn Reporter>> = OnceLock::new();

/// Installs the process's reporter. The first one stays; a later call changes nothing.
pub fn install(reporter: Box<dyn Reporter>) {
    let _ = REPORTER.set(reporter);
}

/// Shows a note to the person running `tool`; nothing without a reporter.
pub fn note(tool: &str, message: impl Display) {
    if let Some(reporter) = REPORTER.get() {
        reporter.note(tool, &message.to_string());
    }
}

/// Runs `f` with every bar cleared (for a prompt, or a line another writer prints).
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let Some(reporter) = REPORTER.get() else {
        return f();
    };
    let mut f = Some(f);
    let mut result = None;
    reporter.suspend(&mut || result = f.take().map(|f| f()));
    result.unwrap_or_else(|| unreachable!("a reporter's suspend runs its closure"))
}

/// `1 update pack`, `2 update packs`: a count that reads as a sentence.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One transfer's bar; every method does nothing when no bar is drawn. Clones share the bar, so a
/// clone can move into a download task.
#[derive(Clone, Default)]
pub struct Progress {
    bar: Option<Arc<dyn Bar>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("visible", &self.is_visible())
            .finish()
    }
}

impl Progress {
    /// A bar for `total` bytes, labelled (a file name, a pack GUID).
    pub fn bytes(total: u64, label: &str) -> Self {
        Self::new(total, label, Unit::Bytes)
    }

    /// A bar for `total` things (packs, files).
    pub fn items(total: u64, label: &str) -> Self {
        Self::new(total, label, Unit::Items)
    }

    fn new(total: u64, label: &str, unit: Unit) -> Self {
        let bar = REPORTER.get().and_then(|r| r.bar(total, label, unit));
        Self {
            bar: bar.map(Arc::from),
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

    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Sets the units done, as when a download resumes from a partial file.
    pub fn set_position(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// A short status after the numbers (`retry 2 of 5`, `verifying`).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(&message.into());
        }
    }

    /// Marks the transfer done and leaves the full bar on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    /// Marks the transfer done and removes the bar.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_reporter_nothing_is_shown_and_work_still_runs() {
        // Unit tests install no reporter: notes vanish, bars are hidden, suspend runs its closure.
        note("sct-test", "unseen");
        let bar = Progress::bytes(10, "x");
        assert!(!bar.is_visible());
        bar.inc(5);
        assert_eq!(suspend(|| 42), 42);
        assert_eq!(count(1, "pack", "packs"), "1 pack");
        assert_eq!(count(2, "pack", "packs"), "2 packs");
    }
}
