//! What the node holds, summed for the status page: torrents by origin, bytes, how far the
//! scrub has come, and the torrents with an error or waiting over a cap. Aggregates over
//! the `torrents` table: one pass, no per-torrent round trips.

use rusqlite::params;

use ::feeds::InfoHash;

use super::{Result, Store, corrupt};

/// Sums over every stored content torrent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    pub torrents: u64,
    pub published: u64,
    pub complete: u64,
    pub total_bytes: u64,
    pub have_bytes: u64,
    /// Complete torrents verified whole at or after the cutoff asked for.
    pub verified_recently: u64,
    /// Complete torrents never verified whole since they were added.
    pub never_verified: u64,
    /// Unix seconds of the oldest and newest full verification.
    pub oldest_verified: Option<u64>,
    pub newest_verified: Option<u64>,
    /// Torrents stopped by an error, and torrents waiting over a disk cap.
    pub errors: u64,
    pub over_limit: u64,
}

/// A torrent with a problem: its error, or why it waits over a cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentProblem {
    pub infohash: InfoHash,
    pub name: String,
    pub problem: String,
}

impl Store {
    /// The sums, counting as recently verified what was verified at or after `cutoff`.
    pub async fn holdings(&self, cutoff: u64) -> Result<Holdings> {
        self.read("holdings", move |tx| {
            Ok(tx
                .prepare_cached(
                    "SELECT count(*), coalesce(sum(origin = 'published'), 0),
                        coalesce(sum(complete), 0), coalesce(sum(total_size), 0),
                        coalesce(sum(have_bytes), 0),
                        coalesce(sum(complete AND last_verified >= ?1), 0),
                        coalesce(sum(complete AND last_verified IS NULL), 0),
                        min(last_verified), max(last_verified),
                        coalesce(sum(error IS NOT NULL), 0),
                        coalesce(sum(over_limit IS NOT NULL), 0)
                     FROM torrents",
                )?
                .query_row(params![cutoff], |r| {
                    Ok(Holdings {
                        torrents: r.get(0)?,
                        published: r.get(1)?,
                        complete: r.get(2)?,
                        total_bytes: r.get(3)?,
                        have_bytes: r.get(4)?,
                        verified_recently: r.get(5)?,
                        never_verified: r.get(6)?,
                        oldest_verified: r.get(7)?,
                        newest_verified: r.get(8)?,
                        errors: r.get(9)?,
                        over_limit: r.get(10)?,
                    })
                })?)
        })
        .await
    }

    /// Up to `limit` torrents with an error or waiting over a cap, errors first.
    pub async fn torrent_problems(&self, limit: u32) -> Result<Vec<TorrentProblem>> {
        self.read("torrent_problems", move |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT infohash, name, coalesce(error, over_limit) FROM torrents
                 WHERE error IS NOT NULL OR over_limit IS NOT NULL
                 ORDER BY error IS NULL, added_at LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (infohash, name, problem) = row?;
                let infohash = <[u8; 20]>::try_from(infohash.as_slice())
                    .map_err(|_| corrupt("torrent infohash", "not 20 bytes"))?;
                out.push(TorrentProblem {
                    infohash: InfoHash(infohash),
                    name,
                    problem,
                });
            }
            Ok(out)
        })
        .await
    }
}
