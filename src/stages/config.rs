//! Settings an operator does not type each time: the site database, the update service, trusted
//! keys, folders. Precedence: command-line flag, then environment variable, then the config file.
//!
//! The config file is `sct.toml` beside the binaries (so a copied tool folder carries its
//! settings, as the original's folder does), or the file named by `SCT_CONFIG`.

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
    /// Where this file was read from, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
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
        let text = fs_err::read_to_string(path).context("Failed to read the config file")?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "config file `{}` is not valid: {e}",
                path.display()
            ))
        })?;
        config.source = Some(path.to_owned());
        Ok(config)
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
