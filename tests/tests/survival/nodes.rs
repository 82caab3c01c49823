//! The scenario's nodes: how they start, follow, and when they hold the feed.

use std::path::Path;
use std::time::{Duration, Instant};

use feeds::{IdentityKey, SignedHead};
use tests::binary::swarmfeed_ok;
use tests::node::{NodeOptions, NodeProcess, first_follow, http_get, wait_for};

pub fn on(bootstrap: String, extra: &[&str]) -> NodeOptions {
    NodeOptions {
        bootstrap: Some(bootstrap),
        args: extra.iter().map(|s| s.to_string()).collect(),
    }
}

/// Whether the node on `data` holds `entries` entries of its one follow, every torrent
/// complete (BLAKE3-verified).
pub fn holds(data: &Path, entries: u64) -> bool {
    first_follow(data).is_some_and(|f| {
        f["entries"] == entries && f["torrents"] == entries && f["complete"] == entries
    })
}

pub fn follow(data: &Path, identity: &str) {
    swarmfeed_ok(&["--data", data.to_str().unwrap(), "follow", identity]);
}

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

pub fn wait_all_hold(datas: &[&Path], entries: u64, limit: Duration, what: &str) -> f64 {
    let started = Instant::now();
    wait_for(limit, what, || {
        datas.iter().all(|d| holds(d, entries)).then_some(())
    });
    started.elapsed().as_secs_f64()
}
