//! Feed heads and identity records, as BEP 44 mutable items.
//!
//! Both are signed by the identity key with the BEP 44 signature itself, over
//! `4:salt<len>:<salt>3:seqi<seq>e1:v<len>:<value>` (the salt part only when there is a
//! salt), so a DHT node stores and serves them as they are, and anyone may republish them.
//! A head's salt is the feed name and its seq the seq of the feed's last entry; the identity
//! record has no salt.

use ed25519_dalek::Signature;

use crate::bencode::{self, Value};
use crate::entry::{EntryHash, SignedEntry};
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::{IdentityKey, Keypair};
use crate::metainfo::InfoHash;
use crate::record::{self, Fields};

/// Largest BEP 44 value.
pub const MAX_VALUE_BYTES: usize = 1000;
/// Largest BEP 44 salt.
pub const MAX_SALT_BYTES: usize = 64;

/// A signed BEP 44 mutable item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutableItem {
    key: IdentityKey,
    salt: Vec<u8>,
    seq: i64,
    value: Vec<u8>,
    signature: Signature,
}

/// The bytes a BEP 44 mutable item's signature covers.
pub fn bep44_signable(salt: &[u8], seq: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + salt.len() + 40);
    if !salt.is_empty() {
        bencode::encode_bytes(b"salt", &mut out);
        bencode::encode_bytes(salt, &mut out);
    }
    bencode::encode_bytes(b"seq", &mut out);
    bencode::encode_into(&Value::Int(seq), &mut out);
    bencode::encode_bytes(b"v", &mut out);
    bencode::encode_bytes(value, &mut out);
    out
}

impl MutableItem {
    /// Signs a new item.
    pub fn sign(keypair: &Keypair, salt: &[u8], seq: i64, value: Vec<u8>) -> Result<MutableItem> {
        check_sizes(salt, seq, &value)?;
        let signature = keypair.sign(&bep44_signable(salt, seq, &value));
        Ok(MutableItem {
            key: keypair.public(),
            salt: salt.to_vec(),
            seq,
            value,
            signature,
        })
    }

    /// Rebuilds an item from its parts (as a DHT returns them) and checks its signature.
    pub fn from_parts(
        key: IdentityKey,
        salt: Vec<u8>,
        seq: i64,
        value: Vec<u8>,
        signature: [u8; 64],
    ) -> Result<MutableItem> {
        check_sizes(&salt, seq, &value)?;
        let item = MutableItem {
            key,
            salt,
            seq,
            value,
            signature: Signature::from_bytes(&signature),
        };
        if !key.verify(
            &bep44_signable(&item.salt, seq, &item.value),
            &item.signature,
        ) {
            return Err(Error::BadHeadSignature);
        }
        Ok(item)
    }

    pub fn key(&self) -> IdentityKey {
        self.key
    }

    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    pub fn seq(&self) -> i64 {
        self.seq
    }

    pub fn value(&self) -> &[u8] {
        &self.value
    }

    pub fn signature(&self) -> [u8; 64] {
        self.signature.to_bytes()
    }

    /// The portable form served over HTTP and pushed between nodes:
    /// `d1:k32:<key>4:salt<salt>3:seqi<seq>e3:sig64:<sig>1:v<value>e` (no salt key if empty).
    pub fn encode(&self) -> Vec<u8> {
        let mut fields = vec![
            ("k", Value::bytes(self.key.as_bytes().to_vec())),
            ("seq", Value::Int(self.seq)),
            ("sig", Value::bytes(self.signature.to_bytes().to_vec())),
            ("v", Value::bytes(self.value.clone())),
        ];
        if !self.salt.is_empty() {
            fields.push(("salt", Value::bytes(self.salt.clone())));
        }
        bencode::encode(&Value::dict(fields))
    }

    /// Decodes the portable form strictly and checks the signature.
    pub fn decode(bytes: &[u8]) -> Result<MutableItem> {
        if bytes.len() > 2 * MAX_VALUE_BYTES {
            return Err(Error::TooLarge {
                what: "mutable item",
                size: bytes.len(),
                max: 2 * MAX_VALUE_BYTES,
            });
        }
        let mut fields = Fields::decode("item", bytes)?;
        let key = IdentityKey::from_slice(&fields.bytes("k")?)?;
        let salt = match fields.has("salt") {
            true => Some(fields.bytes("salt")?)
                .filter(|s| !s.is_empty())
                .ok_or(Error::BadField {
                    record: "item",
                    field: "salt",
                    reason: "is empty; omit it instead",
                })?,
            false => Vec::new(),
        };
        let seq = fields.uint("seq")?;
        let signature = fields.fixed("sig")?;
        let value = fields.bytes("v")?;
        fields.finish()?;
        let seq = i64::try_from(seq).map_err(|_| Error::BadField {
            record: "item",
            field: "seq",
            reason: "is too large",
        })?;
        MutableItem::from_parts(key, salt, seq, value, signature)
    }
}

fn check_sizes(salt: &[u8], seq: i64, value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::TooLarge {
            what: "BEP 44 value",
            size: value.len(),
            max: MAX_VALUE_BYTES,
        });
    }
    if salt.len() > MAX_SALT_BYTES {
        return Err(Error::TooLarge {
            what: "BEP 44 salt",
            size: salt.len(),
            max: MAX_SALT_BYTES,
        });
    }
    if seq < 0 {
        return Err(Error::BadField {
            record: "item",
            field: "seq",
            reason: "is negative",
        });
    }
    Ok(())
}

/// What a feed head says: the feed's last entry and the feed-log torrent that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedHead {
    pub feed: FeedName,
    pub seq: u64,
    pub entry_hash: EntryHash,
    /// Infohash of the feed log's tail torrent (see [`crate::layout`]).
    pub log: InfoHash,
    /// Unix seconds of the last entry.
    pub time: u64,
}

/// A feed head signed as a BEP 44 item (salt = feed name, seq = entry seq).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHead {
    item: MutableItem,
    head: FeedHead,
}

impl FeedHead {
    fn encode_value(&self) -> Vec<u8> {
        bencode::encode(&Value::dict([
            ("hash", Value::bytes(self.entry_hash.0.to_vec())),
            ("log", Value::bytes(self.log.0.to_vec())),
            ("time", Value::uint(self.time)),
        ]))
    }

    pub fn sign(&self, keypair: &Keypair) -> Result<SignedHead> {
        let seq = i64::try_from(self.seq).map_err(|_| Error::HeadMismatch("seq too large"))?;
        let item = MutableItem::sign(
            keypair,
            self.feed.as_str().as_bytes(),
            seq,
            self.encode_value(),
        )?;
        Ok(SignedHead {
            item,
            head: self.clone(),
        })
    }
}

impl SignedHead {
    /// Reads a head out of a verified mutable item.
    pub fn from_item(item: MutableItem) -> Result<SignedHead> {
        let feed = FeedName::from_bytes(item.salt())?;
        let seq = u64::try_from(item.seq()).map_err(|_| Error::HeadMismatch("negative seq"))?;
        if seq == 0 {
            return Err(Error::HeadMismatch(
                "seq 0: a head names an entry, and entries start at 1",
            ));
        }
        let mut fields = Fields::decode("head", item.value())?;
        let entry_hash = EntryHash(fields.fixed("hash")?);
        let log = InfoHash(fields.fixed("log")?);
        let time = fields.uint("time")?;
        fields.finish()?;
        Ok(SignedHead {
            head: FeedHead {
                feed,
                seq,
                entry_hash,
                log,
                time,
            },
            item,
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<SignedHead> {
        SignedHead::from_item(MutableItem::decode(bytes)?)
    }

    /// Checks that this head names `last` as the feed's last entry: its feed, seq, hash and
    /// time (revision 1.1: the time too; a head is not a clock of its own).
    pub fn check_names(&self, last: &SignedEntry) -> Result<()> {
        let (head, entry) = (&self.head, last.entry());
        if entry.author != self.author() || entry.feed != head.feed {
            return Err(Error::HeadMismatch("names another feed than the entry's"));
        }
        if head.seq != entry.seq || head.entry_hash != last.hash() {
            return Err(Error::HeadMismatch(
                "the log does not end at the entry the head names",
            ));
        }
        if head.time != entry.time {
            return Err(Error::HeadMismatch("its time is not the last entry's"));
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        self.item.encode()
    }

    pub fn author(&self) -> IdentityKey {
        self.item.key()
    }

    pub fn head(&self) -> &FeedHead {
        &self.head
    }

    pub fn item(&self) -> &MutableItem {
        &self.item
    }
}

/// An identity's own record: its feeds (later its profile and key changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityRecord {
    /// The feeds this identity publishes, in order.
    pub feeds: Vec<FeedName>,
    /// A display name, if the identity gives one.
    pub name: Option<String>,
    /// HTTP base URLs of nodes that serve this identity's feeds (its own node first):
    /// where followers fetch logs and register for pushed heads.
    pub nodes: Vec<String>,
}

/// An identity record signed as a BEP 44 item without salt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIdentityRecord {
    item: MutableItem,
    record: IdentityRecord,
}

impl IdentityRecord {
    pub(crate) fn encode_value(&self) -> Vec<u8> {
        let feeds = self
            .feeds
            .iter()
            .map(|f| Value::bytes(f.as_str()))
            .collect();
        let mut fields = vec![("feeds", Value::List(feeds))];
        if let Some(name) = &self.name {
            fields.push(("name", Value::bytes(name.as_str())));
        }
        if !self.nodes.is_empty() {
            let nodes = self
                .nodes
                .iter()
                .map(|n| Value::bytes(n.as_str()))
                .collect();
            fields.push(("nodes", Value::List(nodes)));
        }
        bencode::encode(&Value::dict(fields))
    }

    /// Signs version `seq` of the record; each new version needs a higher seq.
    pub fn sign(&self, keypair: &Keypair, seq: i64) -> Result<SignedIdentityRecord> {
        let item = MutableItem::sign(keypair, b"", seq, self.encode_value())?;
        SignedIdentityRecord::from_item(item)
    }
}

impl SignedIdentityRecord {
    pub fn from_item(item: MutableItem) -> Result<SignedIdentityRecord> {
        if !item.salt().is_empty() {
            return Err(Error::HeadMismatch("an identity record has no salt"));
        }
        let mut fields = Fields::decode("identity", item.value())?;
        let feeds = record::strings("identity", "feeds", fields.list("feeds")?)?
            .iter()
            .map(|f| FeedName::new(f))
            .collect::<Result<Vec<_>>>()?;
        let name = if fields.has("name") {
            Some(fields.string("name")?)
        } else {
            None
        };
        let nodes = match fields.has("nodes") {
            true => record::strings("identity", "nodes", fields.list("nodes")?)?,
            false => Vec::new(),
        };
        fields.finish()?;
        Ok(SignedIdentityRecord {
            item,
            record: IdentityRecord { feeds, name, nodes },
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<SignedIdentityRecord> {
        SignedIdentityRecord::from_item(MutableItem::decode(bytes)?)
    }

    pub fn encode(&self) -> Vec<u8> {
        self.item.encode()
    }

    pub fn identity(&self) -> IdentityKey {
        self.item.key()
    }

    pub fn record(&self) -> &IdentityRecord {
        &self.record
    }

    pub fn item(&self) -> &MutableItem {
        &self.item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(seq: u64) -> FeedHead {
        FeedHead {
            feed: FeedName::new("main").unwrap(),
            seq,
            entry_hash: EntryHash([7; 32]),
            log: InfoHash([9; 20]),
            time: 1_700_000_000,
        }
    }

    #[test]
    fn the_signable_bytes_are_bep44s() {
        // The example of BEP 44, with and without salt.
        assert_eq!(
            bep44_signable(b"", 1, b"12:Hello World!"),
            b"3:seqi1e1:v15:12:Hello World!"
        );
        assert_eq!(
            bep44_signable(b"foobar", 1, b"x"),
            b"4:salt6:foobar3:seqi1e1:v1:x"
        );
    }

    #[test]
    fn heads_round_trip_and_fit_a_dht_item() {
        let pair = Keypair::from_seed(&[1; 32]);
        let signed = head(42).sign(&pair).unwrap();
        assert!(signed.item().value().len() <= MAX_VALUE_BYTES);
        let bytes = signed.encode();
        let back = SignedHead::decode(&bytes).unwrap();
        assert_eq!(back, signed);
        assert_eq!(back.author(), pair.public());
        assert_eq!(back.item().salt(), b"main");
        assert_eq!(back.item().seq(), 42);
    }

    #[test]
    fn forged_heads_are_refused() {
        let pair = Keypair::from_seed(&[1; 32]);
        let signed = head(42).sign(&pair).unwrap();
        let item = signed.item();
        let other = Keypair::from_seed(&[2; 32]).public();
        let forged = MutableItem::from_parts(
            other,
            item.salt().to_vec(),
            42,
            item.value().to_vec(),
            item.signature(),
        );
        assert_eq!(forged, Err(Error::BadHeadSignature));
        let bumped = MutableItem::from_parts(
            item.key(),
            item.salt().to_vec(),
            43,
            item.value().to_vec(),
            item.signature(),
        );
        assert_eq!(bumped, Err(Error::BadHeadSignature));
        let resalted = MutableItem::from_parts(
            item.key(),
            b"other".to_vec(),
            42,
            item.value().to_vec(),
            item.signature(),
        );
        assert_eq!(resalted, Err(Error::BadHeadSignature));
        assert!(matches!(
            head(0)
                .sign(&pair)
                .map(|h| h.encode())
                .and_then(|b| SignedHead::decode(&b)),
            Err(Error::HeadMismatch(_))
        ));
    }

    #[test]
    fn identity_records_round_trip() {
        let pair = Keypair::from_seed(&[3; 32]);
        let record = IdentityRecord {
            feeds: vec![
                FeedName::new("main").unwrap(),
                FeedName::new("photos").unwrap(),
            ],
            name: Some("Ada".into()),
            nodes: vec!["http://127.0.0.1:8080".into()],
        };
        let signed = record.sign(&pair, 5).unwrap();
        let back = SignedIdentityRecord::decode(&signed.encode()).unwrap();
        assert_eq!(back.record(), &record);
        assert_eq!(back.identity(), pair.public());
        let too_many = IdentityRecord {
            feeds: vec![FeedName::new(&"f".repeat(64)).unwrap(); 20],
            name: None,
            nodes: Vec::new(),
        };
        assert!(matches!(
            too_many.sign(&pair, 1),
            Err(Error::TooLarge { .. })
        ));
    }
}
