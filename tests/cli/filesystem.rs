//! Windows file-system semantics and hostile names, through the binaries: path flags of the other
//! platform or with names Windows cannot hold, case and Unicode twins on the way to a folder,
//! files on the medium that are not what they seem (FIFOs, links to devices), and long paths.
//!
//! Written to pass with the Linux binaries and with the Windows ones under Wine (the test process
//! stays a Linux program either way); the few that need something only Linux has say so and
//! return early with the reason.

use crate::corpus::{data_dir, plain, stage_pack_folder};
use crate::exit::assert_exit;
use crate::kit::HIERARCHY_A;
use crate::support::{Env, bin_path, identity, stderr_of, tree};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// True when the binaries under test are the Windows build (run under Wine).
fn windows_binaries() -> bool {
    bin_path("sct-pack")
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("exe"))
}

/// A path of the platform the binaries were not built for: a usage error on this one.
fn other_platform_path() -> &'static str {
    if windows_binaries() {
        "/media/usb/UpdatePacks"
    } else {
        "D:\\USB\\UpdatePacks"
    }
}

/// The pinned key the corpus signs with.
fn trusted_key() -> String {
    let text = std::fs::read_to_string(data_dir().join("keys/test-only-trusted-key.json")).unwrap();
    let key: sct::core::signing::KeyFile = serde_json::from_str(&text).unwrap();
    key.public_key
}

/// Runs each `(binary, args, flag)` and expects a usage error naming the flag, with nothing
/// written to the scratch folder.
fn assert_usage_errors(env: &Env, cases: &[(&str, Vec<String>, &str)]) {
    // The first command writes the empty config file: list the folder after it.
    let _ = env.cmd("sct-pack").arg("--version").output().unwrap();
    let before = tree(env.dir.path());
    for (bin, args, flag) in cases {
        let out = env.cmd(bin).args(args).output().unwrap();
        let stderr = stderr_of(&out);
        assert_exit!(out, Usage, "{bin} {args:?}");
        assert!(
            stderr.contains(flag),
            "{bin} {args:?} does not name {flag}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{bin} {args:?}");
        assert_eq!(
            tree(env.dir.path()),
            before,
            "{bin} {args:?} wrote something"
        );
    }
}

/// Every stage's path flags, each given `bad` (a folder; `FILE` flags get a file inside it).
fn every_path_flag(bad: &str) -> Vec<(&'static str, Vec<String>, &'static str)> {
    let file = |name: &str| format!("{bad}{}{name}", if bad.contains('\\') { '\\' } else { '/' });
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (
            "sct-fetch",
            s(&["--dest", bad, "--offers", "offers.jsonl"]),
            "--dest",
        ),
        (
            "sct-fetch",
            s(&["--dest", "packs", "--offers", &file("offers.jsonl")]),
            "--offers",
        ),
        ("sct-verify", s(&[bad]), "<DIR>"),
        ("sct-import", s(&["--src", bad]), "--src"),
        (
            "sct-import",
            s(&["--src", "packs", "--install-dir", bad]),
            "--install-dir",
        ),
        (
            "sct-pack",
            s(&["create", "usage.json", "-o", &file("UsageData.cab")]),
            "--output",
        ),
        ("sct-pack", s(&["inspect", &file("UsageData.cab")]), "<CAB>"),
        (
            "sct-pack",
            s(&["extract", "UsageData.cab", "--dest", bad]),
            "--dest",
        ),
        ("sct-upload", s(&[bad]), "<FILE|DIR>"),
        ("sct-collect", s(&["-o", &file("usage.json")]), "--output"),
        (
            "sct-verify",
            s(&["packs", "--log", &file("verify.log")]),
            "--log",
        ),
        (
            "ServiceConnectionTool",
            s(&["-prepare", "-usagedatadest", &file("UsageData.cab")]),
            "-usagedatadest",
        ),
        (
            "ServiceConnectionTool",
            s(&["-export", "-dest", &file("usagedata.csv")]),
            "-dest",
        ),
        (
            "ServiceConnectionTool",
            s(&["-connect", "-usagedatasrc", "usb", "-updatepackdest", bad]),
            "-updatepackdest",
        ),
        (
            "ServiceConnectionTool",
            s(&["-connect", "-usagedatasrc", bad, "-updatepackdest", "packs"]),
            "-usagedatasrc",
        ),
        (
            "ServiceConnectionTool",
            s(&["-import", "-updatepacksrc", bad]),
            "-updatepacksrc",
        ),
    ]
}

#[test]
fn every_path_flag_refuses_the_other_platform_s_paths_by_name() {
    // Issue 14 item 9: `-usagedatadest D:\USB\UsageData.cab` on Linux made a file named with
    // backslashes; `/media/usb` on Windows would mean `\media\usb` on the current drive.
    let env = Env::new();
    assert_usage_errors(&env, &every_path_flag(other_platform_path()));
}

#[test]
fn every_path_flag_refuses_names_windows_cannot_hold() {
    let env = Env::new();
    for bad in [
        "usb/CON/UpdatePacks",
        "usb/com1.log",
        "usb/LPT\u{b9}",
        "usb/CONOUT$",
        "usb/UpdatePacks.",
        "usb/Update Packs ",
        "usb/UpdatePacks:hidden",
        "usb/Update|Packs",
    ] {
        assert_usage_errors(&env, &every_path_flag(bad));
    }
}

/// Creates `a` and `b` (twins) under the scratch folder; false when this filesystem folds them
/// onto one name, so the twin cannot exist here at all.
fn make_twins(env: &Env, a: &str, b: &str) -> bool {
    std::fs::create_dir_all(env.path(a)).unwrap();
    std::fs::create_dir(env.path(b)).is_ok() && env.path(b).is_dir()
}

#[test]
fn a_folder_beside_its_case_or_unicode_twin_is_refused_and_nothing_written() {
    let env = Env::new();
    if !make_twins(&env, "usb/UpdatePacks", "usb/updatepacks")
        || !make_twins(&env, "USB", "usb")
        || !make_twins(&env, "media/Caf\u{e9}", "media/Cafe\u{301}")
    {
        eprintln!("skipped: this filesystem cannot hold case or normalisation twins");
        return;
    }
    let site = env.demo_site("site", &[]);
    let key = trusted_key();
    let before = tree(env.dir.path());
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("sct-verify", vec!["--trusted-key", &key, "usb/UpdatePacks"]),
        ("sct-verify", vec!["--trusted-key", &key, "media/Caf\u{e9}"]),
        (
            "sct-import",
            vec!["--trusted-key", &key, "--src", "usb/UpdatePacks"],
        ),
        ("sct-upload", vec!["--dry-run", "usb"]),
        (
            "ServiceConnectionTool",
            vec!["-prepare", "-usagedatadest", "usb/UsageData.cab"],
        ),
        (
            "ServiceConnectionTool",
            vec!["-export", "-dest", "media/Caf\u{e9}/usage.csv"],
        ),
        (
            "ServiceConnectionTool",
            vec![
                "-connect",
                "-usagedatasrc",
                "media",
                "-updatepackdest",
                "usb/UpdatePacks",
            ],
        ),
    ];
    for (bin, args) in cases {
        let out = env
            .cmd(bin)
            .env("SCT_SITE", &site)
            .env("SCT_TRUSTED_KEYS", &key)
            .env("SCT_SERVICE_URL", "http://127.0.0.1:9")
            .args(&args)
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_exit!(out, Rejected, "{bin} {args:?}");
        assert!(stderr.contains("twin"), "{bin} {args:?}: {stderr}");
        assert_eq!(
            tree(env.dir.path()),
            before,
            "{bin} {args:?} wrote something"
        );
    }
}

/// The corpus's honest pack folder, signed, staged under `env` as `name`.
fn honest_pack_folder(env: &Env, name: &str) -> PathBuf {
    let staged = stage_pack_folder(
        env,
        "valid-pack-folder",
        "pack",
        &plain(Some("trusted".into())),
    );
    let dest = env.path(name);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::rename(staged, &dest).unwrap();
    dest
}

const PACK_FILE: &str = "3B7D84FA-ECCC-4EA0-B8AB-ABBDA1E88E0E/Redist/readme.txt";

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_or_device_link_on_the_medium_neither_blocks_nor_passes() {
    if windows_binaries() {
        // Windows folders hold no FIFOs; one made here by the Linux test would test Wine's
        // emulation, not sct. Links on Windows are covered by the corpus's symlink scenarios.
        eprintln!("skipped: FIFOs and /dev links exist only on Linux");
        return;
    }
    let env = Env::new();
    let key = trusted_key();
    let site_args = [
        &identity("PS1", "5.00.9128.1000", HIERARCHY_A)[..],
        &["--no-usage"],
    ]
    .concat();
    let (site, _) = env.installed_site("site", "site", &site_args);
    for (name, plant) in [
        ("fifo-pack-file", "fifo:file"),
        ("fifo-catalog", "fifo:catalog.json"),
        ("zero-catalog", "zero:catalog.json"),
        ("zero-pack-file", "zero:file"),
    ] {
        let dir = honest_pack_folder(&env, name);
        let (kind, target) = plant.split_once(':').unwrap();
        let target = dir.join(if target == "file" { PACK_FILE } else { target });
        std::fs::remove_file(&target).unwrap();
        if kind == "fifo" {
            mkfifo(&target);
        } else {
            std::os::unix::fs::symlink("/dev/zero", &target).unwrap();
        }
        for bin in ["sct-verify", "sct-import"] {
            let mut cmd = env.cmd(bin);
            cmd.env("SCT_SITE", &site).args(["--trusted-key", &key]);
            if bin == "sct-import" {
                cmd.args(["--no-lock-wait", "--src"]);
            }
            // A guard against a hang only: a FIFO open without O_NONBLOCK would never return.
            let out = cmd
                .arg(&dir)
                .timeout(Duration::from_secs(120))
                .output()
                .unwrap();
            let stderr = stderr_of(&out);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_exit!(out, Rejected, "{name} {bin}");
            let said = format!("{stderr}{stdout}");
            assert!(
                said.contains("FIFO") || said.contains("symlink"),
                "{name} {bin}: {said}"
            );
        }
        assert!(
            !env.path("site/EasySetupPayload/offline/3B7D84FA-ECCC-4EA0-B8AB-ABBDA1E88E0E")
                .exists()
        );
    }
}

#[test]
fn paths_longer_than_260_characters_work() {
    let env = Env::new();
    let mut deep = PathBuf::from("long");
    for i in 0..5 {
        deep.push(format!("{i}-{}", "x".repeat(60)));
    }
    std::fs::create_dir_all(env.path(deep.to_str().unwrap())).unwrap();
    let deep = env.path(deep.to_str().unwrap());
    assert!(deep.as_os_str().len() > 300);
    let cab = deep.join("UsageData.cab");
    let input = data_dir().join("valid-usage-document/input.json");
    for args in [
        vec!["create".into(), input.clone(), "-o".into(), cab.clone()],
        // Again: the replace-by-rename over an existing file.
        vec!["create".into(), input, "-o".into(), cab.clone()],
        vec!["inspect".into(), cab.clone(), "--json".into()],
    ] {
        let out = env.cmd("sct-pack").args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    }
    let review = deep.join("review");
    std::fs::create_dir(&review).unwrap();
    let out = env
        .cmd("sct-pack")
        .arg("extract")
        .arg(&cab)
        .arg("--dest")
        .arg(&review)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!tree(&review).is_empty());
    let packs = honest_pack_folder(
        &env,
        "long/0-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/1-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/2-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/3-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/UpdatePacks",
    );
    let out = env
        .cmd("sct-verify")
        .args(["--trusted-key", &trusted_key()])
        .arg(&packs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}
