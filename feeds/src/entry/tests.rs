//! Tests of entry decoding: the decoders against the tree-building reference decoder they
//! replaced, on valid, edited, corrupted and arbitrary bodies.

use super::decode::{decode_body, decode_body_fully};
use super::*;
use crate::delegation::{Certificate, Scope};
use proptest::prelude::*;

/// The tree-building decoder this module had before the zero-copy reader, kept as the
/// oracle: the zero-copy decoder must give the same entry or the very same error.
mod reference {
    use std::collections::BTreeMap;

    use super::super::*;

    struct Fields {
        record: &'static str,
        map: BTreeMap<Vec<u8>, Value>,
    }

    impl Fields {
        fn new(record: &'static str, value: Value) -> Result<Fields> {
            match value {
                Value::Dict(map) => Ok(Fields { record, map }),
                _ => Err(Error::BadField {
                    record,
                    field: "",
                    reason: "is not a dictionary",
                }),
            }
        }
        fn take(&mut self, field: &'static str) -> Option<Value> {
            self.map.remove(field.as_bytes())
        }
        fn required(&mut self, field: &'static str) -> Result<Value> {
            self.take(field).ok_or(Error::MissingField {
                record: self.record,
                field,
            })
        }
        fn bad(&self, field: &'static str, reason: &'static str) -> Error {
            Error::BadField {
                record: self.record,
                field,
                reason,
            }
        }
        fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>> {
            match self.required(field)? {
                Value::Bytes(b) => Ok(b),
                _ => Err(self.bad(field, "is not a byte string")),
            }
        }
        fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
            let bytes = self.bytes(field)?;
            bytes
                .try_into()
                .map_err(|_| self.bad(field, "has the wrong length"))
        }
        fn string(&mut self, field: &'static str) -> Result<String> {
            String::from_utf8(self.bytes(field)?).map_err(|_| self.bad(field, "is not UTF-8"))
        }
        fn uint(&mut self, field: &'static str) -> Result<u64> {
            match self.required(field)? {
                Value::Int(n) => u64::try_from(n).map_err(|_| self.bad(field, "is negative")),
                _ => Err(self.bad(field, "is not an integer")),
            }
        }
        fn list(&mut self, field: &'static str) -> Result<Vec<Value>> {
            match self.required(field)? {
                Value::List(items) => Ok(items),
                _ => Err(self.bad(field, "is not a list")),
            }
        }
        fn finish(self) -> Result<()> {
            match self
                .map
                .keys()
                .find(|k| !k.starts_with(record::EXTENSION_PREFIX))
            {
                Some(key) => Err(Error::UnknownCriticalField {
                    record: self.record,
                    field: String::from_utf8_lossy(key).into_owned(),
                }),
                None => Ok(()),
            }
        }
    }

    fn strings(
        record: &'static str,
        field: &'static str,
        items: Vec<Value>,
    ) -> Result<Vec<String>> {
        items
            .into_iter()
            .map(|item| match item {
                Value::Bytes(b) => String::from_utf8(b).ok(),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(Error::BadField {
                record,
                field,
                reason: "is not a list of UTF-8 strings",
            })
    }

    pub fn decode_body(body: &[u8], known_author: Option<&IdentityKey>) -> Result<Entry> {
        let mut fields = Fields::new("entry", bencode::decode(body)?)?;
        let found = fields.string("type")?;
        if found != "entry" {
            return Err(Error::WrongRecordType {
                expected: "entry",
                found,
            });
        }
        let author = fields.bytes("author")?;
        let author = match known_author {
            Some(known) if known.as_bytes()[..] == author[..] => *known,
            _ => IdentityKey::from_slice(&author)?,
        };
        let feed = FeedName::from_bytes(&fields.bytes("feed")?)?;
        let seq = fields.uint("seq")?;
        if seq == 0 || i64::try_from(seq).is_err() {
            return Err(fields.bad("seq", "must be at least 1"));
        }
        let prev = match fields.take("prev") {
            Some(Value::Bytes(b)) => Some(EntryHash(
                b.try_into()
                    .map_err(|_| fields.bad("prev", "is not 32 bytes"))?,
            )),
            Some(_) => return Err(fields.bad("prev", "is not a byte string")),
            None => None,
        };
        if prev.is_some() != (seq > 1) {
            return Err(fields.bad("prev", "must be present exactly when seq > 1"));
        }
        let time = fields.uint("time")?;
        let kind = match fields.string("kind")?.as_str() {
            "post" => Kind::Post,
            "delete" => {
                let retracts = fields.uint("retracts")?;
                if retracts == 0 || retracts >= seq {
                    return Err(fields.bad("retracts", "must name an earlier seq"));
                }
                Kind::Delete { retracts }
            }
            "revoke" => Kind::Revoke {
                cert: CertHash(fields.fixed("revokes")?),
            },
            other => return Err(Error::UnknownKind(other.to_owned())),
        };
        let content = match fields.take("content") {
            Some(value) => Some(decode_content(value)?),
            None => None,
        };
        if content.is_some() && kind != Kind::Post {
            return Err(fields.bad("content", "is only allowed in a post"));
        }
        let meta = match fields.take("meta") {
            Some(value) => decode_meta(value)?,
            None => BTreeMap::new(),
        };
        let delegation = match fields.take("cert") {
            Some(Value::List(items)) if !items.is_empty() => items
                .iter()
                .map(|item| SignedCert::decode(&bencode::encode(item)))
                .collect::<Result<Vec<_>>>()?,
            Some(_) => {
                return Err(fields.bad("cert", "is not a non-empty list of certificates"));
            }
            None => Vec::new(),
        };
        fields.finish()?;
        Ok(Entry {
            author,
            feed,
            seq,
            prev,
            time,
            kind,
            content,
            meta,
            delegation,
            member: None,
        })
    }

    fn decode_content(value: Value) -> Result<ContentRef> {
        let mut fields = Fields::new("content", value)?;
        let infohash = InfoHash(fields.fixed("infohash")?);
        let name = fields.string("name")?;
        crate::torrent_path::check_component(&name)?;
        let size = fields.uint("size")?;
        let mut files = Vec::new();
        for item in fields.list("files")? {
            let mut file = Fields::new("file", item)?;
            let path = strings("file", "path", file.list("path")?)?;
            crate::torrent_path::check_path(&path)?;
            let length = file.uint("length")?;
            let blake3 = file.fixed("blake3")?;
            file.finish()?;
            files.push(FileRef {
                path,
                length,
                blake3,
            });
        }
        fields.finish()?;
        if files.is_empty() {
            return Err(Error::BadField {
                record: "content",
                field: "files",
                reason: "is empty",
            });
        }
        let total = files
            .iter()
            .try_fold(0u64, |sum, f| sum.checked_add(f.length));
        if total != Some(size) {
            return Err(Error::BadField {
                record: "content",
                field: "size",
                reason: "is not the sum of the file lengths",
            });
        }
        Ok(ContentRef {
            infohash,
            name,
            size,
            files,
        })
    }

    fn decode_meta(value: Value) -> Result<BTreeMap<String, String>> {
        let bad = |reason| Error::BadField {
            record: "entry",
            field: "meta",
            reason,
        };
        let Value::Dict(map) = value else {
            return Err(bad("is not a dictionary"));
        };
        if map.len() > MAX_META_FIELDS {
            return Err(bad("has more than 256 fields"));
        }
        map.into_iter()
            .map(|(key, value)| {
                let key = String::from_utf8(key).map_err(|_| bad("has a key that is not UTF-8"))?;
                if key.is_empty() || key.len() > 64 {
                    return Err(bad("has a key that is empty or longer than 64 bytes"));
                }
                match value {
                    Value::Bytes(v) => String::from_utf8(v)
                        .map(|v| (key, v))
                        .map_err(|_| bad("has a value that is not UTF-8")),
                    _ => Err(bad("has a value that is not a string")),
                }
            })
            .collect()
    }
}

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32])
}

/// Bodies of valid entries of every shape: first and later posts with content and meta,
/// a delete, a revoke, and a delegated post with a two-certificate chain.
fn sample_bodies() -> Vec<Vec<u8>> {
    let (alice, app, sub) = (key(1), key(2), key(3));
    let feed = FeedName::new("main").unwrap();
    let cert = |from: &Keypair, to: &Keypair, scopes| {
        Certificate {
            grantor: from.public(),
            grantee: crate::delegation::Grantee::Key(to.public()),
            scopes,
            issued: 10,
            expires: 1_000,
        }
        .sign(from)
        .unwrap()
    };
    let base = Entry {
        author: alice.public(),
        feed: feed.clone(),
        seq: 1,
        prev: None,
        time: 100,
        kind: Kind::Post,
        content: Some(ContentRef {
            infohash: InfoHash([9; 20]),
            name: "ep".into(),
            size: 30,
            files: vec![
                FileRef {
                    path: vec!["a".into(), "b.ogg".into()],
                    length: 10,
                    blake3: [1; 32],
                },
                FileRef {
                    path: vec!["c".into()],
                    length: 20,
                    blake3: [2; 32],
                },
            ],
        }),
        meta: BTreeMap::from([("title".into(), "Hello".into()), ("x".into(), "y".into())]),
        delegation: Vec::new(),
        member: None,
    };
    let later = Entry {
        seq: 5,
        prev: Some(EntryHash([7; 32])),
        ..base.clone()
    };
    let delete = Entry {
        kind: Kind::Delete { retracts: 2 },
        content: None,
        meta: BTreeMap::new(),
        ..later.clone()
    };
    let revoke = Entry {
        kind: Kind::Revoke {
            cert: CertHash([4; 32]),
        },
        ..delete.clone()
    };
    let delegated = Entry {
        delegation: vec![
            cert(&alice, &app, vec![Scope::PostAny, Scope::Delegate]),
            cert(&app, &sub, vec![Scope::Post(feed.clone())]),
        ],
        ..later.clone()
    };
    [base, later, delete, revoke, delegated]
        .iter()
        .map(Entry::encode_body)
        .collect()
}

const KEYS: &[&str] = &[
    "author", "blake3", "cert", "content", "feed", "files", "infohash", "kind", "length", "meta",
    "name", "path", "prev", "retracts", "revokes", "seq", "size", "time", "type", "", "a", "x-ext",
    "zz", "title",
];

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![0i64, 1, 2, 5, -1, i64::MAX, i64::MIN, 100, 30])
            .prop_map(Value::Int),
        prop::sample::select(vec![0usize, 1, 20, 31, 32, 33, 64, 65])
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
            .prop_map(Value::Bytes),
        prop::sample::select(vec![
            "post", "delete", "revoke", "entry", "cert", "main", "bad name", "ep", "",
        ])
        .prop_map(Value::bytes),
        Just(Value::Bytes(vec![0xff, 0xfe])),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::btree_map(
                prop::sample::select(KEYS).prop_map(|k| k.as_bytes().to_vec()),
                inner,
                0..4
            )
            .prop_map(Value::Dict),
        ]
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Remove(usize, &'static str),
    Set(usize, &'static str, Value),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let target = 0usize..5;
    prop_oneof![
        (target.clone(), prop::sample::select(KEYS)).prop_map(|(t, k)| Edit::Remove(t, k)),
        (target, prop::sample::select(KEYS), arb_value()).prop_map(|(t, k, v)| Edit::Set(t, k, v)),
    ]
}

/// The dictionary an edit applies to: the body, its content, a file, the meta, or the
/// first certificate's envelope.
fn target(body: &mut Value, which: usize) -> Option<&mut BTreeMap<Vec<u8>, Value>> {
    let Value::Dict(top) = body else { return None };
    let value = match which {
        0 => return Some(top),
        1 => top.get_mut(&b"content"[..])?,
        2 => match top.get_mut(&b"content"[..])? {
            Value::Dict(c) => match c.get_mut(&b"files"[..])? {
                Value::List(files) => files.first_mut()?,
                _ => return None,
            },
            _ => return None,
        },
        3 => top.get_mut(&b"meta"[..])?,
        _ => match top.get_mut(&b"cert"[..])? {
            Value::List(certs) => certs.first_mut()?,
            _ => return None,
        },
    };
    match value {
        Value::Dict(map) => Some(map),
        _ => None,
    }
}

fn same_verdict(body: &[u8]) -> std::result::Result<(), TestCaseError> {
    for author in [None, Some(key(1).public()), Some(key(2).public())] {
        let new = decode_body(body, author.as_ref());
        let old = reference::decode_body(body, author.as_ref());
        prop_assert_eq!(new, old, "body {:?}", String::from_utf8_lossy(body));
    }
    Ok(())
}

#[test]
fn valid_bodies_decode_as_before() {
    for body in sample_bodies() {
        assert!(decode_body(&body, None).is_ok());
        same_verdict(&body).unwrap();
    }
}

#[test]
fn the_common_shapes_take_the_single_pass() {
    // All samples but the delegated one (certificates go to the full decoder).
    let bodies = sample_bodies();
    for body in &bodies[..4] {
        let entry = fast::decode_body(body, None).expect("single pass");
        assert_eq!(Ok(entry), decode_body_fully(body, None));
    }
    assert_eq!(fast::decode_body(&bodies[4], None), None);
}

/// The single pass and the full decoder agree on `body`, and both with the reference.
fn fast_agrees(body: &[u8]) {
    for author in [None, Some(key(1).public())] {
        if let Some(entry) = fast::decode_body(body, author.as_ref()) {
            assert_eq!(
                Ok(entry),
                decode_body_fully(body, author.as_ref()),
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
    same_verdict(body).unwrap();
}

#[test]
fn every_single_edit_near_the_rules_decodes_alike() {
    let long = |n| Box::leak("k".repeat(n).into_boxed_str()) as &'static str;
    let keys: Vec<&'static str> = KEYS.iter().copied().chain([long(64), long(65)]).collect();
    let mut values: Vec<Value> = [0i64, 1, 2, 4, 5, 6, -1, 30, 31]
        .into_iter()
        .map(Value::Int)
        .collect();
    values.extend([0usize, 1, 20, 31, 32].map(|n| Value::Bytes(vec![b'a'; n])));
    values.extend(["post", "delete", "revoke", "entry", "main"].map(Value::bytes));
    values.extend([
        Value::Bytes(vec![0xff]),
        Value::List(Vec::new()),
        Value::List(vec![Value::bytes("x")]),
        Value::List(vec![Value::Int(1)]),
        Value::dict([("a", Value::bytes("b"))]),
        Value::Dict(BTreeMap::new()),
    ]);
    for sample in sample_bodies() {
        fast_agrees(&sample);
        let body = bencode::decode(&sample).unwrap();
        for which in 0..5 {
            for key in &keys {
                let mut removed = body.clone();
                if let Some(map) = target(&mut removed, which) {
                    map.remove(key.as_bytes());
                    fast_agrees(&bencode::encode(&removed));
                }
                for value in &values {
                    let mut edited = body.clone();
                    if let Some(map) = target(&mut edited, which) {
                        map.insert(key.as_bytes().to_vec(), value.clone());
                        fast_agrees(&bencode::encode(&edited));
                    }
                }
            }
        }
    }
}

#[test]
fn metadata_at_and_past_its_limits_decodes_alike() {
    let mut body = bencode::decode(&sample_bodies()[0]).unwrap();
    for n in [255usize, 256, 257] {
        let meta = (0..n).map(|i| (format!("k{i:04}"), Value::bytes("v")));
        if let Value::Dict(top) = &mut body {
            top.insert(b"meta".to_vec(), Value::dict(meta));
        }
        fast_agrees(&bencode::encode(&body));
    }
}

proptest! {
    #[test]
    fn edited_bodies_decode_or_fail_exactly_as_before(
        which in 0usize..5, edits in prop::collection::vec(arb_edit(), 1..4)
    ) {
        let mut body = bencode::decode(&sample_bodies()[which]).unwrap();
        for edit in edits {
            match edit {
                Edit::Remove(t, k) => {
                    if let Some(map) = target(&mut body, t) {
                        map.remove(k.as_bytes());
                    }
                }
                Edit::Set(t, k, v) => {
                    if let Some(map) = target(&mut body, t) {
                        map.insert(k.as_bytes().to_vec(), v);
                    }
                }
            }
        }
        same_verdict(&bencode::encode(&body))?;
    }

    #[test]
    fn corrupted_bodies_decode_or_fail_exactly_as_before(
        which in 0usize..5,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..3),
        cut in any::<prop::sample::Index>(), how in 0u8..3,
    ) {
        let mut body = sample_bodies()[which].clone();
        for (at, byte) in flips {
            let i = at.index(body.len());
            body[i] = byte;
        }
        match how {
            0 => body.truncate(cut.index(body.len())),
            1 => body.insert(cut.index(body.len()), b'e'),
            _ => {}
        }
        same_verdict(&body)?;
    }

    #[test]
    fn any_value_as_a_body_fails_exactly_as_before(value in arb_value()) {
        same_verdict(&bencode::encode(&value))?;
    }
}
