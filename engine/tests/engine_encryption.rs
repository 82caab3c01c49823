//! Protocol encryption (MSE/PE) in the engine, on real sockets (127.0.0.1, port 0): the
//! engine downloads from a stock libtorrent seeder that requires encryption (qBittorrent's
//! "require encryption"), and broken or truncated encrypted handshakes cost the peer its
//! connection while the engine goes on serving.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod engine_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use engine::{Encryption, Engine, EngineConfig};
use engine_support::{download_all, pseudo_random_bytes, publish_file, seed};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Stock libtorrent seeding `torrent` from `data_dir`, killed when dropped.
struct LibtorrentSeeder {
    child: Child,
    port: u16,
}

impl LibtorrentSeeder {
    fn start(torrent: &Path, data_dir: &Path, forced: bool) -> LibtorrentSeeder {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/lt_seed.py");
        let mut command = Command::new("/usr/bin/python3");
        command.arg(script).arg(torrent).arg(data_dir);
        if forced {
            command.arg("forced");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3 (python3-libtorrent)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("libtorrent did not start seeding: {line:?}"));
        LibtorrentSeeder { child, port }
    }
}

impl Drop for LibtorrentSeeder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_engine_downloads_from_libtorrent_requiring_encryption() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, published) = publish_file(tmp.path(), "forced.bin", 4 << 20, 31, Some(64 << 10));
    let torrent = tmp.path().join("forced.torrent");
    std::fs::write(&torrent, &published.torrent).unwrap();
    let seeder = LibtorrentSeeder::start(&torrent, &tmp.path().join("content"), true);

    // The engine on its defaults (encryption enabled): whichever handshake it tries first,
    // it must end up encrypted, the only kind this libtorrent accepts.
    let engine = Engine::start(EngineConfig::new(tmp.path().join("node")).loopback())
        .await
        .unwrap();
    assert_eq!(EngineConfig::default().encryption, Encryption::Enabled);
    let start = Instant::now();
    let peer = SocketAddr::from(([127, 0, 0, 1], seeder.port));
    download_all(
        &engine,
        &published,
        vec![peer],
        TIMEOUT,
        "download from libtorrent (forced encryption) in time",
    )
    .await;
    println!(
        "downloaded {} MiB from libtorrent requiring encryption in {:?}",
        bytes.len() >> 20,
        start.elapsed()
    );
    let on_disk = std::fs::read(tmp.path().join("node/downloads/forced.bin")).unwrap();
    assert!(on_disk == bytes, "downloaded file differs");
    engine.shutdown().await;
}

/// Sends `bytes` on a new connection to `addr` and waits for the engine to close it.
fn connection_is_closed(addr: SocketAddr, bytes: &[u8], what: &str) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => break,
            // The engine's answer to an encrypted handshake's start (its key and padding).
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{what}: the engine kept the connection open: {e}"),
        }
    }
    println!("{what}: closed after {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_and_truncated_handshakes_cost_one_connection_not_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, published) = publish_file(tmp.path(), "kept.bin", 2 << 20, 32, Some(32 << 10));

    let mut config = EngineConfig::new(tmp.path().join("a")).loopback();
    config.encryption = Encryption::Enabled;
    let seeder = Engine::start(config).await.unwrap();
    seed(&seeder, &published, TIMEOUT).await;
    let addr = seeder.listen_addr();

    // A key that is a valid Diffie-Hellman value (below P), then what follows it.
    let mut ya = vec![0x7f; 96];
    ya[95] = 0x11;
    let with = |tail: &[u8]| [ya.as_slice(), tail].concat();
    let junk = pseudo_random_bytes(700, 33);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a truncated key", ya[..40].to_vec()),
        ("a key of all ones (not below P)", vec![0xff; 96]),
        ("a key and no sync hash in 628 bytes", with(&junk)),
        (
            "a plain handshake cut short",
            b"\x13BitTorrent prot".to_vec(),
        ),
        ("a key then silence", ya.clone()),
    ];
    // Each at once, all open together: none may hold up the others or the engine.
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(what, bytes)| std::thread::spawn(move || connection_is_closed(addr, &bytes, what)))
        .collect();
    for h in handles {
        h.join().unwrap();
    }

    // The engine still serves: a second engine requiring encryption downloads everything.
    let mut config = EngineConfig::new(tmp.path().join("b")).loopback();
    config.encryption = Encryption::Forced;
    let leecher = Engine::start(config).await.unwrap();
    download_all(
        &leecher,
        &published,
        vec![addr],
        TIMEOUT,
        "download in time after the broken handshakes",
    )
    .await;
    let on_disk = std::fs::read(tmp.path().join("b/downloads/kept.bin")).unwrap();
    assert!(on_disk == bytes, "downloaded file differs");
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// Which handshake an outgoing connection should try first with encryption `enabled`:
/// the time for an engine to fetch a small torrent from stock libtorrent, by libtorrent's
/// setting and the engine's. `disabled` is what plaintext-first costs and `forced` what
/// encrypted-first costs against a peer that takes either; `enabled` against a peer that
/// takes only one kind shows the cost of a refused first try. A measurement, not a check:
/// `cargo test -p seeder --test engine_encryption -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn outgoing_handshake_order_measurement() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, published) = publish_file(tmp.path(), "small.bin", 1 << 20, 34, Some(64 << 10));
    let torrent = tmp.path().join("small.torrent");
    std::fs::write(&torrent, &published.torrent).unwrap();
    let rounds = 7;
    for (lt_mode, forced) in [("libtorrent defaults", false), ("libtorrent forced", true)] {
        let seeder = LibtorrentSeeder::start(&torrent, &tmp.path().join("content"), forced);
        let peer = SocketAddr::from(([127, 0, 0, 1], seeder.port));
        for encryption in [
            Encryption::Disabled,
            Encryption::Forced,
            Encryption::Enabled,
        ] {
            if forced && encryption == Encryption::Disabled {
                continue;
            }
            let mut times = Vec::new();
            for round in 0..rounds {
                let dir = tmp
                    .path()
                    .join(format!("e-{forced}-{encryption:?}-{round}"));
                let mut config = EngineConfig::new(&dir).loopback();
                config.encryption = encryption;
                let engine = Engine::start(config).await.unwrap();
                let start = Instant::now();
                download_all(&engine, &published, vec![peer], TIMEOUT, "download in time").await;
                times.push(start.elapsed());
                engine.shutdown().await;
            }
            times.sort();
            println!(
                "{lt_mode:20} engine {encryption:?}: median {:?} (min {:?}, max {:?}) over {rounds}",
                times[rounds / 2],
                times[0],
                times[rounds - 1]
            );
        }
    }
}
