//! A real `swarmfeed serve` against strangers' requests with bodies (heads pushed, follower
//! registrations): clients stalled in a body make way and are answered 408 by the body
//! timeout, per-route body limits and the registration rate limit answer before any body
//! is read; every node route says `nosniff`; `/metrics` is served to whom `--metrics` says.
//! (Slow heads, the connection cap and stalled readers: `gateway_hardening.rs`.)

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tests::commands::new_identity;
use tests::node::{NodeOptions, NodeProcess, publish};
use tests::raw_http::{self, RawAnswer, read_answer};

struct Fixture {
    _tmp: tempfile::TempDir,
    node: NodeProcess,
    identity: String,
}

impl Fixture {
    /// A node with identity alice and one published entry (so it holds a head of
    /// alice/main), started with `args` and, if given, a config file holding `config`.
    fn start(args: &[&str], config: Option<&str>) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        new_identity(&data, "alice");
        let file = tmp.path().join("hello.txt");
        std::fs::write(&file, b"hello\n").unwrap();
        let published = publish(&data, &file, "Hello", &[]);
        let identity = published["identity"].as_str().unwrap().to_owned();
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some(config) = config {
            let path = tmp.path().join("node.toml");
            std::fs::write(&path, config).unwrap();
            args.extend(["--config".to_owned(), path.to_str().unwrap().to_owned()]);
        }
        let options = NodeOptions {
            args,
            ..NodeOptions::default()
        };
        let node = NodeProcess::start(&data, &options);
        Fixture {
            _tmp: tmp,
            node,
            identity,
        }
    }

    fn connect(&self) -> TcpStream {
        raw_http::connect(self.node.info.http, Duration::from_secs(20))
    }

    /// One request on a new connection (`Connection: close`); `None` if no answer came
    /// within `limit`.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        limit: Duration,
    ) -> Option<RawAnswer> {
        let mut stream = self.connect();
        stream.set_read_timeout(Some(limit)).unwrap();
        raw_http::send(&mut stream, method, path, headers, Some(body)).ok()?;
        read_answer(&mut stream)
    }

    fn get(&self, path: &str) -> RawAnswer {
        self.request("GET", path, &[], b"", Duration::from_secs(20))
            .unwrap_or_else(|| panic!("no answer to GET {path}"))
    }

    /// The bencoded head of alice/main the node holds.
    fn head(&self) -> Vec<u8> {
        let answer = self.get(&format!("/api/v1/heads/{}/main", self.identity));
        assert_eq!(answer.status, 200, "{}", answer.head);
        answer.body
    }
}

/// A request head promising `Content-Length: 1000`, and no body.
fn stall_in_body(fixture: &Fixture, path: &str) -> TcpStream {
    let mut stream = fixture.connect();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

#[test]
fn clients_stalled_in_a_request_body_make_way_and_are_answered_408_by_the_body_timeout() {
    let fixture = Fixture::start(&["--max-connections", "8", "--header-timeout", "5"], None);
    let head = fixture.head();

    // Eight clients send a head promising 1,000 bytes of body, and no body: the cap is full.
    let stalled_at = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..8)
        .map(|i| {
            let route = if i % 2 == 0 {
                "/api/v1/followers"
            } else {
                "/api/v1/heads"
            };
            stall_in_body(&fixture, route)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // A stalled body waits on its client as an idle connection does: it makes way.
    let asked = Instant::now();
    let health = fixture.request("GET", "/healthz", &[], b"", Duration::from_secs(10));
    let waited = asked.elapsed();
    let health = health.unwrap_or_else(|| panic!("/healthz did not answer in {waited:?}"));
    assert_eq!(health.status, 200, "{}", health.head);
    assert!(
        waited < Duration::from_secs(3),
        "/healthz waited {waited:?}"
    );
    eprintln!("/healthz answered after {waited:?} behind 8 clients stalled in a body");

    // A real push with its body, sent in two halves, is read and decoded (the node does not
    // follow its own feed: 403 not_followed, which only a decoded, verified head gets).
    let asked = Instant::now();
    let mut push = fixture.connect();
    let request = format!(
        "POST /api/v1/heads HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        head.len()
    );
    push.write_all(request.as_bytes()).unwrap();
    push.write_all(&head[..head.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    push.write_all(&head[head.len() / 2..]).unwrap();
    let pushed = read_answer(&mut push).expect("the push is answered");
    assert_eq!(pushed.status, 403, "{}: {}", pushed.head, pushed.text());
    assert!(pushed.text().contains("not_followed"), "{}", pushed.text());
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "{:?}",
        asked.elapsed()
    );

    // Every stalled client is closed by the body timeout (5 s, the header timeout's) with a
    // 408, or earlier, without an answer, when it made way for the two above.
    let mut timed_out = 0;
    for stream in &mut stalled {
        let left = (stalled_at + Duration::from_secs(8)).saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut raw = Vec::new();
        match stream.read_to_end(&mut raw) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!(
                "a stalled client still open {:?} after it stalled: {e}",
                stalled_at.elapsed()
            ),
        }
        let text = String::from_utf8_lossy(&raw);
        if text.starts_with("HTTP/1.1 408") {
            assert!(text.contains("body_timeout"), "{text}");
            assert!(
                text.to_ascii_lowercase().contains("connection: close"),
                "{text}"
            );
            timed_out += 1;
        } else {
            assert!(raw.is_empty(), "a stalled client got {text}");
        }
    }
    assert!(
        timed_out >= 4,
        "only {timed_out} of 8 stalled clients were answered 408"
    );
    let closed = stalled_at.elapsed();
    eprintln!("{timed_out} of 8 stalled clients answered 408, all closed by {closed:?}");
    assert!(
        closed >= Duration::from_millis(4500),
        "cut before the body timeout: {closed:?}"
    );
    let health = fixture.get("/healthz");
    assert_eq!(health.status, 200);
}

#[test]
fn bodies_over_a_routes_limit_and_rate_limited_registrations_are_answered_before_any_body() {
    let fixture = Fixture::start(&["--header-timeout", "30"], None);
    let quick = Duration::from_secs(3);

    // Declared too large: 413 at once, nothing read (the body never comes).
    for route in ["/api/v1/heads", "/api/v1/followers"] {
        let mut stream = fixture.connect();
        stream.set_read_timeout(Some(quick)).unwrap();
        let head = format!("POST {route} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let answer = read_answer(&mut stream)
            .unwrap_or_else(|| panic!("{route}: no answer to a 100 kB Content-Length"));
        assert_eq!(answer.status, 413, "{route}: {}", answer.head);
        assert!(answer.text().contains("too_large"), "{}", answer.text());
    }
    // Chunked, with no length declared: cut at the limit.
    let mut stream = fixture.connect();
    stream.set_read_timeout(Some(quick)).unwrap();
    let chunk = vec![b'x'; 5000];
    let mut request =
        b"POST /api/v1/heads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    request.extend_from_slice(&chunk);
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).unwrap();
    let answer = read_answer(&mut stream).expect("a chunked 5,000-byte head is answered");
    assert_eq!(answer.status, 413, "{}", answer.head);

    // The registration rate limit (20 a minute) is taken before the body is read (the 413
    // above took one): once it is spent, a client is refused at once although it sends no
    // body at all.
    let registration = br#"{"identity":"x","feed":"main","url":"http://example.org"}"#;
    let mut taken = 1;
    loop {
        let answer = fixture
            .request("POST", "/api/v1/followers", &[], registration, quick)
            .expect("a registration is answered");
        if answer.status == 429 {
            break;
        }
        assert_eq!(answer.status, 400, "{}", answer.text());
        taken += 1;
        assert!(taken <= 20, "more than 20 registrations a minute taken");
    }
    assert_eq!(taken, 20);
    let mut stream = stall_in_body(&fixture, "/api/v1/followers");
    stream.set_read_timeout(Some(quick)).unwrap();
    let answer = read_answer(&mut stream).expect("a rate-limited client is answered at once");
    assert_eq!(answer.status, 429, "{}", answer.head);
    assert!(answer.header("retry-after").is_some(), "{}", answer.head);
}

#[test]
fn every_node_and_gateway_route_says_nosniff() {
    let fixture = Fixture::start(&[], None);
    let id = &fixture.identity;
    let head = fixture.head();
    let mut answers = vec![
        ("/healthz".to_owned(), fixture.get("/healthz")),
        ("/metrics".to_owned(), fixture.get("/metrics")),
        (
            "a head".to_owned(),
            fixture.get(&format!("/api/v1/heads/{id}/main")),
        ),
        (
            "an identity record".to_owned(),
            fixture.get(&format!("/api/v1/identities/{id}")),
        ),
        (
            "a missing head".to_owned(),
            fixture.get(&format!("/api/v1/heads/{id}/other")),
        ),
        (
            "a bad infohash".to_owned(),
            fixture.get("/torrents/zz.torrent"),
        ),
        (
            "a feed page".to_owned(),
            fixture.get(&format!("/{id}/main")),
        ),
        (
            "an export".to_owned(),
            fixture.get(&format!("/{id}/main/feed.rss")),
        ),
    ];
    let push = fixture
        .request("POST", "/api/v1/heads", &[], &head, Duration::from_secs(10))
        .expect("a push is answered");
    answers.push(("a push".to_owned(), push));
    for (what, answer) in &answers {
        assert!(
            [200, 400, 403, 404].contains(&answer.status),
            "{what}: {}",
            answer.head
        );
        assert_eq!(
            answer.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{what}: {}",
            answer.head
        );
    }
}

#[test]
fn metrics_are_served_to_loopback_by_default_and_as_configured_otherwise() {
    // Default: loopback clients (a Prometheus on the machine, these tests) read it.
    let fixture = Fixture::start(&[], None);
    let answer = fixture.get("/metrics");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(
        answer.text().contains("swarmfeed_torrents "),
        "{}",
        answer.text()
    );
    drop(fixture);

    // `token`: only with the bearer token, loopback or not.
    let fixture = Fixture::start(
        &[],
        Some("[gateway]\nmetrics = \"token\"\nmetrics_token = \"correct horse\"\n"),
    );
    let bare = fixture.get("/metrics");
    assert_eq!(bare.status, 403, "{}", bare.head);
    assert!(!bare.text().contains("swarmfeed_torrents"));
    let wrong = fixture
        .request(
            "GET",
            "/metrics",
            &[("Authorization", "Bearer correct horsf")],
            b"",
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(wrong.status, 403, "{}", wrong.head);
    let right = fixture
        .request(
            "GET",
            "/metrics",
            &[("Authorization", "Bearer correct horse")],
            b"",
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(right.status, 200, "{}", right.head);
    assert!(right.text().contains("swarmfeed_torrents "));
    drop(fixture);

    // `off`: nobody.
    let fixture = Fixture::start(&["--metrics", "off"], None);
    let answer = fixture.get("/metrics");
    assert_eq!(answer.status, 404, "{}", answer.head);
    assert_eq!(fixture.get("/healthz").status, 200);
}
