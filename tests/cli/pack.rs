//! sct-pack: usage JSON → UsageData.cab, read back by sct and by other cab tools.

use crate::exit::assert_exit;
use crate::support::{Env, Mount, require_tool, stderr_of, stdout_of, tree};

/// Collects a demo site's usage document into `usage.json`.
fn usage_json(env: &Env) -> std::path::PathBuf {
    let site = env.demo_site_with("ps1", "PS1", "5.00.9132.1000", crate::kit::HIERARCHY_A);
    env.cmd("sct-collect")
        .args(["--site", &site, "-o", "usage.json"])
        .assert()
        .success();
    env.path("usage.json")
}

#[test]
fn pipeline_from_stdin_writes_a_verified_cab() {
    let env = Env::new();
    let json = std::fs::read(usage_json(&env)).unwrap();
    let out = env
        .cmd("sct-pack")
        .args(["create", "-o", "UsageData.cab"])
        .write_stdin(json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "sct.usage-cab.v1");
    assert_eq!(report["site_code"], "PS1");
    let inspect = env
        .cmd("sct-pack")
        .args(["inspect", "UsageData.cab"])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr_of(&inspect));
    let checked: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(checked["sha256"], report["sha256"]);
    assert_eq!(checked["full_version"], "5.00.9132.1000");
}

#[test]
fn cab_holds_the_version_file_and_manifest() {
    let env = Env::new();
    let json = usage_json(&env);
    env.cmd("sct-pack")
        .args(["create", json.to_str().unwrap(), "-o", "UsageData.cab"])
        .assert()
        .success();
    let out = env
        .cmd("sct-pack")
        .args(["list", "UsageData.cab"])
        .output()
        .unwrap();
    let names: Vec<String> = stdout_of(&out)
        .lines()
        .map(|l| {
            let line = serde_json::from_str::<serde_json::Value>(l).unwrap();
            assert_eq!(line["schema"], "sct.cab-member.v1", "{l}");
            line["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "UsageData.json",
            "SiteVersion.5.00.9132.1000.txt",
            "manifest.json"
        ]
    );
}

#[test]
fn cabextract_and_gcab_read_our_cab() {
    require_tool("cabextract");
    require_tool("gcab");
    let env = Env::new();
    let site = env.demo_site("big", &["--extra-rows", "3000"]);
    env.cmd("sct-collect")
        .args(["--site", &site, "-o", "usage.json"])
        .assert()
        .success();
    env.cmd("sct-pack")
        .args(["create", "usage.json", "-o", "UsageData.cab"])
        .assert()
        .success();
    let cab = env.path("UsageData.cab");
    let test = std::process::Command::new("cabextract")
        .arg("-t")
        .arg(&cab)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "cabextract -t: {}",
        stdout_of(&test) + &stderr_of(&test)
    );
    let gcab = std::process::Command::new("gcab")
        .arg("-t")
        .arg(&cab)
        .output()
        .unwrap();
    assert!(gcab.status.success(), "gcab -t: {}", stderr_of(&gcab));
    assert!(stdout_of(&gcab).contains("UsageData.json"));
    // Round trip: the bytes cabextract extracts are the bytes we packed.
    std::fs::create_dir(env.path("x")).unwrap();
    let extract = std::process::Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(env.path("x"))
        .arg(&cab)
        .output()
        .unwrap();
    assert!(extract.status.success());
    let packed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("usage.json")).unwrap()).unwrap();
    let extracted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("x/UsageData.json")).unwrap()).unwrap();
    assert_eq!(packed, extracted);
    // And a cab written by gcab is read by sct-pack.
    let made = std::process::Command::new("gcab")
        .current_dir(env.path("x"))
        .args(["-cz", "../by-gcab.cab", "UsageData.json"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr_of(&made));
    std::fs::create_dir(env.path("y")).unwrap();
    env.cmd("sct-pack")
        .args(["extract", "by-gcab.cab", "--dest", "y"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(env.path("y/UsageData.json")).unwrap(),
        std::fs::read(env.path("x/UsageData.json")).unwrap()
    );
}

#[test]
fn wrong_document_kind_is_named() {
    let env = Env::new();
    let out = env
        .cmd("sct-pack")
        .args(["create", "-o", "UsageData.cab"])
        .write_stdin(r#"{"schema":"sct.offer.v1","hierarchy_id":"x"}"#)
        .output()
        .unwrap();
    assert_exit!(out, Rejected);
    assert!(
        stderr_of(&out).contains("offer document"),
        "{}",
        stderr_of(&out)
    );
    assert!(!env.path("UsageData.cab").exists());
}

#[test]
fn future_schema_version_is_refused() {
    let env = Env::new();
    let out = env
        .cmd("sct-pack")
        .args(["create", "-o", "U.cab"])
        .write_stdin(r#"{"schema":"sct.usage.v2"}"#)
        .output()
        .unwrap();
    assert_exit!(out, Rejected);
    assert!(stderr_of(&out).contains("version this build does not read"));
}

#[test]
fn destination_folder_missing_or_read_only() {
    let env = Env::new();
    let json = usage_json(&env);
    let out = env
        .cmd("sct-pack")
        .args(["create", json.to_str().unwrap(), "-o", "no/such/dir/U.cab"])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    assert!(
        stderr_of(&out).contains("no/such/dir/U.cab"),
        "{}",
        stderr_of(&out)
    );

    let Some(ro) = Mount::tmpfs(&env.path("ro"), "1m", true) else {
        eprintln!("skipped the read-only half: this machine does not allow mounting a tmpfs");
        return;
    };
    let out = env
        .cmd("sct-pack")
        .args(["create", json.to_str().unwrap(), "-o", "ro/U.cab"])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    assert!(stderr_of(&out).contains("ro"), "{}", stderr_of(&out));
    assert!(tree(&ro.path).is_empty());
}

#[test]
fn a_destination_under_a_file_is_a_usage_error() {
    let env = Env::new();
    let json = usage_json(&env);
    std::fs::write(env.path("file"), "x").unwrap();
    let out = env
        .cmd("sct-pack")
        .args(["create", json.to_str().unwrap(), "-o", "file/U.cab"])
        .output()
        .unwrap();
    // The flag names a path that cannot be written, as in every stage (it was 3).
    assert_exit!(out, Usage);
    assert!(
        stderr_of(&out).contains("is not a folder"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn full_disk_leaves_no_file_behind() {
    let env = Env::new();
    let site = env.demo_site("big", &["--extra-rows", "5000"]);
    env.cmd("sct-collect")
        .args(["--site", &site, "-o", "usage.json"])
        .assert()
        .success();
    let Some(full) = Mount::tmpfs(&env.path("small"), "16k", false) else {
        eprintln!("skipped: this machine does not allow mounting a tmpfs");
        return;
    };
    let out = env
        .cmd("sct-pack")
        .args(["create", "usage.json", "-o", "small/UsageData.cab"])
        .output()
        .unwrap();
    assert_exit!(out, Io);
    assert!(
        stderr_of(&out).contains("small/UsageData.cab"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        tree(&full.path).is_empty(),
        "left behind: {:?}",
        tree(&full.path)
    );
}

#[test]
fn existing_destination_is_replaced_whole() {
    let env = Env::new();
    let json = usage_json(&env);
    std::fs::write(env.path("UsageData.cab"), b"old content").unwrap();
    env.cmd("sct-pack")
        .args(["create", json.to_str().unwrap(), "-o", "UsageData.cab"])
        .assert()
        .success();
    env.cmd("sct-pack")
        .args(["inspect", "UsageData.cab"])
        .assert()
        .success();
    let names = tree(env.dir.path());
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn non_cab_truncated_and_corrupt_files_are_refused() {
    let env = Env::new();
    let json = usage_json(&env);
    env.cmd("sct-pack")
        .args(["create", json.to_str().unwrap(), "-o", "good.cab"])
        .assert()
        .success();
    let good = std::fs::read(env.path("good.cab")).unwrap();
    std::fs::write(env.path("text.cab"), b"hello, I am not a cabinet").unwrap();
    std::fs::write(env.path("truncated.cab"), &good[..good.len() / 2]).unwrap();
    let mut flipped = good.clone();
    let at = flipped.len() - 40;
    flipped[at] ^= 0xFF;
    std::fs::write(env.path("flipped.cab"), &flipped).unwrap();
    std::fs::write(env.path("empty.cab"), b"").unwrap();
    for name in ["text.cab", "truncated.cab", "flipped.cab", "empty.cab"] {
        for verb in ["inspect", "extract"] {
            let dest = env.path(&format!("out-{name}-{verb}"));
            std::fs::create_dir(&dest).unwrap();
            let mut cmd = env.cmd("sct-pack");
            cmd.args([verb, name]);
            if verb == "extract" {
                cmd.arg("--dest").arg(&dest);
            }
            let out = cmd.output().unwrap();
            assert_exit!(out, Rejected, "{verb} {name}");
            assert!(
                stderr_of(&out).contains(name),
                "{verb} {name}: {}",
                stderr_of(&out)
            );
            assert!(
                tree(&dest).is_empty(),
                "{verb} {name} wrote {:?}",
                tree(&dest)
            );
        }
    }
}

/// A cab whose member names are hostile, written with the cab crate directly.
fn hostile_cab(path: &std::path::Path, name: &str) {
    let mut builder = cab::CabinetBuilder::new();
    builder
        .add_folder(cab::CompressionType::MsZip)
        .add_file(name);
    let file = std::fs::File::create(path).unwrap();
    let mut writer = builder.build(file).unwrap();
    while let Some(mut member) = writer.next_file().unwrap() {
        std::io::Write::write_all(&mut member, b"payload").unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn hostile_member_names_write_nothing() {
    let env = Env::new();
    for (i, name) in [
        "..\\evil.txt",
        "\\abs.txt",
        "C:\\Windows\\evil.dll",
        "a/b.txt",
        "sub\\..\\..\\x",
    ]
    .iter()
    .enumerate()
    {
        let cab = env.path(&format!("hostile{i}.cab"));
        hostile_cab(&cab, name);
        let dest = env.path(&format!("dest{i}"));
        std::fs::create_dir(&dest).unwrap();
        let out = env
            .cmd("sct-pack")
            .arg("extract")
            .arg(&cab)
            .arg("--dest")
            .arg(&dest)
            .output()
            .unwrap();
        assert_exit!(out, Rejected, "{name}");
        assert!(
            stderr_of(&out).contains("unsafe name"),
            "{}",
            stderr_of(&out)
        );
        assert!(tree(&dest).is_empty());
        let inspect = env
            .cmd("sct-pack")
            .arg("inspect")
            .arg(&cab)
            .output()
            .unwrap();
        assert_exit!(inspect, Rejected);
    }
    assert!(!env.dir.path().parent().unwrap().join("evil.txt").exists());
}

#[test]
fn altered_member_fails_inspect_with_both_digests() {
    let env = Env::new();
    // A usage cab whose manifest lists a different hash for UsageData.json.
    let json = usage_json(&env);
    env.cmd("sct-pack")
        .args(["create", json.to_str().unwrap(), "-o", "good.cab"])
        .assert()
        .success();
    std::fs::create_dir(env.path("parts")).unwrap();
    env.cmd("sct-pack")
        .args(["extract", "good.cab", "--dest", "parts"])
        .assert()
        .success();
    let usage = std::fs::read_to_string(env.path("parts/UsageData.json")).unwrap();
    let tampered = usage.replacen("TEL_SetupInfo", "TEL_SetupInfX", 1);
    std::fs::write(env.path("parts/UsageData.json"), tampered).unwrap();
    let made = std::process::Command::new("gcab")
        .current_dir(env.path("parts"))
        .args([
            "-cz",
            "../tampered.cab",
            "UsageData.json",
            "SiteVersion.5.00.9132.1000.txt",
            "manifest.json",
        ])
        .output();
    let Ok(made) = made else {
        panic!("gcab is not installed: ./scripts/test.sh installs it")
    };
    assert!(made.status.success());
    let out = env
        .cmd("sct-pack")
        .args(["inspect", "tampered.cab"])
        .output()
        .unwrap();
    assert_exit!(out, Rejected);
    let err = stderr_of(&out);
    assert!(
        err.contains("damaged or altered `UsageData.json`") && err.contains("expected"),
        "{err}"
    );
}

/// `-` is stdout for `create -o` and stdin for `inspect`, as in every other stage: a cab goes
/// through a pipe (cmd.exe and PowerShell carry the bytes unchanged) and is checked on the other side.
#[test]
fn dash_writes_the_cab_to_stdout_and_inspect_reads_it_from_stdin() {
    let env = Env::new();
    let json = std::fs::read(usage_json(&env)).unwrap();
    let out = env
        .cmd("sct-pack")
        .args(["create", "-o", "-"])
        .write_stdin(json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout.starts_with(b"MSCF"), "stdout is not a cab");
    assert!(!env.path("-").exists(), "a file named - was written");
    let inspect = env
        .cmd("sct-pack")
        .args(["inspect", "-", "--json"])
        .write_stdin(out.stdout.clone())
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr_of(&inspect));
    let checked: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(checked["cab"], "-");
    assert_eq!(checked["site_code"], "PS1");
    // A damaged cab on stdin is refused like a damaged file.
    let mut damaged = out.stdout;
    let last = damaged.len() - 10;
    damaged[last] ^= 0xFF;
    let refused = env
        .cmd("sct-pack")
        .args(["inspect", "-"])
        .write_stdin(damaged)
        .output()
        .unwrap();
    assert_exit!(refused, Rejected);
}

/// A member name written without the UTF-8 flag, in a Windows code page (`caf\xE9.txt`, as a
/// Western-European makecab writes `café.txt`), is listed and extracted under that name, as
/// cabextract, 7-Zip and Windows show it.
#[test]
fn a_code_page_member_name_is_listed_and_extracted_as_written() {
    use sct::core::cabinet::{Entry, write};
    let env = Env::new();
    let cab = env.path("legacy.cab");
    let entry = Entry {
        name: "caf_.txt".into(),
        size: 7,
        data: Box::new(&b"payload"[..]),
    };
    write(&cab, vec![entry]).unwrap();
    let mut bytes = std::fs::read(&cab).unwrap();
    let at = bytes.windows(9).position(|w| w == b"caf_.txt\0").unwrap();
    bytes[at + 3] = 0xE9;
    std::fs::write(&cab, bytes).unwrap();
    let out = env
        .cmd("sct-pack")
        .args(["list", "legacy.cab"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["name"], "café.txt");
    std::fs::create_dir(env.path("out")).unwrap();
    let out = env
        .cmd("sct-pack")
        .args(["extract", "legacy.cab", "--dest", "out"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read(env.path("out/café.txt")).unwrap(), b"payload");
}

/// The total `extract` writes is capped (`--max-total`): a cab whose members add up to the cap
/// extracts, one a byte over it is refused before anything is written.
#[test]
fn extract_total_is_capped_at_the_limit_and_refused_one_byte_past() {
    let env = Env::new();
    usage_json(&env);
    env.cmd("sct-pack")
        .args(["create", "usage.json", "-o", "UsageData.cab"])
        .assert()
        .success();
    let listed = env
        .cmd("sct-pack")
        .args(["list", "UsageData.cab"])
        .output()
        .unwrap();
    let total: u64 = stdout_of(&listed)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["size"]
                .as_u64()
                .unwrap()
        })
        .sum();
    std::fs::create_dir_all(env.path("over")).unwrap();
    let over = env
        .cmd("sct-pack")
        .args(["extract", "UsageData.cab", "--dest", "over", "--max-total"])
        .arg((total - 1).to_string())
        .output()
        .unwrap();
    assert_exit!(over, Rejected);
    assert!(
        stderr_of(&over).contains("--max-total"),
        "{}",
        stderr_of(&over)
    );
    assert!(tree(&env.path("over")).is_empty());
    std::fs::create_dir_all(env.path("at")).unwrap();
    let at = env
        .cmd("sct-pack")
        .args(["extract", "UsageData.cab", "--dest", "at", "--max-total"])
        .arg(total.to_string())
        .output()
        .unwrap();
    assert_exit!(at, Success);
    assert_eq!(tree(&env.path("at")).len(), 3);
}
