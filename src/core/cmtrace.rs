//! CMTrace log records: the format ConfigMgr administrators read with CMTrace and OneTrace.
//!
//! sct writes the CCM ("client") format, one record per message (configmgr-facts.md §3):
//!
//! ```text
//! <![LOG[INFO:Downloading Payload <GUID> version 5.00.9132.1000]LOG]!><time="14:05:09.123+420" date="11-26-2026" component="sct-fetch" context="" type="1" thread="4242" file="fetch.rs:88">
//! ```
//!
//! `type` is the severity (1 information, 2 warning in yellow, 3 error in red); `time` carries the
//! local wall-clock time and the *bias*, the minutes added to local time to get UTC (Win32
//! `TIME_ZONE_INFORMATION.Bias`: `+420` in California in summer, `-060` in Paris in winter, `+000` in UTC).
//!
//! A message can never break its record nor start another: the closing marker `]LOG]!>` inside a
//! message is defused, line breaks, control characters, terminal escapes and bidi overrides are
//! written as visible escapes (`\n`, `\u{1b}`: [`crate::core::escape`]), so every record sct writes is
//! one line, and attribute values lose the quotes and angle brackets that would end them early.
//!
//! sct only writes these records; the tests read them back with the test kit's independent reader
//! (`sct_testkit::cmtrace`).

use std::fmt::Write as _;

/// How bad an entry is: CMTrace's `type` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `type="1"`: shown plain.
    Info = 1,
    /// `type="2"`: shown on yellow.
    Warning = 2,
    /// `type="3"`: shown on red.
    Error = 3,
}

impl Severity {
    /// The number CMTrace reads.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The original tool's message prefix: `INFO`, `WARNING` or `ERROR`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The text, as shown in CMTrace's *Log Text* column.
    pub message: String,
    /// The *Component* column: the tool or stage that wrote the entry.
    pub component: String,
    /// Local wall-clock date and time of the entry.
    pub time: jiff::civil::DateTime,
    /// Minutes added to [`Entry::time`] to get UTC, as written (readers accept either sign).
    pub bias_minutes: i32,
    /// The security context (user); sct leaves it empty.
    pub context: String,
    pub severity: Severity,
    /// The operating-system thread ID.
    pub thread: u64,
    /// The source location, such as `wrapper.rs:120`.
    pub file: String,
}

impl Entry {
    /// An entry stamped with the current local time and thread.
    pub fn now(severity: Severity, component: &str, message: &str) -> Self {
        let (time, bias_minutes) = local_now();
        Self {
            message: message.to_owned(),
            component: component.to_owned(),
            time,
            bias_minutes,
            context: String::new(),
            severity,
            thread: current_thread_id(),
            file: String::new(),
        }
    }
}

/// The current local time and its bias in minutes (UTC − local).
pub fn local_now() -> (jiff::civil::DateTime, i32) {
    let now = jiff::ZonedDateTime::now();
    let offset_minutes = now.offset().seconds() / 60;
    (now.datetime(), -offset_minutes)
}

/// The ID of the calling thread as the operating system knows it (`gettid` on Linux), so log
/// entries can be matched with `ps -L` or a debugger; elsewhere a small per-process number.
pub fn current_thread_id() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        let tid = unsafe { libc::gettid() };
        u64::try_from(tid).unwrap_or_default()
    }
    #[cfg(not(target_os = "linux"))]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        thread_local!(static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
        ID.with(|id| *id)
    }
}

/// The marker that ends a record's message.
const END_MARKER: &str = "]LOG]!>";
/// The marker that starts a record.
const START_MARKER: &str = "<![LOG[";
/// What a closing marker inside a message becomes: visibly the same text, no longer a marker.
const DEFUSED_END: &str = "]LOG]! >";

/// Makes message text safe inside a record: one line, with line breaks, control characters,
/// terminal escapes and bidi overrides written as visible escapes ([`crate::core::escape::escape`]),
/// and no closing marker. A forged line or record is therefore impossible, and every record is
/// one line of the file.
pub fn guard_message(text: &str) -> String {
    crate::core::escape::escape(text).replace(END_MARKER, DEFUSED_END)
}

/// Makes an attribute value safe inside its quotes: one line, no quotes or angle brackets.
pub fn guard_attribute(text: &str) -> String {
    crate::core::escape::escape(text)
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '<' | '>' => '_',
            c => c,
        })
        .collect()
}

/// Formats one record, ending with `newline`.
pub fn format_entry(entry: &Entry, newline: &str) -> String {
    let t = &entry.time;
    let mut out = String::with_capacity(entry.message.len() + 160);
    out.push_str(START_MARKER);
    out.push_str(&guard_message(&entry.message));
    out.push_str(END_MARKER);
    let _ = write!(
        out,
        "<time=\"{:02}:{:02}:{:02}.{:03}{:+04}\" date=\"{:02}-{:02}-{:04}\" component=\"{}\" context=\"{}\" type=\"{}\" thread=\"{}\" file=\"{}\">",
        t.hour(),
        t.minute(),
        t.second(),
        t.subsec_nanosecond() / 1_000_000,
        entry.bias_minutes,
        t.month(),
        t.day(),
        t.year(),
        guard_attribute(&entry.component),
        guard_attribute(&entry.context),
        entry.severity.code(),
        entry.thread,
        guard_attribute(&entry.file),
    );
    out.push_str(newline);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sct_testkit::cmtrace as reader;

    /// Reads a log back with the test kit's reader, which shares no code with this writer.
    fn parse_log(text: &str) -> Result<Vec<reader::Entry>, reader::ParseError> {
        reader::parse_log(text)
    }

    /// `entry` as the reader must see it after a round trip.
    fn as_read(entry: &Entry) -> reader::Entry {
        reader::Entry {
            message: entry.message.clone(),
            component: entry.component.clone(),
            time: entry.time,
            bias_minutes: entry.bias_minutes,
            context: entry.context.clone(),
            severity: reader::Severity::from_code(entry.severity.code()),
            thread: entry.thread,
            file: entry.file.clone(),
        }
    }

    fn sample(message: &str) -> Entry {
        Entry {
            message: message.to_owned(),
            component: "ServiceConnectionTool".to_owned(),
            time: jiff::civil::date(2026, 3, 7).at(4, 15, 1, 917_000_000),
            bias_minutes: 420,
            context: String::new(),
            severity: Severity::Warning,
            thread: 2868,
            file: "wrapper.rs:42".to_owned(),
        }
    }

    #[test]
    fn writes_the_ccm_format() {
        let line = format_entry(&sample("INFO:hello"), "\n");
        assert_eq!(
            line,
            "<![LOG[INFO:hello]LOG]!><time=\"04:15:01.917+420\" date=\"03-07-2026\" \
             component=\"ServiceConnectionTool\" context=\"\" type=\"2\" thread=\"2868\" \
             file=\"wrapper.rs:42\">\n"
        );
        let with_bias = |bias: i32| {
            let mut entry = sample("x");
            entry.bias_minutes = bias;
            format_entry(&entry, "\n")
        };
        assert!(with_bias(-120).contains(".917-120\""));
        assert!(with_bias(-60).contains(".917-060\""));
        assert!(with_bias(0).contains(".917+000\""));
        assert!(with_bias(-330).contains(".917-330\""));
    }

    #[test]
    fn round_trip() {
        let entry = sample(
            "INFO:Downloading Payload 248DC1EB-4B98-4483-BAF3-08C678C1CD0A version 5.0.9058.1000",
        );
        let parsed = parse_log(&format_entry(&entry, "\r\n")).unwrap();
        assert_eq!(parsed, vec![as_read(&entry)]);
    }

    #[test]
    fn line_breaks_in_a_message_stay_inside_one_line() {
        let entry = sample("ERROR:first line\r\nsecond line\nthird\rfourth");
        let text = format!(
            "{}{}",
            format_entry(&entry, "\n"),
            format_entry(&sample("next"), "\n")
        );
        assert_eq!(text.lines().count(), 2);
        let parsed = parse_log(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0].message,
            r"ERROR:first line\r\nsecond line\nthird\rfourth"
        );
        assert_eq!(parsed[1].message, "next");
    }

    #[test]
    fn hostile_text_cannot_break_the_record() {
        let hostile = "evil]LOG]!><time=\"00:00:00.000+0\" date=\"01-01-1970\" component=\"x\" \
                       context=\"\" type=\"1\" thread=\"1\" file=\"\">\n<![LOG[forged]LOG]!>]LOG]]LOG]!>>\u{1b}[31mred\u{1b}[0m\u{0}\u{202e}";
        let mut entry = sample(hostile);
        entry.component = "comp\"onent>\n".to_owned();
        entry.file = "a\nb".to_owned();
        let text = format_entry(&entry, "\n");
        assert_eq!(text.matches(END_MARKER).count(), 1, "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\u{0}') && !text.contains('\u{202e}'));
        let parsed = parse_log(&text).unwrap();
        assert_eq!(parsed.len(), 1);
        assert!(parsed[0].message.starts_with("evil]LOG]! ><time="));
        assert!(
            parsed[0]
                .message
                .ends_with(r"]LOG]]LOG]! >>\u{1b}[31mred\u{1b}[0m\u{0}\u{202e}"),
            "{}",
            parsed[0].message
        );
        assert_eq!(parsed[0].component, r"comp'onent_\n");
        assert_eq!(parsed[0].file, r"a\nb");
        assert_eq!(parsed[0].time, entry.time);
    }

    #[test]
    fn now_is_consistent_with_the_clock() {
        let written = Entry::now(Severity::Info, "c", "m");
        let entry = &parse_log(&format_entry(&written, "\n")).unwrap()[0];
        let utc = entry.utc().unwrap();
        let real = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .datetime();
        let gap = utc.duration_until(real).as_secs().abs();
        assert!(
            gap <= 3600,
            "local {} bias {} gives {utc}, clock says {real}",
            entry.time,
            entry.bias_minutes
        );
        assert!(entry.thread > 0);
    }
}
