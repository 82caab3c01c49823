//! The BitTorrent engine on real sockets (127.0.0.1, port 0) and temp dirs: it seeds
//! published files to stock libtorrent and to another engine, and downloads byte-identical.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig, TorrentSource};
use engine_support::{
    io_counters, mib, pseudo_random_bytes, publish, publish_file, seed, wait_seeding, write_tree,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Tests here measure this process's read counters: run them one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TIMEOUT: Duration = Duration::from_secs(60);

async fn start_engine(dir: &Path) -> Engine {
    Engine::start(EngineConfig::new(dir).loopback())
        .await
        .expect("engine starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn libtorrent_downloads_a_published_file_from_our_listen_port() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, published) = publish_file(tmp.path(), "video.bin", 24 << 20, 1, Some(64 << 10));

    let engine = start_engine(&tmp.path().join("node")).await;
    assert!(engine.listen_addr().ip().is_loopback());
    assert_ne!(engine.listen_addr().port(), 0);

    // Publishing hashed the file once; seeding it must not read it all again.
    let before = io_counters();
    let start = Instant::now();
    let infohash = engine
        .seed_existing(&published.torrent, &published.root)
        .await
        .unwrap();
    assert_eq!(infohash, published.infohash);
    wait_seeding(&engine, &infohash, TIMEOUT).await;
    let read = io_counters().since(before);
    println!(
        "seeding a published {:.0} MiB file took {:?} and read {:.2} MiB (librqbit's spot-check)",
        mib(bytes.len() as u64),
        start.elapsed(),
        mib(read.rchar)
    );
    assert!(
        read.rchar < bytes.len() as u64 / 4,
        "re-read {} bytes",
        read.rchar
    );

    let torrent_file = tmp.path().join("video.torrent");
    std::fs::write(&torrent_file, &published.torrent).unwrap();
    let save_dir = tmp.path().join("libtorrent");
    std::fs::create_dir_all(&save_dir).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/lt_download_from_peer.py");
    let start = Instant::now();
    let output = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(&torrent_file)
        .arg(&save_dir)
        .arg(engine.listen_addr().to_string())
        .arg("60")
        .output()
        .expect("run python3");
    println!(
        "libtorrent: {} ({:?})",
        String::from_utf8_lossy(&output.stdout).trim(),
        start.elapsed()
    );
    assert!(
        output.status.success(),
        "libtorrent did not complete: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        std::fs::read(save_dir.join("video.bin")).unwrap() == bytes,
        "bytes differ"
    );

    let status = engine.stats(&infohash).unwrap();
    assert!(status.uploaded_bytes >= bytes.len() as u64, "{status:?}");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_engine_downloads_a_published_directory_byte_identical() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("album/cover.jpg", pseudo_random_bytes(300_001, 2)),
        ("album/disc 1/01.flac", pseudo_random_bytes(5 << 20, 3)),
        ("album/notes.txt", b"liner notes\n".to_vec()),
    ];
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    write_tree(&tmp.path().join("content"), &borrowed);
    let published = publish(&tmp.path().join("content/album"), Some(32 << 10));

    let seeder = start_engine(&tmp.path().join("a")).await;
    let infohash = seed(&seeder, &published, TIMEOUT).await;

    let follower = start_engine(&tmp.path().join("b")).await;
    let downloads = tmp.path().join("b-downloads");
    let start = Instant::now();
    let added = follower
        .download(
            TorrentSource::Torrent(published.torrent.clone()),
            Some(&downloads),
            vec![seeder.listen_addr()],
        )
        .await
        .unwrap();
    assert_eq!(added, infohash);
    tokio::time::timeout(TIMEOUT, follower.wait_until_complete(&infohash))
        .await
        .expect("download in time")
        .unwrap();
    println!(
        "second engine downloaded {:.1} MiB in {:?}",
        mib(published_len(&files)),
        start.elapsed()
    );

    for (path, bytes) in &files {
        let got = std::fs::read(downloads.join(path)).unwrap();
        assert!(&got == bytes, "{path} differs");
    }
    let status = follower.stats(&infohash).unwrap();
    assert!(
        status.complete && status.have_bytes == published_len(&files),
        "{status:?}"
    );
    wait_seeding(&follower, &infohash, TIMEOUT).await;
    assert_eq!(follower.list().len(), 1);

    follower.remove(&infohash, true).await.unwrap();
    assert!(follower.list().is_empty());
    assert!(
        !downloads.join("album/disc 1/01.flac").exists(),
        "files deleted"
    );
    assert!(
        tmp.path().join("content/album/disc 1/01.flac").exists(),
        "the seeder's files stay"
    );

    follower.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_magnet_link_streams_a_file_while_it_downloads() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, published) = publish_file(tmp.path(), "talk.ogg", 6 << 20, 4, Some(16 << 10));

    let seeder = start_engine(&tmp.path().join("a")).await;
    let infohash = seed(&seeder, &published, TIMEOUT).await;

    let viewer = start_engine(&tmp.path().join("c")).await;
    let magnet = format!("magnet:?xt=urn:btih:{infohash}");
    let added = viewer
        .download(
            TorrentSource::Magnet(magnet.clone()),
            None,
            vec![seeder.listen_addr()],
        )
        .await
        .unwrap();
    assert_eq!(added, infohash);
    // Known already: no second metadata fetch (there are no peers to fetch it from).
    let again = tokio::time::timeout(
        Duration::from_secs(5),
        viewer.download(TorrentSource::Magnet(magnet), None, vec![]),
    );
    assert_eq!(again.await.unwrap().unwrap(), infohash);
    let bad = viewer.download(TorrentSource::Magnet("magnet:?dn=x".into()), None, vec![]);
    assert!(bad.await.is_err());

    let mut stream = viewer.open_stream(&infohash, 0).await.unwrap();
    assert_eq!(stream.len(), bytes.len() as u64);
    // Seek into the middle first: those pieces come first.
    let middle = bytes.len() as u64 / 2;
    stream.seek(std::io::SeekFrom::Start(middle)).await.unwrap();
    let mut tail = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut tail))
        .await
        .unwrap()
        .unwrap();
    assert!(tail == bytes[middle as usize..], "streamed tail differs");
    stream.rewind().await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut all))
        .await
        .unwrap()
        .unwrap();
    assert!(all == bytes, "streamed file differs");
    drop(stream);

    assert!(
        viewer.open_stream(&infohash, 1).await.is_err(),
        "no second file"
    );
    tokio::time::timeout(TIMEOUT, viewer.wait_until_complete(&infohash))
        .await
        .unwrap()
        .unwrap();
    // A magnet download lands where a .torrent one would: DOWNLOAD_DIR/NAME.
    let on_disk = std::fs::read(tmp.path().join("c/downloads/talk.ogg")).unwrap();
    assert!(on_disk == bytes, "downloaded file differs");

    viewer.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peers_added_to_a_running_download_are_used() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, published) = publish_file(tmp.path(), "late.bin", 3 << 20, 5, Some(16 << 10));

    let seeder = start_engine(&tmp.path().join("a")).await;
    let infohash = seed(&seeder, &published, TIMEOUT).await;

    let mut config = EngineConfig::new(tmp.path().join("d")).loopback();
    config.peer_poll_interval = Duration::from_secs(1);
    let follower = Engine::start(config).await.unwrap();
    // Known to no one yet: it waits.
    follower
        .download(
            TorrentSource::Torrent(published.torrent.clone()),
            None,
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(follower.stats(&infohash).unwrap().have_bytes, 0);

    // The node's DHT found a peer: hand it over.
    let start = Instant::now();
    follower
        .add_peers(&infohash, &[seeder.listen_addr()])
        .unwrap();
    tokio::time::timeout(TIMEOUT, follower.wait_until_complete(&infohash))
        .await
        .expect("download in time")
        .unwrap();
    println!(
        "added peer used, download complete after {:?}",
        start.elapsed()
    );
    let on_disk = std::fs::read(tmp.path().join("d/downloads/late.bin")).unwrap();
    assert!(on_disk == bytes, "downloaded file differs");

    follower.shutdown().await;
    seeder.shutdown().await;
}

fn published_len(files: &[(&str, Vec<u8>)]) -> u64 {
    files.iter().map(|(_, b)| b.len() as u64).sum()
}
