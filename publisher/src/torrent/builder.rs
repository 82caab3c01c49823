//! From a listed tree and options to BEP 3 v1 metainfo (plus a BLAKE3 per file).

use std::path::{Path, PathBuf};

use feeds::metainfo::{FileLayout, Info, Metainfo, TorrentFile};

use super::hash::{Hashes, hash_files};
use super::walk::SourceTree;
use crate::error::{Error, Result};

/// Smallest piece length accepted: BEP 3 clients request 16 KiB blocks.
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length accepted: bigger pieces help no one and cost memory.
pub const MAX_PIECE_LENGTH: u64 = 64 << 20;

/// How to build a torrent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TorrentOptions {
    /// Piece length in bytes (a power of two, 16 KiB to 64 MiB); `None` picks one by size.
    pub piece_length: Option<u64>,
    /// BEP 19 `url-list` entries.
    pub webseeds: Vec<String>,
    /// Tracker announce URLs (the first becomes `announce`).
    pub trackers: Vec<String>,
    /// Also compute a BLAKE3 per file, in the same read pass (what `publish` needs).
    pub blake3: bool,
}

/// One file of a built torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedFile {
    /// Path inside the torrent.
    pub path: Vec<String>,
    /// Where it lies on disk.
    pub fs_path: PathBuf,
    pub length: u64,
    /// BLAKE3 of its bytes, when [`TorrentOptions::blake3`] was set.
    pub blake3: Option<[u8; 32]>,
}

/// A built torrent and what was learnt on the way.
#[derive(Debug, Clone)]
pub struct BuiltTorrent {
    pub metainfo: Metainfo,
    /// The files in torrent order.
    pub files: Vec<HashedFile>,
    /// The shared path, resolved: where the content is seeded from.
    pub root: PathBuf,
    /// Symlinks inside the root that were skipped (see [`super::walk`]).
    pub skipped_symlinks: Vec<PathBuf>,
}

/// Checks a piece length given by a user.
pub fn check_piece_length(length: u64) -> Result<u64> {
    if length.is_power_of_two() && (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&length) {
        Ok(length)
    } else {
        Err(Error::BadPieceLength(length))
    }
}

/// Lists `path` and builds its torrent: the one call behind `torrent create` and `publish`.
pub fn create_torrent(
    path: &Path,
    options: &TorrentOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BuiltTorrent> {
    build_torrent(&SourceTree::scan(path)?, options, progress)
}

/// Hashes a listed tree (one read pass) and builds its metainfo.
///
/// `progress` is called with counts of bytes just hashed; they add up to
/// [`SourceTree::total_length`].
pub fn build_torrent(
    tree: &SourceTree,
    options: &TorrentOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BuiltTorrent> {
    let total = tree.total_length();
    if total == 0 {
        return Err(Error::NoContent(tree.root().to_owned()));
    }
    let piece_length = match options.piece_length {
        Some(given) => check_piece_length(given)?,
        None => feeds::metainfo::auto_piece_length(total),
    };
    let Hashes { pieces, blake3 } =
        hash_files(tree.files(), piece_length, options.blake3, progress)?;
    let files: Vec<HashedFile> = tree
        .files()
        .iter()
        .enumerate()
        .map(|(i, f)| HashedFile {
            path: f.path.clone(),
            fs_path: f.fs_path.clone(),
            length: f.length,
            blake3: blake3.as_ref().map(|hashes| *hashes[i].as_bytes()),
        })
        .collect();
    let layout = if tree.is_single_file() {
        FileLayout::Single { length: total }
    } else {
        FileLayout::Multi {
            files: files
                .iter()
                .map(|f| TorrentFile {
                    path: f.path.clone(),
                    length: f.length,
                })
                .collect(),
        }
    };
    let info = Info {
        name: tree.name().to_owned(),
        piece_length,
        pieces,
        files: layout,
    };
    let metainfo = Metainfo {
        info,
        trackers: options.trackers.clone(),
        webseeds: options.webseeds.clone(),
    };
    metainfo.info.validate()?;
    Ok(BuiltTorrent {
        metainfo,
        files,
        root: tree.root().to_owned(),
        skipped_symlinks: tree.skipped_symlinks().to_vec(),
    })
}
