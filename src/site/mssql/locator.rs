//! Where a SQL Server site database is, parsed from what an administrator types: an ADO.NET
//! connection string (`Server=db01,1433;Database=CM_PS1;User Id=sct;...`) or a URL
//! (`mssql://sct@db01:1433/CM_PS1?encrypt=true`).
//!
//! Parsing is pure and checks everything before any I/O, so a wrong key is a usage error (exit 2)
//! naming the key. A password written into the string is accepted (config files and `SCT_SITE`
//! may carry one) but is only ever shown as `****`: [`SqlServerLocator`]'s `Display` and `Debug`
//! never print it, and parse errors never quote a value.

pub use super::syntax::mask_url_password;
use super::syntax::{split_pairs, url_pairs};
use crate::core::error::{ExitCode, fail};
use crate::site::DiagnosticsLevel;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default for `Connect Timeout`, as in ADO.NET.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default for `Command Timeout`: the longest wait for the server's next answer to a query.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A password that never shows and is wiped when dropped ([`crate::core::secret`]).
pub use crate::core::secret::Secret;

/// How the connection is encrypted (`Encrypt=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encrypt {
    /// `Encrypt=true` (the default): TLS for the whole session, certificate validated.
    Required,
    /// `Encrypt=false`: TLS for the login packet only (SQL Server always protects the password),
    /// then plain text.
    LoginOnly,
    /// `Encrypt=DANGER_PLAINTEXT`: no TLS at all, not even for the password. Only for servers
    /// without TLS, such as the test server; logged loudly.
    Plaintext,
}

/// How sct logs in to SQL Server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    /// SQL Server authentication as this login; the password comes from [`super::password_for`].
    Sql(String),
    /// Windows integrated authentication (SSPI) as the account running sct, as the original tool
    /// logs in: `Integrated Security=SSPI`, or the site found in the registry. Windows builds only.
    Windows,
}

impl fmt::Display for Login {
    /// `login `sct`` or `the Windows account running sct`, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sql(user) => write!(f, "login `{user}`"),
            Self::Windows => f.write_str("the Windows account running sct"),
        }
    }
}

/// A parsed SQL Server locator. Build it with [`SqlServerLocator::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlServerLocator {
    /// Host name or address.
    pub host: String,
    /// Named instance (`host\INSTANCE`), found through the SQL Server Browser unless a port is given.
    pub instance: Option<String>,
    /// Explicit TCP port (`host,1433` or `host:1433` in a URL).
    pub port: Option<u16>,
    /// The site database, `CM_<SiteCode>`.
    pub database: String,
    /// The site code whose identity is read: `Site Code=` or the database name's suffix.
    pub site_code: String,
    /// SQL Server login, or Windows integrated authentication.
    pub login: Login,
    /// A password written into the string itself (masked everywhere).
    pub password: Option<Secret>,
    pub encrypt: Encrypt,
    /// Accept any server certificate (`TrustServerCertificate=true`): explicit and logged.
    pub trust_server_certificate: bool,
    /// Extra CA to trust for the server certificate (`TrustServerCertificateCA=PATH`).
    pub ca_file: Option<PathBuf>,
    /// Name expected in the server certificate, when it differs from `host`.
    pub host_name_in_certificate: Option<String>,
    /// TCP connect plus login, each bounded by this (`Connect Timeout=SECONDS`).
    pub connect_timeout: Duration,
    /// Longest wait for the server's next answer to a query (`Command Timeout=SECONDS`).
    pub command_timeout: Duration,
    /// `ApplicationIntent=ReadOnly`, for a readable secondary of an availability group.
    pub read_only_intent: bool,
    /// sct's own key `Diagnostics Level=`: ConfigMgr does not document where the level is stored,
    /// so it is stated here; `None` means ConfigMgr's default, Enhanced.
    pub diagnostics_level: Option<DiagnosticsLevel>,
}

/// Keys accepted with no effect: connection-pool and session settings meaningless for one read.
const IGNORED_KEYS: &[&str] = &[
    "multipleactiveresultsets",
    "persistsecurityinfo",
    "pooling",
    "minpoolsize",
    "maxpoolsize",
    "connectretrycount",
    "connectretryinterval",
    "workstationid",
    "applicationname",
];

const SUPPORTED_KEYS: &str = "Server, Database, User Id, Password, Encrypt, TrustServerCertificate, \
TrustServerCertificateCA, HostNameInCertificate, Connect Timeout, Command Timeout, ApplicationIntent, \
Integrated Security (Windows), Site Code, Diagnostics Level";

impl SqlServerLocator {
    /// True when `text` is meant as a SQL Server locator: a URL with an `mssql:` or `sqlserver:`
    /// scheme, or anything with `key=value` pairs (so a broken string gets a precise error).
    pub fn looks_like(text: &str) -> bool {
        let lower = text.trim_start().to_ascii_lowercase();
        lower.starts_with("mssql:") || lower.starts_with("sqlserver:") || text.contains('=')
    }

    /// Parses an ADO.NET connection string or an `mssql://` URL; errors are usage errors (exit 2).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        let pairs = if lower.starts_with("mssql:") || lower.starts_with("sqlserver:") {
            url_pairs(trimmed).map_err(usage)?
        } else {
            split_pairs(trimmed).map_err(|e| usage(format!("SQL Server connection string: {e}")))?
        };
        Self::from_pairs(pairs)
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> anyhow::Result<Self> {
        let mut b = Builder::default();
        for (key, value) in pairs {
            b.set(&key, value)?;
        }
        b.finish()
    }

    /// The server as written in a connection string: `host`, `host\INSTANCE`, `host,port`.
    pub fn server(&self) -> String {
        let mut out = self.host.clone();
        if let Some(instance) = &self.instance {
            out.push('\\');
            out.push_str(instance);
        }
        if let Some(port) = self.port {
            out.push_str(&format!(",{port}"));
        }
        out
    }
}

impl fmt::Display for SqlServerLocator {
    /// `Server=..;Database=..;User Id=..` and `Password=****` when the string held one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Server={};Database={}", self.server(), self.database)?;
        match &self.login {
            Login::Sql(user) => write!(f, ";User Id={user}")?,
            Login::Windows => f.write_str(";Integrated Security=SSPI")?,
        }
        if self.password.is_some() {
            f.write_str(";Password=****")?;
        }
        Ok(())
    }
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    fail(ExitCode::Usage, message)
}

/// The settings as they are read, before the checks that need all of them.
#[derive(Default)]
struct Builder {
    server: Option<(String, Option<String>, Option<u16>)>,
    database: Option<String>,
    site_code: Option<String>,
    user: Option<String>,
    integrated: bool,
    password: Option<Secret>,
    encrypt: Option<Encrypt>,
    trust: bool,
    ca_file: Option<PathBuf>,
    host_name_in_certificate: Option<String>,
    connect_timeout: Option<Duration>,
    command_timeout: Option<Duration>,
    read_only_intent: bool,
    diagnostics_level: Option<DiagnosticsLevel>,
}

impl Builder {
    /// Applies one key (already normalised: lower case, no spaces or underscores).
    fn set(&mut self, key: &str, value: String) -> anyhow::Result<()> {
        match key {
            "server" | "datasource" | "address" | "addr" | "networkaddress" => {
                self.server = Some(parse_server(&value)?);
            }
            "database" | "initialcatalog" => self.database = Some(value),
            "userid" | "uid" | "user" | "username" => self.user = Some(value),
            "password" | "pwd" => self.password = Some(Secret::new(value)),
            "encrypt" => self.encrypt = Some(parse_encrypt(&value)?),
            "trustservercertificate" => self.trust = parse_bool(key, &value)?,
            "trustservercertificateca" | "servercertificate" => {
                self.ca_file = Some(PathBuf::from(value));
            }
            "hostnameincertificate" => self.host_name_in_certificate = Some(value),
            "connecttimeout" | "connectiontimeout" | "timeout" => {
                self.connect_timeout = Some(parse_seconds(key, &value)?);
            }
            "commandtimeout" => self.command_timeout = Some(parse_seconds(key, &value)?),
            "applicationintent" => self.read_only_intent = parse_intent(&value)?,
            "sitecode" => self.site_code = Some(parse_site_code(&value)?),
            "diagnosticslevel" => {
                self.diagnostics_level = Some(value.parse().map_err(usage)?);
            }
            "integratedsecurity" | "trustedconnection" => {
                self.integrated = parse_integrated(key, &value)?;
            }
            _ if IGNORED_KEYS.contains(&key) => {}
            _ => {
                return Err(usage(format!(
                    "SQL Server connection string: unknown key `{key}` (supported: {SUPPORTED_KEYS})"
                )));
            }
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<SqlServerLocator> {
        let (host, instance, port) = self
            .server
            .ok_or_else(|| usage("SQL Server connection string has no Server=HOST[,PORT]"))?;
        let database = self
            .database
            .filter(|d| !d.is_empty())
            .ok_or_else(|| usage("SQL Server connection string has no Database=CM_<SiteCode>"))?;
        let login = login_of(self.user.filter(|u| !u.is_empty()), self.integrated)?;
        let site_code = match self.site_code {
            Some(code) => code,
            None => site_code_from_database(&database)?,
        };
        if self.trust && self.ca_file.is_some() {
            return Err(usage(
                "TrustServerCertificate=true and TrustServerCertificateCA cannot be combined: \
                 trust the CA (validated) or any certificate (not validated), not both",
            ));
        }
        Ok(SqlServerLocator {
            host,
            instance,
            port,
            database,
            site_code,
            login,
            password: self.password,
            encrypt: self.encrypt.unwrap_or(Encrypt::Required),
            trust_server_certificate: self.trust,
            ca_file: self.ca_file,
            host_name_in_certificate: self.host_name_in_certificate,
            connect_timeout: self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            command_timeout: self.command_timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            read_only_intent: self.read_only_intent,
            diagnostics_level: self.diagnostics_level,
        })
    }
}

/// `Integrated Security=` / `Trusted_Connection=`: `true`, `yes` or `SSPI` ask for Windows
/// authentication, which only the Windows build can do.
fn parse_integrated(key: &str, value: &str) -> anyhow::Result<bool> {
    let wanted = match value.trim().to_ascii_lowercase().as_str() {
        "sspi" => true,
        _ => parse_bool(key, value)?,
    };
    if wanted && !cfg!(windows) {
        return Err(usage(
            "Windows authentication (Integrated Security) needs sct for Windows: \
             use a SQL Server login with User Id=... and SCT_SITE_PASSWORD",
        ));
    }
    Ok(wanted)
}

/// SQL authentication with `User Id=`, or Windows authentication: one of them, not both.
fn login_of(user: Option<String>, integrated: bool) -> anyhow::Result<Login> {
    match (user, integrated) {
        (Some(user), false) => Ok(Login::Sql(user)),
        (None, true) => Ok(Login::Windows),
        (Some(_), true) => Err(usage(
            "User Id= and Integrated Security cannot be combined: give a SQL Server login or \
             log in as the Windows account running sct, not both",
        )),
        (None, false) => Err(usage(if cfg!(windows) {
            "SQL Server connection string has no User Id=LOGIN (SQL authentication) nor \
             Integrated Security=SSPI (Windows authentication)"
        } else {
            "SQL Server connection string has no User Id=LOGIN (SQL authentication)"
        })),
    }
}

/// `[tcp:]host[\instance][,port]`; `.` and `(local)` mean this machine.
pub(super) fn parse_server(value: &str) -> anyhow::Result<(String, Option<String>, Option<u16>)> {
    let mut rest = value.trim();
    if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case("tcp:") {
        rest = &rest[4..];
    } else if let Some((protocol, _)) = rest.split_once(':')
        && matches!(
            protocol.to_ascii_lowercase().as_str(),
            "np" | "lpc" | "admin"
        )
    {
        return Err(usage(format!(
            "Server=`{rest}`: only TCP connections are supported, not `{protocol}:`"
        )));
    }
    let (rest, port) = match rest.rsplit_once(',') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (rest, None),
    };
    let (host, instance) = match rest.split_once('\\') {
        Some((host, instance)) if !instance.is_empty() => (host, Some(instance.to_owned())),
        Some(_) => return Err(usage(format!("Server=`{rest}` has an empty instance name"))),
        None => (rest, None),
    };
    let host = match host.trim() {
        "" => return Err(usage("Server= names no host")),
        "." | "(local)" => "localhost".to_owned(),
        other => other.to_owned(),
    };
    Ok((host, instance, port))
}

fn parse_port(text: &str) -> anyhow::Result<u16> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(usage(format!(
            "`{}` is not a TCP port (1-65535)",
            text.trim()
        ))),
    }
}

fn parse_bool(key: &str, value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(usage(format!("{key}=`{value}`: expected true or false"))),
    }
}

fn parse_encrypt(value: &str) -> anyhow::Result<Encrypt> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "mandatory" => Ok(Encrypt::Required),
        "false" | "no" | "optional" => Ok(Encrypt::LoginOnly),
        "danger_plaintext" => Ok(Encrypt::Plaintext),
        "strict" => Err(usage(
            "Encrypt=strict (TDS 8.0) is not supported by this build: use Encrypt=true",
        )),
        _ => Err(usage(format!(
            "Encrypt=`{value}`: expected true, false or DANGER_PLAINTEXT"
        ))),
    }
}

fn parse_intent(value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "readonly" => Ok(true),
        "readwrite" => Ok(false),
        _ => Err(usage(format!(
            "ApplicationIntent=`{value}`: expected ReadOnly or ReadWrite"
        ))),
    }
}

fn parse_seconds(key: &str, value: &str) -> anyhow::Result<Duration> {
    match value.trim().parse::<u64>() {
        Ok(seconds) if (1..=86_400).contains(&seconds) => Ok(Duration::from_secs(seconds)),
        _ => Err(usage(format!(
            "{key}=`{value}`: expected a number of seconds from 1 to 86400"
        ))),
    }
}

pub(super) fn parse_site_code(value: &str) -> anyhow::Result<String> {
    let code = value.trim();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(code.to_ascii_uppercase())
    } else {
        Err(usage(format!(
            "Site Code=`{code}`: a site code is three letters or digits"
        )))
    }
}

/// ConfigMgr names a site database `CM_<SiteCode>`.
pub(super) fn site_code_from_database(database: &str) -> anyhow::Result<String> {
    let code = database
        .get(..3)
        .filter(|prefix| prefix.eq_ignore_ascii_case("CM_"))
        .and_then(|_| database.get(3..))
        .filter(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphanumeric()));
    code.map(str::to_ascii_uppercase).ok_or_else(|| {
        usage(format!(
            "cannot tell the site code from database `{database}`: ConfigMgr names it \
             CM_<SiteCode>; add `Site Code=ABC` to the connection string"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::exit_code;

    fn parse(text: &str) -> SqlServerLocator {
        SqlServerLocator::parse(text).unwrap()
    }

    fn usage_error(text: &str) -> String {
        let err = SqlServerLocator::parse(text).unwrap_err();
        assert_eq!(exit_code(&err), ExitCode::Usage, "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn ado_string_with_port_and_defaults() {
        let loc = parse("Server=db01.corp,1433;Database=CM_PS1;User Id=sct");
        assert_eq!(loc.host, "db01.corp");
        assert_eq!(loc.port, Some(1433));
        assert_eq!(loc.instance, None);
        assert_eq!(loc.site_code, "PS1");
        assert_eq!(loc.login, Login::Sql("sct".into()));
        assert_eq!(
            loc.encrypt,
            Encrypt::Required,
            "TLS is on unless turned off"
        );
        assert!(!loc.trust_server_certificate, "validation is on by default");
        assert_eq!(loc.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(loc.command_timeout, DEFAULT_COMMAND_TIMEOUT);
    }

    #[test]
    fn ado_keys_are_case_and_space_insensitive_with_aliases() {
        let loc = parse(
            "data source=tcp:DB01\\CONFIGMGR;initial catalog=cm_abc;UID=sct;TRUSTSERVERCERTIFICATE=yes;\
             encrypt=no;connect timeout=5;Command Timeout=7;ApplicationIntent=ReadOnly;MultipleActiveResultSets=true",
        );
        assert_eq!(loc.host, "DB01");
        assert_eq!(loc.instance.as_deref(), Some("CONFIGMGR"));
        assert_eq!(loc.port, None);
        assert_eq!(loc.site_code, "ABC");
        assert!(loc.trust_server_certificate);
        assert_eq!(loc.encrypt, Encrypt::LoginOnly);
        assert_eq!(loc.connect_timeout, Duration::from_secs(5));
        assert_eq!(loc.command_timeout, Duration::from_secs(7));
        assert!(loc.read_only_intent);
    }

    #[test]
    fn named_instance_with_explicit_port_keeps_both() {
        let loc = parse("Server=db\\INST,50123;Database=CM_PS1;User Id=sct");
        assert_eq!(loc.instance.as_deref(), Some("INST"));
        assert_eq!(loc.port, Some(50123));
        assert_eq!(loc.server(), "db\\INST,50123");
        assert_eq!(
            parse("Server=.;Database=CM_PS1;User Id=sct").host,
            "localhost"
        );
    }

    #[test]
    fn quoted_values_keep_separators_and_the_password_never_shows() {
        let loc =
            parse("Server=db;Database=CM_PS1;User Id=sct;Password='p;a''ss=w0rd';Encrypt=true");
        assert_eq!(loc.password.as_ref().unwrap().expose(), "p;a'ss=w0rd");
        let shown = format!("{loc} {loc:?}");
        assert!(!shown.contains("w0rd"), "{shown}");
        assert!(shown.contains("Password=****"), "{shown}");
        let braced = parse("Server=db;Database=CM_PS1;User Id=sct;Pwd={x;y}");
        assert_eq!(braced.password.unwrap().expose(), "x;y");
    }

    #[test]
    fn url_form() {
        let loc = parse(
            "mssql://sct:s%40cret@db01:14330/CM_PS1?encrypt=DANGER_PLAINTEXT&connectTimeout=3",
        );
        assert_eq!(loc.host, "db01");
        assert_eq!(loc.port, Some(14330));
        assert_eq!(loc.login, Login::Sql("sct".into()));
        assert_eq!(loc.password.as_ref().unwrap().expose(), "s@cret");
        assert_eq!(loc.database, "CM_PS1");
        assert_eq!(loc.encrypt, Encrypt::Plaintext);
        assert_eq!(loc.connect_timeout, Duration::from_secs(3));
        assert!(!format!("{loc}").contains("cret"));
        let named =
            parse("sqlserver://sct@db01/CM_PS1?instance=CONFIGMGR&trustServerCertificate=true");
        assert_eq!(named.instance.as_deref(), Some("CONFIGMGR"));
        assert!(named.trust_server_certificate);
    }

    #[test]
    fn malformed_locators_are_usage_errors_naming_the_problem() {
        assert!(usage_error("Database=CM_PS1;User Id=sct").contains("no Server="));
        assert!(usage_error("Server=db;User Id=sct").contains("no Database="));
        assert!(usage_error("Server=db;Database=CM_PS1").contains("no User Id="));
        assert!(usage_error("Server=db,99999;Database=CM_PS1;User Id=sct").contains("TCP port"));
        assert!(usage_error("Server=db;Database=SUSDB;User Id=sct").contains("Site Code="));
        assert!(
            usage_error("Server=db;Database=CM_PS1;User Id=sct;Colour=red").contains("`colour`")
        );
        let both = login_of(Some("sct".into()), true).unwrap_err();
        assert!(format!("{both}").contains("cannot be combined"));
        assert!(
            usage_error("Server=db;Database=CM_PS1;Integrated Security=maybe")
                .contains("true or false")
        );
        assert!(usage_error("Server=np:\\\\db\\pipe;Database=CM_PS1;User Id=sct").contains("TCP"));
        assert!(
            usage_error("Server=db;Database=CM_PS1;User Id=sct;Encrypt=strict").contains("strict")
        );
        assert!(
            usage_error("Server=db;Database=CM_PS1;User Id=sct;Connect Timeout=0")
                .contains("seconds")
        );
        let both = "Server=db;Database=CM_PS1;User Id=sct;TrustServerCertificate=true;TrustServerCertificateCA=/ca.pem";
        assert!(usage_error(both).contains("cannot be combined"));
    }

    #[test]
    fn integrated_security_is_windows_authentication_on_windows_only() {
        let text = "Server=db\\CONFIGMGR;Database=CM_PS1;Integrated Security=SSPI";
        if cfg!(windows) {
            let loc = parse(text);
            assert_eq!(loc.login, Login::Windows);
            assert_eq!(
                loc.to_string(),
                "Server=db\\CONFIGMGR;Database=CM_PS1;Integrated Security=SSPI"
            );
            assert_eq!(
                parse("Server=db;Database=CM_PS1;Trusted_Connection=yes").login,
                Login::Windows
            );
        } else {
            assert!(usage_error(text).contains("needs sct for Windows"));
        }
        let off = parse("Server=db;Database=CM_PS1;User Id=sct;Integrated Security=false");
        assert_eq!(off.login, Login::Sql("sct".into()));
        assert_eq!(off.login.to_string(), "login `sct`");
        assert_eq!(
            Login::Windows.to_string(),
            "the Windows account running sct"
        );
    }

    #[test]
    fn parse_errors_never_echo_a_password() {
        for text in [
            "Server=db;Database=CM_PS1;User Id=sct;Password='hunter2",
            "Server=db;Database=CM_PS1;User Id=sct;Password='hunter2'x",
            "mssql://sct:hunter2@db:99999/CM_PS1",
            "Server=db;Database=CM_PS1;Password=hunter2;Bogus=1",
        ] {
            let message = usage_error(text);
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn site_code_and_level_overrides() {
        let loc = parse(
            "Server=db;Database=ConfigMgrDB;User Id=sct;Site Code=ps2;Diagnostics Level=Full",
        );
        assert_eq!(loc.site_code, "PS2");
        assert_eq!(loc.diagnostics_level, Some(DiagnosticsLevel::Full));
    }

    #[test]
    fn recognises_sql_server_locators_only() {
        assert!(SqlServerLocator::looks_like("Server=db;Database=CM_PS1"));
        assert!(SqlServerLocator::looks_like("Data Source=db"));
        assert!(SqlServerLocator::looks_like("Database=CM_PS1;Password=x"));
        assert!(SqlServerLocator::looks_like("MSSQL://db/CM_PS1"));
        assert!(!SqlServerLocator::looks_like("sqlite:/tmp/site.db"));
        assert!(!SqlServerLocator::looks_like("/tmp/site.db"));
    }
}
