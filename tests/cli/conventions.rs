//! What a Windows administrator types and saves: `/?` for help, `sct.toml` as Notepad and
//! PowerShell save it, a Windows path in double quotes, and the quote cmd.exe swallows after a
//! trailing backslash. These run against the `.exe` files under Wine too.

use crate::exit::assert_exit;
use crate::support::{Env, on_wine, stderr_of, stdout_of};

/// Every program an administrator runs (sct-demo is for trying it out, and answers too).
const PROGRAMS: &[&str] = &[
    "ServiceConnectionTool",
    "sct-collect",
    "sct-pack",
    "sct-upload",
    "sct-fetch",
    "sct-verify",
    "sct-import",
    "sct-serve",
    "sct-demo",
];

#[test]
fn slash_question_mark_is_help_in_every_program() {
    let env = Env::new();
    // `/help` is a path on Linux, help on Windows.
    let spellings: &[&str] = if on_wine() {
        &["/?", "/help", "/HELP", "/h"]
    } else {
        &["/?"]
    };
    for program in PROGRAMS {
        for spelling in spellings {
            let out = env.cmd(program).arg(spelling).output().unwrap();
            assert!(
                out.status.success(),
                "{program} {spelling}: {}",
                stderr_of(&out)
            );
            let help = stdout_of(&out);
            assert!(help.contains("Example"), "{program} {spelling}: {help}");
        }
    }
    // A subcommand's help, and help even after a phase.
    let out = env.cmd("sct-pack").args(["create", "/?"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("create"), "{}", stdout_of(&out));
    let out = env
        .cmd("ServiceConnectionTool")
        .args(["-prepare", "/?"])
        .output()
        .unwrap();
    assert!(stdout_of(&out).contains("-usagedatadest"));
}

/// The settings file in every form Notepad (ANSI, "Unicode", UTF-8 with BOM) and PowerShell
/// 5.1 (`Out-File`, `>`: UTF-16 LE) save it, with a non-ASCII comment.
#[test]
fn sct_toml_is_read_as_notepad_and_powershell_save_it() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let text = format!("# sct.toml \u{2014} r\u{e9}glages du site\r\nsite = '{site}'\r\n");
    let utf16 = |bom: &[u8], unit: fn(u16) -> [u8; 2]| {
        let mut bytes = bom.to_vec();
        bytes.extend(text.encode_utf16().flat_map(unit));
        bytes
    };
    let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
    utf8_bom.extend(text.as_bytes());
    // Windows-1252, the ANSI code page of an English or Western-European Windows (and Wine's).
    let ansi: Vec<u8> = text
        .chars()
        .map(|c| match c {
            '\u{2014}' => 0x97,
            c => u8::try_from(u32::from(c)).unwrap(),
        })
        .collect();
    for (form, bytes) in [
        ("ANSI", ansi),
        ("UTF-8 with BOM", utf8_bom),
        ("UTF-16 LE", utf16(b"\xFF\xFE", u16::to_le_bytes)),
        ("UTF-16 BE", utf16(b"\xFE\xFF", u16::to_be_bytes)),
    ] {
        std::fs::write(env.path("sct.toml"), bytes).unwrap();
        let out = env
            .cmd("ServiceConnectionTool")
            .env("SCT_CONFIG", env.path("sct.toml"))
            .args(["-export", "-dest", "usagedata.csv"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{form}: {}", stderr_of(&out));
    }
}

#[test]
fn a_windows_path_in_double_quotes_is_explained_on_one_line() {
    let env = Env::new();
    std::fs::write(
        env.path("sct.toml"),
        "# settings\r\nlog_dir = \"C:\\sct\\logs\"\r\n",
    )
    .unwrap();
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_CONFIG", env.path("sct.toml"))
        .args(["-export", "-dest", "usagedata.csv"])
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    let err = stderr_of(&out);
    assert!(err.contains("line 2, column"), "{err}");
    assert!(err.contains("single quotes"), "{err}");
    assert!(!err.contains("\\n"), "escaped line breaks: {err}");
}

/// `-UsageDataSrc "D:\USB\" -UpdatePackDest D:\USB\UpdatePacks` typed at cmd.exe reaches the
/// program as two arguments: the `\"` is a quote inside the value.
#[test]
fn a_quote_swallowed_by_a_trailing_backslash_is_explained() {
    let env = Env::new();
    let out = env
        .cmd("ServiceConnectionTool")
        .args([
            "-connect",
            "-UsageDataSrc",
            "D:\\USB\" -UpdatePackDest D:\\USB\\UpdatePacks",
        ])
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    let err = stderr_of(&out);
    assert!(err.contains("-usagedatasrc"), "{err}");
    assert!(err.contains("leave out the final backslash"), "{err}");
    let out = env
        .cmd("sct-fetch")
        .args(["--dest", "D:\\USB\" --mode all"])
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("final backslash"),
        "{}",
        stderr_of(&out)
    );
}

/// A folder where the cab file belongs is said as such, not as the OS's "Access denied".
#[test]
fn a_folder_given_to_usagedatadest_is_named_as_a_folder() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    std::fs::create_dir(env.path("usb")).unwrap();
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_SITE", &site)
        .args(["-prepare", "-usagedatadest", "usb"])
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    let err = stderr_of(&out);
    assert!(err.contains("is a folder"), "{err}");
    assert!(err.contains("UsageData.cab"), "{err}");
    assert!(!err.contains("os error"), "{err}");
}

/// A usage data source that is not there (a drive not plugged in) is said in those words,
/// before anything is sent.
#[test]
fn a_missing_usage_data_source_asks_about_the_drive() {
    let env = Env::new();
    let keygen = env
        .cmd("sct-serve")
        .args(["keygen", "--out", "key.json"])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", stderr_of(&keygen));
    let doc: serde_json::Value = serde_json::from_slice(&keygen.stdout).unwrap();
    let closed = crate::kit::closed_port();
    let out = env
        .cmd("ServiceConnectionTool")
        .env("SCT_TRUSTED_KEYS", doc["public_key"].as_str().unwrap())
        .env(
            "SCT_SERVICE_URL",
            format!("http://127.0.0.1:{}", closed.port),
        )
        .args([
            "-connect",
            "-usagedatasrc",
            "usb-not-plugged",
            "-updatepackdest",
            "UpdatePacks",
        ])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    let err = stderr_of(&out);
    assert!(
        err.contains("does not exist: is the drive plugged in"),
        "{err}"
    );
    assert!(!err.contains("metadata"), "{err}");
}

/// The service and demo programs show examples an administrator of the system can type:
/// Windows paths and `set` on Windows, never `/srv`, `/opt`, `/tmp` or `export` there.
#[test]
fn serve_and_demo_help_speak_the_systems_words() {
    let env = Env::new();
    let help = |args: &[&str]| {
        let out = env.cmd(args[0]).args(&args[1..]).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        stdout_of(&out)
    };
    let texts = [
        help(&["sct-serve", "--help"]),
        help(&["sct-serve", "keygen", "--help"]),
        help(&["sct-serve", "publish", "--help"]),
        help(&["sct-serve", "run", "--help"]),
        help(&["sct-demo", "--help"]),
        help(&["sct-demo", "site", "--help"]),
        help(&["sct-demo", "packs", "--help"]),
    ];
    for text in &texts {
        if on_wine() {
            for unix in ["/srv", "/opt", "/tmp", "/etc", "export ", "0600"] {
                assert!(!text.contains(unix), "`{unix}` in:\n{text}");
            }
            assert!(text.contains(":\\"), "no Windows path in:\n{text}");
        } else {
            assert!(text.contains('/'), "no Linux path in:\n{text}");
        }
    }
    let default = if on_wine() {
        "C:\\sct-demo\\site"
    } else {
        "/opt/sct-demo/site"
    };
    assert!(texts[5].contains(default), "{}", texts[5]);
}

/// An update service nobody answers at is named with the setting to check, and nothing is
/// sent; a proxy whose name does not resolve is not asked five times.
#[test]
fn an_unreachable_service_is_said_in_the_operators_terms() {
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    let keygen = env
        .cmd("sct-serve")
        .args(["keygen", "--out", "key.json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&keygen.stdout).unwrap();
    let key = doc["public_key"].as_str().unwrap().to_owned();
    std::fs::create_dir(env.path("usb")).unwrap();
    let prepare = env
        .cmd("ServiceConnectionTool")
        .env("SCT_SITE", &site)
        .args(["-prepare", "-usagedatadest", "usb/UsageData.cab"])
        .output()
        .unwrap();
    assert!(prepare.status.success(), "{}", stderr_of(&prepare));
    let closed = crate::kit::closed_port();
    let connect = |extra: &[&str]| {
        env.cmd("ServiceConnectionTool")
            .env("SCT_TRUSTED_KEYS", &key)
            .env(
                "SCT_SERVICE_URL",
                format!("http://127.0.0.1:{}", closed.port),
            )
            .args([
                "-connect",
                "-usagedatasrc",
                "usb",
                "-updatepackdest",
                "usb/UpdatePacks",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = connect(&[]);
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("cannot reach the update service"), "{err}");
    assert!(first.contains("service_url"), "{err}");
    assert!(first.contains("no usage data was sent"), "{err}");

    // The log is appended to: start it afresh for the proxy's run (the refused connection to
    // the service above is transient, and was rightly retried).
    std::fs::remove_file(env.logs().join("ConfigMgrSetup.log")).unwrap();
    let out = connect(&["-proxyserveruri", "proxy.contoso.invalid:3128"]);
    assert_exit!(out, Network);
    let err = stderr_of(&out);
    assert!(err.contains("proxy.contoso.invalid"), "{err}");
    let setup_log = std::fs::read_to_string(env.logs().join("ConfigMgrSetup.log")).unwrap();
    assert!(
        !setup_log.contains("Retrying"),
        "a proxy name that does not resolve was retried:\n{setup_log}"
    );
}
