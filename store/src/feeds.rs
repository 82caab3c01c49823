//! Feeds: the latest signed head of each, how far its log is verified and stored, and its
//! status (ok, frozen by a fork proof, or failing with an error).

use rusqlite::{OptionalExtension, Row, params};

use ::feeds::{FeedName, ForkProof, IdentityKey, SignedHead};

use super::{
    ErrorKind, JobResult, Result, Store, corrupt, ensure_feed, ensure_identity, feed_id,
    feed_label, now,
};

/// How an offered head (or identity record) compares with the stored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadChange {
    /// Its seq is higher (or nothing was stored): it is now the stored one.
    Newer,
    /// Same seq as the stored one: kept the stored one.
    Same,
    /// Lower seq than the stored one: refused.
    Older,
}

impl HeadChange {
    pub(super) fn compare(offered: i64, stored: i64) -> HeadChange {
        match offered.cmp(&stored) {
            std::cmp::Ordering::Greater => HeadChange::Newer,
            std::cmp::Ordering::Equal => HeadChange::Same,
            std::cmp::Ordering::Less => HeadChange::Older,
        }
    }
}

/// Whether a feed is being followed normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedStatus {
    Ok,
    /// A fork proof exists: the feed stays at its last agreed entry until a human decides.
    Frozen(Box<ForkProof>),
    /// The last attempt to update the feed failed.
    Error(String),
}

/// What the store holds about one feed.
#[derive(Clone, Debug)]
pub struct FeedState {
    pub identity: IdentityKey,
    pub feed: FeedName,
    pub head: Option<SignedHead>,
    /// Entries `1..=verified_seq` are verified and stored.
    pub verified_seq: u64,
    pub status: FeedStatus,
    /// Unix seconds of the last change.
    pub updated_at: u64,
}

impl Store {
    /// Stores `head` if its seq is higher than the stored head's (an atomic compare-and-set).
    /// A head with the same seq as the stored one is [`HeadChange::Same`] and not stored.
    pub async fn put_head(&self, head: &SignedHead) -> Result<HeadChange> {
        let (key, feed) = (head.author(), head.head().feed.clone());
        let (seq, bytes) = (head.item().seq(), head.encode());
        self.write("put_head", move |tx| {
            let identity = ensure_identity(tx, &key)?;
            tx.prepare_cached("UPDATE identities SET last_seen = ?2 WHERE identity_id = ?1")?
                .execute(params![identity, now()])?;
            let changed = tx
                .prepare_cached(
                    "INSERT INTO feeds (identity_id, name, head, head_seq, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (identity_id, name) DO UPDATE
                     SET head = excluded.head, head_seq = excluded.head_seq,
                         updated_at = excluded.updated_at
                     WHERE feeds.head_seq IS NULL OR feeds.head_seq < excluded.head_seq",
                )?
                .execute(params![identity, feed.as_str(), bytes, seq, now()])?;
            if changed == 1 {
                return Ok(HeadChange::Newer);
            }
            let stored: i64 = tx
                .prepare_cached("SELECT head_seq FROM feeds WHERE identity_id = ?1 AND name = ?2")?
                .query_row(params![identity, feed.as_str()], |r| r.get(0))?;
            Ok(HeadChange::compare(seq, stored))
        })
        .await
    }

    /// The latest head stored for the feed.
    pub async fn head(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<Option<SignedHead>> {
        Ok(self.feed_state(identity, feed).await?.and_then(|s| s.head))
    }

    /// Everything stored about the feed, if it is known.
    pub async fn feed_state(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<Option<FeedState>> {
        let (key, feed) = (*identity, feed.clone());
        self.read("feed_state", move |tx| {
            let Some(id) = feed_id(tx, &key, &feed)? else {
                return Ok(None);
            };
            tx.prepare_cached(
                "SELECT head, verified_seq, status, error, fork_proof, updated_at
                 FROM feeds WHERE feed_id = ?1",
            )?
            .query_row([id], |r| Ok(read_state(r)))?
            .and_then(|parts| parts.finish(key, feed))
            .map(Some)
        })
        .await
    }

    /// Freezes the feed with `proof`: appends are refused from now on.
    pub async fn set_feed_frozen(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        proof: &ForkProof,
    ) -> Result<()> {
        let (key, feed) = (*identity, feed.clone());
        if proof.author() != key || proof.feed() != &feed {
            return Err(super::Error {
                op: "set_feed_frozen",
                kind: ErrorKind::Invalid(format!(
                    "the fork proof is about {}/{}, not {}",
                    proof.author(),
                    proof.feed(),
                    feed_label(&key, &feed)
                )),
            });
        }
        let bytes = proof.encode();
        self.write("set_feed_frozen", move |tx| {
            let id = ensure_feed(tx, &key, &feed)?;
            tx.prepare_cached(
                "UPDATE feeds SET status = 'frozen', fork_proof = ?2, error = NULL,
                 updated_at = ?3 WHERE feed_id = ?1",
            )?
            .execute(params![id, bytes, now()])?;
            Ok(())
        })
        .await
    }

    /// Records that updating the feed failed (`Some`) or works again (`None`). A frozen feed
    /// stays frozen either way.
    pub async fn set_feed_error(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        message: Option<&str>,
    ) -> Result<()> {
        let (key, feed, message) = (*identity, feed.clone(), message.map(str::to_owned));
        self.write("set_feed_error", move |tx| {
            let id = ensure_feed(tx, &key, &feed)?;
            let status = if message.is_some() { "error" } else { "ok" };
            tx.prepare_cached(
                "UPDATE feeds SET status = ?2, error = ?3, updated_at = ?4
                 WHERE feed_id = ?1 AND status != 'frozen'",
            )?
            .execute(params![id, status, message, now()])?;
            Ok(())
        })
        .await
    }
}

/// A feed row as read, before its blobs are decoded (decoding must not happen inside the
/// row closure, whose error type is rusqlite's).
struct StateRow {
    head: Option<Vec<u8>>,
    verified_seq: u64,
    status: String,
    error: Option<String>,
    fork_proof: Option<Vec<u8>>,
    updated_at: u64,
}

fn read_state(r: &Row) -> JobResult<StateRow> {
    Ok(StateRow {
        head: r.get(0)?,
        verified_seq: r.get(1)?,
        status: r.get(2)?,
        error: r.get(3)?,
        fork_proof: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

impl StateRow {
    fn finish(self, identity: IdentityKey, feed: FeedName) -> JobResult<FeedState> {
        let label = feed_label(&identity, &feed);
        let head = self
            .head
            .map(|b| SignedHead::decode(&b).map_err(|e| corrupt(format!("head of {label}"), e)))
            .transpose()?;
        let status = match (self.status.as_str(), self.fork_proof) {
            ("frozen", Some(proof)) => FeedStatus::Frozen(Box::new(
                ForkProof::decode(&proof)
                    .map_err(|e| corrupt(format!("fork proof of {label}"), e))?,
            )),
            ("error", _) => FeedStatus::Error(self.error.unwrap_or_default()),
            ("ok", _) => FeedStatus::Ok,
            (other, _) => return Err(corrupt(format!("status of {label}"), other)),
        };
        Ok(FeedState {
            identity,
            feed,
            head,
            verified_seq: self.verified_seq,
            status,
            updated_at: self.updated_at,
        })
    }
}

/// The feed's status row by id, for appends: (verified_seq, frozen).
pub(super) fn append_state(tx: &rusqlite::Transaction, id: i64) -> JobResult<(u64, bool)> {
    Ok(tx
        .prepare_cached("SELECT verified_seq, status = 'frozen' FROM feeds WHERE feed_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, false)))
}
