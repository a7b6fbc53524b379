//! The embedded site: a SQLite file with the ConfigMgr tables of `schema.sql`.

use super::{DiagnosticsLevel, SiteIdentity, SiteStore, UpdatePackage, UsageRow};
use crate::core::error::{ExitCode, fail};
use anyhow::Context;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// The tables of the embedded site.
pub const SCHEMA: &str = include_str!("schema.sql");

// The statements live in `queries.rs`, shared with the SQL Server back end where the dialects allow.
use super::queries::{
    IDENTITY_SQLITE as IDENTITY_SQL, PACKAGES_SQLITE as PACKAGES_SQL, USAGE_SQLITE as USAGE_SQL,
};

/// An open embedded site database.
pub struct SqliteSite {
    path: PathBuf,
    conn: Connection,
}

impl SqliteSite {
    /// Opens an existing site for reading; a missing file is an error, never a new empty site.
    pub fn open_read_only(path: &Path) -> anyhow::Result<Self> {
        Self::open(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
    }

    /// Opens an existing site for reading and writing (import into the embedded site).
    pub fn open_read_write(path: &Path) -> anyhow::Result<Self> {
        Self::open(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Creates a new site database with the schema; refuses to touch an existing file.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            anyhow::bail!("site database `{}` already exists", path.display());
        }
        crate::core::atomic::check_parent(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .with_context(|| format!("Failed to create site database `{}`", path.display()))?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("Failed to create the tables in `{}`", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            conn,
        })
    }

    fn open(path: &Path, flags: OpenFlags) -> anyhow::Result<Self> {
        if !path.is_file() {
            return Err(fail(
                ExitCode::Io,
                format!(
                    "site database `{}` does not exist or is not a file",
                    path.display()
                ),
            ));
        }
        let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_context(|| format!("Failed to open site database `{}`", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // A file that is not SQLite only fails on the first read: check here to name it.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .with_context(|| format!("`{}` is not a readable site database", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            conn,
        })
    }

    /// The raw connection, for the demo builder and the embedded import.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn context(&self, what: &str) -> String {
        format!(
            "Failed to read {what} from site database `{}`",
            self.path.display()
        )
    }
}

fn parse_col<T: std::str::FromStr>(text: String, column: &str) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("column {column}: {e}").into(),
        )
    })
}

impl SiteStore for SqliteSite {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn identity(&self) -> anyhow::Result<SiteIdentity> {
        let row = self
            .conn
            .query_row(IDENTITY_SQL, [], |r| {
                let level: i64 = r.get(7)?;
                Ok(SiteIdentity {
                    site_code: r.get(0)?,
                    site_name: r.get(1)?,
                    server_name: r.get(2)?,
                    version: parse_col(r.get(3)?, "Sites.Version")?,
                    install_dir: r.get(4)?,
                    hierarchy_id: parse_col(r.get(5)?, "HierarchyID")?,
                    full_version: parse_col(r.get(6)?, "FullVersion")?,
                    diagnostics_level: DiagnosticsLevel::from_code(level)
                        .unwrap_or(DiagnosticsLevel::Enhanced),
                })
            })
            .optional()
            .with_context(|| self.context("the site identity"))?;
        row.ok_or_else(|| {
            fail(
                ExitCode::Io,
                format!(
                    "site database `{}` has no site identity (the Sites and SCT_HierarchySettings tables are empty)",
                    self.path.display()
                ),
            )
        })
    }

    fn usage_rows(&self, level: DiagnosticsLevel) -> anyhow::Result<Vec<UsageRow>> {
        let mut stmt = self
            .conn
            .prepare(USAGE_SQL)
            .with_context(|| self.context("usage data"))?;
        let rows = stmt
            .query_map([level as i64], |r| {
                let level: i64 = r.get(2)?;
                Ok(UsageRow {
                    id: parse_col(r.get(0)?, "TEL_TelemetryResults.ID")?,
                    name: r.get(1)?,
                    level: DiagnosticsLevel::from_code(level).unwrap_or(DiagnosticsLevel::Full),
                    collected_at: r.get(3)?,
                    results: r.get(4)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .with_context(|| self.context("usage data"))?;
        Ok(rows)
    }

    fn update_packages(&self) -> anyhow::Result<Vec<UpdatePackage>> {
        let mut stmt = self
            .conn
            .prepare(PACKAGES_SQL)
            .with_context(|| self.context("update packages"))?;
        let mut packages = stmt
            .query_map([], |r| {
                Ok(UpdatePackage {
                    package_guid: parse_col(r.get(0)?, "PackageGuid")?,
                    name: r.get(1)?,
                    full_version: parse_col(r.get(2)?, "FullVersion")?,
                    update_type: r.get(3)?,
                    state: r.get(4)?,
                    min_cm_version: parse_col(r.get(5)?, "MinCMVersion")?,
                    max_cm_version: parse_col(r.get(6)?, "MaxCMVersion")?,
                    date_released: r.get(7)?,
                    last_update_time: r.get(8)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .with_context(|| self.context("update packages"))?;
        packages.sort_by(|a, b| {
            b.full_version
                .cmp(&a.full_version)
                .then(a.name.cmp(&b.name))
        });
        Ok(packages)
    }
}
