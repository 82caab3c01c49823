//! Shell completions and man pages, generated from the same clap definitions as the
//! parser itself, so they can never describe options the binary does not have. The
//! Debian package (`scripts/build-deb`) installs what these print.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a shell completion script.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

/// Write man pages: `swarmfeed.1` and one `swarmfeed-COMMAND.1` per subcommand.
#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// The directory to write them into (created if missing).
    dir: PathBuf,
}

/// `swarmfeed completions SHELL`: the script on stdout (e.g. `source <(swarmfeed completions bash)`).
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = super::Cli::command();
    // Into memory first: clap_complete panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "swarmfeed", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)
        .context("cannot write the completion script")
}

/// `swarmfeed manpages DIR`.
pub fn manpages(args: ManpagesArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut command = super::Cli::command();
    // `build` names every subcommand `swarmfeed-NAME` (its display name): the pages' names.
    command.build();
    write_pages(&command, &args.dir)
}

/// The page of `command`, then those of its visible subcommands.
fn write_pages(command: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    let name = command
        .get_display_name()
        .unwrap_or(command.get_name())
        .to_owned();
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .with_context(|| format!("cannot render {name}.1"))?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    // `help` is clap's own subcommand: `man` replaces it.
    let pages = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help");
    for sub in pages {
        write_pages(sub, dir)?;
    }
    Ok(())
}
