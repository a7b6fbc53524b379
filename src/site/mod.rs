//! The site store: one interface over the site database, whatever engine holds it.
//!
//! Real sites keep their data in SQL Server (`CM_<SiteCode>`); demos and most tests use an embedded
//! SQLite file with the same tables. Stages only see [`SiteStore`], opened from a [`SiteLocator`].

pub mod demo;
pub mod mssql;
pub mod queries;
pub mod register;
pub mod sqlite;

use crate::error::{ExitCode, fail};
use crate::version::CmVersion;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use uuid::Uuid;

/// The diagnostics and usage data level configured for the hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DiagnosticsLevel {
    Basic = 1,
    Enhanced = 2,
    Full = 3,
}

impl DiagnosticsLevel {
    /// The level stored as an integer in the site database.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Basic),
            2 => Some(Self::Enhanced),
            3 => Some(Self::Full),
            _ => None,
        }
    }
}

impl fmt::Display for DiagnosticsLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::str::FromStr for DiagnosticsLevel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "basic" | "1" => Ok(Self::Basic),
            "enhanced" | "2" => Ok(Self::Enhanced),
            "full" | "3" => Ok(Self::Full),
            _ => Err(format!(
                "`{text}` is not a diagnostics level (Basic, Enhanced or Full)"
            )),
        }
    }
}

/// Who the site is: what the update service needs to choose updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteIdentity {
    pub site_code: String,
    pub site_name: String,
    pub server_name: String,
    /// The hierarchy ID (support ID), from `dbo.fnGetHierarchyID()` on SQL Server.
    pub hierarchy_id: Uuid,
    /// The site version, always `5.00.<build>.1000` (`dbo.fnCurrentSiteVersion()`).
    pub version: CmVersion,
    /// The full version with hotfixes (`fnSetupFullVersion`), `5.00.<build>.10mm`.
    pub full_version: CmVersion,
    pub diagnostics_level: DiagnosticsLevel,
    /// The site's install folder (holds `EasySetupPayload\`), as recorded in `Sites.InstallDir`.
    pub install_dir: String,
}

impl SiteIdentity {
    /// The hashed hierarchy ID that usage data carries: Base64(SHA-256(GUID bytes in .NET order)).
    pub fn hierarchy_hash(&self) -> String {
        hierarchy_hash(&self.hierarchy_id)
    }
}

/// Base64(SHA-256(`Guid.ToByteArray()`)): .NET writes the first three GUID fields little-endian.
pub fn hierarchy_hash(id: &Uuid) -> String {
    let mut hasher = crate::hash::Sha256::new();
    hasher.update(&id.to_bytes_le());
    base64::engine::general_purpose::STANDARD.encode(hasher.finish_bytes())
}

/// One row of `TEL_TelemetryResults`: the result of one usage query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The usage query's ID.
    pub id: Uuid,
    /// The collecting procedure, such as `TEL_SetupInfo`.
    pub name: String,
    /// The lowest diagnostics level that sends this row.
    pub level: DiagnosticsLevel,
    /// When the site collected it (ISO 8601, UTC).
    pub collected_at: String,
    /// The query's result, as the site stored it.
    pub results: String,
}

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
                crate::logging::redact_url(text)
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
    fn hierarchy_hash_uses_dotnet_byte_order() {
        // Guid.ToByteArray() of 00112233-4455-6677-8899-aabbccddeeff is 33 22 11 00 55 44 77 66 88 ...
        let id: Uuid = "00112233-4455-6677-8899-aabbccddeeff".parse().unwrap();
        assert_eq!(
            id.to_bytes_le(),
            [
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        let expected = base64::engine::general_purpose::STANDARD
            .encode(hex::decode(crate::hash::hex_of(&id.to_bytes_le())).unwrap());
        assert_eq!(hierarchy_hash(&id), expected);
        assert_eq!(hierarchy_hash(&id).len(), 44);
    }

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
        assert_eq!(crate::error::exit_code(&err), ExitCode::Usage);
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
