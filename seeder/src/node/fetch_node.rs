//! What `verify` and `identity sync` fetch with: a DHT node, outbound HTTP under the fetch
//! policy, a torrent engine for log parts only the swarm serves, and a store of their own in
//! a scratch directory (which nodes serve what). No HTTP listener, no control socket, no
//! replication loops, nothing announced as seeded. A running node lends its DHT (warm
//! already) when the request names no other; without a node the command starts its own.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use data_dir::DataDir;

use super::api::FetchOptions;
use super::{AddressPolicy, Error, Fetcher, Outbound, Result};
use engine::dht::{DhtConfig, DhtNode};
use engine::{Engine, EngineConfig};
use store::Store;

/// Where a [`FetchNode`] keeps its state and how it reaches the network.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// An empty scratch directory (its store, the engine's state, fetched log parts); the
    /// caller removes it.
    pub scratch: PathBuf,
    /// The address the DHT and BitTorrent bind to (any free ports).
    pub bind_ip: Ipv4Addr,
    /// DHT bootstrap nodes (`host:port`); empty: no DHT network to join.
    pub dht_bootstrap: Vec<String>,
    /// Which addresses HTTP requests may go to (as `serve`'s `--allow-private-fetch` and
    /// `--fetch-allow`).
    pub policy: AddressPolicy,
}

/// The parts a [`Fetcher`] borrows, started for one command.
pub struct FetchNode {
    data: DataDir,
    store: Store,
    dht: DhtNode,
    engine: Engine,
    outbound: Outbound,
    bind_ip: Ipv4Addr,
    /// The scratch directory made for one request, removed when the fetcher goes.
    scratch: Option<tempfile::TempDir>,
}

impl FetchNode {
    /// Opens the scratch store and starts the DHT node and the engine.
    pub async fn start(config: FetchConfig) -> Result<FetchNode> {
        FetchNode::start_with(config, None).await
    }

    /// The fetcher of one verify or restore: a scratch directory of its own (removed with
    /// it), the fetch policy and DHT bootstrap the request names, or, naming none, the DHT
    /// of the running node (`shared_dht`).
    pub(crate) async fn for_request(
        options: &FetchOptions,
        shared_dht: Option<&DhtNode>,
    ) -> Result<FetchNode> {
        let scratch = tempfile::tempdir().map_err(|source| Error::Io {
            path: std::env::temp_dir().display().to_string(),
            source,
        })?;
        let config = FetchConfig {
            scratch: scratch.path().to_owned(),
            bind_ip: options.bind_ip,
            dht_bootstrap: options.dht_bootstrap.clone().unwrap_or_default(),
            policy: AddressPolicy {
                allow_all: options.allow_private_fetch,
                allow: options.fetch_allow.clone(),
            },
        };
        let shared = match options.dht_bootstrap {
            None => shared_dht.cloned(),
            Some(_) => None,
        };
        let mut node = FetchNode::start_with(config, shared).await?;
        node.scratch = Some(scratch);
        Ok(node)
    }

    async fn start_with(config: FetchConfig, shared_dht: Option<DhtNode>) -> Result<FetchNode> {
        let data = DataDir::new(&config.scratch);
        data_dir::create_dir(data.root())?;
        let store = Store::open(data.store_path()).await?;
        let outbound = Outbound::new(config.policy)?;
        let dht = match shared_dht {
            Some(dht) => dht,
            None => DhtNode::start(&DhtConfig {
                bind_address: config.bind_ip,
                port: 0,
                bootstrap: config.dht_bootstrap,
                // As the scratch node did: a short-lived command answers queries while it runs.
                server_mode: true,
            })?,
        };
        let mut engine_config = EngineConfig::new(data.root());
        engine_config.listen = SocketAddr::from((config.bind_ip, 0));
        let engine = Engine::start(engine_config).await?;
        Ok(FetchNode {
            data,
            store,
            dht,
            engine,
            outbound,
            bind_ip: config.bind_ip,
            scratch: None,
        })
    }

    /// Fetching through these parts.
    pub fn fetcher(&self) -> Fetcher<'_> {
        let port = self
            .engine
            .announce_port()
            .unwrap_or_else(|| self.engine.listen_addr().port());
        Fetcher {
            store: &self.store,
            dht: &self.dht,
            engine: &self.engine,
            outbound: &self.outbound,
            data: &self.data,
            own_url: None,
            own_peer: SocketAddr::from((self.bind_ip, port)),
        }
    }

    /// Stops the engine and the DHT node (a shared one keeps running: this was a handle),
    /// then removes the scratch directory made for the request.
    pub async fn shutdown(self) {
        self.engine.shutdown().await;
        self.dht.shutdown();
        drop(self.scratch);
    }
}
