//! Identity record extensions (docs/feed-format.md): signed BEP 44 items under an
//! identity's key and the salt `@<name>`, the newest of each kept. The caller checks an
//! item (signature, salt, value) before it stores it, as for heads and records.

use rusqlite::{OptionalExtension, params};

use ::feeds::{IdentityKey, MutableItem};

use super::{HeadChange, JobResult, Result, Store, corrupt, ensure_identity, now};

impl Store {
    /// Stores extension item `item` under `name` if its seq is higher than the stored
    /// one's (compare-and-set).
    pub async fn put_extension(&self, name: &str, item: &MutableItem) -> Result<HeadChange> {
        let (key, name, seq, bytes) = (item.key(), name.to_owned(), item.seq(), item.encode());
        self.write("put_extension", move |tx| {
            let id = ensure_identity(tx, &key)?;
            let changed = tx
                .prepare_cached(
                    "INSERT INTO identity_extensions (identity_id, name, seq, item)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (identity_id, name) DO UPDATE SET seq = ?3, item = ?4
                     WHERE seq < ?3",
                )?
                .execute(params![id, name, seq, bytes])?;
            if changed == 1 {
                tx.prepare_cached("UPDATE identities SET last_seen = ?2 WHERE identity_id = ?1")?
                    .execute(params![id, now()])?;
                return Ok(HeadChange::Newer);
            }
            let stored: i64 = tx
                .prepare_cached(
                    "SELECT seq FROM identity_extensions WHERE identity_id = ?1 AND name = ?2",
                )?
                .query_row(params![id, name], |r| r.get(0))?;
            Ok(HeadChange::compare(seq, stored))
        })
        .await
    }

    /// The newest stored item of `key`'s extension `name`.
    pub async fn extension(&self, key: &IdentityKey, name: &str) -> Result<Option<MutableItem>> {
        let (key, name) = (*key, name.to_owned());
        self.read("extension", move |tx| {
            let bytes: Option<Vec<u8>> = tx
                .prepare_cached(
                    "SELECT x.item FROM identity_extensions x
                     JOIN identities i USING (identity_id)
                     WHERE i.key = ?1 AND x.name = ?2",
                )?
                .query_row(params![key.as_bytes(), name], |r| r.get(0))
                .optional()?;
            bytes.map(|b| decode(&key, &name, &b)).transpose()
        })
        .await
    }

    /// Every stored extension item of `key`, by name.
    pub async fn extensions(&self, key: &IdentityKey) -> Result<Vec<(String, MutableItem)>> {
        let key = *key;
        self.read("extensions", move |tx| {
            let rows = tx
                .prepare_cached(
                    "SELECT x.name, x.item FROM identity_extensions x
                     JOIN identities i USING (identity_id)
                     WHERE i.key = ?1 ORDER BY x.name",
                )?
                .query_map([key.as_bytes()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(name, bytes)| Ok((name.clone(), decode(&key, &name, &bytes)?)))
                .collect()
        })
        .await
    }
}

fn decode(key: &IdentityKey, name: &str, bytes: &[u8]) -> JobResult<MutableItem> {
    MutableItem::decode(bytes).map_err(|e| corrupt(format!("extension {name} of {key}"), e))
}
