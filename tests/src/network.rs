//! The setup that follow tests share: a private DHT on loopback, a publisher node on it with
//! an identity of its own, and followers that follow it until they hold what it published.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::commands::{first_follow, follow, new_identity};
use crate::dht::Testnet;
use crate::node::{NodeOptions, NodeProcess};
use crate::poll::wait_for;

/// A private DHT of plain mainline nodes on 127.0.0.1, and ways to start nodes on it.
pub struct Network {
    pub dht: Testnet,
}

impl Network {
    /// A DHT of `dht_nodes` plain nodes.
    pub fn new(dht_nodes: usize) -> Network {
        Network {
            dht: Testnet::new(dht_nodes),
        }
    }

    /// The address nodes and stock clients bootstrap from.
    pub fn bootstrap(&self) -> String {
        self.dht.bootstrap()
    }

    /// Options for a node on this DHT, with extra `serve` arguments.
    pub fn options(&self, args: &[&str]) -> NodeOptions {
        NodeOptions {
            bootstrap: Some(self.bootstrap()),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// A new identity NAME in DATA, then a node on DATA on this DHT with extra `serve`
    /// arguments: a publisher.
    pub fn start_publisher(&self, data: &Path, name: &str, args: &[&str]) -> NodeProcess {
        new_identity(data, name);
        self.start_node(data, args)
    }

    /// A node on DATA on this DHT with extra `serve` arguments (a follower, say).
    pub fn start_node(&self, data: &Path, args: &[&str]) -> NodeProcess {
        NodeProcess::start(data, &self.options(args))
    }

    /// `swarmfeed verify FEED` with a scratch node of its own on `scratch`, finding the feed
    /// through this DHT: its output.
    pub fn verify(&self, scratch: &Path, feed: &str) -> String {
        crate::binary::swarmfeed_ok(&[
            "--data",
            scratch.to_str().expect("a UTF-8 path"),
            "verify",
            feed,
            "--dht-bootstrap",
            &self.bootstrap(),
        ])
    }
}

/// The first follow of the node on DATA when it holds `entries` entries, each one's torrent
/// complete (BLAKE3-verified).
pub fn holds(data: &Path, entries: u64) -> Option<Value> {
    first_follow(data)
        .filter(|f| f["entries"] == entries && f["torrents"] == entries && f["complete"] == entries)
}

/// Follows TARGET (an identity id or `ID/FEED`) from DATA and waits up to `limit` until
/// [`holds`] `entries`; returns that follow's `follows --json` object.
pub fn follow_until_held(data: &Path, target: &str, entries: u64, limit: Duration) -> Value {
    follow(data, target, &[]);
    wait_for(
        limit,
        &format!("{} to hold {entries} entries of {target}", data.display()),
        || holds(data, entries),
    )
}
