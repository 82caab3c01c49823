//! The session store against real SQLite files in temporary directories.

#![allow(clippy::unwrap_used)]

use super::*;

fn hash(n: u8) -> Id20 {
    Id20::new([n; 20])
}

async fn bits_of(store: &SessionStore, n: u8) -> Option<Vec<u8>> {
    store
        .load(TorrentIdOrHash::Hash(hash(n)))
        .await
        .unwrap()
        .map(|b| b.as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_from_an_older_snapshot_never_overwrites_a_newer_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = tokio::task::block_in_place(|| SessionStore::open(dir.path())).unwrap();
    store.save_bitfield(hash(1), vec![0xff]).await.unwrap();
    let mut stale = store.load(hash(1).into()).await.unwrap().unwrap();
    // Re-checked meanwhile (a new generation): the stale copy's flush is dropped.
    store
        .store_initial_check(hash(1).into(), BF::from_boxed_slice(vec![0x80].into()))
        .await
        .unwrap();
    stale.as_slice_mut().set(7, true);
    stale.flush(false).unwrap();
    store.sync().await.unwrap();
    assert_eq!(bits_of(&store, 1).await, Some(vec![0x80]));

    // Cleared (a failed spot-check): a flush, or the drop of the old copy, restores nothing.
    let mut current = store.load(hash(1).into()).await.unwrap().unwrap();
    store.clear(hash(1).into()).await.unwrap();
    current.as_slice_mut().set(1, true);
    drop(current);
    store.sync().await.unwrap();
    assert_eq!(bits_of(&store, 1).await, None);

    // The current copy's flushes land, the newest one last.
    store.save_bitfield(hash(2), vec![0x00]).await.unwrap();
    let mut live = store.load(hash(2).into()).await.unwrap().unwrap();
    for bit in 0..3 {
        live.as_slice_mut().set(bit, true);
        live.flush(true).unwrap();
    }
    store.sync().await.unwrap();
    assert_eq!(bits_of(&store, 2).await, Some(vec![0xe0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_torrents_come_back_in_order_with_what_was_stored_and_ids_continue() {
    let dir = tempfile::tempdir().unwrap();
    let store = tokio::task::block_in_place(|| SessionStore::open(dir.path())).unwrap();
    for n in 0..600u16 {
        let row = TorrentRow {
            info_hash: [
                (n % 251) as u8,
                (n / 251) as u8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
            ],
            torrent: vec![b'd', b'e'],
            trackers: r#"["http://127.0.0.1:1/announce"]"#.into(),
            output_folder: format!("/data/{n}"),
            only_files: (n == 5).then(|| "[0,2]".into()),
            paused: n == 7,
        };
        store
            .db
            .call(move |c| Ok(row.write(c, i64::from(n))?))
            .await
            .unwrap();
    }
    store.delete(3).await.unwrap();
    assert!(store.delete(3).await.is_err(), "deleting twice is an error");
    drop(store);

    let store = tokio::task::block_in_place(|| SessionStore::open(dir.path())).unwrap();
    assert_eq!(store.next_id().await.unwrap(), 600);
    let all: Vec<_> = store.stream_all().await.unwrap().collect().await;
    let all: Vec<_> = all.into_iter().map(Result::unwrap).collect();
    assert_eq!(all.len(), 599);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    let (_, five) = all.iter().find(|(id, _)| *id == 5).unwrap();
    assert_eq!(five.only_files(), Some(&[0, 2][..]));
    assert_eq!(five.output_folder(), &PathBuf::from("/data/5"));
    assert_eq!(five.torrent_bytes().as_ref(), b"de");
    assert!(five.trackers().contains("http://127.0.0.1:1/announce"));
    assert!(all.iter().find(|(id, _)| *id == 7).unwrap().1.is_paused());
    assert!(!five.is_paused());
}

#[test]
fn a_broken_json_session_is_a_clear_error_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("session.json"), b"{not json").unwrap();
    let err = SessionStore::open(dir.path()).unwrap_err();
    assert!(
        format!("{err:#}").contains("is not librqbit's session JSON"),
        "{err:#}"
    );
    // Nothing half-done: the next try sees the same file again.
    assert!(dir.path().join("session.json").exists());
}
