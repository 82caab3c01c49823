//! Nodes we know by their HTTP base URL: those that pushed heads to us or serve a feed, so
//! that feed logs can be fetched from them.

use rusqlite::{OptionalExtension, Transaction, params};

use ::feeds::{FeedName, IdentityKey};

use super::{JobResult, Result, Store, ensure_feed, feed_id, now};

/// Registrations not renewed for this long no longer count, and make room for others.
pub const REGISTRATION_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// What a follower registration did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registered {
    /// A new registration.
    New,
    /// The node was registered (or known to serve the feed) already: renewed.
    Renewed,
    /// The feed has `per_feed` live registrations already.
    FeedFull,
    /// The node has `total` live registrations already.
    NodeFull,
}

/// A known node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownNode {
    /// Its HTTP base URL.
    pub url: String,
    /// Unix seconds when it was last seen (for a feed: last seen serving it).
    pub last_seen: u64,
}

impl Store {
    /// Records that the node at `url` was seen now, serving `feed` if given.
    pub async fn note_node(
        &self,
        url: &str,
        feed: Option<(&IdentityKey, &FeedName)>,
    ) -> Result<()> {
        let url = url.to_owned();
        let feed = feed.map(|(key, name)| (*key, name.clone()));
        self.write("note_node", move |tx| {
            let now = now();
            let node = upsert_node(tx, &url, now)?;
            if let Some((key, name)) = feed {
                let feed = ensure_feed(tx, &key, &name)?;
                tx.prepare_cached(
                    "INSERT INTO node_feeds (feed_id, node_id, last_seen) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen",
                )?
                .execute(params![feed, node, now])?;
            }
            Ok(())
        })
        .await
    }

    /// Records that the node at `url` pushed a head of `feed` (the URL checked already): a
    /// `pushed` row until the node answers ([`Store::node_answered`]). A new one makes room
    /// past `per_feed` pushed rows of the feed or `total` in all by dropping the pushed rows
    /// seen longest ago; registered followers and nodes that answered are never dropped.
    pub async fn note_pushed_node(
        &self,
        url: &str,
        identity: &IdentityKey,
        feed: &FeedName,
        per_feed: u32,
        total: u32,
    ) -> Result<()> {
        let (url, key, name) = (url.to_owned(), *identity, feed.clone());
        self.write("note_pushed_node", move |tx| {
            let now = now();
            let feed = ensure_feed(tx, &key, &name)?;
            let node: Option<i64> = tx
                .prepare_cached("SELECT node_id FROM nodes WHERE url = ?1")?
                .query_row([&url], |r| r.get(0))
                .optional()?;
            if let Some(node) = node {
                let renewed = tx
                    .prepare_cached(
                        "UPDATE node_feeds SET last_seen = ?3 WHERE feed_id = ?1 AND node_id = ?2",
                    )?
                    .execute(params![feed, node, now])?;
                tx.prepare_cached("UPDATE nodes SET last_seen = ?2 WHERE node_id = ?1")?
                    .execute(params![node, now])?;
                if renewed == 1 {
                    return Ok(());
                }
            }
            let on_feed: u32 = tx
                .prepare_cached("SELECT count(*) FROM node_feeds WHERE feed_id = ?1 AND pushed = 1")?
                .query_row([feed], |r| r.get(0))?;
            let mut dropped: Vec<i64> = Vec::new();
            if on_feed >= per_feed {
                dropped.extend(drop_oldest_pushed(
                    tx,
                    Some(feed),
                    on_feed + 1 - per_feed.max(1),
                )?);
            }
            let all: u32 = tx
                .prepare_cached("SELECT count(*) FROM node_feeds WHERE pushed = 1")?
                .query_row([], |r| r.get(0))?;
            if all >= total {
                dropped.extend(drop_oldest_pushed(tx, None, all + 1 - total.max(1))?);
            }
            // A dropped node that nothing else names goes too: the table stays bounded.
            for node in dropped {
                tx.prepare_cached(
                    "DELETE FROM nodes WHERE node_id = ?1
                     AND NOT EXISTS (SELECT 1 FROM node_feeds WHERE node_id = ?1)",
                )?
                .execute([node])?;
            }
            let node = upsert_node(tx, &url, now)?;
            tx.prepare_cached(
                "INSERT INTO node_feeds (feed_id, node_id, last_seen, pushed) VALUES (?1, ?2, ?3, 1)",
            )?
            .execute(params![feed, node, now])?;
            Ok(())
        })
        .await
    }

    /// The node at `url` served a valid head of `feed`: a pushed row of it counts as proven
    /// from now on. Writes only when there is such a row (a write moves the store's
    /// generation, and with it the gateway's cached pages).
    pub async fn node_answered(
        &self,
        url: &str,
        identity: &IdentityKey,
        feed: &FeedName,
    ) -> Result<()> {
        let (url, key, name) = (url.to_owned(), *identity, feed.clone());
        let pushed = {
            let (url, name) = (url.clone(), name.clone());
            self.read("node_pushed", move |tx| {
                let Some(feed) = feed_id(tx, &key, &name)? else {
                    return Ok(false);
                };
                Ok(tx
                    .prepare_cached(
                        "SELECT 1 FROM node_feeds nf JOIN nodes n USING (node_id)
                         WHERE nf.feed_id = ?1 AND n.url = ?2 AND nf.pushed = 1",
                    )?
                    .exists(params![feed, url])?)
            })
            .await?
        };
        if !pushed {
            return Ok(());
        }
        self.write("node_answered", move |tx| {
            let Some(feed) = feed_id(tx, &key, &name)? else {
                return Ok(());
            };
            tx.prepare_cached(
                "UPDATE node_feeds SET pushed = 0, last_seen = ?3
                 WHERE feed_id = ?1 AND node_id = (SELECT node_id FROM nodes WHERE url = ?2)",
            )?
            .execute(params![feed, url, now()])?;
            Ok(())
        })
        .await
    }

    /// Nodes seen serving the feed: registered followers and nodes that answered first, then
    /// those known only from a push; most recently seen first within each.
    pub async fn nodes_serving(
        &self,
        identity: &IdentityKey,
        feed: &FeedName,
        limit: u32,
    ) -> Result<Vec<KnownNode>> {
        let (key, feed) = (*identity, feed.clone());
        self.read("nodes_serving", move |tx| {
            let Some(id) = feed_id(tx, &key, &feed)? else {
                return Ok(Vec::new());
            };
            let mut stmt = tx.prepare_cached(
                "SELECT n.url, nf.last_seen FROM node_feeds nf JOIN nodes n USING (node_id)
                 WHERE nf.feed_id = ?1 ORDER BY nf.pushed, nf.last_seen DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![id, limit], |r| {
                Ok(KnownNode {
                    url: r.get(0)?,
                    last_seen: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// The most recently seen nodes.
    pub async fn known_nodes(&self, limit: u32) -> Result<Vec<KnownNode>> {
        self.read("known_nodes", move |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT url, last_seen FROM nodes ORDER BY last_seen DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], |r| {
                Ok(KnownNode {
                    url: r.get(0)?,
                    last_seen: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Registers the node at `url` as a follower of `feed` (it wants pushed heads): renews
    /// an existing registration, else adds one if the feed has fewer than `per_feed` and
    /// the node fewer than `total`, counting only registrations renewed within
    /// [`REGISTRATION_LIFETIME_SECS`] (older ones are dropped).
    pub async fn register_follower(
        &self,
        url: &str,
        identity: &IdentityKey,
        feed: &FeedName,
        per_feed: u32,
        total: u32,
    ) -> Result<Registered> {
        let (url, key, name) = (url.to_owned(), *identity, feed.clone());
        self.write("register_follower", move |tx| {
            let now = now();
            let feed = ensure_feed(tx, &key, &name)?;
            let node: Option<i64> = tx
                .prepare_cached("SELECT node_id FROM nodes WHERE url = ?1")?
                .query_row([&url], |r| r.get(0))
                .optional()?;
            if let Some(node) = node {
                let renewed = tx
                    .prepare_cached(
                        "UPDATE node_feeds SET last_seen = ?3
                         WHERE feed_id = ?1 AND node_id = ?2 AND pushed = 0",
                    )?
                    .execute(params![feed, node, now])?;
                if renewed == 1 {
                    tx.prepare_cached("UPDATE nodes SET last_seen = ?2 WHERE node_id = ?1")?
                        .execute(params![node, now])?;
                    return Ok(Registered::Renewed);
                }
            }
            let stale = now.saturating_sub(REGISTRATION_LIFETIME_SECS);
            tx.prepare_cached("DELETE FROM node_feeds WHERE feed_id = ?1 AND last_seen < ?2")?
                .execute(params![feed, stale])?;
            // Pushed rows have caps of their own (`note_pushed_node`).
            let on_feed: u32 = tx
                .prepare_cached(
                    "SELECT count(*) FROM node_feeds WHERE feed_id = ?1 AND pushed = 0",
                )?
                .query_row([feed], |r| r.get(0))?;
            if on_feed >= per_feed {
                return Ok(Registered::FeedFull);
            }
            let all: u32 = tx
                .prepare_cached(
                    "SELECT count(*) FROM node_feeds WHERE last_seen >= ?1 AND pushed = 0",
                )?
                .query_row([stale], |r| r.get(0))?;
            if all >= total {
                return Ok(Registered::NodeFull);
            }
            let node = upsert_node(tx, &url, now)?;
            // A node known from a push that registers becomes a follower like any other.
            tx.prepare_cached(
                "INSERT INTO node_feeds (feed_id, node_id, last_seen) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen, pushed = 0",
            )?
            .execute(params![feed, node, now])?;
            Ok(Registered::New)
        })
        .await
    }
}

/// The id of the node at `url`, recorded (or its `last_seen` moved) as seen `now`.
fn upsert_node(tx: &Transaction, url: &str, now: u64) -> JobResult<i64> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO nodes (url, first_seen, last_seen) VALUES (?1, ?2, ?2)
             ON CONFLICT (url) DO UPDATE SET last_seen = excluded.last_seen
             RETURNING node_id",
        )?
        .query_row(params![url, now], |r| r.get(0))?)
}

/// Drops the `count` pushed rows seen longest ago, of feed `feed` or of any feed; the
/// nodes they named.
fn drop_oldest_pushed(tx: &Transaction, feed: Option<i64>, count: u32) -> JobResult<Vec<i64>> {
    // Two statements rather than one with `?1 IS NULL OR`: each keeps its own plan.
    let dropped = match feed {
        Some(feed) => tx
            .prepare_cached(
                "DELETE FROM node_feeds WHERE (feed_id, node_id) IN
                 (SELECT feed_id, node_id FROM node_feeds WHERE feed_id = ?1 AND pushed = 1
                  ORDER BY last_seen LIMIT ?2)
                 RETURNING node_id",
            )?
            .query_map(params![feed, count], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?,
        None => tx
            .prepare_cached(
                "DELETE FROM node_feeds WHERE (feed_id, node_id) IN
                 (SELECT feed_id, node_id FROM node_feeds WHERE pushed = 1
                  ORDER BY last_seen LIMIT ?1)
                 RETURNING node_id",
            )?
            .query_map([count], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?,
    };
    Ok(dropped)
}
