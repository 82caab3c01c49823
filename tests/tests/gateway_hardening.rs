//! The HTTP server of a real `swarmfeed serve` against bad clients (slowloris, idle
//! keep-alive, clients that stop reading, huge heads and ranges, more connections than its
//! cap), its page cache (byte-identical answers, ETag/304, a publish shows at once) and its
//! access log. Short limits through the `serve` flags keep it fast.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tests::node::{publish, write_pattern_file};
use tests::solo::SoloNode as Fixture;

/// Reads until the server closes the connection; how long that took.
fn wait_closed(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("connection still open after {:?}: {e}", start.elapsed()),
        }
    }
}

fn healthy(fixture: &Fixture) {
    let answer = fixture.raw("GET", "/healthz", &[]);
    assert_eq!(answer.status, 200, "{}", answer.head);
}

#[test]
fn slow_silent_and_idle_clients_are_cut_after_the_header_timeout() {
    let fixture = Fixture::start(&["--header-timeout", "1"]);

    // Slowloris: a request head sent a byte every 100 ms never completes within 1 s.
    let mut slow = fixture.connect();
    let start = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = None;
    for byte in head {
        if slow.write_all(&[*byte]).is_err() {
            cut = Some(start.elapsed());
            break;
        }
        // The server answers nothing but may close: check without blocking long.
        slow.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 512];
        match slow.read(&mut buf) {
            Ok(0) => {
                cut = Some(start.elapsed());
                break;
            }
            Ok(n) => panic!(
                "a slowloris head got an answer: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                cut = Some(start.elapsed());
                break;
            }
            Err(_) => {}
        }
        // Meanwhile the server answers others.
        if start.elapsed() < Duration::from_millis(300) {
            healthy(&fixture);
        }
    }
    let cut = cut.expect("the byte-by-byte client was never cut");
    assert!(
        cut >= Duration::from_millis(900) && cut < Duration::from_secs(4),
        "cut after {cut:?}"
    );

    // A client that connects and sends nothing.
    let mut silent = fixture.connect();
    let closed = wait_closed(&mut silent, Duration::from_secs(5));
    assert!(closed >= Duration::from_millis(900), "{closed:?}");

    // An idle keep-alive connection after a complete answer.
    let mut idle = fixture.connect();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let closed = wait_closed(&mut idle, Duration::from_secs(5));
    assert!(closed >= Duration::from_millis(800), "{closed:?}");

    healthy(&fixture);
}

#[test]
fn huge_heads_get_431_and_huge_or_malformed_ranges_never_break_the_file_route() {
    let fixture = Fixture::start(&["--max-header-bytes", "16384"]);
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let published = fixture.publish_file("data.bin", &body, "data");
    let infohash = published["infohash"].as_str().unwrap();
    let file = format!("/files/{infohash}/data.bin");

    let big = "a".repeat(20_000);
    let answer = fixture.raw("GET", "/", &[("X-Big", &big)]);
    assert_eq!(answer.status, 431, "{}", answer.head);
    let many: Vec<(String, String)> = (0..150)
        .map(|i| (format!("X-H{i}"), "v".to_owned()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(fixture.raw("GET", "/", &many).status, 431);
    let long_path = format!("/{}", "p".repeat(70_000));
    let answer = fixture.raw("GET", &long_path, &[]);
    assert!(
        [400, 414, 431].contains(&answer.status),
        "a 70 kB path: {}",
        answer.head
    );

    // Ranges: overflowing numbers, thousands of ranges, garbage.
    // About 10 kB of ranges: within the 16 kB head limit (a larger header is a 431 above).
    let thousands: String = (0..1200)
        .map(|i| format!("{}-{}", i * 3, i * 3 + 1))
        .collect::<Vec<_>>()
        .join(",");
    let cases: Vec<(String, &[u16])> = vec![
        (
            "bytes=0-99999999999999999999999999999".into(),
            &[200, 206, 416],
        ),
        ("bytes=99999999999999999999999-".into(), &[200, 416]),
        ("bytes=-99999999999999999999999".into(), &[200, 206, 416]),
        ("bytes=18446744073709551615-".into(), &[416]),
        (
            "bytes=18446744073709551614-18446744073709551615".into(),
            &[416],
        ),
        (format!("bytes={thousands}"), &[200]),
        ("bytes=5-1".into(), &[200, 416]),
        ("bytes=--,,,-".into(), &[200, 416]),
        ("items=0-1".into(), &[200]),
        ("bytes=\u{7f}".into(), &[200, 400]),
    ];
    for (range, allowed) in &cases {
        let answer = fixture.raw("GET", &file, &[("Range", range)]);
        assert!(
            allowed.contains(&answer.status),
            "Range {:.60}: {}",
            range,
            answer.head
        );
        match answer.status {
            200 => assert_eq!(answer.body, body, "Range {range:.60}"),
            416 => assert_eq!(
                answer.header("content-range").as_deref(),
                Some("bytes */100000")
            ),
            _ => {}
        }
    }
    // The clamped open range answers exactly the file's end.
    let answer = fixture.raw("GET", &file, &[("Range", "bytes=99990-99999999999")]);
    assert_eq!(answer.status, 206, "{}", answer.head);
    assert_eq!(answer.body, &body[99_990..]);
    healthy(&fixture);
    assert!(
        !fixture.node.log().contains("panicked"),
        "{}",
        fixture.node.log()
    );
}

#[test]
fn at_the_connection_cap_an_idle_client_makes_way_and_a_stalled_reader_is_cut() {
    let fixture = Fixture::start(&[
        "--max-connections",
        "2",
        "--header-timeout",
        "10",
        "--write-timeout",
        "1",
    ]);
    let big = fixture.root.join("content").join("big.bin");
    write_pattern_file(&big, 64 << 20, 7);
    let published = publish(&fixture.data, &big, "big", &[]);
    let infohash = published["infohash"].as_str().unwrap().to_owned();

    // Two silent connections fill the cap. A real client takes the place of the one idle
    // longest at once, which is closed: neither waits for the 10 s header timeout.
    let mut silent: Vec<TcpStream> = (0..2).map(|_| fixture.connect()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    healthy(&fixture);
    let waited = start.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "a client at the cap waited {waited:?}"
    );
    let closed = wait_closed(&mut silent[0], Duration::from_secs(3));
    assert!(closed < Duration::from_secs(3), "{closed:?}");
    healthy(&fixture);

    // A client asks for 64 MiB and reads nothing: its answer stalls once the socket buffers
    // fill, and the write timeout (1 s) frees its slot. With the cap at 2, two such clients
    // (busy, so they do not make way) would block everyone else forever without it.
    let stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = fixture.connect();
            let request = format!(
                "GET /files/{infohash}/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            s.write_all(request.as_bytes()).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    healthy(&fixture);
    let waited = start.elapsed();
    assert!(
        waited < Duration::from_secs(6),
        "a client behind two stalled readers waited {waited:?}"
    );
    drop(stalled);

    // The access log names each request with its status and the bytes actually sent, once
    // its answer ended (the second stalled answer may end only after the client left).
    let big_lines = |log: &str| {
        log.lines()
            .filter(|l| l.contains("swarmfeed::access") && l.contains("big.bin"))
            .count()
    };
    let log = tests::node::wait_for(Duration::from_secs(10), "both cut answers logged", || {
        let log = fixture.node.log();
        (big_lines(&log) >= 2).then_some(log)
    });
    let cut: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("swarmfeed::access") && l.contains("big.bin"))
        .collect();
    assert_eq!(cut.len(), 2, "{log}");
    for line in cut {
        let bytes: u64 = line
            .split("bytes=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no bytes= in {line}"));
        assert!(
            bytes < 64 << 20,
            "a stalled answer logged {bytes} bytes: {line}"
        );
        assert!(
            line.contains("status=200") && line.contains("method=GET"),
            "{line}"
        );
    }
}

#[test]
fn cached_pages_are_byte_identical_revalidate_with_304_and_a_publish_shows_at_once() {
    let fixture = Fixture::start(&[]);
    let first = fixture.publish_file("one.txt", b"first post\n", "First post");
    let entry_url = first["entry_url"].as_str().unwrap();
    let entry_path = entry_url
        .strip_prefix(&fixture.node.info.public_url)
        .unwrap();
    let feed_path = entry_path.rsplit_once('/').unwrap().0.to_owned();
    let paths = [
        "/".to_owned(),
        feed_path.clone(),
        entry_path.to_owned(),
        format!("{feed_path}/feed.rss"),
        format!("{feed_path}/feed.atom"),
        format!("{feed_path}/feed.json"),
    ];
    let mut tags = Vec::new();
    for path in &paths {
        let a = fixture.raw("GET", path, &[]);
        let b = fixture.raw("GET", path, &[]);
        assert_eq!(a.status, 200, "{path}: {}", a.head);
        assert_eq!(a.body, b.body, "{path}: a cached answer differs");
        assert_eq!(a.header("content-type"), b.header("content-type"));
        let etag = a
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag"));
        assert_eq!(b.header("etag").as_ref(), Some(&etag));
        assert_eq!(a.header("cache-control").as_deref(), Some("no-cache"));
        assert_eq!(
            a.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        let not_modified = fixture.raw("GET", path, &[("If-None-Match", &etag)]);
        assert_eq!(not_modified.status, 304, "{path}: {}", not_modified.head);
        assert!(not_modified.body.is_empty());
        let other = fixture.raw("GET", path, &[("If-None-Match", "\"something-else\"")]);
        assert_eq!(other.status, 200);
        assert_eq!(other.body, a.body);
        tags.push((path.clone(), etag, a.body));
    }
    let feed_page = String::from_utf8_lossy(&tags[1].2).into_owned();
    assert!(feed_page.contains("First post") && !feed_page.contains("Second post"));

    // A new publish: the feed page, its exports and the home page change at once.
    fixture.publish_file("two.txt", b"second post\n", "Second post");
    // (The home page lists own feeds, not their entries; the entry page does not change.)
    for (path, old_tag, old_body) in &tags[1..] {
        if path == entry_path {
            continue;
        }
        let now = fixture.raw("GET", path, &[("If-None-Match", old_tag)]);
        assert_eq!(now.status, 200, "{path} still answered 304 after a publish");
        assert_ne!(&now.body, old_body, "{path}");
        assert_ne!(now.header("etag").as_ref(), Some(old_tag));
        assert!(
            String::from_utf8_lossy(&now.body).contains("Second post"),
            "{path} does not show the new entry"
        );
    }
    // The access log has a line per answer (written by its own thread, every 100 ms).
    let logged = |log: &str| {
        log.lines().any(|l| {
            l.contains("swarmfeed::access")
                && l.contains(&format!("path={feed_path}/feed.rss"))
                && l.contains("status=304")
        })
    };
    tests::node::wait_for(Duration::from_secs(10), "the 304 logged", || {
        logged(&fixture.node.log()).then_some(())
    });
}

#[test]
fn a_flood_of_silent_connections_is_accepted_and_cut_while_real_clients_are_answered() {
    // Below the common soft limit of 1,024 open files of this test process.
    const FLOOD: usize = 800;
    const CAP: usize = 200;
    let fixture = Fixture::start(&["--max-connections", "200", "--header-timeout", "30"]);

    // The listener asks for a backlog of 4,096 (tokio's default is 1,024). `ss` shows a
    // listening socket's backlog as its Send-Q; the kernel caps it at net.core.somaxconn.
    let port = fixture.node.info.http.port();
    let somaxconn: u32 = fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let ss = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2) runs");
    let listing = String::from_utf8_lossy(&ss.stdout).into_owned();
    let backlog: u32 = listing
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no listener on port {port} in {listing:?}"));
    assert_eq!(backlog, somaxconn.min(4096), "{listing}");

    // 800 silent clients against a cap of 200: each new one takes the place of the one idle
    // longest once that one has been idle for 1 s, so the crowd drains 200 a second and all
    // but the last 200 are closed long before their 30 s header timeout. A real client asked
    // meanwhile is answered as soon as its turn in the accept queue comes.
    let start = Instant::now();
    let mut flood: Vec<TcpStream> = (0..FLOOD).map(|_| fixture.connect()).collect();
    let asked = Instant::now();
    healthy(&fixture);
    let waited = asked.elapsed();
    assert!(
        waited < Duration::from_secs(12),
        "a real client behind the flood waited {waited:?}"
    );
    let deadline = start + Duration::from_secs(15);
    let mut made_way = 0;
    let mut buf = [0u8; 64];
    // FIFO: the first FLOOD - CAP - 1 (one more made way for the real client) must be closed.
    for stream in flood.iter_mut().take(FLOOD - CAP - 1) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => made_way += 1,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => made_way += 1,
            Ok(n) => panic!(
                "a silent client got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(_) => {} // still open at the deadline: not counted
        }
    }
    assert!(
        made_way >= FLOOD - CAP - 1,
        "only {made_way} of the first {} silent connections made way in 15 s",
        FLOOD - CAP - 1
    );
    healthy(&fixture);
}
