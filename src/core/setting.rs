//! The settings an operator gives, and how to give each in the words of the program that runs.
//!
//! The stages take `--site`; `ServiceConnectionTool` takes no such flag, only the original's
//! `-proxyserveruri`, `-proxyusername`, and environment variables or `sct.toml` for the rest. A
//! message that tells the operator how to fix a setting names it as a [`Setting`] and renders it
//! with [`Setting::how_to_give`], which speaks the language of the running front end (recorded
//! once by [`crate::cli::run`]), so no message names a flag the operator cannot type.

use std::sync::OnceLock;

/// The program the operator ran, as recorded by [`crate::cli::run`].
static PROGRAM: OnceLock<String> = OnceLock::new();

/// The wrapper's program name: its messages name only the original's flags.
pub const WRAPPER: &str = "ServiceConnectionTool";
/// The config file's name beside the binaries (`crate::stages::config` reads it).
pub const CONFIG_FILE: &str = "sct.toml";

/// Records the running program (first call wins; later calls, as in tests, change nothing).
pub fn set_program(name: &str) {
    let _ = PROGRAM.set(name.to_owned());
}

/// The running program's name, if a front end recorded it.
pub fn program() -> Option<&'static str> {
    PROGRAM.get().map(String::as_str)
}

/// True when the running program is `ServiceConnectionTool`.
pub fn is_wrapper() -> bool {
    program() == Some(WRAPPER)
}

/// A setting a message may ask the operator to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Site,
    TrustedKeys,
    ServiceUrl,
    Proxy,
    ProxyUser,
    ProxyPassword,
    InstallDir,
    Timeout,
}

/// How one setting can be given: a stage flag, a wrapper flag, a variable, a config key.
struct Ways {
    stage_flag: Option<&'static str>,
    wrapper_flag: Option<&'static str>,
    env: Option<&'static str>,
    key: Option<&'static str>,
}

impl Setting {
    /// Every setting, for `-help` and the tests that keep both in step.
    pub const ALL: [Setting; 8] = [
        Setting::Site,
        Setting::TrustedKeys,
        Setting::ServiceUrl,
        Setting::Proxy,
        Setting::ProxyUser,
        Setting::ProxyPassword,
        Setting::InstallDir,
        Setting::Timeout,
    ];

    fn ways(self) -> Ways {
        let (stage_flag, wrapper_flag, env, key) = match self {
            Setting::Site => (Some("--site"), None, Some("SCT_SITE"), Some("site")),
            Setting::TrustedKeys => (
                Some("--trusted-key"),
                None,
                Some("SCT_TRUSTED_KEYS"),
                Some("trusted_keys"),
            ),
            Setting::ServiceUrl => (
                Some("--service-url"),
                None,
                Some("SCT_SERVICE_URL"),
                Some("service_url"),
            ),
            Setting::Proxy => (
                Some("--proxy"),
                Some("-proxyserveruri"),
                None,
                Some("proxy"),
            ),
            Setting::ProxyUser => (
                Some("--proxy-user"),
                Some("-proxyusername"),
                None,
                Some("proxy_user"),
            ),
            Setting::ProxyPassword => (None, None, Some("SCT_PROXY_PASSWORD"), None),
            Setting::InstallDir => (
                Some("--install-dir"),
                None,
                Some("SCT_INSTALL_DIR"),
                Some("install_dir"),
            ),
            Setting::Timeout => (Some("--timeout"), None, None, None),
        };
        Ways {
            stage_flag,
            wrapper_flag,
            env,
            key,
        }
    }

    /// The flag for this setting in the running program, if it has one.
    pub fn flag(self) -> Option<&'static str> {
        self.flag_in(is_wrapper())
    }

    fn flag_in(self, wrapper: bool) -> Option<&'static str> {
        let ways = self.ways();
        if wrapper {
            ways.wrapper_flag
        } else {
            ways.stage_flag
        }
    }

    /// The environment variable, if any.
    pub fn env(self) -> Option<&'static str> {
        self.ways().env
    }

    /// The `sct.toml` key, if any.
    pub fn key(self) -> Option<&'static str> {
        self.ways().key
    }

    /// Every way to give it in the running program: "use --site, set SCT_SITE or add
    /// `site = ...` to FILE". `None` when the running program offers no way (the wrapper has no
    /// timeout setting).
    pub fn how_to_give(self, config_file: &str) -> Option<String> {
        self.how_to_give_in(is_wrapper(), config_file)
    }

    fn how_to_give_in(self, wrapper: bool, config_file: &str) -> Option<String> {
        let mut ways = Vec::new();
        if let Some(flag) = self.flag_in(wrapper) {
            ways.push(format!("use {flag}"));
        }
        if let Some(env) = self.env() {
            ways.push(format!("set {env}"));
        }
        if let Some(key) = self.key() {
            ways.push(format!("add `{key} = ...` to {config_file}"));
        }
        let last = ways.pop()?;
        Some(if ways.is_empty() {
            last
        } else {
            format!("{} or {last}", ways.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ways_are_joined_in_order() {
        // Unit tests run as no program, i.e. in the stages' language.
        assert!(!is_wrapper());
        assert_eq!(
            Setting::Site.how_to_give("sct.toml").unwrap(),
            "use --site, set SCT_SITE or add `site = ...` to sct.toml"
        );
        assert_eq!(
            Setting::ProxyPassword.how_to_give("sct.toml").unwrap(),
            "set SCT_PROXY_PASSWORD"
        );
    }

    #[test]
    fn the_wrapper_names_only_its_own_flags() {
        assert_eq!(
            Setting::Site.how_to_give_in(true, "sct.toml").unwrap(),
            "set SCT_SITE or add `site = ...` to sct.toml"
        );
        assert_eq!(
            Setting::ProxyUser.how_to_give_in(true, "sct.toml").unwrap(),
            "use -proxyusername or add `proxy_user = ...` to sct.toml"
        );
        assert_eq!(Setting::Timeout.how_to_give_in(true, "sct.toml"), None);
        for setting in Setting::ALL {
            let text = setting.how_to_give_in(true, "sct.toml").unwrap_or_default();
            assert!(!text.contains("--"), "{setting:?}: {text}");
        }
    }

    #[test]
    fn every_setting_can_be_given_somehow() {
        for setting in Setting::ALL {
            let ways = setting.ways();
            assert!(
                ways.stage_flag.is_some() || ways.env.is_some() || ways.key.is_some(),
                "{setting:?}"
            );
        }
    }
}
