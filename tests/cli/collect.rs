//! sct-collect: site database → usage JSON or CSV.

use crate::exit::assert_exit;
use crate::support::{Env, stderr_of, stdout_of};

#[test]
fn json_document_has_identity_and_rows_for_the_level() {
    let env = Env::new();
    let site = env.demo_site_with(
        "ps1",
        "PS1",
        "5.00.9128.1000",
        "0b5e5a3c-8f5f-4b53-9f2e-4e9f6c2d1a10",
    );
    let out = env
        .cmd("sct-collect")
        .args(["--site", &site])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        out.stderr.is_empty(),
        "stderr must stay quiet on success: {}",
        stderr_of(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "sct.usage.v1");
    assert_eq!(doc["site"]["site_code"], "PS1");
    assert_eq!(doc["site"]["version"], "5.00.9128.1000");
    assert_eq!(
        doc["site"]["hierarchy_id"],
        "0b5e5a3c-8f5f-4b53-9f2e-4e9f6c2d1a10"
    );
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        8,
        "Enhanced sends Basic and Enhanced rows, not Full ones"
    );
    assert!(rows.iter().all(|r| r["level"] != "Full"));
}

#[test]
fn level_decides_which_rows_leave() {
    let env = Env::new();
    let basic = env.demo_site("basic", &["--level", "Basic"]);
    let full = env.demo_site("full", &["--level", "Full"]);
    let count = |site: &str| {
        let out = env
            .cmd("sct-collect")
            .args(["--site", site])
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["rows"].as_array().unwrap().len()
    };
    assert_eq!(count(&basic), 4);
    assert_eq!(count(&full), 10);
}

#[test]
fn csv_is_the_same_rows_for_review() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let out = env
        .cmd("sct-collect")
        .args(["--site", &site, "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout_of(&out);
    // The review CSV's columns (`-export`): every field, formulas neutralised.
    assert!(
        text.starts_with("\"SiteCode\",\"SiteName\",\"ServerName\",\"HierarchyID\","),
        "{text}"
    );
    assert!(text.contains(",\"Results\"\r\n"), "{text}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.records().count(), 8);
}

#[test]
fn site_from_environment_and_output_file() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    env.cmd("sct-collect")
        .env("SCT_SITE", &site)
        .args(["-o", "usage.json"])
        .assert()
        .success()
        .stdout("");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("usage.json")).unwrap()).unwrap();
    assert_eq!(doc["schema"], "sct.usage.v1");
}

#[test]
fn missing_site_database_is_named() {
    let env = Env::new();
    let out = env
        .cmd("sct-collect")
        .args(["--site", "sqlite:nope.db"])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    assert!(stderr_of(&out).contains("nope.db"), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    assert!(
        !env.path("nope.db").exists(),
        "a missing site must not be created"
    );
}

#[test]
fn unreadable_site_database_is_refused() {
    let env = Env::new();
    std::fs::write(
        env.path("junk.db"),
        b"this is not sqlite, just text that is long enough to matter....",
    )
    .unwrap();
    let out = env
        .cmd("sct-collect")
        .args(["--site", "sqlite:junk.db"])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    assert!(stderr_of(&out).contains("junk.db"));
}

#[test]
fn site_without_identity_rows() {
    let env = Env::new();
    let db = env.path("empty.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(sct::site::sqlite::SCHEMA).unwrap();
    drop(conn);
    let out = env
        .cmd("sct-collect")
        .args(["--site", "sqlite:empty.db"])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    assert!(
        stderr_of(&out).contains("no site identity"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn empty_usage_data_says_no_data_yet() {
    let env = Env::new();
    let site = env.demo_site("new", &["--no-usage"]);
    let out = env
        .cmd("sct-collect")
        .args(["--site", &site])
        .output()
        .unwrap();
    assert_exit!(out, NoData);
    assert!(
        stderr_of(&out).contains("no usage data yet"),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn no_site_configured_is_a_usage_error() {
    let env = Env::new();
    let out = env.cmd("sct-collect").output().unwrap();
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("SCT_SITE"));
}

#[test]
fn closed_stdout_is_not_an_error() {
    let env = Env::new();
    let site = env.demo_site("big", &["--extra-rows", "20000"]);
    let mut child = env
        .command("sct-collect")
        .args(["--site", &site])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr_of(&out).contains("panicked"), "{}", stderr_of(&out));
}
