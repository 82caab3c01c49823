//! The node's DHT: a [`mainline`] node (BEP 5 peers, BEP 44 items) on a UDP port of its own.
//!
//! `mainline` runs its own thread; [`DhtNode`] wraps its async handle, which works under any
//! executor. The crate is patched (`third_party/mainline.patch`, see `docs/engine-gaps.md`) so
//! that libtorrent-based clients, which send 2-byte KRPC transaction ids, get answers.
//!
//! Nothing here ever falls back to mainline's public bootstrap routers: an empty bootstrap list
//! starts a network of its own.
//!
//! Small networks (a group's own DHT, a LAN) work like the large one: the patch makes a
//! node keep and answer for what it puts and announces, and read its own storage in its
//! lookups; here, what was put or announced while the routing table was small is run again
//! as the table grows ([`retry`]), and puts that reach this node are passed on to it
//! ([`heard`]), so a follower hears its publisher's new heads without an HTTP route.

pub mod contacts;
mod heard;
mod retry;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::StreamExt;
use mainline::async_dht::AsyncDht;
use mainline::{Dht, Id};
use tokio::sync::mpsc;

pub use heard::HeardItem;
pub use retry::SMALL_TABLE;
use retry::{Operation, Retries};

/// What a DHT node binds to and whom it asks first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtConfig {
    /// Address of the UDP socket (`127.0.0.1` in tests, `0.0.0.0` to serve the world).
    pub bind_address: Ipv4Addr,
    /// UDP port; 0 picks any free port (see [`DhtNode::local_addr`]).
    pub port: u16,
    /// Nodes to bootstrap from, as `host:port`. Empty: this node starts a network of its own.
    pub bootstrap: Vec<String>,
    /// Answer other nodes' queries from the start (a node others bootstrap from needs this);
    /// otherwise mainline decides once it knows whether it is reachable.
    pub server_mode: bool,
}

impl Default for DhtConfig {
    /// A server on all interfaces, any port, with no bootstrap nodes.
    fn default() -> Self {
        Self {
            bind_address: Ipv4Addr::UNSPECIFIED,
            port: 0,
            bootstrap: Vec::new(),
            server_mode: true,
        }
    }
}

/// Why the DHT could not do something.
#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    #[error("bootstrap node {0:?} does not resolve to an IPv4 address")]
    Bootstrap(String),
    #[error("cannot start the DHT node on {address}: {source}")]
    Bind {
        address: SocketAddrV4,
        source: std::io::Error,
    },
    #[error("announce_peer failed: {0}")]
    Announce(#[from] mainline::errors::PutQueryError),
    #[error("putting a BEP 44 item failed: {0}")]
    Put(#[from] mainline::errors::PutMutableError),
}

/// A running DHT node. Dropping it (or [`DhtNode::shutdown`]) stops the node's thread.
#[derive(Debug, Clone)]
pub struct DhtNode {
    dht: AsyncDht,
    local_addr: SocketAddrV4,
    retries: Arc<Mutex<Retries>>,
    heard: Arc<Mutex<Option<mpsc::Receiver<HeardItem>>>>,
}

impl DhtNode {
    /// Starts a node and returns once its UDP socket is bound (blocks for that moment).
    pub fn start(config: &DhtConfig) -> Result<Self, DhtError> {
        let bootstrap = resolve_bootstrap(&config.bootstrap)?;

        let mut builder = Dht::builder();
        builder.bind_address(config.bind_address).port(config.port);
        if bootstrap.is_empty() {
            builder.no_bootstrap();
        } else {
            builder.bootstrap(&bootstrap);
        }
        if config.server_mode {
            builder.server_mode();
        }
        let (observer, heard) = heard::PutObserver::new();
        builder.server_settings(mainline::ServerSettings {
            filter: Box::new(observer),
            ..Default::default()
        });

        let dht = builder.build().map_err(|source| DhtError::Bind {
            address: SocketAddrV4::new(config.bind_address, config.port),
            source,
        })?;
        // The blocking `info` is deprecated in favour of the async one; this is the one
        // place that needs an answer before any executor is involved.
        #[allow(deprecated)]
        let mut local_addr = dht.info().local_addr();
        if local_addr.ip().is_unspecified() {
            local_addr.set_ip(config.bind_address);
        }

        Ok(Self {
            dht: dht.as_async(),
            local_addr,
            retries: Arc::default(),
            heard: Arc::new(Mutex::new(Some(heard))),
        })
    }

    /// The mutable items other nodes put to this one, unchecked (see [`HeardItem::verify`]).
    /// The first call takes the queue; later ones get `None`.
    pub fn take_heard_items(&self) -> Option<mpsc::Receiver<HeardItem>> {
        self.heard.lock().ok()?.take()
    }

    /// Addresses of the nodes in the routing table that are not stale: what a restart
    /// bootstraps from (see [`contacts`]).
    pub async fn contacts(&self) -> Vec<String> {
        self.dht.to_bootstrap().await
    }

    /// Nodes in the routing table now.
    pub async fn routing_table_size(&self) -> usize {
        self.dht.info().await.routing_table_size()
    }

    /// Waits until the routing table holds `nodes` nodes, or `limit` has passed; the size.
    pub async fn wait_for_table(&self, nodes: usize, limit: Duration) -> usize {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let size = self.routing_table_size().await;
            if size >= nodes || tokio::time::Instant::now() >= until {
                return size;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Runs the puts and announces made while the routing table was small again as it
    /// grows, and retries failed ones (see [`retry`]). Runs until dropped.
    pub async fn retry_loop(&self) {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let size = self.routing_table_size().await;
            let due = match self.retries.lock() {
                Ok(mut retries) => retries.take_due(size),
                Err(_) => return,
            };
            if !due.is_empty() {
                tracing::debug!(
                    operations = due.len(),
                    table = size,
                    "DHT: running puts and announces again"
                );
            }
            for operation in due {
                let node = self.clone();
                tokio::spawn(async move { node.run(operation).await });
            }
        }
    }

    /// Operations waiting to run again.
    pub fn pending_operations(&self) -> usize {
        self.retries.lock().map_or(0, |r| r.len())
    }

    /// Runs an operation and records its outcome with the table size it went out with.
    async fn run(&self, operation: Operation) -> Result<(), DhtError> {
        let table = self.routing_table_size().await;
        let result = match &operation {
            Operation::Put(item) => {
                let salt = Some(item.salt()).filter(|s| !s.is_empty());
                let signed = mainline::MutableItem::new_signed_unchecked(
                    *item.key().as_bytes(),
                    item.signature(),
                    item.value(),
                    item.seq(),
                    salt,
                );
                self.dht
                    .put_mutable(signed, None)
                    .await
                    .map(drop)
                    .map_err(DhtError::from)
            }
            Operation::Announce { info_hash, port } => self
                .dht
                .announce_peer(Id::from(*info_hash), Some(*port))
                .await
                .map(drop)
                .map_err(DhtError::from),
        };
        if let Ok(mut retries) = self.retries.lock() {
            retries.note(&operation, table, result.is_ok());
        }
        result
    }

    /// The UDP address this node is bound to: what other nodes and clients bootstrap from.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.local_addr
    }

    /// `host:port` of this node, in the form [`DhtConfig::bootstrap`] takes.
    pub fn bootstrap_address(&self) -> String {
        self.local_addr.to_string()
    }

    /// The underlying `mainline` handle, for BEP 44 and the rest.
    pub fn dht(&self) -> &AsyncDht {
        &self.dht
    }

    /// Announces that a peer at this node's IP and `port` has `info_hash` (stored on the
    /// closest nodes of the DHT; this node answers for it too). Made while the routing table
    /// is small, it runs again as the table grows.
    pub async fn announce_peer(&self, info_hash: [u8; 20], port: u16) -> Result<(), DhtError> {
        self.run(Operation::Announce { info_hash, port }).await
    }

    /// This node no longer seeds `info_hash`: its `get_peers` answers stop naming it, and an
    /// announce waiting to run again is dropped (what other nodes stored expires there).
    pub fn forget_announced(&self, info_hash: [u8; 20]) {
        self.dht.forget_announced(Id::from(info_hash));
        if let Ok(mut retries) = self.retries.lock() {
            retries.forget_announce(&info_hash);
        }
    }

    /// Peers announced for `info_hash`, gathered until the lookup ends (deduplicated).
    pub async fn get_peers(&self, info_hash: [u8; 20]) -> Vec<SocketAddrV4> {
        let mut peers = Vec::new();
        let mut stream = self.dht.get_peers(Id::from(info_hash));
        while let Some(batch) = stream.next().await {
            for peer in batch {
                if !peers.contains(&peer) {
                    peers.push(peer);
                }
            }
        }
        peers
    }

    /// Peers announced for `info_hash`, gathered until the lookup ends or until `settle`
    /// after the first ones arrived, whichever is first: a download needs a peer now more
    /// than every peer once the last slow DHT node has answered.
    pub async fn get_peers_soon(
        &self,
        info_hash: [u8; 20],
        settle: std::time::Duration,
    ) -> Vec<SocketAddrV4> {
        let mut peers = Vec::new();
        let mut stream = self.dht.get_peers(Id::from(info_hash));
        let mut until = None;
        loop {
            let next = match until {
                None => stream.next().await,
                Some(until) => match tokio::time::timeout_at(until, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            let Some(batch) = next else { break };
            for peer in batch {
                if !peers.contains(&peer) {
                    peers.push(peer);
                }
            }
            if until.is_none() && !peers.is_empty() {
                until = Some(tokio::time::Instant::now() + settle);
            }
        }
        peers
    }

    /// Stores a signed BEP 44 item (a feed head or an identity record) on the closest nodes.
    /// Any node may do this for any item it holds: no secret is needed to republish.
    /// This node keeps it too, and answers for it; made while the routing table is small,
    /// the put runs again as the table grows.
    pub async fn put_item(&self, item: &feeds::MutableItem) -> Result<(), DhtError> {
        self.run(Operation::Put(Box::new(item.clone()))).await
    }

    /// The most recent item under `key` and `salt` the DHT holds, checked again with `feeds`.
    pub async fn get_item(
        &self,
        key: &feeds::IdentityKey,
        salt: &[u8],
    ) -> Option<feeds::MutableItem> {
        let salt = Some(salt).filter(|s| !s.is_empty());
        let found = self
            .dht
            .get_mutable_most_recent(key.as_bytes(), salt)
            .await?;
        feeds::MutableItem::from_parts(
            *key,
            found.salt().map(<[u8]>::to_vec).unwrap_or_default(),
            found.seq(),
            found.value().to_vec(),
            *found.signature(),
        )
        .ok()
    }

    /// The newest head of a feed found in the DHT.
    pub async fn get_head(
        &self,
        key: &feeds::IdentityKey,
        feed: &feeds::FeedName,
    ) -> Option<feeds::SignedHead> {
        let item = self.get_item(key, feed.as_str().as_bytes()).await?;
        feeds::SignedHead::from_item(item).ok()
    }

    /// The newest identity record found in the DHT.
    pub async fn get_identity_record(
        &self,
        key: &feeds::IdentityKey,
    ) -> Option<feeds::SignedIdentityRecord> {
        let item = self.get_item(key, b"").await?;
        feeds::SignedIdentityRecord::from_item(item).ok()
    }

    /// Stops the node (its thread ends once every clone of this handle is gone).
    pub fn shutdown(self) {
        drop(self);
    }
}

fn resolve_bootstrap(bootstrap: &[String]) -> Result<Vec<SocketAddrV4>, DhtError> {
    bootstrap
        .iter()
        .map(|node| {
            node.to_socket_addrs()
                .ok()
                .and_then(|mut addresses| {
                    addresses.find_map(|address| match address {
                        SocketAddr::V4(address) => Some(address),
                        SocketAddr::V6(_) => None,
                    })
                })
                .ok_or_else(|| DhtError::Bootstrap(node.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(bootstrap: Vec<String>) -> DhtConfig {
        DhtConfig {
            bind_address: Ipv4Addr::LOCALHOST,
            port: 0,
            bootstrap,
            server_mode: true,
        }
    }

    #[test]
    fn starts_on_any_port_without_bootstrap() {
        let node = DhtNode::start(&loopback(Vec::new())).unwrap();
        assert_eq!(*node.local_addr().ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(node.local_addr().port(), 0);
    }

    #[test]
    fn unresolvable_bootstrap_is_an_error() {
        let error = DhtNode::start(&loopback(vec!["not an address".into()])).unwrap_err();
        assert!(matches!(error, DhtError::Bootstrap(_)));
    }

    #[test]
    fn announced_peer_is_found_on_a_private_network() {
        let first = DhtNode::start(&loopback(Vec::new())).unwrap();
        let others: Vec<DhtNode> = (0..3)
            .map(|_| DhtNode::start(&loopback(vec![first.bootstrap_address()])).unwrap())
            .collect();

        let info_hash = [7; 20];
        futures_lite::future::block_on(others[0].announce_peer(info_hash, 4242)).unwrap();
        let peers = futures_lite::future::block_on(others[2].get_peers(info_hash));
        assert_eq!(peers, vec![SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4242)]);
    }

    #[test]
    fn a_head_put_by_one_node_is_found_and_republished_by_others() {
        let first = DhtNode::start(&loopback(Vec::new())).unwrap();
        let others: Vec<DhtNode> = (0..3)
            .map(|_| DhtNode::start(&loopback(vec![first.bootstrap_address()])).unwrap())
            .collect();
        let pair = feeds::Keypair::from_seed(&[4; 32]);
        let feed = feeds::FeedName::new("main").unwrap();
        let head = feeds::FeedHead {
            feed: feed.clone(),
            seq: 3,
            entry_hash: feeds::EntryHash([1; 32]),
            log: feeds::InfoHash([2; 20]),
            time: 5,
        }
        .sign(&pair)
        .unwrap();
        futures_lite::future::block_on(others[0].put_item(head.item())).unwrap();
        let found = futures_lite::future::block_on(others[2].get_head(&pair.public(), &feed));
        assert_eq!(found, Some(head.clone()));
        // A node without the key republishes the same signed item.
        futures_lite::future::block_on(others[1].put_item(found.unwrap().item())).unwrap();
        let record = feeds::IdentityRecord {
            feeds: vec![feed],
            name: None,
            nodes: Vec::new(),
        }
        .sign(&pair, 1)
        .unwrap();
        futures_lite::future::block_on(others[1].put_item(record.item())).unwrap();
        let found = futures_lite::future::block_on(first.get_identity_record(&pair.public()));
        assert_eq!(found, Some(record));
    }
}
