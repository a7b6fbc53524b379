//! The operator's round trip on real media (issue 14): what `-connect` calls done, `-import`
//! accepts — after a second connect with another mode, with file-manager litter on the drive, and
//! after the catalog expired during a long review. Plus every download mode after every other
//! mode into one folder, and the drive's root refused as `-updatepackdest` before any upload.

use crate::exit::assert_exit;
use crate::kit::{PackSpec, Service, TestServer, Trip, json_lines, read, stored};
use crate::support::{Env, stderr_of, stdout_of, tree};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

const MODES: [&str; 4] = ["latest", "all", "hotfix", "siteversion"];

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout_of(out),
        stderr_of(out)
    );
}

/// Three packs for a 2403 site: 2409 and 2503 (regular), and 2409's hotfix.
fn service(env: &Env) -> Service {
    let mut service = Service::new(env.path("service"));
    for (name, kind, full, min, max) in [
        (
            "2409",
            0,
            "5.00.9132.1000",
            "5.00.9106.1000",
            "5.00.9128.1999",
        ),
        (
            "2409-HFRU",
            2,
            "5.00.9132.1027",
            "5.00.9132.1000",
            "5.00.9132.1999",
        ),
        (
            "2503",
            0,
            "5.00.9135.1000",
            "5.00.9128.1000",
            "5.00.9132.1999",
        ),
    ] {
        service.add_pack(&PackSpec {
            name,
            kind,
            full,
            min,
            max,
            files: &[("payload.cab", 3000), ("Redist/readme.txt", 100)],
        });
    }
    service.publish(3);
    service
}

/// The packs `fetched.json` records for hierarchy A.
fn recorded(dest: &Path) -> BTreeSet<String> {
    let record: serde_json::Value =
        serde_json::from_slice(&read(&dest.join("fetched.json"))).unwrap();
    let entries = record["hierarchies"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{record}");
    entries[0]["packs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_uppercase())
        .collect()
}

#[test]
fn every_mode_after_every_other_mode_leaves_a_folder_that_verifies_with_both_selections() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer_a(&server.base);
    let key = service.public_key();
    let fetch = |dest: &str, mode: &str| {
        env.cmd("sct-fetch")
            .args(["--dest", dest, "--mode", mode, "--trusted-key", &key])
            .write_stdin(offer.clone())
            .output()
            .unwrap()
    };
    let verify = |dest: &str| {
        env.cmd("sct-verify")
            .args(["--json", "--trusted-key", &key, dest])
            .output()
            .unwrap()
    };
    let single: Vec<BTreeSet<String>> = MODES
        .iter()
        .map(|mode| {
            let dest = format!("single-{mode}");
            ok(&fetch(&dest, mode), mode);
            recorded(&env.path(&dest))
        })
        .collect();
    assert_eq!(single[0].len(), 1, "latest: 2503 only");
    assert_eq!(single[2].len(), 1, "hotfix: the 2409 hotfix only");
    for (a, first) in MODES.iter().enumerate() {
        for (b, second) in MODES.iter().enumerate() {
            let dest = format!("{first}-then-{second}");
            ok(&fetch(&dest, first), &dest);
            let again = fetch(&dest, second);
            ok(&again, &dest);
            let want: BTreeSet<String> = single[a].union(&single[b]).cloned().collect();
            assert_eq!(recorded(&env.path(&dest)), want, "{dest}");
            let summary = json_lines(&stdout_of(&again)).pop().unwrap();
            assert_eq!(summary["packs"], want.len(), "{dest}: {summary}");
            assert_eq!(summary["mode"], *second, "{dest}");
            let checked = verify(&dest);
            ok(&checked, &format!("{dest}: verify"));
            // Exactly the recorded packs' folders beside the folder's own three files.
            let top: BTreeSet<String> = std::fs::read_dir(env.path(&dest))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".json") && !n.ends_with(".sig"))
                .collect();
            assert_eq!(top, want, "{dest}");
        }
    }
}

#[test]
fn a_destination_that_is_not_a_pack_folder_of_its_own_is_refused_before_anything_is_sent() {
    let env = Env::new();
    let site = env.demo_site("ps1", &["--version", "5.00.9128.1000"]);
    let trip = Trip::start(&env);
    let (service, usb) = (&trip.service, trip.usb.clone());
    let wrapper = |args: &[&str]| trip.wrapper(&env, &site, args);
    ok(
        &wrapper(&["-prepare", "-usagedatadest", "usb/UsageData.cab"]),
        "prepare",
    );
    let before = tree(&usb);
    // The drive's root, beside UsageData.cab.
    let out = wrapper(&["-connect", "-usagedatasrc", "usb", "-updatepackdest", "usb"]);
    assert_exit!(out, Usage);
    let text = stderr_of(&out);
    assert!(text.contains("`UsageData.cab`"), "{text}");
    assert!(
        text.contains(&format!(
            "`{}`",
            crate::support::shown(&Path::new("usb").join("UpdatePacks"))
        )),
        "{text}"
    );
    assert_eq!(tree(&usb), before, "nothing written");
    assert!(stored(&service.root).is_empty(), "nothing uploaded");
    // The same for sct-fetch, and the remedy works.
    std::fs::create_dir(usb.join("UpdatePacks")).unwrap();
    std::fs::write(usb.join("UpdatePacks/notes.txt"), b"mine").unwrap();
    let out = wrapper(&[
        "-connect",
        "-usagedatasrc",
        "usb",
        "-updatepackdest",
        "usb/UpdatePacks",
    ]);
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("`notes.txt`"));
    std::fs::remove_file(usb.join("UpdatePacks/notes.txt")).unwrap();
    // Litter in the folder is no reason to refuse it.
    std::fs::write(usb.join("UpdatePacks/Thumbs.db"), b"x").unwrap();
    ok(
        &wrapper(&[
            "-connect",
            "-usagedatasrc",
            "usb",
            "-updatepackdest",
            "usb/UpdatePacks",
        ]),
        "connect",
    );
}

#[test]
fn a_fetch_never_calls_done_a_folder_that_import_would_refuse() {
    let env = Env::new();
    let service = service(&env);
    let server = TestServer::start(&service.root);
    let offer = service.offer_a(&server.base);
    let key = service.public_key();
    let fetch = || {
        env.cmd("sct-fetch")
            .args(["--dest", "packs", "--trusted-key", &key])
            .write_stdin(offer.clone())
            .output()
            .unwrap()
    };
    ok(&fetch(), "fetch");
    let packs = env.path("packs");
    let folder = recorded(&packs).into_iter().next().unwrap();
    // A file dropped into a pack folder, and a pack folder no catalog accounts for.
    std::fs::write(packs.join(&folder).join("extra.dll"), b"MZ").unwrap();
    let unknown = uuid::Uuid::new_v4().to_string().to_uppercase();
    std::fs::create_dir(packs.join(&unknown)).unwrap();
    let out = fetch();
    assert_exit!(out, Rejected);
    let text = stderr_of(&out);
    assert!(text.contains(&format!("`{folder}/extra.dll`")), "{text}");
    assert!(text.contains(&format!("`{unknown}`")), "{text}");
    assert!(text.contains("import would refuse"), "{text}");
    assert_eq!(json_lines(&stdout_of(&out)).pop().unwrap()["ok"], false);
    // Removing them is the remedy; litter is never a reason.
    std::fs::remove_file(packs.join(&folder).join("extra.dll")).unwrap();
    std::fs::remove_dir(packs.join(&unknown)).unwrap();
    std::fs::write(packs.join(&folder).join("desktop.ini"), b"x").unwrap();
    ok(&fetch(), "fetch after the remedy");
}

/// A time `days` from now, for the debug builds' test clock (`SCT_TEST_NOW`).
fn days_from_now(days: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days)).to_string()
}

/// Prepare, connect, connect again with another mode, litter from a file manager, then import
/// after the catalog expired during the review — with the wrapper's flags only.
#[test]
fn prepare_connect_twice_litter_and_an_expired_catalog_still_import() {
    if crate::support::needs_debug_build() {
        return;
    }
    let env = Env::new();
    let (site, install) = env.installed_site("ps1", "install", &["--version", "5.00.9128.1000"]);
    let trip = Trip::start(&env);
    let (service, server, usb) = (&trip.service, &trip.server, &trip.usb);
    let wrapper = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = server.client(&env, "ServiceConnectionTool", service);
        cmd.env("SCT_SITE", &site).args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let connect = |mode: Option<&str>| {
        let mut args = vec![
            "-connect",
            "-usagedatasrc",
            "usb",
            "-updatepackdest",
            "usb/UpdatePacks",
        ];
        args.extend(mode);
        wrapper(&args, &[])
    };

    ok(
        &wrapper(&["-prepare", "-usagedatadest", "usb/UsageData.cab"], &[]),
        "prepare",
    );
    ok(&connect(None), "connect");
    let packs = usb.join("UpdatePacks");
    let latest = recorded(&packs);
    // Another day, another mode: the hotfixes too.
    ok(&connect(Some("-downloadhotfix")), "connect -downloadhotfix");
    let both = recorded(&packs);
    assert!(
        both.is_superset(&latest) && both.len() > latest.len(),
        "{latest:?} then {both:?}"
    );

    // The drive crosses a desk: Explorer and Finder leave their marks.
    let first = both.iter().next().unwrap().clone();
    for file in [
        "desktop.ini".to_owned(),
        "Thumbs.db".to_owned(),
        ".DS_Store".to_owned(),
        format!("._{first}"),
        format!("{first}/Thumbs.db"),
        format!("{first}/._{first}.cab"),
    ] {
        std::fs::write(packs.join(file), b"litter").unwrap();
    }
    std::fs::create_dir(packs.join("System Volume Information")).unwrap();
    std::fs::create_dir(packs.join(".Spotlight-V100")).unwrap();

    // The catalog (valid 30 days) waited 200 days in review: beyond the default 90-day grace.
    let late = wrapper(
        &["-import", "-updatepacksrc", "usb/UpdatePacks"],
        &[("SCT_TEST_NOW", &days_from_now(200))],
    );
    assert_exit!(late, Rejected);
    assert!(
        stderr_of(&late).contains("SCT_IMPORT_GRACE_DAYS"),
        "{}",
        stderr_of(&late)
    );
    let offline = install.join("EasySetupPayload").join("offline");
    assert!(tree(&offline).iter().all(|p| p.starts_with('.')));

    // 60 days later: expired, within the grace.
    let import = wrapper(
        &["-import", "-updatepacksrc", "usb/UpdatePacks"],
        &[("SCT_TEST_NOW", &days_from_now(60))],
    );
    ok(&import, "import");
    let text = stderr_of(&import);
    assert!(text.contains("grace after expiry"), "{text}");
    // The log keeps it for the site's audit: an expired catalog went in, within the grace.
    let log = std::fs::read_to_string(env.logs().join("ServiceConnectionTool.log")).unwrap();
    assert!(log.contains("grace after expiry"), "{log}");
    assert_eq!(text.matches("ignored `").count(), 8, "{text}");
    let lines = json_lines(&stdout_of(&import));
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["failed"], 0, "{summary}");
    let imported: BTreeSet<String> = lines
        .iter()
        .filter(|l| l["outcome"] == "imported")
        .map(|l| l["package_guid"].as_str().unwrap().to_uppercase())
        .collect();
    // Every pack of both connects was considered; those that apply to a 2403 site went in.
    assert_eq!(lines.len() - 1, both.len(), "{lines:?}");
    assert!(imported.is_superset(&latest), "{imported:?} {latest:?}");
    let inbox: BTreeSet<String> = std::fs::read_dir(&offline)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(inbox, imported);
    let copied = tree(&offline);
    assert!(
        !copied
            .iter()
            .any(|p| p.ends_with("Thumbs.db") || p.contains("._") || p.ends_with(".DS_Store")),
        "{copied:?}"
    );
    // Rerun: nothing changes.
    let again = wrapper(
        &["-import", "-updatepacksrc", "usb/UpdatePacks"],
        &[("SCT_TEST_NOW", &days_from_now(60))],
    );
    ok(&again, "import again");
    assert_eq!(tree(&offline), copied);
}

/// An operator with a 2403 site and the trip's service, running the wrapper's phases with the
/// drive at `usb/` and the update pack folder at `usb/UpdatePacks`.
struct Operator {
    env: Env,
    site: String,
    install: std::path::PathBuf,
    trip: Trip,
}

/// Bytes of the one pack a 2403 site needs, as the trip's service publishes it (four files).
const PACK_BYTES: u64 = 33_039;

impl Operator {
    fn new() -> Self {
        let env = Env::new();
        let (site, install) =
            env.installed_site("ps1", "install", &["--version", "5.00.9128.1000"]);
        let trip = Trip::start(&env);
        Self {
            env,
            site,
            install,
            trip,
        }
    }

    fn usb(&self) -> &Path {
        &self.trip.usb
    }

    fn packs(&self) -> std::path::PathBuf {
        self.usb().join("UpdatePacks")
    }

    fn prepare(&self) {
        let out = self.trip.wrapper(
            &self.env,
            &self.site,
            &["-prepare", "-usagedatadest", "usb/UsageData.cab"],
        );
        ok(&out, "prepare");
    }

    /// `-connect -json`; its output and closing summary.
    fn connect(&self) -> (Output, serde_json::Value) {
        let args = [
            "-connect",
            "-usagedatasrc",
            "usb",
            "-updatepackdest",
            "usb/UpdatePacks",
            "-json",
        ];
        let out = self.trip.wrapper(&self.env, &self.site, &args);
        let summary = json_lines(&stdout_of(&out)).pop().unwrap_or_default();
        (out, summary)
    }

    /// `-import` takes the folder: nothing fails, and each pack imported is in the inbox. Returns
    /// the packs imported.
    fn import_accepts_the_folder(&self) -> BTreeSet<String> {
        let args = ["-import", "-updatepacksrc", "usb/UpdatePacks", "-json"];
        let import = self.trip.wrapper(&self.env, &self.site, &args);
        ok(&import, "import");
        let lines = json_lines(&stdout_of(&import));
        assert_eq!(lines.last().unwrap()["failed"], 0, "{lines:?}");
        let imported: BTreeSet<String> = lines
            .iter()
            .filter(|l| l["outcome"] == "imported")
            .map(|l| l["package_guid"].as_str().unwrap().to_uppercase())
            .collect();
        let offline = self.install.join("EasySetupPayload").join("offline");
        assert!(!imported.is_empty(), "{lines:?}");
        for guid in &imported {
            assert!(offline.join(guid).is_dir(), "{guid} is not in the inbox");
        }
        imported
    }

    /// Bytes of pack files, whole or `.part`, in the update pack folder.
    fn pack_bytes_on_the_drive(&self) -> u64 {
        let packs = self.packs();
        tree(&packs)
            .iter()
            .filter(|p| p.contains(std::path::MAIN_SEPARATOR))
            .map(|p| packs.join(p))
            .filter(|p| p.is_file())
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    }
}

/// The trip on a real file system for removable media: the drive is exFAT (as Windows formats a
/// large USB drive: no Unix modes, no links, names without case), and it is unplugged and plugged
/// in again between the phases. What `-connect` calls done is on the medium, a second connect
/// re-checks it there, and `-import` accepts it.
#[test]
fn the_round_trip_holds_on_an_exfat_drive_unplugged_between_phases() {
    let op = Operator::new();
    let image = op.env.path("usb.img");
    let Some(drive) = crate::support::Drive::exfat(&image, op.usb(), 64, "4K") else {
        eprintln!("SKIPPED: an exFAT drive needs root, a loop device, exfatprogs and exfat-fuse");
        return;
    };
    op.prepare();
    drive.replug();
    let (out, _) = op.connect();
    ok(&out, "connect");
    drive.replug();
    let fetched = recorded(&op.packs());
    assert!(!fetched.is_empty());
    // It is the drive: names there have no case.
    assert!(op.usb().join("updatepacks").join("catalog.json").is_file());
    // Connected again the next day: every file is already on the drive and verified there.
    let (again, summary) = op.connect();
    ok(&again, "connect again");
    assert_eq!(summary["downloaded"], 0, "{summary}");
    assert_eq!(summary["present"], fetched.len(), "{summary}");
    drive.replug();
    let verify = op
        .env
        .cmd("sct-verify")
        .arg("usb/UpdatePacks")
        .args(["--trusted-key", &op.trip.service.public])
        .output()
        .unwrap();
    ok(&verify, "verify");
    let imported = op.import_accepts_the_folder();
    assert!(imported.is_subset(&fetched), "{imported:?} {fetched:?}");
}

/// `-connect` with the update pack folder on a drive (a tmpfs) too small for what the selected
/// packs still lack: refused before any download, with both numbers, and nothing written there;
/// with room, the same command completes and `-import` accepts the folder.
#[test]
fn a_drive_too_small_for_the_packs_is_refused_before_anything_is_downloaded() {
    let op = Operator::new();
    let Some(drive) = crate::support::Mount::tmpfs(&op.packs(), "16k", false) else {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    op.prepare();
    let (out, _) = op.connect();
    assert_exit!(out, Io);
    let text = stderr_of(&out);
    let needed =
        format!("bytes free, but the selected packs need at least {PACK_BYTES} bytes more");
    assert!(
        text.contains(&needed) && text.contains("nothing was downloaded"),
        "{text}"
    );
    assert_eq!(tree(&op.packs()), Vec::<String>::new());

    drive.resize("4m");
    let (done, summary) = op.connect();
    ok(&done, "connect with room on the drive");
    assert_eq!(summary["transferred"], PACK_BYTES, "{summary}");
    op.import_accepts_the_folder();
}

/// The drive fills up during `-connect`: an exFAT drive of 64 KiB clusters with room for the
/// pack's bytes but not for its files and folders (each takes a cluster, as on any large drive).
/// The run fails with the disk's own words and exit 3, and nothing is lost: once there is room,
/// the next connect fetches only the bytes still missing (the partial file is resumed) and
/// `-import` accepts the folder.
#[test]
fn a_drive_that_fills_up_during_connect_loses_nothing_and_the_next_connect_completes() {
    let op = Operator::new();
    let image = op.env.path("usb.img");
    let Some(_drive) = crate::support::Drive::exfat(&image, op.usb(), 4, "64K") else {
        eprintln!("SKIPPED: an exFAT drive needs root, a loop device, exfatprogs and exfat-fuse");
        return;
    };
    op.prepare();
    // Four clusters left: the pack folder, its GUID folder, its Redist folder and one file.
    let filler = op.usb().join("filler.bin");
    let free = sct::core::space::available(op.usb()).unwrap();
    std::fs::write(&filler, vec![0u8; (free - 4 * 65536) as usize]).unwrap();
    assert_eq!(sct::core::space::available(op.usb()).unwrap(), 4 * 65536);

    let (full, first) = op.connect();
    assert_exit!(full, Io);
    let text = stderr_of(&full);
    let why = crate::support::os_words("No space left on device", "Disk full");
    assert!(
        text.contains(why) && text.contains("run again to resume"),
        "{text}"
    );
    assert_eq!(first["ok"], false, "{first}");
    // Everything left of the pack on the drive came over the network in that run, and counts.
    let kept = op.pack_bytes_on_the_drive();
    assert!(kept > 0);
    assert!(
        first["transferred"].as_u64().unwrap() >= kept,
        "{kept} bytes kept: {first}"
    );

    // The operator makes room; the next connect completes with what the drive lacked.
    std::fs::remove_file(&filler).unwrap();
    let (done, summary) = op.connect();
    ok(&done, "connect with room on the drive");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(
        summary["transferred"].as_u64().unwrap(),
        PACK_BYTES - kept,
        "only what the drive lacked came again ({kept} of {PACK_BYTES} bytes kept)"
    );
    op.import_accepts_the_folder();
}
