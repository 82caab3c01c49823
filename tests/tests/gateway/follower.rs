//! A follower's gateway serves what it replicated: files, pages and web seeds.

use std::time::Duration;

use tests::commands::{follow, publish};
use tests::network::Network;
use tests::poll::wait_for;

use crate::client::{get, request};
use crate::{blake3_hex, pattern, write};

#[test]
fn a_follower_serves_replicated_files_pages_and_web_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let (a, b) = (root.join("a"), root.join("b"));
    let network = Network::new(3);
    let node_a = network.start_publisher(&a, "alice", &[]);
    let single = pattern(200_000, 8);
    write(&root.join("in/solo.bin"), &single);
    let inner = pattern(90_000, 9);
    write(&root.join("in/set/deep/inner.bin"), &inner);
    write(&root.join("in/set/top.txt"), b"top\n");
    let one = publish(&a, &root.join("in/solo.bin"), "Solo", &[]);
    let two = publish(&a, &root.join("in/set"), "Set", &[]);
    let identity = one["identity"].as_str().unwrap().to_owned();

    let node_b = network.start_node(&b, &[]);
    follow(&b, &identity, &[]);
    let url = node_b.info.public_url.clone();
    let (ih1, ih2) = (
        one["infohash"].as_str().unwrap().to_owned(),
        two["infohash"].as_str().unwrap().to_owned(),
    );
    wait_for(
        Duration::from_secs(90),
        "the follower to serve both torrents from disk",
        || {
            let done = |path: &str| get(&url, path).status == 200;
            (done(&format!("/ws/{ih1}/solo.bin")) && done(&format!("/ws/{ih2}/set/top.txt")))
                .then_some(())
        },
    );
    let reply = request(
        "GET",
        &url,
        &format!("/files/{ih1}/solo.bin"),
        &[("Range", "bytes=-7")],
    );
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (206, &single[single.len() - 7..])
    );
    let reply = get(&url, &format!("/files/{ih2}/deep/inner.bin"));
    assert_eq!((reply.status, reply.body == inner), (200, true));
    assert_eq!(
        reply.header("etag"),
        Some(format!("\"{}\"", blake3_hex(&inner)).as_str())
    );
    let reply = get(&url, &format!("/ws/{ih2}/set/deep/inner.bin"));
    assert_eq!((reply.status, reply.body == inner), (200, true));

    let feed = get(&url, &format!("/{identity}/main"));
    assert_eq!(feed.status, 200);
    assert!(feed.text().contains("Solo") && feed.text().contains("Set"));
    let home = get(&url, "/");
    assert!(
        home.text().contains("Solo"),
        "followed posts on the home page"
    );
    let api = get(&url, &format!("/api/v1/entries/{identity}/main/2")).json();
    assert_eq!(api["content"]["held"], true);
    drop(node_b);
    drop(node_a);
}
