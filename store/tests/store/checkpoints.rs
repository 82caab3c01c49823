//! The checkpoint a feed's next update is verified from carries what its entries carry on
//! (issue 18): a revocation stored in one update still holds in the next.

use feeds::delegation::CertHash;
use feeds::{LogState, verify_log};

use super::*;

#[tokio::test]
async fn the_checkpoint_carries_revocations_to_the_next_update() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut author = Author::new(1, "main");
    let (key, feed) = (author.key(), author.feed.clone());
    assert!(store.checkpoint(&key, &feed).await.unwrap().is_none());
    let revoked = CertHash([7; 32]);
    let mut entries = author.posts(2);
    entries.push(author.entry(Kind::Revoke { cert: revoked }, None, "revoke"));
    let log = verify_log(&key, &feed, entries.clone(), None).unwrap();
    store.append_verified_log(&key, &feed, &log).await.unwrap();
    let checkpoint = store.checkpoint(&key, &feed).await.unwrap().unwrap();
    assert_eq!((checkpoint.seq, checkpoint.hash), (3, entries[2].hash()));
    assert_eq!(checkpoint.entry.as_ref(), Some(&entries[2]));
    assert!(checkpoint.state.revoked.contains(&revoked));
    assert_eq!(checkpoint.state, LogState::replay(&entries));

    // The next update, verified from it, adds to the state.
    let more = vec![author.post("after")];
    let next = verify_log(&key, &feed, more.clone(), Some(&checkpoint)).unwrap();
    store.append_verified_log(&key, &feed, &next).await.unwrap();
    let after = store.checkpoint(&key, &feed).await.unwrap().unwrap();
    assert_eq!(after.seq, 4);
    assert!(after.state.revoked.contains(&revoked));
    assert_eq!(after.state.clock, more[0].entry().time);
}

#[tokio::test]
async fn a_store_without_checkpoints_rebuilds_them_from_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let mut author = Author::new(2, "main");
    let (key, feed) = (author.key(), author.feed.clone());
    let mut entries = author.posts(2);
    entries.push(author.entry(
        Kind::Revoke {
            cert: CertHash([9; 32]),
        },
        None,
        "revoke",
    ));
    entries.push(author.entry(Kind::Delete { retracts: 1 }, None, "delete"));
    {
        // Entries stored the old way (no checkpoint), then the store taken back to schema 2,
        // as a node before this change left it.
        let store = Store::open(&path).await.unwrap();
        store
            .append_verified_entries(&key, &feed, entries.clone())
            .await
            .unwrap();
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        // What schemas 3 to 6 added goes (4: the pushed mark on node URLs; 5: search;
        // 6: identity extensions).
        conn.execute_batch(
            "DROP TABLE identity_extensions;
             DROP TABLE search_exts; DROP TABLE search_docs;
             DROP TABLE search_text; DROP TABLE search_words;
             ALTER TABLE feeds DROP COLUMN checkpoint;
             DROP INDEX node_feeds_pushed;
             ALTER TABLE node_feeds DROP COLUMN pushed;",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
    }
    let store = Store::open(&path).await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap() as usize,
        schema::current_version()
    );
    let checkpoint = store.checkpoint(&key, &feed).await.unwrap().unwrap();
    assert_eq!(checkpoint.seq, 4);
    assert_eq!(checkpoint.state, LogState::replay(&entries));
    assert_eq!(
        checkpoint
            .state
            .not_posts
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![3, 4]
    );
}
