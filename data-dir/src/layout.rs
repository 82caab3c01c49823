//! The data directory's layout, and crash-safe file writes.
//!
//! ```text
//! DATA/keys/NAME.key                      identity keys (see crate::keystore)
//! DATA/torrents/INFOHASH.torrent          every published content torrent
//! DATA/content/INFOHASH.json              where its files lie (never copied) + their BLAKE3
//! DATA/feeds/ID/.lock                     serialises publishing as identity ID
//! DATA/feeds/ID/identity                  the signed identity record (BEP 44 item)
//! DATA/feeds/ID/FEED/log                  the feed's entries, appended
//! DATA/feeds/ID/FEED/state.json           the commit point: seq, hash, committed log length
//! DATA/feeds/ID/FEED/head                 the signed head (BEP 44 item)
//! DATA/feeds/ID/FEED/segments/K/NAME      sealed log segments, with NAME.torrent beside
//! DATA/feeds/ID/FEED/tails/INFOHASH/NAME  log tails, with NAME.torrent beside
//! DATA/node.json                          a running node's ports and URL
//! DATA/control.sock                       a running node's control API
//! DATA/node.sqlite                        the node's store
//! ```
//!
//! A running node reads the same files; a log is read only up to the length its
//! `state.json` commits, so a half-written append is never seen.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use feeds::{FeedName, IdentityKey, InfoHash};

use crate::error::{Error, Result};
use crate::keystore::Keystore;

/// The default data directory, relative to where swarmfeed runs.
pub const DEFAULT_DATA_DIR: &str = "swarmfeed-data";

/// A data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn keystore(&self) -> Keystore {
        Keystore::new(&self.root)
    }

    pub fn torrent_path(&self, infohash: &InfoHash) -> PathBuf {
        self.root
            .join("torrents")
            .join(format!("{infohash}.torrent"))
    }

    pub fn content_path(&self, infohash: &InfoHash) -> PathBuf {
        self.root.join("content").join(format!("{infohash}.json"))
    }

    pub fn identity_dir(&self, identity: &IdentityKey) -> PathBuf {
        self.root.join("feeds").join(identity.to_string())
    }

    pub fn feed_dir(&self, identity: &IdentityKey, feed: &FeedName) -> PathBuf {
        self.identity_dir(identity).join(feed.as_str())
    }

    /// `node.json`: where the node running on this data directory listens.
    pub fn node_info_path(&self) -> PathBuf {
        self.root.join("node.json")
    }

    /// The running node's control socket (never on a public listener).
    pub fn control_socket(&self) -> PathBuf {
        self.root.join("control.sock")
    }

    /// What `node.json` says, if a node wrote one (it may have stopped since).
    pub fn node_info(&self) -> Option<NodeInfo> {
        let bytes = fs::read(self.node_info_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The node's SQLite store.
    pub fn store_path(&self) -> PathBuf {
        self.root.join("node.sqlite")
    }

    /// Every identity this data directory holds feeds of (published here with a key of the
    /// keystore, a key the gateway holds for its users, or a key since destroyed), sorted.
    pub fn identities_with_feeds(&self) -> Result<Vec<IdentityKey>> {
        sorted_entries(&self.root.join("feeds"), |entry| {
            entry.file_name().to_str()?.parse().ok()
        })
    }

    /// The feeds this data directory holds for `identity`, by name.
    pub fn feeds_of(&self, identity: &IdentityKey) -> Result<Vec<FeedName>> {
        sorted_entries(&self.identity_dir(identity), |entry| {
            let feed = FeedName::new(entry.file_name().to_str()?).ok()?;
            entry.path().join("state.json").exists().then_some(feed)
        })
    }
}

/// What `pick` makes of the entries of `dir` (none if it does not exist), sorted.
fn sorted_entries<T: Ord>(dir: &Path, pick: impl Fn(&fs::DirEntry) -> Option<T>) -> Result<Vec<T>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", dir, e)),
    };
    let mut picked = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io("list", dir, e))?;
        picked.extend(pick(&entry));
    }
    picked.sort();
    Ok(picked)
}

/// Written by a running node to `node.json`: the ports it bound and its public URL.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct NodeInfo {
    pub pid: u32,
    /// The HTTP listener (gateway and node-to-node routes).
    pub http: std::net::SocketAddr,
    /// The URL others reach the HTTP listener at.
    pub public_url: String,
    /// The BitTorrent TCP port.
    pub bt_port: u16,
    /// The DHT's UDP address: what other nodes and clients bootstrap from.
    pub dht: std::net::SocketAddr,
    /// The control socket.
    pub control: PathBuf,
}

/// Wraps an I/O error with what was being done to which path.
pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Creates a directory and its parents.
pub fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| io("create directory", path, e))
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new file:
/// write a temporary file beside it, flush it to disk, rename it over, sync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&temp).map_err(|e| io("create", &temp, e))?;
        file.write_all(bytes).map_err(|e| io("write", &temp, e))?;
        file.sync_all().map_err(|e| io("sync", &temp, e))?;
        fs::rename(&temp, path).map_err(|e| io("rename into place", path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Flushes a directory's entries (new names, renames) to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync directory", dir, e))
}

/// Opens (creating) a file for appending.
pub fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| io("open", path, e))
}
