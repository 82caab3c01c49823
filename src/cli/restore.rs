//! `swarmfeed identity sync`, and the sync `identity import` runs: fetch an identity's own
//! feeds from the network into the data directory so that publishing continues them
//! instead of forking them (see `publisher::restore` and `seeder::node::restore`).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use data_dir::DataDir;
use publisher::restore::Installed;
use seeder::node::{RestoreOptions, restore_identity};

use super::fetch::FetchArgs;

/// Where `identity sync` (and `identity import`) look for the identity's feeds.
#[derive(Debug, Args, Clone)]
pub struct SyncArgs {
    #[command(flatten)]
    fetch: FetchArgs,
    /// Seconds to keep looking before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    sync_timeout: u64,
}

/// Syncs `name`'s feeds (the default identity for `None`) and prints what was installed.
pub fn sync(data: &Path, name: Option<&str>, args: &SyncArgs) -> anyhow::Result<()> {
    let data = DataDir::new(data);
    let (name, keypair) = data.keystore().resolve(name)?;
    let identity = keypair.public();
    let bootstrap = args.fetch.bootstrap(&data);
    // Offline (no bootstrap address resolves, no node given): say so now, not after the timeout.
    let bootstrap: Vec<String> = bootstrap
        .into_iter()
        .filter(|host| {
            use std::net::ToSocketAddrs;
            host.to_socket_addrs()
                .is_ok_and(|mut a| a.any(|a| a.is_ipv4()))
        })
        .collect();
    if bootstrap.is_empty() && args.fetch.nodes.is_empty() {
        anyhow::bail!(
            "cannot sync the feeds of {identity}: no DHT bootstrap node resolves and no --node \
             is given (offline?); publishing as it stays refused until `swarmfeed identity sync` \
             succeeds"
        );
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let options = RestoreOptions {
        fetch: args.fetch.fetch_config(bootstrap, scratch.path())?,
        nodes: args.fetch.nodes.clone(),
        limit: Duration::from_secs(args.sync_timeout),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    eprintln!("syncing the feeds of {name} ({identity}) from the network…");
    let restored = runtime
        .block_on(restore_identity(&data, &keypair, &options))
        .with_context(|| {
            format!(
                "cannot sync the feeds of {identity}; publishing as it stays refused until \
                 `swarmfeed identity sync` succeeds"
            )
        })?;
    if restored.is_empty() {
        println!("synced {identity}: its identity record lists no feeds");
    }
    for feed in restored {
        match feed.installed {
            Installed::Written { seq } => println!(
                "synced {identity}/{}: {seq} entries fetched and verified; the next entry is seq {}",
                feed.feed,
                seq + 1
            ),
            Installed::AlreadyHere { seq } => println!(
                "synced {identity}/{}: already here up to seq {seq}",
                feed.feed
            ),
        }
    }
    Ok(())
}
