//! The test vectors of docs/feed-format.md: every ```vector block there is checked here.
//!
//! `cargo test -p feeds --test vectors -- --ignored --nocapture print_vectors` prints the
//! vector blocks afresh (deterministic: fixed seeds and times) for pasting into the spec.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "vectors/revision_1_1.rs"]
mod revision_1_1;
mod support;

use std::collections::BTreeMap;

use feeds::delegation::{Scope, SignedCert};
use feeds::head::{IdentityRecord, SignedIdentityRecord};
use feeds::layout;
use feeds::{
    Error, FeedHead, FeedName, ForkProof, IdentityKey, Kind, SignedEntry, SignedHead, bencode,
    decode_and_verify_log,
};
use revision_1_1::*;
use support::*;

const SPEC: &str = include_str!("../../docs/feed-format.md");

/// One vector block: ordered `key: value` lines.
struct Vector {
    fields: Vec<(String, String)>,
}

impl Vector {
    fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("vector lacks {key}"))
    }

    fn all(&self, key: &str) -> Vec<Vec<u8>> {
        self.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| hex::decode(v).unwrap())
            .collect()
    }

    fn bytes(&self, key: &str) -> Vec<u8> {
        hex::decode(self.get(key)).unwrap()
    }
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    let mut lines = SPEC.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```vector" {
            let fields = lines
                .by_ref()
                .take_while(|l| l.trim() != "```")
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            out.push(Vector { fields });
        }
    }
    out
}

fn verdict<T>(result: Result<T, Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e.code().into(),
    }
}

fn check(v: &Vector) -> String {
    match v.get("check") {
        "bencode" => verdict(bencode::decode(&v.bytes("hex")).map_err(Error::from)),
        "identity" => {
            let parsed = v.get("id").parse::<IdentityKey>().map_err(Error::from);
            if let Ok(key) = &parsed {
                assert_eq!(
                    hex::encode(key.as_bytes()),
                    v.get("key"),
                    "{}",
                    v.get("name")
                );
            }
            verdict(parsed)
        }
        "entry" => {
            let entry = SignedEntry::decode(v.bytes("hex")).and_then(|e| e.verify().map(|_| e));
            if let Ok(entry) = &entry {
                assert_eq!(entry.hash().to_string(), v.get("hash"), "{}", v.get("name"));
            }
            verdict(entry)
        }
        "log" => {
            let author: IdentityKey = v.get("author").parse().unwrap();
            let feed = FeedName::new(v.get("feed")).unwrap();
            verdict(decode_and_verify_log(&author, &feed, v.all("entry"), None))
        }
        "granted-log" => {
            let author: IdentityKey = v.get("author").parse().unwrap();
            let list_feed = FeedName::new(v.get("list-feed")).unwrap();
            let list_log =
                decode_and_verify_log(&author, &list_feed, v.all("list-entry"), None).unwrap();
            let mut book = feeds::list::ListBook::default();
            let list = feeds::delegation::ListRef {
                author,
                feed: list_feed,
            };
            book.insert(list, feeds::list::ListHistory::of_log(&list_log));
            let feed = FeedName::new(v.get("feed")).unwrap();
            verdict(feeds::decode_and_verify_log_with(
                &author,
                &feed,
                v.all("entry"),
                None,
                &book,
            ))
        }
        "head" => verdict(SignedHead::decode(&v.bytes("hex"))),
        "head-entry" => {
            let head = SignedHead::decode(&v.bytes("head")).unwrap();
            let entry = SignedEntry::decode(v.bytes("entry")).unwrap();
            verdict(head.check_names(&entry))
        }
        "identity-record" => verdict(SignedIdentityRecord::decode(&v.bytes("hex"))),
        "fork-proof" => verdict(ForkProof::decode(&v.bytes("hex"))),
        "extension" => {
            let item = feeds::MutableItem::decode(&v.bytes("hex")).unwrap();
            let known: Vec<&str> = v.get("known").split(',').collect();
            match feeds::extension::read(&item, &known) {
                Ok(feeds::extension::Read::Skipped { .. }) => "skipped".into(),
                other => verdict(other),
            }
        }
        "profile" => {
            let item = feeds::MutableItem::decode(&v.bytes("hex")).unwrap();
            match feeds::extension::read_profile(&item) {
                Ok(None) => "skipped".into(),
                other => verdict(other),
            }
        }
        "identity-extensions" => {
            let record = SignedIdentityRecord::decode(&v.bytes("hex")).unwrap();
            assert_eq!(
                feeds::extension::names(&record).join(","),
                v.get("names"),
                "{}",
                v.get("name")
            );
            "ok".into()
        }
        "tail" => {
            let feed = FeedName::new(v.get("feed")).unwrap();
            let info = layout::log_torrent(layout::tail_name(&feed), &v.bytes("hex"));
            assert_eq!(
                info.infohash().to_string(),
                v.get("infohash"),
                "{}",
                v.get("name")
            );
            verdict(layout::read_tail(&v.bytes("hex")))
        }
        other => panic!("unknown vector check {other}"),
    }
}

#[test]
fn every_vector_in_the_spec_gives_its_verdict() {
    let vectors = vectors();
    assert!(
        vectors.len() >= 15,
        "the spec should hold the vectors, found {}",
        vectors.len()
    );
    for v in &vectors {
        assert_eq!(check(v), v.get("verdict"), "vector {}", v.get("name"));
    }
}

#[test]
#[ignore = "prints the vectors for docs/feed-format.md"]
fn print_vectors() {
    for block in generate() {
        println!("```vector\n{block}```\n");
    }
}

fn block(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

fn generate() -> Vec<String> {
    let alice = keypair(1);
    let app = keypair(2);
    let mallory = keypair(9);
    let id = alice.public().to_string();
    let mut out = Vec::new();

    for (name, input, verdict) in [
        (
            "bencode-canonical",
            &b"d3:cow3:moo4:spaml1:a1:bee"[..],
            "ok",
        ),
        ("bencode-unsorted-keys", b"d1:bi1e1:ai2ee", "non_canonical"),
        ("bencode-duplicate-key", b"d1:ai1e1:ai2ee", "non_canonical"),
        ("bencode-leading-zero", b"i007e", "non_canonical"),
        ("bencode-negative-zero", b"i-0e", "non_canonical"),
        ("bencode-length-past-end", b"10:short", "non_canonical"),
        ("bencode-trailing-bytes", b"i1ei2e", "non_canonical"),
    ] {
        let pairs = [
            ("name", name.into()),
            ("check", "bencode".into()),
            ("hex", hex::encode(input)),
            ("verdict", verdict.into()),
        ];
        out.push(block(&pairs));
    }

    out.push(block(&[
        ("name", "identity-seed-01".into()),
        ("check", "identity".into()),
        ("seed", hex::encode(alice.seed())),
        ("id", id.clone()),
        ("key", hex::encode(alice.public().as_bytes())),
        ("verdict", "ok".into()),
    ]));
    out.push(block(&[
        ("name", "identity-bad-padding".into()),
        ("check", "identity".into()),
        (
            "id",
            format!("{}{}", &id[..51], if id.ends_with('y') { "b" } else { "y" }),
        ),
        ("verdict", "bad_identity".into()),
    ]));

    let mut entries = chain(&alice, "main", 2);
    let entry_block = |name: &str, e: &SignedEntry| {
        block(&[
            ("name", name.into()),
            ("check", "entry".into()),
            ("hex", hex::encode(e.bytes())),
            ("hash", e.hash().to_string()),
            ("verdict", "ok".into()),
        ])
    };
    out.push(entry_block("entry-post-seq-1", &entries[0]));
    out.push(entry_block("entry-post-seq-2", &entries[1]));

    let mut forged = entries[1].bytes().to_vec();
    let last = forged.len() - 2;
    forged[last] ^= 1;
    out.push(block(&[
        ("name", "entry-flipped-signature-bit".into()),
        ("check", "entry".into()),
        ("hex", hex::encode(&forged)),
        ("verdict", "bad_signature".into()),
    ]));

    let log = |name: &str, items: &[Vec<u8>], verdict: &str| {
        let mut pairs = vec![
            ("name", name.to_string()),
            ("check", "log".into()),
            ("author", id.clone()),
            ("feed", "main".into()),
        ];
        pairs.extend(items.iter().map(|e| ("entry", hex::encode(e))));
        pairs.push(("verdict", verdict.into()));
        block(&pairs)
    };
    let raw = |es: &[SignedEntry]| es.iter().map(|e| e.bytes().to_vec()).collect::<Vec<_>>();
    out.push(log("log-valid", &raw(&entries), "ok"));
    out.push(log("log-seq-gap", &raw(&entries[1..]), "seq_gap"));
    out.push(log(
        "log-bad-signature",
        &[entries[0].bytes().to_vec(), forged.clone()],
        "bad_signature",
    ));
    let mut by_mallory = entries.clone();
    append(&mut by_mallory, &mallory, &mallory, |_| {});
    out.push(log("log-wrong-author", &raw(&by_mallory), "wrong_author"));
    let mut broken = entries.clone();
    append(&mut broken, &alice, &alice, |e| {
        e.prev = Some(feeds::EntryHash([0; 32]))
    });
    out.push(log("log-broken-chain", &raw(&broken), "broken_chain"));
    let mut fork = entries.clone();
    append(&mut fork, &alice, &alice, |e| {
        e.seq = 2;
        e.prev = Some(entries[0].hash());
        e.meta = BTreeMap::from([("title".into(), "A different entry 2".into())]);
    });
    out.push(log("log-fork", &raw(&fork), "feed_fork"));
    let proof = ForkProof::new(fork[1].clone(), fork[2].clone()).unwrap();
    out.push(block(&[
        ("name", "fork-proof".into()),
        ("check", "fork-proof".into()),
        ("hex", hex::encode(proof.encode())),
        ("verdict", "ok".into()),
    ]));

    let cert = grant(&alice, &app, vec![Scope::Post(feed("main"))], T0, T0 + 1000);
    append(&mut entries, &alice, &app, |e| {
        e.delegation = vec![cert.clone()]
    });
    out.push(log("log-delegated-post", &raw(&entries), "ok"));
    let mut outside = entries[..2].to_vec();
    let late: SignedCert = grant(&alice, &app, vec![Scope::Post(feed("main"))], T0, T0 + 2);
    append(&mut outside, &alice, &app, |e| e.delegation = vec![late]);
    out.push(log(
        "log-delegation-expired",
        &raw(&outside),
        "bad_delegation",
    ));
    let mut retract = entries.clone();
    append(&mut retract, &alice, &alice, |e| {
        e.kind = Kind::Delete { retracts: 1 };
        e.content = None;
    });
    out.push(log("log-retraction", &raw(&retract), "ok"));
    let mut unknown = entries[0].entry().clone();
    unknown.meta.clear();
    let mut value = bencode::decode(&unknown.encode_body()).unwrap();
    if let bencode::Value::Dict(map) = &mut value {
        map.insert(b"zz-new".to_vec(), bencode::Value::Int(1));
    }
    let body = bencode::encode(&value);
    let sealed = feeds::record::seal(&body, &alice.sign(&body));
    out.push(log(
        "log-unknown-critical-field",
        &[sealed],
        "unknown_critical_field",
    ));

    out.extend(delegation_vectors(&log));

    let (_, tail) = layout::lay_out(&feed("main"), &entries).unwrap();
    out.push(block(&[
        ("name", "tail-of-3-entries".into()),
        ("check", "tail".into()),
        ("feed", "main".into()),
        ("hex", hex::encode(&tail.bytes)),
        ("infohash", tail.info.infohash().to_string()),
        ("verdict", "ok".into()),
    ]));
    let last = entries.last().unwrap();
    let head = FeedHead {
        feed: feed("main"),
        seq: last.seq(),
        entry_hash: last.hash(),
        log: tail.info.infohash(),
        time: last.entry().time,
    }
    .sign(&alice)
    .unwrap();
    out.push(block(&[
        ("name", "head-seq-3".into()),
        ("check", "head".into()),
        ("hex", hex::encode(head.encode())),
        ("verdict", "ok".into()),
    ]));
    let mut bad_head = head.encode();
    let at = bad_head.len() - 3;
    bad_head[at] ^= 1;
    out.push(block(&[
        ("name", "head-tampered-value".into()),
        ("check", "head".into()),
        ("hex", hex::encode(bad_head)),
        ("verdict", "bad_head_signature".into()),
    ]));
    out.extend(settled_vectors(&entries, &head));
    let record = IdentityRecord {
        feeds: vec![feed("main"), feed("photos")],
        name: Some("Alice".into()),
        nodes: Vec::new(),
    }
    .sign(&alice, 1)
    .unwrap();
    out.push(block(&[
        ("name", "identity-record".into()),
        ("check", "identity-record".into()),
        ("hex", hex::encode(record.encode())),
        ("verdict", "ok".into()),
    ]));
    out.extend(writers_vectors(&log));
    out.extend(extension_vectors());
    out.extend(list_vectors(&log));
    out.extend(granted_vectors());
    out.push(cofactored_only(&entries[0]));
    out
}
