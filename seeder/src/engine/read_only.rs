//! Published content is opened read-only.
//!
//! librqbit's own storage opens every file of a torrent it seeds read-write and `set_len`s
//! it (`FilesystemStorage::init` with `overwrite`, `ensure_file_length`): for a publisher's
//! own files that moves their modification time on every start (so an edit at the same
//! length could not be told apart) and, after a failed spot-check, would "repair" them with
//! bytes from peers. `StorageFactory` is public, so the engine gives the session a factory
//! of its own: torrents marked as published here (`STATE/{infohash}.read-only`, holding the
//! output folder) get [`ReadOnlyStorage`] — files opened with `File::open`, lengths checked
//! but never set, writes refused — and every other torrent librqbit's filesystem storage.
//!
//! The marker lives beside librqbit's session, so a restored session finds it before any
//! file is opened. The factory answers `is_type_id` for `FilesystemStorageFactory` as a
//! wrapping middleware does: the files lie where librqbit's JSON persistence expects, and
//! it refuses to persist torrents of any other storage.

use std::any::TypeId;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use librqbit::dht::Id20;
use librqbit::storage::filesystem::FilesystemStorageFactory;
use librqbit::storage::{BoxStorageFactory, StorageFactory, StorageFactoryExt, TorrentStorage};
use librqbit::{ManagedTorrentShared, TorrentMetadata};

use super::error::{Result, io_error};

const MARKER: &str = "read-only";

/// Output folders of the torrents seeded read-only, by infohash; shared with the session.
#[derive(Clone, Default)]
pub(crate) struct ReadOnlySet {
    folders: Arc<RwLock<HashMap<Id20, PathBuf>>>,
}

impl ReadOnlySet {
    /// Loads every marker of `state_dir` (before the session restores its torrents).
    pub fn load(state_dir: &Path) -> Result<ReadOnlySet> {
        let mut folders = HashMap::new();
        let entries = std::fs::read_dir(state_dir).map_err(io_error("list", state_dir))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_marker = path.extension().is_some_and(|e| e == MARKER);
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<Id20>().ok());
            if let (true, Some(id)) = (is_marker, id)
                && let Ok(folder) = std::fs::read_to_string(&path)
            {
                folders.insert(id, PathBuf::from(folder));
            }
        }
        Ok(ReadOnlySet {
            folders: Arc::new(RwLock::new(folders)),
        })
    }

    /// Marks a torrent read-only before it is added (crash-safe: written, synced, renamed).
    pub fn mark(&self, state_dir: &Path, id: Id20, output_folder: &Path) -> Result<()> {
        let path = marker_path(state_dir, &id);
        let text = output_folder.to_str().ok_or_else(|| super::Error::Engine {
            action: "mark published content read-only",
            message: format!("{} is not UTF-8", output_folder.display()),
        })?;
        publisher::data_dir::write_atomic(&path, text.as_bytes()).map_err(|e| {
            super::Error::Engine {
                action: "mark published content read-only",
                message: e.to_string(),
            }
        })?;
        if let Ok(mut folders) = self.folders.write() {
            folders.insert(id, output_folder.to_owned());
        }
        Ok(())
    }

    /// Whether a torrent is seeded read-only.
    pub fn contains(&self, id: &Id20) -> bool {
        self.folders.read().is_ok_and(|f| f.contains_key(id))
    }

    /// Forgets a removed torrent.
    pub fn forget(&self, state_dir: &Path, id: &Id20) {
        forget_marker(state_dir, &format!("{id:?}"));
        if let Ok(mut folders) = self.folders.write() {
            folders.remove(id);
        }
    }

    fn folder(&self, id: &Id20) -> Option<PathBuf> {
        self.folders.read().ok()?.get(id).cloned()
    }

    /// The session's storage factory.
    pub fn factory(&self) -> BoxStorageFactory {
        PublishedStorageFactory { set: self.clone() }.boxed()
    }
}

/// Removes a torrent's read-only marker (the torrent leaves the saved session).
pub(crate) fn forget_marker(state_dir: &Path, infohash_hex: &str) {
    let _ = std::fs::remove_file(state_dir.join(format!("{infohash_hex}.{MARKER}")));
}

fn marker_path(state_dir: &Path, id: &Id20) -> PathBuf {
    state_dir.join(format!("{id:?}.{MARKER}"))
}

#[derive(Clone)]
struct PublishedStorageFactory {
    set: ReadOnlySet,
}

impl StorageFactory for PublishedStorageFactory {
    type Storage = Box<dyn TorrentStorage>;

    fn create(
        &self,
        shared: &ManagedTorrentShared,
        metadata: &TorrentMetadata,
    ) -> anyhow::Result<Self::Storage> {
        match self.set.folder(&shared.info_hash) {
            Some(folder) => Ok(Box::new(ReadOnlyStorage {
                folder,
                files: Vec::new(),
            })),
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

/// A published torrent's files, opened for reading only.
struct ReadOnlyStorage {
    folder: PathBuf,
    /// `None` for padding files (never read: librqbit knows they are zeros).
    files: Vec<Option<(PathBuf, Arc<File>)>>,
}

impl ReadOnlyStorage {
    fn file(&self, file_id: usize) -> anyhow::Result<&(PathBuf, Arc<File>)> {
        self.files
            .get(file_id)
            .and_then(Option::as_ref)
            .context("no such file")
    }
}

impl TorrentStorage for ReadOnlyStorage {
    fn init(
        &mut self,
        _shared: &ManagedTorrentShared,
        metadata: &TorrentMetadata,
    ) -> anyhow::Result<()> {
        let mut files = Vec::with_capacity(metadata.file_infos.len());
        for info in metadata.file_infos.iter() {
            if info.attrs.padding {
                files.push(None);
                continue;
            }
            let path = self.folder.join(&info.relative_filename);
            let file = File::open(&path)
                .with_context(|| format!("cannot open published file {path:?} for reading"))?;
            files.push(Some((path, Arc::new(file))));
        }
        self.files = files;
        Ok(())
    }

    fn pread_exact(&self, file_id: usize, offset: u64, buf: &mut [u8]) -> anyhow::Result<()> {
        let (path, file) = self.file(file_id)?;
        file.read_exact_at(buf, offset)
            .with_context(|| format!("cannot read {path:?} at {offset}"))
    }

    fn pwrite_all(&self, file_id: usize, _offset: u64, _buf: &[u8]) -> anyhow::Result<()> {
        let (path, _) = self.file(file_id)?;
        bail!("published file {path:?} is read-only: the engine never writes into it")
    }

    fn remove_file(&self, _file_id: usize, filename: &Path) -> anyhow::Result<()> {
        bail!("published file {filename:?} is the publisher's: the engine never deletes it")
    }

    fn remove_directory_if_empty(&self, _path: &Path) -> anyhow::Result<()> {
        Ok(())
    }

    fn ensure_file_length(&self, file_id: usize, length: u64) -> anyhow::Result<()> {
        let (path, file) = self.file(file_id)?;
        let actual = file.metadata()?.len();
        if actual != length {
            bail!("published file {path:?} has {actual} bytes, the torrent {length}: not resized");
        }
        Ok(())
    }

    fn take(&self) -> anyhow::Result<Box<dyn TorrentStorage>> {
        Ok(Box::new(ReadOnlyStorage {
            folder: self.folder.clone(),
            files: self.files.clone(),
        }))
    }
}
