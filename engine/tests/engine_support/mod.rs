//! Shared helpers of the engine tests: published content, polling, and I/O counters.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use feeds::InfoHash;
use publisher::torrent::{TorrentOptions, create_torrent};
use std::net::SocketAddr;

use engine::{Engine, TorrentSource, TorrentStatus};

/// Deterministic pseudo-random bytes (xorshift), different for each seed.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A torrent as our publisher builds it.
pub struct Published {
    pub torrent: Vec<u8>,
    pub infohash: InfoHash,
    /// The published path (what `content/INFOHASH.json` records as `root`).
    pub root: PathBuf,
}

/// Builds the torrent of `path` with the publisher (one read pass).
pub fn publish(path: &Path, piece_length: Option<u64>) -> Published {
    let options = TorrentOptions {
        piece_length,
        ..TorrentOptions::default()
    };
    let built = create_torrent(path, &options, &|_| {}).expect("publish");
    Published {
        torrent: built.metainfo.encode(),
        infohash: built.metainfo.infohash(),
        root: built.root,
    }
}

/// `len` pseudo-random bytes (from `seed`) written to `dir/content/NAME` and built into a
/// torrent with `piece_length`: the bytes and the torrent.
pub fn publish_file(
    dir: &Path,
    name: &str,
    len: usize,
    seed: u64,
    piece_length: Option<u64>,
) -> (Vec<u8>, Published) {
    let bytes = pseudo_random_bytes(len, seed);
    let content = write_tree(&dir.join("content"), &[(name, &bytes)]);
    let published = publish(&content.join(name), piece_length);
    (bytes, published)
}

/// Has `engine` seed `published` from where it was published and waits until it seeds.
pub async fn seed(engine: &Engine, published: &Published, timeout: Duration) -> InfoHash {
    let infohash = engine
        .seed_existing(&published.torrent, &published.root)
        .await
        .unwrap();
    wait_seeding(engine, &infohash, timeout).await;
    infohash
}

/// Has `engine` download `published` (by its .torrent) from `peers` into its download dir
/// and waits until it is complete; panics with `what` after `timeout`.
pub async fn download_all(
    engine: &Engine,
    published: &Published,
    peers: Vec<SocketAddr>,
    timeout: Duration,
    what: &str,
) {
    engine
        .download(
            TorrentSource::Torrent(published.torrent.clone()),
            None,
            peers,
        )
        .await
        .unwrap();
    tokio::time::timeout(timeout, engine.wait_until_complete(&published.infohash))
        .await
        .unwrap_or_else(|_| panic!("{what}"))
        .unwrap();
}

/// Writes `files` (path inside `dir`, contents) and returns `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    for (path, bytes) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write");
    }
    dir.to_owned()
}

/// Polls `check` every 100 ms until it holds or `timeout` passes; returns the time it took.
pub async fn wait_for(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

/// Waits until the engine seeds `infohash`; panics with its status on timeout.
pub async fn wait_seeding(engine: &Engine, infohash: &InfoHash, timeout: Duration) -> Duration {
    let mut last: Option<TorrentStatus> = None;
    let start = Instant::now();
    loop {
        let status = engine.stats(infohash).expect("stats");
        if status.is_seeding() {
            return start.elapsed();
        }
        if start.elapsed() > timeout {
            panic!("{infohash} not seeding after {timeout:?}: {status:?} (before: {last:?})");
        }
        last = Some(status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// This process's I/O counters: bytes asked of `read`/`pread` (page cache included) and
/// bytes that came from the storage device.
#[derive(Debug, Clone, Copy, Default)]
pub struct IoCounters {
    pub rchar: u64,
    pub read_bytes: u64,
}

pub fn io_counters() -> IoCounters {
    let text = std::fs::read_to_string("/proc/self/io").expect("/proc/self/io");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    IoCounters {
        rchar: field("rchar:"),
        read_bytes: field("read_bytes:"),
    }
}

impl IoCounters {
    pub fn since(self, before: IoCounters) -> IoCounters {
        IoCounters {
            rchar: self.rchar - before.rchar,
            read_bytes: self.read_bytes - before.read_bytes,
        }
    }
}

/// CPU time (user + system) this process has used.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
