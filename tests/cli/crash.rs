//! The crash matrix: `sct-fetch` and `sct-import` killed (SIGKILL, through the debug-build fault
//! hook `SCT_FAULT=stage:point`, see `src/core/fault.rs`) at every named point. After each kill: no file
//! sits under its final name with bytes the signed catalog does not list, the database never names a
//! pack whose files are not in place, a rerun completes, `sct-verify` passes and a further run
//! changes nothing.

use crate::kit::{Published, Server, publish, publish_command, published_sized};
use crate::support::{Env, stderr_of, tree};
use sct::core::fault::{ENV_FAULT, Point};
use std::path::Path;
use std::process::Output;

/// The fault points of one stage, named by the library (`sct::core::fault::Point::ALL`), so a point
/// added or renamed there is in this matrix without an edit here.
fn points_of(stage: &str) -> Vec<Point> {
    let points: Vec<Point> = Point::ALL
        .iter()
        .copied()
        .filter(|p| p.stage() == stage)
        .collect();
    assert!(!points.is_empty(), "no `{stage}:` fault point");
    points
}

/// Points outside the two matrices, each with the test that kills a process there.
const TESTED_ELSEWHERE: &[(Point, &str)] = &[
    (
        Point::InboxAfterRenameAside,
        "import::media::a_removal_killed_midway_never_leaves_half_a_pack_and_the_next_import_tidies_up",
    ),
    (
        Point::PartsAfterStage,
        "span::an_import_killed_while_staging_or_joining_parts_resumes_on_rerun",
    ),
    (
        Point::PartsMidJoin,
        "span::an_import_killed_while_staging_or_joining_parts_resumes_on_rerun",
    ),
    (
        Point::PublishAfterLock,
        "service::a_publisher_killed_while_holding_the_lock_leaves_no_stale_lock",
    ),
];

/// A point of a new stage fails here until a test kills a process at it.
#[test]
fn every_fault_point_has_a_crash_test() {
    for point in Point::ALL {
        let elsewhere = TESTED_ELSEWHERE.iter().any(|(p, _)| p == point);
        assert!(
            ["fetch", "import"].contains(&point.stage()) || elsewhere,
            "no crash test kills a process at `{}`",
            point.name()
        );
    }
}

const HIERARCHY: &str = crate::kit::HIERARCHY_A;

/// The update service (sample packs large enough to arrive in many chunks), a demo site at 2403,
/// its offers, and a pack folder fetched completely from catalog version 1.
struct World {
    env: Env,
    public: String,
    /// Kept running for the whole test (stopped on drop).
    _server: Server,
    root: std::path::PathBuf,
    site_db: std::path::PathBuf,
}

impl World {
    fn new() -> Self {
        let env = Env::new();
        let Published { root, key, public } = published_sized(&env, "service", "1MiB", "300KiB");
        // Freeze protection on, so every fetch also writes a freshness statement.
        let timestamp = env.path("timestamp-key.json");
        env.cmd("sct-serve")
            .args(["keygen", "--role", "timestamp", "--out"])
            .arg(&timestamp)
            .assert()
            .success();
        publish_command(&env, &root, &key)
            .arg("--timestamp-key")
            .arg(&timestamp)
            .assert()
            .success();
        sign_statement(&env, &root, &timestamp);
        let server = Server::start(&env, &root, &[], &[]);
        let site = env.demo_site_with("site", "PS1", "5.00.9128.1000", HIERARCHY);
        env.cmd("sct-collect")
            .args(["--site", &site, "-o", "usage.json"])
            .assert()
            .success();
        std::fs::create_dir(env.path("usb")).unwrap();
        env.cmd("sct-pack")
            .args(["create", "usage.json", "-o", "usb/UsageData.cab"])
            .assert()
            .success();
        let out = env
            .cmd("sct-upload")
            .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
            .args([
                "usb",
                "--service-url",
                &server.url,
                "--trusted-key",
                &public,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        std::fs::write(env.path("offers.jsonl"), &out.stdout).unwrap();
        let world = World {
            site_db: env.path("site.db"),
            env,
            public,
            _server: server,
            root,
        };
        let first = world.fetch("base", "latest", None);
        assert!(first.status.success(), "{}", stderr_of(&first));
        // The next catalog version: every later fetch replaces the folder's catalog, statement
        // and record.
        publish(&world.env, &world.root, &key);
        sign_statement(&world.env, &world.root, &timestamp);
        world
    }

    fn fetch(&self, dest: &str, mode: &str, fault: Option<Point>) -> Output {
        let mut cmd = self.env.cmd("sct-fetch");
        cmd.args(["--offers", "offers.jsonl", "--dest", dest, "--mode", mode])
            .args(["--trusted-key", &self.public, "--quiet"]);
        if let Some(point) = fault {
            cmd.env(ENV_FAULT, point.name());
        }
        cmd.output().unwrap()
    }

    fn verify(&self, dest: &str) -> Output {
        self.env
            .cmd("sct-verify")
            .args(["--json", "--trusted-key", &self.public, dest])
            .output()
            .unwrap()
    }

    fn import(&self, src: &str, site: &Path, install: &Path, fault: Option<Point>) -> Output {
        let mut cmd = self.env.cmd("sct-import");
        cmd.args(["--src", src, "--trusted-key", &self.public])
            .arg("--site")
            .arg(format!("sqlite:{}", site.display()))
            .arg("--install-dir")
            .arg(install);
        if let Some(point) = fault {
            cmd.env(ENV_FAULT, point.name());
        }
        cmd.output().unwrap()
    }

    /// Every (path, size, sha256) the published catalog lists, relative to a pack folder.
    fn catalog_files(&self) -> Vec<(String, u64, String)> {
        let bytes = std::fs::read(self.root.join("catalog/catalog.json")).unwrap();
        let catalog: sct::core::catalog::Catalog = serde_json::from_slice(&bytes).unwrap();
        catalog
            .packs
            .iter()
            .flat_map(|p| {
                p.files
                    .iter()
                    .map(|f| (f.path.clone(), f.size, f.sha256.clone()))
            })
            .collect()
    }
}

/// `sct-serve timestamp`: a freshness statement for the catalog published now.
fn sign_statement(env: &Env, root: &Path, key: &Path) {
    env.cmd("sct-serve")
        .args(["timestamp", "--root"])
        .arg(root)
        .arg("--key")
        .arg(key)
        .assert()
        .success();
}

fn killed(out: &Output, point: &str) {
    assert!(
        crate::support::killed_at_fault(&out.status),
        "{point} was not reached ({:?}): {}",
        out.status,
        stderr_of(out)
    );
}

/// No file under its final name holds anything but the bytes the catalog lists for it.
fn no_partial_file_under_its_name(world: &World, dir: &Path, point: &str) {
    for (path, size, sha256) in world.catalog_files() {
        let file = dir.join(&path);
        if file.exists() {
            let (got_size, got) = sct::core::hash::of_file(&file).unwrap();
            assert!(
                got_size == size && got == sha256,
                "{point}: `{path}` is under its final name but incomplete"
            );
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn fetch_killed_at_every_point_resumes_and_verifies() {
    if crate::support::needs_debug_build() {
        return;
    }
    let world = World::new();
    for fault in points_of("fetch") {
        let point = fault.name();
        let dest = format!("packs-{}", point.replace(':', "-"));
        copy_tree(&world.env.path("base"), &world.env.path(&dest));
        killed(&world.fetch(&dest, "all", Some(fault)), point);
        no_partial_file_under_its_name(&world, &world.env.path(&dest), point);
        let rerun = world.fetch(&dest, "all", None);
        assert!(
            rerun.status.success(),
            "{point}: rerun: {}",
            stderr_of(&rerun)
        );
        let verified = world.verify(&dest);
        assert!(
            verified.status.success(),
            "{point}: verify: {}",
            String::from_utf8_lossy(&verified.stdout)
        );
        let again = world.fetch(&dest, "all", None);
        let summary: serde_json::Value = serde_json::from_str(
            String::from_utf8_lossy(&again.stdout)
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            summary["downloaded"], 0,
            "{point}: a third run downloaded again"
        );
    }
}

/// The packs a site's database lists as Ready to install.
fn ready_packs(site: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(site).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT PackageGuid FROM CM_UpdatePackages WHERE State = 262146 ORDER BY PackageGuid",
        )
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The database never lists a pack whose folder is not complete; no folder is half there.
fn site_consistent(world: &World, site: &Path, offline: &Path, point: &str) {
    let files = world.catalog_files();
    for guid in ready_packs(site) {
        let folder = guid.to_uppercase();
        for (path, _, _) in files
            .iter()
            .filter(|(p, _, _)| p.starts_with(&format!("{folder}/")))
        {
            assert!(
                offline.join(path).is_file(),
                "{point}: {guid} is Ready to install but `{path}` is missing"
            );
        }
    }
    for entry in tree(offline)
        .iter()
        .filter(|e| !e.contains('/') && !e.starts_with('.'))
    {
        for (path, size, sha256) in files
            .iter()
            .filter(|(p, _, _)| p.starts_with(&format!("{entry}/")))
        {
            let (got_size, got) = sct::core::hash::of_file(&offline.join(path)).unwrap_or_default();
            assert!(
                got_size == *size && got == *sha256,
                "{point}: `{path}` is under its final name but incomplete"
            );
        }
    }
}

#[test]
fn import_killed_at_every_point_completes_and_stays_consistent() {
    if crate::support::needs_debug_build() {
        return;
    }
    let world = World::new();
    let fetched = world.fetch("full", "all", None);
    assert!(fetched.status.success(), "{}", stderr_of(&fetched));
    // What an uninterrupted import registers: every killed run must end the same.
    let reference = world.env.path("reference.db");
    std::fs::copy(&world.site_db, &reference).unwrap();
    let reference_install = world.env.path("reference-install");
    std::fs::create_dir(&reference_install).unwrap();
    let clean = world.import("full", &reference, &reference_install, None);
    assert!(clean.status.success(), "{}", stderr_of(&clean));
    let expected = ready_packs(&reference);
    assert!(
        !expected.is_empty(),
        "the reference import imported nothing"
    );
    for fault in points_of("import") {
        let point = fault.name();
        let name = point.replace(':', "-");
        let site = world.env.path(&format!("{name}.db"));
        std::fs::copy(&world.site_db, &site).unwrap();
        let install = world.env.path(&format!("{name}-install"));
        std::fs::create_dir(&install).unwrap();
        let offline = install.join("EasySetupPayload").join("offline");
        killed(&world.import("full", &site, &install, Some(fault)), point);
        if offline.exists() {
            site_consistent(&world, &site, &offline, point);
        }
        let rerun = world.import("full", &site, &install, None);
        assert!(
            rerun.status.success(),
            "{point}: rerun: {}",
            stderr_of(&rerun)
        );
        site_consistent(&world, &site, &offline, point);
        assert_eq!(
            ready_packs(&site),
            expected,
            "{point}: not what an uninterrupted import registers"
        );
        let before = tree(&install);
        let third = world.import("full", &site, &install, None);
        assert!(third.status.success(), "{point}: {}", stderr_of(&third));
        assert_eq!(
            tree(&install),
            before,
            "{point}: a third run changed the inbox"
        );
    }
}
