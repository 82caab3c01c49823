//! Turning files into torrents, and the publish flow.
//!
//! - [`torrent`]: a file or directory → deterministic BEP 3 v1 metainfo, SHA-1 pieces and a
//!   BLAKE3 per file in one parallel read pass with bounded memory.
//! - [`publish`], [`feed_writer`], [`restore`]: appending signed entries to feeds in the
//!   data directory (crate `data_dir`, which also holds the keystore).
//! - [`profile`]: the identity's public profile, signed as an extension of its record.

pub mod error;
pub mod feed_writer;
pub mod profile;
pub mod publish;
pub mod restore;
pub mod torrent;

pub use error::{Error, Result};
pub use publish::{PublishRequest, Published, publish, retract};
pub use torrent::{BuiltTorrent, TorrentOptions, create_torrent};
