//! Where each torrent's files lie, and how they are opened.
//!
//! librqbit's own storage opens every file of a torrent read-write when the torrent starts,
//! `set_len`s it (`FilesystemStorage::init` with `overwrite`, `ensure_file_length`) and keeps
//! it open while the torrent is in the session. For a publisher's own files that moves their
//! modification time on every start (so an edit at the same length could not be told apart)
//! and, after a failed spot-check, would "repair" them with bytes from peers; for an archive
//! it caps the torrents a node holds at the process's open-file limit. `StorageFactory` is
//! public, so the engine gives the session a factory of its own, whose storages
//! ([`OnDemandStorage`]) open files on demand under one node-wide bound ([`OpenFiles`]):
//! - torrents marked as published here (`STATE/{infohash}.read-only`, holding the output
//!   folder) are opened read-only — `File::open`, lengths checked but never set, writes
//!   and deletions refused;
//! - downloads (`STATE/{infohash}.download`, the same) are opened read-write, as librqbit
//!   would;
//! - a torrent with neither marker (saved by an engine before the markers) gets librqbit's
//!   `FilesystemStorage`; [`Placements::adopt`] marks it at start for the next one.
//!
//! librqbit gives a storage factory no way to read a torrent's output folder (its options
//! are crate-private), hence the markers. They live beside librqbit's session, so a
//! restored session finds them before any file is opened. The factory answers `is_type_id`
//! for `FilesystemStorageFactory` as a wrapping middleware does: the files lie where
//! librqbit's JSON persistence expects, and it refuses to persist torrents of any other
//! storage.

use std::any::TypeId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use librqbit::dht::Id20;
use librqbit::storage::filesystem::FilesystemStorageFactory;
use librqbit::storage::{BoxStorageFactory, StorageFactory, StorageFactoryExt, TorrentStorage};
use librqbit::{ManagedTorrentShared, TorrentMetadata};

use super::error::Result;
use super::on_demand::OnDemandStorage;
use super::open_files::OpenFiles;

/// Marker of a published torrent, seeded read-only.
const READ_ONLY: &str = "read-only";
/// Marker of a download.
const DOWNLOAD: &str = "download";

/// Where a torrent's files lie, and whether they are the publisher's (read-only).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placement {
    folder: PathBuf,
    read_only: bool,
}

/// The placement of every torrent, by infohash; shared with the session's storage factory.
#[derive(Clone, Default)]
pub(crate) struct Placements {
    torrents: Arc<RwLock<HashMap<Id20, Placement>>>,
}

impl Placements {
    /// Loads every marker of `state_dir` (before the session restores its torrents).
    pub fn load(state_dir: &Path) -> Result<Placements> {
        let mut torrents = HashMap::new();
        let entries =
            std::fs::read_dir(state_dir).map_err(super::error::io_error("list", state_dir))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let read_only = match path.extension().and_then(|e| e.to_str()) {
                Some(READ_ONLY) => true,
                Some(DOWNLOAD) => false,
                _ => continue,
            };
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<Id20>().ok());
            if let Some(id) = id
                && let Ok(folder) = std::fs::read_to_string(&path)
            {
                let placement = Placement {
                    folder: PathBuf::from(folder),
                    read_only,
                };
                // Published wins if both are there: never open the publisher's files
                // for writing.
                let entry = torrents.entry(id).or_insert_with(|| placement.clone());
                entry.read_only |= read_only;
            }
        }
        Ok(Placements {
            torrents: Arc::new(RwLock::new(torrents)),
        })
    }

    /// Marks a published torrent read-only before it is added (crash-safe: written, synced,
    /// renamed).
    pub fn mark_read_only(&self, state_dir: &Path, id: Id20, output_folder: &Path) -> Result<()> {
        self.place(state_dir, id, output_folder, true)
    }

    /// Records where a download's files go, before it is added; false if it is published
    /// content, which stays read-only whatever is asked.
    pub fn mark_download(&self, state_dir: &Path, id: Id20, output_folder: &Path) -> Result<bool> {
        if self.contains_read_only(&id) {
            return Ok(false);
        }
        self.place(state_dir, id, output_folder, false)?;
        Ok(true)
    }

    fn place(&self, state_dir: &Path, id: Id20, folder: &Path, read_only: bool) -> Result<()> {
        let action = if read_only {
            "mark published content read-only"
        } else {
            "record where a download goes"
        };
        let text = folder.to_str().ok_or_else(|| super::Error::Engine {
            action,
            message: format!("{} is not UTF-8", folder.display()),
        })?;
        let kind = if read_only { READ_ONLY } else { DOWNLOAD };
        let path = state_dir.join(format!("{id:?}.{kind}"));
        data_dir::write_atomic(&path, text.as_bytes()).map_err(|e| super::Error::Engine {
            action,
            message: e.to_string(),
        })?;
        if let Ok(mut torrents) = self.torrents.write() {
            torrents.insert(
                id,
                Placement {
                    folder: folder.to_owned(),
                    read_only,
                },
            );
        }
        Ok(())
    }

    /// Marks a torrent the session holds without a marker (saved by an older engine) as a
    /// download in `output_folder`: its files are opened on demand from the next start.
    pub fn adopt(&self, state_dir: &Path, id: Id20, output_folder: &Path) -> Result<()> {
        if self.torrents.read().is_ok_and(|t| t.contains_key(&id)) {
            return Ok(());
        }
        self.place(state_dir, id, output_folder, false)
    }

    /// Whether a torrent is seeded read-only.
    pub fn contains_read_only(&self, id: &Id20) -> bool {
        self.torrents
            .read()
            .is_ok_and(|t| t.get(id).is_some_and(|p| p.read_only))
    }

    /// Forgets a removed torrent.
    pub fn forget(&self, state_dir: &Path, id: &Id20) {
        forget_marker(state_dir, &format!("{id:?}"));
        if let Ok(mut torrents) = self.torrents.write() {
            torrents.remove(id);
        }
    }

    /// Torrents whose files lie in `dir` or below it.
    pub fn under(&self, dir: &Path) -> Vec<(Id20, PathBuf)> {
        self.torrents.read().map_or_else(
            |_| Vec::new(),
            |t| {
                t.iter()
                    .filter(|(_, p)| p.folder.starts_with(dir))
                    .map(|(id, p)| (*id, p.folder.clone()))
                    .collect()
            },
        )
    }

    fn get(&self, id: &Id20) -> Option<Placement> {
        self.torrents.read().ok()?.get(id).cloned()
    }

    /// The session's storage factory, opening files under `open_files`' bound.
    pub fn factory(&self, open_files: Arc<OpenFiles>) -> BoxStorageFactory {
        PlacedStorageFactory {
            placements: self.clone(),
            open_files,
        }
        .boxed()
    }
}

/// Removes a torrent's markers (the torrent leaves the saved session).
pub(crate) fn forget_marker(state_dir: &Path, infohash_hex: &str) {
    for kind in [READ_ONLY, DOWNLOAD] {
        let _ = std::fs::remove_file(state_dir.join(format!("{infohash_hex}.{kind}")));
    }
}

#[derive(Clone)]
struct PlacedStorageFactory {
    placements: Placements,
    open_files: Arc<OpenFiles>,
}

impl StorageFactory for PlacedStorageFactory {
    type Storage = Box<dyn TorrentStorage>;

    fn create(
        &self,
        shared: &ManagedTorrentShared,
        metadata: &TorrentMetadata,
    ) -> anyhow::Result<Self::Storage> {
        match self.placements.get(&shared.info_hash) {
            Some(placement) => Ok(Box::new(OnDemandStorage::new(
                self.open_files.clone(),
                placement.folder,
                placement.read_only,
            ))),
            None => Ok(Box::new(
                FilesystemStorageFactory::default().create(shared, metadata)?,
            )),
        }
    }

    fn is_type_id(&self, type_id: TypeId) -> bool {
        type_id == TypeId::of::<FilesystemStorageFactory>() || type_id == TypeId::of::<Self>()
    }

    fn clone_box(&self) -> BoxStorageFactory {
        self.clone().boxed()
    }
}
