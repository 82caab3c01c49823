//! A node holding 1,000 torrents restarts and seeds all of them again within 5 s, without
//! re-hashing: librqbit's fastresume bitfields (which our engine writes for published
//! content) are trusted after a spot-check of a few pieces per torrent.
//!
//! Alone in its test binary, because it measures this process's read counters.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig, TorrentSource};
use engine_support::{
    cpu_time, io_counters, mib, pseudo_random_bytes, publish, wait_for, wait_seeding,
};

const TORRENTS: usize = 1000;
const FILE_LEN: usize = 256 << 10;
const PIECE_LEN: u64 = 16 << 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_with_1000_torrents_seeds_again_within_5_s_without_rehashing() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    let start = Instant::now();
    let published: Vec<_> = (0..TORRENTS)
        .map(|i| {
            let path = content.join(format!("item-{i:04}.bin"));
            std::fs::write(&path, pseudo_random_bytes(FILE_LEN, 1000 + i as u64)).unwrap();
            publish(&path, Some(PIECE_LEN))
        })
        .collect();
    let total = (TORRENTS * FILE_LEN) as u64;
    println!(
        "published {TORRENTS} torrents ({:.0} MiB) in {:?}",
        mib(total),
        start.elapsed()
    );

    let node = tmp.path().join("node");
    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    let start = Instant::now();
    let before = io_counters();
    for p in &published {
        engine.seed_existing(&p.torrent, &p.root).await.unwrap();
    }
    let added = start.elapsed();
    wait_for(Duration::from_secs(60), "all seeding", || {
        engine.list().iter().filter(|s| s.is_seeding()).count() == TORRENTS
    })
    .await;
    println!(
        "first start: added {TORRENTS} in {added:?}, all seeding after {:?}, read {:.1} MiB of {:.0} MiB",
        start.elapsed(),
        mib(io_counters().since(before).rchar),
        mib(total)
    );
    engine.shutdown().await;

    let before = io_counters();
    let cpu_before = cpu_time();
    let start = Instant::now();
    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    let restored = start.elapsed();
    wait_for(
        Duration::from_secs(60),
        "all seeding after the restart",
        || engine.list().iter().filter(|s| s.is_seeding()).count() == TORRENTS,
    )
    .await;
    let seeding = start.elapsed();
    let read = io_counters().since(before);
    println!(
        "restart: {TORRENTS} torrents restored in {restored:?}, all seeding after {seeding:?}; \
         read {:.1} MiB of {:.0} MiB of data ({:.0}%, librqbit's spot-checks), CPU {:?}",
        mib(read.rchar),
        mib(total),
        100.0 * read.rchar as f64 / total as f64,
        cpu_time() - cpu_before,
    );
    assert!(
        seeding < Duration::from_secs(5),
        "seeding again took {seeding:?}"
    );
    // A full re-hash reads every byte; the spot-checks read about 1 + H(15) of 16 pieces.
    assert!(
        read.rchar < total / 2,
        "read {} of {total} bytes: re-hashed",
        read.rchar
    );

    // And it really serves: another engine downloads one of them from it.
    let tmp2 = tempfile::tempdir().unwrap();
    let leecher = Engine::start(EngineConfig::new(tmp2.path()).loopback())
        .await
        .unwrap();
    let last = published.last().unwrap();
    leecher
        .download(
            TorrentSource::Torrent(last.torrent.clone()),
            None,
            vec![engine.listen_addr()],
        )
        .await
        .unwrap();
    wait_seeding(&leecher, &last.infohash, Duration::from_secs(30)).await;
    let got = std::fs::read(
        tmp2.path()
            .join("downloads")
            .join(last.root.file_name().unwrap()),
    )
    .unwrap();
    assert!(
        got == std::fs::read(&last.root).unwrap(),
        "downloaded bytes differ"
    );

    leecher.shutdown().await;
    engine.shutdown().await;
}
