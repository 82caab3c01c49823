//! The publish flow on a real data directory: entries chain, heads follow, crashes and
//! concurrent publishers never leave a broken or forked feed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::path::Path;

use data_dir::DataDir;
use feeds::layout::SEGMENT_ENTRIES;
use feeds::{Entry, FeedName, Kind, SignedHead, verify_log};
use publisher::feed_writer::{FeedWriter, read_committed};
use publisher::publish::{ContentRecord, default_feed};
use publisher::{PublishRequest, publish, retract};

const NOW: u64 = 1_780_000_000;

fn setup() -> (tempfile::TempDir, DataDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    data.keystore().generate("alice", true).unwrap();
    (dir, data)
}

fn file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn request(path: &Path) -> PublishRequest {
    PublishRequest {
        path: path.to_owned(),
        title: Some("A <title>".into()),
        ..Default::default()
    }
}

/// Writes `dir/NAME` and publishes it as alice at [`NOW`].
fn publish_file(data: &DataDir, dir: &Path, name: &str, bytes: &[u8]) -> publisher::Published {
    publish(data, &request(&file(dir, name, bytes)), NOW, &|_| {}).unwrap()
}

/// Re-reads the feed from disk and verifies it from scratch.
fn verified_seqs(data: &DataDir) -> Vec<u64> {
    let alice = data.keystore().keypair("alice").unwrap().public();
    let (state, entries) = read_committed(data, &alice, &default_feed()).unwrap();
    let log = verify_log(&alice, &default_feed(), entries, None).unwrap();
    let head =
        SignedHead::decode(&fs::read(data.feed_dir(&alice, &default_feed()).join("head")).unwrap())
            .unwrap();
    assert_eq!(head.head().seq, state.seq);
    assert_eq!(Some(head.head().entry_hash), log.head().map(|(_, h)| h));
    log.entries.iter().map(|e| e.seq()).collect()
}

#[test]
fn publishing_twice_chains_two_signed_entries_and_records_the_content() {
    let (dir, data) = setup();
    let first = publish_file(&data, dir.path(), "a.txt", b"hello");
    let second = publish(
        &data,
        &request(&file(dir.path(), "b.txt", b"world")),
        NOW + 1,
        &|_| {},
    )
    .unwrap();
    assert_eq!(first.entry.seq(), 1);
    assert_eq!(second.entry.seq(), 2);
    assert_eq!(second.entry.entry().prev, Some(first.entry.hash()));
    assert_eq!(second.entry.entry().meta["title"], "A <title>");
    let content = second.content.unwrap();
    assert!(
        content
            .magnet
            .starts_with(&format!("magnet:?xt=urn:btih:{}", content.infohash))
    );
    let torrent = feeds::Metainfo::decode(&fs::read(&content.torrent_path).unwrap()).unwrap();
    assert_eq!(torrent.infohash(), content.infohash);
    let record: ContentRecord =
        serde_json::from_slice(&fs::read(data.content_path(&content.infohash)).unwrap()).unwrap();
    assert_eq!(
        record.files[0].blake3,
        blake3::hash(b"world").to_hex().to_string()
    );
    assert!(record.root.is_absolute());
    assert_eq!(verified_seqs(&data), vec![1, 2]);
}

#[test]
fn an_interrupted_append_is_cut_off_and_the_next_publish_continues_cleanly() {
    let (dir, data) = setup();
    publish_file(&data, dir.path(), "a.txt", b"a");
    let alice = data.keystore().keypair("alice").unwrap();
    let feed_dir = data.feed_dir(&alice.public(), &default_feed());
    // A crash mid-append: half an entry past the committed length, and a stale head.
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(feed_dir.join("log"))
        .unwrap();
    log.write_all(b"d4:body300:half an entry").unwrap();
    fs::remove_file(feed_dir.join("head")).unwrap();
    let next = publish_file(&data, dir.path(), "b.txt", b"b");
    assert_eq!(next.entry.seq(), 2);
    assert_eq!(verified_seqs(&data), vec![1, 2]);
}

#[test]
fn a_head_left_behind_by_a_crash_is_signed_again_on_open() {
    let (dir, data) = setup();
    publish_file(&data, dir.path(), "a.txt", b"a");
    let alice = data.keystore().keypair("alice").unwrap();
    fs::remove_file(data.feed_dir(&alice.public(), &default_feed()).join("head")).unwrap();
    drop(FeedWriter::open(&data, &alice, &default_feed()).unwrap());
    assert_eq!(verified_seqs(&data), vec![1]);
}

#[test]
fn concurrent_publishers_are_serialised_never_forked() {
    let (dir, data) = setup();
    let paths: Vec<_> = (0..6)
        .map(|i| {
            file(
                dir.path(),
                &format!("f{i}"),
                format!("content {i}").as_bytes(),
            )
        })
        .collect();
    std::thread::scope(|scope| {
        for path in &paths {
            let data = data.clone();
            scope.spawn(move || publish(&data, &request(path), NOW, &|_| {}).unwrap());
        }
    });
    assert_eq!(verified_seqs(&data), (1..=6).collect::<Vec<_>>());
}

#[test]
fn retracting_appends_a_signed_delete_and_unknown_seqs_are_refused() {
    let (dir, data) = setup();
    publish_file(&data, dir.path(), "a.txt", b"a");
    let retracted = retract(&data, None, &default_feed(), 1, NOW).unwrap();
    assert_eq!(retracted.entry.entry().kind, Kind::Delete { retracts: 1 });
    assert!(
        retract(&data, None, &default_feed(), 7, NOW)
            .unwrap_err()
            .to_string()
            .contains("no entry 7")
    );
    assert_eq!(verified_seqs(&data), vec![1, 2]);
}

#[test]
fn bad_metadata_and_missing_paths_fail_clearly_and_change_nothing() {
    let (dir, data) = setup();
    let mut bad = request(&file(dir.path(), "a.txt", b"a"));
    bad.meta = vec![("title".into(), "x".into())];
    assert!(
        publish(&data, &bad, NOW, &|_| {})
            .unwrap_err()
            .to_string()
            .contains("title")
    );
    let missing = publish(&data, &request(&dir.path().join("nope")), NOW, &|_| {}).unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
    assert!(
        !data.root().join("feeds").exists()
            || data
                .feeds_of(&data.keystore().keypair("alice").unwrap().public())
                .unwrap()
                .is_empty()
    );
}

#[test]
fn a_segment_is_sealed_every_1024_entries_and_the_identity_lists_the_feed() {
    let (_dir, data) = setup();
    let alice = data.keystore().keypair("alice").unwrap();
    let feed = FeedName::new("notes").unwrap();
    let mut writer = FeedWriter::open(&data, &alice, &feed).unwrap();
    for _ in 0..SEGMENT_ENTRIES + 2 {
        let last = writer.last().unwrap();
        let entry = Entry {
            author: alice.public(),
            feed: feed.clone(),
            seq: last.map_or(1, |(s, _)| s + 1),
            prev: last.map(|(_, h)| h),
            time: NOW,
            kind: Kind::Post,
            content: None,
            meta: Default::default(),
            delegation: Vec::new(),
            member: None,
        };
        writer.append(&entry).unwrap();
    }
    let state = writer.state().clone();
    assert_eq!(state.segments.len(), 1);
    drop(writer);
    let dir = data.feed_dir(&alice.public(), &feed);
    let head = SignedHead::decode(&fs::read(dir.join("head")).unwrap()).unwrap();
    let tail = fs::read(
        dir.join("tails")
            .join(head.head().log.to_string())
            .join("notes.sftail"),
    )
    .unwrap();
    let segment = fs::read(dir.join("segments/0/notes.00000000.sfseg")).unwrap();
    let log =
        feeds::layout::verify_feed_log(&alice.public(), &head, &tail, &[segment], None).unwrap();
    assert_eq!(
        fs::read_dir(dir.join("tails")).unwrap().count(),
        2,
        "only the current and previous tails are kept"
    );
    assert_eq!(log.entries.len() as u64, SEGMENT_ENTRIES + 2);
    let record = feeds::SignedIdentityRecord::decode(
        &fs::read(data.identity_dir(&alice.public()).join("identity")).unwrap(),
    )
    .unwrap();
    assert_eq!(record.record().feeds, vec![feed]);
}
