//! One read pass over the files: SHA-1 pieces across file boundaries, and a BLAKE3 per file.
//!
//! One worker thread per core loops: under a lock, it reads the next *chunk* of the torrent's
//! byte stream (files in torrent order, large sequential reads, about 1 MiB of whole pieces
//! starting on a piece boundary) into a buffer from a small pool; then, lock released, it
//! hashes that chunk's pieces while the bytes are still in its core's cache. Reads stay
//! sequential and in order, hashing runs on every core, and memory stays bounded (the pool
//! holds at most [`MAX_BUFFERED`] bytes, or two pieces when pieces are larger) whatever the
//! size of the files. When BLAKE3 is asked for, a dedicated thread receives every chunk in
//! stream order and feeds each file's hasher; a buffer returns to the pool when both the
//! SHA-1 worker and the BLAKE3 thread are done with it. A file whose BLAKE3 its writer
//! already computed ([`super::known`]) is read for its pieces only: the BLAKE3 thread skips
//! it (and is not started when every file's digest is known), and the file must still have
//! the stamp it had when its digest was computed, from open to last byte.
//!
//! Files are checked while they are read: the size at open must be the size listed, reads
//! must not come up short, and size and modification time after the last byte must equal
//! those at open. Anything else is [`Error::FileChanged`]. Files are opened with
//! `O_NOFOLLOW`, so a file swapped for a symlink after listing is refused, not followed.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};

use sha1::{Digest, Sha1};

use super::known::FileStamp;
use super::walk::SourceFile;
use crate::error::{Error, Result};

/// Bytes of read buffers the pipeline may hold at once (a single huge piece may exceed it).
pub const MAX_BUFFERED: usize = 64 << 20;
/// Preferred size of one chunk (one buffer, read in one go): whole pieces, at least this.
const CHUNK_TARGET: usize = 1 << 20;
/// At most this many buffers, however small the chunks.
const MAX_BUFFERS: usize = 16;

/// What one pass computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// SHA-1 of each piece, in order.
    pub pieces: Vec<[u8; 20]>,
    /// BLAKE3 of each file, in the files' order, when asked for.
    pub blake3: Option<Vec<blake3::Hash>>,
}

/// Hashes `files` as one stream cut into pieces of `piece_length` bytes (and, if `with_blake3`,
/// each file on its own). `progress` receives the count of bytes just hashed, repeatedly.
pub fn hash_files(
    files: &[SourceFile],
    piece_length: u64,
    with_blake3: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Hashes> {
    Pipeline {
        files,
        piece_length,
        with_blake3,
        progress,
        after_open: None,
    }
    .run()
}

/// A run of the byte stream, starting on a piece boundary, in a pooled buffer.
struct Chunk {
    buf: Vec<u8>,
    filled: usize,
    /// Offset of `buf[0]` in the torrent's byte stream.
    stream_offset: u64,
    /// Which file each part of the buffer belongs to, for BLAKE3.
    segments: Vec<Segment>,
    pool: SyncSender<Vec<u8>>,
}

struct Segment {
    file: usize,
    range: Range<usize>,
    ends_file: bool,
}

impl Chunk {
    fn data(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // The pool's capacity equals the number of buffers, so this never blocks; after an
        // error the receiver may be gone, and the buffer is then simply freed.
        let _ = self.pool.send(std::mem::take(&mut self.buf));
    }
}

pub(crate) struct Pipeline<'a> {
    pub files: &'a [SourceFile],
    pub piece_length: u64,
    pub with_blake3: bool,
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Called right after each file is opened: lets tests change a file mid-read.
    pub after_open: Option<&'a (dyn Fn(&Path) + Sync)>,
}

impl Pipeline<'_> {
    pub(crate) fn run(&self) -> Result<Hashes> {
        let piece = usize::try_from(self.piece_length)
            .map_err(|_| Error::BadPieceLength(self.piece_length))?;
        if piece == 0 {
            return Err(Error::BadPieceLength(0));
        }
        let total: u64 = self.files.iter().map(|f| f.length).sum();
        let piece_count = usize::try_from(total.div_ceil(self.piece_length))
            .map_err(|_| Error::BadPieceLength(self.piece_length))?;
        let chunk_len = piece * CHUNK_TARGET.div_ceil(piece).max(1);
        let buffers = (MAX_BUFFERED / chunk_len).clamp(2, MAX_BUFFERS);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());

        let pieces = Mutex::new(vec![[0u8; 20]; piece_count]);
        let (pool_tx, pool_rx) = mpsc::sync_channel::<Vec<u8>>(buffers);
        let reader = Mutex::new(Reader::new(self, chunk_len, buffers, pool_tx, pool_rx));
        let (blake_tx, blake_rx) = mpsc::channel::<Arc<Chunk>>();
        let to_blake3 = self.blake3_to_compute();

        let (worker_results, per_file) = std::thread::scope(|threads| {
            let blake_thread =
                to_blake3.then(|| threads.spawn(move || blake3_per_file(blake_rx, self.files)));
            let (reader, pieces) = (&reader, &pieces);
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let blake_tx = blake_tx.clone();
                    threads.spawn(move || {
                        self.work(reader, to_blake3.then_some(&blake_tx), pieces, piece)
                    })
                })
                .collect();
            // The BLAKE3 thread ends once the workers' senders are gone too.
            drop(blake_tx);
            let results: Vec<Result<()>> = handles.into_iter().map(join).collect();
            (results, blake_thread.map(join))
        });
        worker_results.into_iter().collect::<Result<()>>()?;
        let pieces = pieces.into_inner().unwrap_or_else(PoisonError::into_inner);
        let blake3 = self.with_blake3.then(|| {
            let computed = per_file.unwrap_or_default();
            self.files
                .iter()
                .enumerate()
                .map(|(i, file)| match &file.known {
                    Some(known) => blake3::Hash::from_bytes(known.blake3),
                    None => computed
                        .get(i)
                        .copied()
                        .unwrap_or_else(|| blake3::hash(b"")),
                })
                .collect()
        });
        Ok(Hashes { pieces, blake3 })
    }

    /// Whether some file's BLAKE3 must be computed in this pass.
    fn blake3_to_compute(&self) -> bool {
        self.with_blake3 && self.files.iter().any(|f| f.known.is_none())
    }

    /// One worker: take the next chunk (reading it under the lock keeps reads sequential and
    /// BLAKE3's feed in order), then hash its pieces while the bytes are still in this core's
    /// cache.
    fn work(
        &self,
        reader: &Mutex<Reader<'_, '_>>,
        blake_tx: Option<&Sender<Arc<Chunk>>>,
        pieces: &Mutex<Vec<[u8; 20]>>,
        piece: usize,
    ) -> Result<()> {
        loop {
            let chunk = {
                let mut reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
                if reader.failed {
                    return Ok(());
                }
                match reader.next_chunk() {
                    Ok(Some(chunk)) => {
                        let chunk = Arc::new(chunk);
                        if let Some(blake_tx) = blake_tx {
                            // Fails only if the BLAKE3 thread panicked; joining it reports that.
                            let _ = blake_tx.send(Arc::clone(&chunk));
                        }
                        chunk
                    }
                    Ok(None) => return Ok(()),
                    Err(error) => {
                        reader.failed = true;
                        return Err(error);
                    }
                }
            };
            let hashes: Vec<[u8; 20]> = chunk
                .data()
                .chunks(piece)
                .map(|p| Sha1::digest(p).into())
                .collect();
            let first = (chunk.stream_offset / piece as u64) as usize;
            let mut all = pieces.lock().unwrap_or_else(PoisonError::into_inner);
            all[first..first + hashes.len()].copy_from_slice(&hashes);
            drop(all);
            (self.progress)(chunk.filled as u64);
        }
    }
}

/// Joins a scoped thread, passing a panic on.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match handle.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Feeds each file's bytes, in order, to its own BLAKE3 hasher (files whose digest is known
/// are skipped).
fn blake3_per_file(chunks: Receiver<Arc<Chunk>>, files: &[SourceFile]) -> Vec<blake3::Hash> {
    let empty = blake3::hash(b"");
    let mut done = vec![empty; files.len()];
    let mut current: Option<(usize, blake3::Hasher)> = None;
    for chunk in chunks {
        for segment in &chunk.segments {
            if files[segment.file].known.is_some() {
                continue;
            }
            let hasher = match &mut current {
                Some((file, hasher)) if *file == segment.file => hasher,
                slot => &mut slot.insert((segment.file, blake3::Hasher::new())).1,
            };
            hasher.update(&chunk.buf[segment.range.clone()]);
            if segment.ends_file
                && let Some((file, hasher)) = current.take()
            {
                done[file] = hasher.finalize();
            }
        }
    }
    done
}

/// The file being read, and what it looked like when opened.
struct OpenFile {
    index: usize,
    file: File,
    remaining: u64,
    opened_as: (u64, i64, i64),
    /// The whole stamp at open, for a file whose BLAKE3 is known.
    stamp: Option<FileStamp>,
}

/// Reads the files in order into pooled buffers.
struct Reader<'p, 'a> {
    job: &'p Pipeline<'a>,
    chunk_len: usize,
    unallocated: usize,
    pool_tx: SyncSender<Vec<u8>>,
    pool_rx: Receiver<Vec<u8>>,
    next_file: usize,
    open: Option<OpenFile>,
    stream_offset: u64,
    /// Set once a read failed: the other workers stop taking chunks.
    failed: bool,
}

impl<'p, 'a> Reader<'p, 'a> {
    fn new(
        job: &'p Pipeline<'a>,
        chunk_len: usize,
        buffers: usize,
        pool_tx: SyncSender<Vec<u8>>,
        pool_rx: Receiver<Vec<u8>>,
    ) -> Self {
        Reader {
            job,
            chunk_len,
            unallocated: buffers,
            pool_tx,
            pool_rx,
            next_file: 0,
            open: None,
            stream_offset: 0,
            failed: false,
        }
    }

    /// A buffer from the pool, allocating lazily so small jobs stay small.
    fn buffer(&mut self) -> Vec<u8> {
        if let Ok(buf) = self.pool_rx.try_recv() {
            return buf;
        }
        if self.unallocated > 0 {
            self.unallocated -= 1;
            return vec![0; self.chunk_len];
        }
        // Every buffer is out, and each returns when hashed: this wait always ends.
        self.pool_rx
            .recv()
            .unwrap_or_else(|_| vec![0; self.chunk_len])
    }

    /// The next chunk of the stream, `None` at its end.
    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let (files, chunk_len) = (self.job.files, self.chunk_len);
        let mut buf = self.buffer();
        let mut filled = 0;
        let mut segments: Vec<Segment> = Vec::new();
        while filled < chunk_len {
            let Some(open) = self.open_next()? else { break };
            let path = &files[open.index].fs_path;
            let want = usize::try_from(open.remaining)
                .map_or(chunk_len - filled, |r| r.min(chunk_len - filled));
            let n = read_some(&mut open.file, &mut buf[filled..filled + want])
                .map_err(|e| Error::io("read", path, e))?;
            if n == 0 {
                return Err(Error::FileChanged {
                    path: path.clone(),
                    what: "it shrank while being read",
                });
            }
            open.remaining -= n as u64;
            let (file, ends_file) = (open.index, open.remaining == 0);
            match segments.last_mut() {
                Some(last) if last.file == file => last.range.end += n,
                _ => segments.push(Segment {
                    file,
                    range: filled..filled + n,
                    ends_file: false,
                }),
            }
            if let Some(last) = segments.last_mut() {
                last.ends_file = ends_file;
            }
            filled += n;
            if ends_file {
                self.close_current()?;
            }
        }
        if filled == 0 {
            return Ok(None);
        }
        let chunk = Chunk {
            buf,
            filled,
            stream_offset: self.stream_offset,
            segments,
            pool: self.pool_tx.clone(),
        };
        self.stream_offset += filled as u64;
        Ok(Some(chunk))
    }

    /// The file currently being read, opening the next non-empty one if needed.
    fn open_next(&mut self) -> Result<Option<&mut OpenFile>> {
        while self.open.is_none() {
            let Some(source) = self.job.files.get(self.next_file) else {
                return Ok(None);
            };
            let index = self.next_file;
            self.next_file += 1;
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&source.fs_path)
                .map_err(|e| Error::io("open", &source.fs_path, e))?;
            let meta = file
                .metadata()
                .map_err(|e| Error::io("read", &source.fs_path, e))?;
            if !meta.is_file() {
                return Err(Error::NotRegularFile(source.fs_path.clone()));
            }
            if meta.len() != source.length {
                return Err(self.changed(index, "its size changed after it was listed"));
            }
            let stamp = source.known.map(|_| FileStamp::of(&meta));
            if let (Some(known), Some(now)) = (&source.known, stamp)
                && known.stamp != now
            {
                return Err(self.changed(
                    index,
                    "it was written, touched or replaced after its BLAKE3 was computed",
                ));
            }
            if let Some(hook) = self.job.after_open {
                hook(&source.fs_path);
            }
            let open = OpenFile {
                index,
                file,
                remaining: source.length,
                opened_as: shape(&meta),
                stamp,
            };
            if source.length == 0 {
                self.open = Some(open);
                self.close_current()?;
            } else {
                self.open = Some(open);
            }
        }
        Ok(self.open.as_mut())
    }

    /// Closes the current file, checking it did not change while it was read.
    fn close_current(&mut self) -> Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let path = &self.job.files[open.index].fs_path;
        let meta = open
            .file
            .metadata()
            .map_err(|e| Error::io("read", path, e))?;
        if shape(&meta) != open.opened_as || open.stamp.is_some_and(|s| s != FileStamp::of(&meta)) {
            return Err(self.changed(open.index, "it was modified while being read"));
        }
        Ok(())
    }

    fn changed(&self, index: usize, what: &'static str) -> Error {
        Error::FileChanged {
            path: self.job.files[index].fs_path.clone(),
            what,
        }
    }
}

/// Size and modification time: what tells that a file changed.
fn shape(meta: &Metadata) -> (u64, i64, i64) {
    (meta.len(), meta.mtime(), meta.mtime_nsec())
}

/// One `read`, retried on `Interrupted`.
fn read_some(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
