//! Published files are seeded read-only: the engine never opens them for writing, so
//! seeding, serving a peer, restarting and removing leave them exactly as they were — their
//! bytes, length, modification and change times.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use engine::{Engine, EngineConfig, TorrentSource};
use engine_support::{pseudo_random_bytes, publish, seed, wait_seeding, write_tree};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn start_engine(dir: &Path) -> Engine {
    Engine::start(EngineConfig::new(dir).loopback())
        .await
        .expect("engine starts")
}

/// (length, mtime ns, ctime ns, inode) of each file.
fn stamps(paths: &[std::path::PathBuf]) -> Vec<(u64, i64, i64, i64, i64, u64)> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).unwrap();
            (
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
                m.ino(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeding_serving_restarting_and_removing_never_touch_published_files() {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("set/a.bin", pseudo_random_bytes(700_001, 7)),
        ("set/sub/b.bin", pseudo_random_bytes(2 << 20, 8)),
    ];
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    write_tree(&tmp.path().join("content"), &borrowed);
    let paths: Vec<_> = files
        .iter()
        .map(|(p, _)| tmp.path().join("content").join(p))
        .collect();
    let published = publish(&tmp.path().join("content/set"), Some(32 << 10));
    // Coarse file-system clocks: make any later change visible.
    std::thread::sleep(Duration::from_millis(20));
    let before = stamps(&paths);

    let state = tmp.path().join("a");
    let seeder = start_engine(&state).await;
    let infohash = seed(&seeder, &published, TIMEOUT).await;

    let follower = start_engine(&tmp.path().join("b")).await;
    let downloads = tmp.path().join("b-downloads");
    follower
        .download(
            TorrentSource::Torrent(published.torrent.clone()),
            Some(&downloads),
            vec![seeder.listen_addr()],
        )
        .await
        .unwrap();
    tokio::time::timeout(TIMEOUT, follower.wait_until_complete(&infohash))
        .await
        .expect("download in time")
        .unwrap();
    for (path, bytes) in &files {
        assert!(&std::fs::read(downloads.join(path)).unwrap() == bytes);
    }
    follower.shutdown().await;
    seeder.shutdown().await;
    assert_eq!(
        stamps(&paths),
        before,
        "seeding and serving touched the files"
    );

    // Restarted from the saved session: still read-only.
    let seeder = start_engine(&state).await;
    wait_seeding(&seeder, &infohash, TIMEOUT).await;
    assert_eq!(stamps(&paths), before, "a restart touched the files");

    // Asked to delete the files with the torrent: the publisher's files stay.
    seeder.remove(&infohash, true).await.unwrap();
    seeder.shutdown().await;
    assert_eq!(stamps(&paths), before, "removing touched the files");
    for (path, bytes) in &files {
        let got = std::fs::read(tmp.path().join("content").join(path)).unwrap();
        assert!(&got == bytes, "{path} changed");
    }
}
