//! What a grant to a live list costs a verifier (issue 18): one 100,000-entry feed whose
//! posts are signed by a member of a list the identity granted posting to, each citing the
//! list entry it relied on, next to the same posts signed by the identity key, same run.
//!
//! Times `decode_and_verify_log_with` (decode and full verification, the list's history
//! given) of each feed, alternating, median of several runs, and prints the ratio. The list
//! holds 1,000 members. Run with `cargo bench -p feeds --bench verify_granted`;
//! `VERIFY_LOG_ENTRIES` and `VERIFY_LOG_RUNS` override the feed size and the runs.

mod harness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use feeds::delegation::{Certificate, Grantee, ListRef, Scope};
use feeds::list::{ListBook, ListHistory, ListOp, Subject};
use feeds::{
    ContentRef, Entry, FeedName, FileRef, InfoHash, Keypair, Kind, Membership, SignedEntry,
    decode_and_verify_log_with, verify_log,
};
use harness::{T0, env_or, median};

fn main() {
    let n = env_or("VERIFY_LOG_ENTRIES", 100_000);
    let runs = env_or("VERIFY_LOG_RUNS", 5);
    let alice = Keypair::from_seed(&[7; 32]);
    let bob = Keypair::from_seed(&[8; 32]);
    let feed = name("bench");
    let members = name("members");

    // The list: 1,000 members, bob among them, in one entry.
    let mut ops: Vec<ListOp> = (0..999u32)
        .map(|i| {
            let mut seed = [9u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            ListOp::add(Subject::Identity(Keypair::from_seed(&seed).public()))
        })
        .collect();
    ops.push(ListOp::add(Subject::Identity(bob.public())));
    let list_entry = entry(&alice, &members, 1, None, T0, Kind::List { ops });
    let list_entry = list_entry
        .sign(&alice)
        .unwrap_or_else(|e| panic!("list: {e}"));
    let list_log = verify_log(&alice.public(), &members, vec![list_entry.clone()], None)
        .unwrap_or_else(|e| panic!("list: {e}"));
    let list = ListRef {
        author: alice.public(),
        feed: members.clone(),
    };
    let mut book = ListBook::default();
    book.insert(list.clone(), ListHistory::of_log(&list_log));
    let grant = Certificate {
        grantor: alice.public(),
        grantee: Grantee::List(list),
        scopes: vec![Scope::Post(feed.clone())],
        issued: T0,
        expires: T0 + 10 * n as u64,
    }
    .sign(&alice)
    .unwrap_or_else(|e| panic!("grant: {e}"));
    let member = Membership {
        signer: bob.public(),
        list_seq: 1,
        list_hash: list_entry.hash(),
    };

    let started = Instant::now();
    let build = |granted: bool| {
        let mut entries: Vec<SignedEntry> = Vec::with_capacity(n);
        for seq in 1..=n as u64 {
            let mut e = entry(&alice, &feed, seq, entries.last(), T0 + seq, Kind::Post);
            e.content = Some(content(seq));
            let signer = if granted {
                e.delegation = vec![grant.clone()];
                e.member = Some(member.clone());
                &bob
            } else {
                &alice
            };
            entries.push(e.sign(signer).unwrap_or_else(|e| panic!("entry: {e}")));
        }
        entries
            .into_iter()
            .map(SignedEntry::into_bytes)
            .collect::<Vec<_>>()
    };
    let (own, granted) = (build(false), build(true));
    let size = |raw: &[Vec<u8>]| raw.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
    println!(
        "verify_granted: {n} entries each, built in {:.2?}; {:.0} bytes an entry signed by the \
         identity, {:.0} through the list grant; {} threads, median of {runs} runs",
        started.elapsed(),
        size(&own),
        size(&granted),
        rayon::current_num_threads(),
    );

    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..runs.max(1) {
        for (i, raw) in [&own, &granted].into_iter().enumerate() {
            let raw = raw.clone();
            let start = Instant::now();
            let log = decode_and_verify_log_with(&alice.public(), &feed, raw, None, &book);
            times[i].push(start.elapsed());
            assert!(
                log.is_ok_and(|l| l.entries.len() == n),
                "feed {i} must verify"
            );
        }
    }
    let [own_time, granted_time] = times.map(median);
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "signed by the identity key       {own_time:>9.2?}  {:>9.0} entries/s",
        rate(own_time)
    );
    println!(
        "signed through a live list grant {granted_time:>9.2?}  {:>9.0} entries/s",
        rate(granted_time)
    );
    println!(
        "list-granted / identity-signed time: {:.2}x",
        granted_time.as_secs_f64() / own_time.as_secs_f64()
    );
}

fn entry(
    author: &Keypair,
    feed: &FeedName,
    seq: u64,
    prev: Option<&SignedEntry>,
    time: u64,
    kind: Kind,
) -> Entry {
    Entry {
        author: author.public(),
        feed: feed.clone(),
        seq,
        prev: prev.map(SignedEntry::hash),
        time,
        kind,
        content: None,
        meta: BTreeMap::from([("title".to_owned(), format!("Entry {seq}"))]),
        delegation: Vec::new(),
        member: None,
    }
}

fn content(seq: u64) -> ContentRef {
    ContentRef {
        infohash: InfoHash([seq as u8; 20]),
        name: format!("ep-{seq}"),
        size: 1_000,
        files: vec![FileRef {
            path: vec![format!("ep-{seq}.ogg")],
            length: 1_000,
            blake3: [seq as u8; 32],
        }],
    }
}

fn name(s: &str) -> FeedName {
    FeedName::new(s).unwrap_or_else(|e| panic!("feed name: {e}"))
}
