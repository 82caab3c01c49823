//! Search over a small corpus on a real store: substrings of file names, prefixes, folded
//! diacritics, one- and two-character words, filters, hostile text and retraction.

use store::{SearchOrder, SearchQuery};

use super::*;

/// A post with the given meta and files (paths split on '/').
fn post_with(author: &mut Author, meta: &[(&str, &str)], files: &[&str], size: u64) -> SignedEntry {
    author.seq += 1;
    let content = (!files.is_empty()).then(|| ContentRef {
        infohash: InfoHash([author.seq as u8; 20]),
        name: "content".into(),
        size,
        files: files
            .iter()
            .enumerate()
            .map(|(i, p)| FileRef {
                path: p.split('/').map(String::from).collect(),
                // The sizes add up to `size`, as the format requires.
                length: if i == 0 {
                    size + 1 - files.len() as u64
                } else {
                    1
                },
                blake3: [0; 32],
            })
            .collect(),
    });
    let entry = Entry {
        author: author.pair.public(),
        feed: author.feed.clone(),
        seq: author.seq,
        prev: author.prev,
        time: 1_700_000_000 + author.seq * 100,
        kind: Kind::Post,
        content,
        meta: meta
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        delegation: Vec::new(),
        member: None,
    }
    .sign(&author.pair)
    .unwrap();
    author.prev = Some(entry.hash());
    entry
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        limit: 50,
        ..SearchQuery::default()
    }
}

async fn found(store: &Store, query: SearchQuery) -> Vec<u64> {
    let mut seqs: Vec<u64> = store
        .search(query)
        .await
        .unwrap()
        .hits
        .iter()
        .map(|h| h.seq)
        .collect();
    seqs.sort_unstable();
    seqs
}

const HOSTILE: &str = "<script>alert(1)</script> \" NEAR( OR * ^col: ' ; DROP TABLE entries";

#[tokio::test]
async fn a_small_corpus_is_found_by_substring_prefix_folded_and_short_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut a = Author::new(1, "isos");
    let mut b = Author::new(2, "films");
    let a_entries = vec![
        post_with(
            &mut a,
            &[
                ("title", "Kubuntu 24.04 desktop"),
                ("description", "HD wallpapers"),
            ],
            &["kubuntu-24.04-desktop-amd64.iso", "SHA256SUMS"],
            4_000_000_000,
        ),
        post_with(&mut a, &[("title", HOSTILE)], &["x/<img src=x>.txt"], 10),
        post_with(
            &mut a,
            &[("title", "Debian netinst")],
            &["debian-12.iso"],
            600_000_000,
        ),
    ];
    let b_entries = vec![
        post_with(
            &mut b,
            &[("title", "Amélie"), ("year", "2001"), ("lang", "fr")],
            &["Amélie (2001)/Amélie.2001.1080p.mkv"],
            8_000_000_000,
        ),
        post_with(
            &mut b,
            &[("title", "Café society")],
            &["cafe.MKV"],
            700_000_000,
        ),
    ];
    store
        .append_verified_entries(&a.key(), &a.feed.clone(), a_entries)
        .await
        .unwrap();
    store
        .append_verified_entries(&b.key(), &b.feed.clone(), b_entries)
        .await
        .unwrap();

    // A substring of a file name, in any case, and a word prefix.
    assert_eq!(found(&store, q("BUNTU-24")).await, [1]);
    assert_eq!(found(&store, q("netin*")).await, [3]);
    assert_eq!(found(&store, q("deb* iso")).await, [3]);
    // Diacritics fold both ways, in titles and in file names.
    assert_eq!(found(&store, q("amelie")).await, [1]);
    assert_eq!(found(&store, q("CAFÉ")).await, [2]);
    // One and two characters match whole words (or prefixes with '*'), never substrings.
    assert_eq!(found(&store, q("hd")).await, [1]);
    assert_eq!(found(&store, q("fr")).await, [1]);
    assert_eq!(found(&store, q("f")).await, Vec::<u64>::new());
    assert_eq!(found(&store, q("f*")).await, [1]);
    // Hostile text is only text: FTS5 syntax in a query is quoted, and it finds itself.
    assert_eq!(found(&store, q(HOSTILE)).await, [2]);
    assert_eq!(found(&store, q("<script>")).await, [2]);
    assert_eq!(found(&store, q("<img")).await, [2]);
    assert!(store.search(q("  ")).await.is_err());
    assert!(store.search(q("\" ;")).await.is_err());

    // Filters: identity (and feed), extension in any case, size, time, kind.
    let mut by_identity = q("iso");
    by_identity.identity = Some(b.key());
    assert_eq!(found(&store, by_identity).await, Vec::<u64>::new());
    let mut by_feed = q("iso");
    by_feed.identity = Some(a.key());
    by_feed.feed = Some(name("isos"));
    assert_eq!(found(&store, by_feed).await, [1, 3]);
    let mut mkv = q("200*");
    mkv.extension = Some(".mkv".into());
    assert_eq!(found(&store, mkv).await, [1]);
    let mut sized = q("iso");
    sized.min_size = Some(1_000_000_000);
    assert_eq!(found(&store, sized).await, [1]);
    let mut dated = q("iso");
    dated.since = Some(1_700_000_200);
    dated.until = Some(1_700_000_300);
    assert_eq!(found(&store, dated).await, [3]);
    let mut kind = q("iso");
    kind.kind = Some("list".into());
    assert_eq!(found(&store, kind).await, Vec::<u64>::new());

    // Orders: newest first by entry time; relevance puts the title match first.
    let mut newest = q("iso");
    newest.order = SearchOrder::Newest;
    let hits = store.search(newest).await.unwrap().hits;
    assert_eq!(hits.iter().map(|h| h.seq).collect::<Vec<_>>(), [3, 1]);
    let hits = store.search(q("amélie")).await.unwrap().hits;
    assert_eq!(hits[0].title.as_deref(), Some("Amélie"));
    assert_eq!(hits[0].identity, b.key());
}

/// The hits' seqs in the order the search ranks them.
async fn ranked(store: &Store, text: &str) -> Vec<u64> {
    let results = store.search(q(text)).await.unwrap();
    results.hits.iter().map(|h| h.seq).collect()
}

#[tokio::test]
async fn relevance_counts_the_words_found_in_the_title_then_prefers_the_shorter_title() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut a = Author::new(5, "ranked");
    // Oldest first: newest-indexed order alone would rank them backwards.
    let entries = vec![
        post_with(&mut a, &[("title", "Kubuntu")], &["k.iso"], 1),
        post_with(
            &mut a,
            &[("title", "Kubuntu 24.04 desktop amd64 with extras")],
            &["x.iso"],
            1,
        ),
        post_with(
            &mut a,
            &[("title", "Mirror"), ("description", "kubuntu images")],
            &["m.txt"],
            1,
        ),
        post_with(&mut a, &[("title", "Field notes")], &["kubuntu.iso"], 1),
        post_with(&mut a, &[("title", "Kubuntu ISO")], &["a.txt"], 1),
    ];
    let feed = a.feed.clone();
    store
        .append_verified_entries(&a.key(), &feed, entries)
        .await
        .unwrap();
    // The exact title, the other titles holding the word (shorter first), then matches
    // outside the title, newest-indexed first.
    assert_eq!(ranked(&store, "kubuntu").await, [1, 5, 2, 4, 3]);
    // Two words: both in the title, one (shorter title first), none.
    assert_eq!(ranked(&store, "kubuntu iso").await, [5, 1, 2, 4]);
    // A short word counts as any other: "24" is a whole word of entry 2's title only.
    assert_eq!(ranked(&store, "kubun* 24").await, [2]);
    assert_eq!(ranked(&store, "iso kub*").await, [5, 1, 2, 4]);
    // Newest first ignores the title.
    let mut newest = q("kubuntu");
    newest.order = SearchOrder::Newest;
    let hits = store.search(newest).await.unwrap().hits;
    assert_eq!(
        hits.iter().map(|h| h.seq).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1]
    );
    assert!(hits.iter().all(|h| h.score == 0));
}

#[tokio::test]
async fn a_retracted_entry_leaves_the_index_and_a_dropped_feed_takes_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut a = Author::new(3, "films");
    let first = post_with(
        &mut a,
        &[("title", "Nosferatu 1922")],
        &["nosferatu.mkv"],
        1,
    );
    let second = post_with(&mut a, &[("title", "Metropolis")], &["metropolis.mkv"], 1);
    let feed = a.feed.clone();
    store
        .append_verified_entries(&a.key(), &feed, vec![first, second])
        .await
        .unwrap();
    assert_eq!(found(&store, q("nosfer")).await, [1]);
    let delete = a.entry(Kind::Delete { retracts: 1 }, None, "");
    store
        .append_verified_entries(&a.key(), &feed, vec![delete])
        .await
        .unwrap();
    assert_eq!(found(&store, q("nosfer")).await, Vec::<u64>::new());
    assert_eq!(found(&store, q("1922")).await, Vec::<u64>::new());
    assert_eq!(found(&store, q("mkv")).await, [2]);
    // The FTS rows went with it, not only the row that joins them.
    let conn = rusqlite::Connection::open(dir.path().join("node.sqlite")).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM search_text WHERE search_text MATCH '\"nosfer\"'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
    // Dropping the feed (as unfollowing with delete does) cascades to its FTS rows.
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    conn.execute("DELETE FROM feeds", []).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM search_docs"), 0);
    assert_eq!(count("SELECT count(*) FROM search_exts"), 0);
    let left = "SELECT count(*) FROM search_words WHERE search_words MATCH 'mkv'";
    assert_eq!(count(left), 0);
}

#[tokio::test]
async fn upgrading_a_store_to_the_search_schema_indexes_its_stored_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut a = Author::new(4, "old");
    let entries = vec![
        post_with(
            &mut a,
            &[("title", "Stored before search")],
            &["old.flac"],
            5,
        ),
        post_with(
            &mut a,
            &[("title", "Retracted before search")],
            &["gone.flac"],
            5,
        ),
    ];
    let feed = a.feed.clone();
    store
        .append_verified_entries(&a.key(), &feed, entries)
        .await
        .unwrap();
    let delete = a.entry(Kind::Delete { retracts: 2 }, None, "");
    store
        .append_verified_entries(&a.key(), &feed, vec![delete])
        .await
        .unwrap();
    drop(store);
    // Back to schema 4, as a store written before search (5) and identity extensions (6).
    let conn = rusqlite::Connection::open(dir.path().join("node.sqlite")).unwrap();
    conn.execute_batch(
        "DROP TABLE identity_extensions;
         DROP TABLE search_exts; DROP TABLE search_docs; DROP TABLE search_text;
         DROP TABLE search_words; PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    let store = open(dir.path()).await;
    assert_eq!(found(&store, q("stored before")).await, [1]);
    assert_eq!(found(&store, q("flac")).await, [1]);
}
