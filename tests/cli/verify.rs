//! sct-verify: a carried update-pack folder, checked against nothing but the pinned key.

use crate::exit::assert_exit;
use crate::kit::{PackSpec, Service, TestServer, read};
use crate::support::{Env, stderr_of, stdout_of};
use std::process::Output;

/// A fetched folder `packs/` holding one pack of three files (two of them large enough to be
/// hashed on separate cores).
fn fetched(env: &Env) -> (Service, String) {
    let mut service = Service::new(env.path("service"));
    service.add_pack(&PackSpec::update_2503(&[
        ("payload.cab", 1_500_000),
        ("Redist/big.cab", 1_200_000),
        ("Redist/small.txt", 10),
    ]));
    service.publish(3);
    let server = TestServer::start(&service.root);
    let out = env
        .cmd("sct-fetch")
        .args(["--dest", "packs", "--trusted-key", &service.public_key()])
        .write_stdin(service.offer_a(&server.base))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let folder = service.packs[0].package_guid.to_string().to_uppercase();
    (service, folder)
}

fn verify(env: &Env, service: &Service) -> Output {
    env.cmd("sct-verify")
        .args(["--trusted-key", &service.public_key(), "packs"])
        .output()
        .unwrap()
}

/// Runs sct-verify, expects exit 1 with a report, and returns the report.
fn refused(env: &Env, service: &Service) -> serde_json::Value {
    let out = verify(env, service);
    assert_exit!(out, Rejected);
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&out)).expect("a report");
    assert_eq!(report["ok"], false);
    report
}

fn problems(report: &serde_json::Value) -> String {
    report["packs"][0]["problems"].to_string()
}

#[test]
fn an_intact_folder_verifies() {
    let env = Env::new();
    let (service, _) = fetched(&env);
    let out = verify(&env, &service);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "sct.verify.v1");
    assert_eq!(report["ok"], true);
    assert_eq!(report["catalog_version"], 3);
    assert_eq!(report["packs"][0]["files"], 3);
    assert_eq!(report["unexpected"].as_array().unwrap().len(), 0);
}

#[test]
fn a_tampered_byte_is_found() {
    let env = Env::new();
    let (service, folder) = fetched(&env);
    let path = env.path("packs").join(&folder).join("Redist/big.cab");
    let mut bytes = read(&path);
    bytes[600_000] ^= 0x80;
    std::fs::write(&path, bytes).unwrap();
    let report = refused(&env, &service);
    assert!(
        problems(&report).contains("Redist/big.cab` has SHA-256"),
        "{report}"
    );
}

#[test]
fn a_truncated_file_is_found() {
    let env = Env::new();
    let (service, folder) = fetched(&env);
    let path = env.path("packs").join(&folder).join("payload.cab");
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(1000).unwrap();
    let report = refused(&env, &service);
    assert!(
        problems(&report).contains("is 1000 bytes, expected 1500000"),
        "{report}"
    );
}

#[test]
fn a_missing_file_is_found() {
    let env = Env::new();
    let (service, folder) = fetched(&env);
    std::fs::remove_file(env.path("packs").join(&folder).join("Redist/small.txt")).unwrap();
    let report = refused(&env, &service);
    assert!(
        problems(&report).contains("small.txt` is missing"),
        "{report}"
    );
}

#[test]
fn an_extra_file_and_a_leftover_part_are_unexpected() {
    let env = Env::new();
    let (service, folder) = fetched(&env);
    std::fs::write(env.path("packs").join(&folder).join("extra.dll"), b"MZ").unwrap();
    std::fs::write(
        env.path("packs").join(&folder).join("payload.cab.part"),
        b"x",
    )
    .unwrap();
    let report = refused(&env, &service);
    let unexpected = report["unexpected"].to_string();
    assert!(unexpected.contains("extra.dll"), "{report}");
    assert!(unexpected.contains("payload.cab.part"), "{report}");
    assert_eq!(report["packs"][0]["ok"], true, "the pack itself is intact");
}

#[test]
fn a_symlink_planted_to_a_copy_outside_is_refused() {
    if crate::support::skip_on_wine(
        "verify::a_symlink_planted_to_a_copy_outside_is_refused",
        crate::support::WINE_HIDES_SYMLINKS,
    ) {
        return;
    }
    let env = Env::new();
    let (service, folder) = fetched(&env);
    let inside = env.path("packs").join(&folder);
    let outside = env.path("elsewhere");
    std::fs::rename(&inside, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &inside).unwrap();
    let report = refused(&env, &service);
    assert!(
        report["unexpected"].to_string().contains("(symlink)"),
        "{report}"
    );
    assert!(problems(&report).contains("not a plain folder"), "{report}");

    // A single file replaced by a link to an identical copy outside is refused too.
    std::fs::remove_file(&inside).unwrap();
    std::fs::rename(&outside, &inside).unwrap();
    let file = inside.join("payload.cab");
    std::fs::rename(&file, env.path("payload-copy.cab")).unwrap();
    std::os::unix::fs::symlink(env.path("payload-copy.cab"), &file).unwrap();
    let report = refused(&env, &service);
    assert!(problems(&report).contains("not a regular file"), "{report}");
}

#[test]
fn an_unknown_signing_key_or_an_unreadable_folder_is_not_a_pass() {
    let env = Env::new();
    let (service, _) = fetched(&env);
    let stranger = sct::core::signing::PrivateKey::generate()
        .public()
        .to_string();
    let out = env
        .cmd("sct-verify")
        .args(["--trusted-key", &stranger, "packs"])
        .output()
        .unwrap();
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("unknown key"),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty());
    let out = env
        .cmd("sct-verify")
        .args(["--trusted-key", &service.public_key(), "no-such-folder"])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    let out = env.cmd("sct-verify").arg("packs").output().unwrap();
    assert_exit!(out, Usage, "no trusted key is a usage error");
}

#[test]
fn human_summary_on_request_names_each_pack_and_problem() {
    let env = Env::new();
    let (service, folder) = fetched(&env);
    let good = env
        .cmd("sct-verify")
        .args(["--human", "--trusted-key", &service.public_key(), "packs"])
        .output()
        .unwrap();
    assert!(good.status.success(), "{}", stderr_of(&good));
    let text = stdout_of(&good);
    assert!(
        text.contains("all good") && text.contains(&folder),
        "{text}"
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "not JSON"
    );
    std::fs::write(env.path("packs").join(&folder).join("stray.txt"), b"x").unwrap();
    let bad = env
        .cmd("sct-verify")
        .args(["--human", "--trusted-key", &service.public_key(), "packs"])
        .output()
        .unwrap();
    assert_exit!(bad, Rejected);
    let text = stdout_of(&bad);
    assert!(
        text.contains("PROBLEMS FOUND") && text.contains("UNEXPECTED"),
        "{text}"
    );
    assert!(text.contains("stray.txt"), "{text}");
}

/// Runs a stage whose stdout is a pipe already closed at the reading end, so its first write
/// fails with EPIPE whatever the timing (`sct-verify DIR | head -3` once exited 1 in 2 runs of 60).
fn with_closed_stdout(mut cmd: std::process::Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_is_not_a_failure() {
    let env = Env::new();
    let (service, _) = fetched(&env);
    let key = service.public_key();
    let site = env.demo_site("ps1", &[]);
    let runs: [&[&str]; 5] = [
        &["sct-verify", "--trusted-key", &key, "packs"],
        &["sct-verify", "--human", "--trusted-key", &key, "packs"],
        &["sct-collect", "--site", &site],
        &["sct-demo", "site", "--db", "second.db"],
        &["ServiceConnectionTool", "-help"],
    ];
    for args in runs {
        let mut cmd = env.command(args[0]);
        cmd.args(&args[1..]);
        let out = with_closed_stdout(cmd);
        assert_exit!(out, Success, "{args:?}");
        assert!(
            !stderr_of(&out).contains("error"),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}
