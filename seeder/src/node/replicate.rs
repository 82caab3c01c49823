//! Following: resolve each followed head (DHT, nodes over HTTP, pushes), fetch and verify
//! the new part of the feed log, store it, download and verify every entry's content, and
//! keep heads alive in the DHT (mainline never republishes; any node may, without a secret).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use feeds::layout::{log_torrent, tail_name};
use feeds::{FeedName, IdentityKey, InfoHash, Kind, Metainfo, SignedEntry, SignedHead};

use super::fetch::NewLog;
use super::republish::put_with_retries;
use super::{Error, NodeHandle, Result, content, fetch};
use store::{FeedStatus, LogPart, NewTorrent, Origin, TorrentState};

/// Follows a feed (or with `None` every feed of the identity) and wakes the replication loop.
pub async fn follow_now(
    node: &NodeHandle,
    identity: &IdentityKey,
    feed: Option<&FeedName>,
) -> Result<bool> {
    let new = node.store.follow(identity, feed).await?;
    node.wake_replication();
    Ok(new)
}

/// Pushes a head to the nodes known to serve its feed, then puts it into the DHT
/// (background). Pushes first: they take milliseconds, while a DHT put can wait seconds on
/// unresponsive DHT nodes.
pub fn publish_head(node: &NodeHandle, head: SignedHead) {
    let node = node.clone();
    tokio::spawn(async move {
        if node.config.push {
            let (author, feed) = (head.author(), head.head().feed.clone());
            let started = Instant::now();
            for url in fetch::candidate_nodes(&node.fetcher(), &author, Some(&feed)).await {
                tracing::debug!(%url, seq = head.head().seq, after = ?started.elapsed(), "pushing head");
                let sent = node
                    .outbound
                    .post(
                        &url,
                        "/api/v1/heads",
                        &[("x-swarmfeed-node", node.public_url.as_str())],
                        head.encode(),
                        Duration::from_secs(10),
                    )
                    .await;
                match sent {
                    Ok(status) => {
                        tracing::debug!(%url, %status, after = ?started.elapsed(), "pushed head")
                    }
                    Err(e) => tracing::debug!(%url, "push of head: {e}"),
                }
            }
        }
        put_with_retries(&node, head.item()).await;
    });
}

/// Announces in the DHT that this node seeds `infohash` (background).
pub fn announce(node: &NodeHandle, infohash: InfoHash) {
    let node = node.clone();
    tokio::spawn(async move {
        if let Err(e) = node.dht.announce_peer(infohash.0, node.bt_port()).await {
            tracing::debug!(%infohash, "DHT announce: {e}");
        }
    });
}

/// A `delete` entry: stop seeding and serving the retracted content unless archiving, and
/// unless another live entry still names it.
pub async fn retract(node: &NodeHandle, author: &IdentityKey, feed: &FeedName, seq: u64) {
    if node.config.archive {
        return;
    }
    let Ok(Some(target)) = node.store.entry(author, feed, seq).await else {
        return;
    };
    let Some(content) = target.entry.entry().content.clone() else {
        return;
    };
    let users = node
        .store
        .entries_with_infohash(&content.infohash)
        .await
        .unwrap_or_default();
    if users
        .iter()
        .any(|e| !e.retracted && e.entry.hash() != target.entry.hash())
    {
        return;
    }
    let delete_files = matches!(node.store.torrent(&content.infohash).await, Ok(Some(t)) if t.origin == Origin::Followed);
    node.dht.forget_announced(content.infohash.0);
    if let Err(e) = node.engine.remove(&content.infohash, delete_files).await {
        tracing::debug!(infohash = %content.infohash, "remove retracted torrent: {e}");
    }
    let state = TorrentState {
        error: Some("retracted by its publisher".into()),
        ..TorrentState::default()
    };
    content::record_state(node, &content.infohash, state).await;
    if delete_files {
        // Its files are gone (or were never written): the space is free for what waits.
        let _ = std::fs::remove_dir_all(
            node.config
                .download_dir()
                .join(content.infohash.to_string()),
        );
        if content::release_reservation(node, &content.infohash).await {
            content::recheck_caps(node);
        }
    }
}

/// After a restart: hand followed torrents the engine does not hold back to it.
pub async fn resume(node: &NodeHandle) -> Result<()> {
    let running: HashSet<InfoHash> = node.engine.list().into_iter().map(|s| s.infohash).collect();
    let mut pages = node.store.torrent_pages(500, false);
    while let Some(page) = pages.next().await? {
        for torrent in page {
            if torrent.origin == Origin::Followed
                && !running.contains(&torrent.infohash)
                && torrent.state.error.is_none()
                && node
                    .store
                    .is_reserved(&torrent.infohash)
                    .await
                    .unwrap_or(false)
            {
                content::start_download(node, torrent.infohash, None).await;
            }
        }
    }
    // Torrents that waited over a cap may fit now (caps or held content changed while down).
    content::recheck_caps(node);
    Ok(())
}

/// Brings one followed feed up to the newest head that can be found.
pub async fn update_feed(node: &NodeHandle, identity: &IdentityKey, feed: &FeedName) -> Result<()> {
    let state = node.store.feed_state(identity, feed).await?;
    if let Some(FeedStatus::Frozen(_)) = state.as_ref().map(|s| &s.status) {
        return Ok(());
    }
    let verified = state.as_ref().map_or(0, |s| s.verified_seq);
    // The identity record names the nodes that serve the feed: learn it first.
    if node.store.identity_record(identity).await?.is_none()
        && let Some(record) = with_timeout(node.dht.get_identity_record(identity))
            .await
            .flatten()
    {
        node.store.put_identity_record(&record).await?;
    }
    let stored = state.and_then(|s| s.head);
    let (heads, answered) = fetch::heads(
        &node.fetcher(),
        identity,
        feed,
        stored,
        Duration::from_secs(15),
    )
    .await;
    for url in &answered {
        register_as_follower(node, url, identity, feed).await;
    }
    let Some(highest) = heads.first() else {
        return Err(Error::Fetch("no head found yet (DHT or nodes)".into()));
    };
    node.store.put_head(highest).await?;
    // The highest head whose log can be fetched: a head nobody serves the log of yet (its
    // publisher went away right after signing it) must not hold the feed back at the last
    // verified entry when a lower head, newer than that, can be had.
    let mut failure = None;
    for head in heads.iter().filter(|h| h.head().seq > verified) {
        match take_in_log(node, identity, feed, head, verified).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::debug!(%identity, %feed, seq = head.head().seq, "head's log not fetched: {e}");
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Fetches the log parts a head names past `verified`, verifies them, stores everything.
async fn take_in_log(
    node: &NodeHandle,
    identity: &IdentityKey,
    feed: &FeedName,
    head: &SignedHead,
    verified: u64,
) -> Result<()> {
    // With the state the stored entries carry on: revocations and the like hold across updates.
    let checkpoint = node.store.checkpoint(identity, feed).await?;
    let fetched = fetch::new_log(
        &node.fetcher(),
        identity,
        feed,
        head,
        verified,
        checkpoint.as_ref(),
    )
    .await?;
    let (log, new_segments, tail) = match fetched {
        NewLog::Verified {
            log,
            segments,
            tail,
        } => (log, segments, tail),
        NewLog::Forked(proof) => {
            tracing::error!(%identity, %feed, seq = proof.seq(), "feed forked: frozen at the last agreed entry");
            node.store.set_feed_frozen(identity, feed, &proof).await?;
            return Ok(());
        }
    };
    let tail_hash = head.head().log;
    node.store.append_verified_log(identity, feed, &log).await?;
    for (index, hash, name, bytes) in new_segments {
        keep_log_part(
            node,
            identity,
            feed,
            LogPart::Segment(index),
            hash,
            &name,
            bytes,
        )
        .await;
    }
    keep_log_part(
        node,
        identity,
        feed,
        LogPart::Tail,
        tail_hash,
        &tail_name(feed),
        tail,
    )
    .await;
    for entry in &log.entries {
        take_in_entry(node, entry).await;
    }
    tracing::info!(%identity, %feed, seq = head.head().seq, new = log.entries.len(), "feed updated");
    Ok(())
}

/// Stores a verified log part, writes it where the engine seeds it, and announces it.
async fn keep_log_part(
    node: &NodeHandle,
    identity: &IdentityKey,
    feed: &FeedName,
    part: LogPart,
    infohash: InfoHash,
    name: &str,
    bytes: Vec<u8>,
) {
    let dir = fetch::log_dir(&node.fetcher(), identity, feed, &infohash);
    let path = dir.join(name);
    let metainfo = Metainfo {
        info: log_torrent(name.to_owned(), &bytes),
        trackers: Vec::new(),
        webseeds: Vec::new(),
    };
    let written = data_dir::write_atomic(&path, &bytes);
    let previous_tail = match part {
        LogPart::Tail => super::tails::current(node, identity, feed).await,
        LogPart::Segment(_) => None,
    };
    if let Err(e) = node
        .store
        .put_log_torrent(identity, feed, part, &infohash, bytes)
        .await
    {
        return tracing::warn!(%infohash, "cannot store log part: {e}");
    }
    if written.is_ok()
        && node
            .engine
            .seed_existing(&metainfo.encode(), &path)
            .await
            .is_ok()
    {
        announce(node, infohash);
        if let Some(folder) = dir.parent() {
            let feed_of = (identity, feed);
            super::tails::retire_replaced(node, feed_of, folder, infohash, previous_tail, true)
                .await;
        }
    }
}

/// A new verified entry of a followed feed: fetch its content, or apply its retraction.
async fn take_in_entry(node: &NodeHandle, signed: &SignedEntry) {
    let entry = signed.entry();
    match (&entry.kind, &entry.content) {
        (Kind::Post, Some(content)) => {
            let known = matches!(node.store.torrent(&content.infohash).await, Ok(Some(_)));
            if !known {
                let mut new = NewTorrent::from_content(content, Origin::Followed);
                let fetched = fetch::torrent_file(
                    &node.fetcher(),
                    &entry.author,
                    &entry.feed,
                    content.infohash,
                )
                .await;
                if let Some((bytes, peer)) = fetched {
                    new.metainfo = Some(bytes);
                    if let Some(peer) = peer {
                        node.downloads.hint_peer(content.infohash, peer);
                    }
                }
                if let Err(e) = node.store.put_torrent(new).await {
                    return tracing::warn!(infohash = %content.infohash, "cannot store torrent: {e}");
                }
            }
            content::admit_and_start(node, content.infohash, Some(content.name.clone())).await;
        }
        (Kind::Delete { retracts }, _) => {
            retract(node, &entry.author, &entry.feed, *retracts).await
        }
        _ => {}
    }
}

/// When this node last registered as a follower with a node, per (node URL, feed).
#[derive(Default)]
pub(super) struct RegisteredWith(Mutex<HashMap<String, Instant>>);

impl RegisteredWith {
    /// Whether a registration with `url` for the feed is due (it is noted as made now).
    /// Registered within the day: nothing to do. (Registrations lapse after a week unless
    /// renewed, so a follower that runs for long renews its own daily.)
    fn due(&self, url: &str, identity: &IdentityKey, feed: &FeedName) -> bool {
        const RENEW: Duration = Duration::from_secs(24 * 3600);
        let key = format!("{url} {identity}/{feed}");
        self.0.lock().is_ok_and(|mut map| {
            let due = map.get(&key).is_none_or(|at| at.elapsed() >= RENEW);
            if due {
                map.insert(key, Instant::now());
            }
            due
        })
    }
}

/// Tells a node serving a feed that this node follows it, so it pushes new heads here.
async fn register_as_follower(
    node: &NodeHandle,
    url: &str,
    identity: &IdentityKey,
    feed: &FeedName,
) {
    if !node.registered_with.due(url, identity, feed) {
        return;
    }
    let registration = super::api::FollowerRegistration {
        identity: identity.to_string(),
        feed: feed.as_str().to_owned(),
        url: node.public_url.clone(),
    };
    let Ok(body) = serde_json::to_vec(&registration) else {
        return;
    };
    let sent = node
        .outbound
        .post(
            url,
            "/api/v1/followers",
            &[("content-type", "application/json")],
            body,
            Duration::from_secs(10),
        )
        .await;
    if let Err(e) = sent {
        tracing::debug!(%url, "register as follower: {e}");
    }
}

pub(super) async fn with_timeout<T>(future: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(15), future)
        .await
        .ok()
}
