//! Two nodes in one process keep their own state: what one counts in `/metrics` the other
//! does not (the counters were process-global statics once).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use data_dir::DataDir;
use publisher::publish::PublishRequest;
use publisher::torrent::TorrentOptions;
use seeder::config::NodeConfig;
use seeder::node::{Node, ScrubConfig};

/// `name`'s value in the node's `/metrics` (read over HTTP, as Prometheus would).
async fn metric(node: &Node, name: &str) -> Option<f64> {
    let url = format!("http://{}/metrics", node.handle().http_addr);
    let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A node for this test: loopback, any free ports, no DHT bootstrap, fast loops, a scrub
/// that re-hashes every second. (Test configuration lives here, not on `NodeConfig`.)
async fn start(dir: &Path) -> Node {
    let config = NodeConfig {
        data_dir: dir.to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        bind_ip: Ipv4Addr::LOCALHOST,
        bt_port: 0,
        dht_port: 0,
        dht_bootstrap: Vec::new(),
        poll_interval_secs: 2,
        republish_interval_secs: 10,
        allow_private_fetch: true,
        scrub: ScrubConfig {
            interval_secs: 1,
            rate: 100 << 20,
            check_secs: 1,
        },
        ..NodeConfig::default()
    };
    Node::start(config, |_| axum::Router::new())
        .await
        .expect("node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verify_failure_counts_on_the_node_that_found_it_and_not_on_another_in_the_same_process()
{
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("film.bin");
    let mut out = std::fs::File::create(&file).unwrap();
    for i in 0..(256u32 << 10) {
        out.write_all(&i.to_le_bytes()).unwrap();
    }
    drop(out);
    let data = DataDir::new(tmp.path().join("a"));
    data.keystore().generate("alice", true).unwrap();
    let request = PublishRequest {
        path: file.clone(),
        torrent: TorrentOptions {
            blake3: true,
            ..TorrentOptions::default()
        },
        ..PublishRequest::default()
    };
    publisher::publish::publish(&data, &request, 1_700_000_000, &|_| {}).unwrap();

    let a = start(data.root()).await;
    let b = start(&tmp.path().join("b")).await;
    assert_eq!(metric(&a, "swarmfeed_verify_failures").await, Some(0.0));
    assert_eq!(metric(&b, "swarmfeed_verify_failures").await, Some(0.0));

    // The published file changes under node A, length and mtime kept: A's scrub finds it.
    let before = std::fs::metadata(&file).unwrap();
    let handle = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    handle.write_all_at(b"EDITED!", before.len() / 2).unwrap();
    handle.set_modified(before.modified().unwrap()).unwrap();
    drop(handle);
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&a, "swarmfeed_verify_failures").await != Some(1.0) {
        assert!(
            Instant::now() < deadline,
            "node A's scrub never counted the edit"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(a.handle().metrics().verify_failures(), 1);
    // Node B holds nothing that failed: its count stays at zero.
    assert_eq!(metric(&b, "swarmfeed_verify_failures").await, Some(0.0));
    assert_eq!(b.handle().metrics().verify_failures(), 0);
    a.shutdown().await;
    b.shutdown().await;
}
