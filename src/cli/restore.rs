//! `swarmfeed identity sync`, and the sync `identity import` runs: fetch an identity's own
//! feeds from the network into the data directory so that publishing continues them
//! instead of forking them (see `publisher::restore` and `seeder::node::restore`).

use std::path::Path;

use anyhow::Context;
use clap::Args;
use data_dir::DataDir;
use publisher::restore::Installed;
use seeder::node::api::{Actor, Decisions, RestoreRequest, restore_without_node};

use super::InputError;
use super::fetch::FetchArgs;
use super::node::{api_error, control};

/// Where `identity sync` (and `identity import`) look for the identity's feeds.
#[derive(Debug, Args, Clone)]
pub struct SyncArgs {
    #[command(flatten)]
    fetch: FetchArgs,
    /// Seconds to keep looking before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    sync_timeout: u64,
}

/// Syncs `name`'s feeds (the default identity for `None`) and prints what was installed:
/// through the running node when there is one (it lends its DHT and serves the feeds at
/// once), else with a fetcher of the command's own. Either way the node API's restore does it.
pub fn sync(data: &Path, name: Option<&str>, args: &SyncArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::new(data);
    // Resolved here too: an unknown identity is refused before anything starts.
    let (name, keypair) = data_dir.keystore().resolve(name)?;
    let identity = keypair.public();
    let request = |bootstrap| -> Result<RestoreRequest, InputError> {
        Ok(RestoreRequest {
            identity: Some(name.clone()),
            timeout_secs: args.sync_timeout,
            fetch: args.fetch.options(bootstrap)?,
        })
    };
    let restored = match control(data) {
        Some(client) => {
            let request = request(args.fetch.given_bootstrap())?;
            eprintln!("syncing the feeds of {name} ({identity}) through the running node…");
            client.restore(&request)?
        }
        None => {
            let bootstrap = args.fetch.bootstrap(&data_dir);
            // Offline (no bootstrap address resolves, no node given): say so now, not after
            // the timeout.
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
                    "cannot sync the feeds of {identity}: no DHT bootstrap node resolves and no \
                     --node is given (offline?); publishing as it stays refused until \
                     `swarmfeed identity sync` succeeds"
                );
            }
            let request = request(Some(bootstrap))?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            eprintln!("syncing the feeds of {name} ({identity}) from the network…");
            runtime
                .block_on(restore_without_node(
                    &data_dir,
                    &Decisions::default(),
                    &Actor::Operator,
                    request,
                ))
                .map_err(api_error)?
        }
    };
    if restored.feeds.is_empty() {
        println!("synced {identity}: its identity record lists no feeds");
    }
    for feed in restored.feeds {
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
