//! Settings an operator does not type each time: the site database, the update service, trusted
//! keys, folders. Precedence: command-line flag, then environment variable, then the config file.
//!
//! The config file is `sct.toml` beside the binaries (so a copied tool folder carries its
//! settings, as the original's folder does), or the file named by `SCT_CONFIG`.

use crate::error::{ExitCode, fail};
use crate::site::SiteLocator;
use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Environment variable naming the config file.
pub const ENV_CONFIG: &str = "SCT_CONFIG";
/// Environment variable naming the site database.
pub const ENV_SITE: &str = "SCT_SITE";
/// The config file's name beside the binaries.
pub const FILE_NAME: &str = "sct.toml";

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
            fail(
                ExitCode::Usage,
                format!("config file `{}` is not valid: {e}", path.display()),
            )
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

    /// How to give `setting`, in the running program's words (see [`crate::setting`]).
    pub fn how_to_give(&self, setting: crate::setting::Setting) -> String {
        setting
            .how_to_give(&self.file_shown())
            .unwrap_or_else(|| "see the documentation".to_owned())
    }

    /// The site database: `--site`, then `SCT_SITE`, then the config file.
    pub fn site_locator(&self, flag: Option<&str>) -> anyhow::Result<SiteLocator> {
        let env = std::env::var(ENV_SITE).ok().filter(|v| !v.is_empty());
        match flag
            .map(str::to_owned)
            .or(env)
            .or_else(|| self.site.clone())
        {
            Some(text) => SiteLocator::parse(&text),
            None => Err(fail(
                ExitCode::Usage,
                format!(
                    "no site database given: {}",
                    self.how_to_give(crate::setting::Setting::Site)
                ),
            )),
        }
    }
}

impl Config {
    /// The proxy and its user: the flags, else `proxy` and `proxy_user` in the config file. A
    /// user without any proxy is a usage error (it would silently go unused).
    pub fn proxy(
        &self,
        flag: Option<&str>,
        user_flag: Option<&str>,
    ) -> anyhow::Result<(Option<String>, Option<String>)> {
        use crate::setting::Setting;
        let (proxy, user) = match flag {
            Some(proxy) => (Some(proxy.to_owned()), user_flag.map(str::to_owned)),
            None => (
                self.proxy.clone(),
                user_flag.map(str::to_owned).or(self.proxy_user.clone()),
            ),
        };
        if let (None, Some(user)) = (&proxy, &user) {
            return Err(fail(
                ExitCode::Usage,
                format!(
                    "the proxy user {user} is given but no proxy: {}",
                    self.how_to_give(Setting::Proxy)
                ),
            ));
        }
        Ok((proxy, user))
    }
}

/// Environment variable with trusted catalog keys (`ed25519:...` or key file paths, comma-separated).
pub const ENV_TRUSTED_KEYS: &str = "SCT_TRUSTED_KEYS";

impl Config {
    /// The pinned catalog keys: `--trusted-key` flags, then `SCT_TRUSTED_KEYS`, then the config file.
    pub fn trusted_keys(&self, flags: &[String]) -> anyhow::Result<Vec<crate::signing::PublicKey>> {
        let env: Vec<String> = std::env::var(ENV_TRUSTED_KEYS)
            .map(|v| v.split([',', '\n']).map(str::to_owned).collect())
            .unwrap_or_default();
        let items = if !flags.is_empty() {
            flags.to_vec()
        } else if env.iter().any(|s| !s.trim().is_empty()) {
            env
        } else {
            self.trusted_keys.clone()
        };
        let keys = crate::signing::parse_trusted(&items)?;
        if keys.is_empty() {
            return Err(fail(
                ExitCode::Usage,
                format!(
                    "no trusted catalog key: {}",
                    self.how_to_give(crate::setting::Setting::TrustedKeys)
                ),
            ));
        }
        Ok(keys)
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
        assert_eq!(crate::error::exit_code(&err), ExitCode::Usage);
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
        assert_eq!(crate::error::exit_code(&err), ExitCode::Usage);
        assert!(format!("{err:#}").contains("no proxy"), "{err:#}");
    }
}
