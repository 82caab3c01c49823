//! The node's configuration: one serde struct whose `Default` runs a working node
//! (`swarmfeed serve` with no options), read from an optional TOML file, then overridden by
//! environment variables and command-line flags (the binary maps those).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_server::{GatewayConfig, StatusConfig};
use serde::{Deserialize, Serialize};

/// The public BitTorrent DHT routers a node bootstraps from by default.
pub const PUBLIC_BOOTSTRAP: [&str; 3] = [
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "dht.libtorrent.org:25401",
];

/// Everything a node can be told. Every field has a default that works.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// The data directory (keystore, published feeds, SQLite store, engine state).
    pub data_dir: PathBuf,
    /// Where the HTTP server (gateway and node-to-node routes) listens.
    pub listen: SocketAddr,
    /// The URL others reach this node's HTTP server at [default: `http://{listen}`].
    pub public_url: Option<String>,
    /// The address BitTorrent and the DHT bind to.
    pub bind_ip: Ipv4Addr,
    /// BitTorrent TCP port; 0 picks any free port.
    pub bt_port: u16,
    /// DHT UDP port (the address others bootstrap from); 0 picks any free port.
    pub dht_port: u16,
    /// DHT nodes to bootstrap from, `host:port`; empty starts a network of its own.
    pub dht_bootstrap: Vec<String>,
    /// BitTorrent protocol encryption (MSE/PE): `disabled`, `enabled` (accept both, the
    /// default) or `forced` (encrypted connections only). Obfuscation, not confidentiality.
    pub encryption: engine::Encryption,
    /// Where followed content is downloaded [default: `{data_dir}/downloads`].
    pub download_dir: Option<PathBuf>,
    /// Keep seeding and serving entries their publisher retracted.
    pub archive: bool,
    /// Seconds between DHT polls of followed feeds' heads.
    pub poll_interval_secs: u64,
    /// Seconds between republishing followed heads and identity records to the DHT.
    pub republish_interval_secs: u64,
    /// Push new heads of this node's own feeds to nodes that follow them.
    pub push: bool,
    /// Fetch from URLs in private address ranges (loopback, 10/8, 192.168/16, …).
    pub allow_private_fetch: bool,
    /// Networks (CIDR, e.g. `"10.0.0.0/8"`) the node may send requests to although they are
    /// not public: a LAN of nodes. Public addresses are always allowed.
    pub fetch_allow: Vec<http_server::Network>,
    /// Rate limits.
    pub limits: Limits,
    /// Re-verification of held content (`[scrub]`: interval, rate, stat checks).
    pub scrub: crate::node::ScrubConfig,
    /// The HTTP server and the gateway: exports, page cache, timeouts, connection cap.
    pub gateway: GatewayConfig,
    /// Who may see the operator's status page (`[status]`).
    pub status: StatusConfig,
    /// Accounts for a group-hosted gateway (`[accounts]`: mode, mail, secrets key); mode
    /// `off` by default. See docs/accounts.md.
    pub accounts: accounts::AccountsConfig,
}

/// Rate limits, disk caps, and what the node takes from strangers. Caps per follow are kept
/// with each follow (`swarmfeed follow --max-bytes`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Download rate, bytes per second (0: no limit).
    pub download_rate: u64,
    /// Upload rate, bytes per second (0: no limit).
    pub upload_rate: u64,
    /// Most bytes of followed content the node holds, over every follow: a number or a
    /// size such as `"500GiB"` (none: no cap). Content published here, seeded from where it
    /// lies, does not count.
    #[serde(deserialize_with = "optional_size")]
    pub max_bytes: Option<u64>,
    /// Most files of followed content the node holds, over every follow (none: no cap).
    pub max_files: Option<u64>,
    /// Most torrent files (published and downloaded) the engine keeps open at once; files
    /// are opened when read or written, the least recently used closed (none: 512, or a
    /// quarter of the process's open-file limit if lower).
    pub max_open_files: Option<u64>,
    /// Follower registrations (`POST /api/v1/followers`) kept per feed.
    pub followers_per_feed: u32,
    /// Follower registrations kept over every feed.
    pub followers_total: u32,
    /// Follower registrations one client address may make per minute.
    pub registrations_per_minute: u32,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            data_dir: PathBuf::from("swarmfeed-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            bind_ip: Ipv4Addr::UNSPECIFIED,
            bt_port: 6881,
            dht_port: 6882,
            dht_bootstrap: PUBLIC_BOOTSTRAP.iter().map(|s| s.to_string()).collect(),
            encryption: engine::Encryption::default(),
            download_dir: None,
            archive: false,
            poll_interval_secs: 300,
            republish_interval_secs: 1800,
            push: true,
            allow_private_fetch: false,
            fetch_allow: Vec::new(),
            limits: Limits::default(),
            scrub: crate::node::ScrubConfig::default(),
            gateway: GatewayConfig::default(),
            status: StatusConfig::default(),
            accounts: accounts::AccountsConfig::default(),
        }
    }
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

impl NodeConfig {
    /// Reads a TOML file; fields it leaves out keep their defaults.
    pub fn from_file(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    pub fn download_dir(&self) -> PathBuf {
        self.download_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("downloads"))
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs.max(1))
    }

    pub fn republish_interval(&self) -> Duration {
        Duration::from_secs(self.republish_interval_secs.max(1))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            download_rate: 0,
            upload_rate: 0,
            max_bytes: None,
            max_files: None,
            max_open_files: None,
            followers_per_feed: 64,
            followers_total: 4096,
            registrations_per_minute: 20,
        }
    }
}

use feeds::size::parse_size;

/// A TOML size: a number of bytes or a string such as `"10GiB"`.
fn optional_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(d)? {
        None => Ok(None),
        Some(Size::Bytes(n)) => Ok(Some(n)),
        Some(Size::Text(text)) => parse_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults_and_unknown_fields_are_refused() {
        assert_eq!(
            toml::from_str::<NodeConfig>("").unwrap(),
            NodeConfig::default()
        );
        let some: NodeConfig = toml::from_str("bt_port = 0\n[limits]\nupload_rate = 10\n").unwrap();
        assert_eq!(some.bt_port, 0);
        assert_eq!(some.limits.upload_rate, 10);
        assert!(toml::from_str::<NodeConfig>("bt_prot = 0").is_err());
        let caps: NodeConfig =
            toml::from_str("[limits]\nmax_bytes = \"2GiB\"\nmax_files = 10\n").unwrap();
        assert_eq!(caps.limits.max_bytes, Some(2 << 30));
        assert_eq!(caps.limits.max_files, Some(10));
        let plain: NodeConfig = toml::from_str("[limits]\nmax_bytes = 1000\n").unwrap();
        assert_eq!(plain.limits.max_bytes, Some(1000));
        assert!(toml::from_str::<NodeConfig>("[limits]\nmax_bytes = \"2 parsecs\"").is_err());
        assert_eq!(parse_size("3TiB"), Ok(3 << 40));
        let gateway: NodeConfig =
            toml::from_str("[gateway]\nexport_items = 7\nheader_timeout_secs = 2\n").unwrap();
        assert_eq!(gateway.gateway.export_items, 7);
        assert_eq!(gateway.gateway.header_timeout_secs, 2);
        assert_eq!(gateway.gateway.max_connections, 2048);
        assert!(toml::from_str::<NodeConfig>("[gateway]\nexport_item = 7").is_err());
        let lan: NodeConfig =
            toml::from_str("fetch_allow = [\"10.0.0.0/8\", \"fd00::/8\"]\n").unwrap();
        assert_eq!(lan.fetch_allow.len(), 2);
        assert!(lan.fetch_allow[0].contains("10.1.2.3".parse().unwrap()));
        let typo = toml::from_str::<NodeConfig>("fetch_allow = [\"10.0.0.1/8\"]").unwrap_err();
        assert!(typo.to_string().contains("past its /8 prefix"), "{typo}");
        let forced: NodeConfig = toml::from_str("encryption = \"forced\"\n").unwrap();
        assert_eq!(forced.encryption, engine::Encryption::Forced);
        assert!(toml::from_str::<NodeConfig>("encryption = \"maybe\"").is_err());
        let group: NodeConfig = toml::from_str("[accounts]\nmode = \"invite\"\n").unwrap();
        assert_eq!(group.accounts.mode, accounts::Mode::Invite);
        assert_eq!(NodeConfig::default().accounts.mode, accounts::Mode::Off);
        assert!(toml::from_str::<NodeConfig>("[accounts]\nmode = \"anyone\"").is_err());
    }
}
