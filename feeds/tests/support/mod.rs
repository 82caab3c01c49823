//! Builders for feeds in tests: a keypair per seed byte, entries chained by hand.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use feeds::delegation::{Certificate, Scope, SignedCert};
use feeds::{ContentRef, Entry, FeedName, FileRef, InfoHash, Keypair, Kind, SignedEntry};

pub const T0: u64 = 1_780_000_000;

pub fn keypair(seed: u8) -> Keypair {
    Keypair::from_seed(&[seed; 32])
}

pub fn feed(name: &str) -> FeedName {
    FeedName::new(name).unwrap()
}

pub fn content(n: u64) -> ContentRef {
    ContentRef {
        infohash: InfoHash([n as u8; 20]),
        name: format!("file-{n}.bin"),
        size: n * 10,
        files: vec![FileRef {
            path: vec![format!("file-{n}.bin")],
            length: n * 10,
            blake3: [n as u8; 32],
        }],
    }
}

/// An unsigned post that follows `prev` (or starts the feed).
pub fn post(author: &Keypair, feed_name: &str, prev: Option<&SignedEntry>) -> Entry {
    let seq = prev.map_or(1, |p| p.seq() + 1);
    Entry {
        author: author.public(),
        feed: feed(feed_name),
        seq,
        prev: prev.map(SignedEntry::hash),
        time: T0 + seq,
        kind: Kind::Post,
        content: Some(content(seq)),
        meta: BTreeMap::from([("title".to_string(), format!("Entry {seq}"))]),
        delegation: Vec::new(),
        member: None,
    }
}

/// A valid feed of `n` posts signed by `author`.
pub fn chain(author: &Keypair, feed_name: &str, n: u64) -> Vec<SignedEntry> {
    let mut entries: Vec<SignedEntry> = Vec::new();
    for _ in 0..n {
        let entry = post(author, feed_name, entries.last())
            .sign(author)
            .unwrap();
        entries.push(entry);
    }
    entries
}

/// Appends an entry built from the last one by `edit`, signed by `signer`.
pub fn append(
    entries: &mut Vec<SignedEntry>,
    author: &Keypair,
    signer: &Keypair,
    edit: impl FnOnce(&mut Entry),
) {
    let mut entry = post(author, entries[0].entry().feed.as_str(), entries.last());
    edit(&mut entry);
    entries.push(entry.sign(signer).unwrap());
}

pub fn grant(
    from: &Keypair,
    to: &Keypair,
    scopes: Vec<Scope>,
    issued: u64,
    expires: u64,
) -> SignedCert {
    Certificate {
        grantor: from.public(),
        grantee: feeds::delegation::Grantee::Key(to.public()),
        scopes,
        issued,
        expires,
    }
    .sign(from)
    .unwrap()
}
