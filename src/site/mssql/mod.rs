//! The real site database: ConfigMgr's `CM_<SiteCode>` on SQL Server, read over TDS with
//! `tiberius`.
//!
//! [`SiteStore`] is synchronous, so [`SqlServerSite`] owns a small current-thread tokio runtime
//! and blocks on it; callers must not already be inside an async runtime. It only reads, with the
//! parameterised statements of [`super::queries`], and checks right after login that the database
//! has the ConfigMgr objects it reads, so a wrong database is named as such. Connect (TCP and
//! login) and each query answer are bounded by the locator's timeouts.
//!
//! It logs in with a SQL Server login and its password, or, in the Windows build, with Windows
//! integrated authentication as the account running sct (SSPI), as the original tool does.

pub mod errors;
pub mod locator;
pub mod registry;
mod rows;
mod syntax;
#[cfg(test)]
mod tests;

use super::queries;
use super::{DiagnosticsLevel, SiteIdentity, SiteStore, UpdatePackage, UsageRow};
use crate::core::error::Error;
use anyhow::Context;
use errors::{Stage, classify};
use locator::{Encrypt, Login, Secret, SqlServerLocator};
use rows::{identity_from_row, int_at, package_from_row, usage_from_row};
use std::io::IsTerminal;
use std::sync::Mutex;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Row, ToSql};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// Environment variable holding the SQL Server login's password.
pub const ENV_PASSWORD: &str = "SCT_SITE_PASSWORD";

type TdsClient = Client<Compat<TcpStream>>;

/// An open connection to a ConfigMgr site database on SQL Server.
pub struct SqlServerSite {
    locator: SqlServerLocator,
    /// The SQL login's password (to mask it in server text); `None` with Windows authentication.
    password: Option<Secret>,
    auth: AuthMethod,
    runtime: tokio::runtime::Runtime,
    /// `None` after a failed statement: the connection may be out of step, so the next read
    /// logs in again.
    client: Mutex<Option<TdsClient>>,
}

impl SqlServerSite {
    /// Finds the password of a SQL login ([`password_for`]), connects, logs in and checks the
    /// database.
    pub fn open(locator: &SqlServerLocator) -> anyhow::Result<Self> {
        let password = match locator.login {
            Login::Sql(_) => Some(password_for(locator)?),
            Login::Windows => None,
        };
        Self::connect_and_check(locator, password)
    }

    /// Connects with a known password: the tests, which never prompt.
    #[cfg(test)]
    pub(crate) fn open_with_password(
        locator: &SqlServerLocator,
        password: Secret,
    ) -> anyhow::Result<Self> {
        Self::connect_and_check(locator, Some(password))
    }

    fn connect_and_check(
        locator: &SqlServerLocator,
        password: Option<Secret>,
    ) -> anyhow::Result<Self> {
        // Before any connection: Windows authentication outside Windows is a usage error.
        let auth = auth_method(locator, password.as_ref())?;
        announce_trust_choices(locator);
        let runtime = crate::core::runtime::current_thread()
            .map_err(|e| Error::Io(format!("cannot start the SQL Server client: {e:#}")))?;
        let client = runtime
            .block_on(connect(locator, auth.clone()))
            .map_err(|e| classify(&e, locator, password.as_ref(), Stage::Connect))?;
        let site = Self {
            locator: locator.clone(),
            password,
            auth,
            runtime,
            client: Mutex::new(Some(client)),
        };
        site.check_configmgr_objects()?;
        Ok(site)
    }

    /// Runs one statement and returns the rows of its first result set.
    fn fetch(
        &self,
        sql: &'static str,
        params: &[&dyn ToSql],
        what: &'static str,
    ) -> anyhow::Result<Vec<Row>> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let mut client = match slot.take() {
            Some(client) => client,
            None => self
                .runtime
                .block_on(connect(&self.locator, self.auth.clone()))
                .map_err(|e| self.classify(&e, Stage::Connect))?,
        };
        let rows = self
            .runtime
            .block_on(async { client.query(sql, params).await?.into_first_result().await });
        match rows {
            Ok(rows) => {
                *slot = Some(client);
                Ok(rows)
            }
            Err(e) => Err(self.classify(&e, Stage::Read(what))),
        }
    }

    fn classify(&self, err: &tiberius::error::Error, stage: Stage) -> anyhow::Error {
        classify(err, &self.locator, self.password.as_ref(), stage)
    }

    /// Fails with the list of missing objects when the database is not a ConfigMgr site database.
    fn check_configmgr_objects(&self) -> anyhow::Result<()> {
        let rows = self.fetch(queries::PROBE_MSSQL, &[], "the list of ConfigMgr objects")?;
        let row = rows.first();
        let missing: Vec<&str> = queries::PROBED_OBJECTS
            .iter()
            .enumerate()
            .filter(|(i, _)| row.is_none_or(|r| matches!(int_at(r, *i), Ok(None) | Err(_))))
            .map(|(_, name)| *name)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::Io(format!(
            "database `{}` on `{}` is not a ConfigMgr site database, or {} cannot see \
                 its objects: missing {} (a ConfigMgr site database is named CM_<SiteCode>; sct \
                 needs version 1602 or later)",
            self.locator.database,
            self.locator.server(),
            self.locator.login,
            missing.join(", ")
        ))
        .into())
    }

    fn describe_read(&self, what: &str) -> String {
        format!(
            "Failed to read {what} from SQL Server `{}`, database `{}`",
            self.locator.server(),
            self.locator.database
        )
    }
}

impl SiteStore for SqlServerSite {
    fn describe(&self) -> String {
        self.locator.to_string()
    }

    fn identity(&self) -> anyhow::Result<SiteIdentity> {
        let code = self.locator.site_code.as_str();
        let rows = self.fetch(queries::IDENTITY_MSSQL, &[&code], "the site identity")?;
        let Some(row) = rows.first() else {
            return Err(Error::Io(format!(
                "database `{}` on `{}` has no row for site {code} in dbo.Sites: check the \
                     site code (Database=CM_<SiteCode> or Site Code=)",
                self.locator.database,
                self.locator.server()
            ))
            .into());
        };
        identity_from_row(row, self.locator.diagnostics_level)
            .map_err(Error::Io)
            .with_context(|| self.describe_read("the site identity"))
    }

    fn usage_rows(&self, level: DiagnosticsLevel) -> anyhow::Result<Vec<UsageRow>> {
        let level = level as i32;
        let rows = self.fetch(
            queries::USAGE_MSSQL,
            &[&level],
            "usage data from TEL_TelemetryResults",
        )?;
        rows.iter()
            .map(usage_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::Io)
            .with_context(|| self.describe_read("usage data from TEL_TelemetryResults"))
    }

    fn update_packages(&self) -> anyhow::Result<Vec<UpdatePackage>> {
        let rows = self.fetch(
            queries::PACKAGES_MSSQL,
            &[],
            "update packages from CM_UpdatePackages",
        )?;
        let mut packages = rows
            .iter()
            .map(package_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::Io)
            .with_context(|| self.describe_read("update packages from CM_UpdatePackages"))?;
        // The same order as the embedded site: newest version first, then by name.
        packages.sort_by(|a, b| {
            b.full_version
                .cmp(&a.full_version)
                .then(a.name.cmp(&b.name))
        });
        Ok(packages)
    }
}

/// The password: `SCT_SITE_PASSWORD`, else one written in the locator, else a terminal prompt.
/// Without any of them the answer is a usage error (exit 2), before any connection.
pub fn password_for(locator: &SqlServerLocator) -> anyhow::Result<Secret> {
    let who = &locator.login;
    if let Some(password) = std::env::var(ENV_PASSWORD).ok().filter(|p| !p.is_empty()) {
        return Ok(Secret::new(password));
    }
    if let Some(password) = &locator.password {
        return Ok(password.clone());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
                "no password for SQL Server {who} on `{}`: set {ENV_PASSWORD} (a prompt needs a terminal)",
                locator.server()
            )).into());
    }
    let prompt = format!("Password for SQL Server {who} on `{}`: ", locator.server());
    rpassword::prompt_password(prompt)
        .map(Secret::new)
        .map_err(|e| Error::Usage(format!("could not read the password: {e}")).into())
}

/// The running binary's name, for notes on stderr (`ServiceConnectionTool`, `sct-collect`).
fn tool_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "sct".to_owned())
}

/// Says on stderr when certificate validation or encryption is turned off: both are explicit
/// choices an administrator should see every time.
fn announce_trust_choices(locator: &SqlServerLocator) {
    let tool = tool_name();
    if locator.encrypt == Encrypt::Plaintext {
        crate::core::report::note(
            &tool,
            format!(
                "warning: Encrypt=DANGER_PLAINTEXT: the connection to `{}` is not encrypted, \
                 not even the password",
                locator.server()
            ),
        );
    } else if locator.trust_server_certificate {
        crate::core::report::note(
            &tool,
            format!(
                "warning: TrustServerCertificate=true: the certificate of `{}` is not validated",
                locator.server()
            ),
        );
    }
}

/// How tiberius logs in: a SQL login with its password, or Windows integrated authentication,
/// which only the Windows build has (a usage error elsewhere).
fn auth_method(
    locator: &SqlServerLocator,
    password: Option<&Secret>,
) -> anyhow::Result<AuthMethod> {
    match &locator.login {
        Login::Sql(user) => Ok(AuthMethod::sql_server(
            user,
            password.map_or("", Secret::expose),
        )),
        #[cfg(windows)]
        Login::Windows => Ok(AuthMethod::Integrated),
        #[cfg(not(windows))]
        Login::Windows => Err(Error::Usage(
            "Windows authentication (Integrated Security) needs sct for Windows: use a SQL \
             Server login with User Id=... and SCT_SITE_PASSWORD"
                .into(),
        )
        .into()),
    }
}

/// The tiberius settings for a locator and its login.
fn config(locator: &SqlServerLocator, auth: AuthMethod) -> Config {
    let mut config = Config::new();
    config.host(&locator.host);
    if let Some(port) = locator.port {
        config.port(port);
    } else if let Some(instance) = &locator.instance {
        config.instance_name(instance);
    }
    config.database(&locator.database);
    config.application_name(concat!("sct ", env!("CARGO_PKG_VERSION")));
    config.authentication(auth);
    config.encryption(match locator.encrypt {
        Encrypt::Required => EncryptionLevel::Required,
        Encrypt::LoginOnly => EncryptionLevel::Off,
        Encrypt::Plaintext => EncryptionLevel::NotSupported,
    });
    if locator.trust_server_certificate {
        config.trust_cert();
    } else if let Some(ca) = &locator.ca_file {
        config.trust_cert_ca(ca.display());
    }
    if let Some(name) = &locator.host_name_in_certificate {
        config.hostname_in_certificate(name);
    }
    config.readonly(locator.read_only_intent);
    config.handshake_timeout(Some(locator.connect_timeout));
    config.command_timeout(Some(locator.command_timeout));
    config
}

/// TCP connect (bounded by the connect timeout), then TLS and login (bounded by tiberius).
async fn connect(
    locator: &SqlServerLocator,
    auth: AuthMethod,
) -> Result<TdsClient, tiberius::error::Error> {
    let config = config(locator, auth);
    let tcp = async {
        if locator.port.is_none() && locator.instance.is_some() {
            use tiberius::SqlBrowser;
            TcpStream::connect_named(&config).await
        } else {
            let stream = TcpStream::connect(config.get_addr()).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    };
    let tcp = tokio::time::timeout(locator.connect_timeout, tcp)
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "TCP connect timed out")
        })??;
    Client::connect(config, tcp.compat_write()).await
}
