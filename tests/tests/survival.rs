//! Content and feeds outlive their publisher: with the publisher's node killed and its data
//! directory deleted, a brand-new node that knows only the identity id and a DHT bootstrap
//! address finds the feed, fetches its log and content from a seeder over BitTorrent, and
//! verifies everything.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use tests::binary::swarmfeed_ok;
use tests::node::{NodeOptions, NodeProcess, Testnet, first_follow, wait_for, write_pattern_file};

fn complete(data: &Path, entries: u64) -> Option<serde_json::Value> {
    let follow = first_follow(data)?;
    (follow["entries"] == entries && follow["torrents"] == entries && follow["complete"] == entries)
        .then_some(follow)
}

#[test]
fn a_new_node_rebuilds_a_feed_from_a_seeder_after_the_publisher_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (p, s1, n, content) = (
        root.join("p"),
        root.join("s1"),
        root.join("n"),
        root.join("content"),
    );
    fs::create_dir_all(content.join("dir/sub")).unwrap();
    write_pattern_file(&content.join("small.txt"), 1024, 1);
    write_pattern_file(&content.join("medium.bin"), 2 << 20, 2);
    write_pattern_file(&content.join("dir/sub/a.bin"), 300 << 10, 3);
    write_pattern_file(&content.join("dir/b.txt"), 10, 4);

    let dht = Testnet::new(4);
    let on_dht = NodeOptions {
        bootstrap: Some(dht.bootstrap()),
        ..Default::default()
    };
    swarmfeed_ok(&[
        "--data",
        p.to_str().unwrap(),
        "identity",
        "new",
        "--name",
        "publisher",
    ]);
    let mut publisher = NodeProcess::start(&p, &on_dht);
    let mut identity = String::new();
    let mut infohashes = Vec::new();
    for name in ["small.txt", "medium.bin", "dir"] {
        let out = swarmfeed_ok(&[
            "--data",
            p.to_str().unwrap(),
            "publish",
            content.join(name).to_str().unwrap(),
            "--json",
        ]);
        let published: serde_json::Value = serde_json::from_str(&out).unwrap();
        identity = published["identity"].as_str().unwrap().to_owned();
        infohashes.push(published["infohash"].as_str().unwrap().to_owned());
    }
    let seeder = NodeProcess::start(&s1, &on_dht);
    swarmfeed_ok(&["--data", s1.to_str().unwrap(), "follow", &identity]);
    wait_for(
        Duration::from_secs(90),
        "the seeder to hold everything",
        || complete(&s1, 3),
    );

    publisher.kill();
    fs::remove_dir_all(&p).unwrap();

    let started = Instant::now();
    let newcomer = NodeProcess::start(&n, &on_dht);
    swarmfeed_ok(&["--data", n.to_str().unwrap(), "follow", &identity]);
    let status = wait_for(
        Duration::from_secs(150),
        "the new node to rebuild the feed",
        || complete(&n, 3),
    );
    println!(
        "new node complete {:.1} s after start: {status}",
        started.elapsed().as_secs_f64()
    );

    for name in ["small.txt", "medium.bin", "dir"] {
        let held = fs::read_dir(n.join("downloads"))
            .unwrap()
            .map(|e| e.unwrap().path().join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name} not held by the new node"));
        if held.is_file() {
            assert_eq!(
                fs::read(&held).unwrap(),
                fs::read(content.join(name)).unwrap(),
                "{name}"
            );
        } else {
            for file in ["sub/a.bin", "b.txt"] {
                assert_eq!(
                    fs::read(held.join(file)).unwrap(),
                    fs::read(content.join(name).join(file)).unwrap()
                );
            }
        }
    }
    if std::env::var_os("SWARMFEED_SHOW_LOGS").is_some() {
        eprintln!("{}", newcomer.log());
    }
    // The new node can stand in for the publisher: it serves every .torrent too.
    for infohash in &infohashes {
        let url = format!("{}/torrents/{infohash}.torrent", newcomer.info.public_url);
        let torrent = tests::node::http_get(&url).unwrap_or_else(|| panic!("no .torrent at {url}"));
        assert_eq!(
            feeds::Metainfo::decode(&torrent)
                .unwrap()
                .infohash()
                .to_string(),
            *infohash
        );
    }
    drop(newcomer);
    drop(seeder);
}
