//! The time import judges catalog expiry by, with a test clock for debug builds.
//!
//! Expiry and its grace are measured in days; tests cannot wait for them. Like the fault hook
//! ([`crate::core::fault`]), a debug build reads `SCT_TEST_NOW` (an RFC 3339 time such as
//! `2027-01-15T00:00:00Z`) and uses it as "now"; release builds compile the hook away, so a stray
//! variable can never move a production clock.

/// The environment variable holding the test clock (debug builds only).
pub const ENV_TEST_NOW: &str = "SCT_TEST_NOW";

/// The current time; in debug builds `SCT_TEST_NOW` when it is set and valid.
pub fn now() -> jiff::Timestamp {
    #[cfg(debug_assertions)]
    if let Some(at) = std::env::var(ENV_TEST_NOW)
        .ok()
        .and_then(|v| v.trim().parse::<jiff::Timestamp>().ok())
    {
        return at;
    }
    jiff::Timestamp::now()
}
