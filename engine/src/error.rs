//! What can go wrong in the engine.

use std::path::PathBuf;

use feeds::InfoHash;

/// An engine error; librqbit's own (`anyhow`) errors are kept as their full message chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start the BitTorrent engine (state in {state_dir}): {message}")]
    Start { state_dir: PathBuf, message: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a valid torrent: {0}")]
    InvalidTorrent(String),
    #[error("not a valid magnet link {link:?}: {message}")]
    InvalidMagnet { link: String, message: String },
    #[error("torrent {infohash}: its name {name:?} is not a safe file name")]
    UnsafeName { infohash: InfoHash, name: String },
    #[error("torrent {infohash} does not match the files at {path}: {reason}")]
    ContentMismatch {
        infohash: InfoHash,
        path: PathBuf,
        reason: String,
    },
    #[error("torrent {0} is not in the engine")]
    NotFound(InfoHash),
    #[error("torrent {infohash} has no file {index} (it has {count})")]
    NoSuchFile {
        infohash: InfoHash,
        index: usize,
        count: usize,
    },
    #[error("cannot {action} torrent {infohash}: {message}")]
    Torrent {
        action: &'static str,
        infohash: InfoHash,
        message: String,
    },
    #[error("cannot {action}: {message}")]
    Engine {
        action: &'static str,
        message: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps librqbit's error for an action on one torrent.
pub(crate) fn torrent_error(
    action: &'static str,
    infohash: InfoHash,
) -> impl FnOnce(anyhow::Error) -> Error {
    move |e| Error::Torrent {
        action,
        infohash,
        message: format!("{e:#}"),
    }
}

/// Wraps librqbit's error for an action on the whole engine.
pub(crate) fn engine_error(action: &'static str) -> impl FnOnce(anyhow::Error) -> Error {
    move |e| Error::Engine {
        action,
        message: format!("{e:#}"),
    }
}

/// Wraps an I/O error with what was being done to which path.
pub(crate) fn io_error(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
