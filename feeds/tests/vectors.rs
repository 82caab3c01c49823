//! The test vectors of docs/feed-format.md: every ```vector block there is checked here.
//!
//! `cargo test -p feeds --test vectors -- --ignored --nocapture print_vectors` prints the
//! vector blocks afresh (deterministic: fixed seeds and times) for pasting into the spec.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use feeds::delegation::{Scope, SignedCert};
use feeds::head::{IdentityRecord, SignedIdentityRecord};
use feeds::layout;
use feeds::{
    Error, FeedHead, FeedName, ForkProof, IdentityKey, Kind, SignedEntry, SignedHead, bencode,
    decode_and_verify_log,
};
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
        "head" => verdict(SignedHead::decode(&v.bytes("hex"))),
        "head-entry" => {
            let head = SignedHead::decode(&v.bytes("head")).unwrap();
            let entry = SignedEntry::decode(v.bytes("entry")).unwrap();
            verdict(head.check_names(&entry))
        }
        "identity-record" => verdict(SignedIdentityRecord::decode(&v.bytes("hex"))),
        "fork-proof" => verdict(ForkProof::decode(&v.bytes("hex"))),
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
    out
}

/// Revision 1.1 (issue 18): time a delegate cannot choose, and who may revoke.
/// Writes a `log` vector block: name, raw entries, verdict.
type LogBlock<'a> = &'a dyn Fn(&str, &[Vec<u8>], &str) -> String;

fn delegation_vectors(log: LogBlock<'_>) -> Vec<String> {
    let (alice, app, sub) = (keypair(1), keypair(2), keypair(3));
    let raw = |es: &[SignedEntry]| es.iter().map(|e| e.bytes().to_vec()).collect::<Vec<_>>();
    let mut out = Vec::new();
    let cert = grant(&alice, &app, vec![Scope::Post(feed("main"))], T0, T0 + 1000);

    // A delegated entry dated before an identity-signed one that precedes it.
    let mut backdated = chain(&alice, "main", 2);
    append(&mut backdated, &alice, &app, |e| {
        e.delegation = vec![cert.clone()];
        e.time = T0 + 1;
    });
    out.push(log(
        "log-delegated-backdated",
        &raw(&backdated),
        "bad_delegation",
    ));

    // Issue 18's case: a delegated post, its certificate revoked, then a post through it
    // dated before the revocation.
    let mut first = support::post(&alice, "main", None);
    first.delegation = vec![cert.clone()];
    let mut revoked = vec![first.sign(&app).unwrap()];
    append(&mut revoked, &alice, &alice, |e| {
        e.kind = Kind::Revoke { cert: cert.hash() };
        e.content = None;
    });
    append(&mut revoked, &alice, &app, |e| {
        e.delegation = vec![cert.clone()];
        e.time = T0 + 1;
    });
    out.push(log(
        "log-revoked-then-backdated",
        &raw(&revoked),
        "bad_delegation",
    ));

    // A revoke signed through a certificate: only the identity key revokes.
    let mut by_app = chain(&alice, "main", 1);
    append(&mut by_app, &alice, &app, |e| {
        e.kind = Kind::Revoke { cert: cert.hash() };
        e.content = None;
        e.delegation = vec![cert.clone()];
    });
    out.push(log(
        "log-revoke-through-certificate",
        &raw(&by_app),
        "bad_delegation",
    ));

    // The identity revokes a certificate deeper in a chain (app's grant to sub).
    let top = grant(
        &alice,
        &app,
        vec![Scope::PostAny, Scope::Delegate],
        T0,
        T0 + 1000,
    );
    let deeper = grant(&app, &sub, vec![Scope::Post(feed("main"))], T0, T0 + 1000);
    let mut deep = chain(&alice, "main", 1);
    append(&mut deep, &alice, &sub, |e| {
        e.delegation = vec![top.clone(), deeper.clone()]
    });
    append(&mut deep, &alice, &alice, |e| {
        e.kind = Kind::Revoke {
            cert: deeper.hash(),
        };
        e.content = None;
    });
    out.push(log("log-revoke-deeper-certificate", &raw(&deep), "ok"));
    append(&mut deep, &alice, &sub, |e| {
        e.delegation = vec![top.clone(), deeper.clone()]
    });
    out.push(log(
        "log-revoked-deeper-certificate-signs",
        &raw(&deep),
        "bad_delegation",
    ));
    out
}

/// An entry body's fields, for editing by hand.
type Body = BTreeMap<Vec<u8>, bencode::Value>;

/// Revision 1.1 (issue 18, item 7): guesses an independent implementer had to make.
fn settled_vectors(entries: &[SignedEntry], head: &SignedHead) -> Vec<String> {
    let alice = keypair(1);
    let mut out = Vec::new();
    // An entry body edited by hand, then signed by alice.
    let edited = |name: &str, edit: &dyn Fn(&mut Body), verdict: &str| {
        let mut value = bencode::decode(entries[0].signed_message()).unwrap();
        if let bencode::Value::Dict(map) = &mut value {
            edit(map);
        }
        let body = bencode::encode(&value);
        let sealed = feeds::record::seal(&body, &alice.sign(&body));
        block(&[
            ("name", name.into()),
            ("check", "entry".into()),
            ("hex", hex::encode(&sealed)),
            ("hash", feeds::EntryHash::of(&sealed).to_string()),
            ("verdict", verdict.into()),
        ])
    };
    let bytes = |s: &str| bencode::Value::bytes(s);
    out.push(edited(
        "entry-retracts-on-a-post",
        &|m| {
            m.insert(b"retracts".to_vec(), bencode::Value::Int(1));
        },
        "unknown_critical_field",
    ));
    let content = |m: &mut Body| {
        m.insert(b"kind".to_vec(), bytes("delete"));
        m.insert(b"retracts".to_vec(), bencode::Value::Int(1));
        m.insert(b"seq".to_vec(), bencode::Value::Int(2));
        m.insert(b"prev".to_vec(), bencode::Value::bytes(vec![0u8; 32]));
    };
    out.push(edited("entry-content-on-a-delete", &content, "bad_field"));
    out.push(edited(
        "entry-retracts-out-of-range",
        &|m| {
            m.remove(&b"content".to_vec());
            m.insert(b"kind".to_vec(), bytes("delete"));
            m.insert(b"retracts".to_vec(), bencode::Value::Int(1));
        },
        "bad_field",
    ));
    out.push(edited(
        "entry-empty-cert-list",
        &|m| {
            m.insert(b"cert".to_vec(), bencode::Value::List(Vec::new()));
        },
        "bad_field",
    ));
    out.push(edited(
        "entry-extension-field-in-body",
        &|m| {
            m.insert(b"x-note".to_vec(), bytes("ignored by every verifier"));
        },
        "ok",
    ));
    let path = |component: &'static str| {
        move |m: &mut Body| {
            let file = bencode::Value::dict([
                ("blake3", bencode::Value::bytes(vec![1u8; 32])),
                ("length", bencode::Value::Int(10)),
                ("path", bencode::Value::List(vec![bytes(component)])),
            ]);
            let content = bencode::Value::dict([
                ("files", bencode::Value::List(vec![file])),
                ("infohash", bencode::Value::bytes(vec![1u8; 20])),
                ("name", bytes("file-1.bin")),
                ("size", bencode::Value::Int(10)),
            ]);
            m.insert(b"content".to_vec(), content);
        }
    };
    out.push(edited(
        "entry-content-path-dot-dot",
        &path(".."),
        "bad_path",
    ));
    out.push(edited("entry-content-path-empty", &path(""), "bad_path"));
    // An extension field in the envelope: refused (the envelope is exactly body and sig).
    let mut envelope = bencode::decode(entries[0].bytes()).unwrap();
    if let bencode::Value::Dict(map) = &mut envelope {
        map.insert(b"x-note".to_vec(), bytes("not here"));
    }
    out.push(block(&[
        ("name", "entry-extension-field-in-envelope".into()),
        ("check", "entry".into()),
        ("hex", hex::encode(bencode::encode(&envelope))),
        ("verdict", "unknown_critical_field".into()),
    ]));
    // A head whose time is not its entry's.
    let last = entries.last().unwrap();
    let mut wrong_time = head.head().clone();
    wrong_time.time += 1;
    let wrong_time = wrong_time.sign(&alice).unwrap();
    for (name, h, verdict) in [
        ("head-names-its-entry", head, "ok"),
        ("head-time-not-the-entrys", &wrong_time, "head_mismatch"),
    ] {
        out.push(block(&[
            ("name", name.into()),
            ("check", "head-entry".into()),
            ("head", hex::encode(h.encode())),
            ("entry", hex::encode(last.bytes())),
            ("verdict", verdict.into()),
        ]));
    }
    out
}
