//! Torrent metainfo (BEP 3): the info dictionary, v1 infohashes, .torrent files.
//!
//! Decoding is strict so that an infohash always names exactly what a decoded [`Info`]
//! holds: the info dictionary must be canonical bencode with only the keys BEP 3 defines
//! (`files` or `length`, `name`, `piece length`, `pieces`), so re-encoding it yields the
//! exact bytes that were hashed. The rest of a .torrent (trackers, webseeds, comments) is
//! read leniently. Encoding is deterministic: same files and piece length, same bytes.
//!
//! [`Info`] (the info dictionary, `info.rs`) and [`Metainfo`] (the whole .torrent, `torrent.rs`)
//! share the limits and the strict readers here.

use std::fmt;
use std::str::FromStr;

use bencode::Value;

use crate::bencode;
use crate::error::{Error, Result};

mod info;
#[cfg(test)]
mod tests;
mod torrent;

pub use info::{FileLayout, Info, TorrentFile};
pub use torrent::Metainfo;

/// Smallest piece length accepted (and chosen by [`auto_piece_length`]): 16 KiB.
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length accepted when decoding: 256 MiB.
pub const MAX_PIECE_LENGTH: u64 = 256 << 20;
/// Largest piece length [`auto_piece_length`] chooses: 16 MiB.
pub const MAX_AUTO_PIECE_LENGTH: u64 = 16 << 20;
/// Most pieces in one torrent (20 MiB of piece hashes).
pub const MAX_PIECES: usize = 1 << 20;
/// Most files in one torrent.
pub const MAX_FILES: usize = 1_000_000;
/// Largest .torrent file (or info dictionary) decoded: 64 MiB.
pub const MAX_METAINFO_BYTES: usize = 64 << 20;
/// [`auto_piece_length`] aims at no more than this many pieces.
const TARGET_PIECES: u64 = 2000;

/// The piece length swarmfeed uses for `total` bytes of content.
///
/// Rule: the smallest power of two from 16 KiB up to 16 MiB that cuts `total` into at most
/// 2000 pieces. Between 32 MiB and 32 GiB of content that gives 1001 to 2000 pieces; below,
/// 16 KiB pieces (fewer of them); above, 16 MiB pieces (more of them).
pub fn auto_piece_length(total: u64) -> u64 {
    let mut piece_length = MIN_PIECE_LENGTH;
    while piece_length < MAX_AUTO_PIECE_LENGTH && total.div_ceil(piece_length) > TARGET_PIECES {
        piece_length *= 2;
    }
    piece_length
}

/// A BitTorrent v1 infohash: SHA-1 of the bencoded info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    /// The infohash of exact info-dictionary bytes.
    pub fn of_info_bytes(info: &[u8]) -> InfoHash {
        use sha1::Digest;
        InfoHash(sha1::Sha1::digest(info).into())
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// 40 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({self})")
    }
}

impl FromStr for InfoHash {
    type Err = Error;

    /// Parses 40 hex digits (either case).
    fn from_str(s: &str) -> Result<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 40 {
            return Err(Error::BadMetainfo("an infohash is 40 hex digits"));
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]);
            let lo = hex_digit(pair[1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
                _ => return Err(Error::BadMetainfo("an infohash is 40 hex digits")),
            }
        }
        Ok(InfoHash(out))
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn bad(field: impl Into<String>, reason: &'static str) -> Error {
    Error::BadTorrentField {
        field: field.into(),
        reason,
    }
}

fn check_size(bytes: &[u8], what: &'static str) -> Result<()> {
    if bytes.len() > MAX_METAINFO_BYTES {
        return Err(Error::TooLarge {
            what,
            size: bytes.len(),
            max: MAX_METAINFO_BYTES,
        });
    }
    Ok(())
}

fn into_uint(value: Value, field: &str) -> Result<u64> {
    match value {
        Value::Int(n) => u64::try_from(n).map_err(|_| bad(field, "is negative")),
        _ => Err(bad(field, "is not an integer")),
    }
}

fn into_string(value: Value, field: &str) -> Result<String> {
    match value {
        Value::Bytes(b) => String::from_utf8(b).map_err(|_| bad(field, "is not UTF-8")),
        _ => Err(bad(field, "is not a string")),
    }
}

fn into_list(value: Value, field: &str) -> Result<Vec<Value>> {
    match value {
        Value::List(items) => Ok(items),
        _ => Err(bad(field, "is not a list")),
    }
}
