//! Disk caps: reservations against per-follow and node caps, oldest first, released space,
//! raised caps, and torrents held before caps existed (schema 1 → 2).

use super::*;
use store::{Admission, CapChange, Caps, Usage};

/// Follows alice/main and bob/main; alice names content 1..=4 (10, 20, 30, 40 bytes, one
/// file each), bob names content 5 and 6 (50, 60 bytes); all stored as followed torrents.
async fn two_follows(store: &Store) -> (Author, Author) {
    let mut alice = Author::new(1, "main");
    let mut bob = Author::new(2, "main");
    store.follow(&alice.key(), Some(&alice.feed)).await.unwrap();
    store.follow(&bob.key(), None).await.unwrap();
    store
        .expand_follow(&bob.key(), std::slice::from_ref(&bob.feed))
        .await
        .unwrap();
    let posts: Vec<_> = (1..=4).map(|n| alice.post_content(content(n))).collect();
    store
        .append_verified_entries(&alice.key(), &alice.feed, posts)
        .await
        .unwrap();
    let posts: Vec<_> = (5..=6).map(|n| bob.post_content(content(n))).collect();
    store
        .append_verified_entries(&bob.key(), &bob.feed, posts)
        .await
        .unwrap();
    for n in 1..=6 {
        store
            .put_torrent(NewTorrent::from_content(&content(n), Origin::Followed))
            .await
            .unwrap();
    }
    (alice, bob)
}

fn ih(n: u8) -> InfoHash {
    InfoHash([n; 20])
}

#[tokio::test]
async fn a_follow_cap_admits_what_fits_oldest_first_and_skips_the_rest_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (alice, _bob) = two_follows(&store).await;
    assert!(
        store
            .set_follow_caps(
                &alice.key(),
                Some(&alice.feed),
                CapChange::Set(45),
                CapChange::Keep
            )
            .await
            .unwrap()
    );
    let none = Caps::default();
    assert_eq!(
        store.reserve(&ih(1), none).await.unwrap(),
        Admission::Reserved
    );
    assert_eq!(
        store.reserve(&ih(2), none).await.unwrap(),
        Admission::Reserved
    );
    // 10 + 20 + 30 > 45: skipped; 40 does not fit either.
    let Admission::OverLimit(reason) = store.reserve(&ih(3), none).await.unwrap() else {
        panic!("30 more bytes fit under a 45-byte cap holding 30");
    };
    assert!(reason.contains("max_bytes 45 bytes"), "{reason}");
    assert!(
        reason.contains("needs 30 bytes, 30 bytes of it used"),
        "{reason}"
    );
    assert!(matches!(
        store.reserve(&ih(4), none).await.unwrap(),
        Admission::OverLimit(_)
    ));
    assert_eq!(
        store.reserve(&ih(1), none).await.unwrap(),
        Admission::AlreadyReserved
    );
    // Bob's follow has no cap.
    assert_eq!(
        store.reserve(&ih(5), none).await.unwrap(),
        Admission::Reserved
    );

    let follows = store.follows().await.unwrap();
    let limits = &follows[0].limits;
    assert_eq!(limits.caps.max_bytes, Some(45));
    assert_eq!(
        limits.used,
        Usage {
            bytes: 30,
            files: 2
        }
    );
    assert_eq!((limits.waiting, limits.waiting_bytes), (2, 70));
    assert!(limits.reason.is_some());
    assert_eq!(
        follows[1].limits.used,
        Usage {
            bytes: 50,
            files: 1
        }
    );
    assert_eq!(
        store.reserved_usage().await.unwrap(),
        Usage {
            bytes: 80,
            files: 3
        }
    );

    // Raising the cap lets the rest in, oldest first: 30 fits under 60, 40 does not.
    store
        .set_follow_caps(
            &alice.key(),
            Some(&alice.feed),
            CapChange::Set(60),
            CapChange::Keep,
        )
        .await
        .unwrap();
    assert_eq!(
        store.admit_waiting(none, 100).await.unwrap(),
        vec![ih(3), ih(6)]
    );
    // Releasing torrent 2 (as a retraction does) leaves 10 + 30 held: 40 more still does not fit.
    let retracted = TorrentState {
        error: Some("retracted by its publisher".into()),
        ..TorrentState::default()
    };
    store.set_torrent_state(&ih(2), retracted).await.unwrap();
    assert!(store.release(&ih(2)).await.unwrap());
    assert!(!store.release(&ih(2)).await.unwrap());
    assert!(store.admit_waiting(none, 100).await.unwrap().is_empty());
    store
        .set_follow_caps(
            &alice.key(),
            Some(&alice.feed),
            CapChange::Remove,
            CapChange::Set(2),
        )
        .await
        .unwrap();
    // No byte cap any more, but two files are already held (1 and 3); the node cap binds too.
    assert!(store.admit_waiting(none, 100).await.unwrap().is_empty());
    store
        .set_follow_caps(
            &alice.key(),
            Some(&alice.feed),
            CapChange::Keep,
            CapChange::Remove,
        )
        .await
        .unwrap();
    // Held: 10 + 30 + 50 + 60 = 150; 4 (40) fits a node cap of 190 exactly, not one of 189.
    let node = |max: u64| Caps {
        max_bytes: Some(max),
        max_files: None,
    };
    assert!(
        store
            .admit_waiting(node(189), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let Admission::OverLimit(reason) = store.reserve(&ih(4), node(189)).await.unwrap() else {
        panic!("over the node cap");
    };
    assert!(
        reason.starts_with("node max_bytes 189 bytes: needs 40 bytes, 150 bytes"),
        "{reason}"
    );
    assert_eq!(
        store.admit_waiting(node(190), 100).await.unwrap(),
        vec![ih(4)]
    );
    assert_eq!(
        store.reserved_usage().await.unwrap(),
        Usage {
            bytes: 190,
            files: 5
        }
    );
}

#[tokio::test]
async fn published_and_failed_torrents_are_never_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    two_follows(&store).await;
    let published = Origin::Published {
        content_root: dir.path().into(),
    };
    store
        .put_torrent(NewTorrent::from_content(&content(7), published))
        .await
        .unwrap();
    let tight = Caps {
        max_bytes: Some(1),
        max_files: Some(1),
    };
    assert_eq!(
        store.reserve(&ih(7), tight).await.unwrap(),
        Admission::Published
    );
    let failed = TorrentState {
        error: Some("retracted by its publisher".into()),
        ..TorrentState::default()
    };
    store.set_torrent_state(&ih(1), failed).await.unwrap();
    assert_eq!(
        store.reserve(&ih(1), Caps::default()).await.unwrap(),
        Admission::Skipped
    );
    assert_eq!(
        store.reserve(&ih(99), Caps::default()).await.unwrap(),
        Admission::Skipped
    );
    assert_eq!(store.reserved_usage().await.unwrap(), Usage::default());
}

#[tokio::test]
async fn torrents_held_before_caps_existed_count_against_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    {
        // A schema-1 store holding a followed torrent, a retracted one and a published one.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        for (n, origin, error) in [
            (1u8, "followed", None),
            (2, "followed", Some("retracted by its publisher")),
            (3, "published", None),
        ] {
            conn.execute(
                "INSERT INTO torrents (infohash, name, total_size, origin, content_root, added_at, error)
                 VALUES (?1, 'x', ?2, ?3, '/x', 0, ?4)",
                rusqlite::params![[n; 20], 1000 * n as u64, origin, error],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO torrent_files (infohash, idx, path, length) VALUES (?1, 0, 'x', 1)",
                rusqlite::params![[n; 20]],
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap() as usize,
        schema::current_version()
    );
    assert_eq!(
        store.reserved_usage().await.unwrap(),
        Usage {
            bytes: 1000,
            files: 1
        }
    );
    assert!(store.is_reserved(&ih(1)).await.unwrap());
    assert!(!store.is_reserved(&ih(2)).await.unwrap());
}

/// A release whose write fails (here a trigger in the database refuses it, as a full disk or
/// an I/O error would) is owed, and the next cap recheck gives the space back: it does not
/// stay counted until the node restarts.
#[tokio::test]
async fn a_failed_release_is_made_by_the_next_cap_recheck() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    two_follows(&store).await;
    let none = Caps::default();
    assert_eq!(
        store.reserve(&ih(2), none).await.unwrap(),
        Admission::Reserved
    );
    let held = Usage {
        bytes: 20,
        files: 1,
    };
    assert_eq!(store.reserved_usage().await.unwrap(), held);
    let retracted = TorrentState {
        error: Some("retracted by its publisher".into()),
        ..TorrentState::default()
    };
    store.set_torrent_state(&ih(2), retracted).await.unwrap();

    let db = rusqlite::Connection::open(dir.path().join("node.sqlite")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse_release BEFORE UPDATE OF reserved ON torrents
         WHEN NEW.reserved = 0 BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
    )
    .unwrap();
    assert!(store.release(&ih(2)).await.is_err());
    assert_eq!(store.reserved_usage().await.unwrap(), held);
    assert_eq!(store.owed_releases(), vec![ih(2)]);
    // While the store keeps failing, the recheck fails too and the release stays owed.
    assert!(store.admit_waiting(none, 100).await.is_err());
    assert_eq!(store.owed_releases(), vec![ih(2)]);

    db.execute_batch("DROP TRIGGER refuse_release").unwrap();
    let admitted = store.admit_waiting(none, 100).await.unwrap();
    assert!(!admitted.contains(&ih(2)), "{admitted:?}");
    assert!(!store.is_reserved(&ih(2)).await.unwrap());
    assert!(store.owed_releases().is_empty());
    // Only what the recheck admitted now counts: torrent 2's 20 bytes are free.
    let now = store.reserved_usage().await.unwrap();
    let expected: u64 = admitted.iter().map(|i| u64::from(i.0[0]) * 10).sum();
    assert_eq!(now.bytes, expected, "{admitted:?}");
}
