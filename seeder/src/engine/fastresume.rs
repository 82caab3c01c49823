//! Seeding without a second hash pass: fastresume bitfields written in librqbit's format.
//!
//! librqbit 9.1.0 checks a torrent's data on every add unless its session persistence holds
//! a piece bitfield for it (`fastresume`). With JSON persistence that bitfield is the file
//! `STATE/{infohash}.bitv`: one bit per piece, most significant bit first, the raw bytes of a
//! `bitvec` `BitBox<u8, Msb0>`, exactly `ceil(pieces / 8)` bytes long (anything else is
//! ignored and the data fully checked). Its loader takes the infohash straight from the add,
//! so a bitfield written here before the add is found (`JsonSessionPersistenceStore::load`
//! with `TorrentIdOrHash::Hash`). librqbit then spot-checks the claim (at least one piece of
//! each file and a few random ones, `validate_fastresume`) and falls back to a full check
//! when a spot-check fails: a wrong claim costs a re-hash, never wrong bytes served.
//!
//! We write one for content our publisher has just hashed, so publishing reads the data
//! once; librqbit keeps it up to date afterwards, so restarts never re-hash either.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{Result, io_error};

/// The bitfield file librqbit's JSON persistence reads for a torrent (`{info_hash:?}.bitv`:
/// 40 lowercase hex digits).
pub(crate) fn bitfield_path(state_dir: &Path, infohash_hex: &str) -> PathBuf {
    state_dir.join(format!("{infohash_hex}.bitv"))
}

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

/// Records that every piece of a torrent is on disk, so that adding it does not re-hash.
///
/// Written to a temporary file, flushed, then renamed: a crash leaves no half bitfield (a
/// short one would only cost a full check, but a torn one could claim pieces we lack).
pub(crate) fn write_complete(state_dir: &Path, infohash_hex: &str, pieces: u32) -> Result<()> {
    let path = bitfield_path(state_dir, infohash_hex);
    let temp = state_dir.join(format!(".{infohash_hex}.bitv.tmp"));
    let mut file = File::create(&temp).map_err(io_error("create", &temp))?;
    file.write_all(&complete_bitfield(pieces))
        .map_err(io_error("write", &temp))?;
    file.sync_all().map_err(io_error("sync", &temp))?;
    fs::rename(&temp, &path).map_err(io_error("rename into place", &path))
}

/// Removes torrents from the saved session before an engine starts on `state_dir`, so that
/// librqbit never reopens their files: it opens seeded files read-write and resizes one
/// whose length changed, which must never happen to a publisher's own files.
pub fn forget_saved(state_dir: &Path, infohashes: &[String]) -> Result<()> {
    let session = state_dir.join("session.json");
    let Ok(bytes) = fs::read(&session) else {
        return Ok(());
    };
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Ok(());
    };
    if let Some(torrents) = json.get_mut("torrents").and_then(|t| t.as_object_mut()) {
        torrents.retain(|_, t| {
            let hash = t
                .get("info_hash")
                .and_then(|h| h.as_str())
                .unwrap_or_default();
            !infohashes.iter().any(|h| h == hash)
        });
    }
    for hash in infohashes {
        let _ = fs::remove_file(bitfield_path(state_dir, hash));
        let _ = fs::remove_file(state_dir.join(format!("{hash}.torrent")));
        super::read_only::forget_marker(state_dir, hash);
    }
    let temp = state_dir.join(".session.json.tmp");
    let text = serde_json::to_vec(&json).unwrap_or(bytes);
    fs::write(&temp, text).map_err(io_error("write", &temp))?;
    fs::rename(&temp, &session).map_err(io_error("rename into place", &session))
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
