//! Journey 2 of DESIGN.md: an archivist's node, given only a publisher's identity id and a
//! DHT bootstrap address, replicates every entry, verifies it, and seeds it.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use tests::binary::swarmfeed_ok;
use tests::node::{
    NodeOptions, NodeProcess, Testnet, follows, publish, same_tree, wait_for, write_pattern_file,
};

#[test]
fn a_follower_given_only_an_identity_id_holds_every_file_verified_and_seeds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = match std::env::var_os("SWARMFEED_KEEP_TEST_DIRS") {
        Some(_) => tmp.keep(),
        None => tmp.path().to_owned(),
    };
    let (a, b, content) = (root.join("a"), root.join("b"), root.join("content"));
    fs::create_dir_all(content.join("album/disc 1")).unwrap();
    write_pattern_file(&content.join("note.txt"), 1024, 1);
    write_pattern_file(&content.join("picture.bin"), 3 << 20, 2);
    write_pattern_file(&content.join("album/disc 1/track ü.bin"), 5 << 20, 3);
    write_pattern_file(&content.join("album/cover.bin"), 100 << 10, 4);
    write_pattern_file(&content.join("video.bin"), 200 << 20, 5);
    write_pattern_file(&content.join("tiny.bin"), 1, 6);

    let dht = Testnet::new(4);
    let on_dht = NodeOptions {
        bootstrap: Some(dht.bootstrap()),
        ..Default::default()
    };
    swarmfeed_ok(&[
        "--data",
        a.to_str().unwrap(),
        "identity",
        "new",
        "--name",
        "alice",
    ]);
    let node_a = NodeProcess::start(&a, &on_dht);
    let mut published = Vec::new();
    for (name, title) in [
        ("note.txt", "A note"),
        ("picture.bin", "A picture"),
        ("album", "An album"),
        ("video.bin", "A video"),
        ("tiny.bin", "One byte"),
    ] {
        published.push(publish(&a, &content.join(name), title, &[]));
    }
    let identity = published[0]["identity"].as_str().unwrap().to_owned();
    assert!(
        published[0]["entry_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&node_a.info.public_url)),
        "{}",
        published[0]
    );
    // Published through a running node: its gateway is the torrent's web seed.
    let torrent = fs::read(published[0]["torrent_path"].as_str().unwrap()).unwrap();
    let webseeds = feeds::Metainfo::decode(&torrent).unwrap().webseeds;
    let infohash = published[0]["infohash"].as_str().unwrap();
    assert_eq!(
        webseeds,
        vec![format!("{}/ws/{infohash}/", node_a.info.public_url)]
    );
    assert!(
        published[0]["magnet"]
            .as_str()
            .unwrap()
            .contains("&ws=http")
    );

    let node_b = NodeProcess::start(&b, &on_dht);
    let started = Instant::now();
    swarmfeed_ok(&["--data", b.to_str().unwrap(), "follow", &identity]);
    let status = wait_for(
        Duration::from_secs(120),
        "the follower to hold every entry, complete",
        || {
            let list = follows(&b);
            let follow = list.as_array()?.first()?.clone();
            (follow["entries"] == 5 && follow["torrents"] == 5 && follow["complete"] == 5)
                .then_some(follow)
        },
    );
    println!(
        "follower complete after {:.1} s: {status}",
        started.elapsed().as_secs_f64()
    );

    for item in &published {
        let infohash = item["infohash"].as_str().unwrap();
        let name = Path::new(item["torrent_path"].as_str().unwrap());
        assert!(name.exists());
        let held = b.join("downloads").join(infohash);
        let source_name = fs::read_dir(&held)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name();
        let source = content.join(&source_name);
        same_tree(&held.join(&source_name), &source).unwrap();
    }

    // `verify` fetches the feed from wherever it can be found, with a scratch node of its own.
    let scratch = root.join("verifier");
    let out = swarmfeed_ok(&[
        "--data",
        scratch.to_str().unwrap(),
        "verify",
        &format!("{identity}/main"),
        "--dht-bootstrap",
        &dht.bootstrap(),
        "--allow-private-fetch",
    ]);
    assert!(
        out.starts_with(&format!("valid: {identity}/main: 5 entries verified")),
        "{out}"
    );
    drop(node_b);
    drop(node_a);
}
