//! Freeze attacks bounded to a day (issue 26): the catalog names timestamp keys, the service signs
//! a short-lived freshness statement, fetch refuses a stale, unlisted or mismatched one, and
//! verify and import check only that the folder's statement belongs to its catalog.

use crate::exit::assert_exit;
use crate::kit::{Published, Server, offers, one_cab, publish_command, published, upload};
use crate::support::{Env, stderr_of, stdout_of};
use std::path::{Path, PathBuf};
use std::process::Output;

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout_of(out),
        stderr_of(out)
    );
}

/// A time `hours` from now, for the debug builds' test clock (`SCT_TEST_NOW`).
fn hours_from_now(hours: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(hours)).to_string()
}

/// `sct-serve keygen --role timestamp --out NAME`: the key file and its public key.
fn timestamp_key(env: &Env, name: &str) -> (PathBuf, String) {
    let path = env.path(name);
    let out = env
        .cmd("sct-serve")
        .args(["keygen", "--role", "timestamp", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    ok(&out, "keygen --role timestamp");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["role"], "timestamp");
    (path, doc["public_key"].as_str().unwrap().to_owned())
}

/// `sct-serve publish` of the next version naming these timestamp keys (none: keep the last).
fn publish_naming(env: &Env, service: &Published, keys: &[&Path]) -> serde_json::Value {
    let mut cmd = publish_command(env, &service.root, &service.key);
    for key in keys {
        cmd.arg("--timestamp-key").arg(key);
    }
    let out = cmd.output().unwrap();
    ok(&out, "publish");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `sct-serve timestamp --root ROOT --key KEY` with extra arguments and variables.
fn sign_statement(env: &Env, root: &Path, key: &Path, extra: &[&str], vars: &[(&str, &str)]) {
    let mut cmd = env.cmd("sct-serve");
    cmd.args(["timestamp", "--root"])
        .arg(root)
        .arg("--key")
        .arg(key)
        .args(extra);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    ok(&out, "sct-serve timestamp");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "sct.timestamp.v1");
}

/// A published service whose catalog names one timestamp key, served by `sct-serve run` (which
/// signs no statement itself: each test signs its own with `sct-serve timestamp`), and the offers
/// of one usage cab uploaded to it.
struct Static {
    env: Env,
    service: Published,
    timestamp: PathBuf,
    server: Server,
}

impl Static {
    fn new() -> Self {
        let env = Env::new();
        let service = published(&env);
        let (timestamp, _) = timestamp_key(&env, "timestamp-key.json");
        publish_naming(&env, &service, &[&timestamp]);
        sign_statement(&env, &service.root, &timestamp, &[], &[]);
        let server = Server::start(&env, &service.root, &[], &[]);
        let cab = one_cab(&env);
        let out = upload(&env, &service.public, &[&cab, "--service-url", &server.url]);
        ok(&out, "upload");
        assert_eq!(offers(&out).len(), 1);
        std::fs::write(env.path("offers.jsonl"), &out.stdout).unwrap();
        Self {
            env,
            service,
            timestamp,
            server,
        }
    }

    /// `sct-fetch` of the offers into `dest`, with extra variables.
    fn fetch(&self, dest: &str, vars: &[(&str, &str)]) -> Output {
        let mut cmd = self.env.cmd("sct-fetch");
        cmd.args(["--offers", "offers.jsonl", "--dest", dest, "--retries", "0"])
            .args(["--trusted-key", &self.service.public]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn verify(&self, dest: &str) -> Output {
        self.env
            .cmd("sct-verify")
            .args(["--json", "--trusted-key", &self.service.public, dest])
            .output()
            .unwrap()
    }
}

fn refused_as_not_fresh(out: &Output, because: &str) {
    assert_exit!(out, Rejected);
    let text = stderr_of(out);
    assert!(text.contains(because), "{text}");
}

#[test]
fn a_statement_by_an_unlisted_key_or_naming_another_catalog_is_refused() {
    let world = Static::new();
    ok(&world.fetch("packs", &[]), "fetch with a fresh statement");
    let folder = world.env.path("packs");
    assert!(folder.join("timestamp.json").is_file());
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("fetched.json")).unwrap()).unwrap();
    assert!(record["freshness_checked_at"].is_string(), "{record}");
    let verified = world.verify("packs");
    ok(&verified, "verify");

    // Signed by a timestamp key the catalog does not name.
    let (stranger, _) = timestamp_key(&world.env, "stranger-key.json");
    sign_statement(&world.env, &world.service.root, &stranger, &[], &[]);
    let out = world.fetch("other", &[]);
    refused_as_not_fresh(&out, "only the timestamp keys it names count");
    assert!(!world.env.path("other").join("catalog.json").exists());

    // A statement for version 2 beside version 3: a cache or mirror replaying, or a publication
    // nobody re-signed for.
    sign_statement(&world.env, &world.service.root, &world.timestamp, &[], &[]);
    publish_naming(&world.env, &world.service, &[]);
    let out = world.fetch("packs", &[]);
    refused_as_not_fresh(&out, "names another catalog (version 2");
    // The folder keeps what it had: the last good catalog, statement and record.
    ok(&world.verify("packs"), "verify after the refusal");
    sign_statement(&world.env, &world.service.root, &world.timestamp, &[], &[]);
    ok(&world.fetch("packs", &[]), "fetch after re-signing");
    drop(world.server);
}

#[test]
fn an_expired_or_too_old_statement_is_refused() {
    if crate::support::needs_debug_build() {
        return;
    }
    let world = Static::new();
    // Lived one hour; the client is two hours ahead.
    sign_statement(
        &world.env,
        &world.service.root,
        &world.timestamp,
        &["--lifetime", "1"],
        &[],
    );
    let two_hours = hours_from_now(2);
    let out = world.fetch("packs", &[("SCT_TEST_NOW", &two_hours)]);
    refused_as_not_fresh(&out, "is not fresh: its freshness statement expired at");
    assert!(stderr_of(&out).contains("holding this site on old packs"));
    // Valid for a day, but older than the client's stricter bound.
    sign_statement(&world.env, &world.service.root, &world.timestamp, &[], &[]);
    let strict = [
        ("SCT_TEST_NOW", two_hours.as_str()),
        ("SCT_MAX_TIMESTAMP_AGE_HOURS", "1"),
    ];
    let out = world.fetch("packs", &strict);
    refused_as_not_fresh(&out, "more than 1 hours ago");
    assert!(stderr_of(&out).contains("SCT_MAX_TIMESTAMP_AGE_HOURS"));
    ok(
        &world.fetch("packs", &[("SCT_TEST_NOW", &two_hours)]),
        "within the default day",
    );
    // A bound outside 1..168 hours is a usage error, before anything is fetched.
    let out = world.fetch("else", &[("SCT_MAX_TIMESTAMP_AGE_HOURS", "1000")]);
    assert_exit!(out, Usage);
}

#[test]
fn rotating_the_timestamp_key_leaves_the_pinned_key_alone() {
    let world = Static::new();
    ok(&world.fetch("packs", &[]), "fetch under the first key");
    let (second, _) = timestamp_key(&world.env, "second-key.json");
    // Both named while the service moves over; the client's pinned key never changes.
    let report = publish_naming(&world.env, &world.service, &[&world.timestamp, &second]);
    assert_eq!(report["timestamp_key_ids"].as_array().unwrap().len(), 2);
    sign_statement(&world.env, &world.service.root, &second, &[], &[]);
    ok(&world.fetch("packs", &[]), "fetch under the second key");
    let verified = world.verify("packs");
    ok(&verified, "verify");
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    let second_id = {
        let text = std::fs::read_to_string(&second).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        sct::core::signing::PublicKey::parse(doc["public_key"].as_str().unwrap())
            .unwrap()
            .key_id()
    };
    assert_eq!(report["timestamp_key_id"], second_id.as_str());
    // The first key retired: its statements are refused from the next catalog on.
    publish_naming(&world.env, &world.service, &[&second]);
    sign_statement(&world.env, &world.service.root, &world.timestamp, &[], &[]);
    refused_as_not_fresh(&world.fetch("packs", &[]), "unknown key");
    sign_statement(&world.env, &world.service.root, &second, &[], &[]);
    ok(
        &world.fetch("packs", &[]),
        "fetch after the first key retired",
    );
}

#[test]
fn a_folder_whose_statement_does_not_belong_is_refused_by_verify() {
    let world = Static::new();
    ok(&world.fetch("packs", &[]), "fetch");
    let folder = world.env.path("packs");
    let statement = folder.join("timestamp.json");
    let good = std::fs::read(&statement).unwrap();
    // Another statement (signed by the right key, for the same catalog) with its signature left
    // behind: the bytes no longer match.
    let altered = String::from_utf8(good.clone())
        .unwrap()
        .replace("\"issued_at\": \"", "\"issued_at\": \"1");
    std::fs::write(&statement, altered).unwrap();
    refused_as_not_fresh(&world.verify("packs"), "bad signature");
    std::fs::remove_file(&statement).unwrap();
    refused_as_not_fresh(&world.verify("packs"), "timestamp.json` is missing");
    std::fs::write(&statement, good).unwrap();
    ok(&world.verify("packs"), "verify with the statement back");
}

#[test]
fn an_oversized_statement_is_refused_unread_from_the_service_and_the_folder() {
    let world = Static::new();
    ok(&world.fetch("packs", &[]), "fetch");
    let huge = vec![b' '; 1024 * 1024];
    let served = world.service.root.join("catalog").join("timestamp.json");
    let good = std::fs::read(&served).unwrap();
    std::fs::write(&served, &huge).unwrap();
    let out = world.fetch("other", &[]);
    refused_as_not_fresh(&out, "cannot be shown fresh");
    assert!(!world.env.path("other").join("catalog.json").exists());
    std::fs::write(&served, good).unwrap();
    std::fs::write(world.env.path("packs").join("timestamp.json"), &huge).unwrap();
    assert_exit!(world.verify("packs"), Rejected);
}

#[test]
fn a_catalog_naming_no_timestamp_key_is_fetched_with_a_warning() {
    let env = Env::new();
    let service = published(&env);
    let server = Server::start(&env, &service.root, &[], &[]);
    let cab = one_cab(&env);
    let out = upload(&env, &service.public, &[&cab, "--service-url", &server.url]);
    ok(&out, "upload");
    let out = env
        .cmd("sct-fetch")
        .args(["--dest", "packs", "--trusted-key", &service.public])
        .write_stdin(out.stdout)
        .output()
        .unwrap();
    ok(&out, "fetch");
    assert!(
        stderr_of(&out).contains("freeze protection is off"),
        "{}",
        stderr_of(&out)
    );
    assert!(!env.path("packs").join("timestamp.json").exists());
}

#[test]
fn keys_of_one_role_are_refused_for_the_other() {
    let env = Env::new();
    let service = published(&env);
    let (timestamp, _) = timestamp_key(&env, "timestamp-key.json");
    // A timestamp key never signs a catalog...
    let out = publish_command(&env, &service.root, &timestamp)
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("timestamp key, not a catalog key"));
    // ...and the catalog key never goes online to sign statements.
    let out = env
        .cmd("sct-serve")
        .args(["timestamp", "--root"])
        .arg(&service.root)
        .arg("--key")
        .arg(&service.key)
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("catalog key, not a timestamp key"));
    // Nothing published yet: nothing to vouch for.
    let empty = env.path("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = env
        .cmd("sct-serve")
        .args(["timestamp", "--root"])
        .arg(&empty)
        .arg("--key")
        .arg(&timestamp)
        .output()
        .unwrap();
    assert_exit!(out, Usage);
}

/// The operator's trip with freeze protection on: `sct-serve run --timestamp-key` signs at start;
/// `-connect` succeeds today and refuses with the client's clock two days ahead; the folder
/// fetched today imports twenty days later.
#[test]
fn connect_refuses_two_days_ahead_and_a_folder_fetched_today_imports_twenty_days_later() {
    if crate::support::needs_debug_build() {
        return;
    }
    let env = Env::new();
    let (site, install) = env.installed_site("ps1", "install", &["--version", "5.00.9128.1000"]);
    let service = published(&env);
    let (timestamp, _) = timestamp_key(&env, "timestamp-key.json");
    publish_naming(&env, &service, &[&timestamp]);
    let key_arg = timestamp.display().to_string();
    let server = Server::start(&env, &service.root, &["--timestamp-key", &key_arg], &[]);
    std::fs::create_dir(env.path("usb")).unwrap();
    let wrapper = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = server.client(&env, "ServiceConnectionTool", &service);
        cmd.env("SCT_SITE", &site).args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let connect = [
        "-connect",
        "-usagedatasrc",
        "usb",
        "-updatepackdest",
        "usb/UpdatePacks",
    ];
    ok(
        &wrapper(&["-prepare", "-usagedatadest", "usb/UsageData.cab"], &[]),
        "prepare",
    );
    let ahead = wrapper(&connect, &[("SCT_TEST_NOW", &hours_from_now(48))]);
    refused_as_not_fresh(&ahead, "is not fresh");
    assert!(!env.path("usb/UpdatePacks/catalog.json").exists());
    ok(&wrapper(&connect, &[]), "connect today");
    let import = wrapper(
        &["-import", "-updatepacksrc", "usb/UpdatePacks"],
        &[("SCT_TEST_NOW", &hours_from_now(20 * 24))],
    );
    ok(&import, "import twenty days later");
    let offline = install.join("EasySetupPayload").join("offline");
    assert!(
        std::fs::read_dir(&offline)
            .unwrap()
            .flatten()
            .any(|e| !e.file_name().to_string_lossy().starts_with('.')),
        "nothing was imported"
    );
}

/// Volumes (issue 25) carry the folder's freshness statement: each verifies alone when the
/// catalog names a timestamp key, and a volume without the statement is refused.
#[test]
fn each_volume_of_a_fresh_folder_carries_the_statement_and_verifies_alone() {
    let world = Static::new();
    ok(&world.fetch("packs", &[]), "fetch with a fresh statement");
    let out = world
        .env
        .cmd("sct-span")
        .args(["packs", "--volume-size", "64KiB", "--out", "volumes"])
        .args(["--trusted-key", &world.service.public])
        .output()
        .unwrap();
    ok(&out, "sct-span");
    let volumes: Vec<PathBuf> = std::fs::read_dir(world.env.path("volumes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!volumes.is_empty());
    for volume in &volumes {
        assert!(volume.join("timestamp.json").is_file(), "{volume:?}");
        assert!(volume.join("timestamp.json.sig").is_file(), "{volume:?}");
        ok(
            &world.verify(&volume.to_string_lossy()),
            "verify of one volume",
        );
    }
    std::fs::remove_file(volumes[0].join("timestamp.json")).unwrap();
    std::fs::remove_file(volumes[0].join("timestamp.json.sig")).unwrap();
    let out = world.verify(&volumes[0].to_string_lossy());
    assert!(!out.status.success(), "{}", stderr_of(&out));
}
