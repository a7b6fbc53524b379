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
//! The parser reads what real writers produce, not only what sct writes: either bias sign, dates
//! without zero padding, 1 to 7 fraction digits, a UTF-8 byte-order mark, records spanning lines.

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

    /// The severity for a `type` number; unknown numbers (some writers use 0) are information.
    pub fn from_code(code: u8) -> Self {
        match code {
            2 => Self::Warning,
            3 => Self::Error,
            _ => Self::Info,
        }
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

    /// The entry's instant in UTC, reading the bias the Win32 way (local + bias = UTC).
    pub fn utc(&self) -> Option<jiff::civil::DateTime> {
        self.time
            .checked_add(jiff::SignedDuration::from_mins(i64::from(
                self.bias_minutes,
            )))
            .ok()
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

/// Why a record could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line where the record starts.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole log: every byte must belong to a record (blank lines between records allowed).
pub fn parse_log(text: &str) -> Result<Vec<Entry>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    let mut rest = text;
    let mut line = 1;
    loop {
        let trimmed = rest.trim_start_matches(['\r', '\n']);
        line += rest[..rest.len() - trimmed.len()].matches('\n').count();
        rest = trimmed;
        if rest.is_empty() {
            return Ok(entries);
        }
        let fail = |reason: &str| ParseError {
            line,
            reason: reason.to_owned(),
        };
        let end = rest
            .find(END_MARKER)
            .ok_or_else(|| fail("no `]LOG]!>` ends the message"))?;
        let attrs_start = end + END_MARKER.len();
        let attrs_len = rest[attrs_start..]
            .find('>')
            .ok_or_else(|| fail("the attributes are not closed with `>`"))?;
        let record_len = attrs_start + attrs_len + 1;
        let entry = parse_record(&rest[..record_len]).map_err(|reason| fail(&reason))?;
        entries.push(entry);
        line += rest[..record_len].matches('\n').count();
        rest = &rest[record_len..];
    }
}

/// Parses one record, `<![LOG[...]LOG]!><...>`, with or without its line ending.
pub fn parse_record(record: &str) -> Result<Entry, String> {
    let record = record.trim_end_matches(['\r', '\n']);
    let body = record
        .strip_prefix(START_MARKER)
        .ok_or("the record does not start with `<![LOG[`")?;
    let end = body
        .find(END_MARKER)
        .ok_or("no `]LOG]!>` ends the message")?;
    let message = body[..end].replace("\r\n", "\n");
    let attrs = body[end + END_MARKER.len()..]
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .ok_or("the attributes are not enclosed in `<...>`")?;
    let get = |name: &str| attribute(attrs, name).ok_or(format!("no `{name}` attribute"));
    let (time, bias_minutes) = parse_time(&get("time")?)?;
    let date = parse_date(&get("date")?)?;
    let thread_text = get("thread")?;
    let digits: String = thread_text
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let thread = digits
        .parse()
        .map_err(|_| format!("thread `{thread_text}` is not a number"))?;
    let type_text = get("type")?;
    let severity = type_text
        .trim()
        .parse::<u8>()
        .map(Severity::from_code)
        .map_err(|_| format!("type `{type_text}` is not a number"))?;
    Ok(Entry {
        message,
        component: get("component")?,
        time: date.to_datetime(time),
        bias_minutes,
        context: attribute(attrs, "context").unwrap_or_default(),
        severity,
        thread,
        file: attribute(attrs, "file").unwrap_or_default(),
    })
}

/// The value of `name="value"` among the attributes.
fn attribute(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs;
    loop {
        let at = rest.find('=')?;
        let key = rest[..at].trim();
        let after = rest[at + 1..].strip_prefix('"')?;
        let close = after.find('"')?;
        if key == name {
            return Some(after[..close].to_owned());
        }
        rest = &after[close + 1..];
    }
}

/// `HH:mm:ss.fff±bias`: 1–7 fraction digits; a missing bias reads as 0.
fn parse_time(text: &str) -> Result<(jiff::civil::Time, i32), String> {
    let bad = || format!("time `{text}` is not HH:mm:ss.fff+bias");
    let (clock, bias) = match text.rfind(['+', '-']) {
        Some(at) => (&text[..at], text[at..].parse::<i32>().map_err(|_| bad())?),
        None => (text, 0),
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || fraction.is_empty() || fraction.len() > 9 {
        return Err(bad());
    }
    let number = |s: &str| -> Result<i8, String> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let nanos: i32 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
    let time = jiff::civil::Time::new(
        number(parts[0])?,
        number(parts[1])?,
        number(parts[2])?,
        nanos,
    )
    .map_err(|_| bad())?;
    Ok((time, bias))
}

/// `MM-dd-yyyy`, with or without zero padding.
fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    let bad = || format!("date `{text}` is not MM-dd-yyyy");
    let parts: Vec<&str> = text.trim().split('-').collect();
    let [month, day, year] = parts.as_slice() else {
        return Err(bad());
    };
    let month: i8 = month.parse().map_err(|_| bad())?;
    let day: i8 = day.parse().map_err(|_| bad())?;
    let year: i16 = year.parse().map_err(|_| bad())?;
    jiff::civil::Date::new(year, month, day).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parsed, vec![entry]);
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
    fn reads_what_other_writers_write() {
        // IME-style: unpadded date, 7 fraction digits, negative bias, thread with hex, BOM.
        let text = "\u{feff}<![LOG[Starting]LOG]!><time=\"9:05:03.1234567-60\" date=\"3-2-2026\" \
                    component=\"IntuneManagementExtension\" context=\"\" type=\"1\" thread=\"12 (0xC)\" file=\"\">\r\n\r\n\
                    <![LOG[Oops]LOG]!><time=\"23:59:59.5\" date=\"12-31-2025\" component=\"c\" type=\"3\" thread=\"7\">";
        let parsed = parse_log(text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0].time,
            jiff::civil::date(2026, 3, 2).at(9, 5, 3, 123_456_700)
        );
        assert_eq!(parsed[0].bias_minutes, -60);
        assert_eq!(parsed[0].thread, 12);
        assert_eq!(parsed[1].severity, Severity::Error);
        assert_eq!(parsed[1].bias_minutes, 0);
        assert_eq!(parsed[1].context, "");
    }

    #[test]
    fn refuses_what_is_not_a_record() {
        for bad in [
            "plain text\n",
            "<![LOG[no end marker\n",
            "<![LOG[x]LOG]!><time=\"25:00:00.000+0\" date=\"01-01-2026\" component=\"c\" type=\"1\" thread=\"1\">",
            "<![LOG[x]LOG]!><time=\"10:00:00.000+0\" date=\"2026-01-01\" component=\"c\" type=\"1\" thread=\"1\">",
            "<![LOG[x]LOG]!><time=\"10:00:00.000+0\" date=\"01-01-2026\" type=\"1\" thread=\"1\">",
            "<![LOG[x]LOG]!><time=\"10:00:00.000+0\" date=\"01-01-2026\" component=\"c\" type=\"1\" thread=\"t\">",
        ] {
            assert!(parse_log(bad).is_err(), "{bad}");
        }
        let good = format_entry(&sample("ok"), "\n");
        let err = parse_log(&format!("{good}{good}junk\n")).unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn utc_adds_the_bias() {
        let entry = sample("x");
        assert_eq!(
            entry.utc().unwrap(),
            jiff::civil::date(2026, 3, 7).at(11, 15, 1, 917_000_000)
        );
    }

    #[test]
    fn now_is_consistent_with_the_clock() {
        let entry = Entry::now(Severity::Info, "c", "m");
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
