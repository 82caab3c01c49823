//! Commands of the `swarmfeed` binary. Global options come before the subcommand:
//! `swarmfeed --data DIR identity new`.
//!
//! Errors print one line, `error: …`, on stderr. Exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure not caused by the input (I/O error, disk full, the running node could not take a published entry in, …) |
//! | 2 | usage error: unknown command or option, bad option value (printed by clap) |
//! | 3 | bad input: missing path, accounts off (`admin`), unknown user or bad address (`admin`), symlink leaving the shared path, unsharable name, empty content, bad piece size, unknown or invalid identity, wrong or too short passphrase, invalid or oversized .torrent |
//! | 4 | a file changed while it was being hashed: retry once it is stable |

mod admin;
mod fetch;
mod generate;
mod identity;
mod node;
mod profile;
mod progress;
mod publish;
mod restore;
mod search;
mod size;
mod torrent;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Publish and archive signed feeds on BitTorrent.
#[derive(Debug, Parser)]
#[command(name = "swarmfeed", version, about)]
pub struct Cli {
    /// The data directory: keystore, feeds, .torrent files, node state [default:
    /// swarmfeed-data; for `serve`, the config file's `data_dir` if it sets one].
    #[arg(long, global = true, value_name = "DIR", env = "SWARMFEED_DATA")]
    pub data: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect .torrent files.
    #[command(subcommand)]
    Torrent(torrent::TorrentCommand),
    /// Manage identities (keypairs) in the data directory's keystore.
    #[command(subcommand)]
    Identity(identity::IdentityCommand),
    /// Publish a file or directory as a signed entry of a feed.
    Publish(publish::PublishArgs),
    /// Retract an entry of a feed with a signed `delete` entry.
    Retract(publish::RetractArgs),
    /// Run a node: seed, follow, replicate, serve HTTP (gateway on 127.0.0.1:8080).
    Serve(node::ServeArgs),
    /// Follow an identity's feeds (KEY) or one feed (KEY/FEED): replicate and seed them.
    Follow(node::FollowArgs),
    /// Stop following.
    Unfollow(node::UnfollowArgs),
    /// List follows with their status.
    Follows(node::FollowsArgs),
    /// Search every entry this node holds (titles, descriptions, metadata, file names).
    Search(search::SearchArgs),
    /// Fetch a feed from wherever it can be found and print the verdict.
    Verify(verify::VerifyArgs),
    /// Manage the accounts of a group-hosted gateway: admins, approvals, invitations, quotas.
    Admin(admin::AdminArgs),
    /// Print a shell completion script (bash, zsh, fish, …) on stdout.
    Completions(generate::CompletionsArgs),
    /// Write the man pages into a directory (for packaging).
    #[command(hide = true)]
    Manpages(generate::ManpagesArgs),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let data = cli
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
    match cli.command {
        Command::Torrent(command) => torrent::run(command),
        Command::Identity(command) => identity::run(command, &data),
        Command::Publish(args) => publish::publish(args, &data),
        Command::Retract(args) => publish::retract(args, &data),
        // `serve` alone reads a config file, whose `data_dir` applies unless `--data` is given.
        Command::Serve(args) => node::serve(args, cli.data.as_deref()),
        Command::Follow(args) => node::follow(args, &data),
        Command::Unfollow(args) => node::unfollow(args, &data),
        Command::Follows(args) => node::follows(args, &data),
        Command::Search(args) => search::search_command(args, &data),
        Command::Verify(args) => verify::verify(args, &data),
        // Like `serve`, `admin` reads the node's config file.
        Command::Admin(args) => admin::admin(args, cli.data.as_deref()),
        Command::Completions(args) => generate::completions(args),
        Command::Manpages(args) => generate::manpages(args),
    }
}

/// The data directory when neither `--data`, `SWARMFEED_DATA` nor a config file names one.
const DEFAULT_DATA: &str = "swarmfeed-data";

/// The exit code for an error (see the table in this module's documentation).
pub fn exit_code(error: &anyhow::Error) -> u8 {
    use publisher::Error as E;
    for cause in error.chain() {
        if let Some(error) = cause.downcast_ref::<publisher::Error>() {
            return match error {
                E::FileChanged { .. } => 4,
                E::Io { .. } => 1,
                E::DataDir(error) => data_dir_exit_code(error),
                _ => 3,
            };
        }
        if let Some(error) = cause.downcast_ref::<data_dir::Error>() {
            return data_dir_exit_code(error);
        }
        // The running node's answer to a request it refused: the same codes as offline.
        if let Some(seeder::node::ControlError::Node { status, error, .. }) = cause.downcast_ref() {
            return match error.as_str() {
                "file_changed" => 4,
                _ if (400..500).contains(status) => 3,
                _ => 1,
            };
        }
        if let Some(error) = cause.downcast_ref::<accounts::Error>() {
            return accounts_exit_code(error);
        }
        if cause.downcast_ref::<feeds::Error>().is_some() || cause.is::<InputError>() {
            return 3;
        }
    }
    1
}

/// The exit code for an error of the data directory or its keystore: 1 for the system's
/// failures (I/O, randomness, encryption), 3 for what the user asked.
fn data_dir_exit_code(error: &data_dir::Error) -> u8 {
    use data_dir::Error as E;
    match error {
        E::Io { .. } | E::Random(_) | E::BackupEncrypt(_) => 1,
        _ => 3,
    }
}

/// The exit code for an accounts error: 1 for the system's failures, 3 for what was asked.
fn accounts_exit_code(error: &accounts::Error) -> u8 {
    use accounts::Error as E;
    match error {
        E::Database { .. }
        | E::DatabaseGone
        | E::Io { .. }
        | E::Mail(_)
        | E::Internal(_)
        | E::Busy
        | E::Unseal => 1,
        _ => 3,
    }
}

/// A problem with what the user typed, found by the binary itself (exit code 3).
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}
