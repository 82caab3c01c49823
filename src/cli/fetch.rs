//! The flags of the commands that fetch from the network (`verify`, `identity sync`,
//! `identity import`; through the running node if there is one, else on their own): where
//! to look, and which addresses to fetch from.

use std::net::Ipv4Addr;

use clap::Args;
use data_dir::DataDir;
use http_server::Network;
use seeder::config::NodeConfig;
use seeder::node::api::FetchOptions;

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
        match (self.given_bootstrap(), data.node_info()) {
            (Some(list), _) => list,
            (None, Some(node)) => vec![node.dht.to_string()],
            (None, None) => NodeConfig::default().dht_bootstrap,
        }
    }

    /// The bootstrap list given with `--dht-bootstrap` (`none`: an empty one), if any: a
    /// running node asked to fetch uses its own DHT when none is given.
    pub fn given_bootstrap(&self) -> Option<Vec<String>> {
        match self.dht_bootstrap.as_deref().map(str::trim) {
            None => None,
            Some("none") => Some(Vec::new()),
            Some(list) => Some(list.split(',').map(|s| s.trim().to_owned()).collect()),
        }
    }

    /// The fetch part of a verify or restore request, with `bootstrap` (`None`: the running
    /// node's DHT).
    pub fn options(&self, bootstrap: Option<Vec<String>>) -> Result<FetchOptions, InputError> {
        Ok(FetchOptions {
            nodes: self.nodes.clone(),
            dht_bootstrap: bootstrap,
            allow_private_fetch: self.allow_private_fetch,
            fetch_allow: match &self.fetch_allow {
                Some(list) => parse_networks(list)?,
                None => Vec::new(),
            },
            bind_ip: self.bind_ip,
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
