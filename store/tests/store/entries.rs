//! Schema migrations, entries, forks, heads and pages of the store.

use super::*;

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
        store::hot_queries::PAGE_NEWEST,
        store::hot_queries::PAGE_OLDEST,
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

    let plan = query_plan(store.path(), store::hot_queries::RECENT_FOLLOWED);
    println!("{plan}");
    assert!(
        plan.contains("USING INDEX entries_by_time ((time,feed_id,seq)<(?,?,?))"),
        "{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    let plan = query_plan(store.path(), store::hot_queries::WITH_INFOHASH);
    assert!(
        plan.contains("USING INDEX entries_by_infohash (infohash=?)"),
        "{plan}"
    );
}

#[tokio::test]
async fn a_page_of_entries_holds_at_most_page_bytes_of_them_and_at_least_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut author = Author::new(7, "main");
    // Five entries of 3 MiB titles, then one of 9 MiB: pages are cut at 8 MiB.
    let mut entries: Vec<SignedEntry> = (0..5)
        .map(|i| author.post(&format!("{i}{}", "t".repeat(3 << 20))))
        .collect();
    entries.push(author.post(&"h".repeat(9 << 20)));
    let (key, feed) = (author.key(), author.feed.clone());
    store
        .append_verified_entries(&key, &feed, entries)
        .await
        .unwrap();
    let page = store
        .entries(&key, &feed, EntryPage::newest(50))
        .await
        .unwrap();
    assert_eq!(
        seqs(&page),
        [6],
        "one entry over the budget still comes alone"
    );
    let page = store
        .entries(&key, &feed, EntryPage::before(6, 50))
        .await
        .unwrap();
    assert_eq!(seqs(&page), [5, 4]);
    let page = store
        .entries(&key, &feed, EntryPage::after(0, 50))
        .await
        .unwrap();
    assert_eq!(seqs(&page), [1, 2]);
}

#[tokio::test]
async fn an_identity_extension_is_kept_at_its_highest_seq() {
    use feeds::bencode::Value;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let pair = Keypair::from_seed(&[9; 32]);
    let profile = |seq: i64, name: &str| {
        feeds::extension::sign(&pair, "profile", seq, vec![("name", Value::bytes(name))]).unwrap()
    };
    assert_eq!(
        store.extension(&pair.public(), "profile").await.unwrap(),
        None
    );
    let second = profile(2, "Ada L.");
    let put = |item| {
        let store = store.clone();
        async move { store.put_extension("profile", &item).await.unwrap() }
    };
    assert_eq!(put(second.clone()).await, HeadChange::Newer);
    assert_eq!(put(profile(1, "Ada")).await, HeadChange::Older);
    assert_eq!(put(second.clone()).await, HeadChange::Same);
    assert_eq!(
        store.extension(&pair.public(), "profile").await.unwrap(),
        Some(second.clone())
    );
    let third = profile(3, "Ada Lovelace");
    assert_eq!(put(third.clone()).await, HeadChange::Newer);
    assert_eq!(
        store.extensions(&pair.public()).await.unwrap(),
        vec![("profile".to_owned(), third)]
    );
    assert_eq!(store.extension(&pair.public(), "keys").await.unwrap(), None);
}
