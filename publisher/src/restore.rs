//! Restoring a publisher on a new machine without forking its own feeds.
//!
//! A key imported from a backup (`identity import`) may sign feeds that already have
//! entries out in the network. Publishing from an empty data directory would sign seq 1
//! again: a fork of one's own feed, which every follower freezes on. So an import marks
//! the identity as *restore pending* (`feeds/ID/.restore-pending`) and the node's restore
//! (`seeder::node::restore`) fetches the identity record and every feed it lists, verifies
//! them, and installs them here with [`install_feed`] and [`install_identity_record`];
//! only then does it clear the mark. `publish` and `retract` refuse while the mark is there
//! ([`check_synced`]), unless told to start from what the data directory holds.
//!
//! An installed feed is laid out exactly as the publisher writes it (`log`, sealed
//! segments, the tail, `state.json` as the commit point, the signed head), so the next
//! append continues at the network's seq + 1.

use std::fs;
use std::path::PathBuf;

use feeds::layout::lay_out;
use feeds::{FeedName, IdentityKey, Keypair, SignedEntry, SignedHead, SignedIdentityRecord};

use crate::error::{Error, Result};
use crate::feed_writer::{
    FeedState, read_committed, read_state, to_json, update_identity_record, write_log_torrent,
};
use data_dir::{self, DataDir, io, write_atomic};

/// The mark an import leaves until the identity's feeds are synced from the network.
pub const PENDING_MARK: &str = ".restore-pending";

fn mark_path(data: &DataDir, identity: &IdentityKey) -> PathBuf {
    data.identity_dir(identity).join(PENDING_MARK)
}

/// Marks `identity` as imported but not yet synced: publishing is refused until
/// [`clear_pending`].
pub fn mark_pending(data: &DataDir, identity: &IdentityKey) -> Result<()> {
    Ok(write_atomic(
        &mark_path(data, identity),
        b"imported from a backup; the feeds are not synced from the network yet\n",
    )?)
}

/// Whether `identity` waits for a sync.
pub fn is_pending(data: &DataDir, identity: &IdentityKey) -> bool {
    mark_path(data, identity).exists()
}

/// The identity's feeds are synced (or the user chose to start from what is here).
pub fn clear_pending(data: &DataDir, identity: &IdentityKey) -> Result<()> {
    let path = mark_path(data, identity);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", &path, e).into()),
    }
}

/// Whether `identity` may sign now: refused while it waits for `identity sync`, unless
/// `force` (an identity that never published) starts from what the data directory holds.
pub fn check_may_sign(data: &DataDir, identity: &IdentityKey, force: bool) -> Result<()> {
    if force {
        return clear_pending(data, identity);
    }
    check_synced(data, identity)
}

/// Refuses to sign for an identity whose feeds were not synced since it was imported.
pub fn check_synced(data: &DataDir, identity: &IdentityKey) -> Result<()> {
    if is_pending(data, identity) {
        return Err(Error::NotSynced(identity.to_string()));
    }
    Ok(())
}

/// What [`install_feed`] did (`{"state": "written", "seq": 2}` in the node API's answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Installed {
    /// The feed was written from the fetched entries (it was absent or behind here).
    Written { seq: u64 },
    /// The data directory already holds the feed at this seq or later: left alone.
    AlreadyHere { seq: u64 },
}

/// Writes a feed fetched from the network (`entries` 1..=n, already verified as one log
/// ending at `head`) into the data directory as if it had been published here.
///
/// A feed already here at the same seq or later is left alone; one that is behind must be a
/// prefix of the fetched log (else: [`Error::Corrupt`], nothing written).
pub fn install_feed(
    data: &DataDir,
    keypair: &Keypair,
    feed: &FeedName,
    entries: &[SignedEntry],
    head: &SignedHead,
) -> Result<Installed> {
    let identity = keypair.public();
    let dir = data.feed_dir(&identity, feed);
    let seq = entries.len() as u64;
    let consistent = entries.iter().enumerate().all(|(i, e)| {
        e.seq() == i as u64 + 1 && e.entry().author == identity && e.entry().feed == *feed
    });
    let last = entries.last();
    if !consistent
        || head.author() != identity
        || head.head().feed != *feed
        || last.map(|e| (e.seq(), e.hash())) != Some((head.head().seq, head.head().entry_hash))
    {
        return Err(Error::Corrupt {
            path: dir,
            reason: "the fetched entries do not end at the fetched head".into(),
        });
    }

    let identity_dir = data.identity_dir(&identity);
    data_dir::create_dir(&identity_dir)?;
    let lock_path = identity_dir.join(".lock");
    let lock = data_dir::open_append(&lock_path)?;
    lock.lock().map_err(|e| io("lock", &lock_path, e))?;

    if let Some(local) = read_state(&dir)? {
        if local.seq >= seq {
            return Ok(Installed::AlreadyHere { seq: local.seq });
        }
        if local.seq > 0 {
            let (_, here) = read_committed(data, &identity, feed)?;
            let agrees = here
                .last()
                .zip(entries.get(local.seq as usize - 1))
                .is_some_and(|(a, b)| a.hash() == b.hash());
            if !agrees {
                return Err(Error::Corrupt {
                    path: dir,
                    reason: format!(
                        "entry {} here differs from the network's: this data directory forked the feed",
                        local.seq
                    ),
                });
            }
        }
    }

    let (segments, tail) = lay_out(feed, entries)?;
    let tail_hash = tail.info.infohash();
    if tail_hash != head.head().log {
        return Err(Error::Corrupt {
            path: dir,
            reason: "the log laid out here is not the one the head names".into(),
        });
    }
    let mut log = Vec::new();
    for entry in entries {
        log.extend_from_slice(entry.bytes());
    }
    data_dir::create_dir(&dir)?;
    write_atomic(&dir.join("log"), &log)?;
    for segment in &segments {
        let segment_dir = dir.join("segments").join(segment.index.to_string());
        write_log_torrent(&segment_dir, &segment.info, &segment.bytes)?;
    }
    write_log_torrent(
        &dir.join("tails").join(tail_hash.to_string()),
        &tail.info,
        &tail.bytes,
    )?;
    let sealed = segments.len() * feeds::layout::SEGMENT_ENTRIES as usize;
    let tail_offset: usize = entries[..sealed].iter().map(|e| e.bytes().len()).sum();
    let state = FeedState {
        seq,
        hash: last.map(|e| e.hash().to_string()),
        time: last.map_or(0, |e| e.entry().time),
        log_len: log.len() as u64,
        tail_offset: tail_offset as u64,
        segments: segments
            .iter()
            .map(|s| s.info.infohash().to_string())
            .collect(),
        tail: Some(tail_hash.to_string()),
    };
    write_atomic(&dir.join("state.json"), &to_json(&state)?)?;
    write_atomic(&dir.join("head"), &head.encode())?;
    Ok(Installed::Written { seq })
}

/// Keeps the network's identity record when it is newer than the one here (or there is
/// none), so the next record this data directory signs has a higher seq than any the DHT
/// holds; then re-signs it if it does not list every feed held here.
pub fn install_identity_record(
    data: &DataDir,
    keypair: &Keypair,
    record: &SignedIdentityRecord,
) -> Result<SignedIdentityRecord> {
    let identity = keypair.public();
    if record.identity() != identity {
        return Err(Error::Corrupt {
            path: data.identity_dir(&identity),
            reason: "the fetched identity record is another identity's".into(),
        });
    }
    let path = data.identity_dir(&identity).join("identity");
    let here = fs::read(&path)
        .ok()
        .and_then(|b| SignedIdentityRecord::decode(&b).ok());
    if here.is_none_or(|h| h.item().seq() < record.item().seq()) {
        write_atomic(&path, &record.encode())?;
    }
    update_identity_record(data, keypair, None)
}

/// Whether the feed directory holds committed state (used by callers to report).
pub fn local_state(data: &DataDir, identity: &IdentityKey, feed: &FeedName) -> Result<FeedState> {
    Ok(read_state(&data.feed_dir(identity, feed))?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PublishRequest;
    use crate::feed_writer::read_committed;

    fn feed() -> FeedName {
        FeedName::new("main").unwrap()
    }

    /// A data dir with `n` entries published as `alice`; returns it with her keypair.
    fn published(root: &std::path::Path, n: u64) -> (DataDir, Keypair) {
        let data = DataDir::new(root.join("original"));
        data.keystore().generate("alice", true).unwrap();
        let (_, keypair) = data.keystore().resolve(None).unwrap();
        let file = root.join("post.txt");
        fs::write(&file, b"a post").unwrap();
        for i in 0..n {
            let request = PublishRequest {
                path: file.clone(),
                ..PublishRequest::default()
            };
            crate::publish(&data, &request, 1_000 + i, &|_| {}).unwrap();
        }
        (data, keypair)
    }

    fn network_copy(data: &DataDir, keypair: &Keypair) -> (Vec<SignedEntry>, SignedHead) {
        let (_, entries) = read_committed(data, &keypair.public(), &feed()).unwrap();
        let head = fs::read(data.feed_dir(&keypair.public(), &feed()).join("head")).unwrap();
        (entries, SignedHead::decode(&head).unwrap())
    }

    #[test]
    fn an_installed_feed_continues_at_the_next_seq_with_the_same_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let (original, keypair) = published(tmp.path(), 3);
        let (entries, head) = network_copy(&original, &keypair);

        let restored = DataDir::new(tmp.path().join("restored"));
        restored.keystore().insert("alice", &keypair, true).unwrap();
        mark_pending(&restored, &keypair.public()).unwrap();
        assert!(check_synced(&restored, &keypair.public()).is_err());
        let installed = install_feed(&restored, &keypair, &feed(), &entries, &head).unwrap();
        assert_eq!(installed, Installed::Written { seq: 3 });
        clear_pending(&restored, &keypair.public()).unwrap();
        check_synced(&restored, &keypair.public()).unwrap();
        // The same files the publisher wrote: log, state, head, tail.
        let dir = |d: &DataDir| d.feed_dir(&keypair.public(), &feed());
        for name in ["log", "state.json", "head"] {
            assert_eq!(
                fs::read(dir(&restored).join(name)).unwrap(),
                fs::read(dir(&original).join(name)).unwrap(),
                "{name}"
            );
        }
        // Installing again changes nothing.
        assert_eq!(
            install_feed(&restored, &keypair, &feed(), &entries, &head).unwrap(),
            Installed::AlreadyHere { seq: 3 }
        );
        // The next publish continues the feed.
        let file = tmp.path().join("post.txt");
        let request = PublishRequest {
            path: file,
            ..PublishRequest::default()
        };
        let next = crate::publish(&restored, &request, 2_000, &|_| {}).unwrap();
        assert_eq!(next.entry.seq(), 4);
        assert_eq!(next.entry.entry().prev, Some(entries[2].hash()));
    }

    #[test]
    fn a_behind_feed_that_disagrees_or_entries_that_miss_the_head_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (original, keypair) = published(tmp.path(), 3);
        let (entries, head) = network_copy(&original, &keypair);
        // Entries that stop short of the head.
        let restored = DataDir::new(tmp.path().join("restored"));
        assert!(matches!(
            install_feed(&restored, &keypair, &feed(), &entries[..2], &head),
            Err(Error::Corrupt { .. })
        ));
        // A data dir that signed its own seq 1 (a fork): refused, nothing written.
        restored.keystore().insert("alice", &keypair, true).unwrap();
        let file = tmp.path().join("other.txt");
        fs::write(&file, b"another post").unwrap();
        let request = PublishRequest {
            path: file,
            ..PublishRequest::default()
        };
        crate::publish(&restored, &request, 5, &|_| {}).unwrap();
        let state = restored
            .feed_dir(&keypair.public(), &feed())
            .join("state.json");
        let before = fs::read(&state).unwrap();
        let error = install_feed(&restored, &keypair, &feed(), &entries, &head).unwrap_err();
        assert!(error.to_string().contains("forked"), "{error}");
        assert_eq!(fs::read(&state).unwrap(), before);
    }
}
