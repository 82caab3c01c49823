//! Whether content on disk is still the content its entry names: a `stat` against the stamp
//! recorded when a published file was last verified, and BLAKE3 re-hashes — streaming,
//! bounded memory, optionally at a limited rate — on blocking threads only.
//!
//! The engine opens published files read-only (`engine::read_only`), so their length, mtime,
//! ctime and inode move only when somebody else writes or replaces them: an untouched file
//! costs one `stat` at start, a touched one a BLAKE3 pass before it is seeded again.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use data_dir::DataDir;
use publisher::publish::{ContentRecord, FileCheck};

/// What checking a published torrent's files found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every file untouched since it was last verified: nothing read.
    Untouched,
    /// Some file's stamp moved but every BLAKE3 matches: the record has the new stamps.
    Reverified { files: usize, bytes: u64 },
    /// A file is gone, has another length or other bytes: never to be served or seeded.
    Changed(String),
    /// The node is stopping: nothing was decided.
    Interrupted,
}

/// Reads a published torrent's content record from the data directory.
pub fn read_record(data: &DataDir, infohash: &feeds::InfoHash) -> Option<ContentRecord> {
    let bytes = std::fs::read(data.content_path(infohash)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Checks a published torrent's files (blocking). With `full`, every file is re-hashed (the
/// scrub); otherwise only those whose stamp moved (start). Files that hash right get their
/// new stamp written into the record, so the next check is a `stat` again.
pub fn check_published(
    data: &DataDir,
    record: &mut ContentRecord,
    full: bool,
    limiter: &mut RateLimiter,
) -> Verdict {
    let mut to_hash = Vec::new();
    for (index, file) in record.files.iter().enumerate() {
        match file.check_stamp() {
            FileCheck::Changed(why) => return Verdict::Changed(why),
            FileCheck::Suspect(why) => {
                tracing::info!(infohash = %record.infohash, "{why}: re-hashing it");
                to_hash.push(index);
            }
            FileCheck::Untouched if full => to_hash.push(index),
            FileCheck::Untouched => {}
        }
    }
    if to_hash.is_empty() {
        return Verdict::Untouched;
    }
    let mut bytes = 0;
    let mut restamped = false;
    for &index in &to_hash {
        let file = &mut record.files[index];
        let before = std::fs::metadata(&file.fs_path).ok();
        let hash = match hash_file(&file.fs_path, limiter) {
            Ok(hash) => hex::encode(hash),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Verdict::Interrupted,
            Err(e) => {
                return Verdict::Changed(format!("{} cannot be read: {e}", file.fs_path.display()));
            }
        };
        if hash != file.blake3 {
            return Verdict::Changed(format!(
                "{} was edited since it was published: its BLAKE3 no longer matches its entry",
                file.fs_path.display()
            ));
        }
        bytes += file.length;
        // Restamp only if nothing moved while we read it (an edit mid-read is caught next time).
        let after = std::fs::metadata(&file.fs_path).ok();
        if let (Some(before), Some(after)) = (before, after)
            && same_stamp(&before, &after)
            && file.check_stamp() != FileCheck::Untouched
        {
            file.restamp(&after);
            restamped = true;
        }
    }
    if restamped
        && let Ok(infohash) = record.infohash.parse::<feeds::InfoHash>()
        && let Ok(json) = serde_json::to_vec_pretty(&record)
        && let Err(e) = data_dir::write_atomic(&data.content_path(&infohash), &json)
    {
        tracing::warn!(%infohash, "cannot record the re-verified stamp: {e}");
    }
    Verdict::Reverified {
        files: to_hash.len(),
        bytes,
    }
}

fn same_stamp(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (
        a.len(),
        a.mtime(),
        a.mtime_nsec(),
        a.ctime(),
        a.ctime_nsec(),
        a.ino(),
    ) == (
        b.len(),
        b.mtime(),
        b.mtime_nsec(),
        b.ctime(),
        b.ctime_nsec(),
        b.ino(),
    )
}

/// BLAKE3 of a file, read in 1 MiB chunks (memory bounded whatever its size), no faster
/// than the limiter allows. Blocking.
pub fn hash_file(path: &Path, limiter: &mut RateLimiter) -> std::io::Result<[u8; 32]> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        limiter.spend(n as u64);
        if limiter.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "the node is stopping",
            ));
        }
    }
    Ok(*hasher.finalize().as_bytes())
}

/// Keeps a blocking reader at or under a byte rate by sleeping (0: no limit).
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_second: u64,
    started: Instant,
    spent: u64,
    /// Stops a long hash when the node shuts down.
    cancel: Option<tokio_util::sync::CancellationToken>,
}

impl RateLimiter {
    pub fn new(bytes_per_second: u64) -> RateLimiter {
        RateLimiter {
            bytes_per_second,
            started: Instant::now(),
            spent: 0,
            cancel: None,
        }
    }

    /// Makes hashes stop (`Interrupted`) once `cancel` fires.
    pub fn with_cancel(mut self, cancel: tokio_util::sync::CancellationToken) -> RateLimiter {
        self.cancel = Some(cancel);
        self
    }

    pub fn unlimited() -> RateLimiter {
        RateLimiter::new(0)
    }

    /// Counts `bytes` read and sleeps until the average rate is within the limit.
    pub fn spend(&mut self, bytes: u64) {
        if self.bytes_per_second == 0 {
            return;
        }
        self.spent += bytes;
        let due = Duration::from_secs_f64(self.spent as f64 / self.bytes_per_second as f64);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_rate_limiter_holds_a_reader_to_its_rate() {
        let mut limiter = RateLimiter::new(4 << 20);
        let start = Instant::now();
        for _ in 0..4 {
            limiter.spend(1 << 20);
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(950), "{took:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        let mut free = RateLimiter::unlimited();
        let start = Instant::now();
        free.spend(1 << 30);
        assert!(start.elapsed() < Duration::from_millis(10));
    }

    #[test]
    fn hash_file_matches_blake3_of_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..3_000_001u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let got = hash_file(&path, &mut RateLimiter::unlimited()).unwrap();
        assert_eq!(&got, blake3::hash(&bytes).as_bytes());
    }
}
