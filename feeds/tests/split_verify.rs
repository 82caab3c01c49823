//! Incremental verification must agree with whole-log verification (issue 18, item 1):
//! a node verifies each update from a checkpoint, so what earlier entries carry to later
//! ones (revocations, the kinds a delete may retract, the log's clock) must travel with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use feeds::delegation::Scope;
use feeds::{Checkpoint, Error, Kind, SignedEntry, VerifiedLog, verify_log};
use proptest::prelude::*;
use support::*;

fn verify(entries: &[SignedEntry], trusted: Option<&Checkpoint>) -> Result<VerifiedLog, Error> {
    let alice = keypair(1);
    verify_log(&alice.public(), &feed("main"), entries.to_vec(), trusted)
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
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (-3i64..20).prop_map(|dt| Step::Post { dt }),
        4 => (0usize..3, -30i64..40).prop_map(|(cert, dt)| Step::Delegated { cert, dt }),
        1 => (0usize..3).prop_map(|cert| Step::Revoke { cert }),
        1 => (1u64..6).prop_map(|back| Step::Delete { back }),
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
