//! A measurement, not an assertion: how long adding torrent #N to the engine takes as N
//! grows (librqbit's JSON session persistence rewrote the whole session file on every add;
//! the engine's SQLite store writes a row: see docs/engine-gaps.md). Run with
//! `SWARMFEED_SCALE_N=50000 cargo test -p engine --test engine_scale -- --ignored --nocapture`;
//! it prints, per batch of 1,000 adds, the mean time of one add and the size of the engine's
//! state directory, and stops early once one add takes more than a second; then the engine's
//! idle CPU, and how long a restart takes until every torrent seeds again.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig};
use engine_support::{cpu_time, pseudo_random_bytes, publish};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: minutes, tens of thousands of files"]
async fn time_to_add_torrent_n_as_the_session_grows() {
    let n: usize = std::env::var("SWARMFEED_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let limit = engine::raise_open_file_limit().unwrap();
    println!("open-file limit {limit}");
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    let node = tmp.path().join("node");
    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    let state_size = || walk_size(&node.join("engine"));
    println!("adds        mean per add   engine state");
    let mut batch = Duration::ZERO;
    let started = Instant::now();
    for i in 0..n {
        let path = content.join(format!("item-{i:06}.bin"));
        std::fs::write(&path, pseudo_random_bytes(1024, i as u64)).unwrap();
        let published = publish(&path, Some(16 << 10));
        let t = Instant::now();
        engine
            .seed_existing(&published.torrent, &published.root)
            .await
            .unwrap();
        batch += t.elapsed();
        if (i + 1) % 1000 == 0 {
            let mean = batch / 1000;
            println!(
                "{:>6}   {:>12.2?}   {:>8.1} MiB   (wall {:.0?})",
                i + 1,
                mean,
                state_size() as f64 / (1 << 20) as f64,
                started.elapsed()
            );
            batch = Duration::ZERO;
            if mean > Duration::from_secs(1) {
                println!("stopping: one add takes over a second");
                break;
            }
        }
    }
    // What the torrents cost while nothing happens (librqbit's per-torrent timers).
    let (cpu, wall) = (cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "idle with {} torrents: {:.0}% of a core",
        engine.list().len(),
        100.0 * (cpu_time() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64()
    );
    let held = engine.list().len();
    engine.shutdown().await;

    // And back: how long until every torrent seeds again (fastresume: no re-hash).
    let (cpu, started) = (cpu_time(), Instant::now());
    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    let restored = started.elapsed();
    loop {
        let seeding = engine.list().iter().filter(|s| s.is_seeding()).count();
        if seeding == held || started.elapsed() > Duration::from_secs(600) {
            println!(
                "restart: {held} torrents restored in {restored:.1?}, {seeding} seeding after \
                 {:.1?}, CPU {:.1?}",
                started.elapsed(),
                cpu_time() - cpu
            );
            break;
        }
        // Listing every torrent is not free at this scale: not too often.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    engine.shutdown().await;
}

/// Bytes of the files under `dir`.
fn walk_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk_size(&path)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}
