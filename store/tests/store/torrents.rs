//! Torrents, their file state, and follows with their status and deletion.

use super::*;

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
