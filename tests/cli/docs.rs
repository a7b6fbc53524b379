//! Every command example in README.md and docs/*.md runs, or says why it cannot run here.
//!
//! The rules (docs/README.md, "Examples that run"):
//! - every fenced block names its language (`text`, `json`, `toml`, `bash`, ...);
//! - `bash` and `sh` blocks run, top to bottom per page, in one `bash -euo pipefail` script, in a
//!   scratch folder with the built binaries first on PATH, a demo site (`SCT_SITE`), a running
//!   update service (`SCT_SERVICE_URL`, `SCT_SERVICE_TOKEN`) and its key (`SCT_TRUSTED_KEYS`), and
//!   a drive as after a
//!   first `-prepare` and `-connect`;
//! - a block that cannot run here (PowerShell, Windows paths, installs, minutes of fuzzing) has
//!   `<!-- not run: REASON -->` on the line before its fence; PowerShell and cmd blocks must.
//!
//! The examples' placeholder paths and addresses are mapped into the scratch folder ([`PLACES`]).

use crate::kit::{Server, published};
use crate::support::{Env, bin_path};
use std::path::{Path, PathBuf};

/// Placeholders the docs use, and what they stand for in the scratch folder (`{scratch}`), the
/// running service (`{url}`) and its key (`{key}`).
const PLACES: &[(&str, &str)] = &[
    ("/media/usb", "{scratch}/usb"),
    ("/var/lib/sct/site.db", "{scratch}/site/site.db"),
    ("/srv/sct", "{scratch}/srv/sct"),
    ("/etc/sct", "{scratch}/etc/sct"),
    ("https://updates.example.org", "{url}"),
    ("ed25519:...", "{key}"),
];

/// Languages of command examples: shells that run here, and those that never do.
const RUN: &[&str] = &["bash", "sh"];
const NEVER: &[&str] = &["powershell", "ps1", "cmd", "bat", "console", "shell"];

/// One fenced block of a page.
#[derive(Debug)]
struct Block {
    line: usize,
    lang: String,
    /// `Some(reason)` when marked `<!-- not run: REASON -->`.
    not_run: Option<String>,
    text: String,
}

/// The fenced blocks of a Markdown page, with the marker on the line before each.
fn blocks(page: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = page.lines().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(lang) = lines[index].trim_start().strip_prefix("```") else {
            index += 1;
            continue;
        };
        let start = index;
        let end = (start + 1..lines.len())
            .find(|&i| lines[i].trim() == "```")
            .ok_or_else(|| format!("line {}: the block is not closed", start + 1))?;
        let marker = start
            .checked_sub(1)
            .map(|i| lines[i].trim())
            .and_then(|l| l.strip_prefix("<!-- not run:"))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|reason| reason.trim().to_owned());
        let indent = lines[start].len() - lines[start].trim_start().len();
        let text: Vec<&str> = lines[start + 1..end]
            .iter()
            .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
            .collect();
        found.push(Block {
            line: start + 1,
            lang: lang.trim().to_owned(),
            not_run: marker,
            text: text.join("\n"),
        });
        index = end + 1;
    }
    Ok(found)
}

/// README.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn shown(page: &Path) -> String {
    page.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(page)
        .display()
        .to_string()
}

/// The rules hold on every page: a language on every fence, a reason on every marker, and every
/// PowerShell or cmd block marked.
#[test]
fn every_example_is_runnable_or_says_why_not() {
    let mut problems = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let found = match blocks(&text) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!("{}: {e}", shown(&page)));
                continue;
            }
        };
        for block in found {
            let at = format!("{}:{}", shown(&page), block.line);
            if block.lang.is_empty() {
                problems.push(format!(
                    "{at}: name the block's language (text, json, bash, powershell, ...)"
                ));
            }
            if block.not_run.as_deref() == Some("") {
                problems.push(format!("{at}: `<!-- not run: -->` needs a reason"));
            }
            if NEVER.contains(&block.lang.as_str()) && block.not_run.is_none() {
                problems.push(format!(
                    "{at}: a {} block cannot run here: mark it `<!-- not run: REASON -->`",
                    block.lang
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The scratch world the examples of one page run in.
struct World {
    env: Env,
    server: Server,
    key: String,
}

impl World {
    fn new() -> Self {
        let env = Env::new();
        let service = published(&env);
        let server = Server::start(&env, &service.root, &[], &[]);
        for dir in ["usb", "site/install", "srv/sct", "etc/sct"] {
            std::fs::create_dir_all(env.path(dir)).unwrap();
        }
        let install = env.path("site/install");
        env.cmd("sct-demo")
            .args(["site", "--db"])
            .arg(env.path("site/site.db"))
            .args(["--site-code", "PS1", "--site-name", "Contoso Primary Site"])
            .args(["--version", "5.00.9128.1000", "--install-dir"])
            .arg(&install)
            .assert()
            .success();
        // The drive as after a first -prepare and -connect, for pages that start mid-flow.
        let site = format!("sqlite:{}", env.path("site/site.db").display());
        for args in [
            &["-prepare", "-usagedatadest", "usb/UsageData.cab"][..],
            &[
                "-connect",
                "-usagedatasrc",
                "usb",
                "-updatepackdest",
                "usb/UpdatePacks",
            ],
        ] {
            server
                .client(&env, "ServiceConnectionTool", &service)
                .env("SCT_SITE", &site)
                .args(args)
                .assert()
                .success();
        }
        // Examples name repository paths (docs/schemas/..., scripts/...) from the repository root.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for name in ["docs", "scripts"] {
            #[cfg(unix)]
            std::os::unix::fs::symlink(root.join(name), env.path(name)).unwrap();
        }
        Self {
            key: service.public,
            server,
            env,
        }
    }

    fn place(&self, text: &str) -> String {
        let scratch = self.env.dir.path().display().to_string();
        PLACES.iter().fold(text.to_owned(), |text, (from, to)| {
            let to = to
                .replace("{scratch}", &scratch)
                .replace("{url}", &self.server.url)
                .replace("{key}", &self.key);
            text.replace(from, &to)
        })
    }

    /// Runs a page's examples as one script; the output names the block that failed.
    fn run(&self, page: &Path, runnable: &[Block]) -> Result<(), String> {
        let mut script = String::from("set -euo pipefail\n");
        for block in runnable {
            script.push_str(&format!(
                "echo '--- {}:{}' >&2\n{}\n",
                shown(page),
                block.line,
                self.place(&block.text)
            ));
        }
        let bin = bin_path("sct-pack").parent().unwrap().to_owned();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = std::process::Command::new("bash");
        for (key, _) in std::env::vars() {
            if key.starts_with("SCT_") || key.to_ascii_uppercase().ends_with("_PROXY") {
                cmd.env_remove(&key);
            }
        }
        let config = self.env.path("sct-empty.toml");
        std::fs::write(&config, "").unwrap();
        let out = cmd
            .current_dir(self.env.dir.path())
            .env("SCT_CONFIG", &config)
            .env("SCT_LOG_DIR", self.env.logs())
            .arg("-c")
            .arg(&script)
            .env("PATH", path)
            .env(
                "SCT_SITE",
                format!("sqlite:{}", self.env.path("site/site.db").display()),
            )
            .env("SCT_SERVICE_URL", &self.server.url)
            .env("SCT_TRUSTED_KEYS", &self.key)
            .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{} exited {:?}\n--- script\n{script}\n--- stderr\n{}\n--- stdout\n{}",
            shown(page),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// The `bash` and `sh` examples of every page run against a demo site and a local service.
#[cfg(unix)]
#[test]
fn the_examples_run() {
    if crate::support::skip_on_wine(
        "docs::the_examples_run",
        "the examples are bash scripts calling the Linux binaries by name",
    ) {
        return;
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let runnable: Vec<Block> = blocks(&text)
            .unwrap_or_default()
            .into_iter()
            .filter(|b| RUN.contains(&b.lang.as_str()) && b.not_run.is_none())
            .collect();
        if runnable.is_empty() {
            continue;
        }
        ran += runnable.len();
        if let Err(failure) = World::new().run(&page, &runnable) {
            failures.push(failure);
        }
    }
    assert!(ran >= 10, "only {ran} examples ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `scripts/demo.sh` with `CARGO_TARGET_DIR` elsewhere puts that folder's binaries on PATH, and
/// after it ends, `demo.env`'s `sct_demo_service` restarts the update service so `-connect` can run
/// again by hand (issue 14, item 14). The target folder is reached through a link of another name,
/// so the build stays warm while a demo that ignored the variable would still name `target/`.
#[cfg(unix)]
#[test]
fn demo_follows_cargo_target_dir_and_its_env_file_restarts_the_service() {
    if crate::support::skip_on_wine(
        "docs::demo_follows_cargo_target_dir_and_its_env_file_restarts_the_service",
        "scripts/demo.sh is a bash script that builds and runs the Linux binaries",
    ) {
        return;
    }
    let env = Env::new();
    let target = Path::new(env!("CARGO_BIN_EXE_sct-pack"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let elsewhere = env.path("elsewhere-target");
    std::os::unix::fs::symlink(target, &elsewhere).unwrap();
    let demo = env.path("demo");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/demo.sh"))
        .env("CARGO_TARGET_DIR", &elsewhere)
        .env("SCT_DEMO_DIR", &demo)
        .env_remove("SCT_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo.sh: {stderr}");
    let settings = std::fs::read_to_string(demo.join("demo.env")).unwrap();
    let path_line = format!("export PATH=\"{}/debug:$PATH\"", elsewhere.display());
    assert!(settings.contains(&path_line), "{settings}");

    // The demo has ended and its service with it: restart it from demo.env, connect again.
    let rerun = r#"set -euo pipefail
source "$SCT_DEMO_DIR/demo.env"
sct_demo_service
trap 'kill "$SCT_DEMO_SERVICE_PID"' EXIT
ServiceConnectionTool -connect -usagedatasrc "$SCT_DEMO_DIR/usb" \
  -updatepackdest "$SCT_DEMO_DIR/usb/UpdatePacks" -downloadall >/dev/null
sct-verify "$SCT_DEMO_DIR/usb/UpdatePacks" >/dev/null
"#;
    let out = std::process::Command::new("bash")
        .args(["-c", rerun])
        .env("SCT_DEMO_DIR", &demo)
        .env_remove("SCT_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "connect after sct_demo_service: {stderr}"
    );
    assert!(
        stderr.contains("update service at http://127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn blocks_and_markers_are_read() {
    let page = "text\n<!-- not run: needs Windows -->\n```powershell\nGet-Item x\n```\n\n```bash\necho hi\n```\n  ```sh\n  ls\n  ```\n";
    let found = blocks(page).unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].not_run.as_deref(), Some("needs Windows"));
    assert_eq!(found[1].lang, "bash");
    assert_eq!(found[1].not_run, None);
    assert_eq!(found[2].text, "ls");
    assert!(blocks("```bash\nnever closed\n").is_err());
}
