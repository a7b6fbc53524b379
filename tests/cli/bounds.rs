//! Ceilings against a hostile medium, network or service (issue 13): memory that does not grow with
//! what the input declares, trust that never comes from the working folder or the medium, a
//! download that cannot be held open by a trickle, and a catalog that cannot be signed for decades.

use crate::corpus::{data_dir, forge, plain, stage_pack_folder};
use crate::exit::{self, assert_exit};
use crate::kit::{Fault, PackSpec, Service, TestServer};
use crate::support::{Env, shown, skip_on_wine, stderr_of, tree};
use sct::core::error::ExitCode;
use std::path::Path;
use std::process::{Command, Stdio};

const MIB: u64 = 1024 * 1024;

/// What a finished child did.
struct Ran {
    /// `None` when a signal ended it (an allocation over the ceiling aborts).
    class: Option<ExitCode>,
    stderr: String,
}

/// Runs `cmd` (stdin from `input`, if any) with its data memory capped at `cap` bytes by the
/// kernel (`RLIMIT_DATA`: the heap and every private writable mapping). A child that needs more
/// fails to allocate and aborts, so finishing with the expected exit code proves the ceiling.
/// (A child's `ru_maxrss` would not do: it starts from the test process's own peak, which the
/// child inherits at exec.)
#[cfg(target_os = "linux")]
fn run_capped(env: &Env, mut cmd: Command, input: Option<&Path>, cap: u64) -> Ran {
    use std::os::unix::process::CommandExt;
    let err_path = env.path("capped-stderr.txt");
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .stdin(match input {
            Some(path) => Stdio::from(std::fs::File::open(path).unwrap()),
            None => Stdio::null(),
        });
    let limit = libc::rlimit {
        rlim_cur: cap,
        rlim_max: cap,
    };
    // SAFETY: setrlimit is async-signal-safe and touches only the child being started.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let status = cmd.status().unwrap();
    Ran {
        class: exit::class_of(status.code()),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    }
}

/// The corpus's usage document with an extra field holding `size` bytes of `[0,0,…]`: the shape
/// that cost 18 times its size once parsed into a JSON value.
fn padded_usage(size: usize) -> Vec<u8> {
    let text = std::str::from_utf8(forge::USAGE_TEMPLATE)
        .unwrap()
        .trim_end();
    let mut doc = text.strip_suffix('}').unwrap().as_bytes().to_vec();
    doc.extend_from_slice(b",\"pad\":[");
    while doc.len() < size {
        doc.extend_from_slice(b"0,");
    }
    doc.extend_from_slice(b"0]}");
    doc
}

/// The data ceiling a stage runs under in these tests: its own needs (a few MiB) plus the input's
/// bytes and a margin, far below what the attacks once cost (292 MiB, 4 GiB, 1 GiB).
const BASE: u64 = 24 * MIB;

#[cfg(target_os = "linux")]
#[test]
fn usage_cab_bombs_cost_memory_bounded_by_the_bytes_not_by_what_they_declare() {
    let name = "bounds::usage_cab_bombs_cost_memory_bounded_by_the_bytes_not_by_what_they_declare";
    if skip_on_wine(
        name,
        "RLIMIT_DATA would cap Wine itself, not the Windows binary",
    ) {
        return;
    }
    let env = Env::new();
    let inspect = |cab: &Path, cap: u64| {
        let mut cmd = env.command("sct-pack");
        cmd.arg("inspect").arg(cab).arg("--json");
        run_capped(&env, cmd, None, cap)
    };
    let valid = inspect(&data_dir().join("valid-usage-cab/input.cab"), BASE);
    assert_eq!(valid.class, Some(ExitCode::Success), "{}", valid.stderr);

    // 16 MiB of `[0,0,…]` in an unknown field (once 292 MiB as a JSON value): skipped unread, so
    // the document costs its bytes once.
    let doc = padded_usage(16 * MIB as usize);
    let cab = env.path("padded.cab");
    std::fs::write(&cab, forge::usage_cab(&doc).bytes()).unwrap();
    let padded = inspect(&cab, BASE + 2 * doc.len() as u64);
    assert_eq!(padded.class, Some(ExitCode::Success), "{}", padded.stderr);
    // The same cab under a ceiling below its bytes: the cap is real, not decoration.
    let starved = inspect(&cab, doc.len() as u64);
    assert_ne!(starved.class, Some(ExitCode::Success), "{}", starved.stderr);

    // A 4 MiB usage document listed 201 times in the manifest (once inflated 201 times into one
    // buffer): refused before any member is read.
    let doc = padded_usage(4 * MIB as usize);
    let mut forged = forge::usage_cab(&doc);
    let mut manifest = forge::manifest_for(&[
        (sct::core::usage_cab::USAGE_MEMBER, &doc),
        (&forge::version_name(), &forged.files[1].data),
    ]);
    let usage = manifest.members[0].clone();
    manifest.members.extend(std::iter::repeat_n(usage, 200));
    forged.files[2] = forge::file(
        sct::core::usage_cab::MANIFEST_MEMBER,
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let cab = env.path("listed-201-times.cab");
    std::fs::write(&cab, forged.bytes()).unwrap();
    let listed = inspect(&cab, BASE);
    assert_eq!(listed.class, Some(ExitCode::Rejected), "{}", listed.stderr);
    assert!(listed.stderr.contains("twice"), "{}", listed.stderr);
}

#[cfg(target_os = "linux")]
#[test]
fn an_endless_offer_line_costs_no_more_than_the_line_limit() {
    let name = "bounds::an_endless_offer_line_costs_no_more_than_the_line_limit";
    if skip_on_wine(
        name,
        "RLIMIT_DATA would cap Wine itself, not the Windows binary",
    ) {
        return;
    }
    let env = Env::new();
    // 256 MiB without a newline on stdin (a 64 MiB line once cost about 1 GiB).
    let endless = env.path("endless.jsonl");
    let file = std::fs::File::create(&endless).unwrap();
    file.set_len(256 * MIB).unwrap();
    let mut cmd = env.command("sct-fetch");
    let key = sct::core::signing::PrivateKey::generate()
        .public()
        .to_string();
    cmd.args(["--dest", "packs", "--retries", "0", "--trusted-key", &key]);
    let ran = run_capped(&env, cmd, Some(&endless), BASE);
    assert_eq!(ran.class, Some(ExitCode::Rejected), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("larger than the 65536-byte limit"),
        "{}",
        ran.stderr
    );
}

/// A pack folder of the corpus signed by the pinned test key, and the public key an attacker
/// would plant (the corpus's "unknown" key), with the folder re-signed by it.
fn attacker_folder(env: &Env) -> (std::path::PathBuf, String) {
    let folder = stage_pack_folder(
        env,
        "valid-pack-folder",
        "pack",
        &plain(Some("unknown".into())),
    );
    let key = data_dir().join("keys/test-only-unknown-key.json");
    let public = sct::core::signing::PrivateKey::load(&key)
        .unwrap()
        .public()
        .to_string();
    (folder, public)
}

#[test]
fn a_relative_key_file_never_resolves_against_the_working_folder() {
    let env = Env::new();
    let (folder, attacker) = attacker_folder(&env);
    // The attacker's key file in the working folder (the USB drive the tool is run from).
    std::fs::write(env.path("trusted-keys.txt"), format!("{attacker}\n")).unwrap();
    let out = env
        .command("sct-verify")
        .env("SCT_TRUSTED_KEYS", "trusted-keys.txt")
        .arg(&folder)
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("relative path"),
        "{}",
        stderr_of(&out)
    );
    let out = env
        .command("sct-verify")
        .args(["--trusted-key", "trusted-keys.txt"])
        .arg(&folder)
        .output()
        .unwrap();
    assert_exit!(out, Usage);

    // In sct.toml, a relative path is read from the config file's folder: there the operator's
    // key, so the attacker's folder is refused.
    let config_dir = tempfile::tempdir().unwrap();
    let trusted = data_dir().join("keys/test-only-trusted-key.json");
    let trusted = sct::core::signing::PrivateKey::load(&trusted)
        .unwrap()
        .public();
    std::fs::write(
        config_dir.path().join("trusted-keys.txt"),
        format!("{trusted}\n"),
    )
    .unwrap();
    let config = config_dir.path().join("sct.toml");
    std::fs::write(&config, "trusted_keys = [\"trusted-keys.txt\"]\n").unwrap();
    let out = env
        .command("sct-verify")
        .env("SCT_CONFIG", &config)
        .arg(&folder)
        .output()
        .unwrap();
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("unknown key"),
        "{}",
        stderr_of(&out)
    );
    // The same config with an honest folder: the config folder's key file is the one read.
    let honest = stage_pack_folder(
        &env,
        "valid-pack-folder",
        "pack",
        &plain(Some("trusted".into())),
    );
    let out = env
        .command("sct-verify")
        .env("SCT_CONFIG", &config)
        .arg(&honest)
        .output()
        .unwrap();
    assert_exit!(out, Success);
}

#[test]
fn a_key_file_on_the_medium_being_checked_is_refused() {
    let env = Env::new();
    let (folder, attacker) = attacker_folder(&env);
    let planted = folder.join("trusted-keys.txt");
    std::fs::write(&planted, format!("{attacker}\n")).unwrap();
    for bin in ["sct-verify", "sct-import"] {
        let mut cmd = env.command(bin);
        cmd.env("SCT_TRUSTED_KEYS", shown(&planted))
            .env("SCT_SITE", "sqlite:no-site.db");
        if bin == "sct-import" {
            cmd.arg("--src");
        }
        let out = cmd.arg(&folder).output().unwrap();
        assert_exit!(out, Usage, "{bin}");
        assert!(
            stderr_of(&out).contains("a medium cannot vouch for itself"),
            "{bin}: {}",
            stderr_of(&out)
        );
    }
    assert!(!env.path("no-site.db").exists());
}

/// A service with one 2 MiB pack for a site at 5.00.9128.1000.
fn one_pack_service(env: &Env) -> Service {
    let mut service = Service::new(env.path("service"));
    service.add_pack(&PackSpec::update_2503(&[("payload.cab", 2 * MIB as usize)]));
    service
}

#[test]
fn a_trickling_server_is_cut_at_the_minimum_rate_and_the_download_resumes() {
    let env = Env::new();
    let service = one_pack_service(&env);
    service.publish(3);
    let server = TestServer::start(&service.root);
    let path = service.packs[0].files[0].path.clone();
    server.fault(&path, Fault::Trickle { bytes: 100_000 });
    let offers = service.offer_a(&server.base);
    let run = |extra: &[&str]| {
        env.cmd("sct-fetch")
            .args(["--dest", "packs", "--trusted-key", &service.public_key()])
            .args(["--timeout", "3", "--retries", "0"])
            .args(extra)
            .write_stdin(offers.clone())
            .output()
            .unwrap()
    };
    let out = run(&["--min-rate", "1000", "--rate-window", "2"]);
    assert_exit!(out, Network);
    assert!(
        stderr_of(&out).contains("below the minimum rate of 1000 bytes/s"),
        "{}",
        stderr_of(&out)
    );
    // The part keeps what came: the first 100 000 bytes and the trickle's few.
    let part = env.path("packs").join(format!("{path}.part"));
    let kept = std::fs::metadata(&part)
        .unwrap_or_else(|e| panic!("{e}: {:?}", tree(&env.path("packs"))))
        .len();
    assert!((100_000..110_000).contains(&kept), "{kept}");
    // The server recovers: the rerun resumes where the trickle was cut.
    server.clear_faults();
    let out = run(&[]);
    assert_exit!(out, Success);
    let ranges: Vec<Option<String>> = server
        .requests(&path)
        .into_iter()
        .map(|s| s.range)
        .collect();
    let resumed = format!("bytes={kept}-");
    assert_eq!(ranges.last().unwrap().as_deref(), Some(resumed.as_str()));
}

#[test]
fn a_catalog_signed_for_a_century_is_refused_at_fetch_naming_the_setting() {
    let env = Env::new();
    let service = one_pack_service(&env);
    let mut catalog = service.catalog(4);
    catalog.expires_at = catalog.issued_at + jiff::SignedDuration::from_hours(24 * 36_500);
    let (bytes, sig) = sct::core::catalog::sign(&catalog, &[&service.key]).unwrap();
    std::fs::write(service.root.join("catalog.json"), bytes).unwrap();
    std::fs::write(service.root.join("catalog.json.sig"), sig).unwrap();
    let server = TestServer::start(&service.root);
    let offers = service.offer_a(&server.base);
    let run = |days: Option<&str>| {
        let mut cmd = env.cmd("sct-fetch");
        if let Some(days) = days {
            cmd.env("SCT_MAX_CATALOG_VALIDITY_DAYS", days);
        }
        cmd.args(["--dest", "packs", "--trusted-key", &service.public_key()])
            .write_stdin(offers.clone())
            .output()
            .unwrap()
    };
    let out = run(None);
    assert_exit!(out, Rejected);
    let text = stderr_of(&out);
    assert!(
        text.contains("36500 days") && text.contains("90-day ceiling"),
        "{text}"
    );
    assert!(text.contains("SCT_MAX_CATALOG_VALIDITY_DAYS"), "{text}");
    assert!(!env.path("packs").join("catalog.json").exists());
    // An operator who means it can raise the ceiling.
    let out = run(Some("40000"));
    assert_exit!(out, Success);
    let out = run(Some("0"));
    assert_exit!(out, Usage);
}
