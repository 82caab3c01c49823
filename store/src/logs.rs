//! The feed log as torrents: each feed's sealed segments and its current tail, with their
//! bytes, so this node can serve any of them by infohash and stand in for the publisher.

use rusqlite::{OptionalExtension, params};

use ::feeds::{FeedName, IdentityKey, InfoHash};

use super::{
    JobResult, Result, Store, corrupt, decode_feed_name, decode_key, ensure_feed, feed_id,
};

/// Which part of a feed log a torrent holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogPart {
    /// Sealed segment `index` (0-based); never changes.
    Segment(u64),
    /// The tail; replaced on every append.
    Tail,
}

/// A stored log torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTorrent {
    pub identity: IdentityKey,
    pub feed: FeedName,
    pub part: LogPart,
    pub infohash: InfoHash,
    /// The file the torrent holds (`l<entry>…e`, or the tail's dictionary).
    pub bytes: Vec<u8>,
}

impl LogPart {
    fn columns(self) -> (&'static str, u64) {
        match self {
            LogPart::Segment(index) => ("segment", index),
            LogPart::Tail => ("tail", 0),
        }
    }
}

impl Store {
    /// Stores a log torrent's bytes, replacing what that part held (the previous tail).
    pub async fn put_log_torrent(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        part: LogPart,
        infohash: &InfoHash,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let (key, feed, infohash) = (*identity, feed.clone(), *infohash);
        self.write("put_log_torrent", move |tx| {
            let id = ensure_feed(tx, &key, &feed)?;
            let (kind, index) = part.columns();
            tx.prepare_cached(
                "INSERT INTO log_torrents (feed_id, kind, idx, infohash, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (feed_id, kind, idx) DO UPDATE
                 SET infohash = excluded.infohash, bytes = excluded.bytes",
            )?
            .execute(params![id, kind, index, infohash.0, bytes])?;
            Ok(())
        })
        .await
    }

    /// One part of a feed's log.
    pub async fn log_torrent(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        part: LogPart,
    ) -> Result<Option<LogTorrent>> {
        let (key, feed) = (*identity, feed.clone());
        self.read("log_torrent", move |tx| {
            let Some(id) = feed_id(tx, &key, &feed)? else {
                return Ok(None);
            };
            let (kind, index) = part.columns();
            let row: Option<([u8; 20], Vec<u8>)> = tx
                .prepare_cached(
                    "SELECT infohash, bytes FROM log_torrents
                     WHERE feed_id = ?1 AND kind = ?2 AND idx = ?3",
                )?
                .query_row(params![id, kind, index], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(row.map(|(infohash, bytes)| LogTorrent {
                identity: key,
                feed,
                part,
                infohash: InfoHash(infohash),
                bytes,
            }))
        })
        .await
    }

    /// The log torrent with this infohash, whichever feed it belongs to.
    pub async fn log_torrent_by_infohash(&self, infohash: &InfoHash) -> Result<Option<LogTorrent>> {
        let infohash = *infohash;
        self.read("log_torrent_by_infohash", move |tx| {
            let row: Option<LogRow> = tx
                .prepare_cached(
                    "SELECT i.key, f.name, l.kind, l.idx, l.bytes FROM log_torrents l
                     JOIN feeds f USING (feed_id) JOIN identities i USING (identity_id)
                     WHERE l.infohash = ?1 LIMIT 1",
                )?
                .query_row([infohash.0], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let Some((key, name, kind, index, bytes)) = row else {
                return Ok(None);
            };
            Ok(Some(LogTorrent {
                identity: decode_key(&key)?,
                feed: decode_feed_name(&name)?,
                part: part_of(&kind, index)?,
                infohash,
                bytes,
            }))
        })
        .await
    }

    /// Whether a torrent is one of the log parts the store holds (a sealed segment or a
    /// current tail) — a replaced tail is not.
    pub async fn is_log_torrent(&self, infohash: &InfoHash) -> Result<bool> {
        let infohash = *infohash;
        self.read("is_log_torrent", move |tx| {
            Ok(tx
                .prepare_cached("SELECT 1 FROM log_torrents WHERE infohash = ?1 LIMIT 1")?
                .query_row([infohash.0], |_| Ok(()))
                .optional()?
                .is_some())
        })
        .await
    }

    /// The infohashes of a feed's sealed segments, in order.
    pub async fn log_segments(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<Vec<(u64, InfoHash)>> {
        let (key, feed) = (*identity, feed.clone());
        self.read("log_segments", move |tx| {
            let Some(id) = feed_id(tx, &key, &feed)? else {
                return Ok(Vec::new());
            };
            let mut stmt = tx.prepare_cached(
                "SELECT idx, infohash FROM log_torrents
                 WHERE feed_id = ?1 AND kind = 'segment' ORDER BY idx",
            )?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, InfoHash(r.get(1)?))))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

/// Identity key, feed name, kind, index and bytes of a log torrent.
type LogRow = (Vec<u8>, String, String, u64, Vec<u8>);

fn part_of(kind: &str, index: u64) -> JobResult<LogPart> {
    match kind {
        "segment" => Ok(LogPart::Segment(index)),
        "tail" => Ok(LogPart::Tail),
        other => Err(corrupt("log torrent kind", other)),
    }
}
