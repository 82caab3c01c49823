//! How the BitTorrent engine is set up.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Settings of an [`Engine`](super::Engine). `Default` works out of the box (state and
/// downloads under `swarmfeed-data/`, BitTorrent on port 6881 of every interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The node's data directory; the engine keeps its state in `data_dir/engine/`.
    pub data_dir: PathBuf,
    /// Where downloads go when no directory is given.
    pub download_dir: PathBuf,
    /// BitTorrent (TCP) listener; port 0 picks any free port (see [`Engine::listen_addr`]).
    ///
    /// [`Engine::listen_addr`]: super::Engine::listen_addr
    pub listen: SocketAddr,
    /// Also accept and make uTP connections on the listen port (stock clients such as
    /// libtorrent try uTP first and do not always fall back to TCP).
    pub utp: bool,
    /// Port announced to trackers; `None` announces the listening port (see
    /// `docs/engine-gaps.md`: librqbit announces nothing useful on loopback otherwise).
    pub announce_port: Option<u16>,
    /// Tracker URLs added to every torrent (e.g. the node's own tracker endpoint).
    pub trackers: Vec<String>,
    /// How often a downloading torrent asks the engine's loopback tracker for peers given to
    /// [`Engine::add_peers`](super::Engine::add_peers).
    pub peer_poll_interval: Duration,
    /// Poll trackers at this interval instead of the interval they ask for.
    pub tracker_interval: Option<Duration>,
    /// Most peers connected per torrent; `None` is librqbit's default.
    pub peer_limit: Option<usize>,
    /// Upload limit for the whole engine, in bytes per second.
    pub upload_limit_bps: Option<u32>,
    /// Download limit for the whole engine, in bytes per second.
    pub download_limit_bps: Option<u32>,
    /// How many torrents check their data at the same time (at start and when added).
    pub concurrent_checks: usize,
    /// Threads for blocking disk work; streams, checks and adds share them.
    pub blocking_threads: usize,
    /// Most torrent files kept open at once, over every torrent (files are opened when
    /// read or written and the least recently used closed); `None`:
    /// [`DEFAULT_MAX_OPEN_FILES`](super::DEFAULT_MAX_OPEN_FILES), or a quarter of the
    /// process's open-file limit if that is lower.
    pub max_open_files: Option<usize>,
    /// Message Stream Encryption (MSE/PE) of BitTorrent connections.
    pub encryption: Encryption,
}

/// Whether BitTorrent connections use Message Stream Encryption (MSE/PE, the "protocol
/// encryption" of libtorrent, qBittorrent, Transmission). It hides the protocol from
/// traffic shaping; it is not confidentiality (its key exchange is unauthenticated and RC4
/// is broken): private groups encrypt their content with age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    /// Plain BitTorrent only: peers that require encryption cannot connect.
    Disabled,
    /// Accept plain and encrypted connections; outgoing ones try plain first, then
    /// encrypted (see `docs/engine-gaps.md` for why that order).
    #[default]
    Enabled,
    /// Encrypted connections (RC4 stream) only, both ways.
    Forced,
}

impl std::str::FromStr for Encryption {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disabled" => Ok(Encryption::Disabled),
            "enabled" => Ok(Encryption::Enabled),
            "forced" => Ok(Encryption::Forced),
            other => Err(format!(
                "{other:?} is not an encryption mode (disabled, enabled or forced)"
            )),
        }
    }
}

impl From<Encryption> for librqbit::EncryptionPolicy {
    fn from(e: Encryption) -> Self {
        match e {
            Encryption::Disabled => librqbit::EncryptionPolicy::Disabled,
            Encryption::Enabled => librqbit::EncryptionPolicy::Enabled,
            Encryption::Forced => librqbit::EncryptionPolicy::Forced,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        let data_dir = PathBuf::from("swarmfeed-data");
        EngineConfig {
            download_dir: data_dir.join("downloads"),
            data_dir,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 6881)),
            utp: true,
            announce_port: None,
            trackers: Vec::new(),
            peer_poll_interval: Duration::from_secs(5),
            tracker_interval: None,
            peer_limit: None,
            upload_limit_bps: None,
            download_limit_bps: None,
            concurrent_checks: 8,
            blocking_threads: 16,
            max_open_files: None,
            encryption: Encryption::default(),
        }
    }
}

impl EngineConfig {
    /// A config for one data directory, downloads in `data_dir/downloads`, the other fields
    /// at their defaults.
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineConfig {
        let data_dir = data_dir.into();
        EngineConfig {
            download_dir: data_dir.join("downloads"),
            data_dir,
            ..EngineConfig::default()
        }
    }

    /// Listens on `127.0.0.1`, any free port: what tests want.
    pub fn loopback(mut self) -> EngineConfig {
        self.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        self
    }

    /// Where librqbit's own state (session, fastresume bitfields, .torrent copies) lives.
    pub fn state_dir(&self) -> PathBuf {
        self.data_dir.join("engine")
    }
}
