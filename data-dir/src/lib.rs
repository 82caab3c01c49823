//! The data directory that publisher and node share, below both of them.
//!
//! - [`layout`]: where each file lies under `DATA/`, and crash-safe writes (temporary file,
//!   fsync, rename, directory sync).
//! - [`keystore`]: identity keys in the data directory (`keys/NAME.key`, mode 0600), a
//!   default identity, and passphrase-protected backups in the age format.
//! - [`bounded_read`]: reading a file whole (a .torrent, a backup) with a size bound.

pub mod bounded_read;
pub mod error;
pub mod keystore;
pub mod layout;

pub use error::{Error, Result};
pub use keystore::Keystore;
pub use layout::{
    DEFAULT_DATA_DIR, DataDir, NodeInfo, create_dir, io, open_append, sync_dir, write_atomic,
};
