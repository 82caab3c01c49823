//! Identities we know, with the latest identity record each has published.

use rusqlite::{OptionalExtension, params};

use ::feeds::{IdentityKey, SignedIdentityRecord};

use super::{HeadChange, JobResult, Result, Store, corrupt, ensure_identity, now};

/// What the store holds about an identity.
#[derive(Clone, Debug)]
pub struct IdentityInfo {
    pub key: IdentityKey,
    /// The latest identity record stored, if any.
    pub record: Option<SignedIdentityRecord>,
    /// Unix seconds when the identity was first stored.
    pub first_seen: u64,
    /// Unix seconds when a record or head of it was last stored.
    pub last_seen: u64,
}

impl Store {
    /// Stores `record` if its seq is higher than the stored one's (compare-and-set).
    pub async fn put_identity_record(&self, record: &SignedIdentityRecord) -> Result<HeadChange> {
        let (key, seq, bytes) = (record.identity(), record.item().seq(), record.encode());
        self.write("put_identity_record", move |tx| {
            let id = ensure_identity(tx, &key)?;
            let changed = tx
                .prepare_cached(
                    "UPDATE identities SET record = ?2, record_seq = ?3, last_seen = ?4
                     WHERE identity_id = ?1 AND (record_seq IS NULL OR record_seq < ?3)",
                )?
                .execute(params![id, bytes, seq, now()])?;
            if changed == 1 {
                return Ok(HeadChange::Newer);
            }
            let stored: i64 = tx
                .prepare_cached("SELECT record_seq FROM identities WHERE identity_id = ?1")?
                .query_row([id], |r| r.get(0))?;
            Ok(HeadChange::compare(seq, stored))
        })
        .await
    }

    /// The latest identity record stored for `key`.
    pub async fn identity_record(&self, key: &IdentityKey) -> Result<Option<SignedIdentityRecord>> {
        Ok(self.identity(key).await?.and_then(|info| info.record))
    }

    /// Everything stored about `key`.
    pub async fn identity(&self, key: &IdentityKey) -> Result<Option<IdentityInfo>> {
        let key = *key;
        self.read("identity", move |tx| {
            let row = tx
                .prepare_cached(
                    "SELECT record, first_seen, last_seen FROM identities WHERE key = ?1",
                )?
                .query_row([key.as_bytes()], |r| {
                    Ok((r.get::<_, Option<Vec<u8>>>(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let Some((record, first_seen, last_seen)) = row else {
                return Ok(None);
            };
            Ok(Some(IdentityInfo {
                key,
                record: record.map(|b| decode_record(&key, &b)).transpose()?,
                first_seen,
                last_seen,
            }))
        })
        .await
    }
}

fn decode_record(key: &IdentityKey, bytes: &[u8]) -> JobResult<SignedIdentityRecord> {
    SignedIdentityRecord::decode(bytes).map_err(|e| corrupt(format!("identity record of {key}"), e))
}
