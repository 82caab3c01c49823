//! What a feed's entries carry to later ones, and checkpoints that carry it across calls.
//!
//! A verifier that checks a feed in several calls (a node verifying each update from the
//! last entry it accepted) must reach the verdict one call over the whole log reaches. The
//! checks that look back are: a certificate revoked earlier signs nothing later; a delete
//! may not retract an entry that is not a post; a delegated entry may not be dated before an
//! earlier entry. So the state is the revoked certificates, the seqs of the entries that are
//! not posts (deletes and revokes: few), and the log's clock. It is small, and a node keeps
//! it with its checkpoint ([`Checkpoint::encode`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::bencode::{self, Value};
use crate::delegation::{CertHash, Grantee, ListRef};
use crate::entry::{EntryHash, Kind, SignedEntry};
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::IdentityKey;
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
    /// For each list granted to, the highest list seq an entry cited: a later entry may
    /// not cite an older state of the list (revision 1.1).
    pub cited: BTreeMap<ListRef, u64>,
}

impl LogState {
    /// Takes in an entry the verifier accepted.
    pub fn apply(&mut self, signed: &SignedEntry) {
        let entry = signed.entry();
        self.clock = self.clock.max(entry.time);
        if let Some((list, seq)) = cited_list(signed) {
            let cited = self.cited.entry(list.clone()).or_default();
            *cited = (*cited).max(seq);
        }
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

/// The list an entry granted through a list relies on, and the list seq it cites.
pub(crate) fn cited_list(signed: &SignedEntry) -> Option<(&ListRef, u64)> {
    let entry = signed.entry();
    let member = entry.member.as_ref()?;
    match &entry.delegation.last()?.cert().grantee {
        Grantee::List(list) => Some((list, member.list_seq)),
        Grantee::Key(_) => None,
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
    /// `d5:citesl<cite>…e5:clocki<n>e4:hash32:<hash>9:not-postsli<seq>e…e7:revokedl32:<cert>…e3:seqi<n>ee`,
    /// sets in ascending order, each cite `d6:author32:<key>4:feed<name>3:seqi<n>e` (`cites`
    /// may be absent: checkpoints kept before lists had none). The entry is not part of it.
    pub fn encode(&self) -> Vec<u8> {
        let not_posts = self.state.not_posts.iter().map(|&s| Value::uint(s));
        let revoked = self
            .state
            .revoked
            .iter()
            .map(|c| Value::bytes(c.0.to_vec()));
        let cites = self.state.cited.iter().map(|(list, seq)| {
            Value::dict([
                ("author", Value::bytes(list.author.as_bytes().to_vec())),
                ("feed", Value::bytes(list.feed.as_str())),
                ("seq", Value::uint(*seq)),
            ])
        });
        bencode::encode(&Value::dict([
            ("cites", Value::List(cites.collect())),
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
        let mut cited = BTreeMap::new();
        if let Some(raw) = fields.take("cites") {
            let items = raw.as_list().ok_or(fields.bad("cites", "is not a list"))?;
            for item in items {
                let mut cite = Fields::new(RECORD, item)?;
                let author = IdentityKey::from_slice(cite.slice("author")?)?;
                let feed = FeedName::from_bytes(cite.slice("feed")?)?;
                let seq = cite.uint("seq")?;
                cite.finish()?;
                let list = ListRef { author, feed };
                if cited
                    .last_key_value()
                    .is_some_and(|(last, _)| *last >= list)
                {
                    return Err(fields.bad("cites", "is not in ascending order"));
                }
                cited.insert(list, seq);
            }
        }
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
                cited,
            },
        })
    }
}
