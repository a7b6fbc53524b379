//! `ServiceConnectionTool` described to clap, for man pages and shell completions only.
//!
//! The real parser is [`crate::cli::wrapper::parse`]: single-dash and case-insensitive, as on Windows.
//! It accepts `--flag` too, so the double-dash forms that clap-generated completions offer work.

use clap::{Arg, ArgAction, ArgGroup, Command, ValueHint};

/// The binary's name, as in logs and on stderr.
pub const TOOL: &str = crate::core::setting::WRAPPER;

/// The original's flags as a clap command (never used to parse).
pub fn command() -> Command {
    let switch = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .action(ArgAction::SetTrue)
            .help(help)
    };
    let value = |name: &'static str, value: &'static str, hint: ValueHint, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_name(value)
            .value_hint(hint)
            .help(help)
    };
    Command::new(TOOL)
        .version(env!("CARGO_PKG_VERSION"))
        .about("The Configuration Manager service connection tool's command line, over sct")
        .long_about(
            "The Configuration Manager service connection tool's command line, over sct. Flags \
             take one dash and any case, as on Windows (-Prepare -UsageDataDest D:\\USB\\UsageData.cab); \
             two dashes work too. Logs go to ServiceConnectionTool.log and ConfigMgrSetup.log \
             (see docs/logs.md).",
        )
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(switch("prepare", "On the service connection point: put the site's usage data into a cab file"))
        .arg(switch("export", "On the service connection point: write the usage data as CSV to review it"))
        .arg(switch("connect", "On a computer with internet access: upload usage cabs, download update packs"))
        .arg(switch("import", "On the service connection point: bring downloaded update packs into the site"))
        .arg(switch("check", "On either machine, before the others (an addition to the original): check the ground and the settings; changes nothing"))
        .group(ArgGroup::new("phase").args(["prepare", "export", "connect", "import", "check"]))
        .arg(value("usagedatadest", "FILE.cab", ValueHint::FilePath, "With -prepare: the usage cab to write"))
        .arg(value("dest", "FILE.csv", ValueHint::FilePath, "With -export: the CSV file to write"))
        .arg(value("usagedatasrc", "FILE|DIR", ValueHint::AnyPath, "With -connect (or -check): a usage cab, or a folder of them (one per hierarchy)"))
        .arg(value("updatepackdest", "DIR", ValueHint::DirPath, "With -connect (or -check, for its room): the folder for downloaded update packs"))
        .arg(value("proxyserveruri", "HOST[:PORT]", ValueHint::Hostname, "With -connect: the proxy server"))
        .arg(value("proxyusername", "NAME", ValueHint::Username, "With -connect: the proxy user; the password comes from SCT_PROXY_PASSWORD or a prompt"))
        .arg(switch("downloadall", "With -connect: every update and hotfix, whatever the site's version"))
        .arg(switch("downloadhotfix", "With -connect: every hotfix, whatever the site's version"))
        .arg(switch("downloadsiteversion", "With -connect: updates and hotfixes newer than the site's version"))
        .group(ArgGroup::new("mode").args(["downloadall", "downloadhotfix", "downloadsiteversion"]))
        .arg(value("volumesize", "SIZE", ValueHint::Other, "With -connect (not in the original tool): then lay the download out as volumes of at most SIZE (4.7GB, 16GiB) in DIR.Volumes"))
        .arg(value("updatepacksrc", "DIR", ValueHint::DirPath, "With -import: the folder of downloaded update packs"))
        .arg(switch("status", "With -import (an addition to the original): what the console will show, and why a pack is not ready to install; read only"))
        .arg(switch("json", "Print the phase's JSON on stdout even on a terminal"))
        .arg(switch("help", "Print the help, with the original's example command lines"))
        .arg(switch("version", "Print the version"))
        .after_help(examples())
}

/// The "Examples:" section of [`crate::cli::wrapper::HELP`]: the original's example command lines.
pub fn examples() -> &'static str {
    let help = crate::cli::wrapper::HELP;
    help.find("Examples:").map_or(help, |at| &help[at..])
}
