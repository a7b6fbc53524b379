//! ServiceConnectionTool: the original flags, -prepare and -export.

use crate::support::{Env, stderr_of, tree};

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
        assert_eq!(out.status.code(), Some(2), "{args:?}");
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
    assert_eq!(out.status.code(), Some(5));
    assert!(!env.path("UsageData.cab").exists());
}

/// The original three phases end to end: -prepare on the site, -connect against a real
/// `sct-serve`, -import back into the site; a rerun of -connect and -import changes nothing.
#[test]
fn prepare_connect_import_with_the_original_flags() {
    use crate::servicekit::{Server, published};
    let env = Env::new();
    let install = env.path("install");
    std::fs::create_dir(&install).unwrap();
    let site = env.demo_site(
        "ps1",
        &[
            "--version",
            "5.00.9128.1000",
            "--install-dir",
            install.to_str().unwrap(),
        ],
    );
    let service = published(&env);
    let server = Server::start(&env, &service.root, &[], &[]);
    let usb = env.path("usb");
    std::fs::create_dir(&usb).unwrap();
    let wrapper = |args: &[&str]| {
        env.cmd("ServiceConnectionTool")
            .env("SCT_SITE", &site)
            .env("SCT_SERVICE_URL", &server.url)
            .env("SCT_SERVICE_TOKEN", crate::servicekit::TOKEN)
            .env("SCT_TRUSTED_KEYS", &service.public)
            .args(args)
            .output()
            .unwrap()
    };
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
            let entry = sct::cmtrace::parse_record(line)
                .unwrap_or_else(|e| panic!("{log}: `{line}` is not a CMTrace entry: {e}"));
            downloads += usize::from(entry.message.contains("Downloading Payload"));
        }
    }
    assert!(downloads > 0, "no `Downloading Payload` entry in the logs");
}
