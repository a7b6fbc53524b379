//! Operator experience: every stage's `--log FILE` opens as CMTrace entries, `--dry-run` on
//! upload plans without contacting anything, inspect and list print JSON when piped and a summary
//! when asked, and the man pages and completions generate from the clap definitions.

use crate::exit::assert_exit;
use crate::kit::{HIERARCHY_A, HIERARCHY_B, Server, published, two_hierarchies, usage_cab};
use crate::support::{Env, bin_path, require_tool, stderr_of, stdout_of};
use sct_testkit::cmtrace::{self, Entry, Severity};
use std::path::Path;

/// Every line of a stage log, each parsed on its own as one CMTrace record (no ANSI anywhere).
pub fn cmtrace_entries(path: &Path) -> Vec<Entry> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!bytes.contains(&0x1b), "ANSI escape in {}", path.display());
    let text = String::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let entries: Vec<Entry> = text
        .lines()
        .map(|line| {
            cmtrace::parse_record(line).unwrap_or_else(|e| {
                panic!("{}: `{line}` is not a CMTrace entry: {e}", path.display())
            })
        })
        .collect();
    assert!(!entries.is_empty(), "{} is empty", path.display());
    entries
}

/// The messages of the entries logged by `component`.
fn messages_of<'a>(entries: &'a [Entry], component: &str) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|e| e.component == component)
        .map(|e| e.message.as_str())
        .collect()
}

/// Validates a document against its published schema in docs/schemas/.
fn assert_valid(kind: &str, doc: &serde_json::Value) {
    let path = format!("{}/docs/schemas/{kind}.json", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{kind}: {errors:?}\n{doc:#}");
}

fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout_of(out),
        stderr_of(out)
    );
}

#[test]
fn collect_and_pack_log_their_key_events_to_one_file() {
    let env = Env::new();
    let site = env.demo_site_with("ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    let log = env.path("stages.log");
    let json = env.path("usage.json");
    let out = env
        .cmd("sct-collect")
        .args(["--site", &site, "-o"])
        .arg(&json)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert_ok(&out);
    let cab = env.path("UsageData.cab");
    let out = env
        .cmd("sct-pack")
        .arg("create")
        .arg(&json)
        .arg("-o")
        .arg(&cab)
        .arg("--log")
        .arg(&log)
        .arg("--quiet")
        .output()
        .unwrap();
    assert_ok(&out);
    let entries = cmtrace_entries(&log);
    let collect = messages_of(&entries, "sct-collect");
    assert!(
        collect[0].starts_with("INFO: sct-collect (sct "),
        "{collect:?}"
    );
    assert!(
        collect
            .iter()
            .any(|m| m.contains("Collected usage data of site PS1") && m.contains(HIERARCHY_A)),
        "{collect:?}"
    );
    let pack = messages_of(&entries, "sct-pack");
    assert!(
        pack.iter()
            .any(|m| m.starts_with("INFO: Packed usage cab") && m.contains("SHA-256 = ")),
        "{pack:?}"
    );
    assert!(entries.iter().all(|e| e.severity == Severity::Info));
}

#[test]
fn a_failing_stage_logs_its_error_and_exit_code() {
    let env = Env::new();
    let log = env.path("pack.log");
    let out = env
        .cmd("sct-pack")
        .args(["inspect", "no-such.cab", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    assert_exit!(out, Io);
    let entries = cmtrace_entries(&log);
    let errors: Vec<&str> = entries
        .iter()
        .filter(|e| e.severity == Severity::Error)
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        errors.iter().any(|m| m.contains("no-such.cab")),
        "{errors:?}"
    );
    assert_eq!(
        errors.last(),
        Some(&"ERROR: sct-pack failed with exit code 3")
    );
}

#[test]
fn upload_logs_each_cab_its_receipt_and_the_proxy_decision() {
    let env = Env::new();
    let service = published(&env);
    let server = Server::start(&env, &service.root, &[], &[]);
    let usb = two_hierarchies(&env);
    let log = env.path("upload.log");
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&usb)
        .args([
            "--service-url",
            &server.url,
            "--trusted-key",
            &service.public,
        ])
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert_ok(&out);
    let entries = cmtrace_entries(&log);
    let text = messages_of(&entries, "sct-upload");
    for hierarchy in [HIERARCHY_A, HIERARCHY_B] {
        assert!(
            text.iter().any(|m| m.starts_with("INFO: Uploading ")
                && m.contains("size = ")
                && m.contains(hierarchy)),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.starts_with("INFO: Receipt for ") && m.contains(hierarchy)),
            "{text:?}"
        );
    }
    // The original's words, then why: no flag, no setting, no variable.
    assert!(
        text.iter().any(|m| m.starts_with(
            "INFO: No proxy information is specified. Connect without proxy. (no --proxy"
        )),
        "{text:?}"
    );
    // stderr is a pipe here: no progress bar, no terminal codes.
    assert!(!out.stderr.contains(&0x1b), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("ETA"), "{}", stderr_of(&out));
    assert!(
        text.iter()
            .any(|m| m.contains("verified against the pinned keys"))
    );
}

#[test]
fn upload_dry_run_plans_without_contacting_anything() {
    let env = Env::new();
    let usb = two_hierarchies(&env);
    // Nothing listens on this port: a dry run that tried to connect would fail.
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&usb)
        .args(["--service-url", "http://127.0.0.1:9", "--dry-run"])
        .args(["--proxy", "itproxy:3128", "--proxy-user", "jq"])
        .output()
        .unwrap();
    assert_ok(&out);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["schema"], "sct.upload-plan.v1");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["upload_url"], "http://127.0.0.1:9/api/v1/usage");
    assert_eq!(plan["proxy"], "itproxy:3128");
    let cabs = plan["cabs"].as_array().unwrap();
    let mut hierarchies: Vec<&str> = cabs
        .iter()
        .map(|c| c["hierarchy_id"].as_str().unwrap())
        .collect();
    hierarchies.sort();
    let mut expected = [HIERARCHY_A, HIERARCHY_B];
    expected.sort();
    assert_eq!(hierarchies, expected);
    let total: u64 = cabs.iter().map(|c| c["size"].as_u64().unwrap()).sum();
    assert!(total > 0);
    assert_eq!(plan["total_bytes"], total);
    assert!(cabs.iter().all(|c| c["site_version"].is_string()));
    assert!(stderr_of(&out).contains("nothing was sent"));
    // Without SCT_PROXY_PASSWORD and without a terminal a real run would stop (exit 2) to ask
    // for the password; the plan asks for none.
    assert_valid("sct.upload-plan.v1", &plan);
}

#[test]
fn upload_dry_run_refuses_what_a_real_run_would_refuse() {
    let env = Env::new();
    let cab = usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&cab)
        .args(["--dry-run", "--proxy", "http://jq:s3cret@itproxy:3128"])
        .output()
        .unwrap();
    assert_exit!(out, Usage);
    assert!(stderr_of(&out).contains("carries a password"));
    assert!(!stderr_of(&out).contains("s3cret"));
    assert!(out.stdout.is_empty());
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&cab)
        .args(["--dry-run", "--service-url", "ftp://nowhere"])
        .output()
        .unwrap();
    assert_exit!(out, Usage);
}

#[test]
fn upload_dry_run_needs_no_service_url() {
    let env = Env::new();
    let cab = usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    let out = env
        .cmd("sct-upload")
        .env("SCT_SERVICE_TOKEN", crate::kit::TOKEN)
        .arg(&cab)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_ok(&out);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan["upload_url"].is_null());
    assert_eq!(plan["cabs"][0]["site_code"], "PS1");
}

#[test]
fn inspect_prints_json_when_piped_and_a_summary_on_request() {
    let env = Env::new();
    let cab = usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    let run = |extra: &[&str]| {
        let out = env
            .cmd("sct-pack")
            .arg("inspect")
            .arg(&cab)
            .args(extra)
            .output()
            .unwrap();
        assert_ok(&out);
        stdout_of(&out)
    };
    for piped in [run(&[]), run(&["--json"])] {
        let report: serde_json::Value = serde_json::from_str(&piped).unwrap();
        assert_eq!(report["schema"], "sct.usage-cab.v1");
        assert_eq!(report["hierarchy_id"], HIERARCHY_A);
    }
    let human = run(&["--human"]);
    assert!(serde_json::from_str::<serde_json::Value>(&human).is_err());
    assert!(
        human.contains(&format!("Hierarchy      {HIERARCHY_A}")),
        "{human}"
    );
    assert!(human.contains("Site           PS1"), "{human}");
    assert!(human.contains("UsageData.json"), "{human}");
    let both = env
        .cmd("sct-pack")
        .arg("inspect")
        .arg(&cab)
        .args(["--json", "--human"])
        .output()
        .unwrap();
    assert_exit!(both, Usage, "--json and --human conflict");
}

#[test]
fn inspect_on_a_terminal_prints_the_summary() {
    if crate::support::skip_on_wine(
        "operator::inspect_on_a_terminal_prints_the_summary",
        "`script` execs the binary itself in a Linux pseudo-terminal; the .exe needs the Wine loader in front of it",
    ) {
        return;
    }
    require_tool("script");
    let env = Env::new();
    let cab = usage_cab(&env, "ps1", "PS1", "5.00.9128.1000", HIERARCHY_A);
    // `script` runs the command with stdout on a pseudo-terminal, as an operator's shell would.
    let line = format!(
        "'{}' inspect '{}'",
        bin_path("sct-pack").display(),
        cab.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    assert_ok(&out);
    let shown = stdout_of(&out);
    assert!(
        shown.contains(&format!("Hierarchy      {HIERARCHY_A}")),
        "{shown}"
    );
    assert!(
        !shown.contains("\"schema\""),
        "no JSON on a terminal: {shown}"
    );
}

#[test]
fn docgen_writes_man_pages_naming_every_flag_and_completions() {
    let env = Env::new();
    let out_dir = env.path("docs");
    let out = env
        .command("sct-docgen")
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_ok(&out);
    for (name, mut command) in sct::cli::args::commands() {
        command.build();
        let mut pages = vec![(name.to_owned(), command.clone())];
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            pages.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        for (page, command) in pages {
            let path = out_dir.join("man").join(format!("{page}.1"));
            let roff = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let text = roff.replace("\\-", "-");
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    assert!(
                        text.contains(&format!("--{long}")),
                        "{page}.1 lacks --{long}"
                    );
                }
            }
        }
        for file in [
            format!("bash/{name}"),
            format!("zsh/_{name}"),
            format!("powershell/{name}.ps1"),
        ] {
            let script = std::fs::read_to_string(out_dir.join("completions").join(&file)).unwrap();
            assert!(script.contains(name), "{file} does not name {name}");
        }
    }
    let upload = std::fs::read_to_string(out_dir.join("completions/bash/sct-upload")).unwrap();
    assert!(upload.contains("--dry-run") && upload.contains("--log"));
}
