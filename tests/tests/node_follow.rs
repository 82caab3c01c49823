//! Journey 2 of DESIGN.md: an archivist's node, given only a publisher's identity id and a
//! DHT bootstrap address, replicates every entry, verifies it, and seeds it.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use tests::commands::publish;
use tests::files::{same_tree, test_root, write_pattern_file};
use tests::network::{Network, follow_until_held};

#[test]
fn a_follower_given_only_an_identity_id_holds_every_file_verified_and_seeds_it() {
    let (_guard, root) = test_root();
    let (a, b, content) = (root.join("a"), root.join("b"), root.join("content"));
    fs::create_dir_all(content.join("album/disc 1")).unwrap();
    write_pattern_file(&content.join("note.txt"), 1024, 1);
    write_pattern_file(&content.join("picture.bin"), 3 << 20, 2);
    write_pattern_file(&content.join("album/disc 1/track ü.bin"), 5 << 20, 3);
    write_pattern_file(&content.join("album/cover.bin"), 100 << 10, 4);
    write_pattern_file(&content.join("video.bin"), 200 << 20, 5);
    write_pattern_file(&content.join("tiny.bin"), 1, 6);

    let network = Network::new(4);
    let node_a = network.start_publisher(&a, "alice", &[]);
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

    let node_b = network.start_node(&b, &[]);
    let started = Instant::now();
    let status = follow_until_held(&b, &identity, 5, Duration::from_secs(120));
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
    let out = network.verify(&scratch, &format!("{identity}/main"));
    assert!(
        out.starts_with(&format!("valid: {identity}/main: 5 entries verified")),
        "{out}"
    );
    drop(node_b);
    drop(node_a);
}
