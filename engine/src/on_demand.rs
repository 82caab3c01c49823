//! A torrent's files, opened when they are read or written, under the node-wide bound of
//! [`OpenFiles`].
//!
//! Two kinds, chosen per torrent by the session's storage factory (see [`read_only`]):
//! - **read-only**, for published content: files are opened with `File::open` and nothing
//!   else, lengths are checked and never set, writes and deletions are refused. A file
//!   reopened after it was closed must still be the file seen when the torrent started
//!   (device, inode, length, modification time): a file replaced or edited since is not
//!   served.
//! - **read-write**, for downloads, doing what librqbit's `FilesystemStorage` does (files
//!   and directories created when the torrent starts, lengths set, files and empty
//!   directories removed on delete) but keeping no file open between uses.
//!
//! librqbit validates file names (no `..`, no separators inside a component); the storage
//! checks again that every path stays inside the torrent's folder.
//!
//! [`read_only`]: super::read_only

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, IoSlice};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use librqbit::storage::TorrentStorage;
use librqbit::{ManagedTorrentShared, TorrentMetadata};

use super::open_files::OpenFiles;

/// One torrent's storage. `take` hands the same files to a new storage and leaves this one
/// refusing everything, as librqbit expects of a storage it replaces.
pub(crate) struct OnDemandStorage {
    files: Arc<TorrentFiles>,
    taken: AtomicBool,
}

/// What stays the same for a torrent's storage across `take`s.
struct TorrentFiles {
    open_files: Arc<OpenFiles>,
    owner: u64,
    folder: PathBuf,
    read_only: bool,
    /// Full path of each file in torrent order; `None` for padding files (never read or
    /// written: librqbit knows they are zeros). Empty until `init`.
    paths: Vec<Option<PathBuf>>,
    /// Read-only: each file as it was when the torrent started.
    stamps: Vec<Option<Stamp>>,
}

impl Drop for TorrentFiles {
    fn drop(&mut self) {
        self.open_files.close_owner(self.owner, self.paths.len());
    }
}

/// What identifies a published file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl Stamp {
    fn of(file: &File) -> std::io::Result<Stamp> {
        let m = file.metadata()?;
        Ok(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
        })
    }
}

impl OnDemandStorage {
    /// A storage for the files of one torrent in `folder`; nothing is opened before `init`.
    pub fn new(open_files: Arc<OpenFiles>, folder: PathBuf, read_only: bool) -> OnDemandStorage {
        OnDemandStorage {
            files: Arc::new(TorrentFiles {
                owner: open_files.new_owner(),
                open_files,
                folder,
                read_only,
                paths: Vec::new(),
                stamps: Vec::new(),
            }),
            taken: AtomicBool::new(false),
        }
    }

    fn files(&self) -> anyhow::Result<&TorrentFiles> {
        if self.taken.load(Ordering::Acquire) {
            bail!("this storage was replaced (the torrent was paused or restarted)");
        }
        Ok(&self.files)
    }
}

impl TorrentFiles {
    fn path(&self, file_id: usize) -> anyhow::Result<&Path> {
        self.paths
            .get(file_id)
            .and_then(Option::as_deref)
            .context("no such file")
    }

    /// The open file, opened for reading (and writing, for downloads) if it is not.
    fn for_reading(&self, file_id: usize) -> anyhow::Result<Arc<File>> {
        let path = self.path(file_id)?;
        self.open_files
            .get((self.owner, file_id), || {
                if self.read_only {
                    self.open_published(file_id, path)
                } else {
                    OpenOptions::new().read(true).write(true).open(path)
                }
            })
            .with_context(|| format!("cannot open {path:?}"))
    }

    /// The open file of a download, created (with its directories) if it is missing.
    fn for_writing(&self, file_id: usize) -> anyhow::Result<Arc<File>> {
        let path = self.path(file_id)?;
        if self.read_only {
            bail!("published file {path:?} is read-only: the engine never writes into it");
        }
        self.open_files
            .get((self.owner, file_id), || open_for_writing(path))
            .with_context(|| format!("cannot open {path:?} for writing"))
    }

    /// Opens a published file for reading, if it is still the file seen at start.
    fn open_published(&self, file_id: usize, path: &Path) -> std::io::Result<File> {
        let file = File::open(path)?;
        let now = Stamp::of(&file)?;
        match self.stamps.get(file_id).copied().flatten() {
            Some(then) if then == now => Ok(file),
            _ => Err(std::io::Error::other(
                "the published file was replaced or changed since the engine started seeding it",
            )),
        }
    }
}

/// Opens (creating if needed) a download's file read-write, never truncating it.
fn open_for_writing(path: &Path) -> std::io::Result<File> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
        }
        result => result,
    }
}

/// `relative` inside `folder`, refusing anything but plain names (torrent file names come
/// from strangers). The empty path is the folder itself.
fn inside(folder: &Path, relative: &Path) -> anyhow::Result<PathBuf> {
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        bail!("unsafe file name {relative:?} in a torrent: it would leave the torrent's folder");
    }
    Ok(folder.join(relative))
}

impl TorrentStorage for OnDemandStorage {
    fn init(
        &mut self,
        _shared: &ManagedTorrentShared,
        metadata: &TorrentMetadata,
    ) -> anyhow::Result<()> {
        let current = self.files()?;
        let (open_files, owner) = (current.open_files.clone(), current.owner);
        let (folder, read_only) = (current.folder.clone(), current.read_only);
        let mut paths = Vec::with_capacity(metadata.file_infos.len());
        let mut stamps = Vec::with_capacity(metadata.file_infos.len());
        for (file_id, info) in metadata.file_infos.iter().enumerate() {
            if info.attrs.padding {
                paths.push(None);
                stamps.push(None);
                continue;
            }
            let path = inside(&folder, &info.relative_filename)?;
            let file = if read_only {
                File::open(&path)
                    .with_context(|| format!("cannot open published file {path:?} for reading"))?
            } else {
                // As librqbit's FilesystemStorage with `overwrite`: create what is missing,
                // keep what is there (it is checked, then its length set).
                open_for_writing(&path)
                    .with_context(|| format!("cannot open {path:?} in read/write mode"))?
            };
            stamps.push(
                read_only
                    .then(|| Stamp::of(&file))
                    .transpose()
                    .with_context(|| format!("cannot read the metadata of {path:?}"))?,
            );
            // Kept open while the bound allows: the check that follows reads it.
            open_files.get((owner, file_id), || Ok(file))?;
            paths.push(Some(path));
        }
        self.files = Arc::new(TorrentFiles {
            open_files,
            owner,
            folder,
            read_only,
            paths,
            stamps,
        });
        Ok(())
    }

    fn pread_exact(&self, file_id: usize, offset: u64, buf: &mut [u8]) -> anyhow::Result<()> {
        let files = self.files()?;
        let file = files.for_reading(file_id)?;
        file.read_exact_at(buf, offset)
            .with_context(|| format!("cannot read {:?} at {offset}", files.path(file_id)))
    }

    fn pwrite_all(&self, file_id: usize, offset: u64, buf: &[u8]) -> anyhow::Result<()> {
        let files = self.files()?;
        let file = files.for_writing(file_id)?;
        file.write_all_at(buf, offset)
            .with_context(|| format!("cannot write {:?} at {offset}", files.path(file_id)))
    }

    fn pwrite_all_vectored(
        &self,
        file_id: usize,
        offset: u64,
        bufs: [IoSlice<'_>; 2],
    ) -> anyhow::Result<usize> {
        let files = self.files()?;
        let file = files.for_writing(file_id)?;
        let mut at = offset;
        for buf in &bufs {
            file.write_all_at(buf, at)
                .with_context(|| format!("cannot write {:?} at {at}", files.path(file_id)))?;
            at += buf.len() as u64;
        }
        Ok(bufs[0].len() + bufs[1].len())
    }

    fn remove_file(&self, file_id: usize, filename: &Path) -> anyhow::Result<()> {
        let files = self.files()?;
        if files.read_only {
            bail!("published file {filename:?} is the publisher's: the engine never deletes it");
        }
        let path = inside(&files.folder, filename)?;
        // Closed first, so the space is freed when the file is unlinked.
        files.open_files.close((files.owner, file_id));
        std::fs::remove_file(&path).with_context(|| format!("cannot delete {path:?}"))
    }

    fn remove_directory_if_empty(&self, path: &Path) -> anyhow::Result<()> {
        let files = self.files()?;
        if files.read_only {
            return Ok(());
        }
        let path = inside(&files.folder, path)?;
        if !path.is_dir() {
            bail!("cannot remove dir: {path:?} is not a directory");
        }
        if std::fs::read_dir(&path)?.next().is_none() {
            std::fs::remove_dir(&path).with_context(|| format!("error removing {path:?}"))
        } else {
            tracing::warn!("did not remove {path:?} as it was not empty");
            Ok(())
        }
    }

    fn ensure_file_length(&self, file_id: usize, length: u64) -> anyhow::Result<()> {
        let files = self.files()?;
        if files.read_only {
            let path = files.path(file_id)?;
            let actual = files.for_reading(file_id)?.metadata()?.len();
            if actual != length {
                bail!(
                    "published file {path:?} has {actual} bytes, the torrent {length}: not resized"
                );
            }
            return Ok(());
        }
        Ok(files.for_writing(file_id)?.set_len(length)?)
    }

    fn take(&self) -> anyhow::Result<Box<dyn TorrentStorage>> {
        self.files()?;
        let files = Arc::clone(&self.files);
        self.taken.store(true, Ordering::Release);
        Ok(Box::new(OnDemandStorage {
            files,
            taken: AtomicBool::new(false),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A storage's files as `init` leaves them, for files already in `folder`.
    fn files_in(folder: &Path, names: &[&str], read_only: bool) -> TorrentFiles {
        let open_files = OpenFiles::new(4);
        let paths: Vec<_> = names.iter().map(|n| Some(folder.join(n))).collect();
        let stamps = paths
            .iter()
            .map(|p| {
                let p = p.as_ref().unwrap();
                (read_only && p.exists()).then(|| Stamp::of(&File::open(p).unwrap()).unwrap())
            })
            .collect();
        TorrentFiles {
            owner: open_files.new_owner(),
            open_files,
            folder: folder.to_owned(),
            read_only,
            paths,
            stamps,
        }
    }

    #[test]
    fn names_that_would_leave_the_folder_are_refused() {
        let folder = Path::new("/srv/t");
        assert_eq!(
            inside(folder, Path::new("a/b.bin")).unwrap(),
            folder.join("a/b.bin")
        );
        for bad in ["../x", "a/../../x", "/etc/passwd", "./x"] {
            assert!(inside(folder, Path::new(bad)).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_published_file_replaced_after_it_was_closed_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"published").unwrap();
        std::fs::write(dir.path().join("b"), b"untouched").unwrap();
        let files = files_in(dir.path(), &["a", "b"], true);
        let mut buf = [0u8; 9];
        files
            .for_reading(0)
            .unwrap()
            .read_exact_at(&mut buf, 0)
            .unwrap();
        assert_eq!(&buf, b"published");
        files.open_files.close_owner(files.owner, 2);

        // Same length, new inode: what an editor's save-by-rename does.
        std::fs::write(dir.path().join("a.new"), b"PUBLISHED").unwrap();
        std::fs::rename(dir.path().join("a.new"), dir.path().join("a")).unwrap();
        let refused = files.for_reading(0).unwrap_err();
        assert!(
            format!("{refused:#}").contains("replaced or changed"),
            "{refused:#}"
        );
        files
            .for_reading(1)
            .unwrap()
            .read_exact_at(&mut buf, 0)
            .unwrap();
        assert_eq!(&buf, b"untouched");
        assert!(
            files.for_writing(1).is_err(),
            "a published file opened for writing"
        );
    }

    #[test]
    fn a_download_creates_its_missing_files_and_directories_when_written() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path(), &["sub/deeper/c.bin"], false);
        assert!(files.for_reading(0).is_err(), "reading created a file");
        files
            .for_writing(0)
            .unwrap()
            .write_all_at(b"bytes", 3)
            .unwrap();
        let got = std::fs::read(dir.path().join("sub/deeper/c.bin")).unwrap();
        assert_eq!(got, b"\0\0\0bytes");
    }
}
