//! The clap definitions of every binary, one module each, and [`commands`], the registry that man
//! pages and shell completions are generated from (`cargo run --bin sct-docgen -- --out DIR`).
//!
//! Each module has `TOOL` (the binary's name), `Args` (its clap parser) and `run(Args)`; the
//! binary in `src/bin/` only parses and calls `sct::cli::run(TOOL, || run(args))`.
//! `ServiceConnectionTool` is the exception: its real parser is [`crate::cli::wrapper::parse`]
//! (single-dash, case-insensitive), and [`wrapper::command`] describes the same flags to clap for
//! docs and completions only.

use clap::CommandFactory;
use std::path::Path;

pub mod check;
pub mod collect;
#[cfg(feature = "demo")]
pub mod demo;
pub mod fetch;
pub mod import;
pub mod pack;
pub mod serve;
pub mod span;
pub mod upload;
pub mod verify;
pub mod wrapper;

/// The pinned catalog keys: one flag with one help text in every stage that checks a signed
/// catalog. Add with `#[command(flatten)] trust: TrustArgs`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TrustArgs {
    /// Pinned catalog key (ed25519:... or a file of them); repeat it to trust several, as during
    /// a key rotation [default: SCT_TRUSTED_KEYS, then trusted_keys in sct.toml]
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,
}

impl TrustArgs {
    /// The keys these flags pin, else `SCT_TRUSTED_KEYS`, else `sct.toml`; none may come from
    /// inside `medium`, the folder being checked ([`crate::stages::config::Config::trusted_keys_for`]).
    pub fn keys(
        &self,
        config: &crate::stages::config::Config,
        medium: Option<&Path>,
    ) -> anyhow::Result<Vec<crate::core::signing::PublicKey>> {
        config.trusted_keys_for(&self.trusted_keys, medium)
    }
}

/// Every binary's name and clap command, in pipeline order; the source of man pages and shell
/// completions. A new binary adds one line here.
pub fn commands() -> Vec<(&'static str, clap::Command)> {
    vec![
        (wrapper::TOOL, wrapper::command()),
        (collect::TOOL, collect::Args::command()),
        (pack::TOOL, pack::Args::command()),
        (upload::TOOL, upload::Args::command()),
        (fetch::TOOL, fetch::Args::command()),
        (span::TOOL, span::Args::command()),
        (verify::TOOL, verify::Args::command()),
        (import::TOOL, import::Args::command()),
        (check::TOOL, check::Args::command()),
        (serve::TOOL, serve::Args::command()),
        #[cfg(feature = "demo")]
        (demo::TOOL, demo::Args::command()),
    ]
    .into_iter()
    // Derived commands are named after the crate (`sct`); docs use the binary's name.
    .map(|(name, command)| (name, command.name(name).bin_name(name)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_consistent_and_has_examples() {
        let commands = commands();
        assert!(commands.len() >= 7);
        for (name, mut command) in commands {
            command.build();
            command.clone().debug_assert();
            assert_eq!(command.get_name(), name);
            let help = command.render_long_help().to_string();
            assert!(help.contains("Example"), "{name} --help has no examples");
            for sub in command
                .get_subcommands_mut()
                .filter(|s| s.get_name() != "help")
            {
                let sub_name = sub.get_name().to_owned();
                let help = sub.render_long_help().to_string();
                assert!(
                    help.contains("Examples:"),
                    "{name} {sub_name} --help has no examples"
                );
            }
        }
    }
}
