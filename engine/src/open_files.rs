//! One bound on the files the engine keeps open, over every torrent.
//!
//! librqbit's own storage opens every file of a torrent when the torrent starts and keeps it
//! open until the torrent leaves the session, so the process's open-file limit caps how many
//! torrents a node can hold (about 9,300 at a hard limit of 20,000: see
//! `docs/engine-gaps.md`). The engine's storage instead asks [`OpenFiles`] for a file when
//! it reads or writes it: files used recently stay open, the least recently used one is
//! closed when the bound is reached. A file is handed out as an `Arc<File>`, so one evicted
//! while a read or write is under way is closed only when that finishes; reads and writes
//! are positioned (`pread`/`pwrite`), so many peers share one descriptor without a seek
//! position between them.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The bound when none is configured and the open-file limit allows it.
pub const DEFAULT_MAX_OPEN_FILES: usize = 512;

/// Never fewer than this, whatever the limit: a piece can span a few files.
const MIN_OPEN_FILES: usize = 4;

/// When the bound is reached, this share of the open files (the least recently used) is
/// closed at once, so finding them (a pass over every open file) is paid once per many
/// opens, not on each.
const EVICT_DIVISOR: usize = 8;

/// One file of one storage: the storage's owner id and the file's index in its torrent.
pub(crate) type FileKey = (u64, usize);

/// The node-wide set of open torrent files, least recently used closed first.
///
/// A use of an open file (every chunk a peer asks for) takes the read lock and stamps the
/// file with a tick of a shared clock; only opening a file takes the write lock.
#[derive(Debug)]
pub(crate) struct OpenFiles {
    capacity: usize,
    files: RwLock<HashMap<FileKey, OpenFile>>,
    clock: AtomicU64,
    next_owner: AtomicU64,
    opened: AtomicU64,
}

#[derive(Debug)]
struct OpenFile {
    file: Arc<File>,
    last_use: AtomicU64,
}

impl OpenFiles {
    /// A set keeping at most `capacity` files open (at least a few).
    pub fn new(capacity: usize) -> Arc<OpenFiles> {
        Arc::new(OpenFiles {
            capacity: capacity.max(MIN_OPEN_FILES),
            files: RwLock::new(HashMap::new()),
            clock: AtomicU64::new(0),
            next_owner: AtomicU64::new(1),
            opened: AtomicU64::new(0),
        })
    }

    /// The most files kept open.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Files open now (not counting evicted ones a read still holds).
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// How many times a file was opened (a miss).
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// A new owner id, one per torrent storage.
    pub fn new_owner(&self) -> u64 {
        self.next_owner.fetch_add(1, Ordering::Relaxed)
    }

    /// The open file for `key`, opened with `open` if it is not open. Opening happens
    /// outside the lock; if two threads open the same file at once, one descriptor is kept.
    pub fn get(
        &self,
        key: FileKey,
        open: impl FnOnce() -> std::io::Result<File>,
    ) -> std::io::Result<Arc<File>> {
        if let Some(open_file) = self.read().get(&key) {
            open_file.last_use.store(self.tick(), Ordering::Relaxed);
            return Ok(open_file.file.clone());
        }
        let opened = Arc::new(open()?);
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(self.insert(key, opened))
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Keeps `file` open for `key`, closing the least recently used files if the bound is
    /// reached; returns the file kept (another thread's, if it got there first).
    fn insert(&self, key: FileKey, file: Arc<File>) -> Arc<File> {
        let mut files = self.write();
        if let Some(open_file) = files.get(&key) {
            open_file.last_use.store(self.tick(), Ordering::Relaxed);
            return open_file.file.clone();
        }
        // Evicted files are dropped after the lock is released (closing can take time).
        let mut evicted = Vec::new();
        if files.len() >= self.capacity {
            let mut by_use: Vec<(u64, FileKey)> = files
                .iter()
                .map(|(key, f)| (f.last_use.load(Ordering::Relaxed), *key))
                .collect();
            let count = (self.capacity / EVICT_DIVISOR)
                .max(files.len() + 1 - self.capacity)
                .min(by_use.len());
            if count < by_use.len() {
                by_use.select_nth_unstable(count);
            }
            for (_, oldest) in &by_use[..count] {
                evicted.extend(files.remove(oldest));
            }
        }
        files.insert(
            key,
            OpenFile {
                file: file.clone(),
                last_use: AtomicU64::new(self.tick()),
            },
        );
        drop(files);
        drop(evicted);
        file
    }

    /// Closes one file (before it is deleted, say).
    pub fn close(&self, key: FileKey) {
        let file = self.write().remove(&key);
        drop(file);
    }

    /// Closes the files `0..files` of one owner (its torrent left the session).
    pub fn close_owner(&self, owner: u64, files: usize) {
        if files == 0 {
            return;
        }
        let mut closed = Vec::new();
        {
            let mut open = self.write();
            for index in 0..files {
                closed.extend(open.remove(&(owner, index)));
            }
        }
        drop(closed);
    }

    // A panic while holding the lock leaves the map consistent (no update is partial), so
    // a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<FileKey, OpenFile>> {
        self.files
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<FileKey, OpenFile>> {
        self.files
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The bound to use: `configured`, or [`DEFAULT_MAX_OPEN_FILES`] lowered to a quarter of
/// the process's soft open-file limit (sockets, the store and logs need the rest).
pub fn max_open_files(configured: Option<usize>) -> usize {
    if let Some(configured) = configured {
        return configured.max(MIN_OPEN_FILES);
    }
    match soft_open_file_limit() {
        Some(limit) => DEFAULT_MAX_OPEN_FILES
            .min(usize::try_from(limit / 4).unwrap_or(usize::MAX))
            .max(MIN_OPEN_FILES),
        None => DEFAULT_MAX_OPEN_FILES,
    }
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux); `None` elsewhere.
fn soft_open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        number => number.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(dir: &tempfile::TempDir, name: &str) -> File {
        File::create(dir.path().join(name)).unwrap()
    }

    #[test]
    fn the_least_recently_used_file_is_closed_first_and_a_held_one_stays_usable() {
        let dir = tempfile::tempdir().unwrap();
        let files = OpenFiles::new(4);
        let owner = files.new_owner();
        let mut held = Vec::new();
        for index in 0..4 {
            held.push(
                files
                    .get((owner, index), || Ok(temp_file(&dir, &format!("{index}"))))
                    .unwrap(),
            );
        }
        // Touch 0, so 1 is now the least recently used.
        files.get((owner, 0), || panic!("0 is open")).unwrap();
        files.get((owner, 4), || Ok(temp_file(&dir, "4"))).unwrap();
        assert_eq!(files.len(), 4);
        assert_eq!(files.opened(), 5);
        let mut reopened = false;
        files
            .get((owner, 1), || {
                reopened = true;
                Ok(temp_file(&dir, "1"))
            })
            .unwrap();
        assert!(reopened, "the least recently used file was closed");
        // Evicted while held: the descriptor still works.
        use std::os::unix::fs::FileExt;
        held[2].write_all_at(b"still open", 0).unwrap();
        files.close_owner(owner, 5);
        assert_eq!(files.len(), 0);
    }

    #[test]
    fn a_full_set_closes_an_eighth_of_its_files_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let files = OpenFiles::new(64);
        let owner = files.new_owner();
        for index in 0..64 {
            files
                .get((owner, index), || Ok(temp_file(&dir, "f")))
                .unwrap();
        }
        // Use all but 0..8 again, in reverse: 0..8 are the least recently used.
        for index in (8..64).rev() {
            files
                .get((owner, index), || panic!("{index} is open"))
                .unwrap();
        }
        files.get((owner, 64), || Ok(temp_file(&dir, "g"))).unwrap();
        assert_eq!(files.len(), 64 - 8 + 1);
        for index in 8..65 {
            files
                .get((owner, index), || panic!("{index} was closed"))
                .unwrap();
        }
        let mut reopened = 0;
        for index in 0..8 {
            files
                .get((owner, index), || {
                    reopened += 1;
                    Ok(temp_file(&dir, "f"))
                })
                .unwrap();
        }
        assert_eq!(reopened, 8);
        assert!(files.len() <= 64);
    }

    #[test]
    fn the_default_bound_follows_the_open_file_limit() {
        assert_eq!(max_open_files(Some(16)), 16);
        assert_eq!(max_open_files(Some(0)), MIN_OPEN_FILES);
        let automatic = max_open_files(None);
        assert!((MIN_OPEN_FILES..=DEFAULT_MAX_OPEN_FILES).contains(&automatic));
        if let Some(limit) = soft_open_file_limit() {
            assert!(automatic as u64 <= limit / 4 || automatic == MIN_OPEN_FILES);
        }
    }
}
