//! Issue 13: networks within networks. A group's own DHT — its first node started with
//! `--dht-bootstrap none`, the others bootstrapping from it — replicates everything with no
//! HTTP route between the nodes (each advertises a URL nobody answers, and their access
//! logs show no request from the other), on the default poll (300 s) and republish
//! (1800 s) intervals, in either join order.
//!
//! Before the fix, a follower joining after the publisher never got the log (its publisher's
//! puts and announces had gone nowhere on an empty routing table, and nobody answered "I
//! seed it myself"), and one joining before waited for the next poll, 300 s, for every entry
//! after the first. `scripts/small-network` runs the two-node case 10 times per order.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::commands::{follow, new_identity, publish};
use tests::files::{test_root, write_pattern_file};
use tests::network::holds;
use tests::node::{NodeOptions, NodeProcess, run_python, wait_for};

/// Entries A publishes: (name, bytes). Smaller than the 1 KiB / 5 MiB / 64 MiB to
/// keep CI fast; the script runs those.
const ENTRIES: [(&str, u64); 3] = [
    ("note.txt", 1024),
    ("song.bin", 1 << 20),
    ("film.bin", 8 << 20),
];
/// The issue asks for 10 s on a quiet machine; CI runs loaded, so the test allows more and
/// prints what it took.
const LIMIT: Duration = Duration::from_secs(30);

/// A node whose public URL nobody answers (port 1 on loopback: refused at once), so there
/// is no HTTP route between the nodes whatever their fetch policy: the identity record and
/// pushes name only that URL.
fn start(data: &Path, bootstrap: Option<String>) -> NodeProcess {
    NodeProcess::start(
        data,
        &NodeOptions {
            bootstrap,
            args: vec!["--public-url".into(), "http://127.0.0.1:1".into()],
        },
    )
}

fn publish_all(a: &Path, content: &Path) -> Vec<Value> {
    ENTRIES
        .iter()
        .map(|(name, _)| publish(a, &content.join(name), name, &[]))
        .collect()
}

/// Neither node sent the other an HTTP request: only `/healthz` (the harness's) and
/// `/metrics` appear in their access logs.
fn assert_no_http_between(nodes: &[&NodeProcess]) {
    for node in nodes {
        let log = node.log();
        let requests: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("swarmfeed::access"))
            .filter(|l| !l.contains("/healthz") && !l.contains("/metrics"))
            .collect();
        assert!(
            requests.is_empty(),
            "HTTP between the nodes:\n{}",
            requests.join("\n")
        );
    }
}

/// Stock libtorrent, bootstrapped from `node`'s DHT only, downloads every published entry by
/// bare magnet, byte-identical.
fn libtorrent_downloads_all_from(node: &NodeProcess, published: &[Value], root: &Path) {
    let magnets: Vec<String> = published
        .iter()
        .map(|p| format!("magnet:?xt=urn:btih:{}", p["infohash"].as_str().unwrap()))
        .collect();
    let magnet_file = root.join("magnets.txt");
    fs::write(&magnet_file, magnets.join("\n")).unwrap();
    let save = root.join("libtorrent");
    fs::create_dir_all(&save).unwrap();
    let (ok, stdout, stderr) = run_python(
        "lt_magnets_dht.py",
        &[
            node.dht_address(),
            magnet_file.display().to_string(),
            save.display().to_string(),
            "60".into(),
        ],
        Duration::from_secs(80),
    );
    assert!(
        ok,
        "libtorrent did not download everything:\n{stdout}\n{stderr}"
    );
    for (name, _) in ENTRIES {
        let expected = fs::read(root.join("content").join(name)).unwrap();
        assert!(
            fs::read(save.join(name)).unwrap() == expected,
            "{name} differs"
        );
    }
    println!(
        "libtorrent from the follower alone: {}",
        stdout.lines().last().unwrap_or_default()
    );
}

fn two_nodes(follow_first: bool) {
    let (_guard, root) = test_root();
    let (a, b, content) = (root.join("a"), root.join("b"), root.join("content"));
    fs::create_dir_all(&content).unwrap();
    for (seed, (name, len)) in ENTRIES.iter().enumerate() {
        write_pattern_file(&content.join(name), *len, seed as u64 + 1);
    }
    let mut node_a = start(&a, None);
    new_identity(&a, "alice");
    let identity =
        tests::binary::swarmfeed_ok(&["--data", a.to_str().unwrap(), "identity", "show"])
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("identity show prints an id"));

    let (node_b, published);
    if follow_first {
        node_b = start(&b, Some(node_a.dht_address()));
        follow(&b, &identity, &[]);
        published = publish_all(&a, &content);
    } else {
        published = publish_all(&a, &content);
        node_b = start(&b, Some(node_a.dht_address()));
        follow(&b, &identity, &[]);
    }
    let started = Instant::now();
    wait_for(LIMIT, "B to hold every entry, verified", || holds(&b, 3));
    println!(
        "B holds all 3 entries verified {:.2} s after the later of follow and publish",
        started.elapsed().as_secs_f64()
    );
    assert_no_http_between(&[&node_a, &node_b]);

    node_a.kill();
    libtorrent_downloads_all_from(&node_b, &published, &root);

    if follow_first {
        // A chain: C bootstraps from B only; A is gone.
        let c = root.join("c");
        let node_c = start(&c, Some(node_b.dht_address()));
        let started = Instant::now();
        follow(&c, &identity, &[]);
        wait_for(LIMIT, "C to hold every entry", || holds(&c, 3));
        println!(
            "C (bootstrapped from B only, A dead) holds all 3 after {:.2} s",
            started.elapsed().as_secs_f64()
        );
        assert_no_http_between(&[&node_b, &node_c]);
    }
}

#[test]
fn a_follower_joining_after_the_publisher_gets_everything_over_the_dht_alone() {
    two_nodes(false);
}

#[test]
fn a_follower_joining_before_the_publisher_gets_everything_over_the_dht_alone() {
    two_nodes(true);
}

#[test]
fn a_node_restarted_with_an_empty_dht_finds_its_followed_feeds_and_is_found() {
    let (_guard, root) = test_root();
    let (a, b, content) = (root.join("a"), root.join("b"), root.join("content"));
    fs::create_dir_all(&content).unwrap();
    for i in 1..=4 {
        write_pattern_file(&content.join(format!("f{i}")), 100 << 10, i);
    }
    let node_a = start(&a, None);
    let node_b = start(&b, Some(node_a.dht_address()));
    new_identity(&a, "alice");
    new_identity(&b, "bob");
    let id_a = publish(&a, &content.join("f1"), "a1", &[])["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let id_b = publish(&b, &content.join("f2"), "b1", &[])["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    follow(&b, &id_a, &[]);
    follow(&a, &id_b, &[]);
    wait_for(LIMIT, "B to hold A's entry", || holds(&b, 1));
    wait_for(LIMIT, "A to hold B's entry", || holds(&a, 1));
    // A remembers the DHT nodes it knew (addresses only), as it would after running a while.
    wait_for(
        Duration::from_secs(15),
        "A to save the DHT nodes it knows",
        || {
            fs::read(a.join("dht-nodes.json"))
                .ok()
                .filter(|b| b.len() > 2)
        },
    );

    // A restarts: a new DHT node id and new ports, nothing in its DHT memory.
    drop(node_a);
    let node_a = start(&a, None);
    let started = Instant::now();
    publish(&a, &content.join("f3"), "a2", &[]);
    wait_for(LIMIT, "B to hold A's new entry", || holds(&b, 2));
    println!(
        "B holds the restarted A's new entry after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    publish(&b, &content.join("f4"), "b2", &[]);
    wait_for(LIMIT, "the restarted A to hold B's new entry", || {
        holds(&a, 2)
    });
    println!(
        "the restarted A holds B's new entry after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_no_http_between(&[&node_a, &node_b]);
}
