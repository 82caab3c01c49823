//! Measurements, not assertions: run with
//! `cargo test --release -p engine --test engine_measure -- --ignored --nocapture`.
//!
//! Adding a published 1 GiB file to the engine with our fastresume route (no second hash)
//! and without it (librqbit's full initial check), and restarting with it; the file is
//! evicted from the page cache before each step.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::io::Write;
use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig, TorrentSource};
use engine_support::{
    IoCounters, cpu_time, io_counters, mib, pseudo_random_bytes, publish, wait_seeding,
};

const GIB: usize = 1 << 30;

struct Measured {
    wall: Duration,
    cpu: Duration,
    io: IoCounters,
}

fn report(what: &str, m: &Measured) {
    println!(
        "{what:<48} wall {:>8.2?}  cpu {:>8.2?}  read {:>8.1} MiB (from disk {:.1} MiB)",
        m.wall,
        m.cpu,
        mib(m.io.rchar),
        mib(m.io.read_bytes)
    );
}

/// Drops the file from the page cache (GNU dd's `nocache`), so reads hit the disk as after
/// a reboot or on an archive larger than RAM.
fn evict(path: &std::path::Path) {
    let status = std::process::Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn measure<F: std::future::Future<Output = ()>>(f: F) -> Measured {
    let (io, cpu, start) = (io_counters(), cpu_time(), Instant::now());
    f.await;
    Measured {
        wall: start.elapsed(),
        cpu: cpu_time() - cpu,
        io: io_counters().since(io),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement: 1 GiB on disk, tens of seconds"]
async fn adding_a_published_1_gib_file_with_and_without_fastresume() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    let path = content.join("big.bin");
    {
        let mut file = std::fs::File::create(&path).unwrap();
        for i in 0..(GIB / (64 << 20)) {
            file.write_all(&pseudo_random_bytes(64 << 20, i as u64))
                .unwrap();
        }
    }
    let mut published = None;
    let m = measure(async { published = Some(publish(&path, None)) }).await;
    report("publisher: the one hash pass (SHA-1 pieces)", &m);
    let published = published.unwrap();

    evict(&path);
    let with_route = Engine::start(EngineConfig::new(tmp.path().join("a")).loopback())
        .await
        .unwrap();
    let m = measure(async {
        with_route
            .seed_existing(&published.torrent, &published.root)
            .await
            .unwrap();
        wait_seeding(&with_route, &published.infohash, Duration::from_secs(600)).await;
    })
    .await;
    report("seed_existing (fastresume written, spot-check)", &m);
    with_route.shutdown().await;

    evict(&path);
    let without = Engine::start(EngineConfig::new(tmp.path().join("b")).loopback())
        .await
        .unwrap();
    let m = measure(async {
        // Same files, no fastresume data: librqbit's full initial check.
        without
            .download(
                TorrentSource::Torrent(published.torrent.clone()),
                Some(&content),
                vec![],
            )
            .await
            .unwrap();
        wait_seeding(&without, &published.infohash, Duration::from_secs(600)).await;
    })
    .await;
    report("plain add of present data (full re-hash)", &m);
    without.shutdown().await;

    evict(&path);
    let mut restarted = None;
    let m = measure(async {
        let engine = Engine::start(EngineConfig::new(tmp.path().join("a")).loopback())
            .await
            .unwrap();
        wait_seeding(&engine, &published.infohash, Duration::from_secs(600)).await;
        restarted = Some(engine);
    })
    .await;
    report("restart holding it (fastresume)", &m);
    restarted.unwrap().shutdown().await;
}
