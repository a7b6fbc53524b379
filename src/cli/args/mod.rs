//! The clap definitions of every binary, one module each, and [`commands`], the registry that man
//! pages and shell completions are generated from (`cargo run --bin sct-docgen -- --out DIR`).
//!
//! Each module has `TOOL` (the binary's name), `Args` (its clap parser) and `run(Args)`; the
//! binary in `src/bin/` only parses and calls `sct::cli::run(TOOL, || run(args))`.
//! `ServiceConnectionTool` is the exception: its real parser is [`crate::cli::wrapper::parse`]
//! (single-dash, case-insensitive), and [`wrapper::command`] describes the same flags to clap for
//! docs and completions only.

use clap::CommandFactory;

pub mod collect;
pub mod demo;
pub mod fetch;
pub mod import;
pub mod pack;
pub mod serve;
pub mod upload;
pub mod verify;
pub mod wrapper;

/// Every binary's name and clap command, in pipeline order; the source of man pages and shell
/// completions. A new binary adds one line here.
pub fn commands() -> Vec<(&'static str, clap::Command)> {
    vec![
        (wrapper::TOOL, wrapper::command()),
        (collect::TOOL, collect::Args::command()),
        (pack::TOOL, pack::Args::command()),
        (upload::TOOL, upload::Args::command()),
        (fetch::TOOL, fetch::Args::command()),
        (verify::TOOL, verify::Args::command()),
        (import::TOOL, import::Args::command()),
        (serve::TOOL, serve::Args::command()),
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
