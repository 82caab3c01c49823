//! The batched verifier must give exactly the verdict of the plain in-order one,
//! [`check_log`], including at batch boundaries and for entries that carry state.

use std::collections::BTreeMap;

use super::*;
use crate::delegation::{Certificate, Grantee, Scope};
use crate::entry::{ContentRef, Entry, FileRef};
use crate::identity::Keypair;
use crate::list::ListBook;
use crate::metainfo::InfoHash;

const N: usize = 2 * signatures::BATCH_SIZE + 90;
const T0: u64 = 1_780_000_000;

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32])
}

fn feed() -> FeedName {
    FeedName::new("main").unwrap()
}

fn cert(expires: u64) -> SignedCert {
    Certificate {
        grantor: key(1).public(),
        grantee: Grantee::Key(key(2).public()),
        scopes: vec![Scope::PostAny],
        issued: T0,
        expires,
    }
    .sign(&key(1))
    .unwrap()
}

/// The entry that follows `prev`: a post by alice unless `edit` changes it; signed by the
/// delegated key when it carries certificates.
fn next(prev: Option<&SignedEntry>, index: usize, edit: &dyn Fn(usize, &mut Entry)) -> SignedEntry {
    let seq = prev.map_or(1, |p| p.seq() + 1);
    let mut entry = Entry {
        author: key(1).public(),
        feed: feed(),
        seq,
        prev: prev.map(SignedEntry::hash),
        time: T0 + seq,
        kind: Kind::Post,
        content: Some(ContentRef {
            infohash: InfoHash([seq as u8; 20]),
            name: format!("ep-{seq}"),
            size: 5,
            files: vec![FileRef {
                path: vec![format!("ep-{seq}.ogg")],
                length: 5,
                blake3: [seq as u8; 32],
            }],
        }),
        meta: BTreeMap::new(),
        delegation: Vec::new(),
        member: None,
    };
    edit(index, &mut entry);
    let signer = match (entry.delegation.is_empty(), entry.author == key(3).public()) {
        (false, _) => key(2),
        (true, true) => key(3),
        (true, false) => key(1),
    };
    entry.sign(&signer).unwrap()
}

/// A log of `N` entries with deletes, a revoke and delegated posts spread over the batches,
/// then `edit` applied to entry `index` as it is built (later entries follow the edited one).
fn log_with(edit: impl Fn(usize, &mut Entry)) -> Vec<SignedEntry> {
    let granted = cert(T0 + 10_000);
    let mixed = move |index: usize, entry: &mut Entry| {
        match index {
            // Deletes of posts in earlier batches and of the same batch.
            300 => delete(entry, 10),
            301 => delete(entry, 299),
            560 => delete(entry, 300 + 1 - 1),
            // Delegated posts before and after the revocation.
            200 | 257 | 520 => entry.delegation = vec![granted.clone()],
            _ => {}
        }
        edit(index, entry);
    };
    let mut entries: Vec<SignedEntry> = Vec::new();
    for index in 0..N {
        let entry = next(entries.last(), index, &mixed);
        entries.push(entry);
    }
    entries
}

fn delete(entry: &mut Entry, retracts: u64) {
    entry.kind = Kind::Delete { retracts };
    entry.content = None;
}

fn revoke(entry: &mut Entry) {
    entry.kind = Kind::Revoke {
        cert: cert(T0 + 10_000).hash(),
    };
    entry.content = None;
    entry.delegation.clear();
}

/// What a verdict shows: the error, or the verified log's head and state.
type Summary = std::result::Result<(usize, Option<(u64, EntryHash)>, Vec<u64>, usize), Error>;

fn summary(result: Result<VerifiedLog>) -> Summary {
    result.map(|log| {
        (
            log.entries.len(),
            log.head(),
            log.retracted.into_iter().collect(),
            log.revoked.len(),
        )
    })
}

/// Checks all three verifiers agree on `entries` (from `skip` on) against `trusted`.
fn same_verdict(entries: &[SignedEntry], trusted: Option<&Checkpoint>) -> Summary {
    let (author, feed) = (key(1).public(), feed());
    let entry_ok = signatures::verify_all(entries);
    let plain = summary(check_log(
        &author,
        &feed,
        entries.to_vec(),
        &entry_ok,
        trusted,
        &ListBook::default(),
    ));
    let batched = summary(verify_log(&author, &feed, entries.to_vec(), trusted));
    let raw = entries.iter().map(|e| e.bytes().to_vec()).collect();
    let decoded = summary(decode_and_verify_log(&author, &feed, raw, trusted));
    assert_eq!(batched, plain);
    assert_eq!(decoded, plain);
    plain
}

#[test]
fn a_valid_log_across_batches_verifies_alike() {
    let entries = log_with(|_, _| {});
    let verdict = same_verdict(&entries, None).unwrap();
    assert_eq!(verdict.0, N);
    assert_eq!(verdict.2, vec![10, 299, 300]);
    // Right after a checkpoint; and from the start with a head in the second batch agreeing.
    let trusted = Checkpoint::of_entry(&entries[99]);
    assert!(same_verdict(&entries[100..], Some(&trusted)).is_ok());
    let head = Checkpoint::of_entry(&entries[400]);
    assert!(same_verdict(&entries, Some(&head)).is_ok());
}

#[test]
fn broken_links_at_a_batch_boundary_get_the_same_verdict() {
    let at = signatures::BATCH_SIZE;
    let broken = log_with(|i, e| {
        if i == at {
            e.prev = Some(EntryHash([0; 32]));
        }
    });
    assert_eq!(
        same_verdict(&broken, None),
        Err(Error::BrokenChain { seq: at as u64 + 1 })
    );
    let gap = log_with(|i, e| {
        if i == at {
            e.seq += 1;
        }
    });
    assert!(matches!(
        same_verdict(&gap, None),
        Err(Error::SeqGap { .. })
    ));
    let fork = log_with(|i, e| {
        if i == at {
            e.seq -= 1;
            e.time += 1_000;
        }
    });
    assert!(matches!(same_verdict(&fork, None), Err(Error::Fork(_))));
    let mut repeat = log_with(|_, _| {});
    repeat.insert(at, repeat[at - 1].clone());
    assert!(matches!(
        same_verdict(&repeat, None),
        Err(Error::SeqGap { .. })
    ));
}

#[test]
fn stateful_entries_in_later_batches_get_the_same_verdict() {
    // A revoke in the second batch: the delegated post in the third batch is refused, the
    // one before the revoke is not.
    let revoked = log_with(|i, e| {
        if i == 300 {
            revoke(e);
        }
    });
    assert_eq!(
        same_verdict(&revoked, None),
        Err(Error::Delegation {
            seq: 521,
            reason: "certificate was revoked earlier in the feed"
        })
    );
    // A delete of a delete across batches.
    let bad_delete = log_with(|i, e| {
        if i == 540 {
            delete(e, 301);
        }
    });
    assert_eq!(
        same_verdict(&bad_delete, None),
        Err(Error::BadRetraction {
            seq: 541,
            target: 301
        })
    );
    // An expired certificate in the third batch (structure, checked per batch), and a
    // later broken link: the first failure wins.
    let expired = log_with(|i, e| {
        if i == 520 {
            e.delegation = vec![cert(T0 + 1)];
        }
        if i == 530 {
            e.prev = Some(EntryHash([1; 32]));
        }
    });
    assert!(matches!(
        same_verdict(&expired, None),
        Err(Error::Delegation { seq: 521, .. })
    ));
}

#[test]
fn checkpoints_deep_in_the_log_get_the_same_verdict() {
    let entries = log_with(|_, _| {});
    let other = log_with(|i, e| {
        if i == 400 {
            e.time += 7;
        }
    });
    // A head that disagrees with the entry of its seq in the second batch: a fork.
    let known = Checkpoint::of_entry(&other[400]);
    assert!(matches!(
        same_verdict(&entries, Some(&known)),
        Err(Error::Fork(_))
    ));
    let head_only = Checkpoint {
        entry: None,
        ..known
    };
    assert_eq!(
        same_verdict(&entries, Some(&head_only)),
        Err(Error::ConflictsWithHead { seq: 401 })
    );
    // A log that starts inside the trusted part is a rollback.
    assert!(matches!(
        same_verdict(&entries[100..], Some(&head_only)),
        Err(Error::Rollback { .. })
    ));
    // Past the end of the log: a rollback; not right after the start: a gap or rollback.
    let ahead = Checkpoint::of_entry(&log_with(|_, _| {})[N - 1]);
    assert!(same_verdict(&entries[..N - 5], Some(&ahead)).is_err());
    let before = Checkpoint::of_entry(&entries[50]);
    assert!(matches!(
        same_verdict(&entries[100..], Some(&before)),
        Err(Error::SeqGap { .. })
    ));
}

#[test]
fn bad_signatures_and_foreign_entries_get_the_same_verdict() {
    let mut entries = log_with(|_, _| {});
    let at = signatures::BATCH_SIZE + 3;
    let body = entries[at].signed_message().to_vec();
    let forged = crate::record::seal(&body, &key(1).sign(b"something else"));
    entries[at] = SignedEntry::decode(forged).unwrap();
    assert_eq!(
        same_verdict(&entries, None),
        Err(Error::BadSignature { seq: at as u64 + 1 })
    );
    let foreign = log_with(|i, e| {
        if i == 2 * signatures::BATCH_SIZE {
            e.author = key(3).public();
        }
    });
    assert!(matches!(
        same_verdict(&foreign, None),
        Err(Error::WrongAuthor { .. }) | Err(Error::Delegation { .. })
    ));
}
