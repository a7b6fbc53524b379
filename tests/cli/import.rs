//! sct-import: only this hierarchy, atomic, idempotent, crash-safe; and the wrapper's -import.
//!
//! Each test builds an update pack folder as sct-fetch would write it (signed catalog, its
//! signature, fetched.json, pack files) and imports it into a demo site whose install folder is
//! inside the test's scratch folder.

use crate::exit::assert_exit;
use crate::kit::{TestPack, test_pack, write_pack_folder};
use crate::support::{Env, identity, stderr_of, stdout_of, tree};
use sct::core::catalog::{self, Catalog};
use sct::core::error::ExitCode;
use sct::core::fault::{ENV_FAULT, Point};
use sct::core::signing::PrivateKey;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use uuid::Uuid;

const SITE_VERSION: &str = "5.00.9128.1000";
const READY: i64 = 262_146;

/// A pack that applies to the demo site (5.00.9128.1000).
fn applicable(name: &str, size: usize) -> TestPack {
    test_pack(name, "5.00.9106.1000", "5.00.9132.1009", size)
}

/// A demo site, its scratch folder, a signing key the import trusts, and helpers.
struct Fixture {
    env: Env,
    key: PrivateKey,
    hierarchy: Uuid,
    site: String,
    install: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let env = Env::new();
        let hierarchy = Uuid::new_v4();
        let hierarchy_id = hierarchy.to_string();
        let site_args = [
            &identity("PS1", SITE_VERSION, &hierarchy_id)[..],
            &["--no-usage"],
        ]
        .concat();
        let (site, install) = env.installed_site("site", "site", &site_args);
        Self {
            env,
            key: PrivateKey::generate(),
            hierarchy,
            site,
            install,
        }
    }

    fn inbox(&self) -> PathBuf {
        self.install.join("EasySetupPayload").join("offline")
    }

    fn db(&self) -> PathBuf {
        PathBuf::from(self.site.strip_prefix("sqlite:").unwrap())
    }

    /// Writes a pack folder `name` for catalog `version`, signed by `key`, with the given
    /// hierarchies' packs recorded in fetched.json.
    fn write_packs_signed(
        &self,
        name: &str,
        version: u64,
        key: &PrivateKey,
        bound: Option<Uuid>,
        entries: &[(Uuid, &[&TestPack])],
    ) -> PathBuf {
        let dir = self.env.path(name);
        write_pack_folder(&dir, version, key, bound, entries, SITE_VERSION);
        dir
    }

    /// A pack folder for this hierarchy only, signed by the trusted key.
    fn write_packs(&self, name: &str, version: u64, packs: &[&TestPack]) -> PathBuf {
        self.write_packs_signed(name, version, &self.key, None, &[(self.hierarchy, packs)])
    }

    /// A built binary with the site and the trusted key in the environment (std Command, to spawn).
    fn command(&self, bin: &str) -> Command {
        let mut cmd = self.env.command(bin);
        cmd.env("SCT_SITE", &self.site)
            .env("SCT_TRUSTED_KEYS", self.key.public().to_string());
        cmd
    }

    fn import(&self, src: &Path, extra: &[&str]) -> Output {
        self.import_with(src, extra, &[])
    }

    fn import_with(&self, src: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.command("sct-import");
        cmd.arg("--src").arg(src).args(extra);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// (PackageGuid, State) of every row, sorted.
    fn rows(&self) -> Vec<(String, i64)> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut stmt = conn
            .prepare("SELECT upper(PackageGuid), State FROM CM_UpdatePackages ORDER BY 1")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn state_of(&self, pack: &TestPack) -> Option<i64> {
        let guid = pack.pack.package_guid.to_string().to_uppercase();
        self.rows()
            .into_iter()
            .find(|(g, _)| *g == guid)
            .map(|(_, s)| s)
    }

    /// Every column of CM_UpdatePackages and the ledger, to compare before and after a rerun.
    fn dump(&self) -> String {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut out = String::new();
        for sql in [
            "SELECT * FROM CM_UpdatePackages ORDER BY PackageGuid",
            "SELECT * FROM SCT_ImportedCatalogs ORDER BY CatalogVersion",
        ] {
            let Ok(mut stmt) = conn.prepare(sql) else {
                out.push_str("(no table)\n");
                continue;
            };
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            for row in rows {
                out.push_str(&row.unwrap().join("|"));
                out.push('\n');
            }
        }
        out
    }

    fn catalog_versions(&self) -> Vec<(i64, i64)> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut stmt = conn
            .prepare("SELECT CatalogVersion, RollbackOverride FROM SCT_ImportedCatalogs ORDER BY 1")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// True when the pack sits complete under its final name.
    fn pack_complete(&self, pack: &TestPack) -> bool {
        pack.contents.iter().all(|(path, bytes)| {
            std::fs::read(self.inbox().join(path)).ok().as_ref() == Some(bytes)
        })
    }

    /// Every non-hidden entry in the inbox is one of `packs`, complete; no staging folder remains
    /// when `settled`; and the database has a Ready row exactly for the packs in place.
    fn check_consistent(&self, packs: &[&TestPack], settled: bool) {
        let names: Vec<String> = std::fs::read_dir(self.inbox())
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        for name in &names {
            if name.starts_with('.') {
                assert!(
                    !settled || name == ".sct-import.lock",
                    "leftover {name} in the inbox"
                );
                continue;
            }
            let pack = packs
                .iter()
                .find(|p| p.pack.package_guid.to_string().to_uppercase() == *name)
                .unwrap_or_else(|| panic!("unexpected inbox entry {name}"));
            assert!(self.pack_complete(pack), "partial pack visible as {name}");
        }
        for pack in packs {
            let present = names.contains(&pack.pack.package_guid.to_string().to_uppercase());
            let ready = self.state_of(pack) == Some(READY);
            if settled {
                assert_eq!(
                    present, ready,
                    "files and database disagree on {}",
                    pack.pack.name
                );
            } else {
                // Mid-crash the files may be ahead of the database, never behind it.
                assert!(
                    present || !ready,
                    "database claims {} without its files",
                    pack.pack.name
                );
            }
        }
    }
}

/// The JSON lines of a run: pack events and the summary.
fn lines(out: &Output) -> Vec<Value> {
    stdout_of(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn outcome_of(out: &Output, pack: &TestPack) -> String {
    lines(out)
        .iter()
        .find(|v| v["type"] == "pack" && v["package_guid"] == pack.pack.package_guid.to_string())
        .map(|v| v["outcome"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no event for {}: {}", pack.pack.name, stdout_of(out)))
}

fn summary(out: &Output) -> Value {
    let all = lines(out);
    let last = all.last().cloned().expect("a summary line");
    assert_eq!(last["type"], "summary", "{}", stdout_of(out));
    assert_eq!(last["schema"], "sct.import.v1");
    last
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout_of(out),
        stderr_of(out)
    );
}

/// The command ended with `class` and its stderr says `text`.
#[track_caller]
fn assert_code(out: &Output, class: ExitCode, text: &str) {
    crate::exit::expect_exit(out, class, "");
    assert!(
        stderr_of(out).contains(text),
        "expected `{text}` in: {}",
        stderr_of(out)
    );
}

#[test]
fn happy_path_imports_files_rows_and_catalog_version() {
    let fx = Fixture::new();
    let update = applicable("Configuration Manager 2409", 300_000);
    let mut hotfix = applicable("Hotfix for 2403", 1000);
    hotfix.pack.info.update_type = 2;
    let src = fx.write_packs("UpdatePacks", 7, &[&update, &hotfix]);
    let out = fx.import(&src, &[]);
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &update), "imported");
    assert_eq!(outcome_of(&out, &hotfix), "imported");
    let s = summary(&out);
    assert_eq!(s["imported"], 2);
    assert_eq!(s["database"], "registered");
    assert_eq!(s["catalog_version"], 7);
    assert!(fx.pack_complete(&update) && fx.pack_complete(&hotfix));
    assert_eq!(fx.state_of(&update), Some(READY));
    assert_eq!(fx.state_of(&hotfix), Some(READY));
    let event = lines(&out)
        .into_iter()
        .find(|v| v["package_guid"] == update.pack.package_guid.to_string())
        .unwrap();
    assert_eq!(event["state_name"], "DOWNLOAD_SUCCESS");
    assert_eq!(fx.catalog_versions(), vec![(7, 0)]);
    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    let (name, kind, max, link): (String, i64, String, String) = conn
        .query_row(
            "SELECT Name, UpdateType, MaxCMVersion, MoreInfoLink FROM CM_UpdatePackages WHERE upper(PackageGuid) = ?1",
            [hotfix.pack.package_guid.to_string().to_uppercase()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((name.as_str(), kind), ("Hotfix for 2403", 2));
    assert_eq!(max, "5.00.9132.1009");
    assert!(link.ends_with("Hotfix for 2403"));
    fx.check_consistent(&[&update, &hotfix], true);
}

#[test]
fn list_shows_the_site_packages_by_state_name() {
    let fx = Fixture::new();
    let pack = applicable("Configuration Manager 2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    assert_ok(&fx.import(&src, &[]));
    let out = fx.command("sct-import").arg("--list").output().unwrap();
    assert_ok(&out);
    let rows = lines(&out);
    assert_eq!(rows.len(), 2, "the installed release and the imported pack");
    let row = rows
        .iter()
        .find(|r| r["package_guid"] == pack.pack.package_guid.to_string())
        .unwrap();
    assert_eq!(row["schema"], "sct.update-package.v1");
    assert_eq!(row["state"], READY);
    assert_eq!(row["console_text"], "Ready to install");
    assert!(rows.iter().any(|r| r["state_name"] == "INSTALL_SUCCESS"));
}

#[test]
fn rerun_changes_nothing() {
    let fx = Fixture::new();
    let update = applicable("2409", 5000);
    let src = fx.write_packs("UpdatePacks", 3, &[&update]);
    assert_ok(&fx.import(&src, &[]));
    let (files, db) = (tree(&fx.install), fx.dump());
    let out = fx.import(&src, &[]);
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &update), "already_present");
    assert_eq!(summary(&out)["rows_changed"], 0);
    assert_eq!(tree(&fx.install), files);
    assert_eq!(fx.dump(), db);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let fx = Fixture::new();
    let update = applicable("2409", 5000);
    let src = fx.write_packs("UpdatePacks", 3, &[&update]);
    let db = fx.dump();
    let out = fx.import(&src, &["--dry-run"]);
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &update), "would_import");
    assert_eq!(summary(&out)["database"], "dry-run");
    assert!(!fx.install.join("EasySetupPayload").exists());
    assert_eq!(fx.dump(), db);
}

#[test]
fn only_this_hierarchy_is_imported() {
    let fx = Fixture::new();
    let ours = applicable("ours", 2000);
    let theirs = applicable("theirs", 2000);
    let other = Uuid::new_v4();
    let src = fx.write_packs_signed(
        "UpdatePacks",
        1,
        &fx.key,
        None,
        &[(other, &[&theirs]), (fx.hierarchy, &[&ours])],
    );
    let out = fx.import(&src, &[]);
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &ours), "imported");
    assert_eq!(outcome_of(&out, &theirs), "skipped_other_hierarchy");
    let reason = lines(&out)
        .into_iter()
        .find(|v| v["package_guid"] == theirs.pack.package_guid.to_string())
        .unwrap()["reason"]
        .to_string();
    assert!(reason.contains(&other.to_string()), "{reason}");
    assert!(
        !fx.inbox()
            .join(theirs.pack.package_guid.to_string().to_uppercase())
            .exists()
    );
    assert_eq!(fx.state_of(&theirs), None);
    fx.check_consistent(&[&ours, &theirs], true);
}

#[test]
fn pack_older_than_the_site_is_not_applicable() {
    let fx = Fixture::new();
    let old = test_pack("2303", "5.00.9096.1000", "5.00.9106.1000", 100);
    let fits = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&old, &fits]);
    let out = fx.import(&src, &[]);
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &old), "not_applicable");
    assert_eq!(outcome_of(&out, &fits), "imported");
    assert!(stdout_of(&out).contains("the site is newer than the pack"));
    assert_eq!(fx.state_of(&old), None);
    assert_eq!(summary(&out)["not_applicable"], 1);
}

fn assert_nothing_imported(fx: &Fixture, before: &str) {
    let entries: Vec<String> = tree(&fx.inbox())
        .into_iter()
        .filter(|e| e != ".sct-import.lock")
        .collect();
    assert!(entries.is_empty(), "{entries:?}");
    assert_eq!(fx.dump(), before);
}

#[test]
fn missing_install_folder_is_named_and_nothing_is_created() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let typo = fx.env.path("no-such-site");
    let out = fx.import(&src, &["--install-dir", typo.to_str().unwrap()]);
    assert_code(&out, ExitCode::Io, "no-such-site");
    assert!(stderr_of(&out).contains("--install-dir"));
    assert!(!typo.exists());
    // SCT_INSTALL_DIR is honoured the same way.
    let out = fx.import_with(&src, &[], &[("SCT_INSTALL_DIR", typo.to_str().unwrap())]);
    assert_code(&out, ExitCode::Io, "no-such-site");
}

#[test]
fn tampered_or_missing_file_refuses_the_whole_folder() {
    let fx = Fixture::new();
    let a = applicable("a", 4000);
    let b = applicable("b", 4000);
    let before = fx.dump();
    let src = fx.write_packs("Tampered", 1, &[&a, &b]);
    let mut bytes = b.contents[0].1.clone();
    bytes[100] ^= 0xff;
    std::fs::write(src.join(&b.contents[0].0), bytes).unwrap();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "failed verification");
    assert!(stderr_of(&out).contains("SHA-256"));
    assert_nothing_imported(&fx, &before);

    let src = fx.write_packs("Missing", 1, &[&a, &b]);
    std::fs::remove_file(src.join(&a.contents[1].0)).unwrap();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "is missing");
    assert_nothing_imported(&fx, &before);
}

#[test]
fn folder_for_another_hierarchy_only_is_refused() {
    let fx = Fixture::new();
    let theirs = applicable("theirs", 100);
    let before = fx.dump();
    let src = fx.write_packs_signed(
        "UpdatePacks",
        1,
        &fx.key,
        None,
        &[(Uuid::new_v4(), &[&theirs])],
    );
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "no packs for this hierarchy");
    assert_nothing_imported(&fx, &before);
}

#[test]
fn catalog_signed_by_an_unknown_key_is_refused() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let before = fx.dump();
    let stranger = PrivateKey::generate();
    let src = fx.write_packs_signed(
        "UpdatePacks",
        1,
        &stranger,
        None,
        &[(fx.hierarchy, &[&pack])],
    );
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "unknown key");
    assert_nothing_imported(&fx, &before);
}

#[test]
fn expired_catalog_is_refused() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let before = fx.dump();
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let text = std::fs::read(src.join(catalog::CATALOG_FILE)).unwrap();
    let mut old: Catalog = serde_json::from_slice(&text).unwrap();
    let now = jiff::Timestamp::now();
    // Expired 120 days ago: beyond the default 90-day grace (tests/cli/import/media.rs).
    old.issued_at = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 150))
        .unwrap();
    old.expires_at = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 120))
        .unwrap();
    let (bytes, sig) = catalog::sign(&old, &[&fx.key]).unwrap();
    std::fs::write(src.join(catalog::CATALOG_FILE), bytes).unwrap();
    std::fs::write(src.join(catalog::SIGNATURE_FILE), sig).unwrap();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "expired");
    assert_code(&out, ExitCode::Rejected, "import_grace_days");
    assert_nothing_imported(&fx, &before);
}

#[test]
fn catalog_bound_to_another_hierarchy_is_refused() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let before = fx.dump();
    let src = fx.write_packs_signed(
        "UpdatePacks",
        1,
        &fx.key,
        Some(Uuid::new_v4()),
        &[(fx.hierarchy, &[&pack])],
    );
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "is for hierarchy");
    assert_nothing_imported(&fx, &before);
}

#[test]
fn catalog_rollback_is_refused_unless_overridden() {
    let fx = Fixture::new();
    let first = applicable("first", 100);
    let second = applicable("second", 100);
    assert_ok(&fx.import(&fx.write_packs("V5", 5, &[&first]), &[]));
    let old = fx.write_packs("V4", 4, &[&second]);
    let before = (tree(&fx.inbox()), fx.dump());
    let out = fx.import(&old, &[]);
    assert_code(&out, ExitCode::Rejected, "rollback refused");
    assert!(stderr_of(&out).contains("--allow-rollback"));
    assert_eq!((tree(&fx.inbox()), fx.dump()), before);
    // The wrapper names what the wrapper can do, never a flag it does not take.
    let out = fx
        .command("ServiceConnectionTool")
        .args(["-import", "-updatepacksrc"])
        .arg(&old)
        .output()
        .unwrap();
    assert_code(
        &out,
        ExitCode::Rejected,
        "rollback refused; connect again (-connect)",
    );
    assert!(!stderr_of(&out).contains("--allow-rollback"));
    assert_eq!((tree(&fx.inbox()), fx.dump()), before);

    let out = fx.import(&old, &["--allow-rollback"]);
    assert_ok(&out);
    assert!(stderr_of(&out).contains("WARNING"), "{}", stderr_of(&out));
    assert_eq!(summary(&out)["rollback_override"], true);
    assert_eq!(outcome_of(&out, &second), "imported");
    assert_eq!(fx.catalog_versions(), vec![(4, 1), (5, 0)]);
}

#[test]
fn symlink_planted_in_the_folder_is_refused() {
    if crate::support::skip_on_wine(
        "import::symlink_planted_in_the_folder_is_refused",
        crate::support::WINE_HIDES_SYMLINKS,
    ) {
        return;
    }
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let before = fx.dump();
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let secret = fx.env.path("secret.txt");
    std::fs::write(&secret, "do not copy").unwrap();
    // Replace the redist with a symlink pointing outside the folder.
    let redist = src.join(&pack.contents[1].0);
    std::fs::remove_file(&redist).unwrap();
    std::os::unix::fs::symlink(&secret, &redist).unwrap();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "failed verification");
    assert_nothing_imported(&fx, &before);
    // A symlink beside the packs, too.
    std::fs::remove_file(&redist).unwrap();
    std::fs::write(&redist, &pack.contents[1].1).unwrap();
    std::os::unix::fs::symlink(&secret, src.join("extra")).unwrap();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "symlink");
    assert_nothing_imported(&fx, &before);
}

#[test]
fn different_pack_under_the_same_guid_is_never_overwritten() {
    let fx = Fixture::new();
    let pack = applicable("2409", 1000);
    let other = applicable("other", 10);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack, &other]);
    let squatter = fx
        .inbox()
        .join(pack.pack.package_guid.to_string().to_uppercase());
    std::fs::create_dir_all(&squatter).unwrap();
    std::fs::write(squatter.join("something.cab"), "another pack").unwrap();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "never overwritten");
    assert_eq!(outcome_of(&out, &pack), "failed");
    assert_eq!(outcome_of(&out, &other), "imported");
    assert_eq!(summary(&out)["failed"], 1);
    assert_eq!(
        std::fs::read_to_string(squatter.join("something.cab")).unwrap(),
        "another pack"
    );
    assert_eq!(fx.state_of(&pack), None);
    assert_eq!(fx.state_of(&other), Some(READY));
}

#[test]
fn database_failure_leaves_files_ahead_and_a_rerun_registers_them() {
    let fx = Fixture::new();
    let pack = applicable("2409", 1000);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON CM_UpdatePackages
         BEGIN SELECT RAISE(ABORT, 'simulated database failure'); END;",
    )
    .unwrap();
    let before = fx.dump();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Io, "simulated database failure");
    assert_eq!(summary(&out)["database"], "failed");
    assert!(fx.pack_complete(&pack), "the files stay in place");
    assert_eq!(fx.dump(), before, "the transaction rolled back as a whole");
    fx.check_consistent(&[&pack], false);
    conn.execute_batch("DROP TRIGGER refuse").unwrap();
    let out = fx.import(&src, &[]);
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &pack), "already_present");
    assert_eq!(summary(&out)["rows_changed"], 1);
    fx.check_consistent(&[&pack], true);
    assert_eq!(fx.catalog_versions(), vec![(1, 0)]);
}

/// Holds the inbox lock as another import would.
fn hold_lock(fx: &Fixture) -> std::fs::File {
    std::fs::create_dir_all(fx.inbox()).unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(fx.inbox().join(".sct-import.lock"))
        .unwrap();
    if crate::support::on_wine() {
        // Wine carries a Windows byte-range lock (`LockFileEx`) to Linux as a POSIX record lock,
        // which a Linux `flock` never meets: hold the kind the Windows build sees.
        posix_lock_whole(&file);
    } else {
        file.try_lock().unwrap();
    }
    file
}

/// A POSIX write lock on the whole of `file`, held until it is closed.
fn posix_lock_whole(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed plain-data struct; l_len 0 reaches to the end of any file.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    // SAFETY: fcntl on our own open descriptor with a valid struct.
    let done = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
    assert_eq!(done, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn second_import_fails_clearly_or_waits_while_the_inbox_is_locked() {
    let fx = Fixture::new();
    let pack = applicable("2409", 1000);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let before = fx.dump();
    let lock = hold_lock(&fx);
    let out = fx.import(&src, &["--no-lock-wait"]);
    assert_code(&out, ExitCode::Io, "another import is writing to the inbox");
    assert_nothing_imported(&fx, &before);

    // Without --no-lock-wait it says it waits, and writes nothing until the lock is free.
    let mut child = fx
        .command("sct-import")
        .arg("--src")
        .arg(&src)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("waiting for another import") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "import ended without waiting"
        );
    }
    assert_nothing_imported(&fx, &before);
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(fx.pack_complete(&pack));
    assert_eq!(fx.state_of(&pack), Some(READY));
}

#[test]
fn two_imports_at_once_never_both_write() {
    let fx = Fixture::new();
    let pack = applicable("2409", 2_000_000);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let spawn = || {
        fx.command("sct-import")
            .arg("--src")
            .arg(&src)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut outcomes: Vec<String> = outs
        .iter()
        .map(|o| {
            assert_ok(o);
            outcome_of(o, &pack)
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, vec!["already_present", "imported"]);
    fx.check_consistent(&[&pack], true);
}

#[test]
fn read_only_inbox_fails_clearly_and_writes_nothing() {
    let fx = Fixture::new();
    let pack = applicable("2409", 1000);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let Some(_inbox) = crate::support::Mount::tmpfs(&fx.inbox(), "1m", true) else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let before = fx.dump();
    let out = fx.import(&src, &[]);
    let why = crate::support::os_words("Read-only file system", "Access denied");
    assert_code(&out, ExitCode::Io, why);
    assert_nothing_imported(&fx, &before);
}

#[test]
fn full_inbox_fails_clearly_and_leaves_no_partial_pack() {
    let fx = Fixture::new();
    let small = applicable("small", 1000);
    let big = applicable("big", 1024 * 1024);
    let src = fx.write_packs("UpdatePacks", 1, &[&big, &small]);
    // A 256 KiB inbox: the big pack cannot fit.
    let Some(_inbox) = crate::support::Mount::tmpfs(&fx.inbox(), "256k", false) else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let out = fx.import(&src, &[]);
    let why = crate::support::os_words("No space left on device", "Disk full");
    assert_code(&out, ExitCode::Io, why);
    assert_eq!(outcome_of(&out, &big), "failed");
    assert_eq!(outcome_of(&out, &small), "imported");
    let listed: Vec<String> = tree(&fx.inbox())
        .into_iter()
        .filter(|p| p != ".sct-import.lock")
        .collect();
    let small_dir = small.pack.package_guid.to_string().to_uppercase();
    assert_eq!(
        listed,
        vec![
            small_dir.clone(),
            format!("{small_dir}/{small_dir}.cab"),
            format!("{small_dir}/Redist"),
            format!("{small_dir}/Redist/readme.txt"),
        ],
        "no staging folder or part of the big pack may remain"
    );
    assert_eq!(fx.state_of(&big), None);
    assert_eq!(fx.state_of(&small), Some(READY));
}

/// Kills the import at `point` with SIGKILL, checks what a crash leaves, then reruns.
fn crash_then_rerun(fault: Point) {
    let point = fault.name();
    if crate::support::needs_debug_build() {
        return;
    }
    let fx = Fixture::new();
    // Larger than the 4 MiB copy buffer, so `mid-copy` stops inside the first file.
    let a = applicable("2409", 6 * 1024 * 1024);
    let b = applicable("hotfix", 5000);
    let src = fx.write_packs("UpdatePacks", 2, &[&a, &b]);
    let out = fx.import_with(&src, &[], &[(ENV_FAULT, point)]);
    assert!(
        crate::support::killed_at_fault(&out.status),
        "{point}: expected SIGKILL, got {:?}: {}",
        out.status,
        stderr_of(&out)
    );
    assert!(stderr_of(&out).contains(point));
    if fault == Point::ImportMidCopy {
        // The half-written file exists, but only inside a staging folder.
        let staged: Vec<u64> = tree(&fx.inbox())
            .iter()
            .filter(|p| p.starts_with(".sct-staging.") && p.ends_with(".cab"))
            .map(|p| std::fs::metadata(fx.inbox().join(p)).unwrap().len())
            .collect();
        assert_eq!(staged.len(), 1, "{:?}", tree(&fx.inbox()));
        assert!(staged[0] < a.pack.files[0].size, "{staged:?}");
    }
    fx.check_consistent(&[&a, &b], false);
    let out = fx.import(&src, &[]);
    assert_ok(&out);
    for pack in [&a, &b] {
        let outcome = outcome_of(&out, pack);
        assert!(
            outcome == "imported" || outcome == "already_present",
            "{point}: {outcome}"
        );
    }
    fx.check_consistent(&[&a, &b], true);
    assert!(fx.pack_complete(&a) && fx.pack_complete(&b));
    assert_eq!(fx.catalog_versions(), vec![(2, 0)]);
    // And the run after that changes nothing.
    let db = fx.dump();
    let out = fx.import(&src, &[]);
    assert_ok(&out);
    assert_eq!(summary(&out)["already_present"], 2);
    assert_eq!(fx.dump(), db);
}

#[test]
fn crash_mid_copy_then_rerun() {
    crash_then_rerun(Point::ImportMidCopy);
}

#[test]
fn crash_after_staging_then_rerun() {
    crash_then_rerun(Point::ImportAfterStage);
}

#[test]
fn crash_between_rename_and_commit_then_rerun() {
    crash_then_rerun(Point::ImportAfterRename);
}

#[test]
fn crash_inside_the_transaction_then_rerun() {
    crash_then_rerun(Point::ImportBeforeCommit);
}

#[test]
fn crash_after_commit_then_rerun() {
    crash_then_rerun(Point::ImportAfterCommit);
}

#[test]
fn wait_reports_the_states_by_name() {
    // The embedded site stands in for SQL Server here: its rows are already Ready to install, so
    // --wait reads them once and stops. The polling itself is unit-tested with a fake site whose
    // states move (src/stages/import/wait.rs).
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let out = fx.import(&src, &["--wait", "--wait-timeout", "30"]);
    assert_ok(&out);
    let state = lines(&out)
        .into_iter()
        .find(|v| v["type"] == "state")
        .expect("a state line");
    assert_eq!(state["state_name"], "DOWNLOAD_SUCCESS");
    assert_eq!(state["console_text"], "Ready to install");
    assert_eq!(summary(&out)["wait"], "ready");
}

#[test]
fn wrapper_import_runs_the_same_code() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let out = fx
        .command("ServiceConnectionTool")
        .args(["-Import", "-UpdatePackSrc"])
        .arg(&src)
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &pack), "imported");
    assert!(stderr_of(&out).contains("INFO:"));
    assert_eq!(fx.state_of(&pack), Some(READY));
    let out = fx
        .command("ServiceConnectionTool")
        .args(["-import", "-updatepacksrc"])
        .arg(&src)
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &pack), "already_present");
    // Without a pinned key the wrapper refuses before touching anything.
    let out = fx
        .command("ServiceConnectionTool")
        .env_remove("SCT_TRUSTED_KEYS")
        .args(["-import", "-updatepacksrc"])
        .arg(&src)
        .output()
        .unwrap();
    assert_code(&out, ExitCode::Usage, "SCT_TRUSTED_KEYS");
}

#[test]
fn log_names_each_pack_outcome_as_cmtrace_entries() {
    let fx = Fixture::new();
    let ours = applicable("ours", 2000);
    let theirs = applicable("theirs", 2000);
    let src = fx.write_packs_signed(
        "UpdatePacks",
        1,
        &fx.key,
        None,
        &[(Uuid::new_v4(), &[&theirs]), (fx.hierarchy, &[&ours])],
    );
    let log = fx.env.path("import.log");
    let out = fx.import(&src, &["--log", log.to_str().unwrap(), "--quiet"]);
    assert_ok(&out);
    let entries = crate::operator::cmtrace_entries(&log);
    let text: Vec<&str> = entries.iter().map(|e| e.message.as_str()).collect();
    let guid = |p: &TestPack| p.pack.package_guid.to_string().to_uppercase();
    assert!(
        text.iter().any(
            |m| m.starts_with(&format!("INFO: Pack {} ours", guid(&ours)))
                && m.contains(": imported")
        ),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains(&guid(&theirs)) && m.contains("skipped_other_hierarchy")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|m| m.contains("1 imported")),
        "the summary is logged: {text:?}"
    );
}

#[test]
fn list_prints_a_table_on_request_and_json_when_piped() {
    let fx = Fixture::new();
    let pack = applicable("Configuration Manager 2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    assert_ok(&fx.import(&src, &[]));
    let out = fx
        .command("sct-import")
        .args(["--list", "--human"])
        .output()
        .unwrap();
    assert_ok(&out);
    let table = stdout_of(&out);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("NAME") && header.contains("STATE"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.contains(&pack.pack.package_guid.to_string().to_uppercase()))
        .unwrap_or_else(|| panic!("no row for the pack: {table}"));
    assert!(row.contains("Configuration Manager 2409") && row.contains("Ready to install"));
    assert!(table.trim_end().ends_with("2 update packages"), "{table}");
    let piped = fx.command("sct-import").arg("--list").output().unwrap();
    assert_ok(&piped);
    assert!(
        lines(&piped)
            .iter()
            .all(|l| l["schema"] == "sct.update-package.v1")
    );
}

/// Names on the medium are chosen by whoever had the USB drive: a stray file whose name holds a
/// line break and a whole forged CMTrace record, a terminal escape and a bidi override, among
/// 3,000 other strays. The refusal must stay one bounded record per line in the log, and one
/// plain line per message on stderr.
#[test]
fn hostile_stray_names_cannot_forge_log_records_or_flood_the_log() {
    let fx = Fixture::new();
    let pack = applicable("2503", 1_000);
    let dir = fx.write_packs("packs", 1, &[&pack]);
    let forged = "INFO: Imported every pack";
    let hostile = format!(
        "!x\n<![LOG[{forged}]LOG]!><time=\"10:00:00.000+000\" date=\"12-01-2026\" component=\"sct-import\" \
         context=\"\" type=\"1\" thread=\"1\" file=\"import.rs:1\">\r\u{1b}[2K\u{1b}[1A\u{202e}gpj.exe"
    );
    std::fs::write(dir.join(&hostile), b"x").unwrap();
    for n in 0..3_000 {
        std::fs::write(
            dir.join(format!("stray-file-with-a-long-name-{n:05}.bin")),
            b"",
        )
        .unwrap();
    }
    let log = fx.env.path("import.log");
    let out = fx.import(&dir, &["--log", log.to_str().unwrap()]);
    assert_exit!(out, Rejected);
    let stderr = stderr_of(&out);
    assert!(!stderr.contains(['\r', '\u{1b}', '\u{202e}']), "{stderr}");
    assert!(
        stderr.lines().all(|l| l.starts_with("sct-import:")),
        "every stderr line is the tool's own: {stderr}"
    );
    assert!(stderr.contains("and 2981 more"), "{stderr}");
    let text = std::fs::read_to_string(&log).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    for line in text.lines() {
        let entry = sct_testkit::cmtrace::parse_record(line)
            .unwrap_or_else(|e| panic!("`{line}` is not a CMTrace record: {e}"));
        assert_ne!(entry.message, forged, "a forged record got into the log");
    }
    assert_eq!(
        sct_testkit::cmtrace::parse_log(text).unwrap().len(),
        text.lines().count(),
        "one record per line"
    );
    assert!(
        text.contains(r"!x\n<![LOG[INFO: Imported every pack]LOG]! >"),
        "{text}"
    );
    assert!(
        text.len() < 64 * 1024,
        "{} bytes for one refusal",
        text.len()
    );
}

mod media;

/// `sct-import --status DIR` (and `--json`) after `lines` of `--status`: the line of `pack`.
fn status_line<'a>(lines: &'a [Value], pack: &TestPack) -> &'a Value {
    lines
        .iter()
        .find(|l| l["package_guid"] == pack.pack.package_guid.to_string())
        .unwrap_or_else(|| panic!("no status line for {}: {lines:#?}", pack.pack.name))
}

/// After an import that succeeds, every pack the site lists is ready: the imported ones with
/// their inbox folders complete against the catalog, the installed release installed.
#[test]
fn status_after_a_successful_import_shows_every_pack_ready() {
    let fx = Fixture::new();
    let update = applicable("Configuration Manager 2409", 3000);
    let mut hotfix = applicable("Hotfix for 2403", 1000);
    hotfix.pack.info.update_type = 2;
    let src = fx.write_packs("UpdatePacks", 3, &[&update, &hotfix]);
    assert_ok(&fx.import(&src, &[]));
    let before = fx.dump();
    let out = fx
        .command("sct-import")
        .args(["--status", "--json"])
        .arg(&src)
        .output()
        .unwrap();
    assert_ok(&out);
    let lines = lines(&out);
    assert_eq!(
        lines.len(),
        3,
        "the installed release and two packs: {lines:#?}"
    );
    for line in &lines {
        assert_eq!(line["schema"], "sct.pack-status.v1");
        assert_eq!(line["ready"], true, "{line}");
        assert!(line.get("why").is_none(), "{line}");
    }
    for pack in [&update, &hotfix] {
        let line = status_line(&lines, pack);
        assert_eq!(line["inbox"], "complete", "{line}");
        assert_eq!(line["console_text"], "Ready to install");
    }
    assert!(lines.iter().any(|l| l["state_name"] == "INSTALL_SUCCESS"));
    assert_eq!(fx.dump(), before, "--status changes nothing");
}

/// A pack with a file gone from its inbox folder, and one whose state the site has not picked
/// up: each is not ready, and says why; `-import -status` says the same.
#[test]
fn status_names_why_an_imported_pack_is_not_ready() {
    let fx = Fixture::new();
    let damaged = applicable("Configuration Manager 2409", 3000);
    let waiting = applicable("Hotfix for 2409", 1000);
    let src = fx.write_packs("UpdatePacks", 3, &[&damaged, &waiting]);
    assert_ok(&fx.import(&src, &[]));
    // A file of the first pack is deleted from the inbox (an antivirus, a cleanup script).
    let folder = fx
        .inbox()
        .join(damaged.pack.package_guid.to_string().to_uppercase());
    let gone = tree(&folder)
        .into_iter()
        .find(|p| folder.join(p).is_file())
        .unwrap();
    std::fs::remove_file(folder.join(&gone)).unwrap();
    // The second is back at "Available to download": the site has not taken it from the inbox.
    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    conn.execute(
        "UPDATE CM_UpdatePackages SET State = 327682 WHERE upper(PackageGuid) = ?1",
        [waiting.pack.package_guid.to_string().to_uppercase()],
    )
    .unwrap();
    drop(conn);

    let out = fx
        .command("sct-import")
        .args(["--status", "--json"])
        .arg(&src)
        .output()
        .unwrap();
    assert_ok(&out);
    let lines = lines(&out);
    let line = status_line(&lines, &damaged);
    assert_eq!(line["ready"], false, "{line}");
    assert_eq!(line["inbox"], "incomplete", "{line}");
    let why = line["why"].as_str().unwrap();
    let name = gone.rsplit(['/', '\\']).next().unwrap();
    assert!(
        why.starts_with("files missing") && why.contains(name),
        "{why}"
    );
    let line = status_line(&lines, &waiting);
    assert_eq!(line["ready"], false, "{line}");
    assert_eq!(line["inbox"], "complete", "{line}");
    let why = line["why"].as_str().unwrap();
    assert!(
        why.starts_with("state not yet picked up") && why.contains("APPLICABILITY_SUCCESS"),
        "{why}"
    );

    let mut wrapper = fx.command("ServiceConnectionTool");
    wrapper
        .args(["-Import", "-Status", "-json", "-UpdatePackSrc"])
        .arg(&src);
    let out = wrapper.output().unwrap();
    assert_ok(&out);
    let again = self::lines(&out);
    assert_eq!(again, lines);
}
