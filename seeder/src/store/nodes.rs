//! Nodes we know by their HTTP base URL: those that pushed heads to us or serve a feed, so
//! that feed logs can be fetched from them.

use rusqlite::params;

use ::feeds::{FeedName, IdentityKey};

use super::{Result, Store, ensure_feed, feed_id, now};

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
            let node: i64 = tx
                .prepare_cached(
                    "INSERT INTO nodes (url, first_seen, last_seen) VALUES (?1, ?2, ?2)
                     ON CONFLICT (url) DO UPDATE SET last_seen = excluded.last_seen
                     RETURNING node_id",
                )?
                .query_row(params![url, now], |r| r.get(0))?;
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

    /// Nodes seen serving the feed, most recently seen first.
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
                 WHERE nf.feed_id = ?1 ORDER BY nf.last_seen DESC LIMIT ?2",
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
}
