//! Man pages and shell completions, generated from the clap definitions in [`super::args`].
//!
//! `cargo run --bin sct-docgen -- --out DIR` writes:
//! - `DIR/man/<binary>.1`, and `DIR/man/<binary>-<subcommand>.1` for each subcommand (roff);
//! - `DIR/completions/bash/<binary>`, `DIR/completions/zsh/_<binary>` and
//!   `DIR/completions/powershell/<binary>.ps1`.

use std::path::{Path, PathBuf};

/// Writes every man page and completion script under `out` and returns the files written.
pub fn generate(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, command) in super::args::commands() {
        written.extend(man_pages(&out.join("man"), name, command.clone())?);
        written.extend(completions(&out.join("completions"), name, command)?);
    }
    Ok(written)
}

/// The man page of `command`, then one per subcommand (`sct-pack-inspect.1`).
fn man_pages(dir: &Path, name: &str, command: clap::Command) -> anyhow::Result<Vec<PathBuf>> {
    fs_err::create_dir_all(dir)?;
    let mut command = command;
    command.build();
    let mut written = vec![write_man(dir, name, &command)?];
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let full = format!("{name}-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(full.clone())
            .bin_name(format!("{name} {}", sub.get_name()));
        written.push(write_man(dir, &full, &sub)?);
    }
    Ok(written)
}

fn write_man(dir: &Path, name: &str, command: &clap::Command) -> anyhow::Result<PathBuf> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    crate::core::atomic::write_with(&path, |file| Ok(std::io::Write::write_all(file, &page)?))?;
    Ok(path)
}

/// Completion scripts for bash, zsh and PowerShell.
fn completions(dir: &Path, name: &str, command: clap::Command) -> anyhow::Result<Vec<PathBuf>> {
    use clap_complete::Shell;
    let mut written = Vec::new();
    for (shell, file) in [
        (Shell::Bash, name.to_owned()),
        (Shell::Zsh, format!("_{name}")),
        (Shell::PowerShell, format!("{name}.ps1")),
    ] {
        let folder = dir.join(shell.to_string());
        fs_err::create_dir_all(&folder)?;
        let mut script = Vec::new();
        if shell == Shell::PowerShell && name == super::args::wrapper::TOOL {
            script = wrapper_powershell(&command).into_bytes();
        } else {
            clap_complete::generate(shell, &mut command.clone(), name, &mut script);
        }
        let path = folder.join(file);
        crate::core::atomic::write_with(&path, |f| Ok(std::io::Write::write_all(f, &script)?))?;
        written.push(path);
    }
    Ok(written)
}

/// PowerShell completion for `ServiceConnectionTool`, whose flags take one dash and any case
/// (`-conn<Tab>` → `-connect`): clap's generator would offer `--connect`, which PowerShell
/// users never type. The flags and their help come from [`super::args::wrapper::command`].
fn wrapper_powershell(command: &clap::Command) -> String {
    let quote = |text: &str| text.replace('\'', "''");
    let flags: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_long()?;
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            Some(format!("        @('-{name}', '{}')", quote(&help)))
        })
        .collect();
    format!(
        "# PowerShell completion for ServiceConnectionTool: its own single-dash flags.\r\n\
         # Load it with: . .\\completions\\ServiceConnectionTool.ps1\r\n\
         Register-ArgumentCompleter -Native -CommandName 'ServiceConnectionTool', 'ServiceConnectionTool.exe' -ScriptBlock {{\r\n\
         \x20   param($wordToComplete, $commandAst, $cursorPosition)\r\n\
         \x20   $flags = @(\r\n{}\r\n    )\r\n\
         \x20   foreach ($flag in $flags) {{\r\n\
         \x20       if ($flag[0] -like \"$wordToComplete*\") {{\r\n\
         \x20           [System.Management.Automation.CompletionResult]::new($flag[0], $flag[0], 'ParameterName', $flag[1])\r\n\
         \x20       }}\r\n\
         \x20   }}\r\n\
         }}\r\n",
        flags.join(",\r\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrappers_powershell_completion_offers_its_own_flags() {
        let script = wrapper_powershell(&super::super::args::wrapper::command());
        for flag in [
            "'-connect'",
            "'-usagedatasrc'",
            "'-downloadsiteversion'",
            "'-json'",
        ] {
            assert!(script.contains(flag), "{flag} missing:\n{script}");
        }
        assert!(!script.contains("'--"), "{script}");
        assert!(
            script.contains("-CommandName 'ServiceConnectionTool', 'ServiceConnectionTool.exe'")
        );
        // Single quotes in help texts are doubled, as PowerShell's single-quoted strings need.
        assert!(script.contains("site''s"), "{script}");
    }
}
