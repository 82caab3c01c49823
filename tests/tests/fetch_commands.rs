//! `identity sync` and `verify` fetch without running a node: the DHT, outbound HTTP under
//! the fetch policy (`--allow-private-fetch`, `--fetch-allow`, as `serve` takes them) and a
//! torrent engine for the log parts only the swarm serves; with a node running on the data
//! directory, through the node's API.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use data_dir::DataDir;
use feeds::layout::make_tail;
use feeds::{Entry, FeedHead, FeedName, Kind};
use tests::binary::{swarmfeed, swarmfeed_ok, swarmfeed_with_env};
use tests::commands::publish;
use tests::fake_node::FakeNode;
use tests::files::{test_root, write_pattern_file};
use tests::network::Network;
use tests::node::{NodeProcess, http_request, metric, wait_for};

const PASSPHRASE: (&str, &str) = ("SWARMFEED_PASSPHRASE", "identity sync test passphrase");

/// Alice publishes two posts on a node in `root/a`; her key is exported and imported into
/// `target` without syncing (so publishing there stays refused until a sync). Her node and
/// her id.
fn publisher_restored_into(network: &Network, root: &Path, target: &Path) -> (NodeProcess, String) {
    let a = root.join("a");
    let node_a = network.start_publisher(&a, "alice", &[]);
    for (seed, title) in [(1, "one"), (2, "two")] {
        let file = root.join(format!("post{seed}.txt"));
        write_pattern_file(&file, 2 << 10, seed);
        publish(&a, &file, title, &[]);
    }
    let (a_str, target_str) = (a.to_str().unwrap(), target.to_str().unwrap());
    let backup = root.join("alice.age");
    let backup = backup.to_str().unwrap();
    let out = swarmfeed_with_env(
        &["--data", a_str, "identity", "export", "alice", "-o", backup],
        &[PASSPHRASE],
    );
    assert!(out.status.success(), "{out:?}");
    let out = swarmfeed_with_env(
        &[
            "--data",
            target_str,
            "identity",
            "import",
            backup,
            "--no-sync",
        ],
        &[PASSPHRASE],
    );
    assert!(out.status.success(), "{out:?}");
    let identity = swarmfeed_ok(&["--data", a_str, "identity", "show", "alice"]);
    let identity = tests::binary::field(&identity, "id").unwrap().to_owned();
    (node_a, identity)
}

/// Without private fetch the publisher's node (on 127.0.0.1) is never asked over HTTP: the
/// feed's log parts come from the swarm by magnet, found through the DHT.
#[test]
fn a_restored_identity_syncs_its_feed_from_the_swarm_without_private_fetch() {
    let (_guard, root) = test_root();
    let two = root.join("two");
    let network = Network::new(4);
    let (node_a, identity) = publisher_restored_into(&network, &root, &two);
    let two_str = two.to_str().unwrap();

    let bootstrap = network.bootstrap();
    let synced = swarmfeed_ok(&[
        "--data",
        two_str,
        "identity",
        "sync",
        "--dht-bootstrap",
        &bootstrap,
        "--bind-ip",
        "127.0.0.1",
        "--sync-timeout",
        "60",
    ]);
    assert!(
        synced.contains(&format!(
            "synced {identity}/main: 2 entries fetched and verified; the next entry is seq 3"
        )),
        "{synced}"
    );

    // `verify` takes `--fetch-allow` as `serve` does (loopback allowed: HTTP may be used).
    let scratch = root.join("verifier");
    let verdict = swarmfeed_ok(&[
        "--data",
        scratch.to_str().unwrap(),
        "verify",
        &format!("{identity}/main"),
        "--dht-bootstrap",
        &bootstrap,
        "--fetch-allow",
        "127.0.0.0/8",
    ]);
    assert!(
        verdict.starts_with(&format!("valid: {identity}/main: 2 entries verified")),
        "{verdict}"
    );
    // A list that is not one is refused as bad input, before anything starts.
    let refused = swarmfeed(&[
        "--data",
        two_str,
        "identity",
        "sync",
        "--dht-bootstrap",
        &bootstrap,
        "--fetch-allow",
        "not-a-network",
    ]);
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not-a-network"));
    drop(node_a);
}

/// With a node running on the data directory, `identity sync` and `verify` go through it:
/// the node's API fetches with the node's own DHT (no `--dht-bootstrap` given), the restore
/// is an operator's decision counted on `/metrics`, and the node serves the restored feed
/// at once. Output as without a node.
#[test]
fn sync_and_verify_go_through_the_running_node() {
    let (_guard, root) = test_root();
    let three = root.join("three");
    let network = Network::new(4);
    let (node_a, identity) = publisher_restored_into(&network, &root, &three);
    let three_str = three.to_str().unwrap();

    let node = network.start_node(&three, &[]);
    let restores = || {
        metric(
            &node,
            "swarmfeed_authorizations_total{operation=\"restore\",actor=\"operator\",outcome=\"allowed\"}",
        )
    };
    assert_eq!(restores(), Some(0.0));
    let synced = swarmfeed_ok(&[
        "--data",
        three_str,
        "identity",
        "sync",
        "--sync-timeout",
        "60",
    ]);
    assert!(
        synced.contains(&format!(
            "synced {identity}/main: 2 entries fetched and verified; the next entry is seq 3"
        )),
        "{synced}"
    );
    assert_eq!(
        restores(),
        Some(1.0),
        "the sync did not go through the node"
    );
    let entry = format!("{}/{identity}/main/2", node.info.public_url);
    wait_for(
        Duration::from_secs(10),
        "the node to serve the restored feed",
        || (http_request("GET", &entry, &[], b"")?.0 == 200).then_some(()),
    );

    let verdict = swarmfeed_ok(&[
        "--data",
        three_str,
        "verify",
        &format!("{identity}/main"),
        "--fetch-allow",
        "127.0.0.0/8",
    ]);
    assert!(
        verdict.starts_with(&format!("valid: {identity}/main: 2 entries verified")),
        "{verdict}"
    );
    // A bad request is refused by the node as it is without one: one line, exit 3.
    let refused = swarmfeed(&[
        "--data",
        three_str,
        "verify",
        &format!("{identity}/main"),
        "--fetch-allow",
        "not-a-network",
    ]);
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not-a-network"));
    drop(node);
    drop(node_a);
}

/// A node serving a log with two different signed entries at seq 1: `verify` says the feed
/// forked, where, and that it stays frozen before it (exit 3), as a follower would.
#[test]
fn verify_reports_a_feed_whose_log_holds_two_entries_at_one_seq_as_forked() {
    let (_guard, root) = test_root();
    let keys = DataDir::new(root.join("keys")).keystore();
    keys.generate("alice", true).unwrap();
    let keypair = keys.keypair("alice").unwrap();
    let identity = keypair.public();
    let main = FeedName::new("main").unwrap();
    let entry = |title: &str| {
        Entry {
            author: identity,
            feed: main.clone(),
            seq: 1,
            prev: None,
            time: 1_700_000_000,
            kind: Kind::Post,
            content: None,
            meta: BTreeMap::from([("title".to_owned(), title.to_owned())]),
            delegation: Vec::new(),
            member: None,
        }
        .sign(&keypair)
        .unwrap()
    };
    let (first, second) = (entry("one"), entry("another one"));
    let tail = make_tail(&main, &[], &[first, second.clone()]);
    let head = FeedHead {
        feed: main.clone(),
        seq: 1,
        entry_hash: second.hash(),
        log: tail.info.infohash(),
        time: 1_700_000_000,
    }
    .sign(&keypair)
    .unwrap()
    .encode();
    let heads = format!("/api/v1/heads/{identity}/main");
    let logs = format!("/api/v1/logs/{identity}/main/");
    let node = FakeNode::start(move |method, path| match method {
        "GET" if path == heads => Some((200, "application/x-bencode", head.clone())),
        "GET" if path.starts_with(&logs) => {
            Some((200, "application/x-bencode", tail.bytes.clone()))
        }
        _ => None,
    });

    let scratch = root.join("verifier");
    let out = swarmfeed(&[
        "--data",
        scratch.to_str().unwrap(),
        "verify",
        &format!("{identity}/main"),
        "--dht-bootstrap",
        "none",
        "--node",
        &node.url,
        "--allow-private-fetch",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "invalid: {identity}/main forked at seq 1 (two different signed entries); it is frozen at entry 0"
        )),
        "{stderr}"
    );
}
