//! Incremental verification must agree with whole-log verification (issue 18, item 1):
//! a node verifies each update from a checkpoint, so what earlier entries carry to later
//! ones (revocations, the kinds a delete may retract, the log's clock) must travel with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use feeds::delegation::{Certificate, Grantee, ListRef, Scope};
use feeds::list::{ListBook, ListHistory, ListOp, Subject};
use feeds::{
    Checkpoint, Error, Kind, LogState, Membership, SignedEntry, VerifiedLog, verify_log,
    verify_log_with,
};
use proptest::prelude::*;
use support::*;

fn verify(entries: &[SignedEntry], trusted: Option<&Checkpoint>) -> Result<VerifiedLog, Error> {
    let alice = keypair(1);
    let (_, book) = members_list();
    verify_log_with(
        &alice.public(),
        &feed("main"),
        entries.to_vec(),
        trusted,
        &book,
    )
}

/// Alice's list `members`: entry 1 adds keys 5 and 6, entry 2 removes 5; and a book
/// holding it.
fn members_list() -> (Vec<SignedEntry>, ListBook) {
    let alice = keypair(1);
    let list_entry = |prev: Option<&SignedEntry>, ops: Vec<ListOp>| {
        let mut e = post(&alice, "members", prev);
        e.kind = Kind::List { ops };
        e.content = None;
        e.sign(&alice).unwrap()
    };
    let id = |n: u8| Subject::Identity(keypair(n).public());
    let first = list_entry(None, vec![ListOp::add(id(5)), ListOp::add(id(6))]);
    let second = list_entry(Some(&first), vec![ListOp::remove(id(5))]);
    let entries = vec![first, second];
    let log = verify_log(&alice.public(), &feed("members"), entries.clone(), None).unwrap();
    let mut book = ListBook::default();
    book.insert(members(), ListHistory::of_log(&log));
    (entries, book)
}

fn members() -> ListRef {
    ListRef {
        author: keypair(1).public(),
        feed: feed("members"),
    }
}

/// Verifies `entries[..at]`, then `entries[at..]` from the checkpoint the first part left,
/// as a node keeps it (encoded, without the entry).
fn verify_split(entries: &[SignedEntry], at: usize) -> Result<VerifiedLog, Error> {
    let first = verify(&entries[..at], None)?;
    let kept = first.checkpoint().map(|c| c.encode());
    let checkpoint = kept.map(|bytes| Checkpoint::decode(&bytes).unwrap());
    verify(&entries[at..], checkpoint.as_ref())
}

#[test]
fn a_revocation_holds_across_a_checkpoint() {
    let (alice, app) = (keypair(1), keypair(2));
    let cert = grant(&alice, &app, vec![Scope::PostAny], T0, T0 + 1000);
    let mut entries = Vec::new();
    // 1: a post signed by the delegated key.
    let first = {
        let mut e = post(&alice, "main", None);
        e.delegation = vec![cert.clone()];
        e.sign(&app).unwrap()
    };
    entries.push(first);
    // 2: the identity revokes that certificate.
    append(&mut entries, &alice, &alice, |e| {
        e.kind = Kind::Revoke { cert: cert.hash() };
        e.content = None;
    });
    // 3: a post signed through the revoked certificate, dated before the revocation.
    append(&mut entries, &alice, &app, |e| {
        e.delegation = vec![cert.clone()];
        e.time = T0 + 1;
    });
    let whole = verify(&entries, None).unwrap_err();
    assert_eq!(whole.code(), "bad_delegation");
    let split = verify_split(&entries, 2).map(|_| ()).unwrap_err();
    assert_eq!(split, whole);
}

#[test]
fn a_delete_of_a_revoke_is_refused_across_a_checkpoint() {
    let (alice, app) = (keypair(1), keypair(2));
    let cert = grant(&alice, &app, vec![Scope::PostAny], T0, T0 + 1000);
    let mut entries = chain(&alice, "main", 1);
    append(&mut entries, &alice, &alice, |e| {
        e.kind = Kind::Revoke { cert: cert.hash() };
        e.content = None;
    });
    append(&mut entries, &alice, &alice, |e| {
        e.kind = Kind::Delete { retracts: 2 };
        e.content = None;
    });
    let whole = verify(&entries, None).unwrap_err();
    assert_eq!(whole, Error::BadRetraction { seq: 3, target: 2 });
    assert_eq!(verify_split(&entries, 2).map(|_| ()).unwrap_err(), whole);
}

/// One step of a random log.
#[derive(Clone, Debug)]
enum Step {
    /// A post by the identity key, `dt` seconds after the previous entry (may go back).
    Post { dt: i64 },
    /// A post through certificate `cert` (0..3; 2 is a chain through 0), dated `dt` after
    /// the previous entry.
    Delegated { cert: usize, dt: i64 },
    /// A revoke of certificate `cert`.
    Revoke { cert: usize },
    /// A delete of the entry `back` seqs earlier.
    Delete { back: u64 },
    /// A post by key 5 or 6 through the grant to `members`, citing list entry 1 or 2.
    Granted { signer: u8, cite: usize, dt: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (-3i64..20).prop_map(|dt| Step::Post { dt }),
        4 => (0usize..3, -30i64..40).prop_map(|(cert, dt)| Step::Delegated { cert, dt }),
        1 => (0usize..3).prop_map(|cert| Step::Revoke { cert }),
        1 => (1u64..6).prop_map(|back| Step::Delete { back }),
        3 => (5u8..7, 0usize..2, -5i64..10)
            .prop_map(|(signer, cite, dt)| Step::Granted { signer, cite, dt }),
    ]
}

/// Builds a signed log from steps: certificates 0 (app, to T0+200), 1 (device, to T0+120)
/// and 2 (a sub-grant from app to a third key, to T0+150).
fn build(steps: &[Step]) -> Vec<SignedEntry> {
    let (alice, app, device, sub) = (keypair(1), keypair(2), keypair(3), keypair(4));
    let any = || vec![Scope::PostAny, Scope::Delegate];
    let certs = [
        grant(&alice, &app, any(), T0, T0 + 200),
        grant(&alice, &device, any(), T0, T0 + 120),
        grant(&app, &sub, vec![Scope::PostAny], T0, T0 + 150),
    ];
    let chains = [
        vec![certs[0].clone()],
        vec![certs[1].clone()],
        vec![certs[0].clone(), certs[2].clone()],
    ];
    let signers = [&app, &device, &sub];
    let (list, _) = members_list();
    let to_list = Certificate {
        grantor: alice.public(),
        grantee: Grantee::List(members()),
        scopes: vec![Scope::PostAny],
        issued: T0,
        expires: T0 + 180,
    }
    .sign(&alice)
    .unwrap();
    let listed = [keypair(5), keypair(6)];
    let mut entries: Vec<SignedEntry> = Vec::new();
    for step in steps {
        let mut e = post(&alice, "main", entries.last());
        let previous = entries.last().map_or(T0, |p| p.entry().time);
        let at = |dt: i64| previous.saturating_add_signed(dt);
        let signer = match step {
            Step::Post { dt } => {
                e.time = at(*dt);
                &alice
            }
            Step::Delegated { cert, dt } => {
                e.time = at(*dt);
                e.delegation = chains[*cert].clone();
                signers[*cert]
            }
            Step::Revoke { cert } => {
                e.time = at(1);
                e.kind = Kind::Revoke {
                    cert: certs[*cert].hash(),
                };
                e.content = None;
                &alice
            }
            Step::Granted { signer, cite, dt } => {
                e.time = at(*dt);
                e.delegation = vec![to_list.clone()];
                let key = &listed[usize::from(*signer - 5)];
                e.member = Some(Membership {
                    signer: key.public(),
                    list_seq: list[*cite].seq(),
                    list_hash: list[*cite].hash(),
                });
                key
            }
            Step::Delete { back } => {
                if e.seq <= *back {
                    e.time = at(1);
                    &alice
                } else {
                    e.time = at(1);
                    e.kind = Kind::Delete {
                        retracts: e.seq - back,
                    };
                    e.content = None;
                    &alice
                }
            }
        };
        entries.push(e.sign(signer).unwrap());
    }
    entries
}

/// What a verdict shows: the error, or the last entry and the state carried on.
fn outcome(result: Result<VerifiedLog, Error>) -> Result<Option<Checkpoint>, Error> {
    result.map(|log| log.checkpoint())
}

fn same(a: &Result<Option<Checkpoint>, Error>, b: &Result<Option<Checkpoint>, Error>) -> bool {
    match (a, b) {
        (Err(x), Err(y)) => x == y,
        (Ok(Some(x)), Ok(Some(y))) => x.seq == y.seq && x.hash == y.hash && x.state == y.state,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any split of any log gives the verdict of the whole log, and carries on the same state.
    #[test]
    fn any_split_gives_the_whole_logs_verdict(
        steps in prop::collection::vec(step(), 2..40),
        cut in any::<prop::sample::Index>(),
    ) {
        let entries = build(&steps);
        let at = 1 + cut.index(entries.len() - 1);
        let whole = outcome(verify(&entries, None));
        let split = outcome(verify_split(&entries, at));
        let brief = |r: &Result<Option<Checkpoint>, Error>| {
            r.as_ref().map(|c| c.as_ref().map(|c| (c.seq, c.state.clone()))).map_err(Error::to_string)
        };
        prop_assert!(same(&whole, &split), "split at {}: whole {:?}, split {:?}", at, brief(&whole), brief(&split));
    }
}

#[test]
fn a_checkpoint_keeps_the_list_states_cited() {
    use feeds::delegation::ListRef;
    let alice = keypair(1);
    let entry = chain(&alice, "main", 1).remove(0);
    let mut state = feeds::LogState::replay([&entry]);
    for (n, seq) in [("members", 7u64), ("blocks", 2)] {
        let list = ListRef {
            author: alice.public(),
            feed: feed(n),
        };
        state.cited.insert(list, seq);
    }
    let checkpoint = Checkpoint::with_state(&entry, state.clone());
    let back = Checkpoint::decode(&checkpoint.encode()).unwrap();
    assert_eq!(back.state, state);
    assert_eq!((back.seq, back.hash), (1, entry.hash()));
    // One kept before lists existed has no `cites`, and still decodes.
    let old = format!("d5:clocki{}e4:hash32:", entry.entry().time);
    let mut bytes = old.into_bytes();
    bytes.extend_from_slice(&entry.hash().0);
    bytes.extend_from_slice(b"9:not-postsle7:revokedle3:seqi1ee");
    assert_eq!(
        Checkpoint::decode(&bytes).unwrap().state,
        LogState::replay([&entry])
    );
}
