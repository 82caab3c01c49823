//! Entries: the signed records a feed is made of.
//!
//! An entry is a signed record (see [`crate::record`]) of type `entry`. Its body names the
//! author identity, the feed, a sequence number starting at 1, the BLAKE3 hash of the
//! previous entry's exact bytes, a time, a kind, and for posts a reference to content hashed
//! into a torrent; free metadata rides along. Delegated signers carry their certificate chain.

use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::Signature;

use crate::bencode::{self, Value};
use crate::delegation::{self, CertHash, Grantee, SignedCert};
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::{IdentityKey, Keypair};
use crate::list::ListOp;
use crate::metainfo::InfoHash;
use crate::record;

mod decode;
mod fast;
#[cfg(test)]
mod tests;

use decode::decode_body;

/// Largest encoded entry (room for a content reference listing ~100,000 files).
pub const MAX_ENTRY_BYTES: usize = 16 << 20;
/// Most metadata fields in one entry; keys are 1 to 64 bytes.
pub const MAX_META_FIELDS: usize = 256;

/// BLAKE3 of an entry's exact signed bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryHash(pub [u8; 32]);

impl EntryHash {
    pub fn of(bytes: &[u8]) -> EntryHash {
        EntryHash(*blake3::hash(bytes).as_bytes())
    }
}

impl fmt::Display for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({self})")
    }
}

/// What an entry does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Publishes content and/or metadata.
    Post,
    /// Retracts an earlier post of the same feed.
    Delete { retracts: u64 },
    /// Revokes a delegation certificate from this entry on (identity key only).
    Revoke { cert: CertHash },
    /// Changes the list this feed is (revision 1.1): adds and removes subjects.
    List { ops: Vec<ListOp> },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Delete { .. } => "delete",
            Kind::Revoke { .. } => "revoke",
            Kind::List { .. } => "list",
        }
    }
}

/// One file of a content reference: its path inside the torrent, length and BLAKE3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub path: Vec<String>,
    pub length: u64,
    pub blake3: [u8; 32],
}

/// The content of a post: a v1 torrent and its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentRef {
    pub infohash: InfoHash,
    pub name: String,
    pub size: u64,
    pub files: Vec<FileRef>,
}

/// The unsigned body of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub author: IdentityKey,
    pub feed: FeedName,
    pub seq: u64,
    /// Hash of entry `seq - 1`; `None` exactly for seq 1.
    pub prev: Option<EntryHash>,
    /// Unix seconds, as the signer claims.
    pub time: u64,
    pub kind: Kind,
    pub content: Option<ContentRef>,
    pub meta: BTreeMap<String, String>,
    /// Certificates from `author` to the signing key; empty when the author signs.
    pub delegation: Vec<SignedCert>,
    /// When the chain ends at a grant to a list: the signer, a member of that list at the
    /// list entry it cites (revision 1.1).
    pub member: Option<Membership>,
}

/// The signer of an entry granted through a list, and the list entry it relied on: every
/// verifier checks membership at that entry, whatever it holds of the list's later ones.
/// On the wire `member` = `d4:hash32:<list entry hash>3:seqi<list seq>e6:signer32:<key>e`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub signer: IdentityKey,
    pub list_seq: u64,
    pub list_hash: EntryHash,
}

/// An entry with its exact signed bytes. Decoding checks structure, not the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEntry {
    bytes: Vec<u8>,
    body: std::ops::Range<usize>,
    signature: Signature,
    /// Boxed: a log holds many entries, and moves them as it verifies them.
    entry: Box<Entry>,
    hash: EntryHash,
}

impl Entry {
    /// The canonical body bytes that get signed.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut fields: Vec<(&str, Value)> = vec![
            ("author", Value::bytes(self.author.as_bytes().to_vec())),
            ("feed", Value::bytes(self.feed.as_str())),
            ("kind", Value::bytes(self.kind.name())),
            ("seq", Value::uint(self.seq)),
            ("time", Value::uint(self.time)),
            ("type", Value::bytes("entry")),
        ];
        if let Some(prev) = self.prev {
            fields.push(("prev", Value::bytes(prev.0.to_vec())));
        }
        match &self.kind {
            Kind::Post => {}
            Kind::Delete { retracts } => fields.push(("retracts", Value::uint(*retracts))),
            Kind::Revoke { cert } => fields.push(("revokes", Value::bytes(cert.0.to_vec()))),
            Kind::List { ops } => fields.push((
                "ops",
                Value::List(ops.iter().map(ListOp::to_value).collect()),
            )),
        }
        if let Some(content) = &self.content {
            fields.push(("content", encode_content(content)));
        }
        if !self.meta.is_empty() {
            let meta = self
                .meta
                .iter()
                .map(|(k, v)| (k.clone(), Value::bytes(v.as_str())));
            fields.push(("meta", Value::dict(meta)));
        }
        if let Some(member) = &self.member {
            let value = Value::dict([
                ("hash", Value::bytes(member.list_hash.0.to_vec())),
                ("seq", Value::uint(member.list_seq)),
                ("signer", Value::bytes(member.signer.as_bytes().to_vec())),
            ]);
            fields.push(("member", value));
        }
        if !self.delegation.is_empty() {
            let chain = self.delegation.iter().map(|c| {
                // Certificates are embedded as their exact envelope bytes.
                bencode::decode(c.bytes()).unwrap_or(Value::List(Vec::new()))
            });
            fields.push(("cert", Value::List(chain.collect())));
        }
        bencode::encode(&Value::dict(fields))
    }

    /// Signs with `signer`: the author's keypair, or the delegated key at the end of
    /// `delegation`. Fails if the result would not decode (bad names, limits, wrong key).
    pub fn sign(&self, signer: &Keypair) -> Result<SignedEntry> {
        let body = self.encode_body();
        let signed = SignedEntry::decode(record::seal(&body, &signer.sign(&body)))?;
        if signed.signer() != signer.public() {
            return Err(Error::BadField {
                record: "entry",
                field: "cert",
                reason: "does not end at the signing key",
            });
        }
        Ok(signed)
    }
}

impl SignedEntry {
    /// Decodes an entry strictly: canonical bytes, size limit, known fields, consistent kind.
    pub fn decode(bytes: Vec<u8>) -> Result<SignedEntry> {
        SignedEntry::decode_by(bytes, None)
    }

    /// [`SignedEntry::decode`] for entries expected from `author`: when the entry names that
    /// key, it is reused instead of decompressed again (a curve point decompression is most
    /// of an entry's decode time, and every entry of a log names the same author).
    pub(crate) fn decode_by(bytes: Vec<u8>, author: Option<&IdentityKey>) -> Result<SignedEntry> {
        let (body, signature) = record::open(&bytes, "entry", MAX_ENTRY_BYTES)?;
        let start = body.as_ptr() as usize - bytes.as_ptr() as usize;
        let body_range = start..start + body.len();
        let entry = Box::new(decode_body(body, author)?);
        let hash = EntryHash::of(&bytes);
        Ok(SignedEntry {
            bytes,
            body: body_range,
            signature,
            entry,
            hash,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    pub fn seq(&self) -> u64 {
        self.entry.seq
    }

    pub fn hash(&self) -> EntryHash {
        self.hash
    }

    /// The exact bytes the signer signed.
    pub fn signed_message(&self) -> &[u8] {
        &self.bytes[self.body.clone()]
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The key that must have signed: the author, or the last certificate's grantee.
    pub fn signer(&self) -> IdentityKey {
        if let Some(member) = &self.entry.member {
            return member.signer;
        }
        match self.entry.delegation.last().map(|c| &c.cert().grantee) {
            Some(Grantee::Key(key)) => *key,
            // Refused by `check_delegation`: a list grant needs `member`.
            Some(Grantee::List(list)) => list.author,
            None => self.entry.author,
        }
    }

    /// Checks this entry alone: its signature, its certificates' signatures, and that the
    /// chain grants the signer this feed at the entry's time. Revocations and the feed's
    /// chain of hashes are the log verifier's job ([`crate::log::verify_log`]).
    pub fn verify(&self) -> Result<()> {
        let seq = self.entry.seq;
        if !self.signer().verify(self.signed_message(), &self.signature) {
            return Err(Error::BadSignature { seq });
        }
        self.check_delegation()?;
        if !self
            .entry
            .delegation
            .iter()
            .all(SignedCert::verify_signature)
        {
            return Err(Error::Delegation {
                seq,
                reason: "certificate signature does not verify",
            });
        }
        Ok(())
    }

    /// Checks the delegation chain's structure (not its signatures).
    pub(crate) fn check_delegation(&self) -> Result<()> {
        let entry = &self.entry;
        if entry.delegation.is_empty() {
            return match entry.member {
                None => Ok(()),
                Some(_) => Err(Error::Delegation {
                    seq: entry.seq,
                    reason: "names a signer without a certificate chain",
                }),
            };
        }
        if matches!(entry.kind, Kind::Revoke { .. }) {
            return Err(Error::Delegation {
                seq: entry.seq,
                reason: "cannot sign a revoke entry: only the identity key can",
            });
        }
        let signer = entry.member.as_ref().map(|m| &m.signer);
        delegation::check_chain(
            &entry.author,
            &entry.delegation,
            &entry.feed,
            entry.time,
            signer,
        )
        .map(drop)
        .map_err(|reason| Error::Delegation {
            seq: entry.seq,
            reason,
        })
    }
}

fn encode_content(content: &ContentRef) -> Value {
    let files = content.files.iter().map(|f| {
        Value::dict([
            ("blake3", Value::bytes(f.blake3.to_vec())),
            ("length", Value::uint(f.length)),
            (
                "path",
                Value::List(f.path.iter().map(|c| Value::bytes(c.as_str())).collect()),
            ),
        ])
    });
    Value::dict([
        ("files", Value::List(files.collect())),
        ("infohash", Value::bytes(content.infohash.0.to_vec())),
        ("name", Value::bytes(content.name.as_str())),
        ("size", Value::uint(content.size)),
    ])
}
