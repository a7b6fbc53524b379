//! The SQL Server back end over real TDS: Microsoft's mock server for the happy paths, column
//! types and server errors, hand-written servers for refused logins and dropped connections.
//!
//! Set `SCT_TEST_MSSQL` to a connection string (password in `SCT_SITE_PASSWORD`) to run
//! `real_server_reads_a_consistent_site` against a real ConfigMgr database too
//! (docs/sql-server.md).

use super::locator::{Secret, SqlServerLocator};
use super::mock::*;
use super::{SqlServerSite, queries};
use crate::core::error::{ExitCode, exit_code};
use crate::core::version::CmVersion;
use crate::site::{DiagnosticsLevel, SiteStore};

const PASSWORD: &str = "Mock-Pa55word";
const HIERARCHY: &str = "0b5e5a3c-8f5f-4b53-9f2e-4e9f6c2d1a10";

fn locator(port: u16, extra: &str) -> SqlServerLocator {
    SqlServerLocator::parse(&format!(
        "Server=127.0.0.1,{port};Database=CM_PS1;User Id=sct;Encrypt=DANGER_PLAINTEXT;{extra}"
    ))
    .unwrap()
}

fn open(port: u16, extra: &str) -> anyhow::Result<SqlServerSite> {
    SqlServerSite::open_with_password(&locator(port, extra), Secret::new(PASSWORD))
}

/// The error text with its causes, checked never to show the password.
fn message(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    assert!(!text.contains(PASSWORD), "password shown: {text}");
    assert!(text.contains("127.0.0.1"), "no server named: {text}");
    assert!(text.contains("CM_PS1"), "no database named: {text}");
    text
}

fn probe_all_present(reg: &mut QueryRegistry) {
    let columns: Vec<(&str, SqlDataType)> = (0..queries::PROBED_OBJECTS.len())
        .map(|_| ("", SqlDataType::Int))
        .collect();
    let ids = (1..=queries::PROBED_OBJECTS.len() as i32)
        .map(ColumnValue::Int)
        .collect();
    reg.register(queries::PROBE_MSSQL, result(&columns, vec![ids]));
}

const TEXT: SqlDataType = SqlDataType::NVarChar;

fn identity_row(site_name: &str) -> QueryResponse {
    let columns = [
        ("SiteCode", TEXT),
        ("SiteName", TEXT),
        ("ServerName", TEXT),
        ("", TEXT),
    ];
    let mut columns = columns.to_vec();
    columns.extend([("InstallDir", TEXT), ("", TEXT), ("", TEXT)]);
    result(
        &columns,
        vec![vec![
            text("PS1"),
            text(site_name),
            text("CM01.corp.example"),
            text("5.00.9128.1000"),
            text("C:\\Program Files\\Microsoft Configuration Manager"),
            text(HIERARCHY),
            text("5.00.9128.1033"),
        ]],
    )
}

fn usage_columns(level: SqlDataType, results: SqlDataType) -> Vec<(&'static str, SqlDataType)> {
    vec![
        ("", TEXT),
        ("NAME", TEXT),
        ("LEVEL", level),
        ("", TEXT),
        ("RESULTS", results),
    ]
}

fn usage_row(id: &str, name: &str, level: ColumnValue, results: ColumnValue) -> Vec<ColumnValue> {
    vec![
        text(id),
        text(name),
        level,
        text("2026-11-20T03:00:00"),
        results,
    ]
}

/// A ConfigMgr site: probe, identity, two usage rows and one update package.
fn configmgr_site(reg: &mut QueryRegistry) {
    probe_all_present(reg);
    reg.register(
        queries::IDENTITY_MSSQL,
        identity_row("Zürich – 東京 primary"),
    );
    reg.register(
        queries::USAGE_MSSQL,
        result(
            &usage_columns(SqlDataType::Int, SqlDataType::NVarCharMax),
            vec![
                usage_row(
                    "E1201168-0000-4000-8000-000000000001",
                    "TEL_SetupInfo",
                    ColumnValue::Int(1),
                    long_text("{\"setup\":\"ok\",\"hash\":\"ÄÖÜ\"}"),
                ),
                usage_row(
                    "0F40B971-0000-4000-8000-000000000002",
                    "TEL_SQL_DBSchema",
                    ColumnValue::Int(2),
                    ColumnValue::NVarCharMaxNull,
                ),
            ],
        ),
    );
    reg.register(
        queries::PACKAGES_MSSQL,
        result(
            &[
                ("", TEXT),
                ("NAME", TEXT),
                ("FULLVERSION", TEXT),
                ("UPDATETYPE", SqlDataType::TinyInt),
                ("STATE", SqlDataType::Int),
                ("MINCMVERSION", TEXT),
                ("MAXCMVERSION", TEXT),
                ("", SqlDataType::NVarCharMax),
                ("", SqlDataType::NVarCharMax),
            ],
            vec![
                vec![
                    text("6d8e8f2e-2f3b-4b9c-9a44-0c8d2f6f1a01"),
                    text("Configuration Manager 2409"),
                    text("5.00.9132.1000"),
                    ColumnValue::TinyInt(0),
                    ColumnValue::Int(327_682),
                    text("5.00.9106.1000"),
                    text("5.00.9128.1000"),
                    long_text("2024-11-05T00:00:00"),
                    ColumnValue::NVarCharMaxNull,
                ],
                vec![
                    text("1a2b3c4d-0000-4000-8000-00000000abcd"),
                    text("Hotfix KB1234567"),
                    text("5.00.9128.1033"),
                    ColumnValue::TinyInt(2),
                    ColumnValue::Int(196_612),
                    text("5.00.9128.1000"),
                    text("5.00.9128.1000"),
                    long_text("2024-09-01T00:00:00"),
                    long_text("2024-09-02T10:11:12.340"),
                ],
            ],
        ),
    );
}

#[test]
fn reads_identity_usage_and_packages_over_tds() {
    let server = MockServer::start(configmgr_site);
    let site = open(server.port, "").unwrap();

    let identity = site.identity().unwrap();
    assert_eq!(identity.site_code, "PS1");
    assert_eq!(
        identity.site_name, "Zürich – 東京 primary",
        "Unicode survives"
    );
    assert_eq!(
        identity.version,
        "5.00.9128.1000".parse::<CmVersion>().unwrap()
    );
    assert_eq!(identity.full_version.0, [5, 0, 9128, 1033]);
    assert_eq!(identity.hierarchy_id.to_string(), HIERARCHY);
    assert_eq!(
        identity.diagnostics_level,
        DiagnosticsLevel::Enhanced,
        "ConfigMgr's default level when the locator does not state one"
    );
    assert!(site.describe().contains("127.0.0.1"));

    let rows = site.usage_rows(identity.diagnostics_level).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].name, "TEL_SetupInfo");
    assert_eq!(rows[0].level, DiagnosticsLevel::Basic);
    assert_eq!(
        rows[0].results, "{\"setup\":\"ok\",\"hash\":\"ÄÖÜ\"}",
        "nvarchar(max) in chunks"
    );
    assert_eq!(rows[0].collected_at, "2026-11-20T03:00:00");
    assert_eq!(rows[1].results, "", "a NULL result reads as empty text");
    assert_eq!(
        rows[1].id.to_string(),
        "0f40b971-0000-4000-8000-000000000002",
        "upper-case GUID text from CAST(.. AS NVARCHAR(36)) parses"
    );

    let packages = site.update_packages().unwrap();
    assert_eq!(packages.len(), 2);
    assert_eq!(
        packages[0].name, "Configuration Manager 2409",
        "newest version first"
    );
    assert_eq!(packages[0].state, 327_682);
    assert_eq!(packages[0].update_type, 0);
    assert_eq!(packages[0].last_update_time, "", "NULL date");
    assert_eq!(packages[1].update_type, 2, "tinyint decodes");
    assert_eq!(packages[1].last_update_time, "2024-09-02T10:11:12.340");
}

#[test]
fn the_same_connection_serves_repeated_reads() {
    let server = MockServer::start(configmgr_site);
    let site = open(server.port, "").unwrap();
    for _ in 0..3 {
        assert_eq!(site.identity().unwrap().site_code, "PS1");
    }
}

#[test]
fn integer_widths_and_varchar_max_decode() {
    let server = MockServer::start(|reg| {
        configmgr_site(reg);
        reg.register(
            queries::USAGE_MSSQL,
            result(
                &usage_columns(SqlDataType::BigInt, SqlDataType::VarCharMax),
                vec![usage_row(
                    "E1201168-0000-4000-8000-000000000001",
                    "TEL_Wide",
                    ColumnValue::BigInt(3),
                    ColumnValue::VarCharMax(vec![b"plain ".to_vec(), b"ascii".to_vec()]),
                )],
            ),
        );
    });
    let site = open(server.port, "Diagnostics Level=Full").unwrap();
    assert_eq!(
        site.identity().unwrap().diagnostics_level,
        DiagnosticsLevel::Full
    );
    let rows = site.usage_rows(DiagnosticsLevel::Full).unwrap();
    assert_eq!(rows[0].level, DiagnosticsLevel::Full, "bigint level");
    assert_eq!(rows[0].results, "plain ascii", "varchar(max) in two chunks");
}

#[test]
fn smallint_level_decodes() {
    let server = MockServer::start(|reg| {
        configmgr_site(reg);
        reg.register(
            queries::USAGE_MSSQL,
            result(
                &usage_columns(SqlDataType::SmallInt, SqlDataType::NVarChar),
                vec![usage_row(
                    "E1201168-0000-4000-8000-000000000001",
                    "TEL_Small",
                    ColumnValue::SmallInt(2),
                    text("r"),
                )],
            ),
        );
    });
    let site = open(server.port, "").unwrap();
    let rows = site.usage_rows(DiagnosticsLevel::Enhanced).unwrap();
    assert_eq!(rows[0].level, DiagnosticsLevel::Enhanced);
}

#[test]
fn null_in_a_required_column_names_the_column_and_row() {
    let server = MockServer::start(|reg| {
        configmgr_site(reg);
        reg.register(
            queries::USAGE_MSSQL,
            result(
                &usage_columns(SqlDataType::Int, SqlDataType::NVarChar),
                vec![usage_row(
                    "E1201168-0000-4000-8000-000000000001",
                    "TEL_SetupInfo",
                    ColumnValue::Null,
                    text("r"),
                )],
            ),
        );
    });
    let site = open(server.port, "").unwrap();
    let err = site.usage_rows(DiagnosticsLevel::Enhanced).unwrap_err();
    let text = message(&err);
    assert!(text.contains("Level is NULL"), "{text}");
    assert!(
        text.contains("e1201168") || text.contains("E1201168"),
        "{text}"
    );
    assert_eq!(exit_code(&err), ExitCode::Io);
}

#[test]
fn binary_where_text_is_expected_is_named() {
    let server = MockServer::start(|reg| {
        configmgr_site(reg);
        reg.register(
            queries::USAGE_MSSQL,
            result(
                &[
                    ("ID", SqlDataType::VarBinaryMax),
                    ("NAME", TEXT),
                    ("LEVEL", SqlDataType::Int),
                    ("", TEXT),
                    ("RESULTS", TEXT),
                ],
                vec![vec![
                    ColumnValue::VarBinaryMax(vec![vec![1, 2, 3]]),
                    text("TEL_SetupInfo"),
                    ColumnValue::Int(1),
                    text("2026-11-20T03:00:00"),
                    text("r"),
                ]],
            ),
        );
    });
    let site = open(server.port, "").unwrap();
    let text = message(&site.usage_rows(DiagnosticsLevel::Enhanced).unwrap_err());
    assert!(
        text.contains("`ID` holds binary data, expected text"),
        "{text}"
    );
}

#[test]
fn a_database_without_configmgr_objects_is_named_with_what_is_missing() {
    let server = MockServer::start(|reg| {
        let mut ids = vec![ColumnValue::Null, ColumnValue::Int(2), ColumnValue::Null];
        ids.extend([
            ColumnValue::Int(4),
            ColumnValue::Int(5),
            ColumnValue::Int(6),
        ]);
        let columns: Vec<(&str, SqlDataType)> = (0..6).map(|_| ("", SqlDataType::Int)).collect();
        reg.register(queries::PROBE_MSSQL, result(&columns, vec![ids]));
    });
    let err = open(server.port, "").err().expect("refused");
    let text = message(&err);
    assert!(text.contains("not a ConfigMgr site database"), "{text}");
    assert!(
        text.contains("missing dbo.Sites, dbo.fnGetHierarchyID ("),
        "{text}"
    );
    assert_eq!(exit_code(&err), ExitCode::Io);
}

#[test]
fn invalid_object_from_the_server_means_not_configmgr() {
    let server = MockServer::start(|reg| {
        configmgr_site(reg);
        reg.register(
            queries::USAGE_MSSQL,
            server_error(208, "Invalid object name 'TEL_TELEMETRYRESULTS'."),
        );
    });
    let site = open(server.port, "").unwrap();
    let err = site.usage_rows(DiagnosticsLevel::Basic).unwrap_err();
    let text = message(&err);
    assert!(text.contains("is not a ConfigMgr site database"), "{text}");
    assert!(text.contains("SQL Server error 208"), "{text}");
    assert!(
        text.contains("usage data from TEL_TelemetryResults"),
        "{text}"
    );
}

#[test]
fn permission_denied_says_what_to_grant() {
    let server = MockServer::start(|reg| {
        configmgr_site(reg);
        reg.register(
            queries::IDENTITY_MSSQL,
            server_error(
                229,
                "The EXECUTE permission was denied on the object 'fnGetHierarchyID', database 'CM_PS1', schema 'dbo'.",
            ),
        );
    });
    let site = open(server.port, "").unwrap();
    let err = site.identity().unwrap_err();
    let text = message(&err);
    assert!(text.contains("lacks permission"), "{text}");
    assert!(text.contains("db_datareader"), "{text}");
    assert!(
        text.contains("fnGetHierarchyID"),
        "the server's words are kept: {text}"
    );
    assert_eq!(exit_code(&err), ExitCode::Io);
}

#[test]
fn refused_login_is_login_failed_and_masks_an_echoed_password() {
    // A server that (unusually) echoes the password: the message must still not show it.
    let server = RawServer::start(Misbehaviour::RefuseLogin(vec![(
        18456,
        format!("Login failed for user 'sct'. Password '{PASSWORD}' rejected."),
    )]));
    let err = open(server.port, "").err().expect("refused");
    let text = message(&err);
    assert!(text.contains("login `sct` was refused"), "{text}");
    assert!(text.contains("SQL Server error 18456"), "{text}");
    assert!(text.contains("SCT_SITE_PASSWORD"), "{text}");
    assert_eq!(exit_code(&err), ExitCode::Io);
}

#[test]
fn missing_database_is_named_before_the_login_failure() {
    let server = RawServer::start(Misbehaviour::RefuseLogin(vec![
        (
            4060,
            "Cannot open database \"CM_PS1\" requested by the login. The login failed.".into(),
        ),
        (18456, "Login failed for user 'sct'.".into()),
    ]));
    let text = message(&open(server.port, "").err().expect("refused"));
    assert!(text.contains("database `CM_PS1` does not exist"), "{text}");
    assert!(text.contains("SQL Server error 4060"), "{text}");
}

#[test]
fn nothing_listening_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = open(port, "").err().expect("nothing listens");
    let text = message(&err);
    assert!(text.contains("cannot reach `127.0.0.1,"), "{text}");
    assert!(text.contains("Failed to connect to SQL Server"), "{text}");
    assert_eq!(exit_code(&err), ExitCode::Io);
}

#[test]
fn a_server_that_hangs_up_during_login_is_named() {
    let server = RawServer::start(Misbehaviour::CloseAtOnce);
    let text = message(&open(server.port, "").err().expect("dropped"));
    assert!(
        text.contains("closed the connection during login"),
        "{text}"
    );
}

#[test]
fn a_server_that_drops_the_session_mid_read_is_named_and_the_next_read_reconnects() {
    let mock = MockServer::start(configmgr_site);
    // Let the probe and the identity through, cut the usage query.
    let relay = RawServer::start(Misbehaviour::DropOnQuery {
        upstream: mock.port,
        allowed: 2,
    });
    let site = open(relay.port, "").unwrap();
    assert_eq!(site.identity().unwrap().site_code, "PS1");
    let err = site.usage_rows(DiagnosticsLevel::Enhanced).unwrap_err();
    let text = message(&err);
    assert!(
        text.contains("closed the connection while sending usage data"),
        "{text}"
    );
    // The relay drops the first query of every new connection after `allowed`; a fresh
    // connection gets two more through, so the next read logs in again and succeeds.
    assert_eq!(site.identity().unwrap().site_code, "PS1");
}

#[test]
fn a_silent_server_hits_the_connect_timeout() {
    let server = RawServer::start(Misbehaviour::Silent);
    let text = message(
        &open(server.port, "Connect Timeout=1")
            .err()
            .expect("timeout"),
    );
    assert!(
        text.contains("did not complete the connection and login within 1 s"),
        "{text}"
    );
}

#[test]
fn a_stalled_query_hits_the_command_timeout() {
    let server = MockServer::start(|reg| {
        configmgr_site(reg);
        let slow = identity_row("slow").with_delay(std::time::Duration::from_secs(30));
        reg.register(queries::IDENTITY_MSSQL, slow);
    });
    let site = open(server.port, "Command Timeout=1").unwrap();
    let text = message(&site.identity().unwrap_err());
    assert!(
        text.contains("did not answer within 1 s (Command Timeout)"),
        "{text}"
    );
}

#[test]
fn no_password_without_a_terminal_is_a_usage_error() {
    // The test harness has no terminal on stdin; SCT_SITE_PASSWORD may be set by whoever runs
    // the tests, in which case this path cannot be reached.
    if std::env::var_os(super::ENV_PASSWORD).is_some()
        || std::io::IsTerminal::is_terminal(&std::io::stdin())
    {
        eprintln!(
            "skipped: {} is set or stdin is a terminal",
            super::ENV_PASSWORD
        );
        return;
    }
    let loc = locator(1, "");
    let err = super::password_for(&loc).unwrap_err();
    assert_eq!(exit_code(&err), ExitCode::Usage);
    assert!(format!("{err:#}").contains("SCT_SITE_PASSWORD"));
    let with = locator(1, "Password=inline-pw");
    assert_eq!(super::password_for(&with).unwrap().expose(), "inline-pw");
}

#[test]
fn logins_become_tiberius_authentication() {
    use tiberius::AuthMethod;
    let sql = locator(1, "");
    let secret = Secret::new(PASSWORD);
    assert_eq!(
        super::auth_method(&sql, Some(&secret)).unwrap(),
        AuthMethod::sql_server("sct", PASSWORD)
    );
    let record = super::registry::SiteRecord {
        server: Some("127.0.0.1,1".into()),
        database_name: Some("CM_PS1".into()),
        site_code: None,
    };
    let windows = super::registry::locator_from(&record).unwrap();
    let auth = super::auth_method(&windows, None);
    #[cfg(windows)]
    assert_eq!(auth.unwrap(), AuthMethod::Integrated);
    #[cfg(not(windows))]
    {
        let err = auth.unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Usage);
        assert!(format!("{err:#}").contains("needs sct for Windows"));
        // Refused before any connection or password prompt: port 1 is never tried.
        let err = SqlServerSite::open(&windows).err().unwrap();
        assert_eq!(exit_code(&err), ExitCode::Usage, "{err:#}");
    }
}

/// Runs only with `SCT_TEST_MSSQL` set to a real ConfigMgr site database's connection string.
#[test]
fn real_server_reads_a_consistent_site() {
    let Ok(text) = std::env::var("SCT_TEST_MSSQL") else {
        eprintln!(
            "skipped: set SCT_TEST_MSSQL to run against a real SQL Server (docs/sql-server.md)"
        );
        return;
    };
    let loc = SqlServerLocator::parse(&text).expect("SCT_TEST_MSSQL is not a valid locator");
    let site = SqlServerSite::open(&loc).unwrap_or_else(|e| panic!("{e:#}"));
    let identity = site.identity().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(identity.site_code, loc.site_code);
    assert_eq!(
        identity.version,
        identity.version.site_version(),
        "site version ends in .1000"
    );
    assert_eq!(identity.full_version.build(), identity.version.build());
    let rows = site
        .usage_rows(DiagnosticsLevel::Full)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let basic = site
        .usage_rows(DiagnosticsLevel::Basic)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        basic.len() <= rows.len(),
        "a lower level never sends more rows"
    );
    assert!(basic.iter().all(|r| r.level == DiagnosticsLevel::Basic));
    let packages = site.update_packages().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        packages
            .windows(2)
            .all(|w| w[0].full_version >= w[1].full_version)
    );
}
