//! The scenario's nodes: how they start and stop, what head they serve, when they all hold
//! the feed.

use std::path::Path;
use std::time::{Duration, Instant};

use feeds::{IdentityKey, SignedHead};
use tests::network::holds;
use tests::node::{NodeOptions, NodeProcess, http_get, wait_for};

/// Options for a node bootstrapping from `bootstrap`, with extra `serve` arguments. The
/// scenario measures how fast pushes bring an entry to the seeders (and the same with
/// `SWARMFEED_SURVIVAL_NO_PUSH`): pushes go to followers' loopback URLs, so its nodes may
/// send requests to private addresses. (Without it the scenario also passes, on the DHT
/// and the swarm alone, but measures no push.)
pub fn on(bootstrap: String, extra: &[&str]) -> NodeOptions {
    let mut args = vec!["--allow-private-fetch".to_owned()];
    args.extend(extra.iter().map(|s| s.to_string()));
    NodeOptions {
        bootstrap: Some(bootstrap),
        args,
    }
}

/// The head of `identity`'s main feed that `node` serves.
pub fn head_at(node: &NodeProcess, identity: &IdentityKey) -> Option<SignedHead> {
    let url = format!("{}/api/v1/heads/{identity}/main", node.info.public_url);
    SignedHead::decode(&http_get(&url)?).ok()
}

/// SIGTERM to every node at once, then wait for each (a node takes a few seconds to stop).
pub fn stop_all(nodes: Vec<NodeProcess>) {
    for node in &nodes {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(node.child.id().to_string())
            .status();
    }
    drop(nodes);
}

/// Waits until every node on `datas` holds `entries` entries; returns the seconds it took.
pub fn wait_all_hold(datas: &[&Path], entries: u64, limit: Duration, what: &str) -> f64 {
    let started = Instant::now();
    wait_for(limit, what, || {
        datas
            .iter()
            .all(|d| holds(d, entries).is_some())
            .then_some(())
    });
    started.elapsed().as_secs_f64()
}
