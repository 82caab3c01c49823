//! Getting bytes a node does not hold yet: heads, log parts and .torrent files from other
//! nodes over HTTP, or log parts from the swarm, each checked before it is used.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use feeds::layout::log_torrent;
use feeds::{FeedName, IdentityKey, InfoHash, Metainfo, SignedHead};

use super::routes::PEER_PORT_HEADER;
use super::{Error, NodeHandle, Result};
use crate::engine::TorrentSource;

/// How long a swarm download of a log part may take before the node tries again later.
const SWARM_TIMEOUT: Duration = Duration::from_secs(20);
/// Most nodes asked for one thing.
const MAX_NODES: usize = 6;

/// Base URLs of nodes that may serve `identity`'s `feed`, this node excluded, each allowed
/// by the private-range policy.
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
    let mut seen = Vec::new();
    for url in urls {
        let url = url.trim_end_matches('/').to_owned();
        if url != node.public_url && !seen.contains(&url) && fetch_allowed(node, &url) {
            seen.push(url);
        }
    }
    seen.truncate(MAX_NODES);
    seen
}

/// Whether the node may send requests to `url`: plain `http(s)`, and no private, loopback or
/// link-local address unless the node is configured to allow them.
pub fn fetch_allowed(node: &NodeHandle, url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    if node.config.allow_private_fetch {
        return true;
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .trim_matches(['[', ']']);
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            !(ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified())
        }
        Ok(IpAddr::V6(ip)) => {
            !(ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00)
        }
        Err(_) => host != "localhost",
    }
}

/// GETs `url`, at most `max` bytes.
pub async fn get(node: &NodeHandle, url: &str, max: usize) -> Result<Vec<u8>> {
    get_with_headers(node, url, max).await.map(|(_, body)| body)
}

/// GETs `url`, at most `max` bytes, with the answer's headers.
async fn get_with_headers(
    node: &NodeHandle,
    url: &str,
    max: usize,
) -> Result<(reqwest::header::HeaderMap, Vec<u8>)> {
    let response = node
        .http
        .get(url)
        .send()
        .await
        .map_err(|e| Error::Http(format!("GET {url}: {e}")))?;
    if !response.status().is_success() {
        return Err(Error::Http(format!("GET {url}: {}", response.status())));
    }
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(Error::Http(format!("GET {url}: more than {max} bytes")));
    }
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::Http(format!("GET {url}: {e}")))?;
    if body.len() > max {
        return Err(Error::Http(format!("GET {url}: more than {max} bytes")));
    }
    Ok((headers, body.to_vec()))
}

/// A feed's head as other nodes serve it (each checked: signature, author, feed).
pub async fn head_from_nodes(
    node: &NodeHandle,
    identity: &IdentityKey,
    feed: &FeedName,
) -> Vec<(String, SignedHead)> {
    let mut heads = Vec::new();
    for url in candidate_nodes(node, identity, Some(feed)).await {
        let Ok(bytes) = get(node, &format!("{url}/api/v1/heads/{identity}/{feed}"), 4096).await
        else {
            continue;
        };
        match SignedHead::decode(&bytes) {
            Ok(head) if head.author() == *identity && head.head().feed == *feed => {
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
            &format!("{url}/api/v1/logs/{identity}/{feed}/{infohash}"),
            1 << 30,
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
        let Ok((headers, bytes)) = get_with_headers(
            node,
            &format!("{url}/torrents/{infohash}.torrent"),
            64 << 20,
        )
        .await
        else {
            continue;
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
            Some(port) => peer_at(&url, port).await,
            None => None,
        };
        return Some((bytes, peer));
    }
    None
}

/// The address of the host of `url` (an allowed node URL) at `port`.
async fn peer_at(url: &str, port: u16) -> Option<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, p)) if p.parse::<u16>().is_ok() => host,
        _ => authority,
    };
    let host = host.trim_matches(['[', ']']);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let mut found = tokio::net::lookup_host((host, port)).await.ok()?;
    found.find(SocketAddr::is_ipv4)
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
