//! The site server's checks: the site database opens with the login that will be used, reads
//! what `-prepare` reads, takes what `-import` writes; the inbox takes files; the pinned keys
//! parse; the log folder takes files.

use super::{Check, CheckOptions, Group, probe_writable};
use crate::core::error::ExitCode;
use crate::site::{SiteLocator, SiteStore};
use crate::stages::config::Config;
use std::path::{Path, PathBuf};

const IDS: &[&str] = &[
    "site.database",
    "site.read",
    "site.write",
    "site.inbox",
    "keys.pinned",
    "logs.folder",
];

/// The site group: the database checks in order (each needs the one before), then the keys and
/// the log folder.
pub(super) fn group(options: &CheckOptions) -> Group {
    let site = options.site.clone();
    let install_dir = options.install_dir.clone();
    let config = options.config.clone();
    let key_flags = options.trusted_key_flags.clone();
    Group {
        ids: IDS,
        work: Box::new(move || {
            let mut checks = database(site.as_ref(), install_dir.as_deref(), &config);
            checks.push(keys(&config, &key_flags));
            checks.push(log_folder(&config));
            checks
        }),
    }
}

/// `site.database`, `site.read`, `site.write`, `site.inbox`.
fn database(site: Option<&SiteLocator>, install_dir: Option<&Path>, config: &Config) -> Vec<Check> {
    let Some(locator) = site else {
        let why = format!(
            "no site database is set ({}); not a site server",
            config.how_to_give(crate::core::setting::Setting::Site)
        );
        return ["site.database", "site.read", "site.write", "site.inbox"]
            .into_iter()
            .map(|id| Check::skipped(id, why.clone()))
            .collect();
    };
    let store = match crate::site::open(locator) {
        Ok(store) => store,
        Err(err) => return unopened(locator, &err, config),
    };
    let identity = match store.identity() {
        Ok(identity) => identity,
        Err(err) => return unopened(locator, &err, config),
    };
    let opened = Check::ok(
        "site.database",
        format!(
            "{} opens: site {} ({}), version {}, hierarchy {}",
            store.describe(),
            identity.site_code,
            identity.site_name,
            identity.full_version,
            identity.hierarchy_id
        ),
    );
    let install_dir = crate::stages::import::resolve_install_dir(install_dir, config, &identity);
    vec![
        opened,
        read(store.as_ref(), &identity),
        write(locator),
        inbox(&install_dir),
    ]
}

/// The three later database checks cannot run when the database does not open.
fn unopened(locator: &SiteLocator, err: &anyhow::Error, config: &Config) -> Vec<Check> {
    let fix = match locator {
        SiteLocator::Sqlite(_) => format!(
            "give the right file ({})",
            config.how_to_give(crate::core::setting::Setting::Site)
        ),
        SiteLocator::SqlServer(_) => format!(
            "check the server name, the database CM_<site code>, that SQL Server accepts the login, \
             and that the login's password is in {}",
            crate::site::mssql::ENV_PASSWORD
        ),
    };
    let mut checks = vec![Check::fail(
        "site.database",
        ExitCode::Io,
        format!("{locator} does not open: {err:#}"),
        fix,
    )];
    for id in ["site.read", "site.write", "site.inbox"] {
        checks.push(Check::skipped(id, "the site database did not open"));
    }
    checks
}

/// `site.read`: what `-prepare` reads (usage rows) and what `-import` reads (the update list).
fn read(store: &dyn SiteStore, identity: &crate::site::SiteIdentity) -> Check {
    let rows = store.usage_rows(identity.diagnostics_level);
    let packages = store.update_packages();
    match (rows, packages) {
        (Ok(rows), Ok(packages)) => Check::ok(
            "site.read",
            format!(
                "{} usage rows at the {} diagnostics level and {} update packages read",
                rows.len(),
                identity.diagnostics_level,
                packages.len()
            ),
        ),
        (Err(err), _) | (_, Err(err)) => Check::fail(
            "site.read",
            ExitCode::Io,
            format!("{} opens but cannot be read: {err:#}", store.describe()),
            "grant the login read access to the site database (db_datareader)",
        ),
    }
}

/// `site.write`: the embedded site opens for writing (import records packs there); a SQL Server
/// site is only read, as by the original tool.
fn write(locator: &SiteLocator) -> Check {
    let SiteLocator::Sqlite(path) = locator else {
        return Check::skipped(
            "site.write",
            "sct-import only reads a SQL Server site (the site itself records imported packs)",
        );
    };
    let read_only = std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly());
    match crate::site::sqlite::SqliteSite::open_read_write(path) {
        Ok(_) if !read_only => Check::ok(
            "site.write",
            format!("{} opens for writing (nothing was written)", path.display()),
        ),
        Ok(_) => write_failed(path, "the file is read-only".into()),
        Err(err) => write_failed(path, format!("{err:#}")),
    }
}

fn write_failed(path: &Path, why: String) -> Check {
    Check::fail(
        "site.write",
        ExitCode::Io,
        format!("{} cannot be written: {why}", path.display()),
        "run as an account that may write the site database file",
    )
}

/// `site.inbox`: `EasySetupPayload/offline` takes files. Import creates the inbox when it is
/// missing, so then its nearest existing folder inside the install folder must take them.
fn inbox(install_dir: &Path) -> Check {
    let inbox = crate::stages::import::inbox::Inbox::of_install_dir(install_dir);
    let root = inbox.root();
    if !install_dir.is_dir() {
        return Check::fail(
            "site.inbox",
            ExitCode::Io,
            format!(
                "the site's install folder `{}` does not exist, so neither does the inbox `{}`",
                install_dir.display(),
                root.display()
            ),
            format!(
                "give the site's install folder (--install-dir, {}, install_dir in sct.toml)",
                crate::stages::import::ENV_INSTALL_DIR
            ),
        );
    }
    if root.is_dir() {
        return writable_folder("site.inbox", "the inbox", root, ExitCode::Io);
    }
    let existing = root.ancestors().find(|d| d.is_dir()).unwrap_or(install_dir);
    let what = format!(
        "the inbox `{}` does not exist yet (sct-import creates it); its nearest folder",
        root.display()
    );
    writable_folder("site.inbox", &what, existing, ExitCode::Io)
}

/// A folder's writability, tested with a temporary file created and removed at once.
fn writable_folder(id: &'static str, what: &str, dir: &Path, class: ExitCode) -> Check {
    match probe_writable(dir) {
        Ok(()) => Check::ok(
            id,
            format!(
                "{what} `{}` takes files (a temporary file was created there and removed)",
                dir.display()
            ),
        ),
        Err(err) => {
            let found = format!(
                "{what} `{}` does not take files: creating a temporary file there failed: {err}",
                dir.display()
            );
            let fix = "give this account write access to the folder, or make the drive writable";
            match class {
                ExitCode::Success => Check::warn(id, found, fix),
                class => Check::fail(id, class, found, fix),
            }
        }
    }
}

/// `keys.pinned`: the pinned catalog keys are present and parse.
fn keys(config: &Config, flags: &[String]) -> Check {
    match config.trusted_keys(flags) {
        Ok(keys) => {
            let ids: Vec<String> = keys.iter().map(|k| k.key_id()).collect();
            Check::ok(
                "keys.pinned",
                format!("{} pinned key(s): {}", keys.len(), ids.join(", ")),
            )
        }
        Err(err) => Check::fail(
            "keys.pinned",
            crate::core::error::exit_code(&err),
            format!("the pinned keys are not usable: {err:#}"),
            format!(
                "pin the update service's public key ({})",
                config.how_to_give(crate::core::setting::Setting::TrustedKeys)
            ),
        ),
    }
}

/// `logs.folder`: the folder `ServiceConnectionTool.log` goes to takes files; when it does not,
/// the logs fall back to the per-user folder, so this only warns.
fn log_folder(config: &Config) -> Check {
    let dir: Option<PathBuf> = crate::core::logging::tool_log_dir(config.log_dir.as_deref());
    match dir {
        Some(dir) if dir.is_dir() => {
            writable_folder("logs.folder", "the log folder", &dir, ExitCode::Success)
        }
        Some(dir) => Check::warn(
            "logs.folder",
            format!("the log folder `{}` does not exist", dir.display()),
            "create it, or set SCT_LOG_DIR or log_dir in sct.toml",
        ),
        None => Check::skipped("logs.folder", "no log folder is known on this machine"),
    }
}
