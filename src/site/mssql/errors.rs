//! Turns driver and server errors into messages an administrator can act on.
//!
//! Each failure a site administrator meets gets its own message: the server cannot be reached,
//! the login failed, the database is missing, it is not a ConfigMgr database, the login lacks
//! permission, the server dropped the connection or did not answer in time, TLS failed. Every
//! message names the server and database (the context line) and never the password: server text
//! is passed through [`Masker`] as well, in case a server ever echoes it.
//!
//! All of them are site-database failures, exit code 3 ([`crate::core::error::ExitCode::Io`]); a malformed locator
//! or a missing password is a usage error (2) and is raised before any connection.

use super::locator::{Login, Secret, SqlServerLocator};
use crate::core::error::Error;
use std::io::ErrorKind;

/// What sct was doing when the error happened.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// TCP connect, TLS and login.
    Connect,
    /// Reading `what` (e.g. "usage data from TEL_TelemetryResults") after login.
    Read(&'static str),
}

/// The failure kinds a site database can meet; tests match on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Unreachable,
    TimedOut,
    Dropped,
    Tls,
    LoginFailed,
    DatabaseMissing,
    NotConfigMgr,
    PermissionDenied,
    Other,
}

/// Replaces the password in any text that reaches a message.
pub struct Masker<'a>(pub Option<&'a Secret>);

impl Masker<'_> {
    /// `text` with every occurrence of the password (three characters or more) as `****`.
    pub fn mask(&self, text: &str) -> String {
        match self.0.map(Secret::expose) {
            Some(password) if password.len() >= 3 => crate::core::logging::mask(text, password),
            _ => text.to_owned(),
        }
    }
}

/// Server error numbers, grouped by what the administrator has to do.
const LOGIN_FAILED: &[u32] = &[18452, 18456, 18470, 18486, 18487, 18488];
const DATABASE_MISSING: &[u32] = &[911, 4060, 4064];
const OBJECT_MISSING: &[u32] = &[207, 208, 2812, 4121];
const PERMISSION: &[u32] = &[229, 230, 262, 297, 300, 916];

/// Sorts an error into a [`Kind`].
pub fn kind_of(err: &tiberius::error::Error) -> Kind {
    use tiberius::error::Error as E;
    match err {
        E::Server(token) => {
            let code = token.code();
            if LOGIN_FAILED.contains(&code) {
                Kind::LoginFailed
            } else if DATABASE_MISSING.contains(&code) {
                Kind::DatabaseMissing
            } else if OBJECT_MISSING.contains(&code) {
                Kind::NotConfigMgr
            } else if PERMISSION.contains(&code) {
                Kind::PermissionDenied
            } else {
                Kind::Other
            }
        }
        E::Io { kind, message } => match kind {
            ErrorKind::ConnectionRefused
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable => Kind::Unreachable,
            ErrorKind::TimedOut => Kind::TimedOut,
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe => Kind::Dropped,
            _ if message.contains("lookup") || message.contains("resolve") => Kind::Unreachable,
            _ => Kind::Other,
        },
        E::Tls(_) => Kind::Tls,
        E::Conversion(text) if text.contains("SQL browser") => Kind::Unreachable,
        _ => Kind::Other,
    }
}

/// The classified error: an [`Error::Io`] saying what happened and what to
/// do, under a context line naming the server, database and login.
pub fn classify(
    err: &tiberius::error::Error,
    locator: &SqlServerLocator,
    password: Option<&Secret>,
    stage: Stage,
) -> anyhow::Error {
    let masker = Masker(password.or(locator.password.as_ref()));
    let detail = masker.mask(&detail_of(err));
    let advice = advice(kind_of(err), err, locator, stage);
    let doing = match stage {
        Stage::Connect => "connect to".to_owned(),
        Stage::Read(what) => format!("read {what} from"),
    };
    anyhow::Error::from(Error::Io(format!("{advice} ({detail})"))).context(format!(
        "Failed to {doing} SQL Server `{}`, database `{}`, as {}",
        locator.server(),
        locator.database,
        locator.login
    ))
}

/// What the server or the driver said, briefly.
fn detail_of(err: &tiberius::error::Error) -> String {
    match err {
        tiberius::error::Error::Server(token) => {
            format!("SQL Server error {}: {}", token.code(), token.message())
        }
        other => other.to_string(),
    }
}

fn advice(
    kind: Kind,
    err: &tiberius::error::Error,
    loc: &SqlServerLocator,
    stage: Stage,
) -> String {
    let server = loc.server();
    let db = &loc.database;
    let who = &loc.login;
    match (kind, stage) {
        (Kind::Unreachable, _) if loc.instance.is_some() && loc.port.is_none() => format!(
            "cannot reach instance `{server}`: start the SQL Server Browser service (UDP 1434) \
             on `{}` or give the instance's port as Server={server},PORT",
            loc.host
        ),
        (Kind::Unreachable, _) => format!(
            "cannot reach `{server}`: check the host name and port (SQL Server listens on 1433 \
             unless configured otherwise), that TCP/IP is enabled on the server and that a \
             firewall lets the connection through"
        ),
        (Kind::TimedOut, Stage::Connect) => format!(
            "`{server}` did not complete the connection and login within {} s (Connect Timeout): \
             check the host, port and firewall, or raise Connect Timeout",
            loc.connect_timeout.as_secs()
        ),
        (Kind::TimedOut, Stage::Read(what)) => format!(
            "`{server}` did not answer within {} s (Command Timeout) while sending {what}: \
             the server may be busy or blocked; raise Command Timeout or try again later",
            loc.command_timeout.as_secs()
        ),
        (Kind::Dropped, Stage::Connect) => format!(
            "`{server}` closed the connection during login: check that it is SQL Server and \
             that its encryption setting matches Encrypt= (a server that forces encryption \
             refuses Encrypt=DANGER_PLAINTEXT)"
        ),
        (Kind::Dropped, Stage::Read(what)) => format!(
            "`{server}` closed the connection while sending {what}: the server may have \
             restarted or killed the session; try again"
        ),
        (Kind::Tls, _) => format!(
            "TLS with `{server}` failed: if its certificate comes from a private CA, trust that \
             CA with TrustServerCertificateCA=PATH; if the certificate names another host, set \
             HostNameInCertificate=NAME; TrustServerCertificate=true skips validation (not \
             recommended)"
        ),
        (Kind::LoginFailed, _) if loc.login == Login::Windows => format!(
            "{who} was refused by `{server}`: that account (or a group it belongs to) needs a \
             login on the SQL Server and a user in the site database; when sct runs remotely \
             (a PowerShell session, a scheduled task) Windows may not pass the account on to SQL \
             Server (the double hop): run it on the site server itself, or use a SQL Server login \
             in SCT_SITE"
        ),
        (Kind::LoginFailed, _) => format!(
            "{who} was refused by `{server}`: check the login name and the password \
             given in SCT_SITE_PASSWORD (or at the prompt), that SQL Server authentication is \
             enabled and the login is not disabled or locked; the SQL Server error log has the \
             reason"
        ),
        (Kind::DatabaseMissing, _) => format!(
            "database `{db}` does not exist on `{server}`, or {who} has no access to \
             it: check the site code in Database=CM_<SiteCode> and that the login is a user of \
             that database"
        ),
        (Kind::NotConfigMgr, _) => format!(
            "database `{db}` on `{server}` is not a ConfigMgr site database, or {who} \
             cannot see its objects: an object sct reads is missing"
        ),
        (Kind::PermissionDenied, _) => format!(
            "{who} lacks permission in `{db}`: sct only reads; grant it db_datareader \
             and EXECUTE on dbo.fnCurrentSiteVersion, dbo.fnGetHierarchyID and \
             dbo.fnSetupFullVersion"
        ),
        (Kind::Other, _) => match err {
            tiberius::error::Error::Routing { host, port } => format!(
                "`{server}` redirects this connection to `{host},{port}`: put that server in \
                 Server="
            ),
            _ if loc.login == Login::Windows && matches!(stage, Stage::Connect) => format!(
                "`{server}` gave an unexpected answer, or Windows could not provide the \
                 credentials of the account running sct (SSPI)"
            ),
            _ => format!("`{server}` gave an unexpected answer"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    fn io(kind: ErrorKind) -> tiberius::error::Error {
        std::io::Error::new(kind, "x").into()
    }

    #[test]
    fn io_errors_sort_by_what_the_administrator_does() {
        assert_eq!(
            kind_of(&io(ErrorKind::ConnectionRefused)),
            Kind::Unreachable
        );
        assert_eq!(kind_of(&io(ErrorKind::TimedOut)), Kind::TimedOut);
        assert_eq!(kind_of(&io(ErrorKind::UnexpectedEof)), Kind::Dropped);
        assert_eq!(kind_of(&io(ErrorKind::ConnectionReset)), Kind::Dropped);
        assert_eq!(
            kind_of(&tiberius::error::Error::Tls("bad cert".into())),
            Kind::Tls
        );
    }

    #[test]
    fn masker_hides_the_password_in_server_text() {
        let secret = Secret::new("s3cret!");
        let masker = Masker(Some(&secret));
        assert_eq!(masker.mask("bad s3cret! here"), "bad **** here");
        let short = Secret::new("ab");
        assert_eq!(
            Masker(Some(&short)).mask("abc"),
            "abc",
            "too short to mask safely"
        );
    }

    #[test]
    fn windows_authentication_failures_name_the_account_not_a_login() {
        let record = super::super::registry::SiteRecord {
            server: Some("cm01".into()),
            database_name: Some("CM_PS1".into()),
            site_code: None,
        };
        let loc = super::super::registry::locator_from(&record).unwrap();
        let err = classify(&io(ErrorKind::Other), &loc, None, Stage::Connect);
        let text = format!("{err:#}");
        assert!(
            text.contains("database `CM_PS1`, as the Windows account running sct"),
            "{text}"
        );
        assert!(text.contains("(SSPI)"), "{text}");
        let read = classify(&io(ErrorKind::Other), &loc, None, Stage::Read("x"));
        assert!(!format!("{read:#}").contains("SSPI"));
    }

    #[test]
    fn every_failure_is_a_site_database_failure_with_server_and_database() {
        let loc = SqlServerLocator::parse(
            "Server=db01,1433;Database=CM_PS1;User Id=sct;Password=s3cret!",
        )
        .unwrap();
        let err = classify(
            &io(ErrorKind::ConnectionRefused),
            &loc,
            None,
            Stage::Connect,
        );
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Io);
        let text = format!("{err:#}");
        assert!(
            text.contains("db01,1433") && text.contains("CM_PS1"),
            "{text}"
        );
        assert!(!text.contains("s3cret!"), "{text}");
    }
}
