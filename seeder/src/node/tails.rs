//! Replaced tails leave the engine.
//!
//! Every append makes a new tail torrent (the entries since the last sealed segment, and
//! the segments' infohashes); the head names the newest. Sealed segments never change and
//! stay. A replaced tail is kept a while for peers still fetching it, then dropped:
//! - while a node runs, a feed keeps its current tail and the one before in the engine (a
//!   follower that got the previous head can still fetch its tail from the swarm; over
//!   HTTP, nodes serve only the current one). Older ones leave the engine, and a followed
//!   feed's copies (`DATA/logs/ID/FEED/INFOHASH/`) leave the disk. The publisher keeps the
//!   same two in `DATA/feeds/ID/FEED/tails/` (`publisher::feed_writer`);
//! - at start, before the engine opens anything, every saved log torrent that the store
//!   does not hold as a current tail or a segment, or whose folder is gone, is forgotten:
//!   a restart is the end of the grace, and data directories that collected stale tails
//!   (and logged `cannot open published file …` for each) heal.

use std::path::{Path, PathBuf};

use feeds::{FeedName, IdentityKey, InfoHash};

use super::{NodeHandle, Result};
use store::{LogPart, Store};

/// The tail the store holds for a feed now (read it before storing a new one).
pub async fn current(
    node: &NodeHandle,
    identity: &IdentityKey,
    feed: &FeedName,
) -> Option<InfoHash> {
    match node.store.log_torrent(identity, feed, LogPart::Tail).await {
        Ok(tail) => tail.map(|t| t.infohash),
        Err(e) => {
            tracing::debug!(%identity, %feed, "cannot read the current tail: {e}");
            None
        }
    }
}

/// After `current` replaced `previous` as a feed's tail: every other tail of the feed in
/// the engine (placed under `dir`, the folder holding the feed's tails) leaves it; with
/// `delete`, its folder too (a follower's copy; the publisher prunes its own).
pub async fn retire_replaced(
    node: &NodeHandle,
    (identity, feed): (&IdentityKey, &FeedName),
    dir: &Path,
    current: InfoHash,
    previous: Option<InfoHash>,
    delete: bool,
) {
    if previous.is_none_or(|p| p == current) {
        return;
    }
    let placed = match node.engine.placed_under(dir) {
        Ok(placed) => placed,
        Err(e) => return tracing::debug!(%identity, %feed, "cannot list tails: {e}"),
    };
    for (infohash, folder) in placed {
        if infohash == current || Some(infohash) == previous {
            continue;
        }
        // A follower keeps segments in the same folder as its tails.
        if node.store.is_log_torrent(&infohash).await.unwrap_or(true) {
            continue;
        }
        node.dht.forget_announced(infohash.0);
        if let Err(e) = node.engine.remove(&infohash, false).await {
            tracing::debug!(%infohash, "cannot drop a replaced tail: {e}");
            continue;
        }
        if delete {
            let _ = tokio::fs::remove_dir_all(&folder).await;
        }
        tracing::debug!(%identity, %feed, %infohash, "replaced tail dropped");
    }
}

/// Before the engine starts: forgets saved log torrents (under `DATA/feeds` and
/// `DATA/logs`) that are no longer a current tail or a segment in the store, or whose
/// folder is gone, and deletes a follower's copies of them. Returns how many.
pub async fn forget_stale(store: &Store, data_root: &Path, state_dir: &Path) -> Result<usize> {
    let logs = data_root.join("logs");
    let mut stale: Vec<(InfoHash, PathBuf)> = Vec::new();
    for dir in [data_root.join("feeds"), logs.clone()] {
        for (infohash, folder) in engine::saved_under(state_dir, &dir).await? {
            let gone = !folder.exists();
            // Content published from inside the data directory is left alone.
            if gone
                || !(store.is_log_torrent(&infohash).await?
                    || store.torrent(&infohash).await?.is_some())
            {
                stale.push((infohash, folder));
            }
        }
    }
    if stale.is_empty() {
        return Ok(0);
    }
    let hexes: Vec<String> = stale.iter().map(|(h, _)| h.to_string()).collect();
    engine::forget_saved(state_dir, &hexes).await?;
    let logs = std::path::absolute(&logs).unwrap_or(logs);
    for (_, folder) in &stale {
        if folder.starts_with(&logs) {
            let _ = tokio::fs::remove_dir_all(folder).await;
        }
    }
    tracing::info!(
        torrents = stale.len(),
        "replaced feed-log tails dropped from the engine"
    );
    Ok(stale.len())
}
