//! Turning files into torrents, the local keystore, and the publish flow.
//!
//! - [`torrent`]: a file or directory → deterministic BEP 3 v1 metainfo, SHA-1 pieces and a
//!   BLAKE3 per file in one parallel read pass with bounded memory.
//! - [`keystore`]: identity keys in the data directory (`keys/NAME.key`, mode 0600), a
//!   default identity, and passphrase-protected backups in the age format.

pub mod bounded_read;
pub mod data_dir;
pub mod error;
pub mod feed_writer;
pub mod keystore;
pub mod publish;
pub mod restore;
pub mod torrent;

pub use data_dir::DataDir;
pub use error::{Error, Result};
pub use keystore::Keystore;
pub use publish::{PublishRequest, Published, publish, retract};
pub use torrent::{BuiltTorrent, TorrentOptions, create_torrent};
