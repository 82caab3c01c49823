//! A data dir left by an engine that kept librqbit's JSON session (`engine/session.json`,
//! `{infohash}.torrent`, `{infohash}.bitv`, as librqbit 9.1.0 writes them) moves into the
//! engine's session database at the first start: every torrent seeds again without a
//! re-hash, the JSON files are retired, and a bitfield that lies still costs a re-hash.
//!
//! Alone in its test binary, because it measures this process's read counters.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::path::Path;
use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig};
use engine_support::{Published, io_counters, mib, pseudo_random_bytes, publish, wait_for};

const TORRENTS: usize = 200;
const FILE_LEN: usize = 256 << 10;
const PIECE_LEN: u64 = 16 << 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_json_session_is_imported_once_and_resumes_without_rehashing() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    std::fs::create_dir_all(&content).unwrap();
    let published: Vec<Published> = (0..TORRENTS)
        .map(|i| {
            let path = content.join(format!("item-{i:04}.bin"));
            std::fs::write(&path, pseudo_random_bytes(FILE_LEN, 7000 + i as u64)).unwrap();
            publish(&path, Some(PIECE_LEN))
        })
        .collect();
    // The last one's file changed after its bitfield was saved: its claim is a lie.
    let liar = published.last().unwrap();
    let mut bytes = std::fs::read(&liar.root).unwrap();
    bytes[..64].fill(0);
    std::fs::write(&liar.root, &bytes).unwrap();

    let node = tmp.path().join("node");
    let state = node.join("engine");
    write_json_session(&state, &content, &published);
    let total = (TORRENTS * FILE_LEN) as u64;

    let before = io_counters();
    let start = Instant::now();
    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    let good = &published[..TORRENTS - 1];
    wait_for(Duration::from_secs(60), "imported torrents seeding", || {
        let list = engine.list();
        good.iter().all(|p| {
            list.iter()
                .any(|s| s.infohash == p.infohash && s.is_seeding())
        })
    })
    .await;
    let read = io_counters().since(before);
    println!(
        "imported {TORRENTS} torrents: {} seeding after {:?}, read {:.1} MiB of {:.0} MiB",
        good.len(),
        start.elapsed(),
        mib(read.rchar),
        mib(total)
    );
    // A re-hash reads every byte; librqbit's spot-checks read about 1 + H(15) of 16 pieces.
    assert!(
        read.rchar < total / 2,
        "read {} of {total}: re-hashed",
        read.rchar
    );
    // The lying bitfield failed its spot-check (the first piece of each file is always
    // checked): the whole torrent was hashed again and the bad piece is missing.
    let checked = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let status = engine.stats(&liar.infohash).unwrap();
            if status.have_bytes == FILE_LEN as u64 - PIECE_LEN {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        checked.is_ok(),
        "the changed torrent was not re-hashed: {:?}",
        engine.stats(&liar.infohash)
    );
    assert!(
        !state.join("session.json").exists(),
        "session.json still in use"
    );
    assert!(state.join("session.json.imported").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bitv") || n.ends_with(".torrent"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "JSON session files left: {leftovers:?}"
    );
    engine.shutdown().await;

    // The next start reads the database only, and still hashes nothing.
    let before = io_counters();
    let engine = Engine::start(EngineConfig::new(&node).loopback())
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(60),
        "all seeding after a restart",
        || engine.list().iter().filter(|s| s.is_seeding()).count() == good.len(),
    )
    .await;
    let read = io_counters().since(before);
    assert_eq!(engine.list().len(), TORRENTS);
    assert!(
        read.rchar < total / 2,
        "read {} of {total}: re-hashed",
        read.rchar
    );
    engine.shutdown().await;
}

/// What librqbit 9.1.0's JSON persistence leaves in `state` for torrents whose pieces are
/// all on disk, seeded read-only from `content` (as `Engine::seed_existing` did).
fn write_json_session(state: &Path, content: &Path, published: &[Published]) {
    std::fs::create_dir_all(state).unwrap();
    let mut torrents = serde_json::Map::new();
    for (id, p) in published.iter().enumerate() {
        let hex = p.infohash.to_hex();
        let folder = content.to_str().unwrap();
        torrents.insert(
            id.to_string(),
            serde_json::json!({
                "info_hash": hex,
                "trackers": [],
                "output_folder": folder,
                "only_files": null,
                "is_paused": false,
            }),
        );
        std::fs::write(state.join(format!("{hex}.torrent")), &p.torrent).unwrap();
        let pieces = FILE_LEN / PIECE_LEN as usize;
        std::fs::write(state.join(format!("{hex}.bitv")), vec![0xffu8; pieces / 8]).unwrap();
        // The liar is a download (librqbit's storage): after its re-hash it just lacks a piece.
        if id + 1 < published.len() {
            std::fs::write(state.join(format!("{hex}.read-only")), folder).unwrap();
        }
    }
    let session = serde_json::json!({ "torrents": torrents });
    std::fs::write(state.join("session.json"), session.to_string()).unwrap();
}
