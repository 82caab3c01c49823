//! Issue 5's day-one spike: a stock libtorrent finds our node's peers through our DHT.
//!
//! mainline 8.0.1 dropped every KRPC message whose transaction id was not 4 bytes long, and
//! libtorrent sends 2-byte ids, so libtorrent never got an answer from a mainline node. The
//! patch in `third_party/mainline.patch` fixes that (docs/engine-gaps.md); these tests fail
//! without it. Everything runs on 127.0.0.1 with a private DHT: no public bootstrap router.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use engine::dht::{DhtConfig, DhtNode};
use futures_lite::future::block_on;
use tests::process::run_python;

/// How long libtorrent gets to find the peer (it took about 2 s here).
const LIBTORRENT_TIMEOUT: Duration = Duration::from_secs(60);

fn loopback_node(bootstrap: Vec<String>) -> DhtNode {
    DhtNode::start(&DhtConfig {
        bind_address: Ipv4Addr::LOCALHOST,
        port: 0,
        bootstrap,
        server_mode: true,
    })
    .expect("start a DHT node on 127.0.0.1")
}

/// A private DHT of `count` mainline nodes on loopback, all bootstrapped from the first.
fn private_dht(count: usize) -> Vec<DhtNode> {
    let first = loopback_node(Vec::new());
    let bootstrap = vec![first.bootstrap_address()];
    let mut nodes = vec![first];
    nodes.extend((1..count).map(|_| loopback_node(bootstrap.clone())));
    nodes
}

/// A KRPC query as libtorrent would send it, with transaction id `tid` and the arguments
/// besides `id` (sorted by key, 20-byte values).
fn query(method: &str, tid: &[u8], args: &[(&str, [u8; 20])]) -> Vec<u8> {
    let mut bytes = b"d1:ad2:id20:".to_vec();
    bytes.extend_from_slice(&[0x42; 20]);
    for (key, value) in args {
        bytes.extend_from_slice(format!("{}:{key}20:", key.len()).as_bytes());
        bytes.extend_from_slice(value);
    }
    bytes.extend_from_slice(format!("e1:q{}:{method}1:t{}:", method.len(), tid.len()).as_bytes());
    bytes.extend_from_slice(tid);
    bytes.extend_from_slice(b"1:y1:qe");
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Sends `query` to `node` and returns the first datagram that comes back within 3 s.
fn ask(node: SocketAddrV4, query: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("set a read timeout");
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0; 2048];
    while Instant::now() < deadline {
        // UDP: send again now and then, in case the node was not reading yet.
        socket.send_to(query, node).expect("send a query");
        if let Ok((len, from)) = socket.recv_from(&mut buf) {
            assert_eq!(from, node.into(), "answer from an unexpected address");
            return Some(buf[..len].to_vec());
        }
    }
    None
}

#[test]
fn queries_with_2_byte_transaction_ids_are_answered() {
    let nodes = private_dht(2);
    let node = nodes[0].local_addr();

    // (method, transaction id, arguments besides `id`)
    type Case<'a> = (&'a str, &'a [u8], &'a [(&'a str, [u8; 20])]);
    let cases: [Case; 4] = [
        ("ping", b"\x00\x07", &[]),
        ("get_peers", b"lt", &[("info_hash", [0x11; 20])]),
        ("find_node", b"\xff\x01", &[("target", [0x33; 20])]),
        // mainline's own length still works.
        ("ping", b"\x00\x00\x00\x09", &[]),
    ];
    for (method, tid, args) in cases {
        let query = query(method, tid, args);
        let response = ask(node, &query).unwrap_or_else(|| {
            panic!(
                "no answer from mainline to a {method} query with a {}-byte transaction id",
                tid.len()
            )
        });
        let echoed = [format!("1:t{}:", tid.len()).as_bytes(), tid].concat();
        assert!(
            contains(&response, &echoed),
            "{method}: transaction id {tid:?} not echoed in {:?}",
            String::from_utf8_lossy(&response)
        );
        assert!(
            contains(&response, b"1:y1:r"),
            "{method}: not a response: {:?}",
            String::from_utf8_lossy(&response)
        );
    }
}

#[test]
fn libtorrent_finds_our_peer_through_our_dht() {
    let nodes = private_dht(4);

    // The peer we announce: a TCP port this test holds.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a TCP listener");
    let port = listener.local_addr().expect("listener address").port();
    let peer = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);

    let info_hash: [u8; 20] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xa5);
    block_on(nodes[1].announce_peer(info_hash, port)).expect("announce_peer on our DHT");
    // Our own nodes see it (so a failure below is libtorrent's side of the wire).
    assert!(
        block_on(nodes[3].get_peers(info_hash)).contains(&peer),
        "our own DHT does not return the announced peer"
    );

    let started = Instant::now();
    let (found, stdout, stderr) = run_python(
        "dht_get_peers.py",
        &[
            nodes[0].bootstrap_address(),
            hex::encode(info_hash),
            peer.to_string(),
            LIBTORRENT_TIMEOUT.as_secs().to_string(),
        ],
        LIBTORRENT_TIMEOUT + Duration::from_secs(30),
    );
    println!(
        "libtorrent lookup took {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        stdout.trim()
    );
    assert!(
        found,
        "libtorrent did not find {peer} through our DHT (bootstrap {}).\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        nodes[0].bootstrap_address()
    );
    drop(listener);
}
