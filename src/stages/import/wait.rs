//! `--wait`: watch the site take the imported packs, reading `CM_UpdatePackages` only.
//!
//! On a real site, SMS_DMP_DOWNLOADER and HMAN process the offline inbox and move each package's
//! `State` from 327682 (available) through 262145 (downloading) to 262146 (Ready to install).
//! The tool keeps the original's read-only contract: it polls with [`SiteStore::update_packages`]
//! and prints each change by name. Time is injected (`sleep`) and the limit is a number of polls,
//! so tests run without clocks.

use crate::site::{SiteStore, state};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// How long and how often to poll.
#[derive(Clone, Debug)]
pub struct WaitOptions {
    pub interval: Duration,
    /// Give up after this many polls.
    pub max_polls: u32,
}

impl WaitOptions {
    /// Polls every `interval` for at most `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        let polls = timeout.as_millis() / interval.as_millis().max(1);
        Self {
            interval,
            max_polls: u32::try_from(polls).unwrap_or(u32::MAX).max(1),
        }
    }
}

/// One `sct.import.v1` line per observed state change.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StateEvent {
    pub schema: crate::core::document::Tag<Self>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub package_guid: Uuid,
    /// `None` while the site has no row for the pack yet.
    pub state: Option<i32>,
    pub state_name: Option<&'static str>,
    pub console_text: Option<&'static str>,
}

impl crate::core::document::Document for StateEvent {
    const SCHEMA: &'static str = super::SCHEMA;
}

/// How the wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitEnd {
    /// Every pack reached Ready to install (or later).
    Ready,
    /// A pack reached a failure state.
    Failed,
    /// The limit passed first.
    TimedOut,
}

/// States after which polling a pack stops.
fn is_final(code: i32) -> bool {
    code == state::DOWNLOAD_SUCCESS
        || code == state::DOWNLOAD_FAILED
        || code == state::INSTALL_SUCCESS
        || (196_609..=196_629).contains(&code)
        || (393_213..=393_215).contains(&code)
}

fn is_failure(code: i32) -> bool {
    code == state::DOWNLOAD_FAILED || (393_213..=393_215).contains(&code)
}

/// Polls until every pack's state is final, emitting a [`StateEvent`] whenever one changes.
pub fn wait_for_states(
    store: &dyn SiteStore,
    packs: &[Uuid],
    options: &WaitOptions,
    sleep: &mut dyn FnMut(Duration),
    emit: &mut crate::core::report::Events<'_, StateEvent>,
) -> anyhow::Result<WaitEnd> {
    let mut last: BTreeMap<Uuid, Option<i32>> = BTreeMap::new();
    for poll in 0..options.max_polls {
        if poll > 0 {
            sleep(options.interval);
        }
        let rows = store.update_packages()?;
        let mut done = true;
        for guid in packs {
            let code = rows
                .iter()
                .find(|r| r.package_guid == *guid)
                .map(|r| r.state);
            if last.get(guid) != Some(&code) {
                last.insert(*guid, code);
                emit(&StateEvent {
                    schema: crate::core::document::Tag::new(),
                    kind: "state",
                    package_guid: *guid,
                    state: code,
                    state_name: code.and_then(state::name),
                    console_text: code.map(state::console_text).filter(|t| !t.is_empty()),
                })?;
            }
            done &= code.is_some_and(is_final);
        }
        if done {
            let failed = last.values().any(|c| c.is_some_and(is_failure));
            return Ok(if failed {
                WaitEnd::Failed
            } else {
                WaitEnd::Ready
            });
        }
    }
    Ok(WaitEnd::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::{DiagnosticsLevel, SiteIdentity, UpdatePackage, UsageRow};
    use std::cell::RefCell;

    /// A read-only site whose packages move one state per poll, as SMS_DMP_DOWNLOADER would.
    struct MovingSite {
        guid: Uuid,
        script: Vec<Option<i32>>,
        polls: RefCell<usize>,
    }

    impl SiteStore for MovingSite {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn identity(&self) -> anyhow::Result<SiteIdentity> {
            unimplemented!()
        }
        fn usage_rows(&self, _: DiagnosticsLevel) -> anyhow::Result<Vec<UsageRow>> {
            unimplemented!()
        }
        fn update_packages(&self) -> anyhow::Result<Vec<UpdatePackage>> {
            let mut polls = self.polls.borrow_mut();
            let code = self.script[(*polls).min(self.script.len() - 1)];
            *polls += 1;
            Ok(code
                .map(|state| UpdatePackage {
                    package_guid: self.guid,
                    name: "2409".into(),
                    full_version: "5.00.9132.1000".parse().unwrap(),
                    update_type: 0,
                    state,
                    min_cm_version: "5.00.9106.1000".parse().unwrap(),
                    max_cm_version: "5.00.9132.1000".parse().unwrap(),
                    date_released: String::new(),
                    last_update_time: String::new(),
                })
                .into_iter()
                .collect())
        }
    }

    fn watch(
        script: Vec<Option<i32>>,
        max_polls: u32,
    ) -> (WaitEnd, Vec<Option<&'static str>>, u32) {
        let site = MovingSite {
            guid: Uuid::new_v4(),
            script,
            polls: RefCell::new(0),
        };
        let mut names = Vec::new();
        let mut sleeps = 0;
        let options = WaitOptions {
            interval: Duration::from_secs(10),
            max_polls,
        };
        let end = wait_for_states(
            &site,
            &[site.guid],
            &options,
            &mut |_| sleeps += 1,
            &mut |e| {
                names.push(e.state_name);
                Ok(())
            },
        )
        .unwrap();
        (end, names, sleeps)
    }

    #[test]
    fn reports_each_state_by_name_until_ready() {
        let (end, names, sleeps) = watch(
            vec![
                None,
                Some(327_682),
                Some(327_682),
                Some(262_145),
                Some(262_146),
            ],
            100,
        );
        assert_eq!(end, WaitEnd::Ready);
        assert_eq!(
            names,
            vec![
                None,
                Some("APPLICABILITY_SUCCESS"),
                Some("DOWNLOAD_IN_PROGRESS"),
                Some("DOWNLOAD_SUCCESS")
            ]
        );
        assert_eq!(sleeps, 4);
    }

    #[test]
    fn failure_and_timeout_are_reported() {
        assert_eq!(
            watch(vec![Some(262_145), Some(327_679)], 10).0,
            WaitEnd::Failed
        );
        let (end, names, _) = watch(vec![Some(327_682)], 3);
        assert_eq!(end, WaitEnd::TimedOut);
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn options_turn_a_timeout_into_polls() {
        let o = WaitOptions::new(Duration::from_secs(10), Duration::from_secs(3600));
        assert_eq!(o.max_polls, 360);
        assert_eq!(
            WaitOptions::new(Duration::from_secs(10), Duration::ZERO).max_polls,
            1
        );
    }
}
