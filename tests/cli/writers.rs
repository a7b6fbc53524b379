//! Every file sct writes under a name it was given — a stage's `--log`, `-export`'s CSV, a
//! collected document — is never written through a link planted at that name, nor into a FIFO:
//! a link on the drive must not make a run as the site's administrator append to, replace or
//! create a file elsewhere (issue 21, docs/reliability.md "links where sct writes").

use crate::exit::assert_exit;
use crate::support::{Env, WINE_HIDES_SYMLINKS, skip_on_wine, stderr_of};

/// The writers an operator points at the drive, each with the name it writes.
fn writers() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("sct-verify", vec!["usb/packs", "--log", "usb/sct.log"]),
        (
            "sct-import",
            vec!["--src", "usb/packs", "--log", "usb/sct.log"],
        ),
        ("sct-collect", vec!["-o", "usb/sct.log"]),
        ("sct-collect", vec!["--format", "csv", "-o", "usb/sct.log"]),
        (
            "ServiceConnectionTool",
            vec!["-export", "-dest", "usb/sct.log"],
        ),
    ]
}

#[test]
fn a_link_planted_where_sct_writes_is_refused_and_nothing_elsewhere_changes() {
    if skip_on_wine(
        "writers::a_link_planted_where_sct_writes_is_refused_and_nothing_elsewhere_changes",
        WINE_HIDES_SYMLINKS,
    ) {
        return;
    }
    let env = Env::new();
    let site = env.demo_site("ps1", &[]);
    std::fs::create_dir_all(env.path("usb/packs")).unwrap();
    let victim = env.path("site-file.txt");
    std::fs::write(&victim, "keep\n").unwrap();
    let elsewhere = env.path("created-elsewhere.txt");
    for (bin, args) in writers() {
        for target in [&victim, &elsewhere] {
            let link = env.path("usb/sct.log");
            std::os::unix::fs::symlink(target, &link).unwrap();
            let out = env
                .cmd(bin)
                .env("SCT_SITE", &site)
                .args(&args)
                .output()
                .unwrap();
            assert_exit!(out, Rejected, "{bin} {args:?} → {}", target.display());
            let said = stderr_of(&out);
            assert!(said.contains("link"), "{bin} {args:?}: {said}");
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n", "{bin}");
            assert!(
                !elsewhere.exists(),
                "{bin} {args:?} created the link's target"
            );
            assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
            std::fs::remove_file(&link).unwrap();
        }
    }
}

#[test]
fn a_fifo_planted_where_a_log_goes_neither_blocks_nor_passes() {
    if skip_on_wine(
        "writers::a_fifo_planted_where_a_log_goes_neither_blocks_nor_passes",
        "Windows folders hold no FIFOs; one made on the Linux side would test Wine's emulation",
    ) {
        return;
    }
    let env = Env::new();
    std::fs::create_dir_all(env.path("usb/packs")).unwrap();
    let fifo = env.path("usb/sct.log");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let out = env
        .cmd("sct-verify")
        .args(["usb/packs", "--log", "usb/sct.log"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_exit!(out, Rejected);
    assert!(stderr_of(&out).contains("FIFO"), "{}", stderr_of(&out));
}

/// Reads a CSV as a spreadsheet of a locale whose list separator is `separator` would, and
/// returns every cell that it would evaluate as a formula.
fn live_formulas(text: &str, separator: u8) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let starts = ['=', '+', '-', '@', '＝', '＋', '－', '＠'];
    reader
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
        .filter(|cell| {
            cell.trim_start_matches([' ', '\u{3000}'])
                .starts_with(starts)
        })
        .collect()
}

/// Issue 21: `Contoso;=cmd|…` was a live formula in de-DE Excel, which splits at `;`. Every CSV
/// writer (`-export`, `sct-collect --format csv`, `sct-pack inspect --csv`) is read here with
/// `,`, `;` and TAB as the separator, and none leaves a cell a spreadsheet would evaluate.
#[test]
fn no_csv_writer_leaves_a_live_formula_in_any_locale() {
    let env = Env::new();
    let site = env.demo_site(
        "ps1",
        &[
            "--site-name=Contoso;=cmd|' /C calc'!A0;x",
            "--install-dir= =3+3\t@SUM(A1),＝1+1",
        ],
    );
    let run = |bin: &str, args: &[&str]| {
        let out = env
            .cmd(bin)
            .env("SCT_SITE", &site)
            .args(args)
            .output()
            .unwrap();
        assert_exit!(out, Success, "{bin} {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    run("ServiceConnectionTool", &["-export", "-dest", "review.csv"]);
    run(
        "ServiceConnectionTool",
        &["-prepare", "-usagedatadest", "UsageData.cab"],
    );
    let sheets = [
        (
            "-export",
            std::fs::read_to_string(env.path("review.csv")).unwrap(),
        ),
        ("sct-collect", run("sct-collect", &["--format", "csv"])),
        (
            "sct-pack inspect",
            run("sct-pack", &["inspect", "--csv", "UsageData.cab"]),
        ),
    ];
    for (writer, text) in &sheets {
        assert!(text.contains("Contoso;'=cmd|"), "{writer}: {text}");
        for separator in [b',', b';', b'\t'] {
            let live = live_formulas(text, separator);
            assert!(
                live.is_empty(),
                "{writer} read with `{}`: {live:?}",
                separator as char
            );
        }
    }
}
