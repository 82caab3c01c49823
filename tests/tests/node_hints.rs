//! A node that serves a .torrent and seeds it says so (`x-swarmfeed-peer-port`), and a
//! follower that took the .torrent from it connects to it at once: content arrives even
//! when the follower's DHT has never heard of the publisher.

use std::time::{Duration, Instant};

use data_dir::DataDir;
use feeds::{FeedName, IdentityKey};
use tests::commands::{first_follow, follow, new_identity, publish};
use tests::files::{same_tree, test_root, write_pattern_file};
use tests::node::{NodeOptions, NodeProcess};
use tests::poll::wait_for;

#[test]
fn a_follower_downloads_from_the_node_that_served_the_torrent_without_any_dht_peer() {
    let (_tmp, root) = test_root();
    let (a, f, content) = (root.join("a"), root.join("f"), root.join("content"));
    std::fs::create_dir_all(&content).unwrap();

    // Two nodes, each on a DHT of its own: the follower's DHT knows no peer of alice's.
    new_identity(&a, "alice");
    let node_a = NodeProcess::start(&a, &NodeOptions::default());
    let mut published = Vec::new();
    for (i, len) in [(1u64, 1 << 20), (2, 3 << 20)] {
        let path = content.join(format!("{i}.bin"));
        write_pattern_file(&path, len, i);
        published.push(publish(&a, &path, &format!("entry {i}"), &[]));
    }
    let identity: IdentityKey = published[0]["identity"].as_str().unwrap().parse().unwrap();

    // The follower takes the .torrent and the peer hint from alice's node over HTTP on
    // loopback: that is what the test is about.
    let node_f = NodeProcess::start(
        &f,
        &NodeOptions {
            args: vec!["--allow-private-fetch".into()],
            ..NodeOptions::default()
        },
    );
    follow(&f, &format!("{identity}/main"), &[]);
    let head = std::fs::read(
        DataDir::new(&a)
            .feed_dir(&identity, &FeedName::new("main").unwrap())
            .join("head"),
    )
    .unwrap();
    let started = Instant::now();
    let (status, body) = node_f.push_head(&head, &node_a.info.public_url);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));

    let held = wait_for(
        Duration::from_secs(60),
        "the follower to hold both entries, complete",
        || first_follow(&f).filter(|f| f["entries"] == 2 && f["complete"] == 2),
    );
    println!(
        "the follower held both entries {:.1} s after the push: {held}",
        started.elapsed().as_secs_f64()
    );
    for item in &published {
        let infohash = item["infohash"].as_str().unwrap();
        let name = std::path::Path::new(item["torrent_path"].as_str().unwrap());
        assert!(name.exists());
        let held = f.join("downloads").join(infohash);
        let file = std::fs::read_dir(&held)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name();
        same_tree(&held.join(&file), &content.join(&file)).unwrap();
    }
}
