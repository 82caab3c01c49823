//! The flags of the commands that fetch from the network without running a node (`verify`,
//! `identity sync`, `identity import`): where to look, and which addresses to fetch from.

use std::net::Ipv4Addr;
use std::path::Path;

use clap::Args;
use data_dir::DataDir;
use seeder::config::NodeConfig;
use seeder::node::{AddressPolicy, FetchConfig, Network};

use super::InputError;

/// Where to look for feeds, and what the command's DHT, HTTP and BitTorrent may reach.
#[derive(Debug, Args, Clone)]
pub struct FetchArgs {
    /// DHT bootstrap nodes, HOST:PORT,…; `none` for none [default: the DHT of the node
    /// running on the data directory, else the public routers].
    #[arg(long, value_name = "LIST")]
    dht_bootstrap: Option<String>,
    /// Base URL of a node that may hold the feeds (repeatable).
    #[arg(long = "node", value_name = "URL")]
    pub nodes: Vec<String>,
    /// Allow fetching from private and loopback addresses.
    #[arg(long)]
    allow_private_fetch: bool,
    /// Networks to fetch from although not public, CIDR,… (a LAN, e.g.
    /// 10.0.0.0/8,fd00::/8), as `serve --fetch-allow`; `none` for none [default: none].
    #[arg(long, value_name = "LIST")]
    fetch_allow: Option<String>,
    /// The address the DHT and BitTorrent bind to (any free ports).
    #[arg(long, value_name = "IP", default_value = "0.0.0.0")]
    bind_ip: Ipv4Addr,
}

impl FetchArgs {
    /// The DHT bootstrap list: as given, else the DHT of the node running on `data`, else
    /// the public routers.
    pub fn bootstrap(&self, data: &DataDir) -> Vec<String> {
        match (&self.dht_bootstrap, data.node_info()) {
            (Some(list), _) if list.trim() == "none" => Vec::new(),
            (Some(list), _) => list.split(',').map(|s| s.trim().to_owned()).collect(),
            (None, Some(node)) => vec![node.dht.to_string()],
            (None, None) => NodeConfig::default().dht_bootstrap,
        }
    }

    /// Which addresses HTTP requests may go to.
    pub fn policy(&self) -> Result<AddressPolicy, InputError> {
        Ok(AddressPolicy {
            allow_all: self.allow_private_fetch,
            allow: match &self.fetch_allow {
                Some(list) => parse_networks(list)?,
                None => Vec::new(),
            },
        })
    }

    /// The fetcher's configuration, with `bootstrap` and `scratch` (an empty directory).
    pub fn fetch_config(
        &self,
        bootstrap: Vec<String>,
        scratch: &Path,
    ) -> Result<FetchConfig, InputError> {
        Ok(FetchConfig {
            scratch: scratch.to_owned(),
            bind_ip: self.bind_ip,
            dht_bootstrap: bootstrap,
            policy: self.policy()?,
        })
    }
}

/// A `--fetch-allow` list: CIDR networks separated by commas, or `none`.
pub fn parse_networks(list: &str) -> Result<Vec<Network>, InputError> {
    match list.trim() {
        "none" | "" => Ok(Vec::new()),
        list => list
            .split(',')
            .map(|net| net.parse().map_err(InputError))
            .collect(),
    }
}
