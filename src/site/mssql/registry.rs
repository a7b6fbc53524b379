//! On a ConfigMgr site server, the site database as ConfigMgr itself records it, so `-prepare`,
//! `-export` and `sct-collect` need no `SCT_SITE` there, as the original tool needs none.
//!
//! ConfigMgr setup records the site database server and name under
//! `HKLM\SOFTWARE\Microsoft\SMS\SQL Server` (`Server`; `Database Name`, which is
//! `INSTANCE\CM_<SiteCode>` for a named instance) and the site code under
//! `HKLM\SOFTWARE\Microsoft\SMS\Identification` (`Site Code`); docs/sql-server.md names the
//! sources. [`locator_from`] turns those values into a locator and is pure, so it is tested on
//! every platform; [`read`] reads them, in the Windows build only. The login is Windows integrated
//! authentication as the account running sct, as the original's is.

use super::locator::{
    Encrypt, Login, SqlServerLocator, parse_server, parse_site_code, site_code_from_database,
};
use crate::core::error::{ExitCode, fail};

/// The key holding the site database server and name, under `HKEY_LOCAL_MACHINE`.
pub const SQL_SERVER_KEY: &str = r"SOFTWARE\Microsoft\SMS\SQL Server";
/// The key holding the site code, under `HKEY_LOCAL_MACHINE`.
pub const IDENTIFICATION_KEY: &str = r"SOFTWARE\Microsoft\SMS\Identification";
/// The longest value read, in UTF-16 units: host, instance and database names are far shorter
/// (a database name is at most 128). A longer value is refused unread, so memory stays bounded.
pub const MAX_VALUE_CHARS: usize = 1024;

/// What ConfigMgr records about its site database; `None` for a value that is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteRecord {
    /// `SQL Server\Server`: the site database server's host name.
    pub server: Option<String>,
    /// `SQL Server\Database Name`: `CM_<SiteCode>`, or `INSTANCE\CM_<SiteCode>`.
    pub database_name: Option<String>,
    /// `Identification\Site Code`.
    pub site_code: Option<String>,
}

/// A failure to use what the registry records: the site database cannot be found (exit 3).
fn unusable(what: impl std::fmt::Display) -> anyhow::Error {
    fail(
        ExitCode::Io,
        format!(
            "the site database recorded in HKLM\\{SQL_SERVER_KEY} cannot be used: {what}; \
             name the site database with SCT_SITE (see docs/sql-server.md)"
        ),
    )
}

/// A recorded value, trimmed; refused when empty or holding control characters.
fn text<'a>(value: Option<&'a str>, name: &str) -> anyhow::Result<&'a str> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(unusable(format!("`{name}` is missing or empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(unusable(format!("`{name}` holds control characters")));
    }
    Ok(value)
}

/// The locator for the recorded site database: the server (`host`, or `host\INSTANCE`, with an
/// optional `,port`), the instance and database from `Database Name`, the site code from the
/// database name (`CM_<SiteCode>`) or else from `Site Code`, Windows authentication, and every
/// other setting at its default (encrypted, the certificate validated).
pub fn locator_from(record: &SiteRecord) -> anyhow::Result<SqlServerLocator> {
    let server = text(record.server.as_deref(), "Server")?;
    let (host, server_instance, port) =
        parse_server(server).map_err(|e| unusable(format!("`Server`: {e:#}")))?;
    let recorded = text(record.database_name.as_deref(), "Database Name")?;
    let (db_instance, database) = match recorded.split_once('\\') {
        Some((instance, database)) => (Some(instance.trim()), database.trim()),
        None => (None, recorded),
    };
    if db_instance == Some("") || database.is_empty() || database.chars().count() > 128 {
        return Err(unusable(format!(
            "`Database Name` {recorded:?} is not [INSTANCE\\]DATABASE"
        )));
    }
    let instance = match (server_instance, db_instance) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
            return Err(unusable(format!(
                "`Server` names instance {a:?} but `Database Name` names {b:?}"
            )));
        }
        (a, b) => a.or(b.map(str::to_owned)),
    };
    let site_code = match site_code_from_database(database) {
        Ok(code) => code,
        Err(_) => {
            let code = text(record.site_code.as_deref(), "Site Code").map_err(|_| {
                unusable(format!(
                    "database {database:?} is not named CM_<SiteCode> and HKLM\\\
                     {IDENTIFICATION_KEY} has no `Site Code`"
                ))
            })?;
            parse_site_code(code).map_err(|e| unusable(format!("`Site Code`: {e:#}")))?
        }
    };
    Ok(SqlServerLocator {
        host,
        instance,
        port,
        database: database.to_owned(),
        site_code,
        login: Login::Windows,
        password: None,
        encrypt: Encrypt::Required,
        trust_server_certificate: false,
        ca_file: None,
        host_name_in_certificate: None,
        connect_timeout: super::locator::DEFAULT_CONNECT_TIMEOUT,
        command_timeout: super::locator::DEFAULT_COMMAND_TIMEOUT,
        read_only_intent: false,
        diagnostics_level: None,
    })
}

/// The site database this machine's ConfigMgr records, or `None` when it records none (not a
/// site server, or not Windows).
/// Says on stderr and in the log which database was found, so the administrator sees it.
pub fn find() -> anyhow::Result<Option<SqlServerLocator>> {
    let Some(record) = read()? else {
        return Ok(None);
    };
    let locator = locator_from(&record)?;
    let message = format!("site database recorded in HKLM\\{SQL_SERVER_KEY}: {locator}");
    let tool = super::tool_name();
    crate::core::report::note(&tool, format!("INFO: {message}"));
    crate::core::logging::info(&tool, message);
    Ok(Some(locator))
}

/// Reads the recorded values; `None` when `SQL Server` has no `Server` and no `Database Name`.
#[cfg(windows)]
pub fn read() -> anyhow::Result<Option<SiteRecord>> {
    let record = SiteRecord {
        server: windows::read_string(SQL_SERVER_KEY, "Server")?,
        database_name: windows::read_string(SQL_SERVER_KEY, "Database Name")?,
        site_code: windows::read_string(IDENTIFICATION_KEY, "Site Code")?,
    };
    Ok((record.server.is_some() || record.database_name.is_some()).then_some(record))
}

/// Outside Windows there is no registry: no site is recorded.
#[cfg(not(windows))]
pub fn read() -> anyhow::Result<Option<SiteRecord>> {
    Ok(None)
}

#[cfg(windows)]
mod windows {
    use super::{MAX_VALUE_CHARS, unusable};
    use windows_sys::Win32::Foundation::{
        ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_SUCCESS, ERROR_UNSUPPORTED_TYPE,
    };
    use windows_sys::Win32::System::Registry::{
        HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RRF_SUBKEY_WOW6464KEY, RegGetValueW,
    };

    fn wide(text: &str) -> Vec<u16> {
        text.encode_utf16().chain(std::iter::once(0)).collect()
    }

    /// One `REG_SZ` value of `HKLM\key`, from the 64-bit view ConfigMgr writes; `None` when the
    /// key or the value is absent. Another type, or a value longer than [`MAX_VALUE_CHARS`], is
    /// refused: the buffer is fixed, so nothing larger is ever read.
    pub fn read_string(key: &str, name: &str) -> anyhow::Result<Option<String>> {
        let (key_w, name_w) = (wide(key), wide(name));
        let mut buffer = vec![0u16; MAX_VALUE_CHARS + 1];
        let mut bytes = u32::try_from(buffer.len() * 2).unwrap_or(u32::MAX);
        // SAFETY: both names are NUL-terminated UTF-16; `buffer` is writable for `bytes` bytes,
        // and RegGetValueW writes at most that many, NUL-terminating a REG_SZ value.
        let status = unsafe {
            RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key_w.as_ptr(),
                name_w.as_ptr(),
                RRF_RT_REG_SZ | RRF_SUBKEY_WOW6464KEY,
                std::ptr::null_mut(),
                buffer.as_mut_ptr().cast(),
                &mut bytes,
            )
        };
        match status {
            ERROR_SUCCESS => {}
            ERROR_FILE_NOT_FOUND => return Ok(None),
            ERROR_MORE_DATA => {
                return Err(unusable(format!(
                    "HKLM\\{key}\\{name} is longer than {MAX_VALUE_CHARS} characters"
                )));
            }
            ERROR_UNSUPPORTED_TYPE => {
                return Err(unusable(format!(
                    "HKLM\\{key}\\{name} is not a string (REG_SZ)"
                )));
            }
            code => {
                let os = std::io::Error::from_raw_os_error(code as i32);
                return Err(unusable(format!("cannot read HKLM\\{key}\\{name}: {os}")));
            }
        }
        let units = (bytes as usize / 2).min(buffer.len());
        let value = &buffer[..units];
        let value = value.split(|&u| u == 0).next().unwrap_or_default();
        String::from_utf16(value)
            .map(Some)
            .map_err(|_| unusable(format!("HKLM\\{key}\\{name} is not valid UTF-16")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    fn record(server: &str, database: &str, code: Option<&str>) -> SiteRecord {
        SiteRecord {
            server: Some(server.to_owned()),
            database_name: Some(database.to_owned()),
            site_code: code.map(str::to_owned),
        }
    }

    fn refused(record: &SiteRecord) -> String {
        let err = locator_from(record).unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Io, "{err:#}");
        let text = format!("{err:#}");
        assert!(text.contains("SCT_SITE"), "{text}");
        text
    }

    #[test]
    fn default_instance_with_windows_authentication() {
        let loc = locator_from(&record("cm01.corp.example", "CM_PS1", Some("PS1"))).unwrap();
        assert_eq!(loc.host, "cm01.corp.example");
        assert_eq!((loc.instance.as_deref(), loc.port), (None, None));
        assert_eq!(loc.database, "CM_PS1");
        assert_eq!(loc.site_code, "PS1");
        assert_eq!(loc.login, Login::Windows);
        assert_eq!(loc.encrypt, Encrypt::Required);
        assert!(!loc.trust_server_certificate);
        assert_eq!(
            loc.to_string(),
            "Server=cm01.corp.example;Database=CM_PS1;Integrated Security=SSPI"
        );
    }

    #[test]
    fn named_instance_comes_from_the_database_name() {
        let loc = locator_from(&record(" sql01.corp.example ", "CONFIGMGR\\CM_ps2", None)).unwrap();
        assert_eq!(loc.host, "sql01.corp.example");
        assert_eq!(loc.instance.as_deref(), Some("CONFIGMGR"));
        assert_eq!(loc.database, "CM_ps2");
        assert_eq!(loc.site_code, "PS2");
        assert_eq!(loc.server(), "sql01.corp.example\\CONFIGMGR");
        // The same instance written in both values is accepted; a port is kept.
        let both = locator_from(&record("sql01\\configmgr,14330", "CONFIGMGR\\CM_PS2", None));
        let both = both.unwrap();
        assert_eq!(both.instance.as_deref(), Some("configmgr"));
        assert_eq!(both.port, Some(14330));
    }

    #[test]
    fn site_code_from_identification_when_the_database_is_renamed() {
        let loc = locator_from(&record("cm01", "ConfigMgrDB", Some("ab1"))).unwrap();
        assert_eq!(
            (loc.database.as_str(), loc.site_code.as_str()),
            ("ConfigMgrDB", "AB1")
        );
        assert!(refused(&record("cm01", "ConfigMgrDB", None)).contains("Site Code"));
        assert!(refused(&record("cm01", "ConfigMgrDB", Some("ABCD"))).contains("three"));
    }

    #[test]
    fn missing_or_malformed_values_are_refused_naming_the_value() {
        let mut no_server = record("", "CM_PS1", None);
        assert!(refused(&no_server).contains("`Server` is missing"));
        no_server.server = None;
        assert!(refused(&no_server).contains("`Server` is missing"));
        assert!(refused(&record("cm01", " ", None)).contains("`Database Name` is missing"));
        assert!(refused(&record("cm01", "\\CM_PS1", None)).contains("[INSTANCE\\]DATABASE"));
        assert!(refused(&record("cm01", "INST\\", None)).contains("[INSTANCE\\]DATABASE"));
        let long = format!("CM_{}", "x".repeat(200));
        assert!(refused(&record("cm01", &long, None)).contains("[INSTANCE\\]DATABASE"));
        assert!(refused(&record("cm01\u{1b}[2J", "CM_PS1", None)).contains("control"));
        assert!(refused(&record("np:\\\\cm01\\pipe", "CM_PS1", None)).contains("TCP"));
        assert!(refused(&record("cm01,0", "CM_PS1", None)).contains("TCP port"));
        let clash = refused(&record("cm01\\ONE", "TWO\\CM_PS1", None));
        assert!(
            clash.contains("\"ONE\"") && clash.contains("\"TWO\""),
            "{clash}"
        );
    }

    #[test]
    fn nothing_recorded_outside_windows() {
        if !cfg!(windows) {
            assert_eq!(read().unwrap(), None);
            assert!(find().unwrap().is_none());
        }
    }
}
