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
