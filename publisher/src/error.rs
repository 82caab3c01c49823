//! The publisher's one error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while turning files into torrents or managing keys.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed on a named path.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The path given to the torrent builder does not exist.
    #[error("{} does not exist", .0.display())]
    NotFound(PathBuf),
    /// A symlink in the tree points outside the root being shared.
    #[error("symlink {} points outside {} (to {}); refusing to read outside the shared path", link.display(), root.display(), target.display())]
    SymlinkEscapesRoot {
        link: PathBuf,
        root: PathBuf,
        target: PathBuf,
    },
    /// A symlink in the tree points nowhere.
    #[error("symlink {} is dangling; remove it or share a path without it", .0.display())]
    DanglingSymlink(PathBuf),
    /// A FIFO, socket or device in the tree.
    #[error("{} is not a regular file or directory", .0.display())]
    NotRegularFile(PathBuf),
    /// A file name that a torrent cannot carry (not UTF-8, reserved, …). The path is shown
    /// with hidden characters written out, so the message itself cannot be disguised.
    #[error("{} cannot be named in a torrent: {reason}", crate::torrent::portable_name::visible(&path.to_string_lossy()))]
    UnsharableName { path: PathBuf, reason: String },
    /// Nothing to hash: no files, or only empty ones.
    #[error("{} holds no data (no files, or only empty ones); a torrent cannot be empty", .0.display())]
    NoContent(PathBuf),
    /// A file changed between listing and hashing, or while being read.
    #[error("{} changed while being hashed ({what}); try again once it is stable", path.display())]
    FileChanged { path: PathBuf, what: &'static str },
    /// A piece length that is not a power of two in the accepted range.
    #[error("piece size {0} is not a power of two between 16 KiB and 64 MiB")]
    BadPieceLength(u64),
    /// The piece length cuts the content into more pieces than a torrent may hold.
    #[error(
        "{total} bytes in pieces of {piece_length} make too many pieces; choose a larger --piece-size"
    )]
    TooManyPieces { total: u64, piece_length: u64 },
    /// The feeds core rejected the metainfo.
    #[error(transparent)]
    Feeds(#[from] feeds::Error),
    /// A file of the data directory is not what swarmfeed wrote there.
    #[error("{} is damaged: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// `retract` of an entry the feed does not have.
    #[error("feed {feed:?} has no entry {seq} (its last is {last})")]
    NoSuchEntry { feed: String, seq: u64, last: u64 },
    /// A `--meta` key that cannot be used.
    #[error("metadata key {key:?} {reason}")]
    BadMeta { key: String, reason: &'static str },
    /// An identity imported from a backup whose feeds were not synced from the network yet:
    /// signing now could fork them (see `crate::restore`).
    #[error(
        "identity {0} was imported from a backup and its feeds are not synced from the network yet; \
         publishing now could sign an entry the network already has (a fork of your own feed). \
         Run `swarmfeed identity sync` (it needs the DHT or a node that holds the feeds), or pass \
         --force-new-feed if this identity never published anything"
    )]
    NotSynced(String),
    /// A profile field this publisher refuses to sign (see `crate::profile`).
    #[error("profile {field} {reason}")]
    BadProfile { field: &'static str, reason: String },
    /// The data directory: its files, the keystore, a bounded read.
    #[error(transparent)]
    DataDir(#[from] data_dir::Error),
}

/// `Result` with the publisher's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
