//! `sct-import`: a verified update-pack folder → the site's inbox (and, for the embedded site, its
//! `CM_UpdatePackages`). The logic is `crate::stages::import`.
//!
//! The `///` comments here are also `--help` text, where `<GUID>` is plain text for an operator.
#![allow(rustdoc::invalid_html_tags)]

use crate::cli::{OperatorArgs, ViewArgs};
use clap::{Parser, Subcommand};
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
#[command(version, after_help = crate::core::error::after_help(AFTER_HELP, EXIT_CODES), subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The update pack folder written by sct-fetch (catalog.json, fetched.json, <GUID>/...).
    #[arg(value_name = "DIR", required_unless_present_any = ["list", "src", "status"], value_parser = crate::core::paths::path_flag)]
    pub dir: Option<PathBuf>,
    /// The same folder as a flag (older runbooks).
    #[arg(long, value_name = "DIR", conflicts_with = "dir", value_parser = crate::core::paths::path_flag)]
    pub src: Option<PathBuf>,
    /// Only list the site's update packages and their states (read only), then exit.
    #[arg(long, conflicts_with_all = ["dry_run", "allow_rollback", "wait"])]
    pub list: bool,
    /// What the console will show (read only): each update pack the site lists, its state, its
    /// inbox folder checked against the catalog of DIR (when given), and why a pack is not ready
    /// to install. One sct.pack-status.v1 line per pack (a table on a terminal).
    #[arg(long, conflicts_with_all = ["list", "dry_run", "allow_rollback", "wait"])]
    pub status: bool,
    /// Site database, e.g. sqlite:/var/lib/sct/site.db [default: SCT_SITE, then sct.toml]
    #[arg(long, value_name = "LOCATOR", global = true)]
    pub site: Option<String>,
    /// The site's install folder [default: SCT_INSTALL_DIR, then sct.toml, then the site's own]
    #[arg(long, value_name = "DIR", global = true, value_parser = crate::core::paths::path_flag)]
    pub install_dir: Option<PathBuf>,
    #[command(flatten)]
    pub trust: super::TrustArgs,
    /// Print what would be imported; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Import a catalog older than the newest one imported before (logged as a warning).
    #[arg(long)]
    pub allow_rollback: bool,
    /// Fail at once (exit 3) if another import is running, instead of waiting for it.
    #[arg(long)]
    pub no_lock_wait: bool,
    /// Accept a catalog this many days after it expired (0: strict; at most 365)
    /// [default: SCT_IMPORT_GRACE_DAYS, then import_grace_days in sct.toml, then 90]
    #[arg(long, value_name = "DAYS")]
    pub expiry_grace_days: Option<u32>,
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

/// `sct-import`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Housekeeping of the site's inbox, <install dir>/EasySetupPayload/offline/.
    #[command(
        subcommand,
        after_help = "Examples:\n  sct-import inbox list\n  sct-import inbox remove --superseded --dry-run\n  sct-import inbox remove --superseded"
    )]
    Inbox(InboxCommand),
}

/// `sct-import inbox ...`: list the pack folders in the inbox, remove the ones the site no longer needs.
#[derive(Subcommand, Debug)]
pub enum InboxCommand {
    /// List every pack folder in the inbox and what the site makes of it: needed, installing,
    /// superseded or unregistered (sct.inbox.v1 JSON lines, then a summary).
    #[command(
        after_help = "Examples:\n  sct-import inbox list\n  sct-import inbox list | jq -r 'select(.status == \"superseded\") | .path'"
    )]
    List,
    /// Remove the pack folders the site no longer needs: installed, or not newer than the site.
    /// A pack the site is installing (or may retry) and one it does not list are never removed.
    #[command(
        after_help = "Examples:\n  sct-import inbox remove --superseded --dry-run\n  sct-import inbox remove --superseded --log /var/log/sct/inbox.log"
    )]
    Remove {
        /// Remove the superseded packs (the only kind that can be removed).
        #[arg(long, required = true)]
        superseded: bool,
        /// Print what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove parts of split packs that wait beside the inbox for volumes that will not come
    /// (docs/span.md): the set named by --set (the folder name import gives), or every set with
    /// --all. Says on stderr what it removed.
    #[command(
        after_help = "Examples:\n  sct-import inbox remove-parts --all --dry-run\n  sct-import inbox remove-parts --set 3f1c0d9a8b7e6f50"
    )]
    RemoveParts {
        /// The set to remove (repeat for several).
        #[arg(long, value_name = "SET", required_unless_present = "all")]
        set: Vec<String>,
        /// Every waiting set.
        #[arg(long, conflicts_with = "set")]
        all: bool,
        /// Say what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

const AFTER_HELP: &str = "\
Output: one sct.import.v1 JSON line per pack (outcome: imported, already_present,
skipped_other_hierarchy, not_applicable, failed, would_import), then a summary line.
--list prints the site's CM_UpdatePackages rows with state names: a table on a terminal,
sct.update-package.v1 JSON lines when piped or with --json. --status [DIR] adds each pack's inbox
folder and why it is not ready to install (sct.pack-status.v1 lines).

Examples:
  sct-import /media/usb/UpdatePacks
  sct-import /media/usb/UpdatePacks --dry-run
  sct-import --list
  sct-import --list --json | jq -r 'select(.state == 262146) | .name'
  sct-import --status /media/usb/UpdatePacks          # why is it not in Updates and Servicing?
  sct-import inbox remove --superseded --dry-run
  sct-import /media/usb/UpdatePacks --log /var/log/sct/import.log --quiet
  sct-import --site sqlite:/var/lib/sct/site.db --install-dir /opt/cm /media/usb/UpdatePacks
  SCT_SITE='mssql://sct@cm-sql.contoso.com/CM_PS1' sct-import D:/USB/UpdatePacks --wait --wait-timeout 7200";

/// The exit codes `sct-import` can end with, in its own words (`crate::core::error::after_help`).
const EXIT_CODES: &[(crate::core::error::ExitCode, &str)] = &[
    (crate::core::error::ExitCode::Success, ""),
    (
        crate::core::error::ExitCode::Rejected,
        "folder tampered, unknown key, other hierarchy, rollback, or a different pack already under a GUID",
    ),
    (crate::core::error::ExitCode::Usage, ""),
    (
        crate::core::error::ExitCode::Io,
        "inbox or database could not be written (read-only, full, locked with --no-lock-wait) or --wait ended without Ready to install",
    ),
];

/// Runs `sct-import`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.operator.apply(TOOL)?;
    let config = crate::stages::config::Config::load()?;
    let locator = config.site_locator(args.site.as_deref())?;
    let mut out = std::io::stdout().lock();
    crate::core::logging::info(TOOL, format!("Site database: {locator}"));
    if let Some(Command::Inbox(command)) = &args.command {
        return inbox(&args, command, &config, &locator, &mut out);
    }
    if args.status {
        return status(&args, &config, &locator, &mut out);
    }
    if args.list {
        let site = crate::site::open(&locator)?;
        if args.view.human() {
            let packages = crate::stages::import::site_packages(site.as_ref())?;
            return crate::cli::readable::write_site_packages(&mut out, &packages);
        }
        for line in crate::stages::import::site_packages(site.as_ref())? {
            crate::core::document::write_line(&mut out, &line)?;
        }
        return Ok(());
    }
    let trusted = args.trust.keys(&config, args.src.as_deref())?;
    let options = crate::stages::import::ImportOptions {
        src: args.dir.or(args.src).unwrap_or_default(),
        install_dir: args.install_dir,
        dry_run: args.dry_run,
        allow_rollback: args.allow_rollback,
        no_lock_wait: args.no_lock_wait,
        expiry_grace_days: args.expiry_grace_days,
        wait: args.wait.then(|| {
            crate::stages::import::wait::WaitOptions::new(
                Duration::from_secs(args.poll_interval.max(1)),
                Duration::from_secs(args.wait_timeout),
            )
        }),
    };
    crate::stages::import::import(&locator, &config, &options, &trusted, &mut |event| {
        crate::core::document::write_line(&mut out, event)
    })?;
    Ok(())
}

/// `--status` for the wrapper's `-import -status`: the site from the environment or sct.toml,
/// the output on stdout.
pub fn status_of(args: &Args, config: &crate::stages::config::Config) -> anyhow::Result<()> {
    let locator = config.site_locator(args.site.as_deref())?;
    status(args, config, &locator, &mut std::io::stdout().lock())
}

/// `sct-import --status [DIR]`: reads the site and the inbox; with DIR, the inbox folders are
/// checked against DIR's catalog, verified with the pinned keys (its expiry does not matter here).
fn status(
    args: &Args,
    config: &crate::stages::config::Config,
    locator: &crate::site::SiteLocator,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let site = crate::site::open(locator)?;
    let identity = site.identity()?;
    let install_dir =
        crate::stages::import::resolve_install_dir(args.install_dir.as_deref(), config, &identity);
    let inbox = crate::stages::import::inbox::Inbox::of_install_dir(&install_dir);
    let catalog = match args.dir.as_ref().or(args.src.as_ref()) {
        Some(dir) => Some(folder_catalog(args, config, dir)?),
        None => None,
    };
    let lines = crate::stages::import::status::status(site.as_ref(), &inbox, catalog.as_ref())?;
    if args.view.human() {
        return crate::cli::readable::write_pack_status(out, &lines);
    }
    for line in &lines {
        crate::core::document::write_line(&mut *out, line)?;
    }
    Ok(())
}

/// The signed catalog of an update pack folder, verified with the pinned keys.
fn folder_catalog(
    args: &Args,
    config: &crate::stages::config::Config,
    dir: &std::path::Path,
) -> anyhow::Result<crate::core::catalog::Catalog> {
    use crate::core::catalog;
    use crate::core::medium::{Links, read_capped};
    let trusted = args.trust.keys(config, Some(dir))?;
    let bytes = read_capped(
        &dir.join(catalog::CATALOG_FILE),
        catalog::MAX_CATALOG_BYTES,
        Links::Refuse,
    )?;
    let signature = read_capped(
        &dir.join(catalog::SIGNATURE_FILE),
        crate::core::signing::MAX_SIGNATURE_BYTES,
        Links::Refuse,
    )?;
    let source = format!("the catalog in `{}`", dir.display());
    let (catalog, _) =
        catalog::verify_bytes_with(&bytes, &signature, &trusted, &source, |_| Ok(()))?;
    Ok(catalog)
}

/// `sct-import inbox list|remove`: the site is only read; the inbox is changed only by `remove`
/// without `--dry-run`.
fn inbox(
    args: &Args,
    command: &InboxCommand,
    config: &crate::stages::config::Config,
    locator: &crate::site::SiteLocator,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    if args.src.is_some()
        || args.dir.is_some()
        || args.list
        || args.dry_run
        || args.wait
        || args.allow_rollback
    {
        return Err(crate::core::error::Error::Usage(
            "`sct-import inbox` takes only --site, --install-dir and its own flags".into(),
        )
        .into());
    }
    use crate::stages::import::housekeeping::{self, Action};
    let site = crate::site::open(locator)?;
    let identity = site.identity()?;
    let install_dir =
        crate::stages::import::resolve_install_dir(args.install_dir.as_deref(), config, &identity);
    let inbox = crate::stages::import::inbox::Inbox::of_install_dir(&install_dir);
    let action = match command {
        InboxCommand::List => Action::List,
        InboxCommand::Remove { dry_run, .. } => Action::Remove { dry_run: *dry_run },
        InboxCommand::RemoveParts { set, all, dry_run } => {
            return remove_parts(&inbox, set, *all, *dry_run);
        }
    };
    let summary = housekeeping::run(site.as_ref(), &inbox, action, &mut |event| {
        crate::core::document::write_line(&mut *out, event)
    })?;
    crate::cli::note(
        TOOL,
        format!(
            "{} pack folder(s) in {}: {} needed, {} installing, {} superseded, {} unregistered; {} removed{}",
            summary.packs,
            summary.inbox,
            summary.needed,
            summary.installing,
            summary.superseded,
            summary.unregistered,
            summary.removed,
            if summary.dry_run {
                format!(", {} would be removed (--dry-run)", summary.would_remove)
            } else {
                String::new()
            }
        ),
    );
    Ok(())
}

/// `sct-import inbox remove-parts`: the operator's word that a set's remaining volumes will not
/// come.
fn remove_parts(
    inbox: &crate::stages::import::inbox::Inbox,
    sets: &[String],
    all: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let removed = crate::stages::import::parts::remove_sets(inbox, sets, all, dry_run)?;
    for set in &removed {
        let message = format!(
            "{} the parts of set {} ({} bytes) in `{}`",
            if dry_run { "would remove" } else { "removed" },
            set.set,
            set.bytes,
            set.path.display()
        );
        crate::core::logging::info(TOOL, &message);
        crate::cli::note(TOOL, message);
    }
    if removed.is_empty() {
        crate::cli::note(TOOL, "no parts of split packs wait beside the inbox");
    }
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
        // `inbox` is the subcommand, not a folder named so (that one is `./inbox`).
        let inbox = Args::try_parse_from(["sct-import", "inbox", "list"]).unwrap();
        assert!(inbox.dir.is_none() && inbox.command.is_some());
    }
}
