//! The engine keeps a bounded number of torrent files open, over every torrent: files are
//! opened when read or written and the least recently used closed. librqbit's own storage
//! keeps every file of every torrent open, so an archive node ran out of file descriptors
//! (`docs/engine-gaps.md`).
//!
//! One engine seeds 200 published torrents of 3 files each (600 files) with a bound of 16;
//! a second engine, bound 16 too, downloads a dozen of them at once, and stock libtorrent
//! one more. Every download is byte-identical, and the descriptors this process has open
//! on published or downloaded files, sampled every 5 ms throughout, never exceed the two
//! bounds plus the few a read or write in flight may still hold after its file was evicted.
//! A download saved without a placement (by an engine from before them) runs on librqbit's
//! storage once and is bounded from the next start.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig, TorrentSource};
use engine_support::{Published, pseudo_random_bytes, publish, wait_seeding, write_tree};

const TIMEOUT: Duration = Duration::from_secs(90);
const TORRENTS: usize = 200;
const BOUND: usize = 16;
/// Files evicted while a read or write still holds them (one per blocking thread at most,
/// in practice a handful).
const IN_FLIGHT_MARGIN: usize = 16;
const DOWNLOADED: usize = 12;
/// Descriptors of two engines besides torrent files: listeners, uTP and tracker sockets,
/// peer connections, runtime wake-ups.
const ENGINE_MARGIN: usize = 96;

async fn start_engine(dir: &Path) -> Engine {
    let mut config = EngineConfig::new(dir).loopback();
    config.max_open_files = Some(BOUND);
    Engine::start(config).await.expect("engine starts")
}

/// What this process's descriptors point at.
fn fd_targets() -> Vec<PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .collect()
}

/// Descriptors of this process open on files under `dir`.
fn fds_under(dir: &Path) -> usize {
    fd_targets().iter().filter(|t| t.starts_with(dir)).count()
}

/// Every descriptor of this process but those on the engines' own state under `state`
/// (librqbit's JSON persistence keeps each torrent's fastresume bitfield open: not torrent
/// data, and not what the bound is about).
fn fds_outside(state: &Path) -> usize {
    fd_targets()
        .iter()
        .filter(|t| !t.starts_with(state))
        .count()
}

/// Samples a descriptor count every 5 ms until stopped; the highest count seen.
struct FdSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl FdSampler {
    fn start(count: impl Fn() -> usize + Send + 'static) -> FdSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicUsize::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(count(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        FdSampler { stop, max, thread }
    }

    fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.max.load(Ordering::Relaxed)
    }
}

/// The three files of torrent `i`: sizes that make pieces (16 KiB) span files.
fn torrent_files(i: usize) -> Vec<(String, Vec<u8>)> {
    let seed = i as u64 * 3;
    vec![
        (
            format!("t{i:03}/a.bin"),
            pseudo_random_bytes(21_000 + i, seed),
        ),
        (
            format!("t{i:03}/sub/b.bin"),
            pseudo_random_bytes(37_000, seed + 1),
        ),
        (
            format!("t{i:03}/c.bin"),
            pseudo_random_bytes(9_000 + 7 * i, seed + 2),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_torrents_are_seeded_and_downloaded_with_a_bounded_number_of_open_files() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    let all_files: Vec<Vec<(String, Vec<u8>)>> = (0..TORRENTS).map(torrent_files).collect();
    let mut published: Vec<Published> = Vec::new();
    for files in &all_files {
        let borrowed: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .collect();
        write_tree(&content, &borrowed);
        let dir = content.join(Path::new(&files[0].0).parent().unwrap());
        published.push(publish(&dir, Some(16 << 10)));
    }

    let state = tmp.path().join("state");
    let before = fds_outside(&state);
    let all_fds = FdSampler::start({
        let state = state.clone();
        move || fds_outside(&state)
    });
    let seeding_fds = FdSampler::start({
        let content = content.clone();
        move || fds_under(&content)
    });
    let seeder = start_engine(&state.join("seeder")).await;
    assert_eq!(seeder.max_open_files(), BOUND);
    let start = Instant::now();
    for p in &published {
        seeder.seed_existing(&p.torrent, &p.root).await.unwrap();
    }
    for p in &published {
        wait_seeding(&seeder, &p.infohash, TIMEOUT).await;
    }
    println!(
        "{TORRENTS} torrents ({} files) seeding after {:?}; {} published files open, {} opens",
        TORRENTS * 3,
        start.elapsed(),
        fds_under(&content),
        seeder.open_files().1
    );

    let opens_before_serving = seeder.open_files().1;

    // A second engine downloads a dozen torrents at once from the first.
    let downloads = tmp.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let downloading_fds = FdSampler::start({
        let downloads = downloads.clone();
        move || fds_under(&downloads)
    });
    let follower = start_engine(&state.join("follower")).await;
    let chosen: Vec<usize> = (0..DOWNLOADED)
        .map(|k| k * TORRENTS / DOWNLOADED + 3)
        .collect();
    let start = Instant::now();
    for &i in &chosen {
        follower
            .download(
                TorrentSource::Torrent(published[i].torrent.clone()),
                Some(&downloads),
                vec![seeder.listen_addr()],
            )
            .await
            .unwrap();
    }
    for &i in &chosen {
        tokio::time::timeout(
            TIMEOUT,
            follower.wait_until_complete(&published[i].infohash),
        )
        .await
        .expect("download in time")
        .unwrap();
    }
    println!(
        "{DOWNLOADED} torrents ({} files) downloaded in {:?}; {} opens by the follower",
        DOWNLOADED * 3,
        start.elapsed(),
        follower.open_files().1
    );
    for &i in &chosen {
        for (path, bytes) in &all_files[i] {
            let got = std::fs::read(downloads.join(path)).unwrap();
            assert!(&got == bytes, "{path} differs");
        }
    }

    // Stock libtorrent downloads one more from the bounded seeder.
    let other = 101;
    let torrent_file = tmp.path().join("other.torrent");
    std::fs::write(&torrent_file, &published[other].torrent).unwrap();
    let lt_dir = tmp.path().join("libtorrent");
    std::fs::create_dir_all(&lt_dir).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/lt_download_from_peer.py");
    let output = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(&torrent_file)
        .arg(&lt_dir)
        .arg(seeder.listen_addr().to_string())
        .arg("60")
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "libtorrent did not complete: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (path, bytes) in &all_files[other] {
        let got = std::fs::read(lt_dir.join(path)).unwrap();
        assert!(&got == bytes, "{path} differs (libtorrent)");
    }

    let most_seeding = seeding_fds.stop();
    let most_downloading = downloading_fds.stop();
    let most_in_all = all_fds.stop();
    let (open_now, opens) = seeder.open_files();
    println!(
        "most descriptors open at once: {most_seeding} on published files (bound {BOUND}), \
         {most_downloading} on downloaded files (bound {BOUND}), {most_in_all} in all but \
         the engines' state ({before} before the engines started); seeder: {open_now} open \
         now, {opens} opens in all"
    );
    // Both engines' sockets (listeners, uTP, trackers, peers), runtimes and the bounded
    // data files: far below the 600 + 36 data files alone of librqbit's storage.
    assert!(
        most_in_all <= before + 2 * (BOUND + IN_FLIGHT_MARGIN) + ENGINE_MARGIN,
        "{most_in_all} descriptors open at once ({before} before the engines started)"
    );
    assert!(
        most_seeding <= BOUND + IN_FLIGHT_MARGIN,
        "{most_seeding} published files were open at once"
    );
    assert!(
        most_downloading <= BOUND + IN_FLIGHT_MARGIN,
        "{most_downloading} downloaded files were open at once"
    );
    assert!(
        most_seeding > 0 && most_downloading > 0,
        "the sampler saw nothing"
    );
    // Serving reopened files closed long before: the bound was really exercised.
    assert!(opens as usize >= TORRENTS * 3, "only {opens} opens");
    assert!(
        opens > opens_before_serving,
        "serving opened nothing ({opens} opens in all)"
    );

    // Removing a download with its files deletes them (and closes them first).
    let removed = &published[chosen[0]];
    follower.remove(&removed.infohash, true).await.unwrap();
    let removed_dir = downloads.join(Path::new(&all_files[chosen[0]][0].0).parent().unwrap());
    assert!(!removed_dir.exists(), "{removed_dir:?} is still there");
    let names: HashSet<_> = std::fs::read_dir(&downloads)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), DOWNLOADED - 1, "{names:?}");

    follower.shutdown().await;
    seeder.shutdown().await;
}

/// The `.download` placement markers in an engine's state directory.
fn download_markers(data_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir.join("engine"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "download"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_download_saved_without_a_placement_is_adopted_and_bounded_from_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    let files: Vec<(String, Vec<u8>)> = (0..6)
        .map(|k| {
            (
                format!("set/f{k}.bin"),
                pseudo_random_bytes(20_000, 100 + k),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    write_tree(&content, &borrowed);
    let published = publish(&content.join("set"), Some(16 << 10));
    let seeder = start_engine(&tmp.path().join("seeder")).await;
    seeder
        .seed_existing(&published.torrent, &published.root)
        .await
        .unwrap();

    let follower_dir = tmp.path().join("follower");
    let downloads = tmp.path().join("downloads");
    let start_follower = || async {
        let mut config = EngineConfig::new(&follower_dir).loopback();
        config.max_open_files = Some(4);
        Engine::start(config).await.expect("engine starts")
    };
    let follower = start_follower().await;
    follower
        .download(
            TorrentSource::Torrent(published.torrent.clone()),
            Some(&downloads),
            vec![seeder.listen_addr()],
        )
        .await
        .unwrap();
    tokio::time::timeout(TIMEOUT, follower.wait_until_complete(&published.infohash))
        .await
        .expect("download in time")
        .unwrap();
    follower.shutdown().await;

    // As an engine from before placement markers left it.
    let markers = download_markers(&follower_dir);
    assert_eq!(markers.len(), 1, "{markers:?}");
    std::fs::remove_file(&markers[0]).unwrap();

    // This run it has librqbit's storage (every file open), and it is marked for the next.
    let follower = start_follower().await;
    wait_seeding(&follower, &published.infohash, TIMEOUT).await;
    assert_eq!(
        fds_under(&downloads),
        files.len(),
        "librqbit's storage this run"
    );
    assert_eq!(download_markers(&follower_dir).len(), 1, "not adopted");
    follower.shutdown().await;

    let follower = start_follower().await;
    wait_seeding(&follower, &published.infohash, TIMEOUT).await;
    assert!(
        fds_under(&downloads) <= 4,
        "{} files open",
        fds_under(&downloads)
    );
    for (path, bytes) in &files {
        assert!(
            &std::fs::read(downloads.join(path)).unwrap() == bytes,
            "{path} differs"
        );
    }
    follower.shutdown().await;
    seeder.shutdown().await;
}
