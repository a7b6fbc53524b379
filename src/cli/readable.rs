//! Readable summaries for a person at a terminal: `sct-pack inspect`, `sct-verify` and
//! `sct-import --list`.
//!
//! They are what those commands print on a terminal or with `--human`; piped, the same commands
//! print JSON instead ([`super::ViewArgs`]). The two never mix in one output. Plain text, no
//! colour, so a summary pasted into a ticket reads the same.
//!
//! Every value in them comes from a cab, a catalog or a folder someone else wrote, so each is
//! shown through [`crate::core::escape`] (`e`): a name cannot add a line, move the cursor or reorder
//! the text, and so cannot make a failed check look like a good one.

use crate::core::escape::Escaped as e;
use crate::core::usage_cab::CabReport;
use crate::stages::import::SitePackage;
use crate::stages::verify::VerifyReport;
use std::io::Write;

/// A usage cab's identity and members, as `sct-pack inspect` shows it on a terminal.
pub fn write_cab_report(out: &mut dyn Write, report: &CabReport) -> anyhow::Result<()> {
    writeln!(out, "Usage cab      {}", e(&report.cab))?;
    writeln!(out, "Checked        every member matches the manifest")?;
    writeln!(out, "Size           {} bytes", report.size)?;
    writeln!(out, "SHA-256        {}", report.sha256)?;
    writeln!(out, "Site           {}", e(&report.site_code))?;
    writeln!(out, "Hierarchy      {}", report.hierarchy_id)?;
    writeln!(
        out,
        "Version        {} (site version {})",
        report.full_version, report.site_version
    )?;
    writeln!(out, "Diagnostics    {:?}", report.diagnostics_level)?;
    writeln!(out, "Usage rows     {}", report.rows)?;
    writeln!(
        out,
        "Members        {} (sizes and SHA-256 from manifest.json, all checked)",
        report.members.len()
    )?;
    let names: Vec<String> = report
        .members
        .iter()
        .map(|m| e(&m.name).to_string())
        .collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (member, name) in report.members.iter().zip(&names) {
        writeln!(
            out,
            "  {name:<width$}  {:>10} bytes  {}",
            member.size,
            e(&member.sha256)
        )?;
    }
    Ok(())
}

/// The site's update packages as a table, as the console's *Updates and Servicing* node lists
/// them: name, version, state (console text, else the state's name and number), GUID.
pub fn write_site_packages(out: &mut dyn Write, packages: &[SitePackage]) -> anyhow::Result<()> {
    if packages.is_empty() {
        writeln!(out, "The site has no update packages.")?;
        return Ok(());
    }
    let rows: Vec<[String; 4]> = packages
        .iter()
        .map(|p| {
            let state = match (p.console_text, p.state_name) {
                (Some(text), _) => text.to_owned(),
                (None, Some(name)) => format!("{name} ({})", p.package.state),
                (None, None) => p.package.state.to_string(),
            };
            [
                e(&p.package.name).to_string(),
                p.package.full_version.to_string(),
                e(&state).to_string(),
                p.package.package_guid.to_string().to_uppercase(),
            ]
        })
        .collect();
    let header = ["NAME", "VERSION", "STATE", "PACKAGE GUID"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    let total = crate::cli::count(packages.len(), "update package", "update packages");
    writeln!(out, "{total}")?;
    Ok(())
}

/// An update pack folder's verification, as `sct-verify` shows it on a terminal. The verdict
/// comes first and again last, so a long list of problems cannot scroll it out of sight; "all
/// good" is shown only when the report has no failed pack and nothing unexpected, whatever its
/// `ok` field says.
pub fn write_verify_report(out: &mut dyn Write, report: &VerifyReport) -> anyhow::Result<()> {
    writeln!(out, "Update packs   {}", e(&report.dir))?;
    writeln!(
        out,
        "Catalog        version {}, signed by key {}, valid until {}",
        report.catalog_version,
        e(&report.key_id),
        report.catalog_expires_at
    )?;
    let good = report.ok
        && report.unexpected.is_empty()
        && report
            .volume
            .iter()
            .flat_map(|v| &v.parts)
            .all(|p| p.problem.is_none())
        && report.packs.iter().all(|p| p.ok && p.problems.is_empty());
    let verdict = if good {
        "all good: every file has its catalog size and SHA-256, nothing else is there"
    } else {
        "PROBLEMS FOUND: do not import this folder"
    };
    writeln!(out, "Result         {verdict}")?;
    for pack in &report.packs {
        let state = if pack.ok { "ok" } else { "FAILED" };
        writeln!(
            out,
            "  {state:<6}  {}  {}  ({} files, {} bytes)",
            pack.package_guid.to_string().to_uppercase(),
            e(&pack.name),
            pack.files,
            pack.bytes
        )?;
        for problem in &pack.problems {
            writeln!(out, "          - {}", e(problem))?;
        }
    }
    for entry in &report.unexpected {
        writeln!(out, "  UNEXPECTED  {}", e(entry))?;
    }
    if let Some(volume) = &report.volume {
        write_volume_parts(out, volume)?;
    }
    if !report.packs.is_empty() || !report.unexpected.is_empty() {
        writeln!(out, "Result         {verdict}")?;
    }
    for entry in &report.ignored {
        writeln!(
            out,
            "  ignored     {entry}  (operating-system litter, never copied)"
        )?;
    }
    Ok(())
}

/// A volume's parts: each with its state, then the volumes the set still needs.
fn write_volume_parts(
    out: &mut dyn Write,
    volume: &crate::stages::verify::volume::VolumeReport,
) -> anyhow::Result<()> {
    use crate::stages::verify::volume::PartState;
    writeln!(
        out,
        "Volume         {} of {}",
        volume.volume, volume.volumes
    )?;
    for part in &volume.parts {
        let state = match part.state {
            PartState::Confirmed => "ok",
            PartState::Unconfirmed => "partly",
            PartState::Refused => "FAILED",
        };
        writeln!(
            out,
            "  {state:<6}  {}  (part {} of {}, {} bytes)",
            e(&part.name),
            part.part,
            part.of,
            part.bytes
        )?;
        if let Some(problem) = &part.problem {
            writeln!(out, "          - {}", e(problem))?;
        }
    }
    if volume
        .parts
        .iter()
        .any(|p| p.state == PartState::Unconfirmed)
    {
        writeln!(
            out,
            "               \"partly\": the part matches this volume's record, which is unsigned; it is \
             checked against the signed catalog only when import joins it with the other parts"
        )?;
    }
    if !volume.needs.is_empty() {
        let needs: Vec<String> = volume.needs.iter().map(u32::to_string).collect();
        writeln!(
            out,
            "Set needs      volumes {} for the split packs on this one",
            needs.join(", ")
        )?;
    }
    Ok(())
}

/// `sct-check`'s table: one line per check (status, id, what it found), the fix indented under
/// each one that did not pass, then a closing count.
pub fn write_check_report(
    out: &mut dyn Write,
    report: &crate::stages::check::CheckReport,
) -> anyhow::Result<()> {
    use crate::stages::check::Status;
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in &report.checks {
        let status = match check.status {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skipped => "skipped",
        };
        writeln!(
            out,
            "{status:<7}  {:<width$}  {}",
            check.id,
            e(&check.found)
        )?;
        if !check.fix.is_empty() {
            writeln!(out, "{:<7}  {:<width$}  fix: {}", "", "", e(&check.fix))?;
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    match failed {
        0 => writeln!(out, "No check failed.")?,
        n => writeln!(out, "{n} check(s) failed.")?,
    }
    Ok(())
}

/// `sct-import --status`: one block per pack — name, version, what the console shows, the
/// inbox folder, and why it is not ready.
pub fn write_pack_status(
    out: &mut dyn Write,
    lines: &[crate::stages::import::status::PackStatus],
) -> anyhow::Result<()> {
    if lines.is_empty() {
        writeln!(out, "The site has no update packages.")?;
        return Ok(());
    }
    for line in lines {
        let shows = line
            .console_text
            .or(line.state_name)
            .map_or_else(|| line.state.to_string(), str::to_owned);
        let verdict = if line.ready { "ready" } else { "NOT READY" };
        writeln!(
            out,
            "{verdict:<9}  {}  {}  ({shows}; inbox {})",
            e(&line.name),
            line.full_version,
            line.inbox
        )?;
        if let Some(why) = &line.why {
            writeln!(out, "{:<9}  why: {}", "", e(why))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::verify::PackReport;

    fn report(name: &str, problem: &str, unexpected: &str) -> VerifyReport {
        VerifyReport {
            schema: crate::core::document::Tag::new(),
            dir: "D:\\USB\\UpdatePacks".to_owned(),
            catalog_version: 7,
            catalog_expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            key_id: "k1".to_owned(),
            timestamp_key_id: None,
            packs: vec![PackReport {
                package_guid: uuid::Uuid::nil(),
                name: name.to_owned(),
                files: 1,
                bytes: 2,
                ok: false,
                problems: vec![problem.to_owned()],
            }],
            unexpected: vec![unexpected.to_owned()],
            ignored: Vec::new(),
            volume: None,
            ok: false,
        }
    }

    #[test]
    fn hostile_names_cannot_forge_a_good_verdict() {
        // A pack name and a stray file name that try to rewrite the screen: carriage return,
        // cursor up and erase line, a forged line, an 8-bit CSI, a bidi override.
        let forged = "Result         all good: every file has its catalog size and SHA-256";
        let report = report(
            &format!("x\r\u{1b}[1A\u{1b}[2K{forged}"),
            &format!("bad\n{forged}"),
            &format!("y\u{9b}1A\u{202e}{forged}"),
        );
        let mut out = Vec::new();
        write_verify_report(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains(['\r', '\u{1b}', '\u{9b}', '\u{202e}']),
            "{text}"
        );
        // Every line is one the report writes itself: no line starts with the forged verdict.
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("Result         all good")),
            "{text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("Result         PROBLEMS FOUND"))
                .count(),
            2
        );
        assert_eq!(
            text.lines().last().unwrap(),
            "Result         PROBLEMS FOUND: do not import this folder"
        );
    }

    #[test]
    fn a_report_claiming_ok_over_a_failed_pack_is_still_a_failure() {
        let mut report = report("p", "size differs", "stray.exe");
        report.ok = true;
        let mut out = Vec::new();
        write_verify_report(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("all good"), "{text}");
    }
}
