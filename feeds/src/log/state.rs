//! What a feed's entries carry to later ones, and checkpoints that carry it across calls.
//!
//! A verifier that checks a feed in several calls (a node verifying each update from the
//! last entry it accepted) must reach the verdict one call over the whole log reaches. The
//! checks that look back are: a certificate revoked earlier signs nothing later; a delete
//! may not retract an entry that is not a post; a delegated entry may not be dated before an
//! earlier entry. So the state is the revoked certificates, the seqs of the entries that are
//! not posts (deletes and revokes: few), and the log's clock. It is small, and a node keeps
//! it with its checkpoint ([`Checkpoint::encode`]).

use std::collections::BTreeSet;

use crate::bencode::{self, Value};
use crate::delegation::CertHash;
use crate::entry::{EntryHash, Kind, SignedEntry};
use crate::error::{Error, Result};
use crate::record::Fields;

/// What the entries of a feed up to some seq carry to the entries after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogState {
    /// The latest time of any entry so far: a delegated entry may not be dated before it.
    pub clock: u64,
    /// Certificates revoked so far: no later entry may be signed through them.
    pub revoked: BTreeSet<CertHash>,
    /// Seqs of the entries that are not posts: a delete may not retract them.
    pub not_posts: BTreeSet<u64>,
}

impl LogState {
    /// Takes in an entry the verifier accepted.
    pub fn apply(&mut self, signed: &SignedEntry) {
        let entry = signed.entry();
        self.clock = self.clock.max(entry.time);
        match &entry.kind {
            Kind::Post => {}
            Kind::Delete { .. } => {
                self.not_posts.insert(entry.seq);
            }
            Kind::Revoke { cert } => {
                self.revoked.insert(*cert);
                self.not_posts.insert(entry.seq);
            }
            Kind::List { .. } => {
                self.not_posts.insert(entry.seq);
            }
        }
    }

    /// The state after entries already verified, in order (a node rebuilding what it did
    /// not keep). Checks nothing.
    pub fn replay<'a>(entries: impl IntoIterator<Item = &'a SignedEntry>) -> LogState {
        let mut state = LogState::default();
        for entry in entries {
            state.apply(entry);
        }
        state
    }
}

/// A previously trusted point of a feed: the last entry a verifier accepted or a head it
/// holds. With the entry itself, a conflict yields a full fork proof; with the state the
/// entries up to it carry ([`VerifiedLog::checkpoint`](super::VerifiedLog::checkpoint)),
/// verifying on from it gives the verdict of verifying the whole log.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: EntryHash,
    pub entry: Option<SignedEntry>,
    /// What the entries up to `seq` carry on. Empty for a checkpoint made from an entry or a
    /// head alone: then checks that look back only see the entries after it.
    pub state: LogState,
}

impl Checkpoint {
    /// A checkpoint at `entry` without the state of the entries before it: for a verifier
    /// that holds no earlier entries (a reader of the tail alone). A node that verified the
    /// feed uses [`Checkpoint::with_state`] or the one [`VerifiedLog`](super::VerifiedLog)
    /// returns.
    pub fn of_entry(entry: &SignedEntry) -> Checkpoint {
        Checkpoint::with_state(entry, LogState::default())
    }

    /// A checkpoint at `entry` with the state of the entries up to and including it.
    pub fn with_state(entry: &SignedEntry, state: LogState) -> Checkpoint {
        Checkpoint {
            seq: entry.seq(),
            hash: entry.hash(),
            entry: Some(entry.clone()),
            state,
        }
    }

    /// The node-local form (not signed, never sent):
    /// `d5:clocki<n>e4:hash32:<hash>9:not-postsli<seq>e…e7:revokedl32:<cert>…e3:seqi<n>ee`,
    /// sets in ascending order. The entry itself is not part of it.
    pub fn encode(&self) -> Vec<u8> {
        let not_posts = self.state.not_posts.iter().map(|&s| Value::uint(s));
        let revoked = self
            .state
            .revoked
            .iter()
            .map(|c| Value::bytes(c.0.to_vec()));
        bencode::encode(&Value::dict([
            ("clock", Value::uint(self.state.clock)),
            ("hash", Value::bytes(self.hash.0.to_vec())),
            ("not-posts", Value::List(not_posts.collect())),
            ("revoked", Value::List(revoked.collect())),
            ("seq", Value::uint(self.seq)),
        ]))
    }

    /// Decodes [`Checkpoint::encode`]'s form strictly; `entry` is left `None`.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint> {
        const RECORD: &str = "checkpoint";
        let mut fields = Fields::decode(RECORD, bytes)?;
        let clock = fields.uint("clock")?;
        let hash = EntryHash(fields.fixed("hash")?);
        let mut not_posts = BTreeSet::new();
        for item in fields.list("not-posts")? {
            let seq = item.as_int().and_then(|n| u64::try_from(n).ok());
            match seq {
                Some(seq) if not_posts.last().is_none_or(|&l| l < seq) => {
                    not_posts.insert(seq);
                }
                _ => return Err(fields.bad("not-posts", "is not ascending seqs")),
            }
        }
        let mut revoked = BTreeSet::new();
        for item in fields.list("revoked")? {
            let cert = item.as_bytes().and_then(|b| <[u8; 32]>::try_from(b).ok());
            match cert.map(CertHash) {
                Some(cert) if revoked.last().is_none_or(|l| *l < cert) => {
                    revoked.insert(cert);
                }
                _ => return Err(fields.bad("revoked", "is not ascending 32-byte hashes")),
            }
        }
        let seq = fields.uint("seq")?;
        fields.finish()?;
        if seq == 0 || not_posts.last().is_some_and(|&l| l > seq) {
            return Err(Error::BadField {
                record: RECORD,
                field: "seq",
                reason: "is 0 or below a seq it holds",
            });
        }
        Ok(Checkpoint {
            seq,
            hash,
            entry: None,
            state: LogState {
                clock,
                revoked,
                not_posts,
            },
        })
    }
}
