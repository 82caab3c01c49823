//! Where incremental verification resumes: each feed's checkpoint, with the state its
//! verified entries carry on (revocations, what a delete may not retract, the log's clock).
//!
//! A node verifies each update of a feed from the last entry it accepted; for that to give
//! the verdict of verifying the whole log, the checkpoint must carry what the earlier
//! entries carry ([`feeds::LogState`]). It is kept in `feeds.checkpoint`, written in the
//! same transaction as the entries it follows. A missing or stale one (a store from before
//! schema 3) is rebuilt from the stored entries, which were all verified when stored.

use rusqlite::{OptionalExtension, params};

use ::feeds::{Checkpoint, FeedName, IdentityKey, LogState, SignedEntry, VerifiedLog};

use super::entries::{AppendOutcome, append};
use super::{JobResult, Result, Store, corrupt, feed_id, feed_label};

impl Store {
    /// Stores a verified log of one feed (see [`Store::append_verified_entries`]) and, in the
    /// same transaction, the checkpoint at its last entry.
    pub async fn append_verified_log(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        log: &VerifiedLog,
    ) -> Result<AppendOutcome> {
        let (key, feed) = (*identity, feed.clone());
        let entries = log.entries.clone();
        let checkpoint = log.checkpoint().map(|c| (c.seq, c.encode()));
        self.write("append_verified_log", move |tx| {
            let outcome = append(tx, &key, &feed, &entries)?;
            if let Some((seq, bytes)) = checkpoint.filter(|(seq, _)| *seq == outcome.verified_seq) {
                let id = feed_id(tx, &key, &feed)?;
                tx.prepare_cached("UPDATE feeds SET checkpoint = ?2 WHERE feed_id = ?1")?
                    .execute(params![id, bytes])?;
                debug_assert_eq!(seq, outcome.verified_seq);
            }
            Ok(outcome)
        })
        .await
    }

    /// The checkpoint to verify the feed's next entries from: its last stored entry and the
    /// state of the entries up to it. `None` when no entry is stored.
    pub async fn checkpoint(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<Option<Checkpoint>> {
        let (key, feed) = (*identity, feed.clone());
        self.read("checkpoint", move |tx| {
            let Some(id) = feed_id(tx, &key, &feed)? else {
                return Ok(None);
            };
            let label = feed_label(&key, &feed);
            let row: Option<(Vec<u8>, Option<Vec<u8>>)> = tx
                .prepare_cached(
                    "SELECT e.bytes, f.checkpoint FROM feeds f
                     JOIN entries e ON e.feed_id = f.feed_id AND e.seq = f.verified_seq
                     WHERE f.feed_id = ?1",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((last, stored)) = row else {
                return Ok(None);
            };
            let last = decode(last, &label)?;
            let kept = stored
                .and_then(|b| Checkpoint::decode(&b).ok())
                .filter(|c| c.seq == last.seq() && c.hash == last.hash());
            let state = match kept {
                Some(kept) => kept.state,
                None => replay(tx, id, &label)?,
            };
            Ok(Some(Checkpoint::with_state(&last, state)))
        })
        .await
    }
}

/// The state of a feed's stored entries, in one ordered pass over them.
fn replay(tx: &rusqlite::Transaction, id: i64, label: &str) -> JobResult<LogState> {
    let mut stmt =
        tx.prepare_cached("SELECT bytes FROM entries WHERE feed_id = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([id])?;
    let mut state = LogState::default();
    while let Some(row) = rows.next()? {
        state.apply(&decode(row.get(0)?, label)?);
    }
    Ok(state)
}

fn decode(bytes: Vec<u8>, label: &str) -> JobResult<SignedEntry> {
    SignedEntry::decode(bytes).map_err(|e| corrupt(format!("an entry of {label}"), e))
}
