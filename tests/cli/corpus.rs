//! The hostile corpus: every `tests/data/<scenario>/` run through the stage that reads it.
//!
//! Each scenario folder holds a `scenario.toml` (what the attack is, which stages read it, the
//! documented exit code, a phrase the error must contain) and its input: `input.cab` (forged by
//! [`forge`]), `input.json`, or `pack/` (an update pack folder; its `catalog.json` is signed at
//! test time with a committed test-only key, so templates stay editable by hand).
//!
//! For every scenario and stage the test asserts: the exit code, an error that names the object
//! and says why, and that nothing was written — the scratch folder, the extraction folder, the
//! service's upload store, the site's install folder and its database are the same before and
//! after. The `valid-*` scenarios are the controls: the same harness must let them through.

pub(crate) mod forge;

use crate::kit::{Server, post_usage, published, stored};
use crate::support::{Env, identity, stderr_of, stdout_of, tree};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Output;

const HIERARCHY: &str = crate::kit::HIERARCHY_A;
const SITE_VERSION: &str = "5.00.9128.1000";

/// `scenario.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    /// What the attack or damage is.
    description: String,
    /// The stages that read it: pack-inspect, pack-extract, pack-create, upload, import, fetch.
    stages: Vec<String>,
    /// The documented exit code (0 for the controls).
    exit: i32,
    /// A phrase the error on stderr must contain (every stage).
    #[serde(default)]
    error: Option<String>,
    /// Per stage, a phrase that replaces `error` (stages check in their own order).
    #[serde(default)]
    error_by_stage: std::collections::BTreeMap<String, String>,
    /// What the error must name instead of the input file (where a stage cannot know the file).
    #[serde(default)]
    names: Option<String>,
    /// For `pack/` folders: sign catalog.json with `trusted` or `unknown` (tests/data/keys/).
    #[serde(default)]
    sign: Option<String>,
    /// For `pack/` folders: (from, to) edits of catalog.json after signing.
    #[serde(default)]
    edit_after_sign: Vec<(String, String)>,
    /// For `pack/` folders: (link, target) symlinks planted before the run; a relative target is
    /// resolved in the scratch folder, where `secret.txt` exists.
    #[serde(default)]
    symlinks: Vec<(String, String)>,
    /// For `pack/` folders: (name, content) files created before the run, for names a checkout
    /// cannot hold on every system (a `\` in a name, case twins); `/` separates folders.
    #[serde(default)]
    plant: Vec<(String, String)>,
    /// For `pack/` folders: pad catalog.json with spaces to this many bytes before signing.
    #[serde(default)]
    pad_catalog_to: Option<u64>,
    /// For import: a pack folder in this scenario imported first (it must succeed).
    #[serde(default)]
    prior: Option<String>,
    /// For import controls: how many packs the summary must report imported, where an unsigned
    /// record would have widened it.
    #[serde(default)]
    imported: Option<u64>,
}

pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Folders of `tests/data` that are not scenarios.
const NOT_SCENARIOS: &[&str] = &["keys", "templates"];

fn scenarios() -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().unwrap().is_dir() || NOT_SCENARIOS.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path().join("scenario.toml"))
            .unwrap_or_else(|e| panic!("{name}/scenario.toml: {e}"));
        let scenario: Scenario =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/scenario.toml: {e}"));
        if scenario.plant.iter().any(|(name, _)| name.contains('\\'))
            && crate::support::skip_on_wine(
                &format!("corpus scenario {name}"),
                "a file name holding `\\` exists only on Linux; Wine does not show it to a Windows program, and NTFS cannot hold it",
            )
        {
            continue;
        }
        if !scenario.symlinks.is_empty()
            && crate::support::skip_on_wine(
                &format!("corpus scenario {name}"),
                crate::support::WINE_HIDES_SYMLINKS,
            )
        {
            continue;
        }
        out.push((name, scenario));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn with_stage(stage: &str) -> Vec<(String, Scenario)> {
    scenarios()
        .into_iter()
        .filter(|(_, s)| s.stages.iter().any(|x| x == stage))
        .collect()
}

/// Checks one run; returns the problems found (empty when the scenario held).
fn judge(name: &str, stage: &str, s: &Scenario, out: &Output, names: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let stderr = stderr_of(out);
    // The scenario files give the documented number; the test compares classes.
    let expected = crate::exit::class_of(Some(s.exit));
    if crate::exit::exit_class(out) != expected {
        problems.push(format!(
            "{name} [{stage}]: exit {:?} ({:?}), expected {} ({expected:?}: {})\nstderr: {stderr}",
            out.status.code(),
            crate::exit::exit_class(out),
            s.exit,
            s.description
        ));
        return problems;
    }
    // Whatever the input holds, stderr is plain lines: no terminal escape, carriage return or
    // bidi override from the input reaches the terminal raw (src/core/escape.rs).
    let raw = |c: char| {
        (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if let Some(c) = stderr.chars().find(|&c| raw(c)) {
        problems.push(format!(
            "{name} [{stage}]: stderr carries U+{:04X} raw: {stderr:?}",
            u32::from(c)
        ));
    }
    if s.exit == 0 {
        return problems;
    }
    let base = stage.split(' ').next().unwrap_or(stage);
    if let Some(phrase) = s.error_by_stage.get(base).or(s.error.as_ref())
        && !stderr.contains(phrase.as_str())
    {
        problems.push(format!(
            "{name} [{stage}]: error lacks `{phrase}`:\n{stderr}"
        ));
    }
    let names = s.names.as_deref().unwrap_or(names);
    if !stderr.contains(names) {
        problems.push(format!(
            "{name} [{stage}]: error does not name `{names}`:\n{stderr}"
        ));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push(format!("{name} [{stage}]: panicked:\n{stderr}"));
    }
    problems
}

fn report(problems: Vec<String>, ran: usize) {
    assert!(ran > 0, "no scenario ran");
    assert!(
        problems.is_empty(),
        "{} of {ran} runs failed:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn every_scenario_names_a_known_stage_and_its_input() {
    let all = scenarios();
    let known_phrases = [
        "pack-inspect",
        "pack-extract",
        "pack-create",
        "upload",
        "serve",
        "import",
        "fetch",
    ];
    let known = [
        "pack-inspect",
        "pack-extract",
        "pack-create",
        "upload",
        "import",
        "fetch",
    ];
    for (name, s) in &all {
        assert!(!s.stages.is_empty(), "{name}: no stage");
        for stage in &s.stages {
            assert!(
                known.contains(&stage.as_str()),
                "{name}: unknown stage {stage}"
            );
        }
        let dir = data_dir().join(name);
        let input = match s.stages[0].as_str() {
            "import" => dir.join("pack"),
            "pack-create" => dir.join("input.json"),
            "fetch" => dir.join("offers.jsonl"),
            _ => dir.join("input.cab"),
        };
        assert!(input.exists(), "{name}: no {}", input.display());
        for key in s.error_by_stage.keys() {
            assert!(
                known_phrases.contains(&key.as_str()),
                "{name}: unknown stage {key}"
            );
        }
        let phrased = s.stages.iter().all(|stage| {
            s.error.is_some()
                || s.error_by_stage.contains_key(stage)
                || (stage == "upload" && s.error_by_stage.contains_key("serve"))
        });
        assert!(
            s.exit == 0 || phrased,
            "{name}: a refusal must say which phrase its error carries"
        );
        assert_eq!(
            s.exit == 0,
            name.starts_with("valid-"),
            "{name}: only valid-* controls succeed"
        );
    }
    let hostile = all.iter().filter(|(_, s)| s.exit != 0).count();
    assert!(hostile >= 40, "only {hostile} hostile scenarios");
}

#[test]
fn committed_cabs_match_their_recipes() {
    let regenerate = std::env::var_os("SCT_REGENERATE_CORPUS").is_some();
    for (name, bytes) in forge::recipes() {
        let path = data_dir().join(name).join("input.cab");
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (SCT_REGENERATE_CORPUS=1 writes it)",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{} differs from its recipe in tests/cli/corpus/forge.rs (SCT_REGENERATE_CORPUS=1 rewrites it)",
            path.display()
        );
    }
}

/// Copies a scenario's cab into a fresh scratch folder under a plain name.
fn stage_cab(env: &Env, name: &str) -> PathBuf {
    let cab = env.path(&format!("{name}.cab"));
    std::fs::copy(data_dir().join(name).join("input.cab"), &cab).unwrap();
    cab
}

#[test]
fn cab_scenarios_through_sct_pack_inspect() {
    let (mut problems, mut ran) = (Vec::new(), 0);
    for (name, s) in with_stage("pack-inspect") {
        let env = Env::new();
        let cab = stage_cab(&env, &name);
        let mut cmd = env.cmd("sct-pack");
        let before = tree(env.dir.path());
        let out = cmd.arg("inspect").arg(&cab).output().unwrap();
        ran += 1;
        problems.extend(judge(
            &name,
            "pack-inspect",
            &s,
            &out,
            &format!("{name}.cab"),
        ));
        if s.exit != 0 {
            if !out.stdout.is_empty() {
                problems.push(format!(
                    "{name} [pack-inspect]: wrote stdout: {}",
                    stdout_of(&out)
                ));
            }
            if tree(env.dir.path()) != before {
                problems.push(format!("{name} [pack-inspect]: the scratch folder changed"));
            }
        }
    }
    report(problems, ran);
}

#[test]
fn cab_scenarios_through_sct_pack_extract() {
    let (mut problems, mut ran) = (Vec::new(), 0);
    for (name, s) in with_stage("pack-extract") {
        let env = Env::new();
        let cab = stage_cab(&env, &name);
        let dest = env.path("dest");
        std::fs::create_dir(&dest).unwrap();
        // Something to overwrite or climb to, as an attacker would hope for.
        std::fs::write(env.path("evil.txt"), "original\n").unwrap();
        let mut cmd = env.cmd("sct-pack");
        let before = tree(env.dir.path());
        let out = cmd
            .arg("extract")
            .arg(&cab)
            .arg("--dest")
            .arg(&dest)
            .output()
            .unwrap();
        ran += 1;
        problems.extend(judge(
            &name,
            "pack-extract",
            &s,
            &out,
            &format!("{name}.cab"),
        ));
        if s.exit != 0 {
            if tree(env.dir.path()) != before {
                problems.push(format!(
                    "{name} [pack-extract]: files were written: {:?}",
                    tree(env.dir.path())
                ));
            }
            if std::fs::read_to_string(env.path("evil.txt")).unwrap() != "original\n" {
                problems.push(format!("{name} [pack-extract]: evil.txt was overwritten"));
            }
        } else if tree(&dest).is_empty() {
            problems.push(format!(
                "{name} [pack-extract]: the control extracted nothing"
            ));
        }
    }
    report(problems, ran);
}

#[test]
fn document_scenarios_through_sct_pack_create() {
    let (mut problems, mut ran) = (Vec::new(), 0);
    for (name, s) in with_stage("pack-create") {
        let env = Env::new();
        let input = env.path(&format!("{name}.json"));
        std::fs::copy(data_dir().join(&name).join("input.json"), &input).unwrap();
        let mut cmd = env.cmd("sct-pack");
        let before = tree(env.dir.path());
        let output = env.path("UsageData.cab");
        let out = cmd
            .arg("create")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .output()
            .unwrap();
        ran += 1;
        problems.extend(judge(
            &name,
            "pack-create",
            &s,
            &out,
            &format!("{name}.json"),
        ));
        if s.exit != 0 && tree(env.dir.path()) != before {
            problems.push(format!(
                "{name} [pack-create]: files were written: {:?}",
                tree(env.dir.path())
            ));
        }
        if s.exit == 0 && !output.is_file() {
            problems.push(format!("{name} [pack-create]: the control wrote no cab"));
        }
    }
    report(problems, ran);
}

#[test]
fn cab_scenarios_through_sct_upload_and_sct_serve() {
    let env = Env::new();
    let site = published(&env);
    let server = Server::start(&env, &site.root, &[], &[]);
    let (mut problems, mut ran) = (Vec::new(), 0);
    for (name, s) in with_stage("upload") {
        let cab = stage_cab(&env, &name);
        // The client checks the cab before it sends a byte.
        let out = env
            .cmd("sct-upload")
            .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
            .arg(&cab)
            .args(["--service-url", &server.url, "--trusted-key", &site.public])
            .output()
            .unwrap();
        ran += 1;
        problems.extend(judge(&name, "upload", &s, &out, &format!("{name}.cab")));
        // The service checks it again, whatever a client claims.
        let (status, answer) = post_usage(server.addr, &std::fs::read(&cab).unwrap());
        if s.exit == 0 {
            if status != 200 {
                problems.push(format!(
                    "{name} [serve]: control refused: {status} {answer}"
                ));
            }
            // Stored as `<hierarchy>/<time>-<first 16 hex digits of its SHA-256>.cab`.
            let digest = sct::core::hash::hex_of(&std::fs::read(&cab).unwrap());
            let suffix = format!("-{}.cab", &digest[..16]);
            if !stored(&site.root).iter().any(|p| p.ends_with(&suffix)) {
                problems.push(format!(
                    "{name} [serve]: the control's upload was not stored"
                ));
            }
            continue;
        }
        // A refusal of the client's bytes: 4xx with an sct.error.v1 document, never a 5xx.
        if !(400..500).contains(&status) || answer["schema"] != "sct.error.v1" {
            problems.push(format!("{name} [serve]: answered {status} {answer}"));
        }
        let message = answer["message"].as_str().unwrap_or_default();
        let phrase = ["serve", "upload"]
            .iter()
            .find_map(|k| s.error_by_stage.get(*k))
            .or(s.error.as_ref());
        if let Some(phrase) = phrase
            && !message.contains(phrase.as_str())
        {
            problems.push(format!(
                "{name} [serve]: message lacks `{phrase}`: {message}"
            ));
        }
        if message.contains(".incoming") || message.contains(&site.root.display().to_string()) {
            problems.push(format!(
                "{name} [serve]: message shows a server path: {message}"
            ));
        }
        let kept: Vec<String> = stored(&site.root);
        let valid_kept = kept.iter().all(|p| p.starts_with(HIERARCHY));
        if !valid_kept {
            problems.push(format!("{name} [serve]: stored {kept:?}"));
        }
    }
    // Only the control's uploads may be stored: one hierarchy folder, nothing half-received.
    let incoming: Vec<String> = tree(&site.root.join("uploads").join(".incoming"));
    assert!(
        incoming.is_empty(),
        "half-received uploads left: {incoming:?}"
    );
    report(problems, ran);
}

/// A demo site whose install folder is in the scratch folder.
struct Site {
    env: Env,
    db: PathBuf,
    install: PathBuf,
}

impl Site {
    fn new() -> Self {
        let env = Env::new();
        let site_args = [
            &identity("PS1", SITE_VERSION, HIERARCHY)[..],
            &["--no-usage"],
        ]
        .concat();
        let (locator, install) = env.installed_site("site", "site", &site_args);
        let db = PathBuf::from(locator.strip_prefix("sqlite:").unwrap());
        Self { env, db, install }
    }

    fn import(&self, src: &Path, extra: &[&str]) -> Output {
        let trusted =
            std::fs::read_to_string(data_dir().join("keys/test-only-trusted-key.json")).unwrap();
        let key: sct::core::signing::KeyFile = serde_json::from_str(&trusted).unwrap();
        let mut cmd = self.env.command("sct-import");
        cmd.env("SCT_SITE", format!("sqlite:{}", self.db.display()))
            .env("SCT_TRUSTED_KEYS", key.public_key)
            .current_dir(self.env.dir.path())
            .arg("--src")
            .arg(src)
            .args(extra)
            .output()
            .unwrap()
    }

    /// Every row of every table, to compare before and after.
    fn dump(&self) -> String {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut out = String::new();
        for table in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let n = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(|v| v.join("|"))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            out.push_str(&format!("[{table}]\n{}\n", rows.join("\n")));
        }
        out
    }

    /// The install folder's tree, without the inbox lock file an import may leave.
    fn files(&self) -> Vec<String> {
        tree(&self.install)
            .into_iter()
            .filter(|p| !p.ends_with(".sct-import.lock"))
            .collect()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Builds a scenario's pack folder in the scratch folder: copy, pad, sign, edit, plant symlinks.
pub(crate) fn stage_pack_folder(env: &Env, name: &str, folder: &str, s: &Scenario) -> PathBuf {
    let dest = env.path(&format!("{name}-{folder}"));
    copy_tree(&data_dir().join(name).join(folder), &dest);
    let catalog = dest.join(sct::core::catalog::CATALOG_FILE);
    if let Some(size) = s.pad_catalog_to {
        let mut bytes = std::fs::read(&catalog).unwrap();
        bytes.resize(size as usize, b' ');
        std::fs::write(&catalog, bytes).unwrap();
    }
    if let Some(signer) = &s.sign {
        let key = data_dir().join(format!("keys/test-only-{signer}-key.json"));
        let key = sct::core::signing::PrivateKey::load(&key).unwrap();
        let bytes = std::fs::read(&catalog).unwrap();
        let signature = sct::core::signing::SignatureFile::sign(&bytes, &[&key]);
        std::fs::write(
            dest.join(sct::core::catalog::SIGNATURE_FILE),
            serde_json::to_vec_pretty(&signature).unwrap(),
        )
        .unwrap();
    }
    if !s.edit_after_sign.is_empty() {
        let mut text = std::fs::read_to_string(&catalog).unwrap();
        for (from, to) in &s.edit_after_sign {
            assert!(text.contains(from.as_str()), "{name}: catalog lacks {from}");
            text = text.replacen(from.as_str(), to, 1);
        }
        std::fs::write(&catalog, text).unwrap();
    }
    std::fs::write(env.path("secret.txt"), "not for the site\n").unwrap();
    let outside = data_dir().join(name).join("outside");
    if outside.is_dir() && !env.path("outside").exists() {
        copy_tree(&outside, &env.path("outside"));
    }
    for (name, content) in &s.plant {
        let path = dest.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    for (link, target) in &s.symlinks {
        let link = dest.join(link);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(env.path(target), link).unwrap();
    }
    dest
}

#[test]
fn pack_folder_scenarios_through_sct_import() {
    let (mut problems, mut ran) = (Vec::new(), 0);
    for (name, s) in with_stage("import") {
        let site = Site::new();
        if let Some(prior) = &s.prior {
            let src = stage_pack_folder(&site.env, &name, prior, &plain(Some("trusted".into())));
            let out = site.import(&src, &[]);
            assert!(
                out.status.success(),
                "{name}: prior import failed: {}",
                stderr_of(&out)
            );
        }
        let src = stage_pack_folder(&site.env, &name, "pack", &s);
        let source_before = tree(&src);
        for extra in [&["--dry-run"][..], &[][..]] {
            let (files, db) = (site.files(), site.dump());
            let out = site.import(&src, extra);
            ran += 1;
            let stage = if extra.is_empty() {
                "import"
            } else {
                "import --dry-run"
            };
            problems.extend(judge(&name, stage, &s, &out, &format!("{name}-pack")));
            if s.exit != 0 {
                if site.files() != files {
                    problems.push(format!(
                        "{name} [{stage}]: the install folder changed: {:?}",
                        site.files()
                    ));
                }
                if site.dump() != db {
                    problems.push(format!("{name} [{stage}]: the site database changed"));
                }
            } else if extra.is_empty() && (site.files() == files || site.dump() == db) {
                // The control proves both comparisons see a real import's writes.
                problems.push(format!(
                    "{name} [{stage}]: the control changed no file or no row"
                ));
            }
            if let (0, Some(want), true) = (s.exit, s.imported, extra.is_empty()) {
                let got = imported_count(&out);
                if got != Some(want) {
                    problems.push(format!(
                        "{name} [{stage}]: imported {got:?} packs, expected {want}:\n{}",
                        stdout_of(&out)
                    ));
                }
            }
        }
        if tree(&src) != source_before {
            problems.push(format!("{name}: the carried folder was changed by import"));
        }
        if s.exit == 0 && !site.files().iter().any(|f| f.ends_with(".cab")) {
            problems.push(format!("{name}: the control imported nothing"));
        }
    }
    report(problems, ran);
}

/// The `imported` count of an import's closing summary line.
fn imported_count(out: &Output) -> Option<u64> {
    stdout_of(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .and_then(|v| v["imported"].as_u64())
}

/// A scenario that only signs (for a `prior` folder).
pub(crate) fn plain(sign: Option<String>) -> Scenario {
    Scenario {
        description: String::new(),
        stages: vec!["import".into()],
        exit: 0,
        error: None,
        error_by_stage: Default::default(),
        names: None,
        sign,
        edit_after_sign: Vec::new(),
        symlinks: Vec::new(),
        plant: Vec::new(),
        pad_catalog_to: None,
        prior: None,
        imported: None,
    }
}

#[test]
fn offer_scenarios_through_sct_fetch() {
    // Offers are refused before any catalog is fetched, so any pinned key will do.
    let key = sct::core::signing::PrivateKey::generate()
        .public()
        .to_string();
    let (mut problems, mut ran) = (Vec::new(), 0);
    for (name, s) in with_stage("fetch") {
        let env = Env::new();
        std::fs::copy(
            data_dir().join(&name).join("offers.jsonl"),
            env.path("offers.jsonl"),
        )
        .unwrap();
        let mut cmd = env.cmd("sct-fetch");
        let before = tree(env.dir.path());
        let out = cmd
            .args([
                "--offers",
                "offers.jsonl",
                "--dest",
                "packs",
                "--retries",
                "0",
            ])
            .args(["--trusted-key", &key])
            .output()
            .unwrap();
        ran += 1;
        problems.extend(judge(&name, "fetch", &s, &out, "offers"));
        if tree(env.dir.path()) != before {
            problems.push(format!(
                "{name} [fetch]: files were written: {:?}",
                tree(env.dir.path())
            ));
        }
    }
    report(problems, ran);
}
