//! `swarmfeed identity new|list|show|export|import|sync`; `identity profile` is profile.rs.
//!
//! Passphrases for backups come from `SWARMFEED_PASSPHRASE`, or else from a prompt on the
//! terminal; without either, export and import fail rather than hang. A new backup's
//! passphrase needs at least 12 characters (`data_dir::keystore::backup`); import takes
//! any backup's, however short.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use data_dir::Keystore;
use data_dir::keystore::SecretString;
use data_dir::keystore::StoredIdentity;

use super::InputError;

/// The environment variable holding a backup passphrase.
const PASSPHRASE_ENV: &str = "SWARMFEED_PASSPHRASE";

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Create a new identity from the OS random number generator.
    New {
        /// Its name in this keystore.
        #[arg(long, default_value = "main")]
        name: String,
        /// Make it the default identity (the first one created always is).
        #[arg(long)]
        default: bool,
    },
    /// List identities; `*` marks the default.
    List,
    /// Show an identity's public id (the default identity when no name is given).
    Show {
        name: Option<String>,
        /// Also print the secret seed (hex). Anyone who sees it can sign as you.
        #[arg(long)]
        show_secret: bool,
    },
    /// Make an identity the default.
    Default { name: String },
    /// Write a passphrase-protected backup (an age file; `age -d` opens it too).
    Export {
        name: String,
        /// The backup file to create, or `-` for stdout.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Restore an identity from a backup made by `identity export`.
    Import {
        /// The backup file, or `-` for stdin.
        file: PathBuf,
        /// Store it under this name [default: the name in the backup].
        #[arg(long)]
        name: Option<String>,
        /// Make it the default identity.
        #[arg(long)]
        default: bool,
        /// Do not sync its feeds from the network now (publishing stays refused until
        /// `identity sync` succeeds).
        #[arg(long)]
        no_sync: bool,
        #[command(flatten)]
        sync: super::restore::SyncArgs,
    },
    /// Fetch an identity's own feeds from the network (DHT, nodes) into this data
    /// directory, so the next publish continues them; needed after `identity import`.
    Sync {
        /// The identity [default: the default identity].
        name: Option<String>,
        #[command(flatten)]
        sync: super::restore::SyncArgs,
    },
    /// Show or change the identity's public profile (display name, bio, avatar), which
    /// every node and gateway shows beside its id.
    Profile(super::profile::ProfileArgs),
}

pub fn run(command: IdentityCommand, data: &Path) -> anyhow::Result<()> {
    let store = Keystore::new(data);
    match command {
        IdentityCommand::New { name, default } => {
            let identity = store.generate(&name, default)?;
            print_identity(&identity);
        }
        IdentityCommand::List => {
            for identity in store.list()? {
                let mark = if identity.is_default { '*' } else { ' ' };
                println!("{mark} {:<16} {}", identity.name, identity.public);
            }
        }
        IdentityCommand::Show { name, show_secret } => {
            let (name, keypair) = store.resolve(name.as_deref())?;
            print_identity(&store.get(&name)?);
            if show_secret {
                println!("secret seed: {}", hex::encode(keypair.seed()));
            }
        }
        IdentityCommand::Default { name } => {
            store.set_default(&name)?;
            print_identity(&store.get(&name)?);
        }
        IdentityCommand::Export { name, output } => {
            store.keypair(&name)?; // fail on a bad name before asking for a passphrase
            let backup = store.export(&name, passphrase(true)?)?;
            write_backup(&output, backup.as_bytes())?;
            if output != Path::new("-") {
                eprintln!("wrote a backup of {name} to {}", output.display());
            }
        }
        IdentityCommand::Import {
            file,
            name,
            default,
            no_sync,
            sync,
        } => {
            let backup = read_backup(&file)?;
            let identity = store.import(&backup, passphrase(false)?, name.as_deref(), default)?;
            // Until its feeds are synced, publishing as it could fork them.
            let data_dir = data_dir::DataDir::new(data);
            publisher::restore::mark_pending(&data_dir, &identity.public)?;
            print_identity(&identity);
            // The key is in: a failed sync is reported, and publishing stays refused.
            if !no_sync && let Err(e) = super::restore::sync(data, Some(&identity.name), &sync) {
                eprintln!("warning: {e:#}");
            }
        }
        IdentityCommand::Sync { name, sync } => {
            super::restore::sync(data, name.as_deref(), &sync)?;
        }
        IdentityCommand::Profile(args) => super::profile::profile(args, data)?,
    }
    Ok(())
}

fn print_identity(identity: &StoredIdentity) {
    println!("name: {}", identity.name);
    println!("id: {}", identity.public);
    println!(
        "default: {}",
        if identity.is_default { "yes" } else { "no" }
    );
    println!("key file: {}", identity.path.display());
}

/// The backup passphrase: from the environment, or typed on the terminal (twice when new).
fn passphrase(new: bool) -> anyhow::Result<SecretString> {
    if let Ok(value) = std::env::var(PASSPHRASE_ENV) {
        if value.is_empty() {
            return Err(InputError(format!("{PASSPHRASE_ENV} is set but empty")).into());
        }
        let value = SecretString::from(value);
        if new {
            data_dir::keystore::backup::check_new_passphrase(&value)?;
        }
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(InputError(format!(
            "no passphrase: set {PASSPHRASE_ENV} or run on a terminal"
        ))
        .into());
    }
    let first = rpassword::prompt_password("Passphrase: ").context("cannot read the passphrase")?;
    if first.is_empty() {
        return Err(InputError("the passphrase is empty".into()).into());
    }
    if new {
        // Before asking again: a passphrase too short is refused whatever is typed next.
        data_dir::keystore::backup::check_new_passphrase(&SecretString::from(first.clone()))?;
        let again = rpassword::prompt_password("Passphrase again: ")
            .context("cannot read the passphrase")?;
        if again != first {
            return Err(InputError("the passphrases differ".into()).into());
        }
    }
    Ok(SecretString::from(first))
}

/// Writes a backup to a new file (mode 0600, never replacing one) or to stdout for `-`.
fn write_backup(output: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if output == Path::new("-") {
        return std::io::stdout()
            .write_all(bytes)
            .context("cannot write to stdout");
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", output.display()))
}

/// A backup holds one key file (well under a KiB armored): anything past this is not one.
const MAX_BACKUP_BYTES: u64 = 1 << 20;

fn read_backup(file: &Path) -> anyhow::Result<Vec<u8>> {
    use data_dir::bounded_read::{read_capped, read_up_to};
    if file == Path::new("-") {
        let bytes = read_up_to(std::io::stdin(), MAX_BACKUP_BYTES, Path::new("stdin"))?;
        if bytes.len() as u64 > MAX_BACKUP_BYTES {
            return Err(data_dir::Error::TooLarge {
                path: "stdin".into(),
                what: "a backup",
                cap: MAX_BACKUP_BYTES,
            }
            .into());
        }
        return Ok(bytes);
    }
    Ok(read_capped(file, MAX_BACKUP_BYTES, "a backup")?)
}
