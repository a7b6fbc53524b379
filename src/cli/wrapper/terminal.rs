//! What `ServiceConnectionTool` prints for a person: one line per step and per pack on stderr,
//! each with the original's severity (`INFO:`, `WARNING:`, `ERROR:`), while stdout carries JSON
//! only when it is piped or `-json` asks for it.

use std::io::Write;

/// A note with a severity: messages that carry none are `INFO:`.
pub fn with_severity(message: &str) -> String {
    if ["ERROR:", "WARNING:", "INFO:"]
        .iter()
        .any(|tag| message.starts_with(tag))
    {
        message.to_owned()
    } else {
        format!("INFO: {message}")
    }
}

pub use crate::cli::count;

/// The readable line for one `sct.import.v1` record, or `None` for records a person need not
/// see line by line (the summary, which the wrapper states itself).
pub fn import_line(record: &serde_json::Value) -> Option<String> {
    if record["type"] != "pack" {
        return None;
    }
    let text = |key: &str| record[key].as_str().unwrap_or_default().to_owned();
    let pack = format!(
        "{} {} ({})",
        text("name"),
        text("full_version"),
        text("package_guid").to_uppercase()
    );
    let reason = record["reason"]
        .as_str()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    Some(match record["outcome"].as_str().unwrap_or_default() {
        "imported" => format!("INFO: imported {pack}"),
        "already_present" => format!("INFO: {pack} is already in the site"),
        "skipped_other_hierarchy" => format!("INFO: {pack} is for another hierarchy: skipped"),
        "not_applicable" => format!("INFO: {pack} does not apply to this site{reason}"),
        "would_import" => format!("INFO: would import {pack}"),
        "failed" => format!("ERROR: {pack} failed{reason}"),
        other => format!("INFO: {pack}: {other}"),
    })
}

/// A writer that takes import's JSON lines and prints each as a readable note on stderr.
#[derive(Default)]
pub struct ImportLines {
    pending: Vec<u8>,
}

impl Write for ImportLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            if let Ok(record) = serde_json::from_slice::<serde_json::Value>(&line)
                && let Some(text) = import_line(&record)
            {
                crate::cli::note(super::TOOL, text);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_errors_and_the_rest_info() {
        let record = |outcome: &str| {
            serde_json::json!({
                "schema": "sct.import.v1", "type": "pack", "outcome": outcome,
                "name": "Configuration Manager 2503", "full_version": "5.00.9135.1000",
                "package_guid": "8576527e-0000-4000-8000-000000000001", "reason": "why"
            })
        };
        assert!(
            import_line(&record("failed"))
                .unwrap()
                .starts_with("ERROR: Configuration Manager 2503 5.00.9135.1000 (8576527E-")
        );
        let na = import_line(&record("not_applicable")).unwrap();
        assert!(na.starts_with("INFO: ") && na.ends_with("does not apply to this site: why"));
        assert_eq!(import_line(&serde_json::json!({"type": "summary"})), None);
        assert_eq!(with_severity("ERROR: x"), "ERROR: x");
        assert_eq!(with_severity("importing x"), "INFO: importing x");
        assert_eq!(count(1, "update pack", "update packs"), "1 update pack");
        assert_eq!(count(0, "update pack", "update packs"), "0 update packs");
    }
}
