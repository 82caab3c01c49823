//! Where a torrent's files lie on disk, in librqbit's terms.
//!
//! Given an explicit output folder, librqbit 9.1.0 puts a single-file torrent at
//! `folder/NAME` and each file of a multi-file torrent at `folder/PATH…`, *without* the
//! torrent's name (it adds the name only when it picks the folder itself). We always give the
//! folder, so that a torrent's content lies at one path we choose, its *content path*:
//! the file itself (single-file) or the directory holding the files (multi-file) — the same
//! path `publisher` records as a published torrent's `root`.

use std::path::{Component, Path, PathBuf};

use feeds::InfoHash;
use librqbit::dht::Id20;

use super::error::{Error, Result};

/// What the engine needs to know of a torrent before adding it.
#[derive(Debug, Clone)]
pub(crate) struct TorrentLayout {
    pub infohash: InfoHash,
    pub id20: Id20,
    pub name: String,
    pub pieces: u32,
    pub single_file: bool,
    /// Path inside the content path, and length, of each file in torrent order.
    pub files: Vec<(PathBuf, u64)>,
}

impl TorrentLayout {
    /// Reads a .torrent file's bytes with librqbit's own parser (so we agree with it).
    pub fn parse(torrent: &[u8]) -> Result<TorrentLayout> {
        let meta = librqbit::torrent_from_bytes(torrent)
            .map_err(|e| Error::InvalidTorrent(format!("{e:#}")))?;
        let id20 = meta.info_hash;
        let info = meta
            .info
            .data
            .validate()
            .map_err(|e| Error::InvalidTorrent(format!("{e:#}")))?;
        let infohash = InfoHash(id20.0);
        let name = info
            .name()
            .map(|n| n.into_owned())
            .ok_or_else(|| Error::InvalidTorrent("it has no name".into()))?;
        let single_file = info.info().files.is_none();
        let files = info
            .iter_file_details()
            .filter(|f| !f.attrs().padding)
            .map(|f| (f.filename.to_pathbuf(), f.len))
            .collect();
        Ok(TorrentLayout {
            infohash,
            id20,
            pieces: info.lengths().total_pieces(),
            name,
            single_file,
            files,
        })
    }

    /// The output folder that makes librqbit read and write the content at `content_path`.
    pub fn output_folder(&self, content_path: &Path) -> Result<PathBuf> {
        if !self.single_file {
            return Ok(content_path.to_owned());
        }
        // librqbit names the file after the torrent; it must be the file we were given.
        match (content_path.file_name(), content_path.parent()) {
            (Some(file_name), Some(parent)) if file_name == self.name.as_str() => {
                Ok(parent.to_owned())
            }
            _ => Err(self.mismatch(
                content_path,
                format!(
                    "a single-file torrent is seeded from a file named {:?}",
                    self.name
                ),
            )),
        }
    }

    /// Where to download it inside `dir`: `dir/NAME`, as other clients do.
    pub fn content_path_in(&self, dir: &Path) -> Result<PathBuf> {
        let mut components = Path::new(&self.name).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) => Ok(dir.join(&self.name)),
            _ => Err(Error::UnsafeName {
                infohash: self.infohash,
                name: self.name.clone(),
            }),
        }
    }

    /// Checks that every file is at `content_path` with its length: a cheap guard before
    /// librqbit opens the files read-write and sets their lengths (it would truncate or
    /// extend a file that changed since it was published).
    pub fn check_files(&self, content_path: &Path) -> Result<()> {
        for (relative, length) in &self.files {
            let path = if self.single_file {
                content_path.to_owned()
            } else {
                content_path.join(relative)
            };
            let metadata = std::fs::metadata(&path)
                .map_err(|e| self.mismatch(&path, format!("cannot read its metadata: {e}")))?;
            if !metadata.is_file() {
                return Err(self.mismatch(&path, "not a regular file".into()));
            }
            if metadata.len() != *length {
                return Err(self.mismatch(
                    &path,
                    format!("{} bytes on disk, {length} in the torrent", metadata.len()),
                ));
            }
        }
        Ok(())
    }

    fn mismatch(&self, path: &Path, reason: String) -> Error {
        Error::ContentMismatch {
            infohash: self.infohash,
            path: path.to_owned(),
            reason,
        }
    }
}
