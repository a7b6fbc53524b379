//! sct-fetch: offers in, a verified update-pack folder out — and every way that can go wrong.

use crate::exit::assert_exit;
use crate::kit::{
    CHAOS_KINDS, Fault, HIERARCHY_A, HIERARCHY_B, Nginx, PackSpec, Service, TestServer, is_root,
    json_lines, read,
};
use crate::support::{Env, stderr_of, stdout_of, tree};
use sct::core::error::ExitCode;
use std::path::Path;
use std::process::Output;

const MIB: usize = 1024 * 1024;

/// A service with three packs: 2409 (two files), its hotfix, and 2503.
fn service(env: &Env) -> Service {
    let mut service = Service::new(env.path("service"));
    service.add_pack(&PackSpec {
        name: "2409",
        kind: 0,
        full: "5.00.9132.1000",
        min: "5.00.9106.1000",
        max: "5.00.9128.1999",
        files: &[("payload.cab", 3 * MIB + 17), ("Redist/readme.txt", 1000)],
    });
    service.add_pack(&PackSpec {
        name: "2409-HFRU",
        kind: 2,
        full: "5.00.9132.1027",
        min: "5.00.9132.1000",
        max: "5.00.9132.1999",
        files: &[("hotfix.cab", 200_000)],
    });
    service.add_pack(&PackSpec::update_2503(&[("payload.cab", 2 * MIB + 5)]));
    service.publish(7);
    service
}

fn guid_folder(service: &Service, index: usize) -> String {
    service.packs[index].package_guid.to_string().to_uppercase()
}

fn path_of(service: &Service, pack: usize, file: usize) -> String {
    service.packs[pack].files[file].path.clone()
}

/// Runs sct-fetch with offers on stdin into `dest`.
fn fetch(env: &Env, service: &Service, offers: &str, dest: &str, extra: &[&str]) -> Output {
    env.cmd("sct-fetch")
        .args([
            "--dest",
            dest,
            "--trusted-key",
            &service.public_key(),
            "--retries",
            "2",
        ])
        .args(extra)
        .write_stdin(offers.to_owned())
        .output()
        .unwrap()
}

fn verify(env: &Env, service: &Service, dest: &str) -> Output {
    env.cmd("sct-verify")
        .args(["--trusted-key", &service.public_key(), dest])
        .output()
        .unwrap()
}

fn summary(out: &Output) -> serde_json::Value {
    let lines = json_lines(&stdout_of(out));
    let last = lines.last().cloned().expect("a summary line");
    assert_eq!(last["schema"], "sct.fetch.v1");
    assert_eq!(last["type"], "summary");
    last
}

fn no_part_files(dir: &Path) -> bool {
    !tree(dir).iter().any(|p| p.ends_with(".part"))
}

#[test]
fn fetches_each_hierarchys_selection_from_nginx_and_the_folder_verifies() {
    let env = Env::new();
    let service = service(&env);
    let nginx = Nginx::start(&service.root, &env.path("nginx"));
    // A at 2403 gets 2503 (latest); B at 2309 gets 2409.
    let offers = service.offers_a_and_b(&nginx.base);
    let out = fetch(&env, &service, &offers, "UpdatePacks", &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(lines.len(), 3, "two packs and a summary");
    assert!(
        lines[..2]
            .iter()
            .all(|l| l["type"] == "pack" && l["status"] == "downloaded")
    );
    let sum = summary(&out);
    assert_eq!(sum["ok"], true);
    assert_eq!(sum["packs"], 2);
    let dest = env.path("UpdatePacks");
    for (pack, file) in [(0, 0), (0, 1), (2, 0)] {
        let path = path_of(&service, pack, file);
        assert_eq!(
            read(&dest.join(&path)),
            read(&service.served(&path)),
            "{path}"
        );
    }
    assert!(
        !dest.join(guid_folder(&service, 1)).exists(),
        "no hotfix in latest mode"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&read(&dest.join("fetched.json"))).unwrap();
    assert_eq!(record["schema"], "sct.fetch-record.v1");
    assert_eq!(record["catalog_version"], 7);
    assert_eq!(
        record["hierarchies"][0]["packs"][0],
        service.packs[2].package_guid.to_string()
    );
    assert_eq!(
        record["hierarchies"][1]["packs"][0],
        service.packs[0].package_guid.to_string()
    );
    assert_eq!(
        read(&dest.join("catalog.json")),
        read(&service.root.join("catalog.json"))
    );
    let checked = verify(&env, &service, "UpdatePacks");
    assert!(checked.status.success(), "{}", stderr_of(&checked));

    // A rerun finds everything in place and downloads nothing.
    let again = fetch(&env, &service, &offers, "UpdatePacks", &[]);
    assert!(again.status.success(), "{}", stderr_of(&again));
    let sum = summary(&again);
    assert_eq!(sum["present"], 2);
    assert_eq!(sum["transferred"], 0);
}

#[test]
fn a_pack_two_hierarchies_need_is_downloaded_once() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offers = format!(
        "{}{}",
        service.offer_a(&server.base),
        service.offer(&server.base, HIERARCHY_B, "5.00.9132.1000")
    );
    let out = fetch(&env, &service, &offers, "packs", &["--mode", "latest"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["hierarchies"].as_array().unwrap().len(), 2);
    assert_eq!(server.requests(&path_of(&service, 2, 0)).len(), 1);
    assert_eq!(
        server
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == "/catalog.json")
            .count(),
        1
    );
}

#[test]
fn modes_select_hotfixes_and_newer_packs() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer(&server.base, HIERARCHY_A, "5.00.9132.1000");
    let out = fetch(&env, &service, &offer, "hotfix", &["--mode", "hotfix"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(summary(&out)["packs"], 1);
    assert!(env.path("hotfix").join(path_of(&service, 1, 0)).is_file());
    let out = fetch(&env, &service, &offer, "newer", &["--mode", "siteversion"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(summary(&out)["packs"], 2, "the 2409 hotfix and 2503");
}

#[test]
fn a_tampered_byte_is_refused_and_never_lands_under_its_name() {
    let env = Env::new();
    let service = service(&env);
    let path = path_of(&service, 2, 0);
    let mut bytes = read(&service.served(&path));
    bytes[MIB] ^= 0x01;
    std::fs::write(service.served(&path), bytes).unwrap();
    let server = TestServer::start(&service.root);
    let out = fetch(&env, &service, &service.offer_a(&server.base), "packs", &[]);
    assert_exit!(out, Rejected);
    assert!(stderr_of(&out).contains("SHA-256"), "{}", stderr_of(&out));
    let sum = summary(&out);
    assert_eq!(sum["ok"], false);
    assert_eq!(sum["failed"], 1);
    let dest = env.path("packs");
    assert!(!dest.join(&path).exists());
    assert!(no_part_files(&dest));
    assert!(
        !dest.join("fetched.json").exists(),
        "no record of an incomplete folder"
    );
    assert!(!dest.join("catalog.json").exists());
}

#[test]
fn a_file_of_the_wrong_size_is_refused() {
    let env = Env::new();
    let service = service(&env);
    let path = path_of(&service, 2, 0);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(service.served(&path))
        .unwrap();
    std::io::Write::write_all(&mut file, b"extra").unwrap();
    let server = TestServer::start(&service.root);
    let out = fetch(&env, &service, &service.offer_a(&server.base), "packs", &[]);
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("wrong size"),
        "{}",
        stderr_of(&out)
    );
    assert!(!env.path("packs").join(&path).exists());
}

/// Leaves the first `len` bytes of a served file as a `.part` in the destination.
fn plant_part(env: &Env, service: &Service, dest: &str, path: &str, bytes: &[u8]) {
    let part = env.path(dest).join(format!("{path}.part"));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(part, bytes).unwrap();
    let _ = service;
}

#[test]
fn a_server_that_answers_a_range_request_with_200_restarts_the_file_from_zero() {
    let env = Env::new();
    let service = service(&env);
    let path = path_of(&service, 2, 0);
    let served = read(&service.served(&path));
    plant_part(&env, &service, "packs", &path, &served[..MIB]);
    let server = TestServer::start(&service.root);
    server.fault(&path, Fault::IgnoreRange);
    let out = fetch(&env, &service, &service.offer_a(&server.base), "packs", &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let requests = server.requests(&path);
    assert_eq!(
        requests[0].range.as_deref(),
        Some(&*format!("bytes={MIB}-"))
    );
    assert_eq!(
        read(&env.path("packs").join(&path)),
        served,
        "not appended to the old part"
    );
}

#[test]
fn a_part_of_other_bytes_is_resumed_then_fetched_again_from_zero() {
    let env = Env::new();
    let service = service(&env);
    let path = path_of(&service, 2, 0);
    plant_part(&env, &service, "packs", &path, &vec![0xAA; MIB]);
    let server = TestServer::start(&service.root);
    let out = fetch(&env, &service, &service.offer_a(&server.base), "packs", &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let ranges: Vec<Option<String>> = server
        .requests(&path)
        .into_iter()
        .map(|s| s.range)
        .collect();
    assert_eq!(ranges, vec![Some(format!("bytes={MIB}-")), None]);
    assert_eq!(
        read(&env.path("packs").join(&path)),
        read(&service.served(&path))
    );
}

#[test]
fn a_cut_connection_is_resumed_with_range() {
    let env = Env::new();
    let service = service(&env);
    let path = path_of(&service, 2, 0);
    let server = TestServer::start(&service.root);
    server.fault(
        &path,
        Fault::CutAfter {
            bytes: MIB + 1234,
            times: 1,
        },
    );
    let out = fetch(&env, &service, &service.offer_a(&server.base), "packs", &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let requests = server.requests(&path);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[0].range.is_none());
    let resumed_at: u64 = requests[1]
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .expect("a Range request");
    assert!(
        resumed_at > 0 && resumed_at <= (MIB + 1234) as u64,
        "{resumed_at}"
    );
    assert_eq!(
        read(&env.path("packs").join(&path)),
        read(&service.served(&path))
    );
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(
        lines[0]["transferred"],
        (2 * MIB + 5) as u64,
        "each byte came once"
    );
}

#[test]
fn a_part_longer_than_the_file_is_discarded() {
    let env = Env::new();
    let service = service(&env);
    let path = path_of(&service, 2, 0);
    let mut long = read(&service.served(&path));
    long.extend_from_slice(b"trailing garbage");
    plant_part(&env, &service, "packs", &path, &long);
    let server = TestServer::start(&service.root);
    let out = fetch(&env, &service, &service.offer_a(&server.base), "packs", &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(server.requests(&path)[0].range.is_none());
    assert_eq!(
        read(&env.path("packs").join(&path)),
        read(&service.served(&path))
    );
}

#[test]
fn hostile_catalog_paths_are_refused_before_anything_is_written() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let folder = guid_folder(&service, 2);
    for (index, hostile) in [
        format!("{folder}/../../escape.cab"),
        "/etc/escape.cab".to_owned(),
        format!("{folder}\\escape.cab"),
        "duplicate".to_owned(),
        format!("{folder}/CONIN$.txt"),
        format!("{folder}/COM\u{b9}.log"),
        format!("{folder}/LPT0"),
        format!("{folder}/x.cab:stream"),
        format!("{folder}/dir /x.cab"),
        // Twins: one name on Windows (case) or after a copy through macOS (NFC/NFD).
        format!("twin:{folder}/Caf\u{e9}.cab:{folder}/cafe\u{301}.CAB"),
        format!("twin:{folder}/\u{e9}t\u{e9}.cab:{folder}/\u{c9}T\u{c9}.cab"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut catalog = serde_json::to_value(service.catalog(8)).unwrap();
        let files = catalog["packs"][2]["files"].as_array_mut().unwrap();
        if hostile == "duplicate" {
            let again = files[0].clone();
            files.push(again);
        } else if let Some(twins) = hostile.strip_prefix("twin:") {
            let (a, b) = twins.split_once(':').unwrap();
            files[0]["path"] = a.into();
            let mut again = files[0].clone();
            again["path"] = b.into();
            files.push(again);
        } else {
            files[0]["path"] = hostile.clone().into();
        }
        service.publish_raw(&catalog);
        let dest = format!("dest{index}");
        let out = fetch(&env, &service, &service.offer_a(&server.base), &dest, &[]);
        assert_exit!(out, Rejected, "{hostile}");
        assert!(out.stdout.is_empty(), "{hostile}");
        assert!(tree(&env.path(&dest)).is_empty(), "{hostile}");
    }
    assert!(!env.dir.path().join("escape.cab").exists());
}

#[test]
fn a_catalog_for_another_hierarchy_is_refused() {
    let env = Env::new();
    let mut service = service(&env);
    service.hierarchy = Some(HIERARCHY_B.parse().unwrap());
    service.publish(8);
    let server = TestServer::start(&service.root);
    let out = fetch(&env, &service, &service.offer_a(&server.base), "packs", &[]);
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains(&format!("is for hierarchy {HIERARCHY_B}")),
        "{}",
        stderr_of(&out)
    );
    assert!(tree(&env.path("packs")).is_empty());
}

#[test]
fn offers_of_the_wrong_schema_are_refused_by_name() {
    let env = Env::new();
    let service = service(&env);
    let out = fetch(
        &env,
        &service,
        "{\"schema\":\"sct.usage-cab.v1\",\"site_code\":\"PS1\"}\n",
        "packs",
        &[],
    );
    assert_exit!(out, Rejected);
    let err = stderr_of(&out);
    assert!(
        err.contains("stdin line 1") && err.contains("sct.offer.v1"),
        "{err}"
    );
    assert!(!env.path("packs").exists());
    let out = fetch(&env, &service, "", "packs", &[]);
    assert_exit!(out, Usage, "no offers is a usage error");
}

#[test]
fn a_catalog_older_than_the_one_in_the_folder_is_refused() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer_a(&server.base);
    assert!(fetch(&env, &service, &offer, "packs", &[]).status.success());
    service.publish(6);
    let out = fetch(&env, &service, &offer, "packs", &[]);
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("rollback refused"),
        "{}",
        stderr_of(&out)
    );
    let record: serde_json::Value =
        serde_json::from_slice(&read(&env.path("packs/fetched.json"))).unwrap();
    assert_eq!(record["catalog_version"], 7, "the folder is untouched");
    assert!(verify(&env, &service, "packs").status.success());
}

#[test]
fn a_newer_catalog_replaces_the_record_only_when_its_files_are_in_place() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer_a(&server.base);
    assert!(fetch(&env, &service, &offer, "packs", &[]).status.success());
    service.publish(9);
    let hotfix = path_of(&service, 1, 0);
    server.fault(
        &hotfix,
        Fault::CutAfter {
            bytes: 10,
            times: 10,
        },
    );
    let out = fetch(&env, &service, &offer, "packs", &["--mode", "all"]);
    assert_exit!(out, Network);
    assert!(
        !env.path("packs/fetched.json").exists(),
        "no record beside a half-updated folder"
    );
    assert_exit!(verify(&env, &service, "packs"), Rejected);
    server.clear_faults();
    let out = fetch(&env, &service, &offer, "packs", &["--mode", "all"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(verify(&env, &service, "packs").status.success());
}

#[test]
fn a_full_disk_fails_cleanly_and_the_rerun_resumes() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer_a(&server.base);
    std::fs::write(env.path("offer.jsonl"), &offer).unwrap();
    // A 1 MiB file-size limit (ulimit -f counts 512-byte blocks) stands in for a full disk:
    // writes past it fail with EFBIG, as they would with ENOSPC.
    let script = format!(
        "ulimit -f 2048; trap '' XFSZ; exec \"$@\" --dest packs --offers offer.jsonl --trusted-key {} --retries 0",
        service.public_key()
    );
    // The shell runs sct-fetch as the suite starts it (directly, or the .exe under Wine).
    let sct_fetch = env.command("sct-fetch");
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", &script, "sh"])
        .arg(sct_fetch.get_program())
        .args(sct_fetch.get_args());
    for (key, value) in sct_fetch.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    let out = sh.current_dir(env.dir.path()).output().unwrap();
    assert_exit!(out, Io);
    let path = path_of(&service, 2, 0);
    assert!(
        stderr_of(&out).contains(".part"),
        "the error names the file: {}",
        stderr_of(&out)
    );
    assert!(
        !env.path("packs").join(&path).exists(),
        "no partial file under its name"
    );
    let rerun = fetch(&env, &service, &offer, "packs", &[]);
    assert!(rerun.status.success(), "{}", stderr_of(&rerun));
    let ranges: Vec<Option<String>> = server
        .requests(&path)
        .into_iter()
        .map(|s| s.range)
        .collect();
    assert!(
        ranges.last().unwrap().is_some(),
        "the rerun resumed: {ranges:?}"
    );
    assert!(verify(&env, &service, "packs").status.success());
}

/// A read-only folder: a read-only tmpfs when running as root (permissions do not stop root),
/// else a folder without write permission, writable again on drop. The tmpfs has room for the
/// packs, so what stops the fetch is that it is read-only, not that it is small.
struct ReadOnly {
    path: std::path::PathBuf,
    mount: Option<crate::support::Mount>,
}

impl ReadOnly {
    fn new(path: std::path::PathBuf) -> Self {
        let mount = if is_root() {
            crate::support::Mount::tmpfs(&path, "16m", true)
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o555)).unwrap();
            None
        };
        Self { path, mount }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.mount.is_none() {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn a_read_only_destination_fails_cleanly() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let readonly = ReadOnly::new(env.path("usb"));
    let out = fetch(&env, &service, &service.offer_a(&server.base), "usb", &[]);
    assert_exit!(out, Io);
    let err = stderr_of(&out);
    assert!(
        // Windows reports a read-only folder as "Access denied".
        err.contains("usb")
            && ["Read-only", "ermission", "Access denied"]
                .iter()
                .any(|why| err.contains(why)),
        "{err}"
    );
    assert!(tree(&readonly.path).is_empty());
}

#[test]
fn sigkill_mid_download_then_rerun_completes() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let path = path_of(&service, 2, 0);
    server.fault(&path, Fault::StallAfter { bytes: MIB + 99 });
    std::fs::write(env.path("offer.jsonl"), service.offer_a(&server.base)).unwrap();
    let mut child = env
        .command("sct-fetch")
        .args([
            "--dest",
            "packs",
            "--offers",
            "offer.jsonl",
            "--trusted-key",
            &service.public_key(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let part = env.path("packs").join(format!("{path}.part"));
    // Wait (not a timing assertion: only a bound on a hang) until the writer has put bytes on
    // disk; the rest of what arrived before the stall may still sit in its buffer.
    let mut waited = 0;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < (MIB / 4) as u64 {
        assert!(waited < 3000, "the part never reached the stall point");
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let dest = env.path("packs");
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept > 0 && kept <= (MIB + 99) as u64, "{kept}");
    assert!(
        !dest.join(&path).exists(),
        "no partial file under its final name"
    );
    assert!(!dest.join("fetched.json").exists());
    server.clear_faults();
    let out = fetch(
        &env,
        &service,
        &std::fs::read_to_string(env.path("offer.jsonl")).unwrap(),
        "packs",
        &[],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let last = server.requests(&path).pop().unwrap();
    assert_eq!(last.range.as_deref(), Some(&*format!("bytes={kept}-")));
    assert!(verify(&env, &service, "packs").status.success());
    assert!(no_part_files(&dest));
}

#[test]
fn connect_uploads_then_fetches_in_process_through_the_upload_seam() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offers_text = service.offers_a_and_b(&server.base);
    let config = sct::stages::config::Config {
        trusted_keys: vec![service.public_key()],
        ..Default::default()
    };
    let request = sct::cli::wrapper::ConnectRequest {
        usage_data_src: env.path("usb"),
        update_pack_dest: env.path("usb/UpdatePacks"),
        proxy_server_uri: None,
        proxy_user_name: None,
        mode: sct::core::select::DownloadMode::SiteVersion,
    };
    let uploads = std::cell::Cell::new(0);
    let upload = |_: &tokio::runtime::Runtime,
                  req: &sct::cli::wrapper::ConnectRequest,
                  _: &sct::stages::http::NetOptions,
                  _: &sct::stages::config::Config| {
        assert_eq!(req.usage_data_src, env.path("usb"));
        uploads.set(uploads.get() + 1);
        let limits = sct::stages::fetch::OFFER_LIMITS;
        sct::core::document::read_lines::<sct::core::offer::Offer>(
            offers_text.as_bytes(),
            "offers",
            limits,
        )
    };
    let mut events = Vec::new();
    let summary = sct::cli::wrapper::connect(&request, &config, &upload, &mut |event| {
        events.push(serde_json::to_value(event)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(uploads.get(), 1);
    assert!(summary.ok);
    // A at 2403: the 2403 site's newer packs are 2409, its hotfix and 2503; B at 2309: the same three.
    assert_eq!(summary.packs, 3);
    assert_eq!(events.len(), 4);
    assert_eq!(events[3]["mode"], "siteversion");
    let checked = verify(&env, &service, "usb/UpdatePacks");
    assert!(checked.status.success(), "{}", stderr_of(&checked));
}

#[test]
fn a_newer_catalog_prunes_the_packs_it_no_longer_lists_so_the_folder_verifies() {
    let env = Env::new();
    let mut service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer_a(&server.base);
    assert!(fetch(&env, &service, &offer, "packs", &[]).status.success());
    let old = env.path("packs").join(path_of(&service, 2, 0));
    let old_folder = env.path("packs").join(guid_folder(&service, 2));
    assert!(old.is_file());
    // Catalog version 9 no longer lists 2503: a second connect keeps only what it still lists.
    service.packs.remove(2);
    service.publish(9);
    let out = fetch(&env, &service, &offer, "packs", &["--mode", "hotfix"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("removed 1 files"),
        "{}",
        stderr_of(&out)
    );
    assert!(!old.exists());
    assert!(!old_folder.exists());
    assert!(env.path("packs").join(path_of(&service, 1, 0)).is_file());
    let checked = verify(&env, &service, "packs");
    assert!(checked.status.success(), "{}", stdout_of(&checked));
}

#[test]
fn a_proxy_with_basic_auth_carries_every_request_and_the_password_never_shows() {
    use base64::Engine;
    let env = Env::new();
    let service = service(&env);
    let proxy = TestServer::start(&service.root);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("jqpublic:s3cret-pw")
    );
    *proxy.proxy_auth.lock().unwrap() = Some(expected.clone());
    // The offer names a port nothing listens on: only the proxy can answer.
    let offer = service.offer_a("http://127.0.0.1:9");
    let proxy_addr = proxy.base.trim_start_matches("http://").to_owned();
    let run = |password: &str| {
        env.cmd("sct-fetch")
            .args([
                "--dest",
                "packs",
                "--trusted-key",
                &service.public_key(),
                "--retries",
                "0",
            ])
            .args(["--proxy", &proxy_addr, "--proxy-user", "jqpublic"])
            .env("SCT_PROXY_PASSWORD", password)
            .write_stdin(offer.clone())
            .output()
            .unwrap()
    };
    let out = run("wrong-pw");
    assert_exit!(out, Network);
    assert!(stderr_of(&out).contains("407"), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("wrong-pw"));
    let out = run("s3cret-pw");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("s3cret-pw") && !stdout_of(&out).contains("s3cret-pw"));
    let seen = proxy.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|s| s.path == format!("/packs/{}", path_of(&service, 2, 0)))
    );
    // Basic only once the proxy asked for it: the first request of each run goes without.
    let unasked = seen.iter().filter(|s| s.proxy_auth.is_none()).count();
    assert!(unasked <= 2, "{seen:?}");
    assert!(verify(&env, &service, "packs").status.success());
}

#[test]
fn https_needs_the_service_ca_and_works_with_ca_file() {
    let env = Env::new();
    let service = service(&env);
    let (ca, cert, key) = crate::kit::test_certificates(&env.path("tls"));
    let nginx = Nginx::start_tls(&service.root, &env.path("nginx"), &cert, &key);
    let offer = service.offer_a(&nginx.base);
    let out = fetch(&env, &service, &offer, "packs", &[]);
    assert_exit!(out, Network, "an unknown CA is refused");
    assert!(!env.path("packs").exists());
    let out = fetch(
        &env,
        &service,
        &offer,
        "packs",
        &["--ca-file", ca.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(verify(&env, &service, "packs").status.success());
    // A file of several CAs is read whole: the service's CA second in it is found.
    let (other, _, _) = crate::kit::test_certificates(&env.path("other-tls"));
    let bundle = env.path("bundle.pem");
    let pem = [std::fs::read(&other).unwrap(), std::fs::read(&ca).unwrap()].concat();
    std::fs::write(&bundle, pem).unwrap();
    let args = ["--ca-file", bundle.to_str().unwrap()];
    let out = fetch(&env, &service, &offer, "packs2", &args);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A file without a certificate is named, and nothing is fetched.
    std::fs::write(&bundle, "not a certificate\n").unwrap();
    let out = fetch(&env, &service, &offer, "packs3", &args);
    // The file was read and is the wrong one: a setting to fix (it was 3, docs/exit-codes.md).
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("not a PEM certificate file"),
        "{}",
        stderr_of(&out)
    );
    assert!(!env.path("packs3").exists());
}

#[test]
fn a_second_fetch_into_the_same_folder_is_refused_while_the_first_runs() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let path = path_of(&service, 2, 0);
    server.fault(&path, Fault::StallAfter { bytes: MIB });
    let offer = service.offer_a(&server.base);
    std::fs::write(env.path("offer.jsonl"), &offer).unwrap();
    let mut first = env
        .command("sct-fetch")
        .args(["--dest", "packs", "--offers", "offer.jsonl"])
        .args(["--trusted-key", &service.public_key()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let part = env.path("packs").join(format!("{path}.part"));
    let mut waited = 0;
    while !part.exists() {
        assert!(waited < 3000, "the first fetch never started writing");
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
    }
    let second = fetch(&env, &service, &offer, "packs", &[]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_exit!(second, Io);
    assert!(
        stderr_of(&second).contains("another sct-fetch"),
        "{}",
        stderr_of(&second)
    );
    server.clear_faults();
    assert!(fetch(&env, &service, &offer, "packs", &[]).status.success());
}

#[test]
fn a_damaged_file_already_in_place_is_downloaded_again() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer_a(&server.base);
    assert!(fetch(&env, &service, &offer, "packs", &[]).status.success());
    let local = env.path("packs").join(path_of(&service, 2, 0));
    let mut bytes = read(&local);
    bytes[7] ^= 0xFF;
    std::fs::write(&local, bytes).unwrap();
    let out = fetch(&env, &service, &offer, "packs", &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(json_lines(&stdout_of(&out))[0]["status"], "downloaded");
    assert_eq!(
        read(&local),
        read(&service.served(&path_of(&service, 2, 0)))
    );
}

#[test]
fn dry_run_plans_with_sizes_and_writes_nothing() {
    let env = Env::new();
    let service = service(&env);
    let nginx = Nginx::start(&service.root, &env.path("nginx"));
    let offers = service.offers_a_and_b(&nginx.base);
    let out = fetch(&env, &service, &offers, "UpdatePacks", &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["schema"], "sct.fetch-plan.v1");
    assert_eq!(plan["packs"].as_array().unwrap().len(), 2);
    let expected: u64 = [0, 2].iter().map(|i| service.packs[*i].size()).sum();
    assert_eq!(plan["to_download"], expected);
    assert!(
        !env.path("UpdatePacks").exists(),
        "a dry run creates nothing"
    );
    // After a real fetch, the same plan has nothing left to download.
    assert!(
        fetch(&env, &service, &offers, "UpdatePacks", &[])
            .status
            .success()
    );
    let again = fetch(&env, &service, &offers, "UpdatePacks", &["--dry-run"]);
    let plan: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(plan["to_download"], 0);
}

/// Runs sct-fetch (all packs) until it succeeds against a server that fails at random from a
/// seed; returns how many runs it took. Each run is bounded by its own retries.
fn fetch_until_complete(
    env: &Env,
    service: &Service,
    offers: &str,
    proxy: &[&str],
    password: Option<&str>,
) -> usize {
    for run in 1..=25 {
        let mut cmd = env.cmd("sct-fetch");
        cmd.args(["--dest", "packs", "--trusted-key", &service.public_key()])
            .args(["--retries", "2", "--mode", "all"])
            // A stalled answer costs this many seconds before the retry, not the default 60.
            .args(["--timeout", "2"])
            .args(proxy)
            .write_stdin(offers.to_owned());
        if let Some(password) = password {
            // The password reaches the child through its environment only, never argv.
            cmd.env("SCT_PROXY_PASSWORD", password);
        }
        let out = cmd.output().unwrap();
        if out.status.success() {
            return run;
        }
        // Only transient failures (4) and refused bytes (1, a flipped byte) may stop a run.
        assert!(
            matches!(
                crate::exit::exit_class(&out),
                Some(ExitCode::Rejected | ExitCode::Network)
            ),
            "run {run}: {}",
            stderr_of(&out)
        );
    }
    panic!("sct-fetch did not complete in 25 runs");
}

/// Bit-exact result, and no hot loop: each run asks for a file at most (retries + 1) times, plus
/// one restart from zero after a resumed file failed its hash.
fn assert_chaos_outcome(env: &Env, service: &Service, server: &TestServer, runs: usize) {
    for (pack, spec) in service.packs.iter().enumerate() {
        for file in 0..spec.files.len() {
            let path = path_of(service, pack, file);
            assert_eq!(
                read(&env.path("packs").join(&path)),
                read(&service.served(&path)),
                "{path}"
            );
            let asked = server.requests(&path).len();
            assert!(
                asked <= runs * (2 + 1 + 1),
                "{path} was requested {asked} times in {runs} runs"
            );
        }
    }
    assert!(verify(env, service, "packs").status.success());
    let injected = server.injected();
    eprintln!("chaos: {runs} run(s); injected {injected:?} of {CHAOS_KINDS:?}");
    assert!(
        injected.iter().sum::<usize>() > 0,
        "the seed injected no fault: {injected:?}"
    );
}

#[test]
fn random_faults_from_a_seed_end_in_a_bit_exact_folder() {
    // Seeds chosen so that, together, they inject every kind of fault at least once.
    let mut injected = [0; CHAOS_KINDS.len()];
    for seed in [1_u64, 2409] {
        let env = Env::new();
        let service = service(&env);
        let server = TestServer::start(&service.root);
        server.chaos(seed, 50);
        let offers = service.offer_a(&server.base);
        let runs = fetch_until_complete(&env, &service, &offers, &[], None);
        assert_chaos_outcome(&env, &service, &server, runs);
        for (total, count) in injected.iter_mut().zip(server.injected()) {
            *total += count;
        }
    }
    for (kind, count) in CHAOS_KINDS.iter().zip(injected) {
        assert!(count > 0, "no {kind} fault was injected: {injected:?}");
    }
}

#[test]
fn random_faults_through_an_authenticating_proxy_end_in_a_bit_exact_folder() {
    use base64::Engine;
    let env = Env::new();
    let service = service(&env);
    let proxy = TestServer::start(&service.root);
    *proxy.proxy_auth.lock().unwrap() = Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("jqpublic:s3cret-pw")
    ));
    proxy.chaos(7, 70);
    // The offer names a port nothing listens on: only the proxy can answer.
    let offers = service.offer_a("http://127.0.0.1:9");
    let addr = proxy.base.trim_start_matches("http://").to_owned();
    let proxy_args = ["--proxy", addr.as_str(), "--proxy-user", "jqpublic"];
    let runs = fetch_until_complete(&env, &service, &offers, &proxy_args, Some("s3cret-pw"));
    assert_chaos_outcome(&env, &service, &proxy, runs);
}

#[test]
fn random_faults_through_squid_with_basic_auth_end_in_a_bit_exact_folder() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    server.chaos(11, 70);
    let squid = crate::kit::Squid::start(&env, "jqpublic", "s3cret-pw");
    let offers = service.offer_a(&server.base);
    let proxy = squid.url();
    let proxy_args = ["--proxy", proxy.as_str(), "--proxy-user", "jqpublic"];
    let runs = fetch_until_complete(&env, &service, &offers, &proxy_args, Some("s3cret-pw"));
    assert_chaos_outcome(&env, &service, &server, runs);
    assert!(
        squid.logged("jqpublic", 1) > 0,
        "squid did not carry the downloads"
    );
}

#[test]
fn a_stalled_download_is_given_up_on_after_the_stated_timeout_and_resumed() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let path = path_of(&service, 2, 0);
    // Every answer stalls after 1 MiB: each attempt must time out and resume where it stopped.
    server.fault(&path, Fault::StallAfter { bytes: MIB });
    let offers = service.offer_a(&server.base);
    let out = fetch(&env, &service, &offers, "packs", &["--timeout", "1"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        read(&env.path("packs").join(&path)),
        read(&service.served(&path))
    );
    let asked = server.requests(&path);
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(asked[0].range, None);
    assert_eq!(
        asked[1].range.as_deref(),
        Some(format!("bytes={MIB}-").as_str())
    );
    assert_eq!(
        asked[2].range.as_deref(),
        Some(format!("bytes={}-", 2 * MIB).as_str())
    );
}

#[test]
fn a_timeout_that_is_not_a_positive_number_is_a_usage_error() {
    let env = Env::new();
    let service = service(&env);
    let offers = service.offer_a("http://127.0.0.1:9");
    for bad in ["0", "-1", "inf"] {
        let flag = format!("--timeout={bad}");
        let out = fetch(&env, &service, &offers, "packs", &[&flag]);
        assert_exit!(out, Usage, "{bad}");
        assert!(stderr_of(&out).contains("--timeout"), "{}", stderr_of(&out));
        assert!(!env.path("packs").exists(), "{bad}: a folder was made");
    }
}

#[test]
fn a_partial_answer_to_a_request_for_the_whole_file_is_not_taken_for_the_file() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let path = path_of(&service, 2, 0);
    server.fault(&path, Fault::PartialFrom { from: 1000 });
    let offers = service.offer_a(&server.base);
    let out = fetch(&env, &service, &offers, "packs", &[]);
    let err = stderr_of(&out);
    assert_exit!(out, Network, "{err}");
    assert!(
        err.contains("answered a request for the whole file with Content-Range"),
        "{err}"
    );
    assert!(!env.path("packs").join(&path).exists());
    server.clear_faults();
    let again = fetch(&env, &service, &offers, "packs", &[]);
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert_eq!(
        read(&env.path("packs").join(&path)),
        read(&service.served(&path))
    );
}
