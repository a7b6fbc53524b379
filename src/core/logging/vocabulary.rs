//! The original tool's sentences, so admins' searches of its logs still match sct's.
//!
//! Each function returns the message text without its severity word (the log adds `INFO:` or
//! `ERROR:`). GUIDs are written in upper case, as the original writes them.

use crate::core::version::CmVersion;
use std::fmt::Display;
use uuid::Uuid;

fn guid(id: &Uuid) -> String {
    id.to_string().to_uppercase()
}

/// `Downloading Payload <GUID> version <v>. More information: <link>` (ServiceConnectionTool.log).
pub fn downloading_payload(id: &Uuid, version: &CmVersion, more_info: &str) -> String {
    let mut text = format!("Downloading Payload {} version {version}", guid(id));
    if !more_info.is_empty() {
        text.push_str(&format!(". More information: {more_info}"));
    }
    text
}

/// `Downloaded Payload <GUID> size = <bytes>`.
pub fn downloaded_payload(id: &Uuid, size: u64) -> String {
    format!("Downloaded Payload {} size = {size}", guid(id))
}

/// `<file> (size = <bytes>) downloaded successfully`.
pub fn downloaded_successfully(name: &str, size: u64) -> String {
    format!("{name} (size = {size}) downloaded successfully")
}

/// `Downloading <url> as <file>` (ConfigMgrSetup.log). Pass URLs through [`super::redact`]
/// first if they could carry credentials; the log masks them anyway.
pub fn downloading_as(url: &str, name: &str) -> String {
    format!("Downloading {url} as {name}")
}

/// The hash check's outcome, with both digests as DMPDownloader logs them.
pub fn hash_checked(path: impl Display, expected: &str, actual: &str) -> String {
    let verdict = if expected.eq_ignore_ascii_case(actual) {
        "passed"
    } else {
        "FAILED"
    };
    format!(
        "Hash check {verdict} for file '{path}' with HashAlgorithm = SHA256: expected hash = {expected}, actual hash = {actual}"
    )
}

/// `No proxy information is specified. Connect without proxy.`
pub fn no_proxy() -> &'static str {
    "No proxy information is specified. Connect without proxy."
}

/// `Using proxy <uri>`, the URI masked.
pub fn using_proxy(uri: &str) -> String {
    format!("Using proxy {}", super::redact(uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_matches_the_original_sentences() {
        let id: uuid::Uuid = "248dc1eb-4b98-4483-baf3-08c678c1cd0a".parse().unwrap();
        let version = "5.00.9058.1000".parse().unwrap();
        assert_eq!(
            downloading_payload(
                &id,
                &version,
                "https://go.microsoft.com/fwlink/?LinkId=2166085"
            ),
            "Downloading Payload 248DC1EB-4B98-4483-BAF3-08C678C1CD0A version 5.00.9058.1000. \
             More information: https://go.microsoft.com/fwlink/?LinkId=2166085"
        );
        assert_eq!(
            downloaded_payload(&id, 967280807),
            "Downloaded Payload 248DC1EB-4B98-4483-BAF3-08C678C1CD0A size = 967280807"
        );
        assert_eq!(
            downloaded_successfully("ConfigMgr.Update.Manifest.cab", 15741046),
            "ConfigMgr.Update.Manifest.cab (size = 15741046) downloaded successfully"
        );
        assert!(hash_checked("a.cab", "AB", "ab").starts_with("Hash check passed"));
        assert!(hash_checked("a.cab", "ab", "cd").contains("FAILED"));
        assert_eq!(
            using_proxy("http://jq:pw@itproxy:80"),
            "Using proxy http://jq:****@itproxy:80"
        );
    }
}
