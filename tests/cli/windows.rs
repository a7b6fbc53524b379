//! The Windows build under Wine, for what only Windows has: the site database found in
//! ConfigMgr's registry record, the tool logs where the original writes them, CRLF line ends.
//!
//! These run with the Wine runner (`scripts/test-windows.sh`, `SCT_TEST_WINE=1`) and are skipped
//! with a printed reason otherwise. Registry values and `C:\ConfigMgrSetup.log` belong to a Wine
//! prefix, which the rest of the suite shares, so these tests use a prefix of their own beside the
//! suite's (`<WINEPREFIX>-site`, created once, like the suite's) and take turns in it.

use crate::exit::assert_exit;
use crate::support::{Env, bin_path, on_wine, shown, stderr_of, stdout_of};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Mutex, MutexGuard, OnceLock};

const SQL_SERVER_KEY: &str = r"HKLM\SOFTWARE\Microsoft\SMS\SQL Server";
const SMS_KEY: &str = r"HKLM\SOFTWARE\Microsoft\SMS";
/// This user's proxy setting, as Internet Options writes it.
const INTERNET_SETTINGS: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings";

/// The private prefix and this test's turn in it.
struct SitePrefix {
    path: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

/// This test's turn in the private prefix, with no ConfigMgr record in it; `None` (printed) when
/// the suite does not run the Windows build.
fn site_prefix(test: &str) -> Option<SitePrefix> {
    if !on_wine() {
        eprintln!(
            "skipped: {test}: needs the Windows build under Wine (SCT_TEST_WINE=1, \
             scripts/test-windows.sh)"
        );
        return None;
    }
    static TURN: Mutex<()> = Mutex::new(());
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = SitePrefix {
        path: PATH.get_or_init(create_prefix).clone(),
        _turn: turn,
    };
    // A key that is absent cannot be deleted: that failure is expected.
    let _ = prefix.wine(&["reg", "delete", SMS_KEY, "/f"]);
    for value in ["ProxyEnable", "ProxyServer", "ProxyOverride"] {
        let _ = prefix.wine(&["reg", "delete", INTERNET_SETTINGS, "/v", value, "/f"]);
    }
    Some(prefix)
}

fn wine_loader() -> PathBuf {
    std::env::var_os("SCT_TEST_WINE_LOADER")
        .map_or_else(|| PathBuf::from("/usr/lib/wine/wine64"), PathBuf::from)
}

/// `<WINEPREFIX>-site`, created on first use, with the suite prefix's test-only
/// `bcryptprimitives.dll` (docs/windows.md).
fn create_prefix() -> PathBuf {
    let shared = std::env::var_os("WINEPREFIX").expect("the Wine runner sets WINEPREFIX");
    let mut path = shared.clone();
    path.push("-site");
    let path = PathBuf::from(path);
    if !path.join("system.reg").exists() {
        let status = std::process::Command::new(wine_loader())
            .args(["wineboot", "--init"])
            .env("WINEPREFIX", &path)
            .status()
            .expect("wineboot");
        assert!(status.success(), "wineboot --init failed for {path:?}");
    }
    let shim = Path::new("drive_c/windows/system32/bcryptprimitives.dll");
    std::fs::copy(Path::new(&shared).join(shim), path.join(shim)).expect("copy the Wine shim");
    // One wineserver for these tests, so each Wine start does not pay for a new one; it exits
    // on its own 30 s after the last of them.
    let _ = std::process::Command::new(wine_loader().with_file_name("wineserver"))
        .arg("-p30")
        .env("WINEPREFIX", &path)
        .status();
    path
}

impl SitePrefix {
    /// Runs a Wine program (`reg`, ...) in this prefix.
    fn wine(&self, args: &[&str]) -> Output {
        std::process::Command::new(wine_loader())
            .args(args)
            .env("WINEPREFIX", &self.path)
            .output()
            .expect("wine")
    }

    /// Writes one value as ConfigMgr setup would (`reg add`).
    fn record(&self, key: &str, name: &str, kind: &str, data: &str) {
        let out = self.wine(&["reg", "add", key, "/v", name, "/t", kind, "/d", data, "/f"]);
        assert!(out.status.success(), "reg add: {}", stderr_of(&out));
    }

    /// The site database as ConfigMgr records it: `Server` and `Database Name`.
    fn record_site(&self, server: &str, database: &str) {
        self.record(SQL_SERVER_KEY, "Server", "REG_SZ", server);
        self.record(SQL_SERVER_KEY, "Database Name", "REG_SZ", database);
    }

    /// A built binary run in this prefix, in `env`.
    fn cmd(&self, env: &Env, bin: &str) -> assert_cmd::Command {
        let mut cmd = env.cmd(bin);
        cmd.env("WINEPREFIX", &self.path);
        cmd
    }

    /// `C:\` of this prefix.
    fn drive_c(&self) -> PathBuf {
        self.path.join("drive_c")
    }
}

/// A demo site for the Windows build, named by its Windows path (`sqlite:Z:\...`).
fn demo_site(env: &Env) -> String {
    let db = shown(&env.path("ps1.db"));
    env.cmd("sct-demo")
        .args(["site", "--db", &db])
        .assert()
        .success();
    format!("sqlite:{db}")
}

/// Every line of `text` ends with CRLF.
fn all_crlf(text: &str) -> bool {
    !text.is_empty() && text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n')
}

#[test]
fn registry_site_is_found_and_tried_with_windows_authentication() {
    let Some(prefix) = site_prefix("registry_site_is_found_and_tried_with_windows_authentication")
    else {
        return;
    };
    let env = Env::new();
    let closed = crate::kit::closed_port();
    let port = closed.port;
    prefix.record_site(&format!("127.0.0.1,{port}"), "CM_PS1");
    let out = prefix.cmd(&env, "sct-collect").output().unwrap();
    let stderr = stderr_of(&out);
    assert_exit!(out, Io, "{stderr}");
    assert!(stdout_of(&out).is_empty());
    let found = format!(
        "site database recorded in {SQL_SERVER_KEY}: Server=127.0.0.1,{port};Database=CM_PS1;\
         Integrated Security=SSPI"
    );
    assert!(stderr.contains(&found), "{stderr}");
    let tried = format!(
        "Failed to connect to SQL Server `127.0.0.1,{port}`, database `CM_PS1`, as the Windows \
         account running sct"
    );
    assert!(stderr.contains(&tried), "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");
}

#[test]
fn registry_named_instance_is_looked_up_through_the_sql_browser() {
    let Some(prefix) = site_prefix("registry_named_instance_is_looked_up_through_the_sql_browser")
    else {
        return;
    };
    let env = Env::new();
    prefix.record_site("127.0.0.1", r"CONFIGMGR\CM_PS2");
    let out = prefix
        .cmd(&env, "ServiceConnectionTool")
        .args(["-prepare", "-usagedatadest"])
        .arg(shown(&env.path("UsageData.cab")))
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_exit!(out, Io, "{stderr}");
    assert!(
        stderr.contains(r"Server=127.0.0.1\CONFIGMGR;Database=CM_PS2;Integrated Security=SSPI"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r"cannot reach instance `127.0.0.1\CONFIGMGR`"),
        "{stderr}"
    );
    assert!(!env.path("UsageData.cab").exists());
}

#[test]
fn no_site_given_and_none_recorded_is_a_usage_error() {
    let Some(prefix) = site_prefix("no_site_given_and_none_recorded_is_a_usage_error") else {
        return;
    };
    let env = Env::new();
    for (bin, args) in [
        ("sct-collect", vec![]),
        ("ServiceConnectionTool", vec!["-export", "-dest", "u.csv"]),
    ] {
        let out = prefix.cmd(&env, bin).args(args).output().unwrap();
        let stderr = stderr_of(&out);
        assert_exit!(out, Usage, "{bin}");
        assert!(stderr.contains("no site database given"), "{stderr}");
        assert!(
            stderr.contains("records no ConfigMgr site database"),
            "{stderr}"
        );
    }
    assert!(!env.path("u.csv").exists());
}

#[test]
fn unusable_registry_records_are_refused_naming_the_value() {
    let Some(prefix) = site_prefix("unusable_registry_records_are_refused_naming_the_value") else {
        return;
    };
    let env = Env::new();
    let long = "h".repeat(1500);
    let cases: [(&str, &str, &str, &str); 4] = [
        ("Server", "REG_DWORD", "5", "is not a string (REG_SZ)"),
        ("Server", "REG_SZ", &long, "is longer than 1024 characters"),
        (
            "Database Name",
            "REG_SZ",
            r"CONFIGMGR\",
            r"is not [INSTANCE\]DATABASE",
        ),
        (
            "Database Name",
            "REG_SZ",
            "ConfigMgrDB",
            "has no `Site Code`",
        ),
    ];
    for (name, kind, data, expect) in cases {
        prefix.record_site("127.0.0.1", "CM_PS1");
        prefix.record(SQL_SERVER_KEY, name, kind, data);
        let out = prefix.cmd(&env, "sct-collect").output().unwrap();
        let stderr = stderr_of(&out);
        assert_exit!(out, Io, "{name}={kind}");
        assert!(stderr.contains(expect), "{name}={kind}: {stderr}");
        assert!(stderr.contains("SCT_SITE"), "{stderr}");
        assert!(stdout_of(&out).is_empty());
    }
}

#[test]
fn a_site_given_wins_over_the_registry_and_csv_has_crlf_line_ends() {
    let Some(prefix) =
        site_prefix("a_site_given_wins_over_the_registry_and_csv_has_crlf_line_ends")
    else {
        return;
    };
    let env = Env::new();
    let site = demo_site(&env);
    let closed = crate::kit::closed_port();
    prefix.record_site(&format!("127.0.0.1,{}", closed.port), "CM_PS1");
    let out = prefix
        .cmd(&env, "ServiceConnectionTool")
        .env("SCT_SITE", &site)
        .args(["-export", "-dest"])
        .arg(shown(&env.path("usagedata.csv")))
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("recorded in"), "{stderr}");
    let csv = std::fs::read_to_string(env.path("usagedata.csv")).unwrap();
    assert!(csv.starts_with("\"SiteCode\",\"SiteName\","), "{csv}");
    assert!(all_crlf(&csv), "{csv:?}");
}

#[test]
fn tool_logs_lie_where_the_original_writes_them_with_crlf_line_ends() {
    let Some(prefix) =
        site_prefix("tool_logs_lie_where_the_original_writes_them_with_crlf_line_ends")
    else {
        return;
    };
    let env = Env::new();
    let site = demo_site(&env);
    // The tool in a folder of its own, as an administrator unzips it.
    let tool = env.path("tool");
    std::fs::create_dir(&tool).unwrap();
    let exe = tool.join("ServiceConnectionTool.exe");
    std::fs::copy(bin_path("ServiceConnectionTool"), &exe).unwrap();
    let keygen = env
        .cmd("sct-serve")
        .args(["keygen", "--out", "key.json"])
        .output()
        .unwrap();
    let key: serde_json::Value = serde_json::from_slice(&keygen.stdout).unwrap();
    let key = key["public_key"].as_str().unwrap().to_owned();
    let wrapper = |args: &[&str]| {
        let mut cmd = std::process::Command::new(wine_loader());
        cmd.arg(&exe)
            .args(args)
            .env("WINEPREFIX", &prefix.path)
            .env("SCT_CONFIG", env.path("sct-empty.toml"))
            .env("SCT_SITE", &site)
            .env("SCT_TRUSTED_KEYS", &key)
            .env("SCT_SERVICE_URL", "http://127.0.0.1:1")
            .env_remove("SCT_LOG_DIR")
            .current_dir(env.dir.path());
        std::fs::write(env.path("sct-empty.toml"), "").unwrap();
        cmd.output().unwrap()
    };
    // ConfigMgrSetup.log is -connect's (here one whose usage data is not there: exit 3, after
    // the logs are open); -prepare leaves it alone, as the original does.
    let run = |src: &Path| {
        let src = shown(src);
        let out = wrapper(&[
            "-connect",
            "-usagedatasrc",
            &src,
            "-updatepackdest",
            "packs",
        ]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
        out
    };
    let setup_log = prefix.drive_c().join("ConfigMgrSetup.log");
    if setup_log.is_dir() {
        std::fs::remove_dir(&setup_log).unwrap();
    }
    let _ = std::fs::remove_file(&setup_log);
    let prepared = env.path("Prepared.cab");
    let out = wrapper(&["-prepare", "-usagedatadest", &shown(&prepared)]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!setup_log.exists(), "-prepare wrote C:\\ConfigMgrSetup.log");
    let first = env.path("First");
    let out = run(&first);
    assert!(
        !stderr_of(&out).contains("cannot write logs"),
        "{}",
        stderr_of(&out)
    );
    // ServiceConnectionTool.log beside the .exe; ConfigMgrSetup.log at C:\ (appended run after run).
    let summary = std::fs::read_to_string(tool.join("ServiceConnectionTool.log")).unwrap();
    let detail = std::fs::read_to_string(&setup_log).unwrap();
    assert!(summary.contains(&shown(&first)), "{summary}");
    assert!(detail.contains(&shown(&first)), "{detail}");
    assert!(!tool.join("ConfigMgrSetup.log").exists());
    for text in [&summary, &detail] {
        assert!(all_crlf(text.trim_start_matches('\u{feff}')), "{text:?}");
    }

    // C:\ not writable for it (a folder in its way): ConfigMgrSetup.log goes to the per-user
    // folder, and the run says so.
    std::fs::remove_file(&setup_log).unwrap();
    std::fs::create_dir(&setup_log).unwrap();
    let second = env.path("Second");
    let out = run(&second);
    std::fs::remove_dir(&setup_log).unwrap();
    let stderr = stderr_of(&out);
    assert!(stderr.contains(r"cannot write logs in C:\ ("), "{stderr}");
    assert!(
        stderr.contains(r"\AppData\Local\sct\ConfigMgrSetup.log instead"),
        "{stderr}"
    );
    let summary = std::fs::read_to_string(tool.join("ServiceConnectionTool.log")).unwrap();
    assert!(
        summary.contains("WARNING:cannot write logs in C:"),
        "{summary}"
    );
    let users = prefix.drive_c().join("users");
    let fallback = std::fs::read_dir(&users)
        .unwrap()
        .flatten()
        .map(|user| user.path().join(r"AppData/Local/sct/ConfigMgrSetup.log"))
        .find(|path| path.is_file())
        .expect("ConfigMgrSetup.log in the per-user folder");
    let detail = std::fs::read_to_string(fallback).unwrap();
    assert!(detail.contains(&shown(&second)), "{detail}");
}

#[test]
fn windows_authentication_is_attempted_against_a_tds_server() {
    use crate::mssql::configmgr_site;
    use sct_testkit::tds::MockServer;
    if !on_wine() {
        eprintln!(
            "skipped: windows_authentication_is_attempted_against_a_tds_server: needs the \
             Windows build under Wine (SCT_TEST_WINE=1, scripts/test-windows.sh)"
        );
        return;
    }
    // The mock has no TLS tiberius can use, hence DANGER_PLAINTEXT; Wine's SSPI cannot produce
    // NTLM credentials, so the login stops there (a real domain account is needed beyond it).
    let server = MockServer::start(configmgr_site);
    let env = Env::new();
    let site = format!(
        "Server=127.0.0.1,{};Database=CM_PS1;Integrated Security=SSPI;Encrypt=DANGER_PLAINTEXT",
        server.port
    );
    let out = env
        .cmd("sct-collect")
        .env("SCT_SITE", &site)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_exit!(out, Io, "{stderr}");
    let tried = format!(
        "Failed to connect to SQL Server `127.0.0.1,{}`, database `CM_PS1`, as the Windows \
         account running sct",
        server.port
    );
    assert!(stderr.contains(&tried), "{stderr}");
    assert!(
        !stderr.contains("SCT_SITE_PASSWORD"),
        "no password is asked for: {stderr}"
    );
    assert!(stdout_of(&out).is_empty());
}

/// An administrator's proxy in Internet Options, and no proxy flag: the Windows build goes
/// through it (as the original does), and `ProxyOverride` sends a listed host past it.
#[test]
fn the_internet_settings_proxy_is_used_without_a_flag() {
    let Some(prefix) = site_prefix("the_internet_settings_proxy_is_used_without_a_flag") else {
        return;
    };
    use crate::kit::{Nginx, PackSpec, Service, Squid};
    let env = Env::new();
    let mut service = Service::new(env.path("service"));
    service.add_pack(&PackSpec::update_2503(&[("payload.cab", 100_000)]));
    service.publish(1);
    let nginx = Nginx::start(&service.root, &env.path("nginx"));
    let squid = Squid::start(&env, "alice", "pw of alice");
    let fetch = |dest: &str, user: Option<&str>| {
        let mut cmd = prefix.cmd(&env, "sct-fetch");
        cmd.args([
            "--dest",
            dest,
            "--trusted-key",
            &service.public_key(),
            "--retries",
            "0",
        ]);
        if let Some(user) = user {
            cmd.args(["--proxy-user", user])
                .env("SCT_PROXY_PASSWORD", "pw of alice");
        }
        cmd.write_stdin(service.offer_a(&nginx.base))
            .output()
            .unwrap()
    };
    let server = format!("127.0.0.1:{}", squid.port);
    prefix.record(INTERNET_SETTINGS, "ProxyEnable", "REG_DWORD", "1");
    prefix.record(INTERNET_SETTINGS, "ProxyServer", "REG_SZ", &server);
    prefix.record(INTERNET_SETTINGS, "ProxyOverride", "REG_SZ", "<local>");
    // Without credentials the proxy refuses: the run went to it, not past it.
    let out = fetch("packs-refused", None);
    assert_exit!(out, Network);
    assert!(stderr_of(&out).contains("407"), "{}", stderr_of(&out));
    let out = fetch("packs", Some("alice"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        squid.logged("GET http://", 2) >= 2,
        "{}",
        squid.access_log()
    );
    assert!(
        squid.access_log().contains("alice"),
        "{}",
        squid.access_log()
    );
    // Listed in ProxyOverride, the service is reached directly: no credentials needed.
    prefix.record(
        INTERNET_SETTINGS,
        "ProxyOverride",
        "REG_SZ",
        "<local>;127.0.0.1",
    );
    let out = fetch("packs-direct", None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Turned off in Internet Options, the setting is ignored.
    prefix.record(INTERNET_SETTINGS, "ProxyEnable", "REG_DWORD", "0");
    prefix.record(INTERNET_SETTINGS, "ProxyOverride", "REG_SZ", "");
    let out = fetch("packs-off", None);
    assert!(out.status.success(), "{}", stderr_of(&out));
}
