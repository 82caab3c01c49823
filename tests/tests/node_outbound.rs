//! What a public node sends out (issue 12): pushed node URLs and follower registrations
//! that point inside are refused, a replayed head records nothing, a node's endless answer
//! is cut at its cap, redirects are not followed, and junk pushes stay bounded. The nodes
//! here do not allow private fetches unless a test says why; an "attack listener" on
//! 127.0.0.1 counts every connection a refused URL would have made.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use data_dir::DataDir;
use feeds::{FeedName, IdentityKey};
use tests::commands::{first_follow, follow, publish};
use tests::files::{test_root, write_pattern_file};
use tests::network::Network;
use tests::node::{NodeProcess, http_get, http_request, run_with_limit, wait_for, wait_for_more};

/// A listener on 127.0.0.1 that counts connections and answers each with `answer`.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    fn start(answer: impl Fn(&mut std::net::TcpStream) + Send + Sync + 'static) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (connections, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (counted, stopping) = (connections.clone(), stop.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    answer(&mut stream);
                });
            }
        });
        Listener {
            port,
            connections,
            stop,
        }
    }

    /// An internal service that must never be reached.
    fn attack() -> Listener {
        Listener::start(|stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret");
        })
    }

    fn seen(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn main_feed() -> FeedName {
    FeedName::new("main").unwrap()
}

/// The head file alice's data directory holds now (what her node serves and pushes).
fn head_now(a: &Path, identity: &IdentityKey) -> Vec<u8> {
    std::fs::read(
        DataDir::new(a)
            .feed_dir(identity, &main_feed())
            .join("head"),
    )
    .unwrap()
}

/// The node URLs a node's store holds, read with Debian's python3 (read-only).
fn stored_node_urls(data: &Path) -> Vec<String> {
    let store = DataDir::new(data).store_path();
    let script = "import sqlite3, sys\n\
        db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n\
        for (url,) in db.execute('SELECT url FROM nodes ORDER BY node_id'): print(url)\n";
    let (ok, out, err) = run_with_limit(
        std::process::Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(&store),
        Duration::from_secs(20),
    );
    assert!(ok, "reading {}: {err}", store.display());
    out.lines().map(str::to_owned).collect()
}

/// A publisher (alice, one entry) and a follower F holding that entry; F's extra `serve`
/// arguments say what it may fetch. Neither allows private fetches unless told.
struct Scene {
    node_f: NodeProcess,
    node_a: NodeProcess,
    network: Network,
    root: PathBuf,
    a: PathBuf,
    f: PathBuf,
    identity: IdentityKey,
    // Last: fields drop in order, and the nodes stop before their directories go.
    _guard: Option<tempfile::TempDir>,
}

impl Scene {
    fn new(follower_args: &[&str]) -> Scene {
        let (guard, root) = test_root();
        let (a, f) = (root.join("a"), root.join("f"));
        let network = Network::new(4);
        let node_a = network.start_publisher(&a, "alice", &[]);
        let first = Scene::publish_at(&root, &a, 1);
        let identity: IdentityKey = first["identity"].as_str().unwrap().parse().unwrap();
        let node_f = network.start_node(&f, follower_args);
        follow(&f, &format!("{identity}/main"), &[]);
        let head_url = format!("{}/api/v1/heads/{identity}/main", node_f.info.public_url);
        wait_for(Duration::from_secs(40), "F to hold alice's head", || {
            http_get(&head_url)
        });
        Scene {
            _guard: guard,
            network,
            root,
            a,
            f,
            identity,
            node_a,
            node_f,
        }
    }

    fn publish_at(root: &Path, a: &Path, n: u64) -> serde_json::Value {
        let path = root.join("content").join(format!("{n}.bin"));
        write_pattern_file(&path, 20_000, n);
        publish(a, &path, &format!("entry {n}"), &[])
    }

    /// Alice publishes entry `n`: her new head, which F (polling rarely, never pushed to,
    /// since alice's node refuses F's loopback URL) does not hold yet.
    fn next_head(&self, n: u64) -> Vec<u8> {
        Scene::publish_at(&self.root, &self.a, n);
        head_now(&self.a, &self.identity)
    }

    fn f_log(&self) -> String {
        self.node_f.log()
    }
}

/// `VmRSS` of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_replayed_head_cannot_make_a_public_follower_request_an_internal_port() {
    // F is a public node: no private fetch. It polls every 2 s, so the updates awaited
    // below come within seconds.
    let scene = Scene::new(&["--poll-interval", "2"]);
    let attack = Listener::attack();
    let port = attack.port;
    let head = head_now(&scene.a, &scene.identity);
    for from in [
        format!("http://127.1:{port}/internal/admin?secret=1#"),
        format!("http://x@127.0.0.1:{port}/p?"),
        format!("http://127.1:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://LOCALHOST:{port}"),
    ] {
        let (status, body) = scene.node_f.push_head(&head, &from);
        let body = String::from_utf8_lossy(&body);
        assert!(
            status == 202 || (400..500).contains(&status),
            "{from}: {status} {body}"
        );
    }
    // Three more updates of the feed, in which a recorded URL would be asked.
    wait_for_more(
        &scene.node_f,
        "swarmfeed_feed_updates_total",
        3.0,
        Duration::from_secs(30),
    );
    assert_eq!(attack.seen(), 0, "F connected to the internal port");
    let recorded = stored_node_urls(&scene.f);
    assert!(
        !recorded.iter().any(|u| u.contains(&port.to_string())),
        "{recorded:?}"
    );
    drop(scene.node_a);
}

#[test]
fn internal_addresses_in_any_spelling_are_refused_as_followers() {
    let (_guard, root) = test_root();
    let a = root.join("a");
    let network = Network::new(2);
    let node_a = network.start_publisher(&a, "alice", &[]);
    let path = root.join("x.txt");
    std::fs::write(&path, b"x").unwrap();
    let alice = publish(&a, &path, "x", &[])["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let attack = Listener::attack();
    let port = attack.port;
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let spellings = [
        format!("http://127.1:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://0:{port}"),
        format!("http://0x7f.0.0.1:{port}"),
        format!("http://LOCALHOST:{port}"),
        format!("http://{}:{port}", host_name.trim()),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        "http://[::1]".to_owned(),
        format!("http://[fc00::1]:{port}"),
        format!("http://[fe80::1]:{port}"),
        format!("http://100.64.0.1:{port}"),
        format!("http://169.254.169.254:{port}"),
    ];
    for url in &spellings {
        let body = serde_json::json!({"identity": alice, "feed": "main", "url": url});
        let (status, answer) = http_request(
            "POST",
            &format!("{}/api/v1/followers", node_a.info.public_url),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, 400, "{url} registered: {answer}");
        assert!(answer.contains("bad_url"), "{url}: {answer}");
    }
    // A new entry would be pushed to every registered follower.
    let path = root.join("y.txt");
    std::fs::write(&path, b"y").unwrap();
    publish(&a, &path, "y", &[]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(attack.seen(), 0, "the node pushed to an internal port");
    assert!(
        stored_node_urls(&a).is_empty(),
        "{:?}",
        stored_node_urls(&a)
    );
}

#[test]
fn an_endless_answer_is_cut_at_its_cap_and_the_follower_stays_small() {
    // F trusts loopback (--fetch-allow) so that it may ask the hostile node at all: the
    // test is about the cap, not the address ranges. It polls rarely: only the push below
    // makes it look.
    let scene = Scene::new(&["--fetch-allow", "127.0.0.0/8", "--poll-interval", "3600"]);
    let endless = Listener::start(|stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("100000\r\n{}\r\n", "a".repeat(1 << 20));
        // 2 GiB at most, so that a failing run ends.
        for _ in 0..2048 {
            if stream.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    let pid = scene.node_f.child.id();
    let before = rss_kib(pid);
    let head = scene.next_head(2);
    let (status, body) = scene.node_f.push_head(&head, &endless.url());
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));

    // Sampled until 8 s after F first asked the hostile node (on a loaded machine the
    // push's fetch may start seconds late: 30 s at most).
    let mut peak = before;
    let started = Instant::now();
    let mut asked: Option<Instant> = None;
    while asked.is_none_or(|at| at.elapsed() < Duration::from_secs(8)) {
        peak = peak.max(rss_kib(pid));
        let healthz = format!("{}/healthz", scene.node_f.info.public_url);
        assert!(http_get(&healthz).is_some(), "F stopped answering /healthz");
        if asked.is_none() && endless.seen() >= 1 {
            asked = Some(Instant::now());
        }
        assert!(
            asked.is_some() || started.elapsed() < Duration::from_secs(30),
            "F never asked the hostile node"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "F's RSS: {} MiB before, {} MiB at most while the hostile node answered without end",
        before >> 10,
        peak >> 10
    );
    assert!(
        peak < before + (96 << 10),
        "F grew from {before} KiB to {peak} KiB"
    );
    wait_for(Duration::from_secs(10), "the cut in F's log", || {
        scene
            .f_log()
            .contains("is longer than 4096 bytes; cut there")
            .then_some(())
    });
    // F still does its work: it takes entry 2 from alice's node.
    wait_for(Duration::from_secs(40), "F to hold entry 2", || {
        first_follow(&scene.f).filter(|f| f["entries"] == 2)
    });
    drop(scene.network);
}

#[test]
fn a_redirect_from_a_node_is_not_followed() {
    // F trusts loopback so that it asks the redirecting node at all (see above).
    let scene = Scene::new(&["--fetch-allow", "127.0.0.0/8", "--poll-interval", "3600"]);
    let inside = Listener::attack();
    let target = format!("{}/internal", inside.url());
    let redirecting = Listener::start(move |stream| {
        let _ = write!(
            stream,
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
        );
    });
    let head = scene.next_head(2);
    let (status, body) = scene.node_f.push_head(&head, &redirecting.url());
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    wait_for(
        Duration::from_secs(20),
        "F to ask the redirecting node",
        || (redirecting.seen() >= 1).then_some(()),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(inside.seen(), 0, "F followed the redirect");
    assert!(
        scene.f_log().contains("redirects are not followed"),
        "no word of the redirect in F's log"
    );
}

#[test]
fn junk_node_urls_pushed_with_a_head_are_bounded_and_keep_a_registered_follower() {
    // F trusts loopback: the junk URLs and the genuine follower are loopback ports here, so
    // only the caps stand between them.
    let scene = Scene::new(&["--fetch-allow", "127.0.0.0/8", "--poll-interval", "3600"]);
    let genuine = Listener::attack();
    let registration = serde_json::json!({
        "identity": scene.identity.to_string(), "feed": "main", "url": genuine.url(),
    });
    let (status, answer) = http_request(
        "POST",
        &format!("{}/api/v1/followers", scene.node_f.info.public_url),
        &[("Content-Type", "application/json")],
        registration.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&answer));

    let junk = |n: usize| format!("http://127.0.0.1:9/junk/{n}");
    let head_2 = scene.next_head(2);
    let started = Instant::now();
    let mut accepted = 0;
    for n in 0..300 {
        let (status, _) = scene.node_f.push_head(&head_2, &junk(n));
        accepted += usize::from(status == 202);
    }
    println!(
        "300 pushes of one head with distinct node URLs: {accepted} answered 202 in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let recorded = stored_node_urls(&scene.f);
    let junk_rows = recorded.iter().filter(|u| u.contains("/junk/")).count();
    println!(
        "F's store holds {} node URLs, {junk_rows} of them junk",
        recorded.len()
    );
    assert!(junk_rows <= 1, "{recorded:?}");
    assert!(recorded.contains(&genuine.url()), "{recorded:?}");
}
