//! The library's floors (docs/architecture.md): each floor uses only the floors below it, the
//! stages and the service never use each other, and nothing below the cli prints.
//!
//! Read from the sources, so a `use` that points up fails here, naming its file and line, before a
//! reviewer has to notice it.

use std::path::{Path, PathBuf};

/// Each floor and its height: a floor may use its own modules and any lower floor.
const FLOORS: [(&str, u8); 5] = [
    ("core", 0),
    ("site", 1),
    ("stages", 2),
    ("service", 2),
    ("cli", 3),
];

/// What writes to the process's stdout or stderr directly.
const PRINTING: [&str; 8] = [
    "println!(",
    "eprintln!(",
    "print!(",
    "eprint!(",
    "dbg!(",
    "io::stdout()",
    "io::stderr()",
    "ProgressDrawTarget::stderr",
];

#[test]
fn every_floor_uses_only_the_floors_below_it() {
    let mut wrong = Vec::new();
    for (floor, height) in FLOORS {
        for (file, line, text) in code_lines(floor) {
            for used in floors_named(&text) {
                let allowed = used == floor || height_of(used).is_some_and(|h| h < height);
                if !allowed {
                    wrong.push(format!(
                        "{file}:{line}: {floor} uses {used}: {}",
                        text.trim()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "uses that point up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn nothing_below_the_cli_prints() {
    let mut printing = Vec::new();
    for (floor, _) in FLOORS.iter().filter(|(floor, _)| *floor != "cli") {
        for (file, line, text) in code_lines(floor) {
            if PRINTING.iter().any(|p| text.contains(p)) {
                printing.push(format!("{file}:{line}: {}", text.trim()));
            }
        }
    }
    assert!(
        printing.is_empty(),
        "library code below the cli writes to stdout or stderr (report through \
         sct::core::report instead):\n{}",
        printing.join("\n")
    );
}

#[test]
fn the_scan_sees_uses_in_every_form() {
    assert_eq!(floors_named("use crate::core::catalog::Catalog;"), ["core"]);
    assert_eq!(
        floors_named("use crate::{cli::note, core::{error, hash}, stages::fetch};"),
        ["cli", "core", "stages"]
    );
    assert_eq!(floors_named("$crate::core::error::fail(k, m)"), ["core"]);
    assert!(floors_named("let x = crate_name::cli;").is_empty());
}

fn height_of(floor: &str) -> Option<u8> {
    FLOORS.iter().find(|(f, _)| *f == floor).map(|(_, h)| *h)
}

/// The floors a line names through `crate::FLOOR` or `crate::{FLOOR::…, …}`.
fn floors_named(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        if at > 0 && text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => found.extend(group_heads(group)),
            None => found.push(head(rest)),
        }
    }
    found.retain(|name| height_of(name).is_some());
    found
}

/// The first names of a `use` group's items at its top level: `a::b, c::{d, e}` gives `a`, `c`.
fn group_heads(group: &str) -> Vec<&str> {
    let mut heads = vec![head(group)];
    let mut depth = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => heads.push(head(&group[i + 1..])),
            _ => {}
        }
    }
    heads
}

fn head(path: &str) -> &str {
    let path = path.trim_start();
    let end = path
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(path.len());
    &path[..end]
}

/// The code lines of a floor's sources, as (file, line number, text): comments and unit tests
/// left out, since neither is linked into the library.
fn code_lines(floor: &str) -> Vec<(String, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut lines = Vec::new();
    for path in rust_files(&root.join("src").join(floor)) {
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let shown = path.strip_prefix(root).unwrap().display().to_string();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        for (number, line) in code.lines().enumerate() {
            if !line.trim_start().starts_with("//") {
                lines.push((shown.clone(), number + 1, line.to_owned()));
            }
        }
    }
    assert!(!lines.is_empty(), "no sources found for the {floor} floor");
    lines
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}
