//! The vectors of revision 1.1 (issue 18): the log state, time a delegate cannot choose,
//! revocation authority, settled guesses, several writers, extensions, lists and grants.

use std::collections::BTreeMap;

use feeds::delegation::Scope;
use feeds::head::IdentityRecord;
use feeds::{Kind, SignedEntry, SignedHead, bencode};

use super::block;
use crate::support::{self, *};

/// An entry whose signature holds under the cofactored equation only: its `R` carries a
/// torsion component of order 8. Valid signatures here are cofactorless: `bad_signature`.
pub fn cofactored_only(entry: &SignedEntry) -> String {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::scalar::{Scalar, clamp_integer};
    use curve25519_dalek::traits::IsIdentity;
    use sha2::{Digest, Sha512};
    let alice = keypair(1);
    let expanded = Sha512::digest(alice.seed());
    let mut lower = [0u8; 32];
    lower.copy_from_slice(&expanded[..32]);
    let a = Scalar::from_bytes_mod_order(clamp_integer(lower));
    let key = B * a;
    assert_eq!(key.compress().to_bytes(), *alice.public().as_bytes());
    let message = entry.signed_message();
    let r = Scalar::from_bytes_mod_order([42; 32]);
    let big_r = B * r + EIGHT_TORSION[1];
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(big_r.compress().to_bytes())
            .chain_update(key.compress().to_bytes())
            .chain_update(message),
    );
    let s = r + k * a;
    // Cofactored: [8]([S]B - R - [k]A) is the identity; cofactorless it is not.
    let residue = B * s - big_r - key * k;
    assert!(residue.mul_by_cofactor().is_identity() && !residue.is_identity());
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&big_r.compress().to_bytes());
    signature[32..].copy_from_slice(&s.to_bytes());
    let sealed = feeds::record::seal(message, &ed25519_dalek::Signature::from_bytes(&signature));
    block(&[
        ("name", "entry-signature-only-cofactored".into()),
        ("check", "entry".into()),
        ("hex", hex::encode(sealed)),
        ("verdict", "bad_signature".into()),
    ])
}

/// Writes a `log` vector block: name, raw entries, verdict.
pub type LogBlock<'a> = &'a dyn Fn(&str, &[Vec<u8>], &str) -> String;

/// Revision 1.1 (issue 18): time a delegate cannot choose, and who may revoke.
pub fn delegation_vectors(log: LogBlock<'_>) -> Vec<String> {
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
pub fn settled_vectors(entries: &[SignedEntry], head: &SignedHead) -> Vec<String> {
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

/// Revision 1.1 (issue 18, item 5): two writers at one seq are not a fork of the owner.
pub fn writers_vectors(log: LogBlock<'_>) -> Vec<String> {
    let (alice, app) = (keypair(1), keypair(2));
    let cert = grant(&alice, &app, vec![Scope::Post(feed("main"))], T0, T0 + 1000);
    let mut entries = chain(&alice, "main", 2);
    let mut second = support::post(&alice, "main", Some(&entries[0]));
    second.delegation = vec![cert];
    second.meta = BTreeMap::from([("title".into(), "The app's entry 2".into())]);
    let second = second.sign(&app).unwrap();
    entries.push(second.clone());
    let raw: Vec<Vec<u8>> = entries.iter().map(|e| e.bytes().to_vec()).collect();
    let mut pair = [entries[1].bytes().to_vec(), second.bytes().to_vec()];
    pair.sort();
    let mut proof = b"d1:a".to_vec();
    proof.extend_from_slice(&pair[0]);
    proof.extend_from_slice(b"1:b");
    proof.extend_from_slice(&pair[1]);
    proof.push(b'e');
    vec![
        log("log-fork-by-two-writers", &raw, "seq_gap"),
        block(&[
            ("name", "fork-proof-by-a-delegate".into()),
            ("check", "fork-proof".into()),
            ("hex", hex::encode(proof)),
            ("verdict", "bad_layout".into()),
        ]),
    ]
}

/// Revision 1.1 (issue 18, item 3): identity record extensions.
pub fn extension_vectors() -> Vec<String> {
    use feeds::bencode::Value;
    use feeds::extension;
    let alice = keypair(1);
    let record = IdentityRecord {
        feeds: vec![feed("main")],
        name: Some("Alice".into()),
        nodes: Vec::new(),
    };
    let named = extension::sign_record(&record, &["profile", "keys"], &alice, 2).unwrap();
    let profile = extension::sign(
        &alice,
        "profile",
        1,
        vec![
            ("bio", Value::bytes("Publishes field recordings.")),
            ("name", Value::bytes("Alice")),
            ("x-later", Value::bytes("a field this reader does not know")),
        ],
    )
    .unwrap();
    let long_name = extension::sign(
        &alice,
        "profile",
        2,
        vec![("name", Value::bytes("A".repeat(65)))],
    )
    .unwrap();
    let critical = extension::sign(
        &alice,
        "keys",
        1,
        vec![
            ("age", Value::bytes(vec![7u8; 32])),
            ("crit", Value::List(vec![Value::bytes("quorum")])),
            ("quorum", Value::Int(2)),
        ],
    )
    .unwrap();
    vec![
        // Decoded by the 1.0 code path (SignedIdentityRecord::decode): still a valid record.
        block(&[
            ("name", "identity-record-naming-extensions".into()),
            ("check", "identity-record".into()),
            ("hex", hex::encode(named.encode())),
            ("verdict", "ok".into()),
        ]),
        block(&[
            ("name", "identity-record-extension-names".into()),
            ("check", "identity-extensions".into()),
            ("hex", hex::encode(named.encode())),
            ("names", "keys,profile".into()),
            ("verdict", "ok".into()),
        ]),
        block(&[
            ("name", "extension-profile".into()),
            ("check", "extension".into()),
            ("hex", hex::encode(profile.encode())),
            ("known", "avatar,avatar-path,bio,name".into()),
            ("verdict", "ok".into()),
        ]),
        block(&[
            ("name", "extension-unknown-critical-field".into()),
            ("check", "extension".into()),
            ("hex", hex::encode(critical.encode())),
            ("known", "age,devices".into()),
            ("verdict", "skipped".into()),
        ]),
        block(&[
            ("name", "profile-read".into()),
            ("check", "profile".into()),
            ("hex", hex::encode(profile.encode())),
            ("verdict", "ok".into()),
        ]),
        block(&[
            ("name", "profile-name-too-long".into()),
            ("check", "profile".into()),
            ("hex", hex::encode(long_name.encode())),
            ("verdict", "bad_field".into()),
        ]),
        // An extension item is no head: its salt is no feed name.
        block(&[
            ("name", "extension-read-as-a-head".into()),
            ("check", "head".into()),
            ("hex", hex::encode(profile.encode())),
            ("verdict", "bad_feed_name".into()),
        ]),
    ]
}

/// Revision 1.1 (issue 18, item 4): list entries.
pub fn list_vectors(log: LogBlock<'_>) -> Vec<String> {
    use feeds::list::{ListOp, Subject};
    let (alice, bob) = (keypair(1), keypair(4));
    let raw = |es: &[SignedEntry]| es.iter().map(|e| e.bytes().to_vec()).collect::<Vec<_>>();
    let ops = vec![
        ListOp::add(Subject::Identity(bob.public())),
        ListOp {
            reason: Some("spam".into()),
            ..ListOp::add(Subject::Torrent(feeds::InfoHash([5; 20])))
        },
        ListOp::add(Subject::Identity(keypair(5).public()).hashed()),
        ListOp::add(Subject::Feed(alice.public(), feed("photos"))),
        ListOp::add(Subject::Node("https://node.example".into())),
    ];
    let list_entry = |prev: Option<&SignedEntry>, ops: Vec<ListOp>| {
        let mut e = support::post(&alice, "members", prev);
        e.kind = Kind::List { ops };
        e.content = None;
        e.sign(&alice).unwrap()
    };
    let first = list_entry(None, ops);
    let second = list_entry(
        Some(&first),
        vec![ListOp::remove(Subject::Identity(bob.public()))],
    );
    let mut out = vec![log_in(
        "members",
        log("log-list", &raw(&[first.clone(), second]), "ok"),
    )];
    // A subject of an unknown kind.
    let mut bad = first.entry().clone();
    let mut value = bencode::decode(&bad.encode_body()).unwrap();
    if let bencode::Value::Dict(map) = &mut value {
        let op = bencode::Value::dict([
            ("a", bencode::Value::bytes("add")),
            ("s", bencode::Value::bytes(b"zsomething".to_vec())),
        ]);
        map.insert(b"ops".to_vec(), bencode::Value::List(vec![op]));
    }
    let body = bencode::encode(&value);
    let sealed = feeds::record::seal(&body, &alice.sign(&body));
    out.push(log_in(
        "members",
        log("log-list-unknown-subject-kind", &[sealed], "bad_field"),
    ));
    bad.kind = Kind::Post;
    let mut value = bencode::decode(&bad.encode_body()).unwrap();
    if let bencode::Value::Dict(map) = &mut value {
        map.insert(b"ops".to_vec(), bencode::Value::List(Vec::new()));
    }
    let body = bencode::encode(&value);
    let sealed = feeds::record::seal(&body, &alice.sign(&body));
    out.push(log_in(
        "members",
        log("log-ops-on-a-post", &[sealed], "unknown_critical_field"),
    ));
    out
}

/// A log block for another feed than `main`.
fn log_in(feed_name: &str, block: String) -> String {
    block.replace("feed: main\n", &format!("feed: {feed_name}\n"))
}

/// Revision 1.1 (issue 18, item 4): posts signed through a grant to a list.
pub fn granted_vectors() -> Vec<String> {
    use feeds::delegation::{Certificate, Grantee, ListRef};
    use feeds::list::{ListOp, Subject};
    let (alice, bob) = (keypair(1), keypair(4));
    let id = alice.public().to_string();
    let hexes = |es: &[SignedEntry]| {
        es.iter()
            .map(|e| hex::encode(e.bytes()))
            .collect::<Vec<_>>()
    };
    let list_entry = |prev: Option<&SignedEntry>, ops: Vec<ListOp>| {
        let mut e = support::post(&alice, "members", prev);
        e.kind = Kind::List { ops };
        e.content = None;
        e.sign(&alice).unwrap()
    };
    let added = list_entry(None, vec![ListOp::add(Subject::Identity(bob.public()))]);
    let removed = list_entry(
        Some(&added),
        vec![ListOp::remove(Subject::Identity(bob.public()))],
    );
    let list = vec![added.clone(), removed.clone()];
    let grant = Certificate {
        grantor: alice.public(),
        grantee: Grantee::List(ListRef {
            author: alice.public(),
            feed: feed("members"),
        }),
        scopes: vec![Scope::Post(feed("main"))],
        issued: T0,
        expires: T0 + 1000,
    }
    .sign(&alice)
    .unwrap();
    let granted = |cited: &SignedEntry| {
        let mut entries = chain(&alice, "main", 1);
        append(&mut entries, &alice, &bob, |e| {
            e.delegation = vec![grant.clone()];
            e.member = Some(feeds::Membership {
                signer: bob.public(),
                list_seq: cited.seq(),
                list_hash: cited.hash(),
            });
        });
        entries
    };
    let vector = |name: &str, entries: &[SignedEntry], verdict: &str| {
        let mut pairs = vec![
            ("name", name.to_string()),
            ("check", "granted-log".into()),
            ("author", id.clone()),
            ("list-feed", "members".into()),
        ];
        pairs.extend(hexes(&list).into_iter().map(|h| ("list-entry", h)));
        pairs.push(("feed", "main".into()));
        pairs.extend(hexes(entries).into_iter().map(|h| ("entry", h)));
        pairs.push(("verdict", verdict.into()));
        block(&pairs)
    };
    let mut out = vec![
        vector("granted-log-member", &granted(&added), "ok"),
        vector(
            "granted-log-removed-member",
            &granted(&removed),
            "bad_delegation",
        ),
    ];
    // Carol posts citing the list after bob's removal; then bob cites the list before it.
    let carol = keypair(5);
    let both = list_entry(
        None,
        vec![
            ListOp::add(Subject::Identity(bob.public())),
            ListOp::add(Subject::Identity(carol.public())),
        ],
    );
    let without_bob = list_entry(
        Some(&both),
        vec![ListOp::remove(Subject::Identity(bob.public()))],
    );
    let list = [both.clone(), without_bob.clone()];
    let mut entries = chain(&alice, "main", 1);
    for (signer, cited) in [(&carol, &without_bob), (&bob, &both)] {
        append(&mut entries, &alice, signer, |e| {
            e.delegation = vec![grant.clone()];
            e.member = Some(feeds::Membership {
                signer: signer.public(),
                list_seq: cited.seq(),
                list_hash: cited.hash(),
            });
        });
    }
    let mut pairs = vec![
        ("name", "granted-log-cites-an-older-list-entry".to_string()),
        ("check", "granted-log".into()),
        ("author", id.clone()),
        ("list-feed", "members".into()),
    ];
    pairs.extend(hexes(&list).into_iter().map(|h| ("list-entry", h)));
    pairs.push(("feed", "main".into()));
    pairs.extend(hexes(&entries).into_iter().map(|h| ("entry", h)));
    pairs.push(("verdict", "bad_delegation".into()));
    out.push(block(&pairs));
    out
}
