//! The node's SQLite store, on real database files in temp dirs: shared helpers and the
//! tests of concurrency, corruption and log parts; entries and heads in `entries.rs`, torrents
//! and follows in `torrents.rs`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use feeds::metainfo::{FileLayout, Info};
use feeds::{
    ContentRef, Entry, EntryHash, FeedHead, FeedName, FileRef, ForkProof, IdentityRecord, InfoHash,
    Keypair, Kind, Metainfo, SignedEntry,
};
use store::{
    EntryPage, ErrorKind, FeedStatus, HeadChange, LogPart, NewTorrent, Order, Origin, Store,
    TorrentQuery, TorrentState, schema,
};

mod checkpoints;
mod entries;
mod limits;
mod nodes;
mod search;
mod torrents;

fn name(s: &str) -> FeedName {
    FeedName::new(s).unwrap()
}

/// Writes a feed's entries, chained and signed.
struct Author {
    pair: Keypair,
    feed: FeedName,
    prev: Option<EntryHash>,
    seq: u64,
}

impl Author {
    fn new(seed: u8, feed: &str) -> Author {
        Author {
            pair: Keypair::from_seed(&[seed; 32]),
            feed: name(feed),
            prev: None,
            seq: 0,
        }
    }

    fn key(&self) -> feeds::IdentityKey {
        self.pair.public()
    }

    fn entry(&mut self, kind: Kind, content: Option<ContentRef>, title: &str) -> SignedEntry {
        self.seq += 1;
        let entry = Entry {
            author: self.pair.public(),
            feed: self.feed.clone(),
            seq: self.seq,
            prev: self.prev,
            time: 1_700_000_000 + self.seq,
            kind,
            content,
            meta: BTreeMap::from([("title".to_owned(), title.to_owned())]),
            delegation: Vec::new(),
            member: None,
        }
        .sign(&self.pair)
        .unwrap();
        self.prev = Some(entry.hash());
        entry
    }

    fn post(&mut self, title: &str) -> SignedEntry {
        self.entry(Kind::Post, None, title)
    }

    fn post_content(&mut self, content: ContentRef) -> SignedEntry {
        let title = content.name.clone();
        self.entry(Kind::Post, Some(content), &title)
    }

    fn posts(&mut self, n: usize) -> Vec<SignedEntry> {
        (0..n).map(|i| self.post(&format!("post {i}"))).collect()
    }

    /// The entry that would come next, but with another title: a fork of the log.
    fn fork_of_next(&self) -> SignedEntry {
        let mut other = Author {
            pair: Keypair::from_seed(self.pair.seed()),
            feed: self.feed.clone(),
            prev: self.prev,
            seq: self.seq,
        };
        other.post("the other branch")
    }
}

/// `count` posts of one feed, built fast: the body is written straight in bencode (decode
/// checks it is canonical), one signature is shared by all (the store trusts its caller to
/// have verified entries), and `prev` is not chained, so they build in parallel.
fn unchecked_posts(seed: u8, feed: &str, count: u64) -> Vec<SignedEntry> {
    let pair = Keypair::from_seed(&[seed; 32]);
    let signature = pair.sign(b"not checked by the store");
    let mut head = b"d6:author32:".to_vec();
    head.extend_from_slice(pair.public().as_bytes());
    head.extend_from_slice(format!("4:feed{}:{feed}4:kind4:post", feed.len()).as_bytes());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let chunk = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (head, signature) = (&head, &signature);
                scope.spawn(move || {
                    let first = t * chunk + 1;
                    let last = ((t + 1) * chunk).min(count);
                    (first..=last)
                        .map(|seq| {
                            let mut body = head.clone();
                            if seq > 1 {
                                body.extend_from_slice(b"4:prev32:");
                                body.extend_from_slice(&[1; 32]);
                            }
                            let time = 1_600_000_000 + seq;
                            let tail = format!("3:seqi{seq}e4:timei{time}e4:type5:entrye");
                            body.extend_from_slice(tail.as_bytes());
                            SignedEntry::decode(feeds::record::seal(&body, signature)).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

fn content(n: u8) -> ContentRef {
    ContentRef {
        infohash: InfoHash([n; 20]),
        name: format!("content-{n}"),
        size: 10 * n as u64,
        files: vec![FileRef {
            path: vec!["dir".into(), format!("file-{n}.bin")],
            length: 10 * n as u64,
            blake3: [n; 32],
        }],
    }
}

fn seqs(entries: &[store::StoredEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.entry.seq()).collect()
}

async fn open(dir: &Path) -> Store {
    Store::open(dir.join("node.sqlite")).await.unwrap()
}

/// The plan SQLite picks for `sql`, one line per step.
fn query_plan(path: &Path, sql: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    // Unbound parameters are NULL; the plan does not depend on their values.
    let mut rows = stmt.raw_query();
    let mut plan = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        plan.push(row.get::<_, String>(3).unwrap());
    }
    plan.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_whole_commits_and_are_not_blocked_while_a_long_write_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut small = Author::new(1, "small");
    let (small_key, small_feed) = (small.key(), small.feed.clone());
    store
        .append_verified_entries(&small_key, &small_feed, small.posts(3))
        .await
        .unwrap();
    let entries = unchecked_posts(9, "big", 200_000);
    let (key, feed) = (entries[0].entry().author, name("big"));

    let writer = store.clone();
    let (wkey, wfeed) = (key, feed.clone());
    let write = tokio::spawn(async move {
        let started = Instant::now();
        writer
            .append_verified_entries(&wkey, &wfeed, entries)
            .await
            .unwrap();
        started.elapsed()
    });
    let (mut reads_during_write, mut slowest) = (0, Duration::ZERO);
    while !write.is_finished() {
        let started = Instant::now();
        let (big, other) = tokio::join!(
            store.last_entry(&key, &feed),
            store.last_entry(&small_key, &small_feed)
        );
        slowest = slowest.max(started.elapsed());
        // All of the big append or none of it; the other feed is always there.
        let big = big.unwrap().map(|e| e.entry.seq());
        assert!(
            matches!(big, None | Some(200_000)),
            "saw a partial append: {big:?}"
        );
        assert_eq!(other.unwrap().map(|e| e.entry.seq()), Some(3));
        if !write.is_finished() {
            reads_during_write += 1;
        }
    }
    let took = write.await.unwrap();
    println!("{reads_during_write} reads (slowest {slowest:?}) during a {took:?} write");
    assert!(
        reads_during_write > 0,
        "no read finished while the write ran"
    );
    let last = store.last_entry(&key, &feed).await.unwrap().unwrap();
    assert_eq!(last.entry.seq(), 200_000);
}

#[tokio::test]
async fn a_stored_entry_that_no_longer_decodes_is_reported_as_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut author = Author::new(1, "main");
    let (key, feed) = (author.key(), author.feed.clone());
    store
        .append_verified_entries(&key, &feed, author.posts(2))
        .await
        .unwrap();
    rusqlite::Connection::open(store.path())
        .unwrap()
        .execute("UPDATE entries SET bytes = x'64656164' WHERE seq = 2", [])
        .unwrap();
    let err = store.entry(&key, &feed, 2).await.unwrap_err();
    assert_eq!(err.op, "entries");
    assert!(matches!(err.kind, ErrorKind::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("entry 2 of"), "{err}");
    // The store still answers.
    assert!(store.entry(&key, &feed, 1).await.unwrap().is_some());
}

#[tokio::test]
async fn log_torrents_and_known_nodes_are_found_by_feed_and_infohash() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let author = Author::new(1, "main");
    let (key, feed) = (author.key(), author.feed.clone());
    for index in [1, 0] {
        let infohash = InfoHash([index as u8 + 1; 20]);
        store
            .put_log_torrent(
                &key,
                &feed,
                LogPart::Segment(index),
                &infohash,
                vec![index as u8],
            )
            .await
            .unwrap();
    }
    for (n, bytes) in [(8, b"old tail"), (9, b"new tail")] {
        store
            .put_log_torrent(
                &key,
                &feed,
                LogPart::Tail,
                &InfoHash([n; 20]),
                bytes.to_vec(),
            )
            .await
            .unwrap();
    }
    let tail = store
        .log_torrent(&key, &feed, LogPart::Tail)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (tail.infohash, tail.bytes.as_slice()),
        (InfoHash([9; 20]), &b"new tail"[..])
    );
    assert_eq!(
        store
            .log_torrent_by_infohash(&InfoHash([8; 20]))
            .await
            .unwrap(),
        None
    );
    let segment = store
        .log_torrent_by_infohash(&InfoHash([2; 20]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (segment.identity, segment.feed.clone(), segment.part),
        (key, feed.clone(), LogPart::Segment(1))
    );
    assert_eq!(
        store.log_segments(&key, &feed).await.unwrap(),
        vec![(0, InfoHash([1; 20])), (1, InfoHash([2; 20]))]
    );

    store
        .note_node("http://a.example", Some((&key, &feed)))
        .await
        .unwrap();
    store.note_node("http://b.example", None).await.unwrap();
    let serving = store.nodes_serving(&key, &feed, 10).await.unwrap();
    assert_eq!(
        serving.iter().map(|n| n.url.as_str()).collect::<Vec<_>>(),
        ["http://a.example"]
    );
    let mut known: Vec<_> = store
        .known_nodes(10)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.url)
        .collect();
    known.sort();
    assert_eq!(known, ["http://a.example", "http://b.example"]);
}
