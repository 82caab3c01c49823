//! Fork proofs: two different entries of one feed with the same seq, both validly signed by
//! the feed's identity key. Entries signed through certificates never make one: the
//! identity's key orders the feed (it signs every head), so two entries at one seq of which
//! a delegate signed one are a delegate's stray entry, not the owner's equivocation.

use crate::bencode;
use crate::entry::SignedEntry;
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::IdentityKey;

/// Two different, validly signed entries of one feed with the same seq: proof the feed forked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkProof {
    first: SignedEntry,
    second: SignedEntry,
}

impl ForkProof {
    /// Checks that `a` and `b` really are a fork; orders them by their bytes.
    pub fn new(a: SignedEntry, b: SignedEntry) -> Result<ForkProof> {
        let (ea, eb) = (a.entry(), b.entry());
        if ea.author != eb.author
            || ea.feed != eb.feed
            || ea.seq != eb.seq
            || a.bytes() == b.bytes()
        {
            return Err(Error::BadLayout(
                "not a fork: entries must share author, feed and seq and differ".into(),
            ));
        }
        // Revision 1.1: only the identity key signing twice proves a fork. A delegate (even a
        // revoked one) could otherwise freeze its grantor's feed for good.
        if !ea.delegation.is_empty() || !eb.delegation.is_empty() {
            return Err(Error::BadLayout(
                "not a fork: both entries must be signed by the identity key".into(),
            ));
        }
        a.verify()?;
        b.verify()?;
        let (first, second) = if a.bytes() < b.bytes() {
            (a, b)
        } else {
            (b, a)
        };
        Ok(ForkProof { first, second })
    }

    pub fn seq(&self) -> u64 {
        self.first.seq()
    }

    pub fn author(&self) -> IdentityKey {
        self.first.entry().author
    }

    pub fn feed(&self) -> &FeedName {
        &self.first.entry().feed
    }

    pub fn entries(&self) -> (&SignedEntry, &SignedEntry) {
        (&self.first, &self.second)
    }

    /// `d1:a<entry>1:b<entry>e`, entries in byte order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = b"d1:a".to_vec();
        out.extend_from_slice(self.first.bytes());
        out.extend_from_slice(b"1:b");
        out.extend_from_slice(self.second.bytes());
        out.push(b'e');
        out
    }

    /// Decodes and checks a fork proof; it stands on its own, no other data needed.
    pub fn decode(bytes: &[u8]) -> Result<ForkProof> {
        let parts = bencode::split_dict(bytes)?;
        let [(b"a", a), (b"b", b)] = parts.as_slice() else {
            return Err(Error::BadLayout(
                "a fork proof is a dictionary of exactly a and b".into(),
            ));
        };
        if a >= b {
            return Err(Error::BadLayout("fork proof entries out of order".into()));
        }
        ForkProof::new(
            SignedEntry::decode(a.to_vec())?,
            SignedEntry::decode(b.to_vec())?,
        )
    }
}
