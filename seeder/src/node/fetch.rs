//! Getting bytes a node does not hold yet: heads, log parts and .torrent files from other
//! nodes over HTTP, or log parts from the swarm, each checked before it is used.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use feeds::layout::log_torrent;
use feeds::{FeedName, IdentityKey, InfoHash, Metainfo, SignedHead};

use super::routes::PEER_PORT_HEADER;
use super::{Error, NodeHandle, NodeUrl, Result};
use crate::engine::TorrentSource;

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
    node: &NodeHandle,
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
    let own = NodeUrl::parse(&node.public_url).ok();
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
pub async fn get(node: &NodeHandle, base: &str, path: &str, max: usize) -> Result<Vec<u8>> {
    Ok(node.outbound.get(base, path, max).await?.1)
}

/// A feed's head as other nodes serve it (each checked: signature, author, feed).
pub async fn head_from_nodes(
    node: &NodeHandle,
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
    node: &NodeHandle,
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
    node: &NodeHandle,
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

/// Where a follower keeps (and seeds) a feed's log parts.
pub fn log_dir(
    node: &NodeHandle,
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
    node: &NodeHandle,
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
async fn peer_at(node: &NodeHandle, url: &str, port: u16) -> Option<SocketAddr> {
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
pub async fn swarm_peers(node: &NodeHandle, infohash: InfoHash) -> Vec<std::net::SocketAddr> {
    let lookup = node.dht.get_peers_soon(infohash.0, Duration::from_secs(1));
    let peers = tokio::time::timeout(Duration::from_secs(20), lookup)
        .await
        .unwrap_or_default();
    let own = std::net::SocketAddr::from((node.config.bind_ip, node.bt_port()));
    peers
        .into_iter()
        .map(std::net::SocketAddr::V4)
        .filter(|p| *p != own)
        .collect()
}
