//! The policy against real sockets on 127.0.0.1: an "attack listener" counts every
//! connection a refused request would have made.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A listener on 127.0.0.1 that counts connections and answers each with `answer`.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Listener {
    fn start(answer: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                answer(&mut stream);
            }
        });
        Listener { port, connections }
    }

    fn silent() -> Listener {
        Listener::start(|stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        })
    }

    fn seen(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn public_only() -> Outbound {
    Outbound::new(AddressPolicy::default()).unwrap()
}

fn loopback_trusted() -> Outbound {
    Outbound::new(AddressPolicy {
        allow_all: false,
        allow: vec!["127.0.0.0/8".parse().unwrap()],
    })
    .unwrap()
}

fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn every_spelling_of_an_internal_address_is_refused_and_nothing_is_dialled() {
    let attack = Listener::silent();
    let port = attack.port;
    let outbound = public_only();
    let spellings = [
        format!("http://127.1:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://0:{port}"),
        format!("http://0x7f.0.0.1:{port}"),
        format!("http://0177.0.0.1:{port}"),
        format!("http://LOCALHOST:{port}"),
        format!("http://{}:{port}", machine_name()),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://[::1]:{port}"),
        "http://[::1]".to_owned(),
        format!("http://[fc00::1]:{port}"),
        format!("http://[fe80::1]:{port}"),
        format!("http://[64:ff9b::7f00:1]:{port}"),
        format!("http://[2002:7f00:1::]:{port}"),
        format!("http://100.64.0.1:{port}"),
        format!("http://169.254.169.254:{port}"),
        format!("http://10.0.0.1:{port}"),
        format!("http://127.1:{port}/internal/admin?secret=1#"),
        format!("http://x@127.0.0.1:{port}/p?"),
    ];
    for url in &spellings {
        assert!(
            outbound.check_node_url(url).await.is_err(),
            "{url} would be recorded"
        );
        let fetched = outbound.get(url, "/api/v1/heads", 4096).await;
        assert!(fetched.is_err(), "{url} was fetched");
        let pushed = outbound
            .post(
                url,
                "/api/v1/heads",
                &[],
                Vec::new(),
                Duration::from_secs(2),
            )
            .await;
        assert!(pushed.is_err(), "{url} was pushed to");
    }
    let name = format!("http://{}:{port}", machine_name());
    assert!(
        outbound
            .addresses(&NodeUrl::parse(&name).unwrap())
            .await
            .is_err()
    );
    assert_eq!(attack.seen(), 0, "the attack listener was reached");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let inside = Listener::silent();
    let target = format!("http://127.0.0.1:{}/internal", inside.port);
    let redirecting = Listener::start(move |stream| {
        let _ = write!(
            stream,
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
        );
    });
    let outbound = loopback_trusted();
    let base = format!("http://127.0.0.1:{}", redirecting.port);
    let error = outbound
        .get(&base, "/api/v1/heads", 4096)
        .await
        .unwrap_err();
    assert!(matches!(error, OutboundError::Status { .. }), "{error}");
    assert!(error.to_string().contains("redirects are not followed"));
    assert_eq!(redirecting.seen(), 1);
    assert_eq!(inside.seen(), 0, "the redirect was followed");
}

#[tokio::test]
async fn an_endless_chunked_answer_is_cut_at_the_cap() {
    let endless = Listener::start(|stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
        // 1 GiB at most, so a failing test ends.
        for _ in 0..(1 << 14) {
            if stream.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    let outbound = loopback_trusted();
    let base = format!("http://127.0.0.1:{}", endless.port);
    let started = std::time::Instant::now();
    let error = outbound.get(&base, "/x", 100_000).await.unwrap_err();
    assert!(
        matches!(error, OutboundError::TooLarge { max: 100_000, .. }),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let lying = Listener::start(|stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n");
    });
    let base = format!("http://127.0.0.1:{}", lying.port);
    let error = outbound.get(&base, "/x", 4096).await.unwrap_err();
    assert!(matches!(error, OutboundError::TooLarge { .. }), "{error}");
}

#[tokio::test]
async fn a_trusted_network_is_asked_and_answers_in_full() {
    let node = Listener::silent();
    let base = format!("http://127.0.0.1:{}", node.port);
    let (_, body) = loopback_trusted()
        .get(&base, "/healthz", 4096)
        .await
        .unwrap();
    assert_eq!(body, b"ok");
    let url = loopback_trusted()
        .check_node_url(&format!("http://127.1:{}/", node.port))
        .await;
    assert_eq!(url.unwrap().as_str(), base);
}
