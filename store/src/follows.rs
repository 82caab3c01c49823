//! Follows: `KEY/FEED` follows one feed, a bare `KEY` every feed of the identity's record
//! (expanded into the feeds it names as the record becomes known). Status sums come from
//! `feeds.verified_seq` and the distinct torrents of the covered feeds (`feed_torrents`):
//! bounded by the torrents held, never a pass over entries.

use rusqlite::{OptionalExtension, Transaction, params};

use ::feeds::{FeedName, IdentityKey, InfoHash, SignedIdentityRecord};

use super::limits::{FollowCaps, follow_caps};
use super::{
    JobResult, Result, Store, corrupt, decode_feed_name, decode_key, ensure_feed, ensure_identity,
    identity_id, now,
};

/// A follow with its status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowStatus {
    pub identity: IdentityKey,
    /// `None` follows every feed of the identity.
    pub feed: Option<FeedName>,
    /// Unix seconds.
    pub added_at: u64,
    /// Unix seconds of the last update attempt, and its error if it failed.
    pub last_update: Option<u64>,
    pub last_error: Option<String>,
    /// The feeds covered, each with its problem (frozen or failing), if any.
    pub feeds: Vec<(FeedName, Option<String>)>,
    /// Verified entries stored, over the covered feeds.
    pub entries: u64,
    /// Distinct content torrents the covered feeds name, and how many are complete.
    pub torrents: u64,
    pub complete: u64,
    /// Bytes held and bytes named, over the known torrents.
    pub have_bytes: u64,
    pub total_bytes: u64,
    /// Its disk caps, what counts against them, and what waits over them.
    pub limits: FollowCaps,
}

/// What an unfollow did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unfollowed {
    /// Whether such a follow existed.
    pub removed: bool,
    /// With `delete`: torrents that only this follow's feeds named (and not published here).
    /// Their rows stay until [`Store::remove_torrent`], once their files are gone.
    pub infohashes: Vec<InfoHash>,
}

impl Store {
    /// Follows one feed, or with `None` every feed of the identity (expanded at once from a
    /// stored identity record). Returns whether the follow is new.
    pub async fn follow(&self, identity: &IdentityKey, feed: Option<&FeedName>) -> Result<bool> {
        let (key, feed) = (*identity, feed.cloned());
        self.write("follow", move |tx| {
            let identity = ensure_identity(tx, &key)?;
            let label = feed
                .as_ref()
                .map_or(String::new(), |f| f.as_str().to_owned());
            let new = tx
                .prepare_cached(
                    "INSERT INTO follows (identity_id, feed, added_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![identity, label, now()])?
                == 1;
            let feeds = match feed {
                Some(feed) => vec![feed],
                None => stored_record_feeds(tx, identity, &key)?,
            };
            link_feeds(tx, &key, identity, &label, &feeds)?;
            Ok(new)
        })
        .await
    }

    /// Records the feeds a bare-key follow of `identity` covers (from its identity record).
    pub async fn expand_follow(&self, identity: &IdentityKey, feeds: &[FeedName]) -> Result<()> {
        let (key, feeds) = (*identity, feeds.to_vec());
        self.write("expand_follow", move |tx| {
            let Some(identity) = identity_id(tx, &key)? else {
                return Ok(());
            };
            link_feeds(tx, &key, identity, "", &feeds)
        })
        .await
    }

    /// Records the outcome of an update of a follow: now, and the error if it failed.
    pub async fn set_follow_result(
        &self,
        identity: &IdentityKey,
        feed: Option<&FeedName>,
        error: Option<&str>,
    ) -> Result<bool> {
        let (key, feed) = (
            *identity,
            feed.map_or(String::new(), |f| f.as_str().to_owned()),
        );
        let error = error.map(str::to_owned);
        self.write("set_follow_result", move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE follows SET last_update = ?3, last_error = ?4
                     WHERE identity_id = (SELECT identity_id FROM identities WHERE key = ?1)
                       AND feed = ?2",
                )?
                .execute(params![key.as_bytes(), feed, now(), error])?;
            Ok(n == 1)
        })
        .await
    }

    /// Stops following. With `delete`, also forgets the feeds no other follow covers (their
    /// entries, logs and heads) and returns the torrents only they named, for the caller to
    /// stop seeding and delete. Torrents published here are never among them (the
    /// publisher keeps its own feeds' logs in its data dir).
    pub async fn unfollow(
        &self,
        identity: &IdentityKey,
        feed: Option<&FeedName>,
        delete: bool,
    ) -> Result<Unfollowed> {
        let (key, feed) = (
            *identity,
            feed.map_or(String::new(), |f| f.as_str().to_owned()),
        );
        self.write("unfollow", move |tx| unfollow(tx, &key, &feed, delete))
            .await
    }

    /// Whether a follow covers the feed (a bare-key follow covers every feed of its identity).
    pub async fn is_followed(&self, identity: &IdentityKey, feed: &FeedName) -> Result<bool> {
        let (key, feed) = (*identity, feed.clone());
        self.read("is_followed", move |tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM follows
                     WHERE identity_id = (SELECT identity_id FROM identities WHERE key = ?1)
                       AND feed IN ('', ?2))",
                )?
                .query_row(params![key.as_bytes(), feed.as_str()], |r| r.get(0))?)
        })
        .await
    }

    /// Every follow with its status.
    pub async fn follows(&self) -> Result<Vec<FollowStatus>> {
        self.read("follows", |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT fo.follow_id, i.key, fo.feed, fo.added_at, fo.last_update, fo.last_error
                 FROM follows fo JOIN identities i USING (identity_id) ORDER BY fo.follow_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, key, feed, added_at, last_update, last_error) = row?;
                let mut status = FollowStatus {
                    identity: decode_key(&key)?,
                    feed: (!feed.is_empty())
                        .then(|| decode_feed_name(&feed))
                        .transpose()?,
                    added_at,
                    last_update,
                    last_error,
                    feeds: Vec::new(),
                    entries: 0,
                    torrents: 0,
                    complete: 0,
                    have_bytes: 0,
                    total_bytes: 0,
                    limits: follow_caps(tx, id)?,
                };
                add_feeds(tx, id, &mut status)?;
                add_torrents(tx, id, &mut status)?;
                out.push(status);
            }
            Ok(out)
        })
        .await
    }

    /// Every feed some follow covers.
    pub async fn followed_feeds(&self) -> Result<Vec<(IdentityKey, FeedName)>> {
        self.read("followed_feeds", |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT i.key, f.name FROM feeds f JOIN identities i USING (identity_id)
                 WHERE EXISTS (SELECT 1 FROM follow_feeds ff WHERE ff.feed_id = f.feed_id)
                 ORDER BY f.feed_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })?;
            rows.map(|row| {
                let (key, name) = row?;
                Ok((decode_key(&key)?, decode_feed_name(&name)?))
            })
            .collect()
        })
        .await
    }
}

/// Links the feeds to the identity's follow with `feed` label, if that follow exists.
fn link_feeds(
    tx: &Transaction,
    key: &IdentityKey,
    identity: i64,
    label: &str,
    feeds: &[FeedName],
) -> JobResult<()> {
    let follow: Option<i64> = tx
        .prepare_cached("SELECT follow_id FROM follows WHERE identity_id = ?1 AND feed = ?2")?
        .query_row(params![identity, label], |r| r.get(0))
        .optional()?;
    let Some(follow) = follow else { return Ok(()) };
    for feed in feeds {
        let feed_id = ensure_feed(tx, key, feed)?;
        tx.prepare_cached(
            "INSERT INTO follow_feeds (follow_id, feed_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![follow, feed_id])?;
    }
    Ok(())
}

fn stored_record_feeds(
    tx: &Transaction,
    identity: i64,
    key: &IdentityKey,
) -> JobResult<Vec<FeedName>> {
    let record: Option<Vec<u8>> = tx
        .prepare_cached("SELECT record FROM identities WHERE identity_id = ?1")?
        .query_row([identity], |r| r.get(0))?;
    let Some(record) = record else {
        return Ok(Vec::new());
    };
    let record = SignedIdentityRecord::decode(&record)
        .map_err(|e| corrupt(format!("identity record of {key}"), e))?;
    Ok(record.record().feeds.clone())
}

fn add_feeds(tx: &Transaction, follow: i64, status: &mut FollowStatus) -> JobResult<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT f.name, f.verified_seq, f.status, f.error FROM follow_feeds ff
         JOIN feeds f USING (feed_id) WHERE ff.follow_id = ?1 ORDER BY f.name",
    )?;
    let rows = stmt.query_map([follow], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, u64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    for row in rows {
        let (name, verified, state, error) = row?;
        let problem = match state.as_str() {
            "frozen" => Some("frozen: a fork proof exists".to_owned()),
            "error" => Some(error.unwrap_or_default()),
            _ => None,
        };
        status.feeds.push((decode_feed_name(&name)?, problem));
        status.entries += verified;
    }
    Ok(())
}

fn add_torrents(tx: &Transaction, follow: i64, status: &mut FollowStatus) -> JobResult<()> {
    let (torrents, complete, have, total) = tx
        .prepare_cached(
            "SELECT count(*), coalesce(sum(t.complete), 0), coalesce(sum(t.have_bytes), 0),
                    coalesce(sum(t.total_size), 0)
             FROM (SELECT DISTINCT ft.infohash FROM follow_feeds ff
                   JOIN feed_torrents ft USING (feed_id) WHERE ff.follow_id = ?1) named
             LEFT JOIN torrents t ON t.infohash = named.infohash",
        )?
        .query_row([follow], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    (
        status.torrents,
        status.complete,
        status.have_bytes,
        status.total_bytes,
    ) = (torrents, complete, have, total);
    Ok(())
}

fn unfollow(
    tx: &Transaction,
    key: &IdentityKey,
    feed: &str,
    delete: bool,
) -> JobResult<Unfollowed> {
    let follow: Option<i64> = tx
        .prepare_cached(
            "SELECT follow_id FROM follows
             WHERE identity_id = (SELECT identity_id FROM identities WHERE key = ?1) AND feed = ?2",
        )?
        .query_row(params![key.as_bytes(), feed], |r| r.get(0))
        .optional()?;
    let Some(follow) = follow else {
        return Ok(Unfollowed::default());
    };
    let feeds: Vec<i64> = tx
        .prepare_cached("SELECT feed_id FROM follow_feeds WHERE follow_id = ?1")?
        .query_map([follow], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    tx.prepare_cached("DELETE FROM follows WHERE follow_id = ?1")?
        .execute([follow])?;
    let mut out = Unfollowed {
        removed: true,
        infohashes: Vec::new(),
    };
    if !delete {
        return Ok(out);
    }
    let mut still_followed =
        tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM follow_feeds WHERE feed_id = ?1)")?;
    let mut named = tx.prepare_cached("SELECT infohash FROM feed_torrents WHERE feed_id = ?1")?;
    let mut candidates = Vec::new();
    for feed_id in feeds {
        if still_followed.query_row([feed_id], |r| r.get(0))? {
            continue;
        }
        let hashes = named.query_map([feed_id], |r| r.get::<_, [u8; 20]>(0))?;
        candidates.extend(hashes.collect::<rusqlite::Result<Vec<_>>>()?);
        // Cascades to entries, feed_torrents, log_torrents and node_feeds.
        tx.prepare_cached("DELETE FROM feeds WHERE feed_id = ?1")?
            .execute([feed_id])?;
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut kept = tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM feed_torrents WHERE infohash = ?1)
             OR EXISTS (SELECT 1 FROM torrents WHERE infohash = ?1 AND origin = 'published')",
    )?;
    for infohash in candidates {
        if !kept.query_row([infohash], |r| r.get::<_, bool>(0))? {
            out.infohashes.push(InfoHash(infohash));
        }
    }
    Ok(out)
}
