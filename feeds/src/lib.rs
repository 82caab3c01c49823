//! The pure core of swarmfeed: identity keys, strict bencode, signed entries, feed logs and
//! their verification, feed heads and identity records (BEP 44 items), delegation
//! certificates, and torrent metainfo.
//!
//! No files, no sockets, no clock, no global randomness: time and key material are
//! parameters. The byte formats are specified in `docs/feed-format.md`.

pub mod bencode;
pub mod delegation;
pub mod entry;
pub mod error;
pub mod extension;
pub mod feed_name;
pub mod head;
pub mod identity;
pub mod layout;
pub mod list;
pub mod log;
pub mod magnet;
pub mod metainfo;
pub mod record;
pub mod signatures;
pub mod size;
pub mod torrent_path;

pub use entry::{ContentRef, Entry, EntryHash, FileRef, Kind, Membership, SignedEntry};
pub use error::{Error, Result};
pub use feed_name::FeedName;
pub use head::{FeedHead, IdentityRecord, MutableItem, SignedHead, SignedIdentityRecord};
pub use identity::{IdentityKey, Keypair};
pub use log::{
    Checkpoint, ForkProof, LogState, VerifiedLog, decode_and_verify_log,
    decode_and_verify_log_with, verify_log, verify_log_with,
};
pub use magnet::Magnet;
pub use metainfo::{FileLayout, Info, InfoHash, Metainfo, TorrentFile};
