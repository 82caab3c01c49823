//! Adding peers to running torrents: a tracker of our own on loopback, asked only by our
//! librqbit session.
//!
//! librqbit 9.1.0 takes peers only at add time (`initial_peers`); the method that adds one
//! later is `pub(crate)`. It does poll trackers for as long as a torrent runs, and trackers
//! the session is configured with are asked for every torrent. So the engine configures this
//! tracker, [`LocalTracker::add_peers`] records peers (the node's DHT finds them), and the
//! next announce hands them over. Downloads poll every `poll_interval`; torrents with nothing
//! left to download (`left=0`) are told to come back rarely.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use feeds::InfoHash;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How often a complete torrent asks (it needs no peers; peers find it).
const IDLE_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// Most bytes of a request read: a GET line and a few headers.
const MAX_REQUEST: usize = 8 << 10;
/// Most peers remembered per torrent.
const MAX_PEERS: usize = 200;

type PeerBook = Arc<Mutex<HashMap<[u8; 20], Vec<SocketAddr>>>>;

/// A running loopback tracker; stops when dropped.
pub(crate) struct LocalTracker {
    url: String,
    book: PeerBook,
    task: JoinHandle<()>,
}

impl LocalTracker {
    /// Binds `127.0.0.1:0` and serves announces.
    pub async fn start(poll_interval: Duration) -> std::io::Result<LocalTracker> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let url = format!("http://{}/announce", listener.local_addr()?);
        let book = PeerBook::default();
        let task = tokio::spawn(serve(listener, book.clone(), poll_interval));
        Ok(LocalTracker { url, book, task })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Peers handed to `infohash`'s torrent at its next announce (duplicates ignored).
    pub fn add_peers(&self, infohash: &InfoHash, peers: &[SocketAddr]) {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        let known = book.entry(infohash.0).or_default();
        for peer in peers {
            if !known.contains(peer) {
                known.push(*peer);
            }
        }
        let excess = known.len().saturating_sub(MAX_PEERS);
        known.drain(..excess);
    }

    pub fn forget(&self, infohash: &InfoHash) {
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        book.remove(&infohash.0);
    }
}

impl Drop for LocalTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, book: PeerBook, poll_interval: Duration) {
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // Only our own session, on this machine, is meant to ask.
        if !from.ip().is_loopback() {
            continue;
        }
        let book = book.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(
                Duration::from_secs(10),
                answer(stream, &book, poll_interval),
            )
            .await;
        });
    }
}

async fn answer(
    mut stream: TcpStream,
    book: &PeerBook,
    poll_interval: Duration,
) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let body = match Announce::parse(&request) {
        Some(announce) => {
            let peers = {
                let book = book.lock().unwrap_or_else(PoisonError::into_inner);
                book.get(&announce.info_hash).cloned().unwrap_or_default()
            };
            let interval = if announce.left == Some(0) {
                IDLE_INTERVAL
            } else {
                poll_interval
            };
            announce_response(&peers, interval)
        }
        None => failure_response("not a tracker announce"),
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

/// The parts of a BEP 3 announce we use.
#[derive(Debug, PartialEq, Eq)]
struct Announce {
    info_hash: [u8; 20],
    left: Option<u64>,
}

impl Announce {
    /// Parses `GET /announce?info_hash=…&left=… HTTP/1.1`.
    fn parse(request: &[u8]) -> Option<Announce> {
        let line = request.split(|&b| b == b'\r' || b == b'\n').next()?;
        let target = line.strip_prefix(b"GET ")?;
        let target = &target[..target.iter().position(|&b| b == b' ')?];
        let query = &target[target.iter().position(|&b| b == b'?')? + 1..];
        let mut info_hash = None;
        let mut left = None;
        for pair in query.split(|&b| b == b'&') {
            if let Some(value) = pair.strip_prefix(b"info_hash=") {
                info_hash = <[u8; 20]>::try_from(percent_decode(value)?).ok();
            } else if let Some(value) = pair.strip_prefix(b"left=") {
                left = std::str::from_utf8(value).ok()?.parse().ok();
            }
        }
        Some(Announce {
            info_hash: info_hash?,
            left,
        })
    }
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hex = std::str::from_utf8(input.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// `d8:intervali…e12:min intervali…e5:peers…6:peers6…e` with compact peer lists (BEP 23, 7).
fn announce_response(peers: &[SocketAddr], interval: Duration) -> Vec<u8> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for peer in peers {
        match peer {
            SocketAddr::V4(a) => {
                v4.extend_from_slice(&a.ip().octets());
                v4.extend_from_slice(&a.port().to_be_bytes());
            }
            SocketAddr::V6(a) => {
                v6.extend_from_slice(&a.ip().octets());
                v6.extend_from_slice(&a.port().to_be_bytes());
            }
        }
    }
    let secs = interval.as_secs().max(1);
    let mut out = format!(
        "d8:intervali{secs}e12:min intervali{secs}e5:peers{}:",
        v4.len()
    )
    .into_bytes();
    out.extend_from_slice(&v4);
    out.extend_from_slice(format!("6:peers6{}:", v6.len()).as_bytes());
    out.extend_from_slice(&v6);
    out.push(b'e');
    out
}

fn failure_response(reason: &str) -> Vec<u8> {
    format!("d14:failure reason{}:{reason}e", reason.len()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announce_yields_its_raw_infohash_and_bytes_left() {
        let request = b"GET /announce?info_hash=%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13a&peer_id=x&left=0&compact=1 HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut expected = [0u8; 20];
        for (i, b) in expected.iter_mut().enumerate().take(19) {
            *b = i as u8 + 1;
        }
        expected[19] = b'a';
        assert_eq!(
            Announce::parse(request),
            Some(Announce {
                info_hash: expected,
                left: Some(0)
            })
        );
        assert_eq!(
            Announce::parse(b"GET /announce?info_hash=%01 HTTP/1.1\r\n\r\n"),
            None
        );
        assert_eq!(Announce::parse(b"POST / HTTP/1.1\r\n\r\n"), None);
    }

    #[test]
    fn responses_list_peers_compactly_in_sorted_keys() {
        let peers: Vec<SocketAddr> =
            vec!["127.0.0.1:6881".parse().unwrap_or_else(|_| unreachable!())];
        assert_eq!(
            announce_response(&peers, Duration::from_secs(5)),
            b"d8:intervali5e12:min intervali5e5:peers6:\x7f\x00\x00\x01\x1a\xe16:peers60:e"
                .to_vec()
        );
    }
}
