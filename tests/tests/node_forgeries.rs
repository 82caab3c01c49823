//! Nothing a node is sent is trusted: forged, stale and unfollowed heads pushed to a follower
//! are refused, logged, and change nothing; a node serving a forged feed log cannot make a
//! follower take entries for a feed it does not sign; and a publisher's retraction takes the
//! retracted content off its followers. Real `swarmfeed serve` processes on 127.0.0.1 with a
//! private DHT.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use data_dir::DataDir;
use feeds::layout::tail_name;
use feeds::{EntryHash, FeedHead, FeedName, IdentityKey, InfoHash, Keypair, Metainfo, SignedHead};
use futures_lite::future::block_on;
use tests::binary::swarmfeed_ok;
use tests::commands::follow;
use tests::files::dir_names;
use tests::node::{
    FakeNode, NodeOptions, NodeProcess, Testnet, first_follow, free_port, http_get, publish,
    same_tree, test_root, wait_for, wait_for_more, write_pattern_file,
};

/// A new identity NAME in DATA, and its key pair (to sign forgeries with).
fn new_identity(data: &Path, name: &str) -> Keypair {
    tests::commands::new_identity(data, name);
    DataDir::new(data).keystore().keypair(name).unwrap()
}

/// A node on `dht` that may send requests to loopback: the attacker's nodes and alice's
/// are loopback ports, and a follower that could ask them must be shown not to.
fn on(dht: &Testnet) -> NodeOptions {
    NodeOptions {
        bootstrap: Some(dht.bootstrap()),
        args: vec!["--allow-private-fetch".into()],
    }
}

fn main_feed() -> FeedName {
    FeedName::new("main").unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The head `swarmfeed publish` last wrote into a data directory.
fn head_in(data: &Path, identity: &IdentityKey) -> SignedHead {
    let path = DataDir::new(data)
        .feed_dir(identity, &main_feed())
        .join("head");
    SignedHead::decode(&std::fs::read(path).unwrap()).unwrap()
}

/// A head that claims to be `victim`'s but is signed by `signer`: a wrong signature.
fn head_with_wrong_signature(signer: &Keypair, victim: &IdentityKey, head: FeedHead) -> Vec<u8> {
    let mut bytes = head.sign(signer).unwrap().encode();
    let own = signer.public();
    let at = bytes.windows(32).position(|w| w == own.as_bytes()).unwrap();
    bytes[at..at + 32].copy_from_slice(victim.as_bytes());
    assert!(
        SignedHead::decode(&bytes).is_err(),
        "the forgery must not verify"
    );
    bytes
}

/// POSTs a head to a node's `/api/v1/heads` as the node at `from`: status and JSON body.
fn push(node: &NodeProcess, head: &[u8], from: &str) -> (u16, serde_json::Value) {
    let (status, body) = node.push_head(head, from);
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// What a follower shows of a follow that must not move: counts, bytes, feeds.
fn follow_state(data: &Path) -> serde_json::Value {
    let follow = first_follow(data).expect("a follow");
    serde_json::json!({
        "entries": follow["entries"],
        "torrents": follow["torrents"],
        "complete": follow["complete"],
        "have_bytes": follow["have_bytes"],
        "total_bytes": follow["total_bytes"],
        "feeds": follow["feeds"],
    })
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn forged_stale_and_unfollowed_heads_pushed_to_a_follower_are_refused_logged_and_change_nothing() {
    let (_guard, root) = test_root();
    let (a, b, m, content) = (
        root.join("a"),
        root.join("b"),
        root.join("mallory"),
        root.join("content"),
    );
    write_pattern_file(&content.join("one.bin"), 300 << 10, 1);
    write_pattern_file(&content.join("two.bin"), 200 << 10, 2);

    let dht = Testnet::new(4);
    let alice = new_identity(&a, "alice");
    let mallory = new_identity(&m, "mallory");
    let node_a = NodeProcess::start(&a, &on(&dht));
    publish(&a, &content.join("one.bin"), "One", &[]);
    publish(&a, &content.join("two.bin"), "Two", &[]);
    let identity = alice.public();

    // B polls every 2 s, so the updates awaited below (to show the pushes changed nothing)
    // come within seconds.
    let mut options = on(&dht);
    options
        .args
        .extend(["--poll-interval".to_owned(), "2".to_owned()]);
    let node_b = NodeProcess::start(&b, &options);
    follow(&b, &identity.to_string(), &[]);
    wait_for(Duration::from_secs(40), "B to hold both entries", || {
        first_follow(&b).filter(|f| f["entries"] == 2 && f["complete"] == 2)
    });
    let head_url = format!("{}/api/v1/heads/{identity}/main", node_b.info.public_url);
    let held_head = http_get(&head_url).expect("B serves alice's head");
    assert_eq!(SignedHead::decode(&held_head).unwrap().head().seq, 2);
    let before = follow_state(&b);
    let log_before = node_b.log();

    // Every push claims to come from a node of the attacker's: a refused push must not make
    // B ask it for anything later.
    let attacker = FakeNode::start(|_, _| None);
    let real = head_in(&a, &identity).head().clone();

    // 1. Alice's key, a higher seq, a log of the attacker's choosing, signed by mallory.
    let forged = head_with_wrong_signature(
        &mallory,
        &identity,
        FeedHead {
            seq: 99,
            log: InfoHash([0x66; 20]),
            time: now(),
            ..real.clone()
        },
    );
    let (status, body) = push(&node_b, &forged, &attacker.url);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("bad_head_signature")),
        "{body}"
    );

    // 2. Really signed by alice, but older than the head B holds (a rollback).
    let stale = FeedHead {
        seq: 1,
        entry_hash: EntryHash([0x11; 32]),
        ..real.clone()
    }
    .sign(&alice)
    .unwrap()
    .encode();
    let (status, body) = push(&node_b, &stale, &attacker.url);
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("stale_head")),
        "{body}"
    );

    // 3. A valid head of a feed B does not follow (mallory's own).
    let unfollowed = FeedHead {
        seq: 5,
        time: now(),
        ..real.clone()
    }
    .sign(&mallory)
    .unwrap()
    .encode();
    let (status, body) = push(&node_b, &unfollowed, &attacker.url);
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("not_followed")),
        "{body}"
    );
    for (_, body) in [
        push(&node_b, &forged, &attacker.url),
        push(&node_b, &stale, &attacker.url),
        push(&node_b, &unfollowed, &attacker.url),
    ] {
        assert!(body["message"].is_string(), "{body}");
    }

    // Logged: each refusal once per push (two pushes of each).
    wait_for(Duration::from_secs(5), "the refusals in B's log", || {
        let log = node_b.log();
        let new = &log[log_before.len().min(log.len())..];
        (count(new, "refused pushed head") >= 6).then_some(())
    });

    // Changes nothing: let B update the feed three more times, then compare.
    wait_for_more(
        &node_b,
        "swarmfeed_feed_updates_total",
        3.0,
        Duration::from_secs(30),
    );
    assert_eq!(
        http_get(&head_url).as_deref(),
        Some(&held_head[..]),
        "B's head changed"
    );
    assert_eq!(follow_state(&b), before, "B's follow changed");
    assert_eq!(
        attacker.requests(),
        Vec::<String>::new(),
        "a refused push made B contact the pusher"
    );
    assert!(
        http_get(&format!(
            "{}/api/v1/heads/{}/main",
            node_b.info.public_url,
            mallory.public()
        ))
        .is_none(),
        "B holds the head of a feed it does not follow"
    );
    drop(node_b);
    drop(node_a);
}

#[test]
fn a_node_serving_a_forged_feed_log_cannot_make_a_follower_take_entries_for_alices_feed() {
    let (_guard, root) = test_root();
    let (a, b, m, content) = (
        root.join("a"),
        root.join("b"),
        root.join("mallory"),
        root.join("content"),
    );
    write_pattern_file(&content.join("alice.bin"), 700 << 10, 3);
    write_pattern_file(&content.join("mallory.bin"), 500 << 10, 4);

    let dht = Testnet::new(4);
    // Both publish with no node running; alice's node starts later.
    let alice = new_identity(&a, "alice");
    let real = publish(&a, &content.join("alice.bin"), "Alice's real entry", &[]);
    let identity = alice.public();
    let real_head = head_in(&a, &identity);
    let real_infohash = real["infohash"].as_str().unwrap().to_owned();

    let mallory = new_identity(&m, "mallory");
    let fake = publish(&m, &content.join("mallory.bin"), "Mallory's forgery", &[]);
    let fake_tail_hash = head_in(&m, &mallory.public()).head().log;
    let fake_tail = std::fs::read(
        DataDir::new(&m)
            .feed_dir(&mallory.public(), &main_feed())
            .join("tails")
            .join(fake_tail_hash.to_string())
            .join(tail_name(&main_feed())),
    )
    .unwrap();
    let fake_torrent = std::fs::read(fake["torrent_path"].as_str().unwrap()).unwrap();
    // A head in alice's name pointing at mallory's log, whose bytes do hash to it.
    let forged_head = head_with_wrong_signature(
        &mallory,
        &identity,
        FeedHead {
            seq: 99,
            log: fake_tail_hash,
            time: now(),
            ..real_head.head().clone()
        },
    );

    // The attacker's node serves forgeries for anything of alice's.
    let alice_prefix = format!("/api/v1/heads/{identity}/");
    let logs_prefix = format!("/api/v1/logs/{identity}/");
    let attacker = FakeNode::start(move |method, path| match method {
        "GET" if path.starts_with(&alice_prefix) => {
            Some((200, "application/x-bencode", forged_head.clone()))
        }
        "GET" if path.starts_with(&logs_prefix) => {
            Some((200, "application/x-bencode", fake_tail.clone()))
        }
        "GET" if path.starts_with("/torrents/") => {
            Some((200, "application/x-bittorrent", fake_torrent.clone()))
        }
        "POST" if path == "/api/v1/followers" => Some((204, "text/plain", Vec::new())),
        _ => None,
    });

    // B follows alice's feed; with no poll but the first (and its retries within seconds
    // while nothing is found), nothing reaches B except what it is pushed or what the DHT
    // brings it. Its first look finds nothing: alice's node is not up yet.
    let node_b = NodeProcess::start(
        &b,
        &NodeOptions {
            bootstrap: Some(dht.bootstrap()),
            // The attacker is a loopback port: B must be allowed to ask it.
            args: vec![
                "--poll-interval".into(),
                "600".into(),
                "--allow-private-fetch".into(),
            ],
        },
    );
    follow(&b, &format!("{identity}/main"), &[]);
    wait_for(
        Duration::from_secs(30),
        "B's first look at the feed",
        || first_follow(&b).filter(|f| !f["last_update"].is_null()),
    );
    assert_eq!(first_follow(&b).unwrap()["entries"], 0);

    // The attacker relays alice's genuine head (anyone may) and names itself as a node
    // serving her feed: the only node B knows for it. It does so before alice's node is up:
    // once it is, her DHT puts reach B directly (a small network) and B would have no
    // reason to ask anyone else.
    let started = Instant::now();
    let (status, body) = push(&node_b, &real_head.encode(), &attacker.url);
    assert_eq!(status, 202, "{body}");

    // Alice's node comes up and announces her log and content in the DHT. Its HTTP routes
    // are out of reach (as behind a NAT): the public URL in her identity record is a dead
    // port, so B gets her log and content from the swarm, or from the attacker.
    let node_a = NodeProcess::start(
        &a,
        &NodeOptions {
            bootstrap: Some(dht.bootstrap()),
            args: vec![
                "--public-url".into(),
                format!("http://127.0.0.1:{}", free_port()),
            ],
        },
    );
    let a_peer = SocketAddr::from(([127, 0, 0, 1], node_a.info.bt_port));
    wait_for(
        Duration::from_secs(30),
        "alice's tail announced in the DHT",
        || {
            block_on(dht.nodes[2].get_peers(real_head.head().log.0))
                .iter()
                .any(|p| SocketAddr::V4(*p) == a_peer)
                .then_some(())
        },
    );

    let status = wait_for(
        Duration::from_secs(45),
        "B to hold alice's real entry, complete",
        || first_follow(&b).filter(|f| f["entries"] == 1 && f["complete"] == 1),
    );
    println!(
        "B took alice's real entry from the swarm {:.1} s after the push: {status}",
        started.elapsed().as_secs_f64()
    );

    // The attacker was asked, and every forgery was refused.
    let asked = attacker.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with(&format!("GET /api/v1/heads/{identity}/main"))),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with(&format!("GET /api/v1/logs/{identity}/main/"))),
        "{asked:?}"
    );
    let log = node_b.log();
    assert!(
        log.contains("node served an invalid head"),
        "B did not log the forged head"
    );
    assert!(
        log.contains("node served log bytes that do not match their infohash"),
        "B did not log the forged log"
    );

    // B holds alice's entry and bytes, and nothing of mallory's.
    assert_eq!(dir_names(&b.join("downloads")), vec![real_infohash.clone()]);
    same_tree(
        &b.join("downloads").join(&real_infohash).join("alice.bin"),
        &content.join("alice.bin"),
    )
    .unwrap();
    let b_url = &node_b.info.public_url;
    assert_eq!(
        http_get(&format!("{b_url}/api/v1/heads/{identity}/main")),
        Some(real_head.encode())
    );
    // The attacker's .torrent was not taken. (A follower that got the content by magnet
    // does not keep its .torrent yet, so it may serve none: a known gap.)
    if let Some(held) = http_get(&format!("{b_url}/torrents/{real_infohash}.torrent")) {
        assert_eq!(
            Metainfo::decode(&held).unwrap().infohash().to_string(),
            real_infohash,
            "B holds another .torrent than alice's"
        );
    }
    assert!(
        http_get(&format!(
            "{b_url}/api/v1/logs/{identity}/main/{fake_tail_hash}"
        ))
        .is_none(),
        "B keeps mallory's log as alice's"
    );
    assert!(
        http_get(&format!(
            "{b_url}/api/v1/logs/{identity}/main/{}",
            real_head.head().log
        ))
        .is_some(),
        "B does not serve alice's real log"
    );
    drop(node_b);
    drop(node_a);
}

/// Whether the BitTorrent peer at `peer` answers a handshake for `infohash` (it does only
/// for torrents it has).
fn peer_has(peer: SocketAddr, infohash: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&peer, Duration::from_secs(3)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut handshake = vec![19u8];
    handshake.extend_from_slice(b"BitTorrent protocol");
    handshake.extend_from_slice(&[0; 8]);
    handshake.extend_from_slice(&hex::decode(infohash).unwrap());
    handshake.extend_from_slice(b"-SF0001-handshaketst");
    if stream.write_all(&handshake).is_err() {
        return false;
    }
    let mut answer = [0u8; 68];
    stream.read_exact(&mut answer).is_ok() && answer[28..48] == handshake[28..48]
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        if current.is_file() {
            out.push(current);
        } else if let Ok(entries) = std::fs::read_dir(&current) {
            stack.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    out
}

#[test]
fn a_retracted_entry_disappears_from_the_follower_within_seconds() {
    let (_guard, root) = test_root();
    let (a, b, content) = (root.join("a"), root.join("b"), root.join("content"));
    write_pattern_file(&content.join("regret.bin"), 2 << 20, 5);
    write_pattern_file(&content.join("keeper.bin"), 1 << 20, 6);

    let dht = Testnet::new(4);
    let alice = new_identity(&a, "alice");
    let node_a = NodeProcess::start(&a, &on(&dht));
    let regret = publish(&a, &content.join("regret.bin"), "Regret", &[]);
    let keeper = publish(&a, &content.join("keeper.bin"), "Keeper", &[]);
    let (regret_hash, keeper_hash) = (
        regret["infohash"].as_str().unwrap().to_owned(),
        keeper["infohash"].as_str().unwrap().to_owned(),
    );

    let node_b = NodeProcess::start(&b, &on(&dht));
    swarmfeed_ok(&[
        "--data",
        b.to_str().unwrap(),
        "follow",
        &alice.public().to_string(),
    ]);
    wait_for(Duration::from_secs(40), "B to hold both entries", || {
        first_follow(&b).filter(|f| f["entries"] == 2 && f["complete"] == 2)
    });
    let b_peer = SocketAddr::from(([127, 0, 0, 1], node_b.info.bt_port));
    let regret_dir = b.join("downloads").join(&regret_hash);
    assert!(!files_under(&regret_dir).is_empty());
    assert!(
        peer_has(b_peer, &regret_hash),
        "B does not seed the entry yet"
    );

    let started = Instant::now();
    let retracted: serde_json::Value = serde_json::from_str(&swarmfeed_ok(&[
        "--data",
        a.to_str().unwrap(),
        "retract",
        "1",
        "--json",
    ]))
    .unwrap();
    assert_eq!(retracted["seq"], 3, "{retracted}");

    wait_for(
        Duration::from_secs(20),
        "B to stop seeding the retracted entry and delete its files",
        || (!peer_has(b_peer, &regret_hash) && files_under(&regret_dir).is_empty()).then_some(()),
    );
    let gone = started.elapsed();
    let follow = wait_for(
        Duration::from_secs(10),
        "B's follow to count the retraction",
        || first_follow(&b).filter(|f| f["entries"] == 3 && f["complete"] == 1),
    );
    println!(
        "retracted entry gone from B {:.1} s after `retract`: {follow}",
        gone.as_secs_f64()
    );

    // The other entry stays, seeded and whole.
    assert!(
        peer_has(b_peer, &keeper_hash),
        "B stopped seeding the entry that was not retracted"
    );
    same_tree(
        &b.join("downloads").join(&keeper_hash).join("keeper.bin"),
        &content.join("keeper.bin"),
    )
    .unwrap();
    drop(node_b);
    drop(node_a);
}
