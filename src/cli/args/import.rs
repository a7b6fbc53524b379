//! `sct-import`: a verified update-pack folder → the site's inbox (and, for the embedded site, its
//! `CM_UpdatePackages`). The logic is `crate::import`.
//!
//! The `///` comments here are also `--help` text, where `<GUID>` is plain text for an operator.
#![allow(rustdoc::invalid_html_tags)]

use crate::cli::{OperatorArgs, ViewArgs};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = "sct-import";

/// Import the update packs fetched for this hierarchy into the site.
///
/// Verifies DIR exactly as sct-verify does, then copies each pack that was fetched for this
/// hierarchy and applies to this site's version into <install dir>/EasySetupPayload/offline/<GUID>/
/// (staged, checked, fsynced, renamed into place). An embedded (sqlite:) site records the packs as
/// Ready to install (262146); a SQL Server site is only read, as with the original tool.
#[derive(Parser, Debug)]
#[command(version, after_help = AFTER_HELP)]
pub struct Args {
    /// The update pack folder written by sct-fetch (catalog.json, fetched.json, <GUID>/...).
    #[arg(value_name = "DIR", required_unless_present_any = ["list", "src"], value_parser = crate::paths::path_flag)]
    pub dir: Option<PathBuf>,
    /// The same folder as a flag (older runbooks).
    #[arg(long, value_name = "DIR", conflicts_with = "dir", value_parser = crate::paths::path_flag)]
    pub src: Option<PathBuf>,
    /// Only list the site's update packages and their states (read only), then exit.
    #[arg(long, conflicts_with_all = ["dry_run", "allow_rollback", "wait"])]
    pub list: bool,
    /// Site database, e.g. sqlite:/var/lib/sct/site.db [default: SCT_SITE, then sct.toml]
    #[arg(long, value_name = "LOCATOR")]
    pub site: Option<String>,
    /// The site's install folder [default: SCT_INSTALL_DIR, then sct.toml, then the site's own]
    #[arg(long, value_name = "DIR", value_parser = crate::paths::path_flag)]
    pub install_dir: Option<PathBuf>,
    /// A pinned catalog key (ed25519:... or a key file); repeat for rotation
    /// [default: SCT_TRUSTED_KEYS, then sct.toml]
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,
    /// Print what would be imported; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Import a catalog older than the newest one imported before (logged as a warning).
    #[arg(long)]
    pub allow_rollback: bool,
    /// Fail at once (exit 3) if another import is running, instead of waiting for it.
    #[arg(long)]
    pub no_lock_wait: bool,
    /// Afterwards, poll CM_UpdatePackages (read only) until the site has processed the packs.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub wait_timeout: u64,
    /// With --wait: seconds between polls.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub poll_interval: u64,
    /// With --list: JSON lines or a readable table [default: table on a terminal, JSON when piped]
    #[command(flatten)]
    pub view: ViewArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

const AFTER_HELP: &str = "\
Output: one sct.import.v1 JSON line per pack (outcome: imported, already_present,
skipped_other_hierarchy, not_applicable, failed, would_import), then a summary line.
--list prints the site's CM_UpdatePackages rows with state names: a table on a terminal,
sct.update-package.v1 JSON lines when piped or with --json.

Examples:
  sct-import /media/usb/UpdatePacks
  sct-import /media/usb/UpdatePacks --dry-run
  sct-import --list
  sct-import --list --json | jq -r 'select(.state == 262146) | .name'
  sct-import /media/usb/UpdatePacks --log /var/log/sct/import.log --quiet
  sct-import --site sqlite:/var/lib/sct/site.db --install-dir /opt/cm /media/usb/UpdatePacks
  SCT_SITE='mssql://sct@cm-sql.contoso.com/CM_PS1' sct-import D:/USB/UpdatePacks --wait --wait-timeout 7200

Exit codes: 0 done, 1 folder refused (tampered, unknown key, other hierarchy, rollback) or a
different pack already under a GUID, 2 usage error, 3 inbox or database could not be written
(read-only, full, locked with --no-lock-wait) or --wait ended without Ready to install";

/// Runs `sct-import`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = crate::config::Config::load()?;
    let locator = config.site_locator(args.site.as_deref())?;
    let mut out = std::io::stdout().lock();
    crate::logging::info(TOOL, format!("Site database: {locator}"));
    if args.list {
        let site = crate::site::open(&locator)?;
        if args.view.human() {
            let packages = crate::import::site_packages(site.as_ref())?;
            return crate::cli::summary::write_site_packages(&mut out, &packages);
        }
        crate::import::list_packages(site.as_ref(), &mut out)?;
        return Ok(());
    }
    let trusted = config.trusted_keys_for(&args.trusted_keys, args.src.as_deref())?;
    let options = crate::import::ImportOptions {
        src: args.dir.or(args.src).unwrap_or_default(),
        install_dir: args.install_dir,
        dry_run: args.dry_run,
        allow_rollback: args.allow_rollback,
        no_lock_wait: args.no_lock_wait,
        wait: args.wait.then(|| {
            crate::import::wait::WaitOptions::new(
                Duration::from_secs(args.poll_interval.max(1)),
                Duration::from_secs(args.wait_timeout),
            )
        }),
    };
    crate::import::import(&locator, &config, &options, &trusted, &mut out, &mut |m| {
        crate::cli::note(TOOL, m)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sct-import DIR` like `sct-verify DIR`; `--src DIR` still works; not both.
    #[test]
    fn the_folder_is_positional_or_src() {
        let dir = Args::try_parse_from(["sct-import", "usb/UpdatePacks"]).unwrap();
        assert_eq!(
            dir.dir.as_deref(),
            Some(std::path::Path::new("usb/UpdatePacks"))
        );
        let src = Args::try_parse_from(["sct-import", "--src", "usb/UpdatePacks"]).unwrap();
        assert_eq!(
            src.src.as_deref(),
            Some(std::path::Path::new("usb/UpdatePacks"))
        );
        assert!(Args::try_parse_from(["sct-import", "a", "--src", "b"]).is_err());
        assert!(Args::try_parse_from(["sct-import"]).is_err());
        assert!(Args::try_parse_from(["sct-import", "--list"]).is_ok());
    }
}
