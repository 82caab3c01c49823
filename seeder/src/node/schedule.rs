//! When followed feeds are updated: the poll loop, updates woken by heard heads and
//! records, at most a few at once and never two of one feed, and quick retries of follows
//! that could not be resolved yet.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use feeds::{FeedName, IdentityKey};

use super::replicate::{update_feed, with_timeout};
use super::{NodeHandle, fetch};

/// Updates of followed feeds run at most this many at once: a feed whose log cannot be
/// found (a swarm wait) holds one slot, not the others.
const MAX_UPDATES: usize = 4;

/// A follow: one feed, or (`None`) every feed of the identity.
type FollowKey = (IdentityKey, Option<FeedName>);

/// The updates in flight: never two of one feed at once; a feed asked for again while its
/// update runs is updated once more right after.
pub struct Updates {
    running: Mutex<HashMap<(IdentityKey, FeedName), bool>>,
    expanding: AtomicBool,
    /// A round of [`super::extensions::refresh_followed`] runs.
    refreshing: AtomicBool,
    slots: Semaphore,
    /// Follows whose last try failed (`None`: a bare-key follow's identity record), with
    /// their failures in a row and whether a retry waits (see [`retry_soon`]).
    failing: Mutex<HashMap<FollowKey, (u32, bool)>>,
}

impl Default for Updates {
    fn default() -> Self {
        Updates {
            running: Mutex::new(HashMap::new()),
            expanding: AtomicBool::new(false),
            refreshing: AtomicBool::new(false),
            slots: Semaphore::new(MAX_UPDATES),
            failing: Mutex::new(HashMap::new()),
        }
    }
}

/// A follow that could not be brought up to date (no identity record, no head, no log
/// yet) is tried again after 1 s, then 2, 4, … until the wait reaches the poll interval,
/// from where the poll takes over: a follow made a moment before its publisher's items
/// reached the DHT (or while the DHT was still joining) completes in seconds, not at the
/// next poll, and one that never resolves costs a handful of lookups.
fn retry_soon(node: &NodeHandle, identity: IdentityKey, feed: Option<FeedName>) {
    let key = (identity, feed);
    let wait = {
        let Ok(mut failing) = node.updates.failing.lock() else {
            return;
        };
        let (failures, waiting) = failing.entry(key.clone()).or_insert((0, false));
        *failures += 1;
        let wait = Duration::from_secs(1u64 << (*failures - 1).min(16));
        if *waiting || wait >= node.config.poll_interval() {
            return;
        }
        *waiting = true;
        wait
    };
    let node = node.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if let Ok(mut failing) = node.updates.failing.lock()
            && let Some((_, waiting)) = failing.get_mut(&key)
        {
            *waiting = false;
        }
        match key {
            (identity, Some(feed)) => schedule_update(&node, identity, feed),
            (_, None) => expand_in_background(&node),
        }
    });
}

/// A follow brought up to date: its next failure starts the retries from 1 s again.
fn succeeded(node: &NodeHandle, identity: IdentityKey, feed: Option<FeedName>) {
    if let Ok(mut failing) = node.updates.failing.lock() {
        failing.remove(&(identity, feed));
    }
}

/// Updates one followed feed soon (a new head of it was heard).
pub(super) fn update_soon(node: &NodeHandle, identity: IdentityKey, feed: FeedName) {
    schedule_update(node, identity, feed);
}

/// Expands bare-key follows soon (a new identity record was heard).
pub(super) fn expand_soon(node: &NodeHandle) {
    expand_in_background(node);
}

/// Polls every followed feed each `poll_interval`, or at once when woken. Each feed's
/// update runs on its own (see [`Updates`]), so a slow one delays no other.
pub async fn poll_loop(node: NodeHandle) {
    loop {
        expand_in_background(&node);
        refresh_extensions_in_background(&node);
        schedule_all(&node).await;
        tokio::select! {
            _ = node.cancel.cancelled() => return,
            _ = node.wake.notified() => {}
            _ = tokio::time::sleep(node.config.poll_interval()) => {}
        }
    }
}

/// Resolves bare-key follows (DHT lookups, so in the background), then updates the feeds
/// they expanded to.
fn expand_in_background(node: &NodeHandle) {
    if node.updates.expanding.swap(true, Ordering::AcqRel) {
        return;
    }
    let node = node.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = node.cancel.cancelled() => {}
            _ = expand_identity_follows(&node) => schedule_all(&node).await,
        }
        node.updates.expanding.store(false, Ordering::Release);
    });
}

/// Looks for newer records and extension items (profiles) of followed identities, one
/// round at a time.
fn refresh_extensions_in_background(node: &NodeHandle) {
    if node.updates.refreshing.swap(true, Ordering::AcqRel) {
        return;
    }
    let node = node.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = node.cancel.cancelled() => {}
            _ = super::extensions::refresh_followed(&node) => {}
        }
        node.updates.refreshing.store(false, Ordering::Release);
    });
}

async fn schedule_all(node: &NodeHandle) {
    match node.store.followed_feeds().await {
        Ok(feeds) => {
            for (identity, feed) in feeds {
                schedule_update(node, identity, feed);
            }
        }
        Err(e) => tracing::error!("cannot list followed feeds: {e}"),
    }
}

/// Starts an update of one feed in the background, unless one is running (then it runs
/// again once that one ends).
fn schedule_update(node: &NodeHandle, identity: IdentityKey, feed: FeedName) {
    let key = (identity, feed);
    {
        let Ok(mut running) = node.updates.running.lock() else {
            return;
        };
        if let Some(again) = running.get_mut(&key) {
            *again = true;
            return;
        }
        running.insert(key.clone(), false);
    }
    let node = node.clone();
    tokio::spawn(async move {
        let (identity, feed) = &key;
        loop {
            let Ok(_slot) = node.updates.slots.acquire().await else {
                break;
            };
            tokio::select! {
                _ = node.cancel.cancelled() => break,
                _ = update_and_record(&node, identity, feed) => {}
            }
            let Ok(mut running) = node.updates.running.lock() else {
                return;
            };
            match running.get_mut(&key) {
                Some(again) if *again => *again = false,
                _ => {
                    running.remove(&key);
                    return;
                }
            }
        }
        // Cancelled.
        if let Ok(mut running) = node.updates.running.lock() {
            running.remove(&key);
        }
    });
}

async fn update_and_record(node: &NodeHandle, identity: &IdentityKey, feed: &FeedName) {
    let started = Instant::now();
    let result = update_feed(node, identity, feed).await;
    node.metrics.count_feed_update();
    let error = result.as_ref().err().map(ToString::to_string);
    match &error {
        Some(error) => {
            tracing::warn!(%identity, %feed, took = ?started.elapsed(), "update failed: {error}")
        }
        None => tracing::debug!(%identity, %feed, took = ?started.elapsed(), "updated"),
    }
    // What `follows` shows of the update; the next one records it again.
    if let Err(e) = node
        .store
        .set_feed_error(identity, feed, error.as_deref())
        .await
    {
        tracing::warn!(%identity, %feed, "cannot record the update's outcome: {e}");
    }
    if let Err(e) = node
        .store
        .set_follow_result(identity, Some(feed), error.as_deref())
        .await
    {
        tracing::warn!(%identity, %feed, "cannot record the follow's outcome: {e}");
    }
    match error {
        Some(_) => retry_soon(node, *identity, Some(feed.clone())),
        None => succeeded(node, *identity, Some(feed.clone())),
    }
}

/// A bare-key follow covers every feed of the identity record: resolve it and expand.
async fn expand_identity_follows(node: &NodeHandle) {
    let Ok(follows) = node.store.follows().await else {
        return;
    };
    for follow in follows.into_iter().filter(|f| f.feed.is_none()) {
        let identity = follow.identity;
        let mut records = Vec::new();
        if let Some(record) = with_timeout(node.dht.get_identity_record(&identity))
            .await
            .flatten()
        {
            records.push(record);
        }
        for url in fetch::candidate_nodes(&node.fetcher(), &identity, None).await {
            if let Ok(bytes) = fetch::get(
                &node.fetcher(),
                &url,
                &format!("/api/v1/identities/{identity}"),
                4096,
            )
            .await
                && let Ok(record) = feeds::SignedIdentityRecord::decode(&bytes)
                && record.identity() == identity
            {
                records.push(record);
            }
        }
        for record in records {
            if let Err(e) = node.store.put_identity_record(&record).await {
                tracing::warn!(%identity, "cannot store the identity record: {e}");
            }
        }
        let error = match node.store.identity_record(&identity).await {
            Ok(Some(record)) => {
                match node
                    .store
                    .expand_follow(&identity, &record.record().feeds)
                    .await
                {
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(%identity, "cannot follow the feeds of its record: {e}");
                        Some("cannot store the feeds of the identity record")
                    }
                }
            }
            _ => Some("identity record not found yet (DHT or nodes)"),
        };
        match error {
            Some(_) => retry_soon(node, identity, None),
            None => succeeded(node, identity, None),
        }
        if let Err(e) = node.store.set_follow_result(&identity, None, error).await {
            tracing::warn!(%identity, "cannot record the follow's outcome: {e}");
        }
    }
}
