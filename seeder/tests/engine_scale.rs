//! A measurement, not an assertion: how long adding torrent #N to the engine takes as N
//! grows (librqbit's JSON session persistence rewrites the whole session file on every
//! add). Run with
//! `SWARMFEED_SCALE_N=20000 cargo test --release -p seeder --test engine_scale -- --ignored --nocapture`;
//! it prints, per batch of 1,000 adds, the mean time of one add and the session file's size,
//! and stops early once one add takes more than a second.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::time::{Duration, Instant};

use engine_support::{pseudo_random_bytes, publish};
use seeder::engine::{Engine, EngineConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: minutes, tens of thousands of files"]
async fn time_to_add_torrent_n_as_the_session_grows() {
    let n: usize = std::env::var("SWARMFEED_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    let node = tmp.path().join("node");
    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    let session_size = || walk_size(&node.join("engine"), "json");
    println!("adds        mean per add   session JSON");
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
                session_size() as f64 / (1 << 20) as f64,
                started.elapsed()
            );
            batch = Duration::ZERO;
            if mean > Duration::from_secs(1) {
                println!("stopping: one add takes over a second");
                break;
            }
        }
    }
    engine.shutdown().await;
}

/// Bytes of the files under `dir` whose name ends with `.{ext}`.
fn walk_size(dir: &std::path::Path, ext: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk_size(&path, ext)
            } else if path.extension().is_some_and(|x| x == ext) {
                e.metadata().map_or(0, |m| m.len())
            } else {
                0
            }
        })
        .sum()
}
