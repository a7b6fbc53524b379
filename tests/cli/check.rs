//! `sct-check`: on good settings every check passes; each broken piece of ground makes it fail
//! with the check that names the culprit and that check's exit class.

use crate::exit::assert_exit;
use crate::kit::{Server, Trip, closed_port, one_cab, published, test_certificates};
use crate::support::{Env, Mount, stderr_of, stdout_of};
use serde_json::Value;
use std::path::PathBuf;

/// A site server with an installed demo site (2403) and the internet side's service, usage cab
/// and drive, as an operator's settings give them.
struct Ground {
    env: Env,
    site: String,
    install: PathBuf,
    trip: Trip,
    cab: String,
}

impl Ground {
    fn new() -> Self {
        let env = Env::new();
        let (site, install) =
            env.installed_site("site", "install", &["--version", "5.00.9128.1000"]);
        let trip = Trip::start(&env);
        let cab = one_cab(&env);
        Self {
            env,
            site,
            install,
            trip,
            cab,
        }
    }

    fn dest(&self) -> PathBuf {
        self.trip.usb.join("UpdatePacks")
    }

    /// `sct-check --json` with every setting, plus `extra`.
    fn check(&self, extra: &[&str], vars: &[(&str, &str)]) -> (std::process::Output, Value) {
        let mut cmd = self
            .trip
            .server
            .client(&self.env, "sct-check", &self.trip.service);
        cmd.env("SCT_SITE", &self.site)
            .args([
                "--json",
                "--timeout",
                "10",
                "--usage-src",
                &self.cab,
                "--dest",
            ])
            .arg(self.dest())
            .args(extra);
        for (key, value) in vars {
            cmd.env(key, value);
        }
        let out = cmd.output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout_of(&out), stderr_of(&out)));
        assert_eq!(report["schema"], "sct.check.v1");
        (out, report)
    }
}

/// The check with this id.
fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {report:#}"))
}

/// `id` failed, and what it found contains every one of `words`.
fn failed(report: &Value, id: &str, words: &[&str]) {
    let c = check(report, id);
    assert_eq!(c["status"], "fail", "{report:#}");
    let found = c["found"].as_str().unwrap();
    for word in words {
        assert!(found.contains(word), "{id} does not name {word:?}: {found}");
    }
    assert!(!c["fix"].as_str().unwrap_or_default().is_empty(), "{c}");
}

#[test]
fn on_the_demo_settings_every_check_passes_and_nothing_changes() {
    let g = Ground::new();
    let before = crate::support::tree(g.env.dir.path());
    let (out, report) = g.check(&[], &[]);
    assert!(out.status.success(), "{report:#}\n{}", stderr_of(&out));
    assert_eq!(report["ok"], true);
    for c in report["checks"].as_array().unwrap() {
        // Plain HTTP to the test service is a warning, not a failure.
        let allowed = if c["id"] == "service.tls" {
            vec!["ok", "warn"]
        } else {
            vec!["ok"]
        };
        assert!(allowed.contains(&c["status"].as_str().unwrap()), "{c}");
    }
    let room = check(&report, "destination.room")["found"]
        .as_str()
        .unwrap();
    assert!(
        room.contains("bytes free") && room.contains("needs"),
        "{room}"
    );
    let settings = check(&report, "settings")["found"].as_str().unwrap();
    assert!(
        settings.contains("site = sqlite:") && settings.contains("(variable SCT_SITE)"),
        "{settings}"
    );
    // Read only: the scratch folder holds what it held (the inbox is not created, no temp file).
    assert_eq!(crate::support::tree(g.env.dir.path()), before);
}

#[test]
fn a_stopped_service_fails_the_connection_naming_host_and_port() {
    let g = Ground::new();
    let closed = closed_port();
    let url = format!("http://127.0.0.1:{}", closed.port);
    let (out, report) = g.check(&["--service-url", &url], &[]);
    assert_exit!(out, Network);
    failed(
        &report,
        "service.tcp",
        &[&format!("127.0.0.1:{}", closed.port)],
    );
    assert_eq!(check(&report, "catalog")["status"], "skipped");
    assert!(
        stderr_of(&out).contains("service.tcp"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn an_untrusted_certificate_names_its_issuer_with_and_without_a_ca_file() {
    let g = Ground::new();
    let (ca, cert, key) = test_certificates(&g.env.path("tls"));
    let tls = Server::start(
        &g.env,
        &g.trip.service.root,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    let (out, report) = g.check(&["--service-url", &tls.url], &[]);
    assert_exit!(out, Network);
    failed(
        &report,
        "service.tls",
        &["CN=sct-test-ca", "does not trust"],
    );
    assert!(
        check(&report, "service.tls")["fix"]
            .as_str()
            .unwrap()
            .contains("--ca-file")
    );

    // A CA file with another CA: the issuer is not in it.
    let (other, _, _) = test_certificates(&g.env.path("other-tls"));
    let other = other.to_str().unwrap();
    let (out, report) = g.check(&["--service-url", &tls.url, "--ca-file", other], &[]);
    assert_exit!(out, Network);
    failed(&report, "service.tls", &["CN=sct-test-ca", "--ca-file"]);

    // The right CA file: trusted, and the handshake's version is named.
    let ca = ca.to_str().unwrap();
    let (out, report) = g.check(&["--service-url", &tls.url, "--ca-file", ca], &[]);
    assert!(out.status.success(), "{report:#}");
    let found = check(&report, "service.tls")["found"].as_str().unwrap();
    assert!(
        found.contains("TLS 1.") && found.contains("CN=sct-test-ca"),
        "{found}"
    );
}

#[test]
fn a_wrong_pinned_key_fails_the_catalog_naming_the_key() {
    let g = Ground::new();
    let other = published(&Env::new());
    let (out, report) = g.check(&["--trusted-key", &other.public], &[]);
    assert_exit!(out, Rejected);
    let key_id = check(&report, "keys.pinned")["found"]
        .as_str()
        .unwrap()
        .rsplit(": ")
        .next()
        .unwrap()
        .to_owned();
    failed(&report, "catalog", &[&key_id, "/catalog/catalog.json"]);
}

#[test]
fn a_refusing_proxy_fails_the_proxy_check_naming_it() {
    let g = Ground::new();
    let closed = closed_port();
    let proxy = format!("127.0.0.1:{}", closed.port);
    let (out, report) = g.check(&["--proxy", &proxy], &[]);
    assert_exit!(out, Network);
    failed(&report, "proxy", &[&proxy]);
    assert_eq!(check(&report, "service.dns")["status"], "skipped");
}

#[test]
fn a_proxy_that_refuses_the_credentials_fails_the_proxy_check() {
    let g = Ground::new();
    let squid = crate::kit::Squid::start(&g.env, "jqpublic", "right");
    let proxy = squid.url();
    let (out, report) = g.check(
        &["--proxy", &proxy, "--proxy-user", "jqpublic"],
        &[("SCT_PROXY_PASSWORD", "wrong")],
    );
    assert_exit!(out, Network);
    failed(&report, "proxy", &["407", "jqpublic"]);
    let (out, report) = g.check(
        &["--proxy", &proxy, "--proxy-user", "jqpublic"],
        &[("SCT_PROXY_PASSWORD", "right")],
    );
    assert!(out.status.success(), "{report:#}");
}

#[test]
fn a_missing_site_database_fails_naming_the_file() {
    let g = Ground::new();
    let missing = g.env.path("gone.db");
    let locator = format!("sqlite:{}", missing.display());
    let (out, report) = g.check(&["--site", &locator], &[]);
    assert_exit!(out, Io);
    failed(&report, "site.database", &["gone.db"]);
    assert_eq!(check(&report, "site.inbox")["status"], "skipped");
}

#[test]
fn an_unwritable_inbox_fails_naming_the_folder() {
    let g = Ground::new();
    let inbox = g.install.join("EasySetupPayload").join("offline");
    let Some(_ro) = Mount::tmpfs(&inbox, "1m", true) else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let (out, report) = g.check(&[], &[]);
    assert_exit!(out, Io);
    failed(&report, "site.inbox", &["offline", "temporary file"]);
}

#[test]
fn a_clock_two_hours_off_fails_the_clock_check() {
    if crate::support::needs_debug_build() {
        return;
    }
    let g = Ground::new();
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
    let (out, report) = g.check(&[], &[("SCT_TEST_NOW", &later.to_string())]);
    assert_exit!(out, Usage);
    failed(&report, "clock", &["ahead"]);
    let found = check(&report, "clock")["found"]
        .as_str()
        .unwrap()
        .to_owned();
    let seconds: u64 = found
        .split(": ")
        .last()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((7100..=7300).contains(&seconds), "{found}");
}

#[test]
fn a_drive_too_small_for_the_plan_fails_with_both_sizes() {
    let g = Ground::new();
    let Some(_drive) = Mount::tmpfs(&g.dest(), "16k", false) else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let (out, report) = g.check(&[], &[]);
    assert_exit!(out, Io);
    failed(
        &report,
        "destination.room",
        &["bytes free", "needs", "UpdatePacks"],
    );
}

/// The wrapper's `-check` takes `-connect`'s flags, all optional, and the settings from the
/// environment: the same checks, the same document and exit class.
#[test]
fn the_wrappers_check_takes_connects_flags() {
    let g = Ground::new();
    let dest = g.dest();
    let wrapper = |extra: &[&str]| {
        let mut cmd = g
            .trip
            .server
            .client(&g.env, "ServiceConnectionTool", &g.trip.service);
        cmd.env("SCT_SITE", &g.site)
            .args(["-Check", "-UsageDataSrc", &g.cab, "-UpdatePackDest"])
            .arg(&dest)
            .args(extra);
        let out = cmd.output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout_of(&out), stderr_of(&out)));
        (out, report)
    };
    let (out, report) = wrapper(&["-downloadall"]);
    assert!(out.status.success(), "{report:#}\n{}", stderr_of(&out));
    assert_eq!(report["schema"], "sct.check.v1");
    assert!(
        check(&report, "destination.room")["found"]
            .as_str()
            .unwrap()
            .contains("the all selection")
    );
    let closed = closed_port();
    let proxy = format!("127.0.0.1:{}", closed.port);
    let (out, report) = wrapper(&["-proxyserveruri", &proxy]);
    assert_exit!(out, Network);
    failed(&report, "proxy", &[&proxy]);
    let settings = check(&report, "settings")["found"].as_str().unwrap();
    assert!(settings.contains("(flag -proxyserveruri)"), "{settings}");
}
