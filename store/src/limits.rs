//! Disk caps: the most bytes and files of followed content a follow, and the node in all,
//! may hold. A followed torrent's full size is *reserved* (counted against every cap that
//! covers it) in the same transaction that admits it, before its download starts, so a
//! crash can never over-commit: what a restarted node finds reserved is exactly what may be
//! on disk. A torrent that does not fit waits, with the reason, and is admitted later if
//! caps are raised or space is released (retraction, `unfollow --delete`).
//!
//! Usage is always summed from the reservations themselves (no counters to drift): a follow
//! uses the reserved torrents its feeds name; the node uses every reserved torrent. Content
//! published here is seeded from where it lies and never reserved.
//!
//! Admission is oldest first: torrents are considered in the order the node took in the
//! entries naming them (feed order), and one that does not fit is skipped while smaller
//! later ones may still fit. So the set held under a cap does not depend on when a node
//! started following.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use ::feeds::{FeedName, IdentityKey, InfoHash};

use super::{JobResult, Result, Store, decode_feed_name, decode_key};

/// Caps on followed content; `None` is no cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
}

/// A change to one cap of a follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CapChange {
    /// Leave it as it is.
    #[default]
    Keep,
    Set(u64),
    /// No cap.
    Remove,
}

/// What admitting a torrent did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Reserved now: download it.
    Reserved,
    /// Reserved earlier: download (or keep) it.
    AlreadyReserved,
    /// Published here: seeded from where it lies, never counted.
    Published,
    /// It does not fit; the reason is stored with the torrent.
    OverLimit(String),
    /// Unknown, or failed (retracted, bad files): not admitted.
    Skipped,
}

impl Admission {
    /// Whether the torrent may be downloaded (or seeded).
    pub fn admitted(&self) -> bool {
        matches!(
            self,
            Admission::Reserved | Admission::AlreadyReserved | Admission::Published
        )
    }
}

/// Bytes and files counted against a cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
}

impl Store {
    /// Changes a follow's caps; false if there is no such follow.
    pub async fn set_follow_caps(
        &self,
        identity: &IdentityKey,
        feed: Option<&FeedName>,
        max_bytes: CapChange,
        max_files: CapChange,
    ) -> Result<bool> {
        let (key, feed) = (
            *identity,
            feed.map_or(String::new(), |f| f.as_str().to_owned()),
        );
        self.write("set_follow_caps", move |tx| {
            let follow: Option<i64> = tx
                .prepare_cached(
                    "SELECT follow_id FROM follows
                     WHERE identity_id = (SELECT identity_id FROM identities WHERE key = ?1)
                       AND feed = ?2",
                )?
                .query_row(params![key.as_bytes(), feed], |r| r.get(0))
                .optional()?;
            let Some(follow) = follow else {
                return Ok(false);
            };
            for (column, change) in [("max_bytes", max_bytes), ("max_files", max_files)] {
                let value = match change {
                    CapChange::Keep => continue,
                    CapChange::Set(n) => Some(n),
                    CapChange::Remove => None,
                };
                tx.prepare_cached(&format!(
                    "UPDATE follows SET {column} = ?2 WHERE follow_id = ?1"
                ))?
                .execute(params![follow, value])?;
            }
            Ok(true)
        })
        .await
    }

    /// Admits one followed torrent against the follows' caps and the node's `caps`: see
    /// the module docs.
    pub async fn reserve(&self, infohash: &InfoHash, caps: Caps) -> Result<Admission> {
        let infohash = *infohash;
        self.write("reserve", move |tx| {
            let mut admitter = Admitter::new(tx, caps)?;
            admitter.admit(infohash)
        })
        .await
    }

    /// Admits, oldest first, the followed torrents that wait (over a cap, or never
    /// considered), up to `limit` of them; returns those reserved now. This is the cap
    /// recheck: first it gives back the reservations whose release failed ([`Store::release`]).
    pub async fn admit_waiting(&self, caps: Caps, limit: u32) -> Result<Vec<InfoHash>> {
        let owed = self.owed_releases();
        let settled = owed.clone();
        let reserved = self
            .write("admit_waiting", move |tx| {
                for infohash in &owed {
                    release_reservation(tx, infohash)?;
                }
                let waiting: Vec<[u8; 20]> = tx
                    .prepare_cached(
                        "SELECT infohash FROM torrents
                         WHERE reserved = 0 AND origin = 'followed' AND error IS NULL
                         ORDER BY rowid LIMIT ?1",
                    )?
                    .query_map([limit], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut admitter = Admitter::new(tx, caps)?;
                let mut reserved = Vec::new();
                for infohash in waiting {
                    let infohash = InfoHash(infohash);
                    if admitter.admit(infohash)? == Admission::Reserved {
                        reserved.push(infohash);
                    }
                }
                Ok(reserved)
            })
            .await?;
        self.settle_releases(&settled);
        Ok(reserved)
    }

    /// Releases a torrent's reservation (its files are gone); false if it held none. When
    /// the write fails the release is owed, and the next [`Store::admit_waiting`] makes it.
    pub async fn release(&self, infohash: &InfoHash) -> Result<bool> {
        let infohash = *infohash;
        let released = self
            .write("release", move |tx| release_reservation(tx, &infohash))
            .await;
        if let Ok(mut owed) = self.owed_releases.lock() {
            if released.is_ok() {
                owed.remove(&infohash);
            } else {
                owed.insert(infohash);
            }
        }
        released
    }

    /// Releases whose write failed and that no cap recheck has made yet.
    pub fn owed_releases(&self) -> Vec<InfoHash> {
        self.owed_releases
            .lock()
            .map(|owed| owed.iter().copied().collect())
            .unwrap_or_default()
    }

    fn settle_releases(&self, made: &[InfoHash]) {
        if let Ok(mut owed) = self.owed_releases.lock() {
            for infohash in made {
                owed.remove(infohash);
            }
        }
    }

    /// What the node holds or is downloading, counted against its caps.
    pub async fn reserved_usage(&self) -> Result<Usage> {
        self.read("reserved_usage", total_usage).await
    }

    /// Whether a torrent is reserved.
    pub async fn is_reserved(&self, infohash: &InfoHash) -> Result<bool> {
        let infohash = *infohash;
        self.read("is_reserved", move |tx| {
            Ok(tx
                .prepare_cached("SELECT reserved FROM torrents WHERE infohash = ?1")?
                .query_row([infohash.0], |r| r.get(0))
                .optional()?
                .unwrap_or(false))
        })
        .await
    }
}

/// Gives back one torrent's reservation; false if it held none.
fn release_reservation(tx: &Transaction, infohash: &InfoHash) -> JobResult<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE torrents SET reserved = 0, over_limit = NULL
             WHERE infohash = ?1 AND reserved = 1",
        )?
        .execute([infohash.0])?;
    Ok(n == 1)
}

/// A follow's caps and what counts against them, for `follows`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowCaps {
    pub caps: Caps,
    /// Reserved torrents its feeds name (held or downloading).
    pub used: Usage,
    /// Torrents its feeds name that wait over a cap, their bytes, and one reason.
    pub waiting: u64,
    pub waiting_bytes: u64,
    pub reason: Option<String>,
}

pub(super) fn follow_caps(tx: &Transaction, follow: i64) -> JobResult<FollowCaps> {
    let (max_bytes, max_files): (Option<u64>, Option<u64>) = tx
        .prepare_cached("SELECT max_bytes, max_files FROM follows WHERE follow_id = ?1")?
        .query_row([follow], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (waiting, waiting_bytes, reason) = tx
        .prepare_cached(
            "SELECT count(*), coalesce(sum(t.total_size), 0), max(t.over_limit)
             FROM torrents t WHERE t.over_limit IS NOT NULL AND t.reserved = 0
               AND t.error IS NULL AND t.infohash IN
                 (SELECT ft.infohash FROM follow_feeds ff JOIN feed_torrents ft USING (feed_id)
                  WHERE ff.follow_id = ?1)",
        )?
        .query_row([follow], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(FollowCaps {
        caps: Caps {
            max_bytes,
            max_files,
        },
        used: follow_usage(tx, follow)?,
        waiting,
        waiting_bytes,
        reason,
    })
}

fn total_usage(tx: &Transaction) -> JobResult<Usage> {
    Ok(tx
        .prepare_cached(
            "SELECT coalesce(sum(total_size), 0), coalesce(sum(file_count), 0)
             FROM torrents WHERE reserved = 1",
        )?
        .query_row([], |r| {
            Ok(Usage {
                bytes: r.get(0)?,
                files: r.get(1)?,
            })
        })?)
}

fn follow_usage(tx: &Transaction, follow: i64) -> JobResult<Usage> {
    Ok(tx
        .prepare_cached(
            "SELECT coalesce(sum(t.total_size), 0), coalesce(sum(t.file_count), 0)
             FROM torrents t WHERE t.reserved = 1 AND t.infohash IN
                 (SELECT ft.infohash FROM follow_feeds ff JOIN feed_torrents ft USING (feed_id)
                  WHERE ff.follow_id = ?1)",
        )?
        .query_row([follow], |r| {
            Ok(Usage {
                bytes: r.get(0)?,
                files: r.get(1)?,
            })
        })?)
}

/// A capped follow covering a torrent.
struct CappedFollow {
    id: i64,
    label: String,
    caps: Caps,
}

/// Admits torrents in one transaction, keeping the usage it summed up to date as it goes.
struct Admitter<'a> {
    tx: &'a Transaction<'a>,
    node_caps: Caps,
    total: Usage,
    follows: HashMap<i64, Usage>,
}

impl<'a> Admitter<'a> {
    fn new(tx: &'a Transaction<'a>, node_caps: Caps) -> JobResult<Admitter<'a>> {
        Ok(Admitter {
            tx,
            node_caps,
            total: total_usage(tx)?,
            follows: HashMap::new(),
        })
    }

    fn admit(&mut self, infohash: InfoHash) -> JobResult<Admission> {
        let row: Option<(String, bool, Option<String>, u64, u64)> = self
            .tx
            .prepare_cached(
                "SELECT origin, reserved, error, total_size, file_count FROM torrents
                 WHERE infohash = ?1",
            )?
            .query_row([infohash.0], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((origin, reserved, error, bytes, files)) = row else {
            return Ok(Admission::Skipped);
        };
        if origin == "published" {
            return Ok(Admission::Published);
        }
        if reserved {
            return Ok(Admission::AlreadyReserved);
        }
        if error.is_some() {
            return Ok(Admission::Skipped);
        }
        let need = Usage { bytes, files };
        let capped = self.capped_follows(&infohash)?;
        // The follows' own caps first: they are the more specific reason.
        let mut refusal = None;
        for follow in &capped {
            let used = match self.follows.get(&follow.id) {
                Some(used) => *used,
                None => {
                    let used = follow_usage(self.tx, follow.id)?;
                    self.follows.insert(follow.id, used);
                    used
                }
            };
            refusal = check(&format!("follow {}", follow.label), follow.caps, used, need);
            if refusal.is_some() {
                break;
            }
        }
        let refusal = refusal.or_else(|| check("node", self.node_caps, self.total, need));
        if let Some(reason) = refusal {
            self.tx
                .prepare_cached("UPDATE torrents SET over_limit = ?2 WHERE infohash = ?1")?
                .execute(params![infohash.0, reason])?;
            return Ok(Admission::OverLimit(reason));
        }
        self.tx
            .prepare_cached(
                "UPDATE torrents SET reserved = 1, over_limit = NULL WHERE infohash = ?1",
            )?
            .execute([infohash.0])?;
        self.total = add(self.total, need);
        // Every follow naming it now counts it, capped or not (caps of uncapped follows
        // are not checked, so their usage need not be cached).
        for follow in capped {
            if let Some(used) = self.follows.get_mut(&follow.id) {
                *used = add(*used, need);
            }
        }
        Ok(Admission::Reserved)
    }

    fn capped_follows(&self, infohash: &InfoHash) -> JobResult<Vec<CappedFollow>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT fo.follow_id, i.key, fo.feed, fo.max_bytes, fo.max_files
             FROM feed_torrents ft JOIN follow_feeds ff USING (feed_id)
             JOIN follows fo USING (follow_id) JOIN identities i ON i.identity_id = fo.identity_id
             WHERE ft.infohash = ?1 AND (fo.max_bytes IS NOT NULL OR fo.max_files IS NOT NULL)",
        )?;
        let rows = stmt.query_map([infohash.0], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<u64>>(3)?,
                r.get::<_, Option<u64>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, key, feed, max_bytes, max_files) = row?;
            let key = decode_key(&key)?;
            let label = if feed.is_empty() {
                key.to_string()
            } else {
                format!("{key}/{}", decode_feed_name(&feed)?)
            };
            out.push(CappedFollow {
                id,
                label,
                caps: Caps {
                    max_bytes,
                    max_files,
                },
            });
        }
        Ok(out)
    }
}

fn add(a: Usage, b: Usage) -> Usage {
    Usage {
        bytes: a.bytes.saturating_add(b.bytes),
        files: a.files.saturating_add(b.files),
    }
}

/// Why `need` does not fit under `caps` with `used` already counted, if it does not.
fn check(who: &str, caps: Caps, used: Usage, need: Usage) -> Option<String> {
    if let Some(max) = caps.max_bytes
        && used.bytes.saturating_add(need.bytes) > max
    {
        return Some(format!(
            "{who} max_bytes {}: needs {}, {} of it used",
            ::feeds::size::format_size(max),
            ::feeds::size::format_size(need.bytes),
            ::feeds::size::format_size(used.bytes)
        ));
    }
    if let Some(max) = caps.max_files
        && used.files.saturating_add(need.files) > max
    {
        return Some(format!(
            "{who} max_files {max}: needs {} files, {} of them used",
            need.files, used.files
        ));
    }
    None
}
