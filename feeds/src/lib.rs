//! The pure core of swarmfeed: identity keys, strict bencode, signed entries, feed logs and
//! their verification, feed heads and identity records (BEP 44 items), delegation
//! certificates, and torrent metainfo.
//!
//! No files, no sockets, no clock, no global randomness: time and key material are
//! parameters. The byte formats are specified in `docs/feed-format.md`.

pub mod bencode;
pub mod error;
pub mod feed_name;
pub mod identity;
pub mod metainfo;
pub mod record;

pub use error::{Error, Result};
pub use feed_name::FeedName;
pub use identity::{IdentityKey, Keypair};
pub use metainfo::InfoHash;
