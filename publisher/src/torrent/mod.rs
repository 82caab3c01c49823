//! Files to torrents: list a tree ([`walk`]), hash it in one parallel read pass ([`hash`];
//! BLAKE3 digests the writer of a file already computed are taken as given, [`known`]), and
//! build deterministic BEP 3 v1 metainfo ([`builder`]).
//!
//! The same tree and options always give the same bytes: file order comes from the paths,
//! never from the filesystem, and nothing else (no creation date, no "created by") is
//! written.

pub mod builder;
pub mod hash;
pub mod known;
pub mod portable_name;
pub mod walk;

#[cfg(test)]
mod tests;

pub use builder::{
    BuiltTorrent, HashedFile, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, TorrentOptions, build_torrent,
    check_piece_length, create_torrent,
};
pub use hash::{Hashes, hash_files};
pub use known::{FileStamp, KnownDigest};
pub use walk::{SourceFile, SourceTree};
