//! What `ServiceConnectionTool` prints for a person: one line per step and per pack on stderr,
//! each with the original's severity (`INFO:`, `WARNING:`, `ERROR:`), while stdout carries JSON
//! only when it is piped or `-json` asks for it.

use crate::stages::import::{Outcome, PackEvent};

pub use crate::cli::count;

/// The readable line for one imported (or skipped, or failed) pack.
pub fn import_line(event: &PackEvent) -> String {
    let pack = format!(
        "{} {} ({})",
        event.name,
        event.full_version,
        event.package_guid.to_string().to_uppercase()
    );
    let reason = event
        .detail
        .reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    match event.detail.outcome {
        Outcome::Imported => format!("INFO: imported {pack}"),
        Outcome::AlreadyPresent => format!("INFO: {pack} is already in the site"),
        Outcome::SkippedOtherHierarchy => format!("INFO: {pack} is for another hierarchy: skipped"),
        Outcome::NotApplicable => format!("INFO: {pack} does not apply to this site{reason}"),
        Outcome::WouldImport => format!("INFO: would import {pack}"),
        Outcome::Failed => format!("ERROR: {pack} failed{reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::import::PackImported;

    #[test]
    fn failures_are_errors_and_the_rest_info() {
        let guid = "8576527e-0000-4000-8000-000000000001".parse().unwrap();
        let pack = crate::core::catalog::tests::pack_2409(guid, "a.cab", b"abc");
        let event = |outcome| {
            PackEvent::new(
                &pack,
                PackImported {
                    outcome,
                    reason: Some("why".into()),
                    path: None,
                    files: 1,
                    bytes: 3,
                    state: None,
                    state_name: None,
                    failure: None,
                },
            )
        };
        assert!(
            import_line(&event(Outcome::Failed))
                .starts_with("ERROR: Configuration Manager 2409 5.00.9132.1000 (8576527E-")
        );
        let na = import_line(&event(Outcome::NotApplicable));
        assert!(na.starts_with("INFO: ") && na.ends_with("does not apply to this site: why"));
        assert_eq!(count(1, "update pack", "update packs"), "1 update pack");
        assert_eq!(count(0, "update pack", "update packs"), "0 update packs");
    }
}
