//! Entries: the verified log of each feed, exact bytes plus the columns its queries need.
//!
//! Every query walks an index in order and stops at its limit: a page of a feed is a range
//! of the `(feed_id, seq)` primary key (keyset pagination, as fast at seq 1,000,000 as at
//! seq 1), entries naming a torrent use `entries_by_infohash`, and the recent posts of the
//! followed feeds walk `entries_by_time` from the newest.

use rusqlite::{OptionalExtension, Transaction, params};

use ::feeds::{FeedName, IdentityKey, InfoHash, Kind, SignedEntry};

use super::feeds::append_state;
use super::search;
use super::{ErrorKind, JobResult, Result, Store, corrupt, ensure_feed, feed_id, feed_label, now};

/// The most rows one query returns, whatever limit it is given.
const MAX_PAGE: u32 = 1000;
/// The most entry bytes one page of entries holds (always at least one entry): an entry may
/// be 16 MiB, so a page of 50 of them would hold 800 MiB for one request to a gateway page.
/// A page cut short by bytes is still followed by the next one (seqs are contiguous).
pub const PAGE_BYTES: usize = 8 << 20;

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Entries newly stored.
    pub added: u64,
    /// Entries that were already stored with the same hash.
    pub already_stored: u64,
    /// The feed's verified seq afterwards.
    pub verified_seq: u64,
}

/// An entry as stored, with whether a later `delete` of its feed retracted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub entry: SignedEntry,
    pub retracted: bool,
}

/// Direction of a page of entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// A page of a feed's entries by seq: those strictly between `after_seq` and `before_seq`,
/// at most `limit` (capped at 1000) and [`PAGE_BYTES`] of entries, in `order`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryPage {
    pub after_seq: Option<u64>,
    pub before_seq: Option<u64>,
    pub limit: u32,
    pub order: Order,
}

impl EntryPage {
    /// The newest `limit` entries.
    pub fn newest(limit: u32) -> EntryPage {
        EntryPage {
            limit,
            ..EntryPage::default()
        }
    }

    /// The `limit` entries right before `seq`, newest first (the next page of a listing).
    pub fn before(seq: u64, limit: u32) -> EntryPage {
        EntryPage {
            before_seq: Some(seq),
            ..EntryPage::newest(limit)
        }
    }

    /// The `limit` entries right after `seq`, oldest first (catching up from a seq).
    pub fn after(seq: u64, limit: u32) -> EntryPage {
        EntryPage {
            after_seq: Some(seq),
            limit,
            order: Order::OldestFirst,
            before_seq: None,
        }
    }
}

/// Where a page of recent posts ended; pass it back for the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecentCursor {
    time: i64,
    feed_id: i64,
    seq: i64,
}

/// A page of recent posts across the followed feeds, newest first.
#[derive(Clone, Debug)]
pub struct RecentPage {
    pub entries: Vec<StoredEntry>,
    /// Set when the page is full: where the next one starts.
    pub next: Option<RecentCursor>,
}

impl Store {
    /// Stores entries of one feed, already verified by the caller, in one transaction.
    /// Entries already stored with the same hash are skipped; one stored with a different
    /// hash is a [`ErrorKind::Conflict`] and nothing is written. New entries must continue
    /// the stored log without a gap; a frozen feed takes no new entries. A `delete` marks the
    /// entry it retracts.
    pub async fn append_verified_entries(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        entries: Vec<SignedEntry>,
    ) -> Result<AppendOutcome> {
        let (key, feed) = (*identity, feed.clone());
        self.write("append_verified_entries", move |tx| {
            append(tx, &key, &feed, &entries)
        })
        .await
    }

    /// The feed's last stored entry.
    pub async fn last_entry(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<Option<StoredEntry>> {
        let page = self.entries(identity, feed, EntryPage::newest(1)).await?;
        Ok(page.into_iter().next())
    }

    /// The feed's entry `seq`, if stored.
    pub async fn entry(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        seq: u64,
    ) -> Result<Option<StoredEntry>> {
        let page = EntryPage::after(seq.saturating_sub(1), 1);
        let page = self.entries(identity, feed, page).await?;
        Ok(page.into_iter().next().filter(|e| e.entry.seq() == seq))
    }

    /// A page of the feed's entries (see [`EntryPage`]); empty for an unknown feed.
    pub async fn entries(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        page: EntryPage,
    ) -> Result<Vec<StoredEntry>> {
        let (key, feed) = (*identity, feed.clone());
        self.read("entries", move |tx| {
            let Some(id) = feed_id(tx, &key, &feed)? else {
                return Ok(Vec::new());
            };
            let sql = match page.order {
                Order::NewestFirst => PAGE_NEWEST,
                Order::OldestFirst => PAGE_OLDEST,
            };
            let after = clamp(page.after_seq.unwrap_or(0));
            let before = clamp(page.before_seq.unwrap_or(u64::MAX));
            let limit = page.limit.min(MAX_PAGE);
            let mut stmt = tx.prepare_cached(sql)?;
            let rows = stmt.query_map(params![id, after, before, limit], entry_row)?;
            let label = feed_label(&key, &feed);
            let mut page = Vec::new();
            let mut bytes = 0;
            for row in rows {
                let row = row?;
                bytes += row.1.len();
                if !page.is_empty() && bytes > PAGE_BYTES {
                    break;
                }
                page.push(decode_entry(row, &label)?);
            }
            Ok(page)
        })
        .await
    }

    /// Entries (of any feed) whose content is the torrent `infohash`, at most 1000.
    pub async fn entries_with_infohash(&self, infohash: &InfoHash) -> Result<Vec<StoredEntry>> {
        let infohash = *infohash;
        self.read("entries_with_infohash", move |tx| {
            let mut stmt = tx.prepare_cached(WITH_INFOHASH)?;
            let rows = stmt.query_map(params![infohash.0, MAX_PAGE], entry_row)?;
            let label = format!("feed with torrent {infohash}");
            rows.map(|row| decode_entry(row?, &label)).collect()
        })
        .await
    }

    /// The newest posts of the followed feeds, retracted ones left out, for a home page.
    pub async fn recent_followed_posts(
        &self,
        before: Option<RecentCursor>,
        limit: u32,
    ) -> Result<RecentPage> {
        self.read("recent_followed_posts", move |tx| {
            let start = before.unwrap_or(RecentCursor {
                time: i64::MAX,
                feed_id: i64::MAX,
                seq: i64::MAX,
            });
            let limit = limit.min(MAX_PAGE);
            let mut stmt = tx.prepare_cached(RECENT_FOLLOWED)?;
            let rows =
                stmt.query_map(params![start.time, start.feed_id, start.seq, limit], |r| {
                    let cursor = RecentCursor {
                        time: r.get(0)?,
                        feed_id: r.get(1)?,
                        seq: r.get(2)?,
                    };
                    let row: EntryRow = (r.get(2)?, r.get(3)?, r.get(4)?);
                    Ok((cursor, row))
                })?;
            let mut page = RecentPage {
                entries: Vec::new(),
                next: None,
            };
            let mut bytes = 0;
            let mut cut = false;
            for row in rows {
                let (cursor, row) = row?;
                bytes += row.1.len();
                if !page.entries.is_empty() && bytes > PAGE_BYTES {
                    cut = true;
                    break;
                }
                page.entries.push(decode_entry(row, "a followed feed")?);
                page.next = Some(cursor);
            }
            if page.entries.len() < limit as usize && !cut {
                page.next = None;
            }
            Ok(page)
        })
        .await
    }
}

pub const PAGE_NEWEST: &str = "SELECT seq, bytes, retracted FROM entries
    WHERE feed_id = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
pub const PAGE_OLDEST: &str = "SELECT seq, bytes, retracted FROM entries
    WHERE feed_id = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq ASC LIMIT ?4";
pub const WITH_INFOHASH: &str = "SELECT seq, bytes, retracted FROM entries
    WHERE infohash = ?1 ORDER BY feed_id, seq LIMIT ?2";
/// Walks `entries_by_time` from the cursor down; the follow check is a primary-key probe.
pub const RECENT_FOLLOWED: &str = "SELECT e.time, e.feed_id, e.seq, e.bytes, e.retracted
    FROM entries e INDEXED BY entries_by_time
    WHERE (e.time, e.feed_id, e.seq) < (?1, ?2, ?3)
      AND e.kind = 'post' AND e.retracted = 0
      AND EXISTS (SELECT 1 FROM follow_feeds f WHERE f.feed_id = e.feed_id)
    ORDER BY e.time DESC, e.feed_id DESC, e.seq DESC LIMIT ?4";

type EntryRow = (u64, Vec<u8>, bool);

fn entry_row(r: &rusqlite::Row) -> rusqlite::Result<EntryRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn decode_entry((seq, bytes, retracted): EntryRow, label: &str) -> JobResult<StoredEntry> {
    let entry =
        SignedEntry::decode(bytes).map_err(|e| corrupt(format!("entry {seq} of {label}"), e))?;
    Ok(StoredEntry { entry, retracted })
}

fn clamp(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub(super) fn append(
    tx: &Transaction,
    key: &IdentityKey,
    feed: &FeedName,
    entries: &[SignedEntry],
) -> JobResult<AppendOutcome> {
    let label = feed_label(key, feed);
    if let Some(stray) = entries
        .iter()
        .find(|e| e.entry().author != *key || e.entry().feed != *feed)
    {
        return Err(ErrorKind::Invalid(format!(
            "entry {} of {}/{} offered as part of {label}",
            stray.seq(),
            stray.entry().author,
            stray.entry().feed
        )));
    }
    let id = ensure_feed(tx, key, feed)?;
    let (mut verified, frozen) = append_state(tx, id)?;
    let mut stored_hash =
        tx.prepare_cached("SELECT hash FROM entries WHERE feed_id = ?1 AND seq = ?2")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO entries (feed_id, seq, hash, kind, time, retracts, infohash, title, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut retract =
        tx.prepare_cached("UPDATE entries SET retracted = 1 WHERE feed_id = ?1 AND seq = ?2")?;
    let mut link = tx.prepare_cached(
        "INSERT INTO feed_torrents (feed_id, infohash) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    let mut outcome = AppendOutcome {
        added: 0,
        already_stored: 0,
        verified_seq: verified,
    };
    for signed in entries {
        let (seq, hash) = (signed.seq(), signed.hash());
        if seq <= verified {
            let stored: Option<[u8; 32]> = stored_hash
                .query_row(params![id, seq], |r| r.get(0))
                .optional()?;
            let stored = stored.ok_or_else(|| {
                corrupt(format!("log of {label}"), format!("entry {seq} is missing"))
            })?;
            if stored != hash.0 {
                return Err(ErrorKind::Conflict {
                    feed: label,
                    seq,
                    stored: ::feeds::EntryHash(stored),
                    offered: hash,
                });
            }
            outcome.already_stored += 1;
            continue;
        }
        if seq != verified + 1 {
            return Err(ErrorKind::Invalid(format!(
                "entries of {label} must continue the stored log: expected seq {}, got {seq}",
                verified + 1
            )));
        }
        if frozen {
            return Err(ErrorKind::Frozen { feed: label });
        }
        let entry = signed.entry();
        let retracts = match entry.kind {
            Kind::Delete { retracts } => Some(retracts),
            _ => None,
        };
        let infohash = entry.content.as_ref().map(|c| c.infohash.0);
        let title = entry.meta.get("title").map(String::as_str);
        insert.execute(params![
            id,
            seq,
            hash.0,
            entry.kind.name(),
            entry.time,
            retracts,
            infohash,
            title,
            signed.bytes()
        ])?;
        if let Some(target) = retracts {
            retract.execute(params![id, target])?;
            search::remove_entry(tx, id, target)?;
        }
        search::index_entry(tx, id, signed)?;
        if let Some(infohash) = infohash {
            link.execute(params![id, infohash])?;
        }
        verified = seq;
        outcome.added += 1;
    }
    if outcome.added > 0 {
        tx.prepare_cached(
            "UPDATE feeds SET verified_seq = ?2, updated_at = ?3 WHERE feed_id = ?1",
        )?
        .execute(params![id, verified, now()])?;
    }
    outcome.verified_seq = verified;
    Ok(outcome)
}
