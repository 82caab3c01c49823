//! Finding a file of a held torrent: only files the store lists are ever served, matched by
//! their path inside the torrent; the path on disk is built from the store's record, never
//! from the request. Complete files are read from disk; files of a followed torrent still
//! downloading are streamed from the swarm (the engine fetches the requested range first).
//! Nothing here makes the node add a torrent it does not already hold.
//!
//! [`HeldFile::open`] is the only way the gateway opens a held file (`/files`, `/ws`, the
//! text previews of entry pages), so every reader gets the same checks.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use axum::http::StatusCode;
use feeds::InfoHash;

use super::NodeApi;
pub use engine::TorrentFileStream;
use http_server::{ApiError, ErrorCode};
use store::{Origin, StoredFile, StoredTorrent};

/// A torrent the node holds, with its files.
pub struct HeldTorrent {
    pub torrent: StoredTorrent,
    pub files: Vec<StoredFile>,
}

/// Where a file's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A complete file on disk.
    Disk(PathBuf),
    /// A followed torrent still downloading: read through the engine's stream.
    Swarm,
}

/// One file to serve.
#[derive(Clone, Debug)]
pub struct HeldFile {
    pub infohash: InfoHash,
    pub index: u32,
    /// Path inside the torrent, components joined with `/`.
    pub path: String,
    pub length: u64,
    pub blake3: Option<[u8; 32]>,
    pub source: Source,
    /// Published here (served from where it lies): checked against its recorded stamp on
    /// every request, since somebody may edit it while the node runs.
    pub published: bool,
}

/// A held file opened for reading, checked.
pub struct OpenFile {
    pub file: tokio::fs::File,
    pub modified: Option<SystemTime>,
}

impl HeldFile {
    /// Opens a complete file for reading, or `None` for one still downloading (read from
    /// the swarm). What is opened must still be the file the torrent names: a regular file
    /// of its length; and a published file (served from where it lies, where anybody may
    /// edit it, or replace it by a symlink to something else) must match the stamp recorded
    /// when it was published or last verified — compared with the opened file's own
    /// metadata, so what is read is what was checked. Else `503 content_unavailable`.
    pub async fn open(&self, api: &NodeApi) -> Result<Option<OpenFile>, ApiError> {
        let Source::Disk(path) = &self.source else {
            return Ok(None);
        };
        let unavailable = |why: String| {
            tracing::warn!(path = %path.display(), "cannot serve: {why}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ContentUnavailable,
                "the file is missing or changed on this node",
            )
        };
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let metadata = file
            .metadata()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !metadata.is_file() || metadata.len() != self.length {
            return Err(unavailable(format!(
                "{} bytes on disk, {} in the torrent",
                metadata.len(),
                self.length
            )));
        }
        if self.published {
            self.check_published_stamp(api, metadata.clone()).await?;
        }
        Ok(Some(OpenFile {
            file,
            modified: metadata.modified().ok(),
        }))
    }

    /// A published file is read only while it matches the stamp recorded when it was
    /// published or last verified: an edit made while the node runs is refused at once, not
    /// only when the scrub's next check reaches it (which then re-hashes it: a file merely
    /// touched comes back, an edited one is refused for good).
    async fn check_published_stamp(
        &self,
        api: &NodeApi,
        opened: std::fs::Metadata,
    ) -> Result<(), ApiError> {
        use publisher::publish::{ContentRecord, FileCheck};
        let record_path = api.node.data.content_path(&self.infohash);
        let wanted = self.path.clone();
        let check = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&record_path).ok()?;
            let record: ContentRecord = serde_json::from_slice(&bytes).ok()?;
            let entry = record.files.iter().find(|f| f.path.join("/") == wanted)?;
            Some(entry.check_stamp_of(&opened))
        })
        .await
        .map_err(ApiError::internal)?;
        match check {
            Some(FileCheck::Untouched) => Ok(()),
            Some(FileCheck::Suspect(why) | FileCheck::Changed(why)) => {
                tracing::warn!(infohash = %self.infohash, "not served until re-verified: {why}");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ContentUnavailable,
                    "the file changed on this node since it was last verified",
                ))
            }
            None => Err(ApiError::internal(format!(
                "no content record for published file {:?} of {}",
                self.path, self.infohash
            ))),
        }
    }
}

impl NodeApi {
    /// A torrent held here with its files, or `404 not_found` if the node does not hold it.
    /// No actor: see [`super::read`].
    pub async fn held_torrent(&self, infohash: &InfoHash) -> Result<HeldTorrent, ApiError> {
        let torrent = self
            .node
            .store
            .torrent(infohash)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("this node holds no torrent {infohash}")))?;
        let files = self
            .node
            .store
            .torrent_files(infohash)
            .await
            .map_err(ApiError::internal)?;
        Ok(HeldTorrent { torrent, files })
    }

    /// A file of a followed torrent still downloading, read through the engine as it
    /// arrives (the engine fetches the requested range first). `not_local` if the engine
    /// cannot stream it (yet).
    pub async fn open_stream(&self, file: &HeldFile) -> Result<TorrentFileStream, ApiError> {
        self.node
            .engine
            .open_stream(&file.infohash, file.index as usize)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::NotLocal,
                    format!("cannot stream torrent {} yet: {e}", file.infohash),
                )
            })
    }
}

impl HeldTorrent {
    /// A single-file torrent lists one file whose path is the torrent's name.
    pub fn single_file(&self) -> bool {
        self.files.len() == 1 && self.files[0].path == self.torrent.name
    }

    /// The file at `path` inside the torrent, or `404 not_found`.
    pub fn file(&self, path: &str) -> Result<&StoredFile, ApiError> {
        self.files.iter().find(|f| f.path == path).ok_or_else(|| {
            ApiError::not_found(format!(
                "torrent {} has no file {path:?}",
                self.torrent.infohash
            ))
        })
    }

    /// Where `file`'s bytes can be read, or why they cannot.
    pub fn locate(&self, api: &NodeApi, file: &StoredFile) -> Result<HeldFile, ApiError> {
        let infohash = self.torrent.infohash;
        if let Some(error) = &self.torrent.state.error {
            return Err(ApiError::new(
                StatusCode::GONE,
                ErrorCode::ContentUnavailable,
                format!("torrent {infohash} is not served: {error}"),
            ));
        }
        let relative = relative_path(&file.path)
            .ok_or_else(|| ApiError::internal(format!("stored path {:?} is unsafe", file.path)))?;
        let source = match &self.torrent.origin {
            Origin::Published { content_root } if self.single_file() => {
                Source::Disk(content_root.clone())
            }
            Origin::Published { content_root } => Source::Disk(content_root.join(relative)),
            Origin::Followed if self.torrent.state.complete => {
                let dir = api.node.config.download_dir().join(infohash.to_string());
                let root = dir.join(
                    relative_path(&self.torrent.name)
                        .ok_or_else(|| ApiError::internal("unsafe torrent name"))?,
                );
                if self.single_file() {
                    Source::Disk(root)
                } else {
                    Source::Disk(root.join(relative))
                }
            }
            Origin::Followed => Source::Swarm,
        };
        Ok(HeldFile {
            infohash,
            index: file.index,
            path: file.path.clone(),
            length: file.length,
            blake3: file.blake3,
            source,
            published: matches!(self.torrent.origin, Origin::Published { .. }),
        })
    }
}

/// A stored `/`-joined path as a relative path of normal components only.
fn relative_path(path: &str) -> Option<PathBuf> {
    let relative = PathBuf::from(path);
    let safe = !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    safe.then_some(relative)
}

#[cfg(test)]
mod tests {
    use super::relative_path;

    #[test]
    fn stored_paths_must_be_relative_and_normal() {
        assert!(relative_path("a/b.txt").is_some());
        assert!(relative_path("../b").is_none());
        assert!(relative_path("/b").is_none());
        assert!(relative_path("").is_none());
    }
}
