//! A follower takes the highest head whose log it can fetch: a newer head whose log nobody
//! serves (its publisher signed it and went away before anyone replicated it) does not hold
//! the feed back when a lower one, newer than what the follower holds, can be had.

use std::path::Path;
use std::time::{Duration, Instant};

use data_dir::DataDir;
use feeds::layout::tail_name;
use feeds::{FeedName, IdentityKey, SignedHead};
use futures_lite::future::block_on;
use tests::commands::{first_follow, follow, new_identity, publish};
use tests::fake_node::FakeNode;
use tests::files::{test_root, write_pattern_file};
use tests::network::Network;
use tests::poll::wait_for;

fn main_feed() -> FeedName {
    FeedName::new("main").unwrap()
}

/// The head and tail `swarmfeed publish` last wrote into a data directory.
fn head_and_tail(data: &Path, identity: &IdentityKey) -> (SignedHead, Vec<u8>) {
    let feed_dir = DataDir::new(data).feed_dir(identity, &main_feed());
    let head = SignedHead::decode(&std::fs::read(feed_dir.join("head")).unwrap()).unwrap();
    let tail = std::fs::read(
        feed_dir
            .join("tails")
            .join(head.head().log.to_string())
            .join(tail_name(&main_feed())),
    )
    .unwrap();
    (head, tail)
}

#[test]
fn a_follower_falls_back_to_the_highest_head_whose_log_it_can_fetch() {
    let (_tmp, root) = test_root();
    let (a, f, content) = (root.join("a"), root.join("f"), root.join("content"));
    std::fs::create_dir_all(&content).unwrap();
    let net = Network::new(4);

    // Alice publishes two entries, then a third, with no node running: nothing is seeded.
    new_identity(&a, "alice");
    let mut published = Vec::new();
    for i in 1..=2u64 {
        let path = content.join(format!("{i}.bin"));
        write_pattern_file(&path, 10_000 * i, i);
        published.push(publish(&a, &path, &format!("entry {i}"), &[]));
    }
    let identity: IdentityKey = published[0]["identity"].as_str().unwrap().parse().unwrap();
    let (head_2, tail_2) = head_and_tail(&a, &identity);
    let torrents: Vec<(String, Vec<u8>)> = published
        .iter()
        .map(|p| {
            (
                p["infohash"].as_str().unwrap().to_owned(),
                std::fs::read(p["torrent_path"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let path = content.join("3.bin");
    write_pattern_file(&path, 30_000, 3);
    publish(&a, &path, "entry 3", &[]);
    let (head_3, _) = head_and_tail(&a, &identity);
    assert_eq!((head_2.head().seq, head_3.head().seq), (2, 3));

    // Head 3 is in the DHT (anyone may put a signed item), but no node or peer has its log.
    block_on(net.dht.nodes[1].put_item(head_3.item())).unwrap();
    wait_for(Duration::from_secs(20), "head 3 in the DHT", || {
        block_on(net.dht.nodes[2].get_head(&identity, &main_feed())).filter(|h| h.head().seq == 3)
    });

    // A mirror that stopped at seq 2 serves head 2, its log and the .torrents.
    let head_path = format!("/api/v1/heads/{identity}/main");
    let tail_path = format!("/api/v1/logs/{identity}/main/{}", head_2.head().log);
    let head_2_bytes = head_2.encode();
    let mirror = FakeNode::start(move |method, path| {
        if method != "GET" {
            return None;
        }
        if path == head_path {
            return Some((200, "application/x-bencode", head_2_bytes.clone()));
        }
        if path == tail_path {
            return Some((200, "application/x-bencode", tail_2.clone()));
        }
        torrents
            .iter()
            .find(|(infohash, _)| path == format!("/torrents/{infohash}.torrent"))
            .map(|(_, bytes)| (200, "application/x-bittorrent", bytes.clone()))
    });

    // The follower learns of the mirror from a relayed head 3 (anyone may relay a head).
    // The mirror is a loopback port: the follower must be allowed to ask it.
    let node_f = net.start_node(&f, &["--allow-private-fetch"]);
    follow(&f, &format!("{identity}/main"), &[]);
    let started = Instant::now();
    let (status, body) = node_f.push_head(&head_3.encode(), &mirror.url);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));

    let held = wait_for(
        Duration::from_secs(60),
        "the follower to take in the two entries of head 2",
        || first_follow(&f).filter(|follow| follow["entries"] == 2),
    );
    println!(
        "the follower verified seq 2 {:.1} s after learning of the mirror: {held}",
        started.elapsed().as_secs_f64()
    );
    let asked = mirror.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with(&format!("GET /api/v1/logs/{identity}/main/"))),
        "{asked:?}"
    );
    // It keeps trying head 3, and never takes more than head 2's entries meanwhile.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(first_follow(&f).unwrap()["entries"], 2);
}
