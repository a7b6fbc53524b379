//! What the carried drive goes through before import (issue 14): file-manager litter, a long
//! security review past the catalog's expiry, the drive's root given instead of its update pack
//! folder, a GUID already taken in the inbox, and the inbox's housekeeping.

use super::*;
use crate::exit::assert_exit;

/// A catalog signed now, valid from `issued_days_ago` for `valid_days`.
fn resign(fx: &Fixture, src: &Path, issued_days_ago: i64, valid_days: i64) {
    let text = std::fs::read(src.join(catalog::CATALOG_FILE)).unwrap();
    let mut cat: Catalog = serde_json::from_slice(&text).unwrap();
    let now = jiff::Timestamp::now();
    let days = |n: i64| jiff::SignedDuration::from_hours(24 * n);
    cat.issued_at = now - days(issued_days_ago);
    cat.expires_at = cat.issued_at + days(valid_days);
    let (bytes, sig) = catalog::sign(&cat, &[&fx.key]).unwrap();
    std::fs::write(src.join(catalog::CATALOG_FILE), bytes).unwrap();
    std::fs::write(src.join(catalog::SIGNATURE_FILE), sig).unwrap();
}

#[test]
fn litter_is_ignored_with_a_note_and_never_copied() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let folder = pack.pack.package_guid.to_string().to_uppercase();
    // What Explorer and Finder leave behind, in the case each writes it (Windows names in any case).
    for file in [
        "desktop.ini".to_owned(),
        "THUMBS.DB".to_owned(),
        ".DS_Store".to_owned(),
        format!("._{folder}"),
        format!("{folder}/Thumbs.db"),
        format!("{folder}/._{folder}.cab"),
        format!("{folder}/Redist/.DS_Store"),
    ] {
        std::fs::write(src.join(file), b"litter").unwrap();
    }
    for dir in [
        "System Volume Information",
        "$RECYCLE.BIN",
        ".Trashes",
        ".fseventsd",
        ".Spotlight-V100",
    ] {
        std::fs::create_dir(src.join(dir)).unwrap();
        std::fs::write(src.join(dir).join("IndexerVolumeGuid"), b"x").unwrap();
    }
    // A litter name is never followed: a link to a secret is neither read nor copied.
    let secret = fx.env.path("secret");
    std::fs::write(&secret, b"secret").unwrap();
    std::os::unix::fs::symlink(&secret, src.join(format!("{folder}/desktop.ini"))).unwrap();

    let verify = fx
        .command("sct-verify")
        .arg(&src)
        .arg("--json")
        .output()
        .unwrap();
    assert_ok(&verify);
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(report["ignored"].as_array().unwrap().len(), 13, "{report}");
    assert_eq!(stderr_of(&verify).matches("ignored `").count(), 13);
    let human = fx
        .command("sct-verify")
        .arg(&src)
        .arg("--human")
        .output()
        .unwrap();
    assert_ok(&human);
    assert!(
        stdout_of(&human).contains("ignored     .DS_Store"),
        "{}",
        stdout_of(&human)
    );

    let out = fx.import(&src, &[]);
    assert_ok(&out);
    assert_eq!(outcome_of(&out, &pack), "imported");
    assert_eq!(stderr_of(&out).matches("ignored `").count(), 13);
    assert!(stderr_of(&out).contains("ignored `$RECYCLE.BIN`"));
    let copied = tree(&fx.inbox().join(&folder));
    assert_eq!(
        copied,
        vec![
            format!("{folder}.cab"),
            "Redist".to_owned(),
            "Redist/readme.txt".to_owned(),
        ]
    );
}

#[test]
fn near_misses_of_litter_names_are_still_refused() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let before = fx.dump();
    // Case matters for the macOS names; Windows names must match whole.
    for name in [
        ".ds_store",
        "desktop.ini.bak",
        "._",
        "Thumbs.db.lnk",
        "notes.txt",
    ] {
        let src = fx.write_packs(&format!("UpdatePacks-{}", name.len()), 1, &[&pack]);
        std::fs::write(src.join(name), b"x").unwrap();
        let out = fx.import(&src, &[]);
        assert_code(
            &out,
            ExitCode::Rejected,
            &format!("unexpected entry `{name}`"),
        );
        std::fs::remove_dir_all(&src).unwrap();
    }
    assert_nothing_imported(&fx, &before);
}

#[test]
fn expired_catalog_imports_within_the_grace_and_the_refusal_names_the_setting() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    // Issued 70 days ago, valid for 30: expired 40 days ago, within the default 90-day grace.
    resign(&fx, &src, 70, 30);
    let before = fx.dump();
    // Strict when the grace is switched off, by flag, environment or sct.toml.
    let strict = fx.import(&src, &["--expiry-grace-days", "0"]);
    assert_code(&strict, ExitCode::Rejected, "--expiry-grace-days");
    assert!(stderr_of(&strict).contains("SCT_IMPORT_GRACE_DAYS"));
    assert!(stderr_of(&strict).contains("import_grace_days"));
    let strict = fx.import_with(&src, &[], &[("SCT_IMPORT_GRACE_DAYS", "30")]);
    assert_code(&strict, ExitCode::Rejected, "beyond import's 30-day grace");
    let config = fx.env.path("grace.toml");
    std::fs::write(&config, "import_grace_days = 10\n").unwrap();
    let strict = fx.import_with(&src, &[], &[("SCT_CONFIG", config.to_str().unwrap())]);
    assert_code(&strict, ExitCode::Rejected, "beyond import's 10-day grace");
    assert_nothing_imported(&fx, &before);
    // The flag beats the environment.
    let too_long = fx.import_with(&src, &["--expiry-grace-days", "400"], &[]);
    assert_code(&too_long, ExitCode::Usage, "365");
    let out = fx.import_with(
        &src,
        &["--expiry-grace-days", "45"],
        &[("SCT_IMPORT_GRACE_DAYS", "0")],
    );
    assert_ok(&out);
    assert!(
        stderr_of(&out).contains("40 days ago"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(outcome_of(&out, &pack), "imported");
}

#[test]
fn grace_never_lets_an_older_catalog_in() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let newer = fx.write_packs("Newer", 5, &[&pack]);
    assert_ok(&fx.import(&newer, &[]));
    let older = fx.write_packs("Older", 4, &[&pack]);
    resign(&fx, &older, 40, 30);
    let out = fx.import(&older, &[]);
    assert_code(&out, ExitCode::Rejected, "rollback refused");
}

#[test]
fn drive_root_instead_of_its_update_pack_folder_names_the_folder() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let usb = fx.env.path("usb");
    std::fs::create_dir(&usb).unwrap();
    std::fs::write(usb.join("UsageData.cab"), b"cab").unwrap();
    let src = fx.write_packs("usb/UpdatePacks", 1, &[&pack]);
    let before = fx.dump();
    let out = fx.import(&usb, &[]);
    assert_code(
        &out,
        ExitCode::Usage,
        &format!("`{}` has one", crate::support::shown(&src)),
    );
    assert!(stderr_of(&out).contains("import that folder instead"));
    // The wrapper says the same.
    let out = fx
        .command("ServiceConnectionTool")
        .args(["-import", "-updatepacksrc"])
        .arg(&usb)
        .output()
        .unwrap();
    assert_code(&out, ExitCode::Usage, "UpdatePacks");
    assert_nothing_imported(&fx, &before);
    // A folder with no catalog anywhere below keeps the plain refusal.
    let empty = fx.env.path("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_code(
        &fx.import(&empty, &[]),
        ExitCode::Rejected,
        "catalog.json` is missing",
    );
}

#[test]
fn a_guid_taken_in_the_inbox_comes_with_a_remedy() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    let squatter = fx
        .inbox()
        .join(pack.pack.package_guid.to_string().to_uppercase());
    std::fs::create_dir_all(&squatter).unwrap();
    std::fs::write(squatter.join("something.cab"), "another pack").unwrap();
    let out = fx.import(&src, &[]);
    assert_code(&out, ExitCode::Rejected, "never overwritten");
    let reason = lines(&out)
        .into_iter()
        .find(|v| v["type"] == "pack")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains(&format!(
            "move `{}` out of the inbox",
            crate::support::shown(&squatter)
        )),
        "{reason}"
    );
    assert!(reason.contains("sct-import inbox list"), "{reason}");
}

/// Sets the site's version, as an upgrade would: import takes only packs newer than the site, so
/// a test that needs the site's current version in the inbox imports it at an older version first.
fn set_site_version(fx: &Fixture, version: &str) {
    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    conn.execute("UPDATE Sites SET Version = ?1", [version])
        .unwrap();
    conn.execute(
        "UPDATE SCT_HierarchySettings SET FullVersion = ?1",
        [version],
    )
    .unwrap();
}

/// Sets a pack's state as the site's own components would.
fn set_state(fx: &Fixture, pack: &TestPack, state: i64) {
    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    let n = conn
        .execute(
            "UPDATE CM_UpdatePackages SET State = ?1 WHERE upper(PackageGuid) = ?2",
            rusqlite::params![state, pack.pack.package_guid.to_string().to_uppercase()],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn inbox_lines(fx: &Fixture, args: &[&str]) -> (Output, Vec<Value>) {
    let out = fx
        .command("sct-import")
        .arg("inbox")
        .args(args)
        .output()
        .unwrap();
    let lines = lines(&out);
    (out, lines)
}

fn status_of(lines: &[Value], pack: &TestPack) -> (String, Option<String>) {
    let line = lines
        .iter()
        .find(|v| v["package_guid"] == pack.pack.package_guid.to_string())
        .unwrap_or_else(|| panic!("no line for {}: {lines:?}", pack.pack.name));
    assert_eq!(line["schema"], "sct.inbox.v1");
    (
        line["status"].as_str().unwrap().to_owned(),
        line["action"].as_str().map(str::to_owned),
    )
}

#[test]
fn inbox_housekeeping_removes_superseded_packs_only() {
    let fx = Fixture::new();
    // The site runs 5.00.9128.1000: `newer` is still needed; the other two are not newer.
    let newer = applicable("2409", 100);
    let installed = test_pack("2403", "5.00.9106.1000", "5.00.9128.1000", 100);
    let installing = test_pack("2403 hotfix", "5.00.9106.1000", "5.00.9128.1000", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&newer, &installed, &installing]);
    set_site_version(&fx, "5.00.9106.1000");
    assert_ok(&fx.import(&src, &[]));
    set_site_version(&fx, "5.00.9128.1000");
    set_state(&fx, &installed, 196_612);
    set_state(&fx, &installing, 196_609);
    let unknown = fx.inbox().join(Uuid::new_v4().to_string().to_uppercase());
    std::fs::create_dir(&unknown).unwrap();
    std::fs::write(unknown.join("x.cab"), b"x").unwrap();
    let before = tree(&fx.inbox());

    let (out, listed) = inbox_lines(&fx, &["list"]);
    assert_ok(&out);
    assert_eq!(status_of(&listed, &newer).0, "needed");
    assert_eq!(status_of(&listed, &installed).0, "superseded");
    assert_eq!(status_of(&listed, &installing).0, "installing");
    let last = listed.last().unwrap();
    assert_eq!(
        (
            last["type"].as_str(),
            last["packs"].as_u64(),
            last["unregistered"].as_u64()
        ),
        (Some("summary"), Some(4), Some(1))
    );

    let (out, planned) = inbox_lines(&fx, &["remove", "--superseded", "--dry-run"]);
    assert_ok(&out);
    assert_eq!(
        status_of(&planned, &installed).1.as_deref(),
        Some("would_remove")
    );
    assert_eq!(status_of(&planned, &installing).1, None);
    assert_eq!(tree(&fx.inbox()), before);

    // Removing needs --superseded: nothing else can be removed.
    let out = fx
        .command("sct-import")
        .args(["inbox", "remove"])
        .output()
        .unwrap();
    assert_exit!(out, Usage);

    let (out, removed) = inbox_lines(&fx, &["remove", "--superseded"]);
    assert_ok(&out);
    assert_eq!(
        status_of(&removed, &installed).1.as_deref(),
        Some("removed")
    );
    assert_eq!(removed.last().unwrap()["removed"], 1);
    let guid = |p: &TestPack| p.pack.package_guid.to_string().to_uppercase();
    assert!(!fx.inbox().join(guid(&installed)).exists());
    for kept in [&newer, &installing] {
        assert!(fx.pack_complete(kept), "{} was touched", kept.pack.name);
    }
    assert!(unknown.join("x.cab").is_file());
    // Nothing half-removed is left, and a rerun finds nothing more to remove.
    assert!(
        !tree(&fx.inbox())
            .iter()
            .any(|p| p.starts_with(".sct-staging")),
        "{:?}",
        tree(&fx.inbox())
    );
    let (out, again) = inbox_lines(&fx, &["remove", "--superseded"]);
    assert_ok(&out);
    assert_eq!(again.last().unwrap()["removed"], 0);
}

#[test]
fn a_removal_killed_midway_never_leaves_half_a_pack_and_the_next_import_tidies_up() {
    if crate::support::needs_debug_build() {
        return;
    }
    let fx = Fixture::new();
    let installed = test_pack("2403", "5.00.9106.1000", "5.00.9128.1000", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&installed]);
    set_site_version(&fx, "5.00.9106.1000");
    assert_ok(&fx.import(&src, &[]));
    set_site_version(&fx, "5.00.9128.1000");
    set_state(&fx, &installed, 196_612);
    let out = fx
        .command("sct-import")
        .args(["inbox", "remove", "--superseded"])
        .env(
            sct::core::fault::ENV_FAULT,
            sct::core::fault::Point::InboxAfterRenameAside.name(),
        )
        .output()
        .unwrap();
    assert!(
        crate::support::killed_at_fault(&out.status),
        "{:?}: {}",
        out.status,
        stderr_of(&out)
    );
    let folder = installed.pack.package_guid.to_string().to_uppercase();
    assert!(
        !fx.inbox().join(&folder).exists(),
        "half a pack under its GUID"
    );
    let left: Vec<String> = tree(&fx.inbox())
        .into_iter()
        .filter(|p| p.starts_with(".sct-staging.removing.") && !p.contains('/'))
        .collect();
    assert_eq!(left.len(), 1, "{:?}", tree(&fx.inbox()));
    // The next import removes the leftover under the inbox lock.
    let again = fx.import(&src, &[]);
    assert_ok(&again);
    assert!(
        stderr_of(&again).contains("left by an interrupted import"),
        "{}",
        stderr_of(&again)
    );
    assert!(
        !tree(&fx.inbox())
            .iter()
            .any(|p| p.starts_with(".sct-staging"))
    );
}

#[test]
fn litter_in_an_imported_pack_folder_does_not_make_it_a_different_pack() {
    let fx = Fixture::new();
    let pack = applicable("2409", 100);
    let src = fx.write_packs("UpdatePacks", 1, &[&pack]);
    assert_ok(&fx.import(&src, &[]));
    // Someone browsed the inbox with Explorer, and a Mac user with Finder.
    let folder = fx
        .inbox()
        .join(pack.pack.package_guid.to_string().to_uppercase());
    std::fs::write(folder.join("Thumbs.db"), b"x").unwrap();
    std::fs::create_dir(folder.join(".Spotlight-V100")).unwrap();
    std::fs::write(folder.join(".Spotlight-V100/store.db"), b"x").unwrap();
    let again = fx.import(&src, &[]);
    assert_ok(&again);
    assert_eq!(outcome_of(&again, &pack), "already_present");
    // Anything else still makes it a different pack.
    std::fs::write(folder.join("other.dll"), b"MZ").unwrap();
    assert_code(
        &fx.import(&src, &[]),
        ExitCode::Rejected,
        "never overwritten",
    );
}
