//! Content and feeds outlive their publisher and every gateway (issue 7), as one scenario on
//! 127.0.0.1 with real `swarmfeed serve` processes and a private DHT of plain mainline
//! nodes:
//!
//! 1. publisher P, seeders S1–S3 following it, gateway G, four plain DHT nodes;
//! 2. P publishes 10 entries (1 KiB … 50 MiB, one a directory); S1–S3 hold everything;
//! 3. P and G are SIGKILLed, P's data directory deleted;
//! 4. stock libtorrent, given only the 10 bare magnet links and S1's DHT address, downloads
//!    all 10, byte-identical;
//! 5. a brand-new node N (empty data dir, P's id, one bootstrap address) rebuilds the feed
//!    from the DHT and S1–S3, and its gateway renders it (10 entries in order) and streams a
//!    file byte-exact;
//! 6. the DHT forgets (plain nodes restarted empty, seeders restarted with an empty DHT
//!    state): the seeders' republishing brings the head back, and a second fresh node does
//!    step 5 again;
//! 7. P is restored on a new machine from its key backup (`identity import`), which syncs
//!    its feed from the network first, publishes seq 11, and S1–S3 and N take it; an
//!    attacker's forged "seq 12" head of P's feed is refused by all and changes nothing.
//!
//! Every step prints `STEP …` with its time (`scripts/demo-survival` shows them). With
//! `SWARMFEED_SURVIVAL_NO_PUSH` set, P runs with `--no-push`: the seeders learn of new
//! entries by polling the DHT only.

mod content;
mod import;
mod newcomer;
mod nodes;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use data_dir::DataDir;
use feeds::{FeedHead, FeedName, IdentityKey, Keypair, SignedHead};
use tests::binary::{field, swarmfeed_with_env};
use tests::commands::{follow, new_identity};
use tests::network::holds;
use tests::node::{
    NodeProcess, Testnet, first_follow, http_get, http_request, publish, run_python, same_tree,
    test_root, wait_for, write_pattern_file,
};

use crate::content::{ITEMS, Publications, make_content};
use crate::newcomer::fresh_node;
use crate::nodes::{head_at, on, stop_all, wait_all_hold};

const PASSPHRASE: (&str, &str) = ("SWARMFEED_PASSPHRASE", "survival test passphrase");
/// Seconds between the seeders' republishing of held heads (shortened from 1800).
const REPUBLISH_SECS: &str = "8";

struct Clock {
    start: Instant,
    last: Instant,
}

impl Clock {
    fn new() -> Clock {
        let now = Instant::now();
        Clock {
            start: now,
            last: now,
        }
    }

    fn step(&mut self, what: &str) {
        let now = Instant::now();
        println!(
            "STEP {what}: {:.1} s (at {:.1} s)",
            (now - self.last).as_secs_f64(),
            (now - self.start).as_secs_f64()
        );
        self.last = now;
    }
}

/// A head that claims to be `victim`'s but is signed by `signer`.
fn forged_head(signer: &Keypair, victim: &IdentityKey, head: FeedHead) -> Vec<u8> {
    let mut bytes = head.sign(signer).unwrap().encode();
    let own = signer.public();
    let at = bytes.windows(32).position(|w| w == own.as_bytes()).unwrap();
    bytes[at..at + 32].copy_from_slice(victim.as_bytes());
    assert!(SignedHead::decode(&bytes).is_err(), "the forgery verifies");
    bytes
}

#[test]
fn a_feed_outlives_its_publisher_and_gateway_and_its_restored_publisher_continues_it() {
    let (_guard, root) = test_root();
    let dir = |name: &str| root.join(name);
    let (p, g, n, n2, p2, m) = (dir("p"), dir("g"), dir("n"), dir("n2"), dir("p2"), dir("m"));
    let seeders: Vec<PathBuf> = (1..=3).map(|i| dir(&format!("s{i}"))).collect();
    let content = dir("content");
    let mut clock = Clock::new();
    make_content(&content);
    let push = std::env::var_os("SWARMFEED_SURVIVAL_NO_PUSH").is_none();

    // 1. The network.
    let mut dht = Testnet::new(4);
    let p_str = p.to_str().unwrap();
    new_identity(&p, "publisher");
    let p_args: &[&str] = if push { &[] } else { &["--no-push"] };
    let mut publisher = NodeProcess::start(&p, &on(dht.bootstrap(), p_args));
    let republish = ["--republish-interval", REPUBLISH_SECS];
    let seeder_nodes: Vec<NodeProcess> = seeders
        .iter()
        .map(|s| NodeProcess::start(s, &on(dht.bootstrap(), &republish)))
        .collect();
    let mut gateway = NodeProcess::start(&g, &on(dht.bootstrap(), &republish));
    clock.step("1 network up (P, S1-S3, G, 4 plain DHT nodes)");

    // 2. Ten publications; S1–S3 and G follow and hold everything.
    let mut feed = Publications::default();
    for i in 0..9 {
        feed.publish(&p, &content, i);
    }
    let identity = feed.identity.clone();
    let followers: Vec<&Path> = seeders
        .iter()
        .map(PathBuf::as_path)
        .chain([g.as_path()])
        .collect();
    for data in &followers {
        follow(data, &identity, &[]);
    }
    let first = wait_all_hold(
        &followers,
        9,
        Duration::from_secs(180),
        "S1-S3 and G to hold 9 entries",
    );
    clock.step(&format!(
        "2a 9 entries published (71 MiB); S1-S3 and G hold them {first:.1} s after following"
    ));
    let published = Instant::now();
    feed.publish(&p, &content, 9);
    let Publications {
        titles,
        infohashes,
        magnets,
        ..
    } = feed;
    let seeder_paths: Vec<&Path> = seeders.iter().map(PathBuf::as_path).collect();
    wait_all_hold(
        &seeder_paths,
        10,
        Duration::from_secs(60),
        "S1-S3 to hold entry 10",
    );
    let to_seeders = published.elapsed().as_secs_f64();
    println!(
        "MEASURE publish -> all three seeders hold it ({}): {to_seeders:.2} s",
        if push {
            "push"
        } else {
            "no push: DHT polling every 2 s"
        }
    );
    wait_all_hold(&[&g], 10, Duration::from_secs(60), "G to hold entry 10");
    clock.step("2b entry 10 published; S1-S3 and G hold all 10");
    let identity_key: IdentityKey = identity.parse().unwrap();

    // P's key backup, taken while it still had one.
    let backup = dir("publisher.age");
    let out = swarmfeed_with_env(
        &[
            "--data",
            p_str,
            "identity",
            "export",
            "publisher",
            "-o",
            backup.to_str().unwrap(),
        ],
        &[PASSPHRASE],
    );
    assert!(out.status.success(), "{out:?}");

    // 3. The publisher and the gateway die; the publisher's disk is gone.
    publisher.kill();
    gateway.kill();
    fs::remove_dir_all(&p).unwrap();
    clock.step("3 P and G SIGKILLed, P's data dir deleted");

    // 4. Stock libtorrent, with the bare magnet links and S1's DHT address only.
    let magnet_file = dir("magnets.txt");
    fs::write(&magnet_file, magnets.join("\n")).unwrap();
    assert!(
        magnets
            .iter()
            .all(|m| !m.contains("ws=") && !m.contains("tr="))
    );
    let save = dir("libtorrent");
    fs::create_dir_all(&save).unwrap();
    let (ok, stdout, stderr) = run_python(
        "lt_magnets_dht.py",
        &[
            seeder_nodes[0].dht_address(),
            magnet_file.display().to_string(),
            save.display().to_string(),
            "120".into(),
        ],
        Duration::from_secs(140),
    );
    assert!(
        ok,
        "libtorrent did not download the 10 magnets:\n{stdout}\n{stderr}"
    );
    for (name, _) in ITEMS {
        same_tree(&save.join(name), &content.join(name)).unwrap();
    }
    clock.step(&format!(
        "4 stock libtorrent downloaded all 10 by bare magnet via S1's DHT, byte-identical ({})",
        stdout.lines().last().unwrap_or_default()
    ));

    // 5. A brand-new node rebuilds the feed and its gateway renders it.
    let (newcomer, rendered, complete) = fresh_node(
        &n,
        seeder_nodes[1].dht_address(),
        &identity,
        &titles,
        &infohashes,
        &content,
    );
    println!(
        "MEASURE cold start -> N renders the full feed: {rendered:.2} s; holds all 10: {complete:.2} s"
    );
    clock.step("5 fresh node N: feed rendered in order, file streamed, all 10 verified");

    // 6. The DHT forgets everything; the seeders' republishing brings the head back.
    let mut stopping = seeder_nodes;
    stopping.push(newcomer);
    stop_all(stopping);
    dht.restart();
    let probe = engine::dht::DhtNode::start(&engine::dht::DhtConfig {
        bind_address: std::net::Ipv4Addr::LOCALHOST,
        port: 0,
        bootstrap: vec![dht.bootstrap()],
        server_mode: false,
    })
    .unwrap();
    let main_feed = FeedName::new("main").unwrap();
    let head_in_dht = || futures_lite::future::block_on(probe.get_head(&identity_key, &main_feed));
    assert!(
        head_in_dht().is_none(),
        "the head is still in the DHT after every node restarted"
    );
    let restarted = Instant::now();
    let seeder_nodes: Vec<NodeProcess> = seeders
        .iter()
        .map(|s| NodeProcess::start(s, &on(dht.bootstrap(), &republish)))
        .collect();
    let back = wait_for(
        Duration::from_secs(60),
        "the seeders to republish the head",
        head_in_dht,
    );
    assert_eq!(back.head().seq, 10);
    println!(
        "MEASURE head back in the DHT {:.1} s after the seeders restarted (republish every {REPUBLISH_SECS} s)",
        restarted.elapsed().as_secs_f64()
    );
    // The second newcomer starts at once: the seeders re-announce their torrents in their
    // first republish round, and a magnet whose metadata no peer had yet is tried again.
    clock.step("6a DHT emptied (plain nodes and seeders restarted); head republished");
    let (second, rendered2, complete2) = fresh_node(
        &n2,
        dht.bootstrap(),
        &identity,
        &titles,
        &infohashes,
        &content,
    );
    println!("MEASURE second fresh node: renders {rendered2:.2} s, holds all {complete2:.2} s");
    drop(second);
    clock.step("6b second fresh node N2 rebuilt and rendered the feed");

    // 7. P restored on a new machine from its key backup: it syncs first, then continues.
    let p2_str = p2.to_str().unwrap();
    let out = swarmfeed_with_env(
        &[
            "--data",
            p2_str,
            "identity",
            "import",
            backup.to_str().unwrap(),
            "--dht-bootstrap",
            &dht.bootstrap(),
            "--bind-ip",
            "127.0.0.1",
            "--allow-private-fetch",
            "--sync-timeout",
            "90",
        ],
        &[PASSPHRASE],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(field(&stdout, "id"), Some(identity.as_str()));
    assert!(
        stdout.contains(&format!(
            "synced {identity}/main: 10 entries fetched and verified; the next entry is seq 11"
        )),
        "{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    clock.step("7a P restored on a new machine: key imported, feed synced (10 entries)");
    let newcomer = NodeProcess::start(&n, &on(dht.bootstrap(), &[]));
    let _restored = NodeProcess::start(&p2, &on(dht.bootstrap(), &[]));
    let eleventh = dir("content2/epilogue.txt");
    write_pattern_file(&eleventh, 2 << 10, 11);
    let started = Instant::now();
    let out = publish(&p2, &eleventh, "Survivor 11 (epilogue)", &[]);
    assert_eq!(out["seq"], 11, "{out}");
    assert_eq!(out["identity"], identity.as_str());
    let hash11 = out["entry_hash"].as_str().unwrap().to_owned();
    let everyone: Vec<&Path> = seeder_paths.iter().copied().chain([n.as_path()]).collect();
    let took = wait_all_hold(
        &everyone,
        11,
        Duration::from_secs(90),
        "S1-S3 and N to hold entry 11",
    );
    println!(
        "MEASURE restored publisher's seq 11 -> S1-S3 and N hold it: {took:.2} s (after publish {:.2} s)",
        started.elapsed().as_secs_f64()
    );
    clock.step("7b restored P published seq 11; S1-S3 and N hold it");

    // An attacker: its own key and data dir, its own "main" feed, and a forged head
    // claiming P's feed at seq 12, pushed to everyone.
    new_identity(&m, "mallory");
    let attacker = NodeProcess::start(&m, &on(dht.bootstrap(), &[]));
    let fake = publish(&m, &eleventh, "Survivor 12 (forged)", &[]);
    let mallory: Keypair = DataDir::new(&m).keystore().keypair("mallory").unwrap();
    let mallory_head = SignedHead::decode(
        &fs::read(
            DataDir::new(&m)
                .feed_dir(&mallory.public(), &main_feed)
                .join("head"),
        )
        .unwrap(),
    )
    .unwrap();
    let forged = forged_head(
        &mallory,
        &identity_key,
        FeedHead {
            feed: main_feed.clone(),
            seq: 12,
            entry_hash: mallory_head.head().entry_hash,
            log: mallory_head.head().log,
            time: mallory_head.head().time,
        },
    );
    let nodes: Vec<&NodeProcess> = seeder_nodes.iter().chain([&newcomer]).collect();
    for node in &nodes {
        let (status, body) = http_request(
            "POST",
            &format!("{}/api/v1/heads", node.info.public_url),
            &[("x-swarmfeed-node", attacker.info.public_url.as_str())],
            &forged,
        )
        .unwrap();
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("bad_head_signature"));
    }
    // Give any effect time to show, then check nothing changed anywhere.
    std::thread::sleep(Duration::from_secs(4));
    for (node, data) in nodes.iter().zip(&everyone) {
        let head = head_at(node, &identity_key).expect("head");
        assert_eq!(head.head().seq, 11);
        assert_eq!(head.head().entry_hash.to_string(), hash11);
        assert!(holds(data, 11).is_some(), "{:?}", first_follow(data));
        let entry: serde_json::Value = serde_json::from_slice(
            &http_get(&format!(
                "{}/api/v1/entries/{identity}/main/11",
                node.info.public_url
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(entry["hash"], hash11.as_str());
        assert!(
            http_get(&format!(
                "{}/api/v1/entries/{identity}/main/12",
                node.info.public_url
            ))
            .is_none()
        );
    }
    assert_ne!(fake["identity"], identity.as_str());
    clock.step("7c attacker's forged seq 12 refused by S1-S3 and N; nothing changed");
    println!("TOTAL {:.1} s", clock.start.elapsed().as_secs_f64());
}
