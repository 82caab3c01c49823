//! Seeding without a second hash pass: fastresume bitfields for content we already hashed.
//!
//! librqbit 9.1.0 checks a torrent's data on every add unless its session persistence holds
//! a piece bitfield for it (`fastresume`): one bit per piece, most significant bit first, the
//! raw bytes of a `bitvec` `BitBox<u8, Msb0>`, exactly `ceil(pieces / 8)` bytes long
//! (anything else is ignored and the data fully checked). The engine's persistence is ours
//! ([`super::persistence`]) and finds a bitfield by infohash, so one saved before the add is
//! used. librqbit then spot-checks the claim (at least one piece of each file and a few random
//! ones, `validate_fastresume`) and falls back to a full check when a spot-check fails: a
//! wrong claim costs a re-hash, never wrong bytes served.
//!
//! We save one for content our publisher has just hashed, so publishing reads the data once;
//! librqbit keeps it up to date afterwards, so restarts never re-hash either.

use std::path::{Path, PathBuf};

use feeds::InfoHash;

use super::error::{Error, Result, io_error};
use super::persistence;

/// A bitfield claiming all `pieces` pieces: Msb0 order, unused trailing bits clear.
pub(crate) fn complete_bitfield(pieces: u32) -> Vec<u8> {
    let pieces = pieces as usize;
    let mut bytes = vec![0xffu8; pieces / 8];
    let rest = pieces % 8;
    if rest > 0 {
        bytes.push(0xffu8 << (8 - rest));
    }
    bytes
}

/// Removes torrents (by infohash, 40 hex digits) from the saved session before an engine
/// starts on `state_dir`, so that the engine never reopens their files (a publisher's file
/// that changed while the node was down must be checked before it is seeded again).
pub async fn forget_saved(state_dir: &Path, infohashes: &[String]) -> Result<()> {
    if infohashes.is_empty() {
        return Ok(());
    }
    let (state_dir, infohashes) = (state_dir.to_owned(), infohashes.to_vec());
    tokio::task::spawn_blocking(move || forget_now(&state_dir, &infohashes))
        .await
        .map_err(|e| Error::Engine {
            action: "forget saved torrents",
            message: e.to_string(),
        })?
}

/// Torrents of the saved session on `state_dir` whose files lie in `dir` or below it, with
/// their folder (read before an engine starts, to choose what to [`forget_saved`]).
pub async fn saved_under(state_dir: &Path, dir: &Path) -> Result<Vec<(InfoHash, PathBuf)>> {
    if !state_dir.join(persistence::DB_FILE).exists() {
        return Ok(Vec::new());
    }
    let dir = std::path::absolute(dir).map_err(io_error("resolve", dir))?;
    let state_dir = state_dir.to_owned();
    let found = tokio::task::spawn_blocking(move || persistence::saved_under(&state_dir, &dir))
        .await
        .map_err(|e| Error::Engine {
            action: "list saved torrents",
            message: e.to_string(),
        })?
        .map_err(|e| Error::Engine {
            action: "list saved torrents",
            message: format!("{e:#}"),
        })?;
    Ok(found
        .into_iter()
        .map(|(hash, folder)| (InfoHash(hash), folder))
        .collect())
}

fn forget_now(state_dir: &Path, infohashes: &[String]) -> Result<()> {
    let hashes: Vec<[u8; 20]> = infohashes
        .iter()
        .filter_map(|h| persistence::parse_hex20(h))
        .collect();
    std::fs::create_dir_all(state_dir).map_err(io_error("create directory", state_dir))?;
    persistence::forget(state_dir, &hashes).map_err(|e| Error::Engine {
        action: "forget saved torrents",
        message: format!("{e:#}"),
    })?;
    for hash in infohashes {
        super::read_only::forget_marker(state_dir, hash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_bitfields_set_exactly_the_pieces_in_msb0_order() {
        assert_eq!(complete_bitfield(1), vec![0b1000_0000]);
        assert_eq!(complete_bitfield(8), vec![0xff]);
        assert_eq!(complete_bitfield(10), vec![0xff, 0b1100_0000]);
        assert_eq!(complete_bitfield(16), vec![0xff, 0xff]);
        assert_eq!(complete_bitfield(17).len(), 3);
    }
}
