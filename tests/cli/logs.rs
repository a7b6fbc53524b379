//! Log files: ServiceConnectionTool.log and ConfigMgrSetup.log open cleanly as CMTrace entries.

use crate::exit::assert_exit;
use crate::support::{Env, on_wine, stderr_of};
use sct_testkit::cmtrace::{self, Entry, Severity};
use std::path::{Path, PathBuf};

/// Runs the wrapper with its logs in `logs_dir`.
fn wrapper(env: &Env, logs_dir: &Path, site: &str, args: &[&str]) -> std::process::Output {
    env.cmd("ServiceConnectionTool")
        .env("SCT_LOG_DIR", logs_dir)
        .env("SCT_SITE", site)
        .args(args)
        .output()
        .unwrap()
}

/// Where a Windows path printed under Wine lies: `C:\x` in the prefix's `drive_c`, `Z:\x` at `/x`.
fn wine_unix_path(shown: &str) -> PathBuf {
    let (drive, rest) = shown.split_at(2);
    let rest = rest.trim_start_matches('\\').replace('\\', "/");
    match drive.to_ascii_uppercase().as_str() {
        "Z:" => Path::new("/").join(rest),
        "C:" => {
            let prefix = std::env::var_os("WINEPREFIX").expect("the Wine runner sets WINEPREFIX");
            Path::new(&prefix).join("drive_c").join(rest)
        }
        other => panic!("no Unix path for drive {other} in `{shown}`"),
    }
}

/// Every line of a log, each parsed on its own as one CMTrace record.
fn lines_as_entries(path: &Path) -> Vec<Entry> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!bytes.contains(&0x1b), "ANSI escape in {}", path.display());
    let text = String::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    text.lines()
        .map(|line| {
            cmtrace::parse_record(line).unwrap_or_else(|e| {
                panic!("{}: `{line}` is not a CMTrace entry: {e}", path.display())
            })
        })
        .collect()
}

fn messages(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.message.as_str()).collect()
}

/// `-prepare` writes `ServiceConnectionTool.log` and leaves `ConfigMgrSetup.log` alone: the
/// original writes that one during `-connect` only (on a site server it is setup's own log).
#[test]
fn prepare_writes_its_log_as_cmtrace_entries_and_no_setup_log() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let logs = env.path("logs");
    let out = wrapper(
        &env,
        &logs,
        &site,
        &["-prepare", "-usagedatadest", "UsageData.cab"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));

    let tool = lines_as_entries(&logs.join("ServiceConnectionTool.log"));
    let expected_bias = -(jiff::ZonedDateTime::now().offset().seconds() / 60);
    for entry in &tool {
        assert_eq!(entry.component, "ServiceConnectionTool");
        assert_eq!(entry.severity, Severity::Info, "{}", entry.message);
        assert!(entry.message.starts_with("INFO:"), "{}", entry.message);
        assert!(entry.thread > 0);
        assert_eq!(
            entry.bias_minutes, expected_bias,
            "bias = minutes from local time to UTC"
        );
        assert!(entry.file.contains(".rs:"), "{}", entry.file);
    }
    let text = messages(&tool);
    assert!(
        text[0].starts_with("INFO:ServiceConnectionTool (sct "),
        "{text:?}"
    );
    assert!(text.contains(&"INFO:Command line: -prepare -usagedatadest UsageData.cab"));
    assert!(text.contains(&"INFO:Phase: -prepare"));
    assert!(
        text.iter()
            .any(|m| m.contains("written to") && m.contains("SHA-256 = "))
    );
    assert_eq!(
        text.last(),
        Some(&"INFO:ServiceConnectionTool finished successfully")
    );

    assert!(
        !logs.join("ConfigMgrSetup.log").exists(),
        "-prepare wrote ConfigMgrSetup.log"
    );
}

#[test]
fn a_second_run_keeps_the_first_as_lo_() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let logs = env.path("logs");
    for dest in ["First.cab", "Second.cab"] {
        let out = wrapper(&env, &logs, &site, &["-prepare", "-usagedatadest", dest]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let mentions = |name: &str, what: &str| {
        messages(&lines_as_entries(&logs.join(name)))
            .iter()
            .any(|m| m.contains(what))
    };
    assert!(mentions("ServiceConnectionTool.log", "Second.cab"));
    assert!(!mentions("ServiceConnectionTool.log", "First.cab"));
    assert!(mentions("ServiceConnectionTool.lo_", "First.cab"));
    assert!(!mentions("ServiceConnectionTool.lo_", "Second.cab"));
    // No phase but -connect writes the detailed log.
    assert!(!logs.join("ConfigMgrSetup.log").exists());
}

#[test]
fn an_unwritable_log_folder_falls_back_to_the_user_folder() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    // A folder under a regular file cannot be created, whoever runs the test (root included).
    std::fs::write(env.path("not-a-folder"), "").unwrap();
    let blocked = env.path("not-a-folder").join("logs");
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_LOG_DIR", &blocked)
        .env("SCT_SITE", &site)
        .env("XDG_STATE_HOME", env.path("state"))
        .env("LOCALAPPDATA", env.path("state"))
        .args(["-prepare", "-usagedatadest", "UsageData.cab"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(env.path("UsageData.cab").is_file(), "the job was done");
    let stderr = stderr_of(&out);
    assert!(stderr.contains("warning: cannot write logs in"), "{stderr}");
    let log = if on_wine() {
        // Wine sets LOCALAPPDATA itself: the warning names the per-user log it used instead.
        let named = stderr
            .split("logging to ")
            .nth(1)
            .and_then(|rest| rest.split(" instead").next())
            .expect("the warning names the log used instead");
        wine_unix_path(named)
    } else {
        env.path("state")
            .join("sct")
            .join("ServiceConnectionTool.log")
    };
    let entries = lines_as_entries(&log);
    let warning = entries
        .iter()
        .find(|e| e.severity == Severity::Warning)
        .expect("a WARNING entry names the folder that failed");
    assert!(warning.message.starts_with("WARNING:cannot write logs in"));
    assert!(warning.message.contains("not-a-folder"));
}

#[test]
fn a_failure_is_logged_with_its_causes_and_exit_code() {
    let env = Env::new();
    let site = env.demo_site("new", &["--no-usage"]);
    let logs = env.path("logs");
    let out = wrapper(
        &env,
        &logs,
        &site,
        &["-prepare", "-usagedatadest", "UsageData.cab"],
    );
    assert_exit!(out, NoData);
    let entries = lines_as_entries(&logs.join("ServiceConnectionTool.log"));
    let errors: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.severity == Severity::Error)
        .collect();
    assert!(errors.len() >= 2, "{:?}", messages(&entries));
    assert!(errors.iter().all(|e| e.message.starts_with("ERROR:")));
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("no usage data yet"))
    );
    assert_eq!(
        errors.last().unwrap().message,
        "ERROR:ServiceConnectionTool failed with exit code 5"
    );
    assert!(
        !messages(&entries)
            .iter()
            .any(|m| m.contains("finished successfully"))
    );
}

#[test]
fn a_password_in_a_proxy_uri_never_reaches_the_log() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let logs = env.path("logs");
    let out = wrapper(
        &env,
        &logs,
        &site,
        &[
            "-connect",
            "-usagedatasrc",
            "UsageData.cab",
            "-updatepackdest",
            "UpdatePacks",
            "-proxyserveruri",
            "http://jqpublic:Tr0ub4dor@itproxy.contoso.com:8080",
        ],
    );
    assert!(!out.status.success());
    for name in ["ServiceConnectionTool.log", "ConfigMgrSetup.log"] {
        let text = std::fs::read_to_string(logs.join(name)).unwrap();
        assert!(!text.contains("Tr0ub4dor"), "{name}: {text}");
        assert!(
            text.contains("http://jqpublic:****@itproxy.contoso.com:8080"),
            "{name}"
        );
    }
}

#[test]
fn usage_errors_help_and_version_write_no_log() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let logs = env.path("logs");
    let out = wrapper(&env, &logs, &site, &["-prepare"]);
    assert_exit!(out, Usage);
    for args in [["-?"], ["-version"]] {
        let out = wrapper(&env, &logs, &site, &args);
        assert!(out.status.success(), "{args:?}");
    }
    assert!(!logs.exists());
}

#[test]
fn log_dir_in_the_config_file_is_read_from_its_folder() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let conf_dir = env.path("conf");
    std::fs::create_dir(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("sct.toml"),
        format!("site = \"{site}\"\nlog_dir = \"logs\"\n"),
    )
    .unwrap();
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_CONFIG", conf_dir.join("sct.toml"))
        .env_remove("SCT_LOG_DIR")
        .args(["-prepare", "-usagedatadest", "UsageData.cab"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let entries = lines_as_entries(&conf_dir.join("logs").join("ServiceConnectionTool.log"));
    assert!(
        messages(&entries)
            .iter()
            .any(|m| m.contains("Config file:") && m.contains("conf"))
    );
    assert!(
        !env.path("logs").exists(),
        "not relative to the working folder"
    );
}
