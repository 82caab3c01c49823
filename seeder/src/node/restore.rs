//! Syncing an identity's own feeds from the network into a data directory, so a publisher
//! restored from a key backup continues its feeds instead of forking them (see
//! `publisher::restore`).
//!
//! Run by `NodeApi::restore` (api/restore.rs) over a [`super::FetchNode`] (its own temporary
//! store, the running node's DHT or one bootstrapped as told, outbound HTTP and an engine
//! for log parts only the swarm serves; no listener). It finds the
//! identity record (DHT and the nodes given), then for each feed it lists every head it can
//! find (DHT, nodes), and takes the highest one whose log can actually be fetched and
//! verified (a head whose tail nobody seeds any more falls back to the next one). The
//! verified entries and that head are installed in the data directory; the identity record
//! is kept so the next one signed here has a higher seq, and so is the newest profile it
//! names (best effort: a missing profile does not fail the restore). Only when every listed
//! feed is in does the restore mark go.

use std::time::{Duration, Instant};

use data_dir::DataDir;
use feeds::{FeedName, IdentityKey, Keypair, SignedEntry, SignedHead, SignedIdentityRecord};
use publisher::profile::{PROFILE, install_item};
use publisher::restore::{clear_pending, install_feed, install_identity_record};

use super::api::RestoredFeed;
use super::fetch::{self, Fetcher, NewLog};
use super::{Error, Result};

/// Fetches, verifies and installs every feed of `keypair`'s identity into `data` (asking
/// `nodes` too), then clears the restore mark. Fails (leaving the mark) when the identity
/// record or a listed feed cannot be found or verified within `limit`.
pub async fn restore_with(
    node: &Fetcher<'_>,
    data: &DataDir,
    keypair: &Keypair,
    nodes: &[String],
    limit: Duration,
) -> Result<Vec<RestoredFeed>> {
    let identity = keypair.public();
    let deadline = Instant::now() + limit;
    let mut noted = Vec::new();
    for url in nodes {
        let url = url.trim_end_matches('/').to_owned();
        node.store.note_node(&url, None).await?;
        noted.push(url);
    }
    let record = find_identity_record(node, &identity, &noted, deadline).await?;
    node.store.put_identity_record(&record).await?;
    let mut restored = Vec::new();
    for feed in &record.record().feeds {
        for url in &noted {
            node.store.note_node(url, Some((&identity, feed))).await?;
        }
        let (head, entries) = fetch_feed(node, &identity, feed, deadline).await?;
        let (data, keypair, name) = (data.clone(), keypair.clone(), feed.clone());
        let installed =
            blocking(move || install_feed(&data, &keypair, &name, &entries, &head)).await??;
        tracing::info!(%identity, %feed, ?installed, "own feed synced from the network");
        restored.push(RestoredFeed {
            feed: feed.to_string(),
            installed,
        });
    }
    if feeds::extension::names(&record)
        .iter()
        .any(|n| n == PROFILE)
    {
        install_profile(node, data, &identity, &noted).await;
    }
    let (data2, keypair2) = (data.clone(), keypair.clone());
    blocking(move || install_identity_record(&data2, &keypair2, &record)).await??;
    clear_pending(data, &identity)?;
    Ok(restored)
}

/// Installs the newest profile the DHT or the given nodes hold, so the next `identity
/// profile` signs above the version followers keep. Best effort: a profile not found (or
/// refused) is logged and the restore goes on (it cannot fork a feed).
async fn install_profile(
    node: &Fetcher<'_>,
    data: &DataDir,
    identity: &IdentityKey,
    nodes: &[String],
) {
    let mut found: Vec<feeds::MutableItem> = Vec::new();
    let salt = feeds::extension::salt(PROFILE);
    if let Ok(Some(item)) =
        tokio::time::timeout(Duration::from_secs(15), node.dht.get_item(identity, &salt)).await
    {
        found.push(item);
    }
    for url in nodes {
        let path = format!("/api/v1/identities/{identity}/extensions/{PROFILE}");
        if let Ok(bytes) = super::fetch::get(node, url, &path, 4096).await
            && let Ok(item) = feeds::MutableItem::decode(&bytes)
        {
            found.push(item);
        }
    }
    found.retain(|item| item.key() == *identity && item.salt() == salt.as_slice());
    let Some(newest) = found.into_iter().max_by_key(|item| item.seq()) else {
        tracing::info!(%identity, "no profile of the identity found in the network");
        return;
    };
    let (data, id) = (data.clone(), *identity);
    match blocking(move || install_item(&data, &id, &newest)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(%identity, "the network's profile was not installed: {e}"),
        Err(e) => tracing::warn!(%identity, "the network's profile was not installed: {e}"),
    }
}

/// The newest identity record the DHT or the given nodes hold, asking until `deadline`
/// (a fresh DHT node needs a moment to fill its routing table).
async fn find_identity_record(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    nodes: &[String],
    deadline: Instant,
) -> Result<SignedIdentityRecord> {
    loop {
        let mut best: Option<SignedIdentityRecord> = None;
        let mut offer = |record: SignedIdentityRecord| {
            if record.identity() == *identity
                && best
                    .as_ref()
                    .is_none_or(|b| record.item().seq() > b.item().seq())
            {
                best = Some(record);
            }
        };
        if let Ok(Some(record)) = tokio::time::timeout(
            Duration::from_secs(10),
            node.dht.get_identity_record(identity),
        )
        .await
        {
            offer(record);
        }
        for url in nodes {
            if let Ok(bytes) =
                fetch::get(node, url, &format!("/api/v1/identities/{identity}"), 4096).await
                && let Ok(record) = SignedIdentityRecord::decode(&bytes)
            {
                offer(record);
            }
        }
        if let Some(record) = best {
            return Ok(record);
        }
        if Instant::now() >= deadline {
            return Err(Error::Fetch(format!(
                "no identity record of {identity} found in the DHT or at the given nodes: \
                 is the network reachable (--dht-bootstrap, --node)?"
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Fetches and verifies the feed up to the highest head whose log can be fetched (tail and
/// segments from nodes or the swarm, each checked against its infohash, every signature and
/// the chain verified); returns that head and the entries. A lower head that disagrees with
/// the chosen log is a fork: refused. Keeps trying until `deadline`.
async fn fetch_feed(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    deadline: Instant,
) -> Result<(SignedHead, Vec<SignedEntry>)> {
    let mut last_error = String::from("no head found (DHT or nodes)");
    loop {
        let (found, _) = fetch::heads(node, identity, feed, None, Duration::from_secs(10)).await;
        for head in &found {
            match fetch_log(node, identity, feed, head).await {
                Ok(entries) => {
                    if let Some(other) = found.iter().find(|h| {
                        entries
                            .get((h.head().seq as usize).wrapping_sub(1))
                            .is_none_or(|e| e.hash() != h.head().entry_hash)
                    }) {
                        return Err(Error::Fetch(format!(
                            "{identity}/{feed} forked: a head at seq {} names another entry than \
                             the log at seq {}; restore refuses to pick one",
                            other.head().seq,
                            head.head().seq
                        )));
                    }
                    return Ok((head.clone(), entries));
                }
                Err(e) => {
                    tracing::info!(%identity, %feed, seq = head.head().seq, "head's log not fetched: {e}");
                    last_error = format!("head at seq {}: {e}", head.head().seq);
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::Fetch(format!(
                "cannot fetch {identity}/{feed} from the network: {last_error}"
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The whole log `head` names, fetched and verified as a follower takes it in.
async fn fetch_log(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    head: &SignedHead,
) -> Result<Vec<SignedEntry>> {
    match fetch::new_log(node, identity, feed, head, 0, None).await? {
        NewLog::Verified { log, .. } => Ok(log.entries),
        NewLog::Forked(proof) => Err(feeds::Error::Fork(proof).into()),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Fetch(format!("worker stopped: {e}")))
}
