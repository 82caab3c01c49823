//! The engine's session state in its SQLite store (`DATA/engine/session.db`): adds made at
//! once each keep their own torrent (ids are allocated atomically, no add lock), and a
//! finished download's bitfield, flushed by librqbit through the store, brings it back
//! complete after a restart without a re-hash.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use engine::{Engine, EngineConfig, TorrentSource};
use engine_support::{io_counters, mib, pseudo_random_bytes, publish, wait_for, wait_seeding};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn torrents_added_at_once_each_stay_and_all_come_back_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    let published: Vec<_> = (0..40)
        .map(|i| {
            let path = content.join(format!("item-{i:02}.bin"));
            std::fs::write(&path, pseudo_random_bytes(4096, 500 + i)).unwrap();
            publish(&path, Some(16 << 10))
        })
        .collect();
    let expected: BTreeSet<_> = published.iter().map(|p| p.infohash).collect();

    let node = tmp.path().join("node");
    let engine = Arc::new(
        Engine::start(EngineConfig::new(&node).loopback())
            .await
            .unwrap(),
    );
    let mut adds = tokio::task::JoinSet::new();
    for p in published {
        let engine = engine.clone();
        adds.spawn(async move { engine.seed_existing(&p.torrent, &p.root).await });
    }
    let mut added = BTreeSet::new();
    while let Some(result) = adds.join_next().await {
        added.insert(result.unwrap().unwrap());
    }
    assert_eq!(added, expected);
    let held: BTreeSet<_> = engine.list().iter().map(|s| s.infohash).collect();
    assert_eq!(held, expected, "an add made at the same time was lost");
    Arc::into_inner(engine).unwrap().shutdown().await;

    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(30),
        "all seeding after a restart",
        || engine.list().iter().filter(|s| s.is_seeding()).count() == expected.len(),
    )
    .await;
    let held: BTreeSet<_> = engine.list().iter().map(|s| s.infohash).collect();
    assert_eq!(held, expected);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finished_download_is_complete_after_a_restart_without_rehashing() {
    const LEN: usize = 8 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("album.bin");
    std::fs::write(&path, pseudo_random_bytes(LEN, 77)).unwrap();
    let published = publish(&path, Some(16 << 10));
    let seeder = Engine::start(EngineConfig::new(tmp.path().join("seeder")).loopback())
        .await
        .unwrap();
    seeder
        .seed_existing(&published.torrent, &published.root)
        .await
        .unwrap();

    let node = tmp.path().join("leecher");
    let leecher = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    leecher
        .download(
            TorrentSource::Torrent(published.torrent.clone()),
            None,
            vec![seeder.listen_addr()],
        )
        .await
        .unwrap();
    wait_seeding(&leecher, &published.infohash, Duration::from_secs(60)).await;
    leecher.shutdown().await;
    seeder.shutdown().await;

    let before = io_counters();
    let leecher = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    wait_seeding(&leecher, &published.infohash, Duration::from_secs(10)).await;
    let read = io_counters().since(before).rchar;
    println!(
        "restart: read {:.2} MiB of {:.0} MiB",
        mib(read),
        mib(LEN as u64)
    );
    assert!(
        read < LEN as u64 / 2,
        "read {read} of {LEN} bytes: re-hashed"
    );
    let got = std::fs::read(node.join("downloads").join("album.bin")).unwrap();
    assert!(
        got == std::fs::read(&path).unwrap(),
        "downloaded bytes differ"
    );
    leecher.shutdown().await;
}
