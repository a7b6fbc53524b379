//! Settings an operator does not type each time: the site database, the update service, trusted
//! keys, folders. Precedence: command-line flag, then environment variable, then the config file.
//!
//! The config file is `sct.toml` beside the binaries (so a copied tool folder carries its
//! settings, as the original's folder does), or the file named by `SCT_CONFIG`.
//!
//! Trust settings — `trusted_keys`, `service_url`, the proxy, `max_catalog_validity_days`,
//! `import_grace_days` — never come from a config file on removable media (a tool folder
//! carried on the USB drive, or `SCT_CONFIG` naming a file there): such a file is reduced to
//! its other settings with a warning, so a drive cannot redirect the upload token or pin its
//! own key. Nor do keys come from a config file inside the folder being checked. Trust settings
//! belong on the machine: `/etc/sct/sct.toml` (via `SCT_CONFIG`) or the folder of an installed
//! copy on Linux; `%ProgramData%\sct\sct.toml` on Windows (docs/config.md).

use crate::core::error::Error;
use crate::site::SiteLocator;
use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Environment variable naming the config file.
pub const ENV_CONFIG: &str = "SCT_CONFIG";
/// Environment variable naming the site database.
pub const ENV_SITE: &str = "SCT_SITE";
/// The config file's name beside the binaries.
pub const FILE_NAME: &str = crate::core::setting::CONFIG_FILE;

/// The config file's contents; every key is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Site database locator, e.g. `sqlite:/var/lib/sct/site.db`.
    pub site: Option<String>,
    /// The update service's base URL.
    pub service_url: Option<String>,
    /// Trusted catalog signing keys (public keys).
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// The site's install folder; imported packs go to its `EasySetupPayload/offline/`.
    pub install_dir: Option<PathBuf>,
    /// Proxy for upload and download (`host[:port]`, port 80 when left out, or `http://host:port`),
    /// used when no proxy flag is given.
    pub proxy: Option<String>,
    /// The proxy's user name (the password comes from `SCT_PROXY_PASSWORD` or a prompt).
    pub proxy_user: Option<String>,
    /// Folder for the CMTrace log files.
    pub log_dir: Option<PathBuf>,
    /// Longest validity window (days) a fetched catalog may be signed for.
    pub max_catalog_validity_days: Option<u32>,
    /// Days after catalog expiry that import still accepts it (`crate::stages::import::grace`).
    pub import_grace_days: Option<u32>,
    /// Oldest freshness statement (hours) a fetch accepts (`crate::core::freshness`).
    pub max_timestamp_age_hours: Option<u32>,
    /// Where this file was read from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Trust settings the file held but that were dropped because it lies on removable media.
    #[serde(skip)]
    pub dropped: Vec<&'static str>,
}

impl Config {
    /// Loads `SCT_CONFIG` if set (it must exist), else `sct.toml` beside the binary if present.
    pub fn load() -> anyhow::Result<Self> {
        if let Some(path) = std::env::var_os(ENV_CONFIG) {
            return Self::from_file(Path::new(&path));
        }
        match beside_binary() {
            Some(path) if path.is_file() => Self::from_file(&path),
            _ => Ok(Self::default()),
        }
    }

    /// Reads one config file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let bytes = fs_err::read(path).context("Failed to read the config file")?;
        let (text, _) = crate::core::text::decode(&bytes).map_err(|e| {
            Error::Usage(format!("config file `{}` is not text: {e}", path.display()))
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "config file `{}` is not valid: {}",
                path.display(),
                toml_problem(&text, &e)
            ))
        })?;
        config.source = Some(path.to_owned());
        if crate::core::removable::is_removable(path) {
            config.drop_trust_settings();
        }
        Ok(config)
    }

    /// Clears every setting that decides trust, keeping what only affects display and where
    /// things are (site, install folder, logs), and says so once.
    fn drop_trust_settings(&mut self) {
        // An allow-list: everything but the site, the install folder and the log folder goes,
        // so a setting added later is dropped from a drive until someone decides otherwise.
        let kept = Config {
            site: self.site.take(),
            install_dir: self.install_dir.take(),
            log_dir: self.log_dir.take(),
            source: self.source.take(),
            ..Config::default()
        };
        let Config {
            service_url,
            trusted_keys,
            proxy,
            proxy_user,
            max_catalog_validity_days,
            import_grace_days,
            max_timestamp_age_hours,
            ..
        } = std::mem::replace(self, kept);
        let dropped: Vec<&'static str> = [
            ("trusted_keys", !trusted_keys.is_empty()),
            ("service_url", service_url.is_some()),
            ("proxy", proxy.is_some()),
            ("proxy_user", proxy_user.is_some()),
            (
                "max_catalog_validity_days",
                max_catalog_validity_days.is_some(),
            ),
            ("import_grace_days", import_grace_days.is_some()),
            ("max_timestamp_age_hours", max_timestamp_age_hours.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, had)| had.then_some(name))
        .collect();
        if !dropped.is_empty() {
            let message = format!(
                "config file `{}` is on removable media: its trust settings ({}) are ignored; \
                 keep them in a config file on this machine (docs/config.md)",
                self.file_shown(),
                dropped.join(", ")
            );
            crate::core::logging::warn("config", &message);
            crate::core::report::note("sct", message);
        }
        self.dropped = dropped;
    }

    /// The config file messages name: the one read, else `sct.toml` beside the binaries.
    pub fn file_shown(&self) -> String {
        self.source
            .clone()
            .or_else(beside_binary)
            .map_or_else(|| FILE_NAME.to_owned(), |p| p.display().to_string())
    }

    /// "set ENV or add `key = ...` to FILE", for settings with no flag in any program.
    fn where_to_set(&self, key: &str, env: &str) -> String {
        format!("set {env} or add `{key} = ...` to {}", self.file_shown())
    }

    /// How to give `setting`, in the running program's words (see [`crate::core::setting`]).
    pub fn how_to_give(&self, setting: crate::core::setting::Setting) -> String {
        setting
            .how_to_give(&self.file_shown())
            .unwrap_or_else(|| "see the documentation".to_owned())
    }

    /// The site database: `--site`, then `SCT_SITE`, then the config file, then (Windows) the
    /// one ConfigMgr records on this site server ([`crate::site::mssql::registry`]).
    ///
    /// A password inside `--site` is refused (exit 2), as a password in `-proxyserveruri` is:
    /// every user of the machine can read a command line (`ps`, Task Manager).
    pub fn site_locator(&self, flag: Option<&str>) -> anyhow::Result<SiteLocator> {
        if let Some(flag) = flag
            && SiteLocator::parse(flag)?.carries_password()
        {
            return Err(Error::Usage(format!(
                "--site must not carry a password: a command line is visible to every user \
                     of the machine; set {} instead",
                crate::site::mssql::ENV_PASSWORD
            ))
            .into());
        }
        let env = std::env::var(ENV_SITE).ok().filter(|v| !v.is_empty());
        if let Some(text) = flag
            .map(str::to_owned)
            .or(env)
            .or_else(|| self.site.clone())
        {
            return SiteLocator::parse(&text);
        }
        if let Some(found) = crate::site::mssql::registry::find()? {
            return Ok(SiteLocator::SqlServer(Box::new(found)));
        }
        let on_site_server = if cfg!(windows) {
            " (this machine records no ConfigMgr site database: run on the site server)"
        } else {
            ""
        };
        Err(Error::Usage(format!(
            "no site database given: {}{on_site_server}",
            self.how_to_give(crate::core::setting::Setting::Site)
        ))
        .into())
    }
}

impl Config {
    /// The proxy and its user: the flags, else `proxy` and `proxy_user` in the config file. A
    /// user without any proxy (none here, none in this user's Windows Internet Settings) is a
    /// usage error (it would silently go unused).
    pub fn proxy(
        &self,
        flag: Option<&str>,
        user_flag: Option<&str>,
    ) -> anyhow::Result<(Option<String>, Option<String>)> {
        use crate::core::setting::Setting;
        let (proxy, user) = match flag {
            Some(proxy) => (Some(proxy.to_owned()), user_flag.map(str::to_owned)),
            None => (
                self.proxy.clone(),
                user_flag.map(str::to_owned).or(self.proxy_user.clone()),
            ),
        };
        if let (None, Some(user)) = (&proxy, &user)
            && crate::stages::proxy::system::read().is_none()
        {
            return Err(Error::Usage(format!(
                "the proxy user {user} is given but no proxy: {}",
                self.how_to_give(Setting::Proxy)
            ))
            .into());
        }
        Ok((proxy, user))
    }

    /// Where the proxy [`Config::proxy`] returns for `flag` came from.
    pub fn proxy_origin(&self, flag: Option<&str>) -> crate::stages::proxy::Origin {
        match flag {
            None if self.proxy.is_some() => crate::stages::proxy::Origin::ConfigFile,
            _ => crate::stages::proxy::Origin::Flag,
        }
    }
}

/// Environment variable with trusted catalog keys (`ed25519:...` or key file paths, comma-separated).
pub const ENV_TRUSTED_KEYS: &str = "SCT_TRUSTED_KEYS";

/// Where a trusted-key item came from: it decides what a relative key-file path means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyOrigin {
    Flag,
    Env,
    File,
}

impl Config {
    /// The pinned catalog keys: `--trusted-key` flags, then `SCT_TRUSTED_KEYS`, then the config file.
    pub fn trusted_keys(
        &self,
        flags: &[String],
    ) -> anyhow::Result<Vec<crate::core::signing::PublicKey>> {
        self.trusted_keys_for(flags, None)
    }

    /// The pinned catalog keys for checking `medium` (the pack folder being verified or imported).
    ///
    /// No trust may come from the working directory or from the medium itself: a relative key-file
    /// path in `sct.toml` is read from the config file's folder; one from a flag or `SCT_TRUSTED_KEYS`
    /// is refused (exit 2); and a key file inside `medium` is refused (exit 2).
    pub fn trusted_keys_for(
        &self,
        flags: &[String],
        medium: Option<&Path>,
    ) -> anyhow::Result<Vec<crate::core::signing::PublicKey>> {
        let env: Vec<String> = std::env::var(ENV_TRUSTED_KEYS)
            .map(|v| v.split([',', '\n']).map(str::to_owned).collect())
            .unwrap_or_default();
        let (items, origin) = if !flags.is_empty() {
            (flags.to_vec(), KeyOrigin::Flag)
        } else if env.iter().any(|s| !s.trim().is_empty()) {
            (env, KeyOrigin::Env)
        } else {
            self.check_not_inside(medium)?;
            (self.trusted_keys.clone(), KeyOrigin::File)
        };
        let items = items
            .iter()
            .map(|item| self.resolve_key_item(item.trim(), origin, medium))
            .collect::<anyhow::Result<Vec<String>>>()?;
        let keys = crate::core::signing::parse_trusted(&items)?;
        if keys.is_empty() {
            return Err(Error::NoTrustedKey {
                how: self.how_to_give(crate::core::setting::Setting::TrustedKeys),
            }
            .into());
        }
        Ok(keys)
    }

    /// Refuses keys from a config file that lies inside `medium`, the folder being checked: a
    /// copied tool folder on the drive cannot vouch for the packs beside it (exit 2).
    fn check_not_inside(&self, medium: Option<&Path>) -> anyhow::Result<()> {
        if let (Some(source), Some(medium)) = (&self.source, medium)
            && !self.trusted_keys.is_empty()
            && inside(source, medium)
        {
            return Err(Error::Usage(format!(
                "config file `{}` is inside `{}`, the folder being checked: a medium cannot \
                 vouch for itself; keep trusted keys in a config file on this machine",
                source.display(),
                medium.display()
            ))
            .into());
        }
        Ok(())
    }

    /// A key (`ed25519:...`, kept as is) or a key file's path made absolute, per the rules of
    /// [`Config::trusted_keys_for`].
    fn resolve_key_item(
        &self,
        item: &str,
        origin: KeyOrigin,
        medium: Option<&Path>,
    ) -> anyhow::Result<String> {
        if item.is_empty() || crate::core::signing::is_key_text(item) {
            return Ok(item.to_owned());
        }
        let path = Path::new(item);
        let path = if path.is_absolute() {
            path.to_owned()
        } else {
            let folder = self.source.as_deref().and_then(Path::parent);
            match (origin, folder) {
                (KeyOrigin::File, Some(folder)) => folder.join(path),
                _ => {
                    let named = match origin {
                        KeyOrigin::Flag => "--trusted-key".to_owned(),
                        _ => ENV_TRUSTED_KEYS.to_owned(),
                    };
                    return Err(Error::Usage(format!(
                            "{named}: key file `{item}` is a relative path; give an absolute path \
                             (trust is never read from the current folder, which may be the medium being checked)"
                        )).into());
                }
            }
        };
        if let Some(medium) = medium
            && inside(&path, medium)
        {
            return Err(Error::Usage(format!(
                "trusted key file `{}` is inside `{}`, the folder being checked: \
                     a medium cannot vouch for itself; keep key files on the machine",
                path.display(),
                medium.display()
            ))
            .into());
        }
        path.into_os_string().into_string().map_err(|p| {
            Error::Usage(format!("key file path `{}` is not Unicode", p.display())).into()
        })
    }
}

/// True when `path` is `folder` or lies under it, after resolving links and `..` on both (a key
/// file that does not exist cannot be read later either, so it is not "inside").
fn inside(path: &Path, folder: &Path) -> bool {
    match (std::fs::canonicalize(path), std::fs::canonicalize(folder)) {
        (Ok(path), Ok(folder)) => path.starts_with(folder),
        _ => false,
    }
}

pub use crate::core::catalog::{DEFAULT_MAX_CATALOG_VALIDITY_DAYS, ENV_MAX_CATALOG_VALIDITY};

impl Config {
    /// The catalog validity ceiling: `SCT_MAX_CATALOG_VALIDITY_DAYS`, then
    /// `max_catalog_validity_days`, then [`DEFAULT_MAX_CATALOG_VALIDITY_DAYS`]; at least 1.
    pub fn max_catalog_validity_days(&self) -> anyhow::Result<u32> {
        let env = std::env::var(ENV_MAX_CATALOG_VALIDITY)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let days = match env {
            Some(text) => text.trim().parse::<u32>().map_err(|_| {
                Error::Usage(format!(
                    "{ENV_MAX_CATALOG_VALIDITY} `{text}` is not a number of days"
                ))
            })?,
            None => self
                .max_catalog_validity_days
                .unwrap_or(DEFAULT_MAX_CATALOG_VALIDITY_DAYS),
        };
        if days == 0 {
            return Err(Error::Usage(format!(
                "the catalog validity ceiling must be at least 1 day ({})",
                self.where_to_set("max_catalog_validity_days", ENV_MAX_CATALOG_VALIDITY)
            ))
            .into());
        }
        Ok(days)
    }

    /// The ceiling with where to change it, for [`crate::core::catalog::Catalog::check_validity_window`].
    pub fn validity_ceiling(&self) -> anyhow::Result<crate::core::catalog::ValidityCeiling> {
        Ok(crate::core::catalog::ValidityCeiling {
            days: self.max_catalog_validity_days()?,
            setting: self.where_to_set("max_catalog_validity_days", ENV_MAX_CATALOG_VALIDITY),
        })
    }
}

impl Config {
    /// The oldest freshness statement a fetch accepts: `SCT_MAX_TIMESTAMP_AGE_HOURS`, then
    /// `max_timestamp_age_hours`, then a day; within [`crate::core::freshness::HOURS_BOUNDS`].
    pub fn max_timestamp_age(&self) -> anyhow::Result<crate::core::freshness::MaxAge> {
        use crate::core::freshness::{DEFAULT_MAX_TIMESTAMP_AGE_HOURS, ENV_MAX_TIMESTAMP_AGE};
        let setting = self.where_to_set("max_timestamp_age_hours", ENV_MAX_TIMESTAMP_AGE);
        let env = std::env::var(ENV_MAX_TIMESTAMP_AGE)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let hours = match env {
            Some(text) => text.trim().parse::<u32>().map_err(|_| {
                Error::Usage(format!(
                    "{ENV_MAX_TIMESTAMP_AGE} `{text}` is not a number of hours"
                ))
            })?,
            None => self
                .max_timestamp_age_hours
                .unwrap_or(DEFAULT_MAX_TIMESTAMP_AGE_HOURS),
        };
        crate::core::freshness::check_hours(
            hours,
            &format!("the oldest freshness statement accepted ({setting})"),
        )?;
        Ok(crate::core::freshness::MaxAge { hours, setting })
    }
}

/// A TOML error as one readable line: where, what, and the line itself; for a backslash inside
/// double quotes (a Windows path such as `"C:\\sct\\logs"`), the fix: single quotes.
fn toml_problem(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end();
    let Some(at) = err.span().map(|span| span.start.min(text.len())) else {
        return message.to_owned();
    };
    let before = text.get(..at).unwrap_or(text);
    let number = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let line = text.lines().nth(number - 1).unwrap_or("").trim();
    let mut problem = format!("line {number}, column {column}: {message}: {line}");
    if line.contains('\\') && line.contains('"') {
        problem.push_str(
            " (a backslash inside double quotes starts an escape: write a Windows path in \
             single quotes, as in install_dir = 'C:\\Program Files\\Microsoft Configuration Manager')",
        );
    }
    problem
}

/// `sct.toml` in the folder of the running binary.
pub fn beside_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ExitCode;

    #[test]
    fn reads_known_keys_and_refuses_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sct.toml");
        std::fs::write(&path, "site = \"sqlite:/x.db\"\ntrusted_keys = [\"abc\"]\n").unwrap();
        let config = Config::from_file(&path).unwrap();
        assert_eq!(config.site.as_deref(), Some("sqlite:/x.db"));
        assert_eq!(
            config.site_locator(Some("sqlite:/flag.db")).unwrap(),
            SiteLocator::Sqlite("/flag.db".into())
        );
        std::fs::write(&path, "sight = \"typo\"\n").unwrap();
        let err = Config::from_file(&path).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
    }

    #[test]
    fn the_shipped_file_is_ascii_and_valid() {
        let shipped = include_str!("../../packaging/sct.toml");
        // ASCII reads the same in every ANSI code page Notepad may save it back in.
        assert!(shipped.is_ascii(), "packaging/sct.toml must stay ASCII");
        toml::from_str::<Config>(shipped).unwrap();
    }

    #[test]
    fn reads_notepad_encodings_and_explains_a_windows_path_in_double_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sct.toml");
        let text = "# sct.toml \u{2014} café\nsite = 'sqlite:C:\\sct\\site.db'\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let ansi = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
        for bytes in [le, ansi] {
            std::fs::write(&path, bytes).unwrap();
            let config = Config::from_file(&path).unwrap();
            assert_eq!(config.site.as_deref(), Some("sqlite:C:\\sct\\site.db"));
        }
        std::fs::write(&path, "# settings\nlog_dir = \"C:\\sct\\new\"\n").unwrap();
        let err = format!("{:#}", Config::from_file(&path).unwrap_err());
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("line 2, column"), "{err}");
        assert!(err.contains("single quotes"), "{err}");
    }

    #[test]
    fn proxy_flags_win_and_a_user_needs_a_proxy() {
        let file = Config {
            proxy: Some("itproxy.contoso.com".into()),
            proxy_user: Some("jqpublic".into()),
            ..Config::default()
        };
        assert_eq!(
            file.proxy(None, None).unwrap(),
            (Some("itproxy.contoso.com".into()), Some("jqpublic".into()))
        );
        // A proxy flag replaces the file's proxy and its user.
        assert_eq!(
            file.proxy(Some("other:3128"), None).unwrap(),
            (Some("other:3128".into()), None)
        );
        let none = Config::default();
        assert_eq!(none.proxy(None, None).unwrap(), (None, None));
        let err = none.proxy(None, Some("jqpublic")).unwrap_err();
        assert_eq!(crate::core::error::exit_code(&err), ExitCode::Usage);
        assert!(format!("{err:#}").contains("no proxy"), "{err:#}");
    }
}
