//! sct-collect against a SQL Server site database, over real TDS to Microsoft's mock server.

use crate::exit::assert_exit;
use crate::support::{Env, stderr_of, stdout_of};
use sct::site::queries;
use sct_testkit::tds::*;

const PASSWORD: &str = "Cli-Pa55word";
const HIERARCHY: &str = "0b5e5a3c-8f5f-4b53-9f2e-4e9f6c2d1a10";

pub fn site_string(port: u16) -> String {
    format!("Server=127.0.0.1,{port};Database=CM_PS1;User Id=sct;Encrypt=DANGER_PLAINTEXT")
}

/// The answers of a ConfigMgr site database with two usage rows.
pub fn configmgr_site(reg: &mut QueryRegistry) {
    let int = SqlDataType::Int;
    let txt = SqlDataType::NVarChar;
    reg.register(
        queries::PROBE_MSSQL,
        result(
            &[("", int); 6],
            vec![(1..=6).map(ColumnValue::Int).collect()],
        ),
    );
    reg.register(
        queries::IDENTITY_MSSQL,
        result(
            &[("", txt); 7],
            vec![vec![
                text("PS1"),
                text("Primary site"),
                text("CM01.corp.example"),
                text("5.00.9128.1000"),
                text("C:\\Program Files\\Microsoft Configuration Manager"),
                text(HIERARCHY),
                text("5.00.9128.1033"),
            ]],
        ),
    );
    let usage = |id: &str, name: &str, level: i32| {
        vec![
            text(id),
            text(name),
            ColumnValue::Int(level),
            text("2026-11-20T03:00:00"),
            long_text("{\"value\":42}"),
        ]
    };
    reg.register(
        queries::USAGE_MSSQL,
        result(
            &[
                ("", txt),
                ("", txt),
                ("", int),
                ("", txt),
                ("", SqlDataType::NVarCharMax),
            ],
            vec![
                usage("E1201168-0000-4000-8000-000000000001", "TEL_SetupInfo", 1),
                usage(
                    "0F40B971-0000-4000-8000-000000000002",
                    "TEL_SQL_DBSchema",
                    2,
                ),
            ],
        ),
    );
}

#[test]
fn collect_reads_a_sql_server_site_end_to_end() {
    let server = MockServer::start(configmgr_site);
    let env = Env::new();
    let out = env
        .cmd("sct-collect")
        .args(["--site", &site_string(server.port)])
        .env("SCT_SITE_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(
        stderr.contains("sct-collect: warning: Encrypt=DANGER_PLAINTEXT"),
        "turning encryption off is logged: {stderr}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(doc["schema"], "sct.usage.v1");
    assert_eq!(doc["site"]["site_code"], "PS1");
    assert_eq!(doc["site"]["version"], "5.00.9128.1000");
    assert_eq!(doc["site"]["hierarchy_id"], HIERARCHY);
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "TEL_SetupInfo");
    assert_eq!(rows[1]["results"], "{\"value\":42}");
    let id: uuid::Uuid = HIERARCHY.parse().unwrap();
    assert_eq!(doc["hierarchy_hash"], sct::site::hierarchy_hash(&id));
}

#[test]
fn collect_takes_the_site_from_sct_site_and_needs_a_password() {
    let server = MockServer::start(configmgr_site);
    let env = Env::new();
    let out = env
        .cmd("sct-collect")
        .env("SCT_SITE", site_string(server.port))
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("set SCT_SITE_PASSWORD"));
    assert!(out.stdout.is_empty());
}

#[test]
fn collect_reports_a_refused_login_without_the_password() {
    let server = RawServer::start(Misbehaviour::RefuseLogin(vec![(
        18456,
        "Login failed for user 'sct'.".to_owned(),
    )]));
    let env = Env::new();
    // A password inside the locator: from SCT_SITE (a `--site` holding one is refused).
    let site = format!("{};Password={PASSWORD}", site_string(server.port));
    let out = env
        .cmd("sct-collect")
        .env("SCT_SITE", &site)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_exit!(out, Io, "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(
        stderr.contains("Failed to connect to SQL Server `127.0.0.1,"),
        "{stderr}"
    );
    assert!(stderr.contains("login `sct` was refused"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_malformed_connection_string_is_a_usage_error() {
    let env = Env::new();
    let out = env
        .cmd("sct-collect")
        .args(["--site", "Server=db;Database=CM_PS1;Password=hunter2"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_exit!(out, Usage, "{stderr}");
    assert!(stderr.contains("no User Id="), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// Runs only with `SCT_TEST_MSSQL` (and `SCT_SITE_PASSWORD`) naming a real ConfigMgr site
/// database: the same command against the real thing (docs/sql-server.md).
#[test]
fn collect_reads_a_real_sql_server_site_when_configured() {
    let Ok(site) = std::env::var("SCT_TEST_MSSQL") else {
        eprintln!("skipped: set SCT_TEST_MSSQL to run against a real SQL Server");
        return;
    };
    let env = Env::new();
    let mut cmd = env.cmd("sct-collect");
    cmd.env("SCT_SITE", &site);
    if let Ok(password) = std::env::var("SCT_SITE_PASSWORD") {
        cmd.env("SCT_SITE_PASSWORD", password);
    }
    let out = cmd.output().unwrap();
    let stderr = stderr_of(&out);
    // A site younger than 7 days has no usage data yet (exit 5); anything else must succeed.
    if crate::exit::exit_class(&out) == Some(sct::core::error::ExitCode::NoData) {
        assert!(stderr.contains("no usage data yet"), "{stderr}");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(doc["schema"], "sct.usage.v1");
    let id: uuid::Uuid = doc["site"]["hierarchy_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(doc["hierarchy_hash"], sct::site::hierarchy_hash(&id));
}
