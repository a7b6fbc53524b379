//! ServiceConnectionTool: the original flags, -prepare and -export.

use crate::exit::{assert_exit, exit_class};
use crate::kit::{Fault, TestServer};
use crate::support::{Env, stderr_of, tree};
use sct::core::error::ExitCode;

#[test]
fn prepare_writes_the_usage_cab() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_SITE", &site)
        .args(["-prepare", "-usagedatadest", "UsageData.cab"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    env.cmd("sct-pack")
        .args(["inspect", "UsageData.cab"])
        .assert()
        .success();
}

#[test]
fn flags_are_case_insensitive_and_config_file_finds_the_site() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    std::fs::write(env.path("sct.toml"), format!("site = \"{site}\"\n")).unwrap();
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_CONFIG", env.path("sct.toml"))
        .args(["-Export", "-Dest", "usagedata.csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let csv = std::fs::read_to_string(env.path("usagedata.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9);
}

#[test]
fn usage_errors_exit_2_name_the_flag_and_write_nothing() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let before = tree(env.dir.path());
    for (args, expect) in [
        (vec!["-prepare"], "-usagedatadest"),
        (vec!["-export"], "-dest"),
        (vec!["-connect", "-usagedatasrc", "x"], "-updatepackdest"),
        (vec!["-import"], "-updatepacksrc"),
        (vec![], "no phase"),
        (
            vec!["-prepare", "-usagedatadest", "a.cab", "-downloadall"],
            "-downloadall",
        ),
        (
            vec![
                "-connect",
                "-usagedatasrc",
                "x",
                "-updatepackdest",
                "y",
                "-downloadall",
                "-downloadhotfix",
            ],
            "cannot be combined",
        ),
    ] {
        let out = env
            .cmd("ServiceConnectionTool")
            .env("SCT_SITE", &site)
            .args(&args)
            .output()
            .unwrap();
        assert_exit!(out, Usage, "{args:?}");
        assert!(
            stderr_of(&out).contains(expect),
            "{args:?}: {}",
            stderr_of(&out)
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(tree(env.dir.path()), before);
}

#[test]
fn help_shows_the_original_examples() {
    let env = Env::new();
    let out = env.cmd("ServiceConnectionTool").arg("-?").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("-connect -usagedatasrc D:\\USB\\ -updatepackdest D:\\USB\\UpdatePacks"));
    assert!(text.contains("Exit codes"));
}

#[test]
fn prepare_without_usage_data_writes_no_cab() {
    let env = Env::new();
    let site = env.demo_site("new", &["--no-usage"]);
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_SITE", &site)
        .args(["-prepare", "-usagedatadest", "UsageData.cab"])
        .output()
        .unwrap();
    assert_exit!(out, NoData);
    assert!(!env.path("UsageData.cab").exists());
}

/// The original three phases end to end: -prepare on the site, -connect against a real
/// `sct-serve`, -import back into the site; a rerun of -connect and -import changes nothing.
#[test]
fn prepare_connect_import_with_the_original_flags() {
    use crate::kit::Trip;
    let env = Env::new();
    let (site, install) = env.installed_site("ps1", "install", &["--version", "5.00.9128.1000"]);
    let trip = Trip::start(&env);
    let wrapper = |args: &[&str]| trip.wrapper(&env, &site, args);
    let prepare = wrapper(&["-prepare", "-usagedatadest", "usb/UsageData.cab"]);
    assert!(prepare.status.success(), "{}", stderr_of(&prepare));
    let connect = wrapper(&[
        "-Connect",
        "-UsageDataSrc",
        "usb",
        "-UpdatePackDest",
        "usb/UpdatePacks",
    ]);
    assert!(connect.status.success(), "{}", stderr_of(&connect));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&connect.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().all(|e| e["schema"] == "sct.fetch.v1"),
        "{events:?}"
    );
    let import = wrapper(&["-import", "-updatepacksrc", "usb/UpdatePacks"]);
    assert!(import.status.success(), "{}", stderr_of(&import));
    let offline = install.join("EasySetupPayload").join("offline");
    let imported = tree(&offline);
    assert!(
        !imported.is_empty(),
        "nothing imported: {}",
        stderr_of(&import)
    );
    // The latest update for a 2403 site is 2503: exactly one pack folder, with its cab.
    let guid = "8576527E-DDE9-4146-8ED9-DB91091C38EF";
    assert!(
        imported.iter().any(|p| p == &format!("{guid}/{guid}.cab")),
        "{imported:?}"
    );
    let again = wrapper(&[
        "-connect",
        "-usagedatasrc",
        "usb",
        "-updatepackdest",
        "usb/UpdatePacks",
    ]);
    assert!(again.status.success(), "{}", stderr_of(&again));
    let import_again = wrapper(&["-import", "-updatepacksrc", "usb/UpdatePacks"]);
    assert!(
        import_again.status.success(),
        "{}",
        stderr_of(&import_again)
    );
    assert_eq!(tree(&offline), imported);
    // Every line of every log of the whole run opens as a CMTrace entry, and the download is
    // logged in the original's words.
    let mut downloads = 0;
    for log in [
        "ServiceConnectionTool.log",
        "ServiceConnectionTool.lo_",
        "ConfigMgrSetup.log",
    ] {
        let text = std::fs::read_to_string(env.logs().join(log)).unwrap();
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for line in text.lines() {
            let entry = sct_testkit::cmtrace::parse_record(line)
                .unwrap_or_else(|e| panic!("{log}: `{line}` is not a CMTrace entry: {e}"));
            downloads += usize::from(entry.message.contains("Downloading Payload"));
        }
    }
    assert!(downloads > 0, "no `Downloading Payload` entry in the logs");
}

/// Stage flags (`--site`, `--proxy-user`) and other tools' prefixes (`sct-fetch:`) a wrapper
/// message must not show: the operator can type none of them into ServiceConnectionTool.
fn assert_wrapper_words(text: &str) {
    for line in text.lines() {
        assert!(
            line.starts_with("ServiceConnectionTool:"),
            "a line without the wrapper's name: `{line}`\n{text}"
        );
        let flag = line
            .split_whitespace()
            .find(|word| word.trim_matches(['(', '`', ',']).starts_with("--"));
        assert!(flag.is_none(), "names {flag:?}: `{line}`");
    }
}

/// Runs the wrapper with `vars` set (SCT_* cleared otherwise); returns exit code and stderr.
fn wrapper_with(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (Option<ExitCode>, String) {
    let mut cmd = env.cmd("ServiceConnectionTool");
    for (key, value) in vars {
        cmd.env(key, value);
    }
    let out = cmd.args(args).output().unwrap();
    (exit_class(&out), stderr_of(&out))
}

/// `-prepare` into `usb/UsageData.cab` (which must succeed), then `-connect` from `usb` into
/// `usb/UpdatePacks` with `extra` flags: the connect's exit code and stderr.
fn prepare_then_connect(
    env: &Env,
    vars: &[(&str, &str)],
    extra: &[&str],
) -> (Option<ExitCode>, String) {
    let prepare = ["-prepare", "-usagedatadest", "usb/UsageData.cab"];
    let (code, stderr) = wrapper_with(env, vars, &prepare);
    assert_eq!(code, Some(ExitCode::Success), "{stderr}");
    let connect = [
        "-connect",
        "-usagedatasrc",
        "usb",
        "-updatepackdest",
        "usb/UpdatePacks",
    ];
    wrapper_with(env, vars, &[&connect[..], extra].concat())
}

/// Settings, arguments, the exit code and what stderr must say.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], ExitCode, &'a str);

#[test]
fn messages_name_only_what_the_wrapper_accepts() {
    use crate::kit::published;
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let service = published(&env);
    std::fs::create_dir(env.path("usb")).unwrap();
    let key = service.public.as_str();
    let cases: [Case; 5] = [
        (
            &[],
            &["-prepare", "-usagedatadest", "usb/UsageData.cab"],
            ExitCode::Usage,
            "set SCT_SITE or add `site = ...`",
        ),
        (
            &[("SCT_SITE", &site)],
            &["-import", "-updatepacksrc", "usb"],
            ExitCode::Usage,
            "set SCT_TRUSTED_KEYS or add `trusted_keys = ...`",
        ),
        (
            &[("SCT_TRUSTED_KEYS", key)],
            &[
                "-connect",
                "-usagedatasrc",
                "usb",
                "-updatepackdest",
                "usb/UpdatePacks",
            ],
            ExitCode::Usage,
            "set SCT_SERVICE_URL or add `service_url = ...`",
        ),
        (
            &[("SCT_TRUSTED_KEYS", key)],
            &[
                "-connect",
                "-usagedatasrc",
                "usb",
                "-updatepackdest",
                "usb/UpdatePacks",
                "-proxyusername",
                "jqpublic",
            ],
            ExitCode::Usage,
            "use -proxyserveruri or add `proxy = ...`",
        ),
        (
            &[("SCT_TRUSTED_KEYS", key)],
            &[
                "-connect",
                "-usagedatasrc",
                "usb",
                "-updatepackdest",
                "usb/UpdatePacks",
                "-proxyserveruri",
                "127.0.0.1:9",
                "-proxyusername",
                "jqpublic",
            ],
            ExitCode::Usage,
            "SCT_PROXY_PASSWORD",
        ),
    ];
    for (vars, args, code, expect) in cases {
        let (got, stderr) = wrapper_with(&env, vars, args);
        assert_eq!(got, Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert_wrapper_words(&stderr);
    }
}

#[test]
fn help_lists_every_setting_the_phases_need() {
    let env = Env::new();
    let out = env
        .cmd("ServiceConnectionTool")
        .arg("-help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for setting in [
        "SCT_SITE",
        "SCT_SITE_PASSWORD",
        "SCT_TRUSTED_KEYS",
        "SCT_SERVICE_URL",
        "SCT_SERVICE_TOKEN",
        "SCT_PROXY_PASSWORD",
        "SCT_INSTALL_DIR",
        "install_dir",
        "proxy_user",
        "SCT_LOG_DIR",
    ] {
        assert!(
            help.contains(setting),
            "-help does not name {setting}:\n{help}"
        );
    }
}

#[test]
fn a_proxy_without_a_port_is_reached_on_port_80() {
    let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:80") else {
        eprintln!("skipped: 127.0.0.1:80 cannot be bound here (not root, or in use)");
        return;
    };
    let proxy = TestServer::failing_on(listener, Fault::Conflict);
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let service = crate::kit::published(&env);
    std::fs::create_dir(env.path("usb")).unwrap();
    let vars = [
        ("SCT_SITE", site.as_str()),
        ("SCT_TRUSTED_KEYS", service.public.as_str()),
        ("SCT_SERVICE_URL", "http://updates.example.invalid"),
    ];
    let (code, stderr) = prepare_then_connect(&env, &vars, &["-proxyserveruri", "127.0.0.1"]);
    assert_eq!(code, Some(ExitCode::Network), "{stderr}");
    assert!(proxy.connections() > 0, "{stderr}");
    assert_wrapper_words(&stderr);
}

#[test]
fn an_unreachable_proxy_is_named_not_the_service() {
    let closed = crate::kit::closed_port();
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let service = crate::kit::published(&env);
    std::fs::create_dir(env.path("usb")).unwrap();
    let vars = [
        ("SCT_SITE", site.as_str()),
        ("SCT_TRUSTED_KEYS", service.public.as_str()),
        ("SCT_SERVICE_URL", "http://updates.example.invalid"),
    ];
    wrapper_with(
        &env,
        &vars,
        &["-prepare", "-usagedatadest", "usb/UsageData.cab"],
    );
    let proxy = format!("127.0.0.1:{}", closed.port);
    let (code, stderr) = wrapper_with(
        &env,
        &vars,
        &[
            "-connect",
            "-usagedatasrc",
            "usb",
            "-updatepackdest",
            "usb/UpdatePacks",
            "-proxyserveruri",
            &proxy,
        ],
    );
    assert_eq!(code, Some(ExitCode::Network), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to the proxy http://{proxy}")),
        "{stderr}"
    );
    assert_wrapper_words(&stderr);
}

#[test]
fn the_proxy_can_be_set_in_sct_toml() {
    let proxy = TestServer::failing(Fault::Conflict);
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let service = crate::kit::published(&env);
    std::fs::create_dir(env.path("usb")).unwrap();
    let config = env.path("sct.toml");
    std::fs::write(
        &config,
        format!(
            "site = \"{site}\"\ntrusted_keys = [\"{}\"]\nservice_url = \"http://updates.example.invalid\"\nproxy = \"{}\"\n",
            service.public,
            proxy.base.strip_prefix("http://").unwrap()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let vars = [("SCT_CONFIG", config.as_str())];
    let (code, stderr) = prepare_then_connect(&env, &vars, &[]);
    assert_eq!(code, Some(ExitCode::Network), "{stderr}");
    assert!(proxy.connections() > 0, "the proxy saw nothing: {stderr}");
}

/// The review CSV shows every field the cab carries, read back from the cab, with formula-like
/// cells neutralised; `sct-pack inspect --csv` on the prepared cab gives the same rows.
#[test]
fn export_shows_every_field_the_cab_carries() {
    let env = Env::new();
    let site = env.demo_site(
        "ps1",
        &[
            "--site-name=+Contoso Primary",
            "--install-dir==cmd|' /C calc'!A0",
        ],
    );
    let (code, stderr) = wrapper_with(
        &env,
        &[("SCT_SITE", &site)],
        &["-export", "-dest", "review.csv"],
    );
    assert_eq!(code, Some(ExitCode::Success), "{stderr}");
    assert_wrapper_words(&stderr);
    let text = std::fs::read_to_string(env.path("review.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    for column in [
        "SiteName",
        "ServerName",
        "InstallDir",
        "HierarchyHash",
        "FullVersion",
    ] {
        assert!(header.iter().any(|h| h == column), "{header:?}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 8);
    let cell = |row: &csv::StringRecord, name: &str| {
        row[header.iter().position(|h| h == name).unwrap()].to_owned()
    };
    assert_eq!(cell(&rows[0], "SiteName"), "'+Contoso Primary");
    assert_eq!(cell(&rows[0], "InstallDir"), "'=cmd|' /C calc'!A0");
    for row in &rows {
        for value in row.iter() {
            assert!(
                !value.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "`{value}` would be evaluated"
            );
        }
    }
    let (code, stderr) = wrapper_with(
        &env,
        &[("SCT_SITE", &site)],
        &["-prepare", "-usagedatadest", "UsageData.cab"],
    );
    assert_eq!(code, Some(ExitCode::Success), "{stderr}");
    let inspect = env
        .cmd("sct-pack")
        .args(["inspect", "--csv", "UsageData.cab"])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr_of(&inspect));
    let from_cab = String::from_utf8(inspect.stdout).unwrap();
    // The same rows but for the time each document was made.
    let without_time = |text: &str| -> Vec<String> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let at = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "GeneratedAt")
            .unwrap();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                r.iter()
                    .enumerate()
                    .filter(|(i, _)| *i != at)
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    assert_eq!(without_time(&from_cab), without_time(&text));
}

/// What a terminal shows for a wrapper run: the command under `script`, so stdout and stderr are
/// a pseudo-terminal, as in an operator's console. Returns the exit code and the text with colour
/// codes removed, split where the terminal would start over (`\n`, `\r`).
fn on_a_terminal(
    env: &Env,
    vars: &[(&str, &str)],
    args: &[&str],
) -> (Option<ExitCode>, Vec<String>) {
    crate::support::require_tool("script");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let line = format!(
        "'{}' {}",
        crate::support::bin_path("ServiceConnectionTool").display(),
        quoted.join(" ")
    );
    let mut cmd = std::process::Command::new("script");
    for (key, _) in std::env::vars() {
        if key.starts_with("SCT_") {
            cmd.env_remove(&key);
        }
    }
    let config = env.path("sct-empty.toml");
    std::fs::write(&config, "").unwrap();
    cmd.env("SCT_CONFIG", &config)
        .env("SCT_LOG_DIR", env.logs())
        .env("TERM", "xterm")
        .current_dir(env.dir.path());
    for (key, value) in vars {
        cmd.env(key, value);
    }
    let out = cmd.args(["-qec", &line, "/dev/null"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '~' {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    let segments = plain
        .split(['\n', '\r'])
        .map(str::trim_end)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (exit_class(&out), segments)
}

/// Every line on the terminal is either one message of the wrapper or a progress bar, never
/// both and never two messages; no JSON is printed; nothing failed is called INFO.
fn assert_readable(segments: &[String]) {
    for segment in segments {
        let bar = segment.contains("B/s");
        let messages = segment.matches("ServiceConnectionTool: ").count()
            - usize::from(bar && segment.starts_with("ServiceConnectionTool: "));
        assert!(
            (bar && messages == 0) || (!bar && messages == 1),
            "`{segment}` is not one message or one bar:\n{segments:#?}"
        );
        assert!(
            !segment.contains("\"schema\""),
            "JSON on a terminal: {segment}"
        );
        assert!(
            !segment.contains("INFO: ") || !segment.contains("failed"),
            "{segment}"
        );
    }
}

#[test]
fn on_a_terminal_the_wrapper_tells_what_it_did() {
    if crate::support::skip_on_wine(
        "wrapper::on_a_terminal_the_wrapper_tells_what_it_did",
        "`script` gives a Linux pseudo-terminal, which a Wine console is not",
    ) {
        return;
    }
    use crate::kit::{Server, published};
    let env = Env::new();
    let (site, _) = env.installed_site("ps1", "install", &[]);
    let service = published(&env);
    let server = Server::start(&env, &service.root, &[], &[]);
    std::fs::create_dir(env.path("usb")).unwrap();
    let vars = [
        ("SCT_SITE", site.as_str()),
        ("SCT_SERVICE_URL", server.url.as_str()),
        ("SCT_TRUSTED_KEYS", service.public.as_str()),
        ("SCT_SERVICE_TOKEN", crate::kit::TOKEN),
    ];
    let (code, shown) = on_a_terminal(
        &env,
        &vars,
        &["-prepare", "-usagedatadest", "usb/UsageData.cab"],
    );
    assert_eq!(code, Some(ExitCode::Success), "{shown:#?}");
    assert_readable(&shown);
    assert!(
        shown
            .iter()
            .any(|l| l.contains("INFO: usage data of site PS1")),
        "{shown:#?}"
    );
    let (code, shown) = on_a_terminal(
        &env,
        &vars,
        &[
            "-connect",
            "-downloadall",
            "-usagedatasrc",
            "usb",
            "-updatepackdest",
            "usb/UpdatePacks",
        ],
    );
    assert_eq!(code, Some(ExitCode::Success), "{shown:#?}");
    assert_readable(&shown);
    assert!(
        shown.iter().any(|l| l.contains("uploaded from")),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|l| l.contains("downloaded and verified")),
        "{shown:#?}"
    );
    let (code, shown) = on_a_terminal(
        &env,
        &vars,
        &["-import", "-updatepacksrc", "usb/UpdatePacks"],
    );
    assert_eq!(code, Some(ExitCode::Success), "{shown:#?}");
    assert_readable(&shown);
    for outcome in ["INFO: imported ", "does not apply to this site"] {
        assert!(
            shown.iter().any(|l| l.contains(outcome)),
            "no `{outcome}`: {shown:#?}"
        );
    }
    // Piped, the same phase prints its JSON lines.
    let (code, _) = wrapper_with(
        &env,
        &vars,
        &["-import", "-updatepacksrc", "usb/UpdatePacks"],
    );
    assert_eq!(code, Some(ExitCode::Success));
    let piped = env
        .cmd("ServiceConnectionTool")
        .env("SCT_SITE", &site)
        .env("SCT_TRUSTED_KEYS", &service.public)
        .args(["-import", "-updatepacksrc", "usb/UpdatePacks"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&piped.stdout).contains("\"schema\":\"sct.import.v1\""));
}

/// A token is never sent in clear to another machine unless the operator accepts it by name;
/// the refusal comes before any request (the service's name is not even looked up).
#[test]
fn a_token_is_not_sent_over_plain_http_to_another_host() {
    let env = Env::new();
    std::fs::create_dir(env.path("usb")).unwrap();
    std::fs::write(env.path("usb/UsageData.cab"), b"not read").unwrap();
    let keygen = env
        .cmd("sct-serve")
        .args(["keygen", "--out", "key.json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&keygen.stdout).unwrap();
    let vars = [
        ("SCT_SERVICE_URL", "http://updates.contoso.invalid"),
        ("SCT_SERVICE_TOKEN", "tok-3c1d"),
        ("SCT_TRUSTED_KEYS", doc["public_key"].as_str().unwrap()),
    ];
    let connect = [
        "-connect",
        "-usagedatasrc",
        "usb",
        "-updatepackdest",
        "usb/UpdatePacks",
    ];
    let (code, stderr) = wrapper_with(&env, &vars, &connect);
    assert_eq!(code, Some(ExitCode::Usage), "{stderr}");
    assert!(stderr.contains("in clear over http://"), "{stderr}");
    assert!(stderr.contains("SCT_ALLOW_CLEAR_TEXT_TOKEN"), "{stderr}");
    let out = env
        .cmd("sct-upload")
        .envs(vars)
        .arg("usb/UsageData.cab")
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("SCT_ALLOW_CLEAR_TEXT_TOKEN"));
    // Accepted by name, the run goes on to the next check (here: the cab is not a cab).
    let out = env
        .cmd("sct-upload")
        .envs(vars)
        .env("SCT_ALLOW_CLEAR_TEXT_TOKEN", "1")
        .arg("usb/UsageData.cab")
        .output()
        .unwrap();
    assert!(!stderr_of(&out).contains("in clear"), "{}", stderr_of(&out));
}

/// `-connect` asks the service for its signed catalog first: a service whose catalog no pinned
/// key signed receives no usage data.
#[test]
fn connect_sends_no_usage_data_to_a_service_without_a_catalog_of_a_pinned_key() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let trip = crate::kit::Trip::start(&env);
    let other = env.path("other-key.json");
    let keygen = env
        .cmd("sct-serve")
        .args(["keygen", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", stderr_of(&keygen));
    let doc: serde_json::Value = serde_json::from_slice(&keygen.stdout).unwrap();
    let prepare = trip.wrapper(
        &env,
        &site,
        &["-prepare", "-usagedatadest", "usb/UsageData.cab"],
    );
    assert!(prepare.status.success(), "{}", stderr_of(&prepare));
    let out = trip
        .server
        .client(&env, "ServiceConnectionTool", &trip.service)
        .env("SCT_SITE", &site)
        .env("SCT_TRUSTED_KEYS", doc["public_key"].as_str().unwrap())
        .args([
            "-connect",
            "-usagedatasrc",
            "usb",
            "-updatepackdest",
            "usb/UpdatePacks",
        ])
        .output()
        .unwrap();
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("no usage data was sent"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        crate::kit::stored(&trip.service.root).is_empty(),
        "an upload was stored"
    );
    assert!(!env.path("usb/UpdatePacks").exists());
}
