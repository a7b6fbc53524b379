//! Readable summaries for a person at a terminal: `sct-pack inspect`, `sct-verify` and
//! `sct-import --list`.
//!
//! They are what those commands print on a terminal or with `--human`; piped, the same commands
//! print JSON instead ([`super::ViewArgs`]). The two never mix in one output. Plain text, no
//! colour, so a summary pasted into a ticket reads the same.

use crate::import::SitePackage;
use crate::usage_cab::CabReport;
use crate::verify::VerifyReport;
use std::io::Write;

/// A usage cab's identity and members, as `sct-pack inspect` shows it on a terminal.
pub fn write_cab_report(out: &mut dyn Write, report: &CabReport) -> anyhow::Result<()> {
    writeln!(out, "Usage cab      {}", report.cab)?;
    writeln!(out, "Checked        every member matches the manifest")?;
    writeln!(out, "Size           {} bytes", report.size)?;
    writeln!(out, "SHA-256        {}", report.sha256)?;
    writeln!(out, "Site           {}", report.site_code)?;
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
    let width = report
        .members
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0);
    for member in &report.members {
        writeln!(
            out,
            "  {:<width$}  {:>10} bytes  {}",
            member.name, member.size, member.sha256
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
                p.package.name.clone(),
                p.package.full_version.to_string(),
                state,
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

/// An update pack folder's verification, as `sct-verify` shows it on a terminal.
pub fn write_verify_report(out: &mut dyn Write, report: &VerifyReport) -> anyhow::Result<()> {
    writeln!(out, "Update packs   {}", report.dir)?;
    writeln!(
        out,
        "Catalog        version {}, signed by key {}, valid until {}",
        report.catalog_version, report.key_id, report.catalog_expires_at
    )?;
    let verdict = if report.ok {
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
            pack.name,
            pack.files,
            pack.bytes
        )?;
        for problem in &pack.problems {
            writeln!(out, "          - {problem}")?;
        }
    }
    for entry in &report.unexpected {
        writeln!(out, "  UNEXPECTED  {entry}")?;
    }
    Ok(())
}
