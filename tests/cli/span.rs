//! sct-span: a download laid out on volumes of 600 KiB, so that one pack is split at a file
//! boundary and one file into parts; each volume within the size and verifying alone, a
//! tampered part refused naming the volume and the part, packs imported volume by volume in any
//! order (split ones when their last part arrives), and kills while parts are staged or joined.

use crate::exit::assert_exit;
use crate::kit::{TestPack, test_pack, write_pack_folder};
use crate::support::{Env, identity, stderr_of, stdout_of, tree};
use sct::core::fault::{ENV_FAULT, Point};
use sct::core::signing::PrivateKey;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use uuid::Uuid;

const SITE_VERSION: &str = "5.00.9128.1000";
/// 600 KiB: the size the acceptance test names.
const VOLUME: u64 = 600 * 1024;

/// A `-downloadall` folder `packs/` of four packs for one hierarchy: two small, one of 300 KB,
/// and one whose 1.5 MB payload is larger than a volume (so the pack and the file are split).
struct Download {
    env: Env,
    key: PrivateKey,
    hierarchy: Uuid,
    packs: Vec<TestPack>,
}

impl Download {
    fn new() -> Self {
        let env = Env::new();
        let key = PrivateKey::generate();
        let hierarchy = Uuid::new_v4();
        let packs: Vec<TestPack> = [
            ("small", 20_000),
            ("medium", 300_000),
            ("large", 1_500_000),
            ("tiny", 10),
        ]
        .into_iter()
        .map(|(name, size)| test_pack(name, "5.00.9106.1000", "5.00.9132.1009", size))
        .collect();
        let list: Vec<&TestPack> = packs.iter().collect();
        write_pack_folder(
            &env.path("packs"),
            7,
            &key,
            None,
            &[(hierarchy, &list)],
            SITE_VERSION,
        );
        Self {
            env,
            key,
            hierarchy,
            packs,
        }
    }

    fn run(&self, bin: &str, args: &[&str]) -> Output {
        self.env
            .cmd(bin)
            .env("SCT_TRUSTED_KEYS", self.key.public().to_string())
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs sct-span over `packs/` into `volumes/`, expecting success; returns its plan.
    fn span(&self, extra: &[&str]) -> Value {
        let size = VOLUME.to_string();
        let args = [
            &["packs", "--volume-size", "600KiB", "--out", "volumes"][..],
            extra,
        ]
        .concat();
        let out = self.run("sct-span", &args);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let plan: Value = serde_json::from_str(&stdout_of(&out)).expect("a plan");
        assert_eq!(plan["schema"], "sct.span.v1");
        assert_eq!(plan["volume_size"].to_string(), size);
        plan
    }

    fn volume(&self, name: &str) -> PathBuf {
        self.env.path("volumes").join(name)
    }

    fn verify(&self, name: &str) -> Output {
        let volume = format!("volumes/{name}");
        self.run("sct-verify", &[volume.as_str()])
    }

    fn large(&self) -> &TestPack {
        &self.packs[2]
    }
}

fn names(plan: &Value) -> Vec<String> {
    plan["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Bytes of every file under `dir`.
fn file_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            file_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

#[test]
fn each_volume_is_within_the_size_and_verifies_alone() {
    let download = Download::new();
    let plan = download.span(&[]);
    let names = names(&plan);
    assert!(names.len() >= 3, "{plan}");
    let large = download
        .large()
        .pack
        .package_guid
        .to_string()
        .to_uppercase();
    let mut split_parts = 0;
    for (index, name) in names.iter().enumerate() {
        assert_eq!(name, &format!("Volume{:02}", index + 1));
        let dir = download.volume(name);
        let bytes = file_bytes(&dir);
        assert!(bytes <= VOLUME, "{name} holds {bytes} bytes");
        assert_eq!(plan["volumes"][index]["bytes"], bytes, "{name}");
        let out = download.verify(name);
        assert!(out.status.success(), "{name}: {}", stderr_of(&out));
        let report: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
        assert_eq!(report["ok"], true, "{report}");
        assert_eq!(report["volume"]["volume"], index + 1);
        assert_eq!(report["volume"]["volumes"], names.len());
        for part in report["volume"]["parts"].as_array().unwrap() {
            assert!(part["name"].as_str().unwrap().starts_with(&large), "{part}");
            split_parts += 1;
            if part["of"] == 1 {
                // A whole file of the split pack is checked against the signed catalog here.
                assert_eq!(part["state"], "confirmed", "{part}");
            } else {
                assert_eq!(part["state"], "unconfirmed", "{part}");
                assert!(!report["volume"]["needs"].as_array().unwrap().is_empty());
            }
        }
    }
    // The 1.5 MB payload in three parts, the pack's readme as a whole file on its own.
    assert_eq!(split_parts, 4, "{plan}");
    let small = &download.packs[0].pack.package_guid.to_string();
    assert!(plan["volumes"].to_string().contains(small.as_str()));
}

#[test]
fn a_dry_run_prints_the_same_plan_and_writes_nothing() {
    let download = Download::new();
    let planned = download.span(&["--dry-run"]);
    assert_eq!(planned["dry_run"], true);
    assert!(!download.env.path("volumes").exists());
    let written = download.span(&[]);
    assert_eq!(planned["volumes"], written["volumes"]);
}

#[test]
fn a_tampered_part_is_refused_naming_the_volume_and_the_part() {
    let download = Download::new();
    let plan = download.span(&[]);
    let (index, part) = plan["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find_map(|(i, v)| {
            let parts = v["parts"].as_array().unwrap();
            parts
                .iter()
                .find(|p| p.as_str().unwrap().ends_with(".002"))
                .map(|p| (i, p.as_str().unwrap().to_owned()))
        })
        .expect("a second part");
    let name = names(&plan)[index].clone();
    let path = download.volume(&name).join(&part);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let out = download.verify(&name);
    assert_exit!(out, Rejected);
    let report: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(report["ok"], false);
    let stderr = stderr_of(&out);
    let said = format!("volume {}: part `{part}`", index + 1);
    assert!(stderr.contains(&said), "{stderr}");
    assert!(report.to_string().contains(&said), "{report}");
}

#[test]
fn a_whole_file_of_a_split_pack_is_checked_against_the_signed_hash() {
    let download = Download::new();
    let plan = download.span(&[]);
    let large = download
        .large()
        .pack
        .package_guid
        .to_string()
        .to_uppercase();
    let readme = format!("{large}/Redist/readme.txt.001");
    let index = plan["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|v| v["parts"].to_string().contains(&readme))
        .expect("the readme travels whole");
    let name = names(&plan)[index].clone();
    // Both the part and its record changed alike: the record agrees, the signed catalog does not.
    let path = download.volume(&name).join(&readme);
    let forged = b"forged readme\n".to_vec();
    std::fs::write(&path, &forged).unwrap();
    let record_path = download.volume(&name).join("volume.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    for part in record["parts"].as_array_mut().unwrap() {
        if part["path"].as_str().unwrap().ends_with("readme.txt") {
            part["size"] = forged.len().into();
            part["sha256"] = sct::core::hash::hex_of(&forged).into();
        }
    }
    std::fs::write(&record_path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    let out = download.verify(&name);
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("signed catalog says"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_volume_of_another_set_is_refused() {
    let download = Download::new();
    download.span(&[]);
    let record_path = download.volume("Volume01").join("volume.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    record["set"]["catalog_sha256"] = "ab".repeat(32).into();
    std::fs::write(&record_path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    let out = download.verify("Volume01");
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("belongs to another set of volumes"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_size_too_small_or_a_folder_in_use_is_a_usage_error() {
    let download = Download::new();
    let out = download.run(
        "sct-span",
        &["packs", "--volume-size", "2KiB", "--out", "volumes"],
    );
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("leaves no room for packs"),
        "{}",
        stderr_of(&out)
    );
    let out = download.run(
        "sct-span",
        &["packs", "--volume-size", "4,7GB", "--out", "volumes"],
    );
    assert_exit!(out, Usage);
    std::fs::create_dir_all(download.env.path("volumes")).unwrap();
    std::fs::write(download.env.path("volumes").join("keep.txt"), "mine").unwrap();
    let out = download.run(
        "sct-span",
        &["packs", "--volume-size", "600KiB", "--out", "volumes"],
    );
    assert_exit!(out, Usage);
    assert_eq!(
        std::fs::read(download.env.path("volumes").join("keep.txt")).unwrap(),
        b"mine"
    );
}

#[test]
fn a_folder_that_fails_verification_is_not_laid_out() {
    let download = Download::new();
    let guid = download.packs[0]
        .pack
        .package_guid
        .to_string()
        .to_uppercase();
    let path = download
        .env
        .path("packs")
        .join(&guid)
        .join(format!("{guid}.cab"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let out = download.run(
        "sct-span",
        &["packs", "--volume-size", "600KiB", "--out", "volumes"],
    );
    assert_exit!(out, Rejected);
    assert!(!download.env.path("volumes").exists());
}

/// A fresh site for the download's hierarchy: its locator and its inbox.
fn fresh_site(download: &Download, name: &str) -> (String, PathBuf) {
    let hierarchy_id = download.hierarchy.to_string();
    let site_args = [
        &identity("PS1", SITE_VERSION, &hierarchy_id)[..],
        &["--no-usage"],
    ]
    .concat();
    let (site, install) = download.env.installed_site(name, name, &site_args);
    (site, install.join("EasySetupPayload").join("offline"))
}

fn import(download: &Download, site: &str, src: &str, fault: Option<Point>) -> Output {
    let mut cmd = download.env.cmd("sct-import");
    cmd.env("SCT_SITE", site)
        .env("SCT_TRUSTED_KEYS", download.key.public().to_string())
        .args(["--src", src]);
    if let Some(point) = fault {
        cmd.env(ENV_FAULT, point.name());
    }
    cmd.output().unwrap()
}

/// The inbox after importing the unsplit folder into a site of its own.
fn unsplit_inbox(download: &Download) -> PathBuf {
    let (site, inbox) = fresh_site(download, "reference");
    let out = import(download, &site, "packs", None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    inbox
}

/// The same entries, and the same bytes in each file.
fn same_inbox(got: &Path, want: &Path) {
    assert_eq!(tree(got), tree(want));
    for entry in tree(want) {
        let (a, b) = (got.join(&entry), want.join(&entry));
        if b.is_file() && !entry.ends_with(".lock") {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{entry}"
            );
        }
    }
}

/// No set of parts is left waiting beside the inbox.
fn no_parts_left(inbox: &Path) {
    let area = inbox.parent().unwrap().join(".sct-parts");
    let left: Vec<String> = tree(&area)
        .into_iter()
        .filter(|e| !e.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn imported_volume_by_volume_in_reverse_order_the_inbox_ends_as_from_the_unsplit_folder() {
    let download = Download::new();
    let plan = download.span(&[]);
    let want = unsplit_inbox(&download);
    let (site, inbox) = fresh_site(&download, "site");
    let mut names = names(&plan);
    names.reverse();
    for name in &names {
        let src = format!("volumes/{name}");
        // A volume imported twice is a no-op the second time.
        for _ in 0..2 {
            let out = import(&download, &site, &src, None);
            assert!(out.status.success(), "{name}: {}", stderr_of(&out));
            every_pack_in_the_inbox_is_whole(&download, &inbox);
        }
    }
    same_inbox(&inbox, &want);
    no_parts_left(&inbox);
}

#[test]
fn a_tampered_part_is_refused_at_import_naming_the_volume_and_the_part() {
    let download = Download::new();
    let plan = download.span(&[]);
    let (site, inbox) = fresh_site(&download, "site");
    let (index, part) = plan["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find_map(|(i, v)| {
            let parts = v["parts"].as_array().unwrap();
            parts
                .iter()
                .find(|p| p.as_str().unwrap().ends_with(".001"))
                .map(|p| (i, p.as_str().unwrap().to_owned()))
        })
        .expect("a first part");
    let name = names(&plan)[index].clone();
    let path = download.volume(&name).join(&part);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let out = import(&download, &site, &format!("volumes/{name}"), None);
    assert_exit!(out, Rejected);
    let said = format!("volume {}: part `{part}`", index + 1);
    assert!(stderr_of(&out).contains(&said), "{}", stderr_of(&out));
    every_pack_in_the_inbox_is_whole(&download, &inbox);
    no_parts_left(&inbox);
}

/// A kill while a part is staged or a file joined leaves whole packs only; the rerun resumes.
#[test]
fn an_import_killed_while_staging_or_joining_parts_resumes_on_rerun() {
    if crate::support::needs_debug_build() {
        return;
    }
    let download = Download::new();
    let plan = download.span(&[]);
    let want = unsplit_inbox(&download);
    for point in [Point::PartsAfterStage, Point::PartsMidJoin] {
        let (site, inbox) = fresh_site(&download, point.name().replace(':', "-").as_str());
        let mut kills = 0;
        for name in names(&plan) {
            let src = format!("volumes/{name}");
            let out = import(&download, &site, &src, Some(point));
            if crate::support::killed_at_fault(&out.status) {
                kills += 1;
                every_pack_in_the_inbox_is_whole(&download, &inbox);
                let out = import(&download, &site, &src, None);
                assert!(
                    out.status.success(),
                    "{}: {}",
                    point.name(),
                    stderr_of(&out)
                );
            } else {
                assert!(
                    out.status.success(),
                    "{}: {}",
                    point.name(),
                    stderr_of(&out)
                );
            }
            every_pack_in_the_inbox_is_whole(&download, &inbox);
        }
        assert!(kills > 0, "{} was never reached", point.name());
        same_inbox(&inbox, &want);
        no_parts_left(&inbox);
    }
}

fn every_pack_in_the_inbox_is_whole(download: &Download, inbox: &Path) {
    let Ok(entries) = std::fs::read_dir(inbox) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pack) = download
            .packs
            .iter()
            .find(|p| p.pack.package_guid.to_string().to_uppercase() == name)
        else {
            continue;
        };
        for (path, bytes) in &pack.contents {
            assert_eq!(&std::fs::read(inbox.join(path)).unwrap(), bytes, "{path}");
        }
    }
}

/// `-connect -volumesize` (an addition to the original's flags): the download, then its volumes
/// beside it, each within the size and each imported alone with `-import -updatepacksrc`.
#[test]
fn connect_with_volumesize_lays_the_download_out_as_volumes_that_import_alone() {
    use crate::kit::Trip;
    let env = Env::new();
    let (site, install) = env.installed_site("ps1", "install", &["--version", "5.00.9128.1000"]);
    let trip = Trip::start(&env);
    let wrapper = |args: &[&str]| trip.wrapper(&env, &site, args);
    let prepare = wrapper(&["-prepare", "-usagedatadest", "usb/UsageData.cab"]);
    assert!(prepare.status.success(), "{}", stderr_of(&prepare));
    let connect = wrapper(&[
        "-connect",
        "-downloadall",
        "-usagedatasrc",
        "usb",
        "-updatepackdest",
        "usb/UpdatePacks",
        "-VolumeSize",
        "40KiB",
    ]);
    assert!(connect.status.success(), "{}", stderr_of(&connect));
    let volumes = env.path("usb/UpdatePacks.Volumes");
    let mut names: Vec<String> = std::fs::read_dir(&volumes)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() > 1, "{names:?}");
    let offline = install.join("EasySetupPayload").join("offline");
    for name in &names {
        assert!(file_bytes(&volumes.join(name)) <= 40 * 1024, "{name}");
        let src = format!("usb/UpdatePacks.Volumes/{name}");
        let import = wrapper(&["-import", "-updatepacksrc", &src]);
        assert!(import.status.success(), "{name}: {}", stderr_of(&import));
    }
    let imported = tree(&offline);
    assert!(!imported.is_empty());
    // The unsplit folder brings nothing more.
    let import = wrapper(&["-import", "-updatepacksrc", "usb/UpdatePacks"]);
    assert!(import.status.success(), "{}", stderr_of(&import));
    assert_eq!(tree(&offline), imported);
    assert!(!stderr_of(&import).contains("1 update pack imported"));
}

/// Parts whose other volumes never come wait until the operator removes them, by set or all.
#[test]
fn an_abandoned_set_of_parts_is_removed_only_on_the_operators_word() {
    let download = Download::new();
    let plan = download.span(&[]);
    let (site, inbox) = fresh_site(&download, "site");
    let index = plan["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|v| {
            v["parts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_str().unwrap().ends_with(".001"))
        })
        .expect("a volume with a first part");
    let name = names(&plan)[index].clone();
    let out = import(&download, &site, &format!("volumes/{name}"), None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    let set = stderr
        .split("inbox remove-parts --set ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("import names the set")
        .to_owned();
    let area = inbox.parent().unwrap().join(".sct-parts").join(&set);
    assert!(area.is_dir());
    let remove = |args: &[&str]| {
        download
            .env
            .cmd("sct-import")
            .env("SCT_SITE", &site)
            .args([&["inbox", "remove-parts"][..], args].concat())
            .output()
            .unwrap()
    };
    let out = remove(&["--all", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(area.is_dir());
    let out = remove(&["--set", "0000000000000000"]);
    assert_exit!(out, Usage);
    assert!(area.is_dir());
    let out = remove(&["--set", &set]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!area.exists());
    no_parts_left(&inbox);
}
