//! Lists: one format for members lists, follow lists, grants to groups, and block, allow and
//! label lists.
//!
//! A list is a feed of its owner whose entries are of kind `list`; each holds up to
//! [`MAX_OPS`] operations, each an action (`add` or `remove`), a subject and an optional
//! reason. The members at any seq are what a streaming pass over the ops up to it leaves: the
//! last action on each subject wins. A subject is a byte string whose first byte says its
//! kind; a hashed subject names another subject by its BLAKE3 hash without spelling it out.

use std::collections::{HashMap, HashSet};

use crate::bencode::{Raw, Value};
use crate::delegation::ListRef;
use crate::entry::{EntryHash, Membership};
use crate::error::{Error, Result};
use crate::feed_name::FeedName;
use crate::identity::IdentityKey;
use crate::metainfo::InfoHash;
use crate::record::Fields;

/// Most operations in one list entry: a million subjects take ten entries.
pub const MAX_OPS: usize = 100_000;
/// Longest reason of one operation, in bytes of UTF-8.
pub const MAX_REASON_BYTES: usize = 256;
/// Longest node URL subject, in bytes.
pub const MAX_URL_BYTES: usize = 256;

/// What a list entry says about a subject. On the wire: `1:s<subject>`, first byte the kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// `i` + 32-byte key.
    Identity(IdentityKey),
    /// `f` + 32-byte key + feed name.
    Feed(IdentityKey, FeedName),
    /// `e` + 32-byte entry hash.
    Entry(EntryHash),
    /// `t` + 20-byte v1 infohash.
    Torrent(InfoHash),
    /// `n` + an `http://` or `https://` node URL of 1 to 256 bytes.
    Node(String),
    /// `h` + the BLAKE3 of another subject's bytes: names it without spelling it out.
    Hashed([u8; 32]),
}

impl Subject {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(33);
        match self {
            Subject::Identity(key) => {
                out.push(b'i');
                out.extend_from_slice(key.as_bytes());
            }
            Subject::Feed(key, feed) => {
                out.push(b'f');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(feed.as_str().as_bytes());
            }
            Subject::Entry(hash) => {
                out.push(b'e');
                out.extend_from_slice(&hash.0);
            }
            Subject::Torrent(infohash) => {
                out.push(b't');
                out.extend_from_slice(&infohash.0);
            }
            Subject::Node(url) => {
                out.push(b'n');
                out.extend_from_slice(url.as_bytes());
            }
            Subject::Hashed(hash) => {
                out.push(b'h');
                out.extend_from_slice(hash);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Subject> {
        let bad = |reason| Error::BadField {
            record: "list",
            field: "s",
            reason,
        };
        let (&kind, rest) = bytes.split_first().ok_or(bad("is empty"))?;
        let fixed32 = || <[u8; 32]>::try_from(rest).map_err(|_| bad("has the wrong length"));
        Ok(match kind {
            b'i' => Subject::Identity(IdentityKey::from_slice(rest)?),
            b'f' if rest.len() > 32 => Subject::Feed(
                IdentityKey::from_slice(&rest[..32])?,
                FeedName::from_bytes(&rest[32..])?,
            ),
            b'f' => return Err(bad("has the wrong length")),
            b'e' => Subject::Entry(EntryHash(fixed32()?)),
            b't' => Subject::Torrent(InfoHash(
                rest.try_into().map_err(|_| bad("has the wrong length"))?,
            )),
            b'n' => {
                let url = std::str::from_utf8(rest).map_err(|_| bad("is not UTF-8"))?;
                let scheme = url.starts_with("http://") || url.starts_with("https://");
                if !scheme || url.len() > MAX_URL_BYTES || url.chars().any(char::is_control) {
                    return Err(bad("is not an http(s) URL of at most 256 bytes"));
                }
                Subject::Node(url.to_owned())
            }
            b'h' => Subject::Hashed(fixed32()?),
            _ => return Err(bad("is of an unknown kind")),
        })
    }

    /// The hashed form of this subject (a hashed subject is its own).
    pub fn hashed(&self) -> Subject {
        match self {
            Subject::Hashed(_) => self.clone(),
            other => Subject::Hashed(*blake3::hash(&other.encode()).as_bytes()),
        }
    }
}

/// `add` or `remove`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Add,
    Remove,
}

/// One operation of a list entry: `d1:a<action>1:r<reason>1:s<subject>e`, `r` optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOp {
    pub action: Action,
    pub subject: Subject,
    /// Why (a block reason, a label): UTF-8, at most [`MAX_REASON_BYTES`].
    pub reason: Option<String>,
}

impl ListOp {
    pub fn add(subject: Subject) -> ListOp {
        ListOp {
            action: Action::Add,
            subject,
            reason: None,
        }
    }

    pub fn remove(subject: Subject) -> ListOp {
        ListOp {
            action: Action::Remove,
            ..ListOp::add(subject)
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        let action = match self.action {
            Action::Add => "add",
            Action::Remove => "remove",
        };
        let mut fields = vec![
            ("a", Value::bytes(action)),
            ("s", Value::bytes(self.subject.encode())),
        ];
        if let Some(reason) = &self.reason {
            fields.push(("r", Value::bytes(reason.as_str())));
        }
        Value::dict(fields)
    }

    pub(crate) fn from_raw(raw: Raw<'_>) -> Result<ListOp> {
        let mut fields = Fields::new("list", raw)?;
        let action = match fields.str("a")? {
            "add" => Action::Add,
            "remove" => Action::Remove,
            _ => return Err(fields.bad("a", "is neither add nor remove")),
        };
        let reason = match fields.has("r") {
            true => Some(fields.string("r")?),
            false => None,
        };
        if reason.as_ref().is_some_and(|r| r.len() > MAX_REASON_BYTES) {
            return Err(fields.bad("r", "is longer than 256 bytes"));
        }
        let subject = Subject::decode(fields.slice("s")?)?;
        fields.finish()?;
        Ok(ListOp {
            action,
            subject,
            reason,
        })
    }
}

/// Decodes the `ops` of a list entry: 1 to [`MAX_OPS`] operations.
pub(crate) fn decode_ops<'a>(items: impl Iterator<Item = Raw<'a>>) -> Result<Vec<ListOp>> {
    let mut ops = Vec::new();
    for item in items {
        if ops.len() == MAX_OPS {
            return Err(too_many());
        }
        ops.push(ListOp::from_raw(item)?);
    }
    if ops.is_empty() {
        return Err(too_many());
    }
    Ok(ops)
}

fn too_many() -> Error {
    Error::BadField {
        record: "entry",
        field: "ops",
        reason: "must hold 1 to 100000 operations",
    }
}

/// The members of a list now, kept by a streaming pass over its entries' ops.
#[derive(Clone, Debug, Default)]
pub struct Members {
    members: HashSet<Subject>,
}

impl Members {
    pub fn apply(&mut self, ops: &[ListOp]) {
        for op in ops {
            match op.action {
                Action::Add => self.members.insert(op.subject.clone()),
                Action::Remove => self.members.remove(&op.subject),
            };
        }
    }

    /// Whether `subject` is a member, named plainly or hashed.
    pub fn contains(&self, subject: &Subject) -> bool {
        self.members.contains(subject) || self.members.contains(&subject.hashed())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// A list's membership at every seq, for checking entries that cite a past state of it:
/// each subject's actions by seq, built by one pass over the list's entries in order.
#[derive(Clone, Debug, Default)]
pub struct ListHistory {
    /// The seq and hash of each entry taken in, in order.
    heads: Vec<(u64, EntryHash)>,
    changes: HashMap<Subject, Vec<(u64, Action)>>,
}

impl ListHistory {
    /// Takes in the ops of list entry `seq` with hash `hash` (seqs in increasing order).
    pub fn apply(&mut self, seq: u64, hash: EntryHash, ops: &[ListOp]) {
        self.heads.push((seq, hash));
        for op in ops {
            self.changes
                .entry(op.subject.clone())
                .or_default()
                .push((seq, op.action));
        }
    }

    /// Whether the list has an entry `seq` with hash `hash`.
    pub fn has_head(&self, seq: u64, hash: &EntryHash) -> bool {
        self.heads
            .binary_search_by_key(&seq, |(s, _)| *s)
            .is_ok_and(|at| self.heads[at].1 == *hash)
    }

    /// Whether `subject` (plain or hashed) was a member after the ops of entries up to `seq`.
    pub fn is_member_at(&self, subject: &Subject, seq: u64) -> bool {
        let at = |s: &Subject| {
            self.changes.get(s).and_then(|changes| {
                let n = changes.partition_point(|(s, _)| *s <= seq);
                n.checked_sub(1).map(|i| changes[i])
            })
        };
        // The plain and the hashed form are two subjects: either one added makes a member.
        let added = |s: &Subject| at(s).is_some_and(|(_, action)| action == Action::Add);
        added(subject) || added(&subject.hashed())
    }
}

impl ListHistory {
    /// The history of a verified list feed: the ops of its `list` entries, in order.
    pub fn of_log(log: &crate::log::VerifiedLog) -> ListHistory {
        let mut history = ListHistory::default();
        for signed in &log.entries {
            if let crate::entry::Kind::List { ops } = &signed.entry().kind {
                history.apply(signed.seq(), signed.hash(), ops);
            }
        }
        history
    }
}

/// The lists a verifier holds, for entries signed through grants to a list.
#[derive(Clone, Debug, Default)]
pub struct ListBook {
    lists: HashMap<ListRef, ListHistory>,
}

impl ListBook {
    pub fn insert(&mut self, list: ListRef, history: ListHistory) {
        self.lists.insert(list, history);
    }

    /// Whether `member` holds for `list`: the cited entry is one of the list's, and the
    /// signer's identity (plain or hashed) was a member after it.
    pub fn check(
        &self,
        list: &ListRef,
        member: &Membership,
    ) -> std::result::Result<(), &'static str> {
        let history = self
            .lists
            .get(list)
            .ok_or("grants to a list the verifier does not hold")?;
        if !history.has_head(member.list_seq, &member.list_hash) {
            return Err("cites a list entry the verifier does not hold");
        }
        if !history.is_member_at(&Subject::Identity(member.signer), member.list_seq) {
            return Err("grants to a list the signer is not a member of at the cited entry");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Keypair;

    fn id(n: u8) -> Subject {
        Subject::Identity(Keypair::from_seed(&[n; 32]).public())
    }

    #[test]
    fn every_subject_kind_round_trips_and_strangers_are_refused() {
        let key = Keypair::from_seed(&[1; 32]).public();
        let subjects = [
            id(1),
            Subject::Feed(key, FeedName::new("main").unwrap()),
            Subject::Entry(EntryHash([3; 32])),
            Subject::Torrent(InfoHash([4; 20])),
            Subject::Node("https://node.example:8080".into()),
            id(2).hashed(),
        ];
        for subject in &subjects {
            assert_eq!(Subject::decode(&subject.encode()).as_ref(), Ok(subject));
        }
        for bad in [&b""[..], b"z123", b"t123", b"nftp://x", b"n", b"h12", b"f"] {
            assert!(Subject::decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(id(2).hashed().hashed(), id(2).hashed());
    }

    #[test]
    fn members_are_what_a_streaming_pass_leaves() {
        let mut members = Members::default();
        members.apply(&[ListOp::add(id(1)), ListOp::add(id(2)), ListOp::add(id(3))]);
        members.apply(&[ListOp::remove(id(2)), ListOp::add(id(4).hashed())]);
        assert!(members.contains(&id(1)) && !members.contains(&id(2)));
        // Hashed: matches the subject it names without spelling it out.
        assert!(members.contains(&id(4)));
        assert_eq!(members.len(), 3);
    }

    #[test]
    fn the_history_answers_membership_at_any_seq() {
        let mut history = ListHistory::default();
        history.apply(
            1,
            EntryHash([1; 32]),
            &[ListOp::add(id(1)), ListOp::add(id(2))],
        );
        history.apply(2, EntryHash([2; 32]), &[ListOp::remove(id(1))]);
        history.apply(5, EntryHash([5; 32]), &[ListOp::add(id(1).hashed())]);
        assert!(history.is_member_at(&id(1), 1));
        assert!(!history.is_member_at(&id(1), 2) && !history.is_member_at(&id(1), 4));
        assert!(history.is_member_at(&id(1), 5));
        assert!(history.is_member_at(&id(2), 9) && !history.is_member_at(&id(3), 9));
        assert!(!history.is_member_at(&id(2), 0));
        assert!(history.has_head(2, &EntryHash([2; 32])));
        assert!(
            !history.has_head(2, &EntryHash([9; 32])) && !history.has_head(3, &EntryHash([2; 32]))
        );
    }
}
