//! A CMTrace log reader for tests: the format ConfigMgr administrators read with CMTrace and
//! OneTrace, as sct's writer (`sct::cmtrace`) produces it and as other writers do.
//!
//! It reads what real writers produce, not only what sct writes: either bias sign, dates without
//! zero padding, 1 to 7 fraction digits, a UTF-8 byte-order mark, records spanning lines. It
//! shares no code with sct's writer, so a test that reads a log back checks the writer against
//! the format, not against itself.

/// The marker that starts a record.
const START_MARKER: &str = "<![LOG[";
/// The marker that ends a record's message.
const END_MARKER: &str = "]LOG]!>";

/// How bad an entry is: CMTrace's `type` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `type="1"` (and any number CMTrace does not colour).
    Info,
    /// `type="2"`: shown on yellow.
    Warning,
    /// `type="3"`: shown on red.
    Error,
}

impl Severity {
    /// The severity for a `type` number; unknown numbers (some writers use 0) are information.
    pub fn from_code(code: u8) -> Self {
        match code {
            2 => Self::Warning,
            3 => Self::Error,
            _ => Self::Info,
        }
    }
}

/// One record as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The text, as shown in CMTrace's *Log Text* column.
    pub message: String,
    /// The *Component* column.
    pub component: String,
    /// Local wall-clock date and time of the entry.
    pub time: jiff::civil::DateTime,
    /// Minutes added to [`Entry::time`] to get UTC, as written.
    pub bias_minutes: i32,
    /// The security context (user); empty when the record has none.
    pub context: String,
    pub severity: Severity,
    /// The thread ID (the leading number of the attribute).
    pub thread: u64,
    /// The source location; empty when the record has none.
    pub file: String,
}

impl Entry {
    /// The entry's instant in UTC, reading the bias the Win32 way (local + bias = UTC).
    pub fn utc(&self) -> Option<jiff::civil::DateTime> {
        self.time
            .checked_add(jiff::SignedDuration::from_mins(i64::from(
                self.bias_minutes,
            )))
            .ok()
    }
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

    const GOOD: &str = "<![LOG[ok]LOG]!><time=\"04:15:01.917+420\" date=\"03-07-2026\" \
                        component=\"c\" context=\"\" type=\"2\" thread=\"2868\" file=\"x.rs:1\">\n";

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
        assert_eq!(parse_log(GOOD).unwrap().len(), 1);
        let err = parse_log(&format!("{GOOD}{GOOD}junk\n")).unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn utc_adds_the_bias() {
        let entry = &parse_log(GOOD).unwrap()[0];
        assert_eq!(
            entry.time,
            jiff::civil::date(2026, 3, 7).at(4, 15, 1, 917_000_000)
        );
        assert_eq!(
            entry.utc().unwrap(),
            jiff::civil::date(2026, 3, 7).at(11, 15, 1, 917_000_000)
        );
    }
}
