//! The node's SQLite store, on real database files in temp dirs.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use feeds::metainfo::{FileLayout, Info};
use feeds::{
    ContentRef, Entry, EntryHash, FeedHead, FeedName, FileRef, ForkProof, IdentityRecord, InfoHash,
    Keypair, Kind, Metainfo, SignedEntry,
};
use seeder::store::{
    EntryPage, ErrorKind, FeedStatus, HeadChange, LogPart, NewTorrent, Order, Origin, Store,
    TorrentQuery, TorrentState, schema,
};

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

fn seqs(entries: &[seeder::store::StoredEntry]) -> Vec<u64> {
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

#[tokio::test]
async fn a_new_store_is_migrated_to_the_current_schema_and_reopens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    let mut author = Author::new(1, "main");
    let entries = author.posts(3);
    store
        .append_verified_entries(&author.key(), &author.feed, entries.clone())
        .await
        .unwrap();
    drop(store);

    let store = open(dir.path()).await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    let last = store.last_entry(&author.key(), &author.feed).await.unwrap();
    assert_eq!(last.map(|e| e.entry), entries.last().cloned());
    let journal: String = rusqlite::Connection::open(store.path())
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn a_database_from_a_newer_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let err = Store::open(&path).await.unwrap_err();
    assert_eq!(err.op, "open");
    assert!(
        matches!(err.kind, ErrorKind::SchemaTooNew { found: 999, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn appending_the_same_entries_twice_stores_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut author = Author::new(1, "main");
    let entries = author.posts(5);
    let (key, feed) = (author.key(), author.feed.clone());
    let first = store
        .append_verified_entries(&key, &feed, entries[..3].to_vec())
        .await
        .unwrap();
    assert_eq!(
        (first.added, first.already_stored, first.verified_seq),
        (3, 0, 3)
    );
    let again = store
        .append_verified_entries(&key, &feed, entries.clone())
        .await
        .unwrap();
    assert_eq!(
        (again.added, again.already_stored, again.verified_seq),
        (2, 3, 5)
    );
    let all = store
        .entries(&key, &feed, EntryPage::after(0, 100))
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.entry.clone()).collect::<Vec<_>>(),
        entries
    );
    let state = store.feed_state(&key, &feed).await.unwrap().unwrap();
    assert_eq!(state.verified_seq, 5);
}

#[tokio::test]
async fn an_entry_that_differs_from_the_stored_one_is_a_conflict_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut author = Author::new(1, "main");
    let (key, feed) = (author.key(), author.feed.clone());
    store
        .append_verified_entries(&key, &feed, author.posts(2))
        .await
        .unwrap();
    let fork = author.fork_of_next();
    let stored = author.post("the stored branch");
    store
        .append_verified_entries(&key, &feed, vec![stored.clone()])
        .await
        .unwrap();
    let next = author.post("after the stored branch");

    let err = store
        .append_verified_entries(&key, &feed, vec![fork.clone(), next])
        .await
        .unwrap_err();
    assert_eq!(err.op, "append_verified_entries");
    assert!(
        matches!(err.kind, ErrorKind::Conflict { seq: 3, .. }),
        "{err}"
    );
    let at3 = store.entry(&key, &feed, 3).await.unwrap().unwrap();
    assert_eq!(at3.entry, stored);
    assert_eq!(
        store
            .feed_state(&key, &feed)
            .await
            .unwrap()
            .unwrap()
            .verified_seq,
        3
    );

    // A gap and another feed's entry are refused too.
    let mut ahead = Author::new(1, "main");
    let ahead = ahead.posts(5).pop().unwrap();
    let err = store
        .append_verified_entries(&key, &feed, vec![ahead])
        .await
        .unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Invalid(_)), "{err}");
    let stray = Author::new(2, "main").post("someone else");
    let err = store
        .append_verified_entries(&key, &feed, vec![stray])
        .await
        .unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Invalid(_)), "{err}");
}

#[tokio::test]
async fn a_fork_proof_freezes_the_feed_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut author = Author::new(1, "main");
    let (key, feed) = (author.key(), author.feed.clone());
    store
        .append_verified_entries(&key, &feed, author.posts(2))
        .await
        .unwrap();
    let other = author.fork_of_next();
    let next = author.post("this branch");
    let proof = ForkProof::new(other, next.clone()).unwrap();
    store.set_feed_frozen(&key, &feed, &proof).await.unwrap();
    store
        .set_feed_error(&key, &feed, Some("an error does not unfreeze"))
        .await
        .unwrap();
    let state = store.feed_state(&key, &feed).await.unwrap().unwrap();
    assert_eq!(state.status, FeedStatus::Frozen(Box::new(proof)));
    let err = store
        .append_verified_entries(&key, &feed, vec![next])
        .await
        .unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Frozen { .. }), "{err}");
}

#[tokio::test]
async fn heads_and_identity_records_only_move_forward() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let pair = Keypair::from_seed(&[1; 32]);
    let head = |seq: u64| {
        FeedHead {
            feed: name("main"),
            seq,
            entry_hash: EntryHash([seq as u8; 32]),
            log: InfoHash([seq as u8; 20]),
            time: 1_700_000_000 + seq,
        }
        .sign(&pair)
        .unwrap()
    };
    assert_eq!(store.put_head(&head(5)).await.unwrap(), HeadChange::Newer);
    assert_eq!(store.put_head(&head(5)).await.unwrap(), HeadChange::Same);
    assert_eq!(store.put_head(&head(4)).await.unwrap(), HeadChange::Older);
    assert_eq!(
        store.head(&pair.public(), &name("main")).await.unwrap(),
        Some(head(5))
    );
    assert_eq!(store.put_head(&head(6)).await.unwrap(), HeadChange::Newer);
    assert_eq!(
        store.head(&pair.public(), &name("main")).await.unwrap(),
        Some(head(6))
    );

    let record = |seq: i64, feeds: &[&str]| {
        IdentityRecord {
            feeds: feeds.iter().map(|f| name(f)).collect(),
            name: Some("Ada".into()),
            nodes: Vec::new(),
        }
        .sign(&pair, seq)
        .unwrap()
    };
    let newer = record(2, &["main", "photos"]);
    assert_eq!(
        store.put_identity_record(&newer).await.unwrap(),
        HeadChange::Newer
    );
    assert_eq!(
        store
            .put_identity_record(&record(1, &["main"]))
            .await
            .unwrap(),
        HeadChange::Older
    );
    assert_eq!(
        store.identity_record(&pair.public()).await.unwrap(),
        Some(newer)
    );
}

#[tokio::test]
async fn a_page_deep_in_a_million_entry_feed_takes_milliseconds_through_the_primary_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let started = Instant::now();
    let entries = unchecked_posts(9, "big", 1_000_000);
    let (key, feed) = (entries[0].entry().author, name("big"));
    println!("built 1,000,000 entries in {:?}", started.elapsed());

    let started = Instant::now();
    let outcome = store
        .append_verified_entries(&key, &feed, entries)
        .await
        .unwrap();
    println!("stored them in one transaction in {:?}", started.elapsed());
    assert_eq!(outcome.verified_seq, 1_000_000);

    let mut slowest = Duration::ZERO;
    let pages = [
        (EntryPage::newest(50), 1_000_000),
        (EntryPage::before(500_001, 50), 500_000),
        (EntryPage::before(51, 50), 50),
        (EntryPage::after(900_000, 50), 900_001),
    ];
    for (page, first) in pages {
        let started = Instant::now();
        let got = store.entries(&key, &feed, page).await.unwrap();
        slowest = slowest.max(started.elapsed());
        let expected: Vec<u64> = match page.order {
            Order::NewestFirst => (first - 49..=first).rev().collect(),
            Order::OldestFirst => (first..first + 50).collect(),
        };
        assert_eq!(seqs(&got), expected);
    }
    let started = Instant::now();
    let last = store.last_entry(&key, &feed).await.unwrap().unwrap();
    let one = store.entry(&key, &feed, 123_456).await.unwrap().unwrap();
    slowest = slowest.max(started.elapsed());
    assert_eq!((last.entry.seq(), one.entry.seq()), (1_000_000, 123_456));
    println!("slowest page query: {slowest:?}");
    assert!(
        slowest < Duration::from_millis(50),
        "a page took {slowest:?}: a scan?"
    );

    for sql in [
        seeder::store::hot_queries::PAGE_NEWEST,
        seeder::store::hot_queries::PAGE_OLDEST,
    ] {
        let plan = query_plan(store.path(), sql);
        println!("{plan}");
        assert!(plan.contains("SEARCH entries USING INDEX sqlite_autoindex_entries_1 (feed_id=? AND seq>? AND seq<?)"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

#[tokio::test]
async fn a_delete_marks_its_post_retracted_and_hides_it_from_the_home_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut author = Author::new(1, "main");
    let (key, feed) = (author.key(), author.feed.clone());
    store.follow(&key, Some(&feed)).await.unwrap();
    let first = author.post_content(content(1));
    let second = author.post_content(content(2));
    let delete = author.entry(Kind::Delete { retracts: 1 }, None, "oops");
    let mut other = Author::new(2, "news");
    store.follow(&other.key(), None).await.unwrap();
    store
        .expand_follow(&other.key(), &[name("news")])
        .await
        .unwrap();
    let news = other.post("news");
    let mut unfollowed = Author::new(3, "main");
    let stranger = unfollowed.post_content(content(1));

    store
        .append_verified_entries(&key, &feed, vec![first.clone(), second.clone(), delete])
        .await
        .unwrap();
    store
        .append_verified_entries(&other.key(), &other.feed, vec![news.clone()])
        .await
        .unwrap();
    store
        .append_verified_entries(&unfollowed.key(), &unfollowed.feed, vec![stranger.clone()])
        .await
        .unwrap();

    let retracted = store.entry(&key, &feed, 1).await.unwrap().unwrap();
    assert!(retracted.retracted);
    assert!(
        !store
            .entry(&key, &feed, 2)
            .await
            .unwrap()
            .unwrap()
            .retracted
    );
    let naming = store
        .entries_with_infohash(&InfoHash([1; 20]))
        .await
        .unwrap();
    let naming: Vec<_> = naming.into_iter().map(|e| e.entry).collect();
    assert_eq!(naming, vec![first, stranger]);

    // Newest first by time: the news post (time +1 of its own feed) is older than `second`.
    let page = store.recent_followed_posts(None, 1).await.unwrap();
    assert_eq!(
        page.entries
            .iter()
            .map(|e| e.entry.clone())
            .collect::<Vec<_>>(),
        vec![second]
    );
    let rest = store.recent_followed_posts(page.next, 10).await.unwrap();
    assert_eq!(
        rest.entries
            .iter()
            .map(|e| e.entry.clone())
            .collect::<Vec<_>>(),
        vec![news]
    );
    assert_eq!(rest.next, None);

    let plan = query_plan(store.path(), seeder::store::hot_queries::RECENT_FOLLOWED);
    println!("{plan}");
    assert!(
        plan.contains("USING INDEX entries_by_time ((time,feed_id,seq)<(?,?,?))"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    let plan = query_plan(store.path(), seeder::store::hot_queries::WITH_INFOHASH);
    assert!(
        plan.contains("USING INDEX entries_by_infohash (infohash=?)"),
        "{plan}"
    );
}

fn torrent_bytes(name: &str, length: u64) -> (InfoHash, Vec<u8>) {
    let info = Info {
        name: name.into(),
        piece_length: 1 << 14,
        pieces: vec![[7; 20]; length.div_ceil(1 << 14) as usize],
        files: FileLayout::Single { length },
    };
    let metainfo = Metainfo {
        info,
        trackers: Vec::new(),
        webseeds: Vec::new(),
    };
    (metainfo.infohash(), metainfo.encode())
}

#[tokio::test]
async fn torrents_keep_their_exact_file_state_and_list_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (infohash, bytes) = torrent_bytes("a.bin", 40_000);
    let mut torrent = NewTorrent::from_content(
        &ContentRef {
            infohash,
            name: "a.bin".into(),
            size: 40_000,
            files: vec![FileRef {
                path: vec!["a.bin".into()],
                length: 40_000,
                blake3: [5; 32],
            }],
        },
        Origin::Followed,
    );
    assert!(store.put_torrent(torrent.clone()).await.unwrap());
    assert_eq!(store.torrent_file(&infohash).await.unwrap(), None);
    assert!(
        store
            .set_torrent_metainfo(&infohash, bytes.clone())
            .await
            .unwrap()
    );
    assert_eq!(
        store.torrent_file(&infohash).await.unwrap(),
        Some(bytes.clone())
    );
    let (_, wrong) = torrent_bytes("b.bin", 10);
    let err = store
        .set_torrent_metainfo(&infohash, wrong)
        .await
        .unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Invalid(_)), "{err}");

    // Publishing the same content here makes it ours; following it again does not undo that.
    let root = dir.path().join("content");
    torrent.origin = Origin::Published {
        content_root: root.clone(),
    };
    assert!(!store.put_torrent(torrent.clone()).await.unwrap());
    torrent.origin = Origin::Followed;
    store.put_torrent(torrent).await.unwrap();
    let state = TorrentState {
        complete: true,
        have_bytes: 40_000,
        last_verified: Some(1_700_000_000),
        error: None,
    };
    assert!(
        store
            .set_torrent_state(&infohash, state.clone())
            .await
            .unwrap()
    );
    assert!(store.set_file_verified(&infohash, 0, true).await.unwrap());
    let stored = store.torrent(&infohash).await.unwrap().unwrap();
    assert_eq!(stored.origin, Origin::Published { content_root: root });
    assert_eq!(
        (stored.state, stored.has_metainfo, stored.total_size),
        (state, true, 40_000)
    );
    assert_eq!(store.torrent_file(&infohash).await.unwrap(), Some(bytes));
    let files = store.torrent_files(&infohash).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].path.as_str(), files[0].blake3, files[0].verified),
        ("a.bin", Some([5; 32]), true)
    );

    for n in 10..15 {
        store
            .put_torrent(NewTorrent::from_content(&content(n), Origin::Followed))
            .await
            .unwrap();
    }
    let files = store.torrent_files(&InfoHash([12; 20])).await.unwrap();
    assert_eq!(files[0].path, "dir/file-12.bin");
    let mut listed = Vec::new();
    let mut query = TorrentQuery {
        after: None,
        limit: 2,
        only_incomplete: true,
    };
    loop {
        let page = store.torrents(query).await.unwrap();
        let Some(last) = page.last() else { break };
        query.after = Some(last.infohash);
        listed.extend(page.iter().map(|t| t.infohash));
    }
    assert_eq!(
        listed,
        (10..15).map(|n| InfoHash([n; 20])).collect::<Vec<_>>()
    );
    assert!(store.remove_torrent(&InfoHash([10; 20])).await.unwrap());
    assert_eq!(store.torrent(&InfoHash([10; 20])).await.unwrap(), None);
    assert!(
        store
            .torrent_files(&InfoHash([10; 20]))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn follows_report_entries_bytes_and_completeness() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut main = Author::new(1, "main");
    let mut photos = Author::new(1, "photos");
    let key = main.key();
    let record = IdentityRecord {
        feeds: vec![name("main"), name("photos")],
        name: None,
        nodes: Vec::new(),
    }
    .sign(&main.pair, 1)
    .unwrap();
    store.put_identity_record(&record).await.unwrap();
    assert!(store.follow(&key, None).await.unwrap());
    assert!(!store.follow(&key, None).await.unwrap());
    assert!(store.is_followed(&key, &name("anything")).await.unwrap());
    assert!(
        !store
            .is_followed(&Author::new(2, "main").key(), &name("main"))
            .await
            .unwrap()
    );

    let mut posts = vec![main.post_content(content(1)), main.post_content(content(2))];
    posts.extend(main.posts(2));
    store
        .append_verified_entries(&key, &main.feed, posts)
        .await
        .unwrap();
    let pics = vec![
        photos.post_content(content(2)),
        photos.post_content(content(3)),
    ];
    store
        .append_verified_entries(&key, &photos.feed, pics)
        .await
        .unwrap();
    for n in 1..=3 {
        store
            .put_torrent(NewTorrent::from_content(&content(n), Origin::Followed))
            .await
            .unwrap();
    }
    let done = |n: u8| TorrentState {
        complete: true,
        have_bytes: 10 * n as u64,
        ..TorrentState::default()
    };
    store
        .set_torrent_state(&InfoHash([1; 20]), done(1))
        .await
        .unwrap();
    store
        .set_torrent_state(&InfoHash([3; 20]), done(3))
        .await
        .unwrap();
    store
        .set_feed_error(&key, &photos.feed, Some("tail fetch failed"))
        .await
        .unwrap();
    store
        .set_follow_result(&key, None, Some("one feed failed"))
        .await
        .unwrap();

    let follows = store.follows().await.unwrap();
    assert_eq!(follows.len(), 1);
    let status = &follows[0];
    assert_eq!((status.identity, status.feed.clone()), (key, None));
    assert_eq!(
        status.feeds,
        vec![
            (name("main"), None),
            (name("photos"), Some("tail fetch failed".into()))
        ]
    );
    assert_eq!(
        (status.entries, status.torrents, status.complete),
        (6, 3, 2)
    );
    assert_eq!((status.have_bytes, status.total_bytes), (40, 60));
    assert_eq!(status.last_error.as_deref(), Some("one feed failed"));
    assert!(status.last_update.is_some());
    let followed = store.followed_feeds().await.unwrap();
    assert_eq!(followed, vec![(key, name("main")), (key, name("photos"))]);
}

#[tokio::test]
async fn unfollow_with_delete_returns_only_the_torrents_no_other_follow_needs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut alice = Author::new(1, "main");
    let mut bob = Author::new(2, "main");
    store.follow(&alice.key(), Some(&alice.feed)).await.unwrap();
    store.follow(&bob.key(), Some(&bob.feed)).await.unwrap();
    // Alice names torrents 1, 2 and 3; Bob names 2; torrent 3 was published here.
    let posts = vec![
        alice.post_content(content(1)),
        alice.post_content(content(2)),
        alice.post_content(content(3)),
    ];
    store
        .append_verified_entries(&alice.key(), &alice.feed, posts)
        .await
        .unwrap();
    let shared = vec![bob.post_content(content(2))];
    store
        .append_verified_entries(&bob.key(), &bob.feed, shared)
        .await
        .unwrap();
    for n in 1..=2 {
        store
            .put_torrent(NewTorrent::from_content(&content(n), Origin::Followed))
            .await
            .unwrap();
    }
    let published = Origin::Published {
        content_root: dir.path().into(),
    };
    let mut mine = Author::new(3, "mine");
    store
        .put_torrent(NewTorrent::from_content(&content(3), published))
        .await
        .unwrap();
    let own = vec![mine.post_content(content(3))];
    store
        .append_verified_entries(&mine.key(), &mine.feed, own)
        .await
        .unwrap();
    store
        .put_log_torrent(
            &alice.key(),
            &alice.feed,
            LogPart::Tail,
            &InfoHash([9; 20]),
            b"tail".to_vec(),
        )
        .await
        .unwrap();

    let kept = store
        .unfollow(&bob.key(), Some(&bob.feed), false)
        .await
        .unwrap();
    assert!(kept.removed && kept.infohashes.is_empty());
    store.follow(&bob.key(), Some(&bob.feed)).await.unwrap();

    let gone = store
        .unfollow(&alice.key(), Some(&alice.feed), true)
        .await
        .unwrap();
    assert!(gone.removed);
    assert_eq!(gone.infohashes, vec![InfoHash([1; 20])]);
    assert_eq!(
        store
            .feed_state(&alice.key(), &alice.feed)
            .await
            .unwrap()
            .map(|s| s.verified_seq),
        None
    );
    assert!(
        store
            .entries_with_infohash(&InfoHash([1; 20]))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .log_torrent_by_infohash(&InfoHash([9; 20]))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .entries_with_infohash(&InfoHash([2; 20]))
            .await
            .unwrap()
            .len(),
        1
    );
    // The rows stay until the caller has deleted the files.
    assert!(store.torrent(&InfoHash([1; 20])).await.unwrap().is_some());
    assert!(!store.is_followed(&alice.key(), &alice.feed).await.unwrap());
    let again = store
        .unfollow(&alice.key(), Some(&alice.feed), true)
        .await
        .unwrap();
    assert!(!again.removed);
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
