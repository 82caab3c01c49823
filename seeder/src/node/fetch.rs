//! Getting bytes a node does not hold yet: heads, log parts and .torrent files from other
//! nodes over HTTP, or log parts from the swarm, each checked before it is used.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use feeds::layout::{SEGMENT_ENTRIES, log_torrent, read_tail, segment_name, tail_name};
use feeds::{
    Checkpoint, Error as FeedError, FeedName, ForkProof, IdentityKey, InfoHash, Metainfo,
    SignedHead, VerifiedLog,
};

use data_dir::DataDir;

use super::routes::PEER_PORT_HEADER;
use super::{Error, NodeUrl, Outbound, Result};
use engine::dht::DhtNode;
use engine::{Engine, TorrentSource};
use store::Store;

/// What getting bytes from the network takes: the store (which nodes serve what, log parts
/// held), the DHT, HTTP to other nodes under the outbound policy, and the torrent engine
/// for log parts only the swarm serves. A running node lends its own
/// (`NodeHandle::fetcher`); `verify` and `identity sync` start a [`super::FetchNode`].
#[derive(Clone, Copy)]
pub struct Fetcher<'a> {
    pub(crate) store: &'a Store,
    pub(crate) dht: &'a DhtNode,
    pub(crate) engine: &'a Engine,
    pub(crate) outbound: &'a Outbound,
    /// Whose `logs/` keeps the log parts taken from the swarm.
    pub(crate) data: &'a DataDir,
    /// The node's own URL, never asked (none for a command's fetcher).
    pub(crate) own_url: Option<&'a str>,
    /// The node's own BitTorrent address, never a peer of its own.
    pub(crate) own_peer: SocketAddr,
}

/// How long a swarm download of a log part may take before the node tries again later.
const SWARM_TIMEOUT: Duration = Duration::from_secs(20);
/// Most nodes asked for one thing.
const MAX_NODES: usize = 6;
/// The largest log part taken over HTTP (a node's answer is held in memory until its
/// infohash is checked). Larger parts come from the swarm, whose pieces are checked as they
/// arrive; a 1024-entry segment of 1 KiB entries is 1 MiB.
const MAX_HTTP_LOG_PART: usize = 64 << 20;

/// Base URLs of nodes that may serve `identity`'s `feed`, this node excluded, each a
/// normalized node URL the outbound policy lets the node ask: those the identity record
/// names first, then those seen serving the feed (see `Store::nodes_serving` for the order).
pub async fn candidate_nodes(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: Option<&FeedName>,
) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    if let Ok(Some(record)) = node.store.identity_record(identity).await {
        urls.extend(record.record().nodes.iter().cloned());
    }
    if let Some(feed) = feed
        && let Ok(serving) = node
            .store
            .nodes_serving(identity, feed, MAX_NODES as u32)
            .await
    {
        urls.extend(serving.into_iter().map(|n| n.url));
    }
    let own = node.own_url.and_then(|url| NodeUrl::parse(url).ok());
    let mut seen: Vec<String> = Vec::new();
    for text in urls {
        let Ok(url) = NodeUrl::parse(&text) else {
            continue;
        };
        if own.as_ref() != Some(&url)
            && !seen.iter().any(|s| s == url.as_str())
            && node.outbound.may_ask(&url)
        {
            seen.push(url.as_str().to_owned());
        }
    }
    seen.truncate(MAX_NODES);
    seen
}

/// GETs `path` from the node at `base`, at most `max` bytes.
pub async fn get(node: &Fetcher<'_>, base: &str, path: &str, max: usize) -> Result<Vec<u8>> {
    Ok(node.outbound.get(base, path, max).await?.1)
}

/// A feed's head as other nodes serve it (each checked: signature, author, feed).
pub async fn head_from_nodes(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
) -> Vec<(String, SignedHead)> {
    let mut heads = Vec::new();
    for url in candidate_nodes(node, identity, Some(feed)).await {
        let bytes = match get(
            node,
            &url,
            &format!("/api/v1/heads/{identity}/{feed}"),
            4096,
        )
        .await
        {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::debug!("{e}");
                continue;
            }
        };
        match SignedHead::decode(&bytes) {
            Ok(head) if head.author() == *identity && head.head().feed == *feed => {
                // It served the feed: a node known from a push alone is proven now.
                if let Err(e) = node.store.node_answered(&url, identity, feed).await {
                    tracing::warn!(%url, "cannot note a node that answered: {e}");
                }
                heads.push((url, head))
            }
            Ok(_) => tracing::warn!(%url, "node served a head of another feed"),
            Err(e) => tracing::warn!(%url, "node served an invalid head: {e}"),
        }
    }
    heads
}

/// Every head of `identity`'s `feed` that can be found now, in the DHT (waiting at most
/// `dht_wait`) and at the nodes serving it, with `known` (the one held already): highest
/// seq first, one per (seq, entry). With them, the nodes that answered (a follower
/// registers with them for pushes).
pub async fn heads(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    known: Option<SignedHead>,
    dht_wait: Duration,
) -> (Vec<SignedHead>, Vec<String>) {
    let mut heads: Vec<SignedHead> = known.into_iter().collect();
    if let Ok(Some(head)) = tokio::time::timeout(dht_wait, node.dht.get_head(identity, feed)).await
    {
        heads.push(head);
    }
    let mut answered = Vec::new();
    for (url, head) in head_from_nodes(node, identity, feed).await {
        heads.push(head);
        answered.push(url);
    }
    heads.retain(|h| h.author() == *identity && h.head().feed == *feed);
    heads.sort_by_key(|h| std::cmp::Reverse(h.head().seq));
    heads.dedup_by_key(|h| (h.head().seq, h.head().entry_hash));
    (heads, answered)
}

/// The bytes of a log part (tail or segment) named `name` with `infohash`: from a node over
/// HTTP, else from the swarm. Either way the bytes must hash to `infohash`.
pub async fn log_part(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    infohash: InfoHash,
    name: &str,
) -> Result<Vec<u8>> {
    if let Ok(Some(stored)) = node.store.log_torrent_by_infohash(&infohash).await {
        return Ok(stored.bytes);
    }
    let matches = |bytes: &[u8]| log_torrent(name.to_owned(), bytes).infohash() == infohash;
    for url in candidate_nodes(node, identity, Some(feed)).await {
        match get(
            node,
            &url,
            &format!("/api/v1/logs/{identity}/{feed}/{infohash}"),
            MAX_HTTP_LOG_PART,
        )
        .await
        {
            Ok(bytes) if matches(&bytes) => return Ok(bytes),
            Ok(_) => {
                tracing::warn!(%url, %infohash, "node served log bytes that do not match their infohash")
            }
            Err(e) => tracing::debug!("{e}"),
        }
    }
    let dir = log_dir(node, identity, feed, &infohash);
    let magnet = format!("magnet:?xt=urn:btih:{infohash}&dn={name}");
    let peers = swarm_peers(node, infohash).await;
    if peers.is_empty() && node.engine.stats(&infohash).is_err() {
        // Nobody to ask yet: fail fast, the next poll looks again (a magnet without peers
        // would only wait out the timeout).
        return Err(Error::Fetch(format!(
            "no node or peer serves log part {infohash} yet"
        )));
    }
    let added = node
        .engine
        .download(TorrentSource::Magnet(magnet), Some(&dir), peers);
    tokio::time::timeout(SWARM_TIMEOUT, async {
        added.await?;
        node.engine.wait_until_complete(&infohash).await
    })
    .await
    .map_err(|_| {
        Error::Fetch(format!(
            "log part {infohash} not found in the swarm within {SWARM_TIMEOUT:?}"
        ))
    })??;
    let path = dir.join(name);
    let bytes = tokio::fs::read(&path).await.map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    if matches(&bytes) {
        Ok(bytes)
    } else {
        Err(Error::Fetch(format!("log part {infohash} has other bytes")))
    }
}

/// A head's log past `verified`, fetched and verified.
pub enum NewLog {
    /// The new entries, with the log parts that carried them: the sealed segments past
    /// `verified` (index, infohash, name, bytes) and the tail, to keep and seed.
    Verified {
        log: VerifiedLog,
        segments: Vec<(u64, InfoHash, String, Vec<u8>)>,
        tail: Vec<u8>,
    },
    /// Two different signed entries at one seq: the feed forked.
    Forked(Box<ForkProof>),
}

/// Fetches the log parts `head` names past `verified` (from nodes or the swarm, each
/// checked against its infohash) and verifies the new entries, carrying on from
/// `checkpoint` (the state the entries held already leave). The log must end at the entry
/// the head names.
pub async fn new_log(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    head: &SignedHead,
    verified: u64,
    checkpoint: Option<&Checkpoint>,
) -> Result<NewLog> {
    let tail = log_part(node, identity, feed, head.head().log, &tail_name(feed)).await?;
    let (segments, tail_entries) = read_tail(&tail)?;
    if segments.len() as u64 != head.head().seq / SEGMENT_ENTRIES {
        return Err(FeedError::BadLayout(
            "the tail lists the wrong number of sealed segments".into(),
        )
        .into());
    }
    let mut raw = Vec::new();
    let mut new_segments = Vec::new();
    let first = (verified / SEGMENT_ENTRIES) as usize;
    for (index, hash) in segments.iter().enumerate().skip(first) {
        let name = segment_name(feed, index as u64);
        let bytes = log_part(node, identity, feed, *hash, &name).await?;
        let entries = feeds::log::split_entries(&bytes)?;
        if entries.len() as u64 != SEGMENT_ENTRIES {
            return Err(FeedError::BadLayout(format!(
                "segment {index} does not hold 1024 entries"
            ))
            .into());
        }
        let skip = verified.saturating_sub(index as u64 * SEGMENT_ENTRIES) as usize;
        raw.extend(entries.into_iter().skip(skip));
        new_segments.push((index as u64, *hash, name, bytes));
    }
    let skip = verified.saturating_sub(segments.len() as u64 * SEGMENT_ENTRIES) as usize;
    raw.extend(tail_entries.into_iter().skip(skip));

    let log = match feeds::decode_and_verify_log(identity, feed, raw, checkpoint) {
        Ok(log) => log,
        Err(FeedError::Fork(proof)) => return Ok(NewLog::Forked(proof)),
        Err(e) => return Err(e.into()),
    };
    match log.entries.last() {
        Some(last) => head.check_names(last)?,
        None => {
            return Err(FeedError::HeadMismatch(
                "the log does not end at the entry the head names",
            )
            .into());
        }
    }
    Ok(NewLog::Verified {
        log,
        segments: new_segments,
        tail,
    })
}

/// Where a follower keeps (and seeds) a feed's log parts.
pub fn log_dir(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    infohash: &InfoHash,
) -> PathBuf {
    node.data
        .root()
        .join("logs")
        .join(identity.to_string())
        .join(feed.as_str())
        .join(infohash.to_string())
}

/// A .torrent for `infohash` from the nodes serving the feed, checked against its infohash,
/// with the serving node's BitTorrent address when it says it seeds the torrent (a peer to
/// connect to before the DHT has answered).
pub async fn torrent_file(
    node: &Fetcher<'_>,
    identity: &IdentityKey,
    feed: &FeedName,
    infohash: InfoHash,
) -> Option<(Vec<u8>, Option<SocketAddr>)> {
    for url in candidate_nodes(node, identity, Some(feed)).await {
        let (headers, bytes) = match node
            .outbound
            .get(
                &url,
                &format!("/torrents/{infohash}.torrent"),
                feeds::metainfo::MAX_METAINFO_BYTES,
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                tracing::debug!("{e}");
                continue;
            }
        };
        if !Metainfo::decode(&bytes).is_ok_and(|m| m.infohash() == infohash) {
            continue;
        }
        let port = headers
            .get(PEER_PORT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u16>().ok())
            .filter(|port| *port != 0);
        let peer = match port {
            Some(port) => peer_at(node, &url, port).await,
            None => None,
        };
        return Some((bytes, peer));
    }
    None
}

/// The address of the host of `url` (a node URL) at `port`, if the outbound policy allows
/// every address it has: a peer hint is dialled like any other request.
async fn peer_at(node: &Fetcher<'_>, url: &str, port: u16) -> Option<SocketAddr> {
    let url = NodeUrl::parse(url).ok()?;
    match node.outbound.addresses(&url).await {
        Ok(found) => found
            .iter()
            .find(|a| a.is_ipv4())
            .or(found.first())
            .map(|a| SocketAddr::new(a.ip(), port)),
        Err(e) => {
            tracing::debug!("peer hint not taken: {e}");
            None
        }
    }
}

/// Peers the DHT knows for `infohash`, as the engine takes them: those found within a
/// second of the first answer that had any (at most 20 s in all).
pub async fn swarm_peers(node: &Fetcher<'_>, infohash: InfoHash) -> Vec<std::net::SocketAddr> {
    let lookup = node.dht.get_peers_soon(infohash.0, Duration::from_secs(1));
    let peers = tokio::time::timeout(Duration::from_secs(20), lookup)
        .await
        .unwrap_or_default();
    peers
        .into_iter()
        .map(std::net::SocketAddr::V4)
        .filter(|p| *p != node.own_peer)
        .collect()
}
