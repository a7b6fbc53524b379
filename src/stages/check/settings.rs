//! The `settings` check: which file, variable or flag each of the tool's settings came from, so
//! an administrator who wonders why sct used *that* database or proxy has the answer.

use super::{Check, CheckOptions, Group};
use crate::stages::config::Config;
use serde::Serialize;

/// One setting and where its value came from.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    pub setting: &'static str,
    /// The value, with any password masked; `None` when it is not set anywhere.
    pub value: Option<String>,
    /// `flag --site`, `variable SCT_SITE`, `file C:\sct\sct.toml`, or `not set`.
    pub from: String,
}

impl Source {
    /// Finds a setting the usual way: the flag, then the variable, then the config file.
    pub fn find(
        setting: &'static str,
        flag: (&str, Option<&str>),
        env: Option<&str>,
        file: Option<String>,
        config: &Config,
    ) -> Self {
        let from_env = env.and_then(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (v, format!("variable {name}")))
        });
        let found = flag
            .1
            .map(|v| (v.to_owned(), format!("flag {}", flag.0)))
            .or(from_env)
            .or_else(|| file.map(|v| (v, format!("file {}", config.file_shown()))));
        match found {
            Some((value, from)) => Self {
                setting,
                value: Some(crate::core::logging::redact_url(&value)),
                from,
            },
            None => Self {
                setting,
                value: None,
                from: "not set".into(),
            },
        }
    }
}

/// The `settings` group: one check listing every setting and its source.
pub(super) fn group(options: &CheckOptions) -> Group {
    let sources = options.sources.clone();
    let config_file = options
        .config
        .source
        .as_ref()
        .map(|p| format!("config file {}", p.display()))
        .unwrap_or_else(|| format!("no config file ({} not found)", options.config.file_shown()));
    Group {
        ids: &["settings"],
        work: Box::new(move || vec![settings(&sources, &config_file)]),
    }
}

fn settings(sources: &[Source], config_file: &str) -> Check {
    let listed: Vec<String> = sources
        .iter()
        .map(|s| match &s.value {
            Some(value) => format!("{} = {value} ({})", s.setting, s.from),
            None => format!("{} not set", s.setting),
        })
        .collect();
    Check::ok("settings", format!("{config_file}; {}", listed.join("; ")))
}
