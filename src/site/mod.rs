//! The site store: one interface over the site database, whatever engine holds it.
//!
//! Real sites keep their data in SQL Server (`CM_<SiteCode>`); demos and most tests use an embedded
//! SQLite file with the same tables. Stages only see [`SiteStore`], opened from a [`SiteLocator`].

pub mod demo;
pub mod mssql;
pub mod queries;
pub mod register;
pub mod sqlite;

pub use crate::core::usage::{DiagnosticsLevel, SiteIdentity, UsageRow, hierarchy_hash};

use crate::core::error::{ExitCode, fail};
use crate::core::version::CmVersion;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use uuid::Uuid;

/// One row of `CM_UpdatePackages`: an update the console's *Updates and Servicing* node shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatePackage {
    pub package_guid: Uuid,
    pub name: String,
    pub full_version: CmVersion,
    /// 0 regular update, 1 Weave (Intune extension), 2 QFE (hotfix).
    pub update_type: i32,
    pub state: i32,
    pub min_cm_version: CmVersion,
    pub max_cm_version: CmVersion,
    pub date_released: String,
    pub last_update_time: String,
}

/// Where the site database is, as written in `--site`, `SCT_SITE` or the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteLocator {
    /// `sqlite:PATH`: the embedded site.
    Sqlite(PathBuf),
    /// A ConfigMgr site database on SQL Server: an ADO.NET connection string
    /// (`Server=host,1433;Database=CM_ABC;User Id=sct`) or `mssql://sct@host:1433/CM_ABC`.
    /// Shown with any password masked.
    SqlServer(Box<mssql::locator::SqlServerLocator>),
}

impl SiteLocator {
    /// Parses a locator; the error says which forms are understood.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(fail(
                    ExitCode::Usage,
                    "`sqlite:` needs a file path, as in sqlite:/var/lib/sct/site.db",
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if mssql::locator::SqlServerLocator::looks_like(text) {
            let locator = mssql::locator::SqlServerLocator::parse(text)?;
            return Ok(Self::SqlServer(Box::new(locator)));
        }
        Err(fail(
            ExitCode::Usage,
            format!(
                "`{}` is not a site locator (expected sqlite:PATH, Server=HOST;Database=CM_ABC;User Id=LOGIN \
                 or mssql://LOGIN@HOST/CM_ABC)",
                mssql::locator::mask_url_password(text)
            ),
        ))
    }
}

impl SiteLocator {
    /// True when the locator itself holds a password (`Password=` / `Pwd=`, or `user:password@`).
    pub fn carries_password(&self) -> bool {
        matches!(self, Self::SqlServer(locator) if locator.password.is_some())
    }
}

impl fmt::Display for SiteLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::SqlServer(locator) => fmt::Display::fmt(locator, f),
        }
    }
}

/// Read access to a site database, whatever engine holds it.
pub trait SiteStore {
    /// How to name this site in messages (never includes a password).
    fn describe(&self) -> String;
    /// Site code, hierarchy ID, versions and diagnostics level.
    fn identity(&self) -> anyhow::Result<SiteIdentity>;
    /// Usage rows sent at `level` (rows of that level and below), oldest first.
    fn usage_rows(&self, level: DiagnosticsLevel) -> anyhow::Result<Vec<UsageRow>>;
    /// The update packages the site knows, newest version first.
    fn update_packages(&self) -> anyhow::Result<Vec<UpdatePackage>>;
}

/// Opens the site database for reading.
pub fn open(locator: &SiteLocator) -> anyhow::Result<Box<dyn SiteStore>> {
    match locator {
        SiteLocator::Sqlite(path) => Ok(Box::new(sqlite::SqliteSite::open_read_only(path)?)),
        SiteLocator::SqlServer(locator) => Ok(Box::new(mssql::SqlServerSite::open(locator)?)),
    }
}

/// `CM_UpdatePackages.State` codes and their names (configmgr-facts.md §1.3).
pub mod state {
    pub const INSTALL_SUCCESS: i32 = 196_612;
    pub const DOWNLOAD_IN_PROGRESS: i32 = 262_145;
    pub const DOWNLOAD_SUCCESS: i32 = 262_146;
    pub const DOWNLOAD_FAILED: i32 = 327_679;
    pub const APPLICABILITY_SUCCESS: i32 = 327_682;

    /// The documented name of a state code, or `None` for codes ConfigMgr does not document.
    pub fn name(state: i32) -> Option<&'static str> {
        Some(match state {
            0 => "UNKNOWN",
            2 => "ENABLED",
            65_537 => "CONTENT_REPLICATING",
            65_538 => "CONTENT_REPLICATION_SUCCESS",
            131_071 => "CONTENT_REPLICATION_FAILED",
            131_073 => "PREREQ_IN_PROGRESS",
            131_074 => "PREREQ_SUCCESS",
            131_075 => "PREREQ_WARNING",
            196_607 => "PREREQ_ERROR",
            196_609 => "INSTALL_IN_PROGRESS",
            196_610 => "INSTALL_WAITING_SERVICE_WINDOW",
            196_611 => "INSTALL_WAITING_PARENT",
            INSTALL_SUCCESS => "INSTALL_SUCCESS",
            196_613 => "INSTALL_PENDING_REBOOT",
            262_142 => "INSTALL_CMU_FAILED",
            262_143 => "INSTALL_FAILED",
            DOWNLOAD_IN_PROGRESS => "DOWNLOAD_IN_PROGRESS",
            DOWNLOAD_SUCCESS => "DOWNLOAD_SUCCESS",
            DOWNLOAD_FAILED => "DOWNLOAD_FAILED",
            327_681 => "APPLICABILITY_CHECKING",
            APPLICABILITY_SUCCESS => "APPLICABILITY_SUCCESS",
            393_213 => "APPLICABILITY_HIDE",
            393_214 => "APPLICABILITY_NA",
            393_215 => "APPLICABILITY_FAILED",
            196_614..=196_629 => "INSTALL_STEP",
            _ => return None,
        })
    }

    /// What the console shows for the states an administrator meets while servicing.
    pub fn console_text(state: i32) -> &'static str {
        match state {
            INSTALL_SUCCESS => "Installed",
            DOWNLOAD_SUCCESS => "Ready to install",
            DOWNLOAD_IN_PROGRESS => "Downloading",
            APPLICABILITY_SUCCESS => "Available to download",
            DOWNLOAD_FAILED => "Download failed",
            262_143 | 262_142 => "Install failed",
            196_607 => "Prerequisite check failed",
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators() {
        assert_eq!(
            SiteLocator::parse("sqlite:/tmp/x.db").unwrap(),
            SiteLocator::Sqlite("/tmp/x.db".into())
        );
        assert!(SiteLocator::parse("sqlite:").is_err());
        assert!(SiteLocator::parse("/tmp/x.db").is_err());
        let sql = SiteLocator::parse("Server=db,1433;Database=CM_PS1;User Id=sct;Password=pw123")
            .unwrap();
        assert!(matches!(&sql, SiteLocator::SqlServer(l) if l.site_code == "PS1"));
        assert_eq!(
            sql.to_string(),
            "Server=db,1433;Database=CM_PS1;User Id=sct;Password=****"
        );
        let err = SiteLocator::parse("Server=db;User Id=sct").unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        let err = SiteLocator::parse("mssql:/sct:pw123@db").unwrap_err();
        assert!(!format!("{err:#}").contains("pw123"), "{err:#}");
    }

    #[test]
    fn state_names() {
        assert_eq!(state::name(262_146), Some("DOWNLOAD_SUCCESS"));
        assert_eq!(state::console_text(262_146), "Ready to install");
        assert_eq!(state::name(12345), None);
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(
            "full".parse::<DiagnosticsLevel>().unwrap(),
            DiagnosticsLevel::Full
        );
        assert!(DiagnosticsLevel::Basic < DiagnosticsLevel::Enhanced);
        assert!("verbose".parse::<DiagnosticsLevel>().is_err());
    }
}
