//! Disk caps on followed content (per follow and per node, never exceeded on disk, oldest
//! first, raised caps let the rest in, reservations survive a restart), concurrent feed
//! updates (a dead feed does not delay a live one), and limits on follower registrations.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::binary::swarmfeed_ok;
use tests::commands::{follow, follows, new_identity, publish};
use tests::files::{dir_names, same_tree, test_root, write_pattern_file};
use tests::http::http_request;
use tests::network::Network;
use tests::node::{NodeOptions, NodeProcess};
use tests::poll::wait_for;
use tests::process::run_python;

const MIB: u64 = 1 << 20;

/// Watches a directory tree from a thread and keeps the largest total it saw, both apparent
/// (file lengths: the engine sizes files up front) and allocated (blocks on disk).
struct DiskWatch {
    max_apparent: Arc<AtomicU64>,
    max_allocated: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DiskWatch {
    fn start(dir: PathBuf) -> DiskWatch {
        let (max_apparent, max_allocated) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, b, s) = (max_apparent.clone(), max_allocated.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let (apparent, allocated) = tree_size(&dir);
                a.fetch_max(apparent, Ordering::Relaxed);
                b.fetch_max(allocated, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        DiskWatch {
            max_apparent,
            max_allocated,
            stop,
            thread: Some(thread),
        }
    }

    /// The largest (apparent, allocated) totals seen since the last call.
    fn take_max(&self) -> (u64, u64) {
        (
            self.max_apparent.swap(0, Ordering::Relaxed),
            self.max_allocated.swap(0, Ordering::Relaxed),
        )
    }
}

impl Drop for DiskWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Total file lengths and allocated bytes of the regular files under `dir`.
fn tree_size(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut apparent, mut allocated) = (0, 0);
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, 0);
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            let (a, b) = tree_size(&entry.path());
            apparent += a;
            allocated += b;
        } else if meta.is_file() {
            apparent += meta.len();
            allocated += meta.blocks() * 512;
        }
    }
    (apparent, allocated)
}

fn follow_of<'a>(list: &'a Value, target_feed: &str) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|f| f["feed"].as_str() == Some(target_feed))
}

#[test]
fn capped_follows_hold_exactly_what_fits_never_more_on_disk_and_the_rest_arrives_when_caps_rise() {
    let (_guard, root) = test_root();
    let (a, b, content) = (root.join("a"), root.join("b"), root.join("content"));
    let network = Network::new(3);
    let _node_a = network.start_publisher(&a, "alice", &[]);
    // Feed main: 3, 4, 5, 2, 1 MiB; feed other: 2, 3 MiB.
    let mut main = Vec::new();
    for (i, mib) in [3u64, 4, 5, 2, 1].into_iter().enumerate() {
        let path = content.join(format!("main-{i}.bin"));
        write_pattern_file(&path, mib * MIB, 10 + i as u64);
        main.push((publish(&a, &path, &format!("main {i}"), &[]), path));
    }
    let mut other = Vec::new();
    for (i, mib) in [2u64, 3].into_iter().enumerate() {
        let path = content.join(format!("other-{i}.bin"));
        write_pattern_file(&path, mib * MIB, 20 + i as u64);
        other.push((
            publish(&a, &path, &format!("other {i}"), &["--feed", "other"]),
            path,
        ));
    }
    let identity = main[0].0["identity"].as_str().unwrap().to_owned();
    let ih = |item: &(Value, PathBuf)| item.0["infohash"].as_str().unwrap().to_owned();

    // B: a node cap of 12 MiB; main followed with a cap of 8 MiB.
    let node_b = network.start_node(&b, &["--max-bytes", "12MiB"]);
    let downloads = b.join("downloads");
    let watch = DiskWatch::start(downloads.clone());
    follow(&b, &format!("{identity}/main"), &["--max-bytes", "8MiB"]);
    // Oldest first: 3 + 4 fit, 5 does not (12 > 8), 2 does not (9 > 8), 1 does (8).
    let status = wait_for(
        Duration::from_secs(90),
        "main: 3 of 5 held, 2 over its cap",
        || {
            let list = follows(&b);
            let f = follow_of(&list, "main")?.clone();
            (f["entries"] == 5 && f["complete"] == 3 && f["over_limit"]["torrents"] == 2)
                .then_some(f)
        },
    );
    println!("main under 8 MiB: {status}");
    assert_eq!(status["max_bytes"], 8 * MIB);
    assert_eq!(status["reserved_bytes"], 8 * MIB);
    assert_eq!(status["over_limit"]["bytes"], 7 * MIB);
    let reason = status["over_limit"]["reason"].as_str().unwrap();
    assert!(reason.contains("max_bytes 8 MiB"), "{reason}");
    let mut expect = vec![ih(&main[0]), ih(&main[1]), ih(&main[4])];
    expect.sort();
    assert_eq!(dir_names(&downloads), expect);
    for item in [&main[0], &main[1], &main[4]] {
        let name = item.1.file_name().unwrap();
        same_tree(&downloads.join(ih(item)).join(name), &item.1).unwrap();
    }
    let text = swarmfeed_ok(&["--data", b.to_str().unwrap(), "follows"]);
    assert!(
        text.contains("over_limit: 2 torrents (7 MiB) wait:"),
        "{text}"
    );
    let (apparent, allocated) = watch.take_max();
    println!(
        "download dir at most {apparent} bytes ({allocated} allocated) under caps 8 MiB / 12 MiB"
    );
    assert!(
        apparent <= 8 * MIB && allocated <= 8 * MIB,
        "{apparent} / {allocated}"
    );

    // Feed other, no cap of its own: the node's 12 MiB lets 2 MiB in, not 3 more.
    follow(&b, &format!("{identity}/other"), &[]);
    let status = wait_for(
        Duration::from_secs(60),
        "other: 1 of 2 held, 1 over the node cap",
        || {
            let list = follows(&b);
            let f = follow_of(&list, "other")?.clone();
            (f["entries"] == 2 && f["complete"] == 1 && f["over_limit"]["torrents"] == 1)
                .then_some(f)
        },
    );
    let reason = status["over_limit"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("node max_bytes 12 MiB"), "{reason}");
    assert!(downloads.join(ih(&other[0])).exists());
    assert!(!downloads.join(ih(&other[1])).exists());
    let (apparent, allocated) = watch.take_max();
    assert!(
        apparent <= 12 * MIB && allocated <= 12 * MIB,
        "{apparent} / {allocated}"
    );

    // Raising main's cap: 5 MiB still does not fit the node (15 > 12), 2 MiB does (12).
    follow(&b, &format!("{identity}/main"), &["--max-bytes", "none"]);
    wait_for(Duration::from_secs(60), "main: 4 of 5 held", || {
        let list = follows(&b);
        let f = follow_of(&list, "main")?.clone();
        (f["complete"] == 4 && f["over_limit"]["torrents"] == 1).then_some(())
    });
    assert!(downloads.join(ih(&main[3])).exists());
    let (apparent, allocated) = watch.take_max();
    assert!(
        apparent <= 12 * MIB && allocated <= 12 * MIB,
        "{apparent} / {allocated}"
    );

    // A restart with a node cap of 40 MiB: the reservations held are kept, the rest arrives.
    drop(node_b); // SIGTERM: a clean stop
    let _node_b = network.start_node(&b, &["--max-bytes", "40MiB"]);
    wait_for(
        Duration::from_secs(90),
        "every entry held after the cap rose",
        || {
            let list = follows(&b);
            let (m, o) = (follow_of(&list, "main")?, follow_of(&list, "other")?);
            (m["complete"] == 5
                && o["complete"] == 2
                && m["over_limit"].is_null()
                && o["over_limit"].is_null())
            .then_some(())
        },
    );
    for item in main.iter().chain(&other) {
        let name = item.1.file_name().unwrap();
        same_tree(&downloads.join(ih(item)).join(name), &item.1).unwrap();
    }
    let (apparent, _) = watch.take_max();
    assert!(apparent <= 20 * MIB, "{apparent}");
}

#[test]
fn a_feed_whose_log_nobody_serves_does_not_delay_a_live_one() {
    let (_guard, root) = test_root();
    let (a, d, b, content) = (
        root.join("a"),
        root.join("d"),
        root.join("b"),
        root.join("content"),
    );
    let network = Network::new(3);
    // D publishes through its node (head in the DHT, tail announced), then dies: its head
    // and peer address stay in the DHT, but nobody serves the tail.
    let mut node_d = network.start_publisher(&d, "dead", &[]);
    write_pattern_file(&content.join("dead.bin"), 64 << 10, 1);
    let dead = publish(&d, &content.join("dead.bin"), "dead", &[]);
    let dead_id = dead["identity"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_secs(3)); // the DHT put and announce
    node_d.kill();

    let _node_a = network.start_publisher(&a, "alice", &[]);
    write_pattern_file(&content.join("one.bin"), 64 << 10, 2);
    let first = publish(&a, &content.join("one.bin"), "one", &[]);
    let alice = first["identity"].as_str().unwrap().to_owned();

    let node_b = network.start_node(&b, &[]);
    // The dead feed first, so that a one-at-a-time poll round would wait on it before alice.
    follow(&b, &format!("{dead_id}/main"), &[]);
    follow(&b, &format!("{alice}/main"), &[]);
    let live = |entries: u64| {
        let (b, alice) = (b.clone(), alice.clone());
        move || {
            let list = follows(&b);
            let f = list
                .as_array()?
                .iter()
                .find(|f| f["identity"] == alice.as_str())?
                .clone();
            // The entry itself: what concurrent updates are about (its content then comes
            // from the swarm, as for any feed).
            (f["entries"] == entries && (entries > 1 || f["complete"] == 1)).then_some(())
        }
    };
    wait_for(Duration::from_secs(60), "alice's first entry", live(1));
    // The dead feed's update is waiting on the swarm now (it started first and takes over
    // 20 s); a one-at-a-time poll round would hold alice's new entry behind it.
    let path = content.join("two.bin");
    write_pattern_file(&path, 64 << 10, 3);
    let started = Instant::now();
    publish(&a, &path, "two", &[]);
    wait_for(Duration::from_secs(60), "alice's new entry", live(2));
    let delay = started.elapsed();
    let error = wait_for(
        Duration::from_secs(60),
        "the dead feed's failed update",
        || {
            let list = follows(&b);
            let f = list
                .as_array()?
                .iter()
                .find(|f| f["identity"] == dead_id.as_str())?
                .clone();
            assert_eq!(f["entries"], 0);
            f["last_error"].as_str().map(str::to_owned)
        },
    );
    println!("alice's new entry arrived after {delay:?}; the dead feed: {error}");
    // The slow path this test is about: a swarm wait, not a quick failure.
    assert!(error.contains("not found in the swarm"), "{error}");
    assert!(
        delay < Duration::from_secs(8),
        "{delay:?}; log:\n{}",
        node_b.log()
    );
}

/// POSTs `body` to `url` from the loopback address `source`: (status, Retry-After, body).
fn post_from(source: &str, url: &str, body: &str) -> (u16, String, String) {
    let (ok, out, err) = run_python(
        "post_from.py",
        &[source.into(), url.into(), body.into()],
        Duration::from_secs(30),
    );
    assert!(ok, "post_from.py failed: {err}");
    let mut lines = out.splitn(3, '\n');
    let status = lines.next().unwrap().trim().parse().unwrap();
    let retry = lines.next().unwrap_or("-").trim().to_owned();
    (status, retry, lines.next().unwrap_or("").to_owned())
}

#[test]
fn follower_registrations_are_checked_rate_limited_and_capped() {
    let (_guard, root) = test_root();
    let a = root.join("a");
    let config = root.join("node.toml");
    fs::write(
        &config,
        "[limits]\nfollowers_per_feed = 3\nfollowers_total = 5\nregistrations_per_minute = 4\n",
    )
    .unwrap();
    new_identity(&a, "alice");
    let node = NodeProcess::start(
        &a,
        &NodeOptions {
            bootstrap: None,
            // The followers registered here are loopback ports.
            args: vec![
                "--config".into(),
                config.to_str().unwrap().into(),
                "--fetch-allow".into(),
                "127.0.0.0/8".into(),
            ],
        },
    );
    let file = root.join("x.txt");
    fs::write(&file, b"x").unwrap();
    let alice = publish(&a, &file, "x", &[])["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    publish(&a, &file, "x", &["--feed", "other"]);
    let url = format!("http://{}/api/v1/followers", node.info.http);
    let body = |feed: &str, follower: &str| {
        serde_json::json!({"identity": alice, "feed": feed, "url": follower}).to_string()
    };

    // Garbage, each from its own address (so no rate limit gets in the way): clear refusals.
    let long = format!("http://example.org/{}", "a".repeat(600));
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(5000));
    let cases: Vec<(String, u16, &str)> = vec![
        ("not json".into(), 400, "bad_request"),
        (r#"{"identity": "x"}"#.into(), 400, "bad_request"),
        (body("main", "ftp://example.org/"), 400, "bad_url"),
        (body("main", "http://user:pw@example.org"), 400, "bad_url"),
        (body("main", "http://example.org/?a=b"), 400, "bad_url"),
        (body("main", "http://exa mple.org"), 400, "bad_url"),
        (body("main", "http://"), 400, "bad_url"),
        (body("main", &long), 400, "bad_url"),
        (huge, 413, "too_large"),
        (body("nope", "http://127.0.0.1:9"), 404, "not_found"),
        (
            serde_json::json!({"identity": "zz", "feed": "main", "url": "http://127.0.0.1:9"})
                .to_string(),
            400,
            "bad_identity",
        ),
    ];
    for (i, (request, status, name)) in cases.iter().enumerate() {
        let source = format!("127.0.1.{}", i + 1);
        let (got, _, answer) = post_from(&source, &url, request);
        assert_eq!(got, *status, "{request:.80}: {answer}");
        let error: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(error["error"], *name, "{answer}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }

    // Per feed: 3 registrations, then full; renewing one that exists is fine.
    for (i, port) in [9001, 9002, 9003].into_iter().enumerate() {
        let (status, _, answer) = post_from(
            &format!("127.0.2.{}", i + 1),
            &url,
            &body("main", &format!("http://127.0.0.1:{port}")),
        );
        assert_eq!(status, 204, "{answer}");
    }
    let (status, retry, answer) =
        post_from("127.0.2.9", &url, &body("main", "http://127.0.0.1:9004"));
    assert_eq!((status, retry.as_str()), (503, "3600"), "{answer}");
    assert!(
        answer.contains("followers_full") && answer.contains("3 registered followers"),
        "{answer}"
    );
    let (status, _, answer) =
        post_from("127.0.2.10", &url, &body("main", "http://127.0.0.1:9001/"));
    assert_eq!(status, 204, "renewal: {answer}");
    // In all: 5 (3 on main, 2 on other), then full.
    for (i, port) in [9005, 9006].into_iter().enumerate() {
        let (status, _, answer) = post_from(
            &format!("127.0.3.{}", i + 1),
            &url,
            &body("other", &format!("http://127.0.0.1:{port}")),
        );
        assert_eq!(status, 204, "{answer}");
    }
    let (status, _, answer) = post_from("127.0.3.9", &url, &body("other", "http://127.0.0.1:9007"));
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer.contains("this node has 5 follower registrations"),
        "{answer}"
    );

    // One address: 4 a minute, then 429 with Retry-After, whatever it sends.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, body) = http_request(
            "POST",
            &url,
            &[("content-type", "application/json")],
            b"junk",
        )
        .unwrap();
        statuses.push((status, String::from_utf8_lossy(&body).into_owned()));
    }
    let codes: Vec<u16> = statuses.iter().map(|(s, _)| *s).collect();
    assert_eq!(codes, vec![400, 400, 400, 400, 429, 429], "{statuses:?}");
    assert!(statuses[4].1.contains("rate_limited"));
    let (status, retry, _) = post_from("127.0.0.1", &url, "junk");
    assert_eq!(status, 429);
    let retry: u64 = retry.parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another address is not limited by it.
    assert_eq!(post_from("127.0.4.1", &url, "junk").0, 400);
    drop(node);
}
