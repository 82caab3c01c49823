//! Stock torrent clients fetch what a node publishes, with no swarmfeed software at all:
//! libtorrent by magnet link through our DHT alone, aria2 through a tracker (Debian's
//! `opentracker`). Everything runs on 127.0.0.1: port 0, temp dirs, a private DHT.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tests::commands::new_identity;
use tests::node::{
    NodeOptions, NodeProcess, Opentracker, Testnet, free_port, http_get, publish, run_python,
    run_with_limit, same_tree, test_root, wait_for, write_pattern_file,
};

/// How long a stock client gets for one download.
const CLIENT_LIMIT: Duration = Duration::from_secs(45);

#[test]
fn libtorrent_downloads_a_published_entry_by_its_magnet_link_through_our_dht_alone() {
    let (_guard, root) = test_root();
    let (a, content, save) = (
        root.join("a"),
        root.join("content"),
        root.join("libtorrent"),
    );
    std::fs::create_dir_all(&save).unwrap();
    // A directory: a multi-file torrent, several pieces, an odd tail.
    write_pattern_file(&content.join("Field recordings/dawn.bin"), 6 << 20, 11);
    write_pattern_file(&content.join("Field recordings/notes.txt"), 12_345, 12);
    write_pattern_file(&content.join("Field recordings/deep/dusk.bin"), 3 << 20, 13);

    new_identity(&a, "alice");
    // A private DHT on loopback (a lone node has nobody to store its announces); libtorrent
    // bootstraps from our node's DHT address and from nothing else.
    let dht = Testnet::new(4);
    let node = NodeProcess::start(
        &a,
        &NodeOptions {
            bootstrap: Some(dht.bootstrap()),
            ..Default::default()
        },
    );
    let published = publish(
        &a,
        &content.join("Field recordings"),
        "Field recordings",
        &[],
    );
    let infohash = published["infohash"].as_str().unwrap().to_owned();
    // Published through a running node, the magnet names its gateway as a web seed: keep
    // only the infohash and name, so that the DHT is libtorrent's one way to the content.
    let full = published["magnet"].as_str().unwrap();
    let magnet: String = full
        .split('&')
        .filter(|part| !part.starts_with("tr=") && !part.starts_with("ws="))
        .collect::<Vec<_>>()
        .join("&");
    assert!(
        magnet.starts_with(&format!("magnet:?xt=urn:btih:{infohash}"))
            && !magnet.contains("ws=")
            && !magnet.contains("tr="),
        "the magnet names no tracker and no web seed: {magnet}"
    );

    let started = Instant::now();
    let (ok, stdout, stderr) = run_python(
        "lt_magnet_dht.py",
        &[
            node.dht_address(),
            magnet.clone(),
            save.display().to_string(),
            CLIENT_LIMIT.as_secs().to_string(),
        ],
        CLIENT_LIMIT + Duration::from_secs(15),
    );
    println!(
        "libtorrent, magnet {infohash} via DHT {}: {:.1} s: {}",
        node.dht_address(),
        started.elapsed().as_secs_f64(),
        stdout.trim()
    );
    assert!(
        ok,
        "libtorrent did not download {magnet} via the DHT at {}.\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        node.dht_address()
    );
    same_tree(
        &save.join("Field recordings"),
        &content.join("Field recordings"),
    )
    .unwrap();
    drop(node);
}

#[test]
fn aria2_downloads_a_published_entry_through_opentracker() {
    assert!(
        Path::new(Opentracker::BINARY).exists(),
        "Debian's opentracker is needed (apt-get install opentracker; scripts/test installs it)"
    );
    let (_guard, root) = test_root();
    let (a, content, save) = (root.join("a"), root.join("content"), root.join("aria2"));
    std::fs::create_dir_all(&save).unwrap();
    write_pattern_file(&content.join("lecture.bin"), 9 << 20, 21);

    new_identity(&a, "alice");
    // The tracker's port goes into the torrent, so it is picked before publishing, and the
    // tracker (whitelist mode) learns the infohash before the node first announces: publish
    // with no node running, start the tracker, then the node, which seeds it at start.
    let tracker_port = free_port();
    let announce = format!("http://127.0.0.1:{tracker_port}/announce");
    let published = publish(
        &a,
        &content.join("lecture.bin"),
        "A lecture",
        &["--tracker", &announce],
    );
    let infohash = published["infohash"].as_str().unwrap().to_owned();
    let tracker = Opentracker::start(tracker_port, &[&infohash]);
    let node = NodeProcess::start(&a, &NodeOptions::default());

    // The node announces itself to the tracker named in the torrent (librqbit does; its
    // announce port is the real loopback port, see docs/engine-gaps.md).
    let seen = Instant::now();
    wait_for(
        Duration::from_secs(30),
        "the node to announce itself to opentracker as a seeder",
        || tracker.seeders(&infohash).filter(|n| *n >= 1),
    );
    println!(
        "node listed by opentracker after {:.1} s",
        seen.elapsed().as_secs_f64()
    );

    // The .torrent as the node serves it; it names the tracker and no web seed.
    let torrent = http_get(&format!(
        "{}/torrents/{infohash}.torrent",
        node.info.public_url
    ))
    .expect("the node serves the .torrent");
    assert!(
        !torrent.windows(10).any(|w| w == b"8:url-list"),
        "the torrent names no web seed: the tracker is aria2's only way to a peer"
    );
    let torrent_path = root.join(format!("{infohash}.torrent"));
    std::fs::write(&torrent_path, &torrent).unwrap();

    let aria_port = free_port().to_string();
    let started = Instant::now();
    let (ok, stdout, stderr) = run_with_limit(
        Command::new("aria2c")
            .arg(&torrent_path)
            .arg(format!("--dir={}", save.display()))
            .args([
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--seed-time=0",
                "--interface=127.0.0.1",
                "--disable-ipv6=true",
                "--check-certificate=false",
                "--bt-stop-timeout=40",
                "--summary-interval=0",
                "--console-log-level=notice",
                "--file-allocation=none",
                "--no-conf=true",
            ])
            .arg(format!("--listen-port={aria_port}"))
            .arg(format!("--log={}", root.join("aria2.log").display()))
            .arg("--log-level=info"),
        CLIENT_LIMIT,
    );
    println!(
        "aria2c via opentracker: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let aria_log = std::fs::read_to_string(root.join("aria2.log")).unwrap_or_default();
    assert!(
        ok,
        "aria2c failed.\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- tracker ---\n{}\n--- aria2 log (tail) ---\n{}",
        tracker.log(),
        tail(&aria_log, 60)
    );
    // Its only peer source was the tracker, and the peer it got the bytes from is our node.
    let from_node = format!(
        "From: 127.0.0.1:{} extended handshake client=rqbit",
        node.info.bt_port
    );
    assert!(
        aria_log.contains(&from_node),
        "aria2 never talked to the node's peer (127.0.0.1:{}); log:\n{}",
        node.info.bt_port,
        tail(&aria_log, 60)
    );
    same_tree(&save.join("lecture.bin"), &content.join("lecture.bin")).unwrap();
    drop(node);
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
