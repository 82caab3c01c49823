//! The node: one data directory, its SQLite store, a BitTorrent engine, a DHT node, an HTTP
//! server (node-to-node routes plus whatever the gateway adds) and a local control socket,
//! with the loops that keep followed feeds replicated and their heads alive in the DHT.
//!
//! `Node::start(config, gateway)` brings it all up and returns once every listener is
//! bound and `node.json` says where; `shutdown` stops it cleanly.

pub mod api;
mod content;
mod control;
mod control_client;
mod error;
mod extensions;
mod fetch;
mod fetch_node;
mod heard;
mod integrity;
mod metrics;
mod outbound;
mod own;
mod pushed;
mod replicate;
mod republish;
mod restore;
mod routes;
mod schedule;
mod scrub;
mod tails;
mod traffic;
mod uploads;
mod verify;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use data_dir::DataDir;
use data_dir::NodeInfo;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::NodeConfig;
use engine::dht::{DhtConfig, DhtNode};
use engine::{Engine, EngineConfig};
use store::Store;

pub use api::{
    CapValue, FollowRequest, FollowView, NodeApi, PublishedRequest, parse_feed, parse_identity,
    parse_infohash,
};
pub use control_client::{ControlClient, ControlError};
pub use error::{Error, Result};
pub use fetch::Fetcher;
pub use fetch_node::{FetchConfig, FetchNode};
pub use metrics::Metrics;
pub use outbound::{AddressPolicy, NodeUrl, Outbound, OutboundError};
pub use replicate::{follow_now, update_feed};
pub use scrub::ScrubConfig;
pub use traffic::{TrafficHistory, TrafficMinute};

/// What every part of a running node shares. Cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    inner: Arc<NodeInner>,
}

/// The node's parts: private to the node (everything outside reads and changes it through
/// [`NodeHandle::api`]); only where it listens is public.
pub struct NodeInner {
    pub(crate) config: NodeConfig,
    pub(crate) data: DataDir,
    pub(crate) store: Store,
    pub(crate) engine: Engine,
    pub(crate) dht: DhtNode,
    pub public_url: String,
    pub http_addr: SocketAddr,
    /// Every request to another node goes through it (see `outbound`).
    outbound: Outbound,
    /// Wakes the replication loop (a follow, a pushed head).
    wake: Notify,
    /// Followed feeds being updated (at most a few at once, never one feed twice).
    updates: schedule::Updates,
    /// Set when disk caps changed or space was freed: torrents waiting over a cap are
    /// reconsidered.
    recheck_caps: std::sync::atomic::AtomicBool,
    /// Follower registrations per client address.
    registrations: api::Registrations,
    /// Bytes sent and received a minute at a time over the last day (the status page).
    pub(crate) traffic: TrafficHistory,
    /// Node URLs recorded from pushes, per feed and in all.
    pushed: pushed::PushedNodes,
    /// Peer hints and adds under way of followed downloads.
    downloads: content::Downloads,
    /// When this node last registered as a follower with another node, per feed.
    registered_with: replicate::RegisteredWith,
    /// Counters behind `/metrics` and the status page.
    metrics: Metrics,
    /// Users, sessions and identities held for them, when `[accounts] mode` is not `off`.
    accounts: Option<accounts::Accounts>,
    cancel: CancellationToken,
}

impl std::ops::Deref for NodeHandle {
    type Target = NodeInner;

    fn deref(&self) -> &NodeInner {
        &self.inner
    }
}

impl NodeHandle {
    /// Asks the replication loop to look at every followed feed now.
    pub fn wake_replication(&self) {
        self.inner.wake.notify_one();
    }

    /// Bytes sent and received by the engine since it started, over the torrents it holds.
    pub fn traffic_totals(&self) -> (u64, u64) {
        traffic::totals(self)
    }

    /// The node's own counters (`/metrics`, the status page).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The node's DHT, outbound HTTP, engine and store, as fetching from the network uses them.
    pub(crate) fn fetcher(&self) -> Fetcher<'_> {
        Fetcher {
            store: &self.store,
            dht: &self.dht,
            engine: &self.engine,
            outbound: &self.outbound,
            data: &self.data,
            own_url: Some(&self.public_url),
            own_peer: SocketAddr::from((self.config.bind_ip, self.bt_port())),
        }
    }

    /// The node's BitTorrent port, as announced in the DHT.
    pub fn bt_port(&self) -> u16 {
        self.engine
            .announce_port()
            .unwrap_or_else(|| self.engine.listen_addr().port())
    }
}

/// A running node.
pub struct Node {
    handle: NodeHandle,
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    /// Starts a node; `gateway` builds the human-facing routes served beside the node's own.
    pub async fn start(
        config: NodeConfig,
        gateway: impl FnOnce(NodeHandle) -> Router,
    ) -> Result<Node> {
        let data = DataDir::new(&config.data_dir);
        data_dir::create_dir(data.root())?;
        let store = Store::open(data.store_path()).await?;
        // Published files that changed while the node was down (a stat, a BLAKE3 pass if
        // their stamp moved) leave the engine's saved session before it opens anything.
        let checked = scrub::check_at_start(&store, &data).await?;
        engine::forget_saved(&config.data_dir.join("engine"), &checked.forget()).await?;
        // Tails replaced before this start leave the saved session (see `tails`).
        tails::forget_stale(&store, data.root(), &config.data_dir.join("engine")).await?;
        // The nodes known before a restart are asked too: the first node of a network of its
        // own has no other way back into it.
        let mut bootstrap = usable_bootstrap(&config.dht_bootstrap);
        for contact in engine::dht::contacts::load(&republish::contacts_path(&data)) {
            if !bootstrap.contains(&contact) {
                bootstrap.push(contact);
            }
        }
        let dht = DhtNode::start(&DhtConfig {
            bind_address: config.bind_ip,
            port: config.dht_port,
            bootstrap,
            server_mode: true,
        })?;
        let mut engine_config = EngineConfig::new(&config.data_dir);
        engine_config.download_dir = config.download_dir();
        engine_config.listen = SocketAddr::from((config.bind_ip, config.bt_port));
        engine_config.upload_limit_bps = rate(config.limits.upload_rate);
        engine_config.download_limit_bps = rate(config.limits.download_rate);
        engine_config.max_open_files = config
            .limits
            .max_open_files
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        engine_config.encryption = config.encryption;
        let engine = Engine::start(engine_config).await?;

        let listener = http_server::server::bind(config.listen).map_err(|source| Error::Bind {
            address: config.listen,
            source,
        })?;
        let http_addr = listener.local_addr().map_err(|source| Error::Bind {
            address: config.listen,
            source,
        })?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{http_addr}"))
            .trim_end_matches('/')
            .to_owned();
        // Opened before anything is served: a bad mail or secrets-key setting stops the start.
        let accounts = open_accounts(&config, &public_url)?;
        let outbound = Outbound::new(AddressPolicy {
            allow_all: config.allow_private_fetch,
            allow: config.fetch_allow.clone(),
        })?;
        let handle = NodeHandle {
            inner: Arc::new(NodeInner {
                config,
                data,
                store,
                engine,
                dht,
                public_url,
                http_addr,
                outbound,
                wake: Notify::new(),
                updates: schedule::Updates::default(),
                recheck_caps: std::sync::atomic::AtomicBool::new(false),
                registrations: api::Registrations::default(),
                traffic: TrafficHistory::default(),
                pushed: pushed::PushedNodes::default(),
                downloads: content::Downloads::default(),
                registered_with: replicate::RegisteredWith::default(),
                metrics: Metrics::default(),
                accounts,
                cancel: CancellationToken::new(),
            }),
        };

        // Uploads a crash cut are removed and their quota given back before anything serves.
        uploads::clean_at_start(&handle).await;
        // Own feeds first, so a restarted node seeds everything before it serves.
        own::refuse_all(&handle, checked.changed).await;
        scrub::reseed(&handle, checked.reverified).await;
        // A feed that cannot be taken in now (logged) is tried again at the next publish.
        own::sync_all(&handle).await?;
        replicate::resume(&handle).await?;

        let control = control::bind(&handle).await?;
        let app = routes::router(handle.clone()).merge(gateway(handle.clone()));
        let mut tasks = Vec::new();
        let cancel = handle.cancel.clone();
        let limits = http_server::server::Limits {
            // Mailed links end in a token; the access log writes `[redacted]` after these.
            redacted_paths: accounts::TOKEN_PATH_PREFIXES,
            long_bodies: uploads::long_bodies(&handle.config),
            ..http_server::server::Limits::from_config(&handle.config.gateway)
        };
        metrics::check_config(&handle.config.gateway);
        tasks.push(tokio::spawn(http_server::server::serve(
            listener, app, limits, cancel,
        )));
        tasks.push(tokio::spawn(control::serve(handle.clone(), control)));
        tasks.push(tokio::spawn(schedule::poll_loop(handle.clone())));
        tasks.push(tokio::spawn(republish::republish_loop(handle.clone())));
        tasks.push(tokio::spawn(republish::retry_loop(handle.clone())));
        tasks.push(tokio::spawn(republish::contacts_loop(handle.clone())));
        tasks.push(tokio::spawn(heard::heard_loop(handle.clone())));
        tasks.push(tokio::spawn(content::content_loop(handle.clone())));
        tasks.push(tokio::spawn(scrub::scrub_loop(handle.clone())));
        tasks.push(tokio::spawn(traffic::traffic_loop(handle.clone())));
        if let Some(accounts) = handle.accounts.clone() {
            tasks.push(tokio::spawn(prune_accounts_loop(
                accounts,
                handle.cancel.clone(),
            )));
        }

        let info = NodeInfo {
            pid: std::process::id(),
            http: handle.http_addr,
            public_url: handle.public_url.clone(),
            bt_port: handle.bt_port(),
            dht: SocketAddr::V4(handle.dht.local_addr()),
            control: handle.data.control_socket(),
        };
        let json = serde_json::to_vec_pretty(&info).map_err(|e| Error::Http(e.to_string()))?;
        data_dir::write_atomic(&handle.data.node_info_path(), &json)?;
        tracing::info!(
            http = %handle.http_addr, public_url = %handle.public_url, bt_port = info.bt_port,
            dht = %info.dht, "node started"
        );
        Ok(Node { handle, tasks })
    }

    pub fn handle(&self) -> &NodeHandle {
        &self.handle
    }

    /// Stops the loops and listeners, removes `node.json` and the control socket.
    pub async fn shutdown(self) {
        self.handle.cancel.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        let _ = std::fs::remove_file(self.handle.data.node_info_path());
        let _ = std::fs::remove_file(self.handle.data.control_socket());
        match Arc::try_unwrap(self.handle.inner) {
            Ok(inner) => inner.engine.shutdown().await,
            Err(_) => tracing::warn!(
                "node handles still held at shutdown; the engine stops with the process"
            ),
        }
    }
}

/// The accounts service when `[accounts] mode` is not `off`; mailed links start with the
/// node's public URL unless `[accounts] public_url` names another.
fn open_accounts(config: &NodeConfig, public_url: &str) -> Result<Option<accounts::Accounts>> {
    if config.accounts.mode == accounts::Mode::Off {
        return Ok(None);
    }
    let mut accounts = config.accounts.clone();
    accounts
        .public_url
        .get_or_insert_with(|| public_url.to_owned());
    Ok(Some(accounts::Accounts::open(accounts, &config.data_dir)?))
}

/// Expired tokens, sessions and rate-limit events leave the accounts database hourly.
async fn prune_accounts_loop(accounts: accounts::Accounts, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = accounts.prune().await {
            tracing::warn!(error = %e, "cannot prune expired accounts data; trying again in an hour");
        }
    }
}

/// The default public routers may not resolve (offline, no DNS): the node still starts,
/// with those that do, and says so. A list the user gave is used as given (a typo there is
/// an error at start).
fn usable_bootstrap(list: &[String]) -> Vec<String> {
    let public: Vec<String> = crate::config::PUBLIC_BOOTSTRAP
        .iter()
        .map(|s| s.to_string())
        .collect();
    if list != public.as_slice() {
        return list.to_vec();
    }
    use std::net::ToSocketAddrs;
    let usable: Vec<String> = list
        .iter()
        .filter(|host| {
            host.to_socket_addrs()
                .is_ok_and(|mut a| a.any(|a| a.is_ipv4()))
        })
        .cloned()
        .collect();
    if usable.len() < list.len() {
        tracing::warn!(
            "{} of {} public DHT bootstrap routers do not resolve (offline?); the DHT starts with the others",
            list.len() - usable.len(),
            list.len()
        );
    }
    usable
}

fn rate(bytes_per_second: u64) -> Option<u32> {
    (bytes_per_second > 0).then(|| u32::try_from(bytes_per_second).unwrap_or(u32::MAX))
}
