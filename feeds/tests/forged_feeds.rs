//! The forged-feed suite: every way a feed can be wrong is rejected with the right reason.

mod support;

use feeds::delegation::Scope;
use feeds::{Checkpoint, Error, ForkProof, Kind, SignedEntry, decode_and_verify_log, verify_log};
use proptest::prelude::*;
use support::*;

fn raw(entries: &[SignedEntry]) -> Vec<Vec<u8>> {
    entries.iter().map(|e| e.bytes().to_vec()).collect()
}

fn verify(entries: &[SignedEntry]) -> Result<feeds::VerifiedLog, Error> {
    let author = entries[0].entry().author;
    let feed = entries[0].entry().feed.clone();
    verify_log(&author, &feed, entries.to_vec(), None)
}

#[test]
fn a_valid_feed_verifies() {
    let alice = keypair(1);
    let entries = chain(&alice, "main", 50);
    let log = decode_and_verify_log(&alice.public(), &feed("main"), raw(&entries), None).unwrap();
    assert_eq!(log.entries.len(), 50);
    assert_eq!(log.head(), Some((50, entries[49].hash())));
}

#[test]
fn a_bad_signature_is_rejected() {
    let alice = keypair(1);
    let mut entries = chain(&alice, "main", 5);
    // Same body, signature from another key.
    let mallory = keypair(9);
    let body = entries[3].signed_message().to_vec();
    let forged = feeds::record::seal(&body, &mallory.sign(&body));
    entries[3] = SignedEntry::decode(forged).unwrap();
    assert_eq!(
        verify(&entries).unwrap_err(),
        Error::BadSignature { seq: 4 }
    );
}

#[test]
fn an_entry_by_another_key_is_rejected() {
    let (alice, mallory) = (keypair(1), keypair(9));
    let mut entries = chain(&alice, "main", 3);
    append(&mut entries, &mallory, &mallory, |_| {});
    let err = verify_log(&alice.public(), &feed("main"), entries, None).unwrap_err();
    assert_eq!(
        err,
        Error::WrongAuthor {
            seq: 4,
            expected: alice.public().to_string(),
            found: mallory.public().to_string()
        }
    );
}

#[test]
fn an_entry_of_another_feed_is_rejected() {
    let alice = keypair(1);
    let mut entries = chain(&alice, "main", 3);
    append(&mut entries, &alice, &alice, |e| e.feed = feed("other"));
    assert!(matches!(
        verify(&entries).unwrap_err(),
        Error::WrongFeed { seq: 4, .. }
    ));
}

#[test]
fn a_broken_hash_chain_is_rejected() {
    let alice = keypair(1);
    let mut entries = chain(&alice, "main", 3);
    append(&mut entries, &alice, &alice, |e| {
        e.prev = Some(feeds::EntryHash([0; 32]))
    });
    assert_eq!(verify(&entries).unwrap_err(), Error::BrokenChain { seq: 4 });
}

#[test]
fn a_seq_gap_is_rejected() {
    let alice = keypair(1);
    let mut entries = chain(&alice, "main", 5);
    entries.remove(2);
    assert_eq!(
        verify(&entries).unwrap_err(),
        Error::SeqGap {
            expected: 3,
            found: 4
        }
    );
    let tail = entries[2..].to_vec();
    assert_eq!(
        verify(&tail).unwrap_err(),
        Error::SeqGap {
            expected: 1,
            found: 4
        }
    );
}

#[test]
fn a_rollback_below_the_trusted_head_is_rejected() {
    let alice = keypair(1);
    let entries = chain(&alice, "main", 10);
    let trusted = Checkpoint::of_entry(&entries[9]);
    let err = verify_log(
        &alice.public(),
        &feed("main"),
        entries[..7].to_vec(),
        Some(&trusted),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::Rollback {
            trusted: 10,
            found: 7
        }
    );
    // The same log up to the trusted head, and beyond it, verifies.
    assert!(
        verify_log(
            &alice.public(),
            &feed("main"),
            entries.clone(),
            Some(&trusted)
        )
        .is_ok()
    );
    let earlier = Checkpoint::of_entry(&entries[4]);
    let rest = entries[5..].to_vec();
    let log = verify_log(&alice.public(), &feed("main"), rest, Some(&earlier)).unwrap();
    assert_eq!(log.entries.len(), 5);
}

#[test]
fn a_fork_is_rejected_with_a_proof_that_stands_alone() {
    let alice = keypair(1);
    let entries = chain(&alice, "main", 6);
    let mut other = entries[..4].to_vec();
    append(&mut other, &alice, &alice, |e| {
        e.meta.insert("title".into(), "Another story".into());
    });
    // Inside one log: two different entries with seq 5.
    let mut forked = entries[..5].to_vec();
    forked.push(other[4].clone());
    let Error::Fork(proof) = verify(&forked).unwrap_err() else {
        panic!("expected a fork")
    };
    assert_eq!(proof.seq(), 5);
    let decoded = ForkProof::decode(&proof.encode()).unwrap();
    assert_eq!(decoded, *proof);
    assert_eq!(decoded.author(), alice.public());
    // Against a trusted checkpoint holding the other entry.
    let trusted = Checkpoint::of_entry(&other[4]);
    let Error::Fork(proof) = verify_log(
        &alice.public(),
        &feed("main"),
        entries.clone(),
        Some(&trusted),
    )
    .unwrap_err() else {
        panic!("expected a fork")
    };
    assert_eq!(proof.seq(), 5);
    // Against a head only (no entry): a conflict, without a proof.
    let head_only = Checkpoint {
        entry: None,
        ..trusted
    };
    let err = verify_log(&alice.public(), &feed("main"), entries, Some(&head_only)).unwrap_err();
    assert_eq!(err, Error::ConflictsWithHead { seq: 5 });
    // A "fork" of identical entries, or entries of different seqs, is no proof.
    assert!(ForkProof::new(other[4].clone(), other[4].clone()).is_err());
    assert!(ForkProof::new(other[3].clone(), other[4].clone()).is_err());
}

#[test]
fn non_canonical_bytes_are_rejected_not_reencoded() {
    let alice = keypair(1);
    let entries = chain(&alice, "main", 2);
    let mut bytes = raw(&entries);
    // Swap the body/sig keys' order: same content, non-canonical encoding.
    let (body, sig) = feeds::record::open(&bytes[1], "entry", 1 << 20).unwrap();
    let mut swapped = b"d3:sig64:".to_vec();
    swapped.extend_from_slice(&sig.to_bytes());
    swapped.extend_from_slice(format!("4:body{}:", body.len()).as_bytes());
    swapped.extend_from_slice(body);
    swapped.push(b'e');
    bytes[1] = swapped;
    let err =
        decode_and_verify_log(&alice.public(), &feed("main"), bytes.clone(), None).unwrap_err();
    let Error::InvalidEntry { index: 1, source } = err else {
        panic!("{err:?}")
    };
    assert!(matches!(
        *source,
        Error::Bencode(feeds::bencode::DecodeError::UnsortedKeys(_))
    ));
    // A leading zero in a length.
    bytes[1] = entries[1].bytes().to_vec();
    let at = bytes[1].windows(7).position(|w| w == b"3:sig64").unwrap();
    bytes[1].splice(at..at + 1, b"03".iter().copied());
    let err = decode_and_verify_log(&alice.public(), &feed("main"), bytes, None).unwrap_err();
    assert!(matches!(err, Error::InvalidEntry { index: 1, .. }));
}

#[test]
fn unknown_critical_fields_are_rejected_and_extensions_pass() {
    let alice = keypair(1);
    let entry = post(&alice, "main", None);
    let body = entry.encode_body();
    for (field, critical) in [("zzz", true), ("x-note", false)] {
        let mut value = feeds::bencode::decode(&body).unwrap();
        let feeds::bencode::Value::Dict(map) = &mut value else {
            unreachable!()
        };
        map.insert(field.as_bytes().to_vec(), feeds::bencode::Value::Int(1));
        let body = feeds::bencode::encode(&value);
        let sealed = feeds::record::seal(&body, &alice.sign(&body));
        let result = SignedEntry::decode(sealed);
        if critical {
            assert_eq!(
                result.unwrap_err(),
                Error::UnknownCriticalField {
                    record: "entry",
                    field: field.into()
                }
            );
        } else {
            result.unwrap().verify().unwrap();
        }
    }
}

#[test]
fn oversized_entries_are_rejected() {
    let alice = keypair(1);
    let mut entry = post(&alice, "main", None);
    entry
        .meta
        .insert("blob".into(), "x".repeat(feeds::entry::MAX_ENTRY_BYTES));
    assert!(matches!(
        entry.sign(&alice).unwrap_err(),
        Error::TooLarge { what: "entry", .. }
    ));
}

#[test]
fn retractions_must_name_an_earlier_post() {
    let alice = keypair(1);
    let mut entries = chain(&alice, "main", 3);
    append(&mut entries, &alice, &alice, |e| {
        e.kind = Kind::Delete { retracts: 2 };
        e.content = None;
    });
    let log = verify(&entries).unwrap();
    assert!(log.retracted.contains(&2));
    append(&mut entries, &alice, &alice, |e| {
        e.kind = Kind::Delete { retracts: 4 };
        e.content = None;
    });
    assert_eq!(
        verify(&entries).unwrap_err(),
        Error::BadRetraction { seq: 5, target: 4 }
    );
}

#[test]
fn delegated_keys_post_only_within_scope_and_time() {
    let (alice, app) = (keypair(1), keypair(2));
    let cert = grant(&alice, &app, vec![Scope::Post(feed("main"))], T0, T0 + 100);
    let mut entries = chain(&alice, "main", 2);
    append(&mut entries, &alice, &app, |e| {
        e.delegation = vec![cert.clone()]
    });
    assert!(verify(&entries).is_ok());

    let mut late = entries.clone();
    append(&mut late, &alice, &app, |e| {
        e.delegation = vec![cert.clone()];
        e.time = T0 + 100;
    });
    assert!(matches!(
        verify(&late).unwrap_err(),
        Error::Delegation { seq: 4, .. }
    ));

    let mut elsewhere = chain(&alice, "other", 1);
    append(&mut elsewhere, &alice, &app, |e| {
        e.delegation = vec![cert.clone()]
    });
    assert!(matches!(
        verify(&elsewhere).unwrap_err(),
        Error::Delegation { seq: 2, .. }
    ));

    // A certificate granted by someone else than the author does not count.
    let mallory = keypair(9);
    let foreign = grant(&mallory, &app, vec![Scope::PostAny], T0, T0 + 100);
    let mut forged = chain(&alice, "main", 1);
    append(&mut forged, &alice, &app, |e| e.delegation = vec![foreign]);
    assert!(matches!(
        verify(&forged).unwrap_err(),
        Error::Delegation { seq: 2, .. }
    ));
}

#[test]
fn a_revoked_certificate_signs_nothing_after_its_revocation() {
    let (alice, app) = (keypair(1), keypair(2));
    let cert = grant(&alice, &app, vec![Scope::PostAny], T0, T0 + 1000);
    let mut entries = chain(&alice, "main", 1);
    append(&mut entries, &alice, &app, |e| {
        e.delegation = vec![cert.clone()]
    });
    append(&mut entries, &alice, &alice, |e| {
        e.kind = Kind::Revoke { cert: cert.hash() };
        e.content = None;
    });
    let log = verify(&entries).unwrap();
    assert!(log.revoked.contains(&cert.hash()));
    append(&mut entries, &alice, &app, |e| {
        e.delegation = vec![cert.clone()]
    });
    assert!(matches!(
        verify(&entries).unwrap_err(),
        Error::Delegation { seq: 4, .. }
    ));
    // Only the identity key may revoke.
    let mut by_app = chain(&alice, "main", 1);
    let revoke_by_app = {
        let mut e = post(&alice, "main", by_app.last());
        e.kind = Kind::Revoke { cert: cert.hash() };
        e.content = None;
        e.delegation = vec![cert.clone()];
        e.sign(&app).unwrap()
    };
    by_app.push(revoke_by_app);
    assert!(matches!(
        verify(&by_app).unwrap_err(),
        Error::Delegation { seq: 2, .. }
    ));
}

#[test]
fn a_forged_certificate_signature_is_rejected() {
    let (alice, app) = (keypair(1), keypair(2));
    let cert = grant(&alice, &app, vec![Scope::PostAny], T0, T0 + 1000);
    let body = cert.signed_message().to_vec();
    let forged = feeds::record::seal(&body, &app.sign(&body));
    let forged = feeds::delegation::SignedCert::decode(&forged).unwrap();
    let mut entries = chain(&alice, "main", 1);
    append(&mut entries, &alice, &app, |e| e.delegation = vec![forged]);
    let err = verify(&entries).unwrap_err();
    assert!(matches!(err, Error::Delegation { seq: 2, reason } if reason.contains("signature")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_bit_change_to_a_signed_entry_is_rejected(bit in 0usize..100_000) {
        let alice = keypair(1);
        let entries = chain(&alice, "main", 2);
        let mut bytes = raw(&entries);
        let bit = bit % (bytes[1].len() * 8);
        bytes[1][bit / 8] ^= 1 << (bit % 8);
        let result = decode_and_verify_log(&alice.public(), &feed("main"), bytes, None);
        prop_assert!(result.is_err(), "bit {} flipped and still accepted", bit);
    }
}
