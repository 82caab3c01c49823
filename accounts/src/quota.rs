//! Per-user upload quota bookkeeping: uploads through the gateway are copies on its disk
//! (unlike CLI publishing, which seeds files where they lie), so each user has a quota of
//! bytes (`upload_quota_bytes`, or set per user by an admin). The gateway charges before it
//! stores and refunds what it does not keep.

use rusqlite::params;

use crate::Accounts;
use crate::error::{Error, Result};
use crate::users::{self, Actor, UserId};

/// A user's upload usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadUsage {
    /// Bytes charged.
    pub used: u64,
    /// The user's quota.
    pub quota: u64,
}

impl Accounts {
    /// The user's usage and quota.
    pub async fn upload_usage(&self, user: UserId) -> Result<UploadUsage> {
        let default = self.inner.upload_quota_bytes;
        self.inner
            .db
            .tx("upload usage", move |tx| {
                let (used, quota): (i64, Option<i64>) = tx
                    .query_row(
                        "SELECT uploaded_bytes, upload_quota FROM users WHERE id = ?1",
                        params![user.0],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(|_| Error::UnknownUser(user.0.to_string()))?;
                Ok(UploadUsage {
                    used: used.max(0) as u64,
                    quota: quota.map_or(default, |q| q.max(0) as u64),
                })
            })
            .await
    }

    /// Charges `bytes` to the user if the quota allows it, atomically.
    pub async fn charge_upload(&self, user: UserId, bytes: u64) -> Result<UploadUsage> {
        let default = self.inner.upload_quota_bytes as i64;
        let requested = i64::try_from(bytes).map_err(|_| Error::QuotaExceeded {
            used: 0,
            quota: 0,
            requested: bytes,
        })?;
        self.inner
            .db
            .tx("charge upload", move |tx| {
                let changed = tx
                    .execute(
                        "UPDATE users SET uploaded_bytes = uploaded_bytes + ?1
                         WHERE id = ?2 AND uploaded_bytes + ?1 <= COALESCE(upload_quota, ?3)",
                        params![requested, user.0, default],
                    )
                    .map_err(Error::db("charge upload"))?;
                let (used, quota): (i64, Option<i64>) = tx
                    .query_row(
                        "SELECT uploaded_bytes, upload_quota FROM users WHERE id = ?1",
                        params![user.0],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(|_| Error::UnknownUser(user.0.to_string()))?;
                let usage = UploadUsage {
                    used: used as u64,
                    quota: quota.unwrap_or(default) as u64,
                };
                if changed == 0 {
                    return Err(Error::QuotaExceeded {
                        used: usage.used,
                        quota: usage.quota,
                        requested: bytes,
                    });
                }
                Ok(usage)
            })
            .await
    }

    /// Gives back bytes charged for an upload that was not kept.
    pub async fn refund_upload(&self, user: UserId, bytes: u64) -> Result<()> {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.inner
            .db
            .tx("refund upload", move |tx| {
                tx.execute(
                    "UPDATE users SET uploaded_bytes = MAX(0, uploaded_bytes - ?1) WHERE id = ?2",
                    params![bytes, user.0],
                )
                .map_err(Error::db("refund upload"))?;
                Ok(())
            })
            .await
    }

    /// Sets a user's quota (`None`: back to the configured default); admins only.
    pub async fn set_upload_quota(
        &self,
        actor: Actor,
        user: UserId,
        quota: Option<u64>,
    ) -> Result<()> {
        let quota = quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
        self.inner
            .db
            .tx("set quota", move |tx| {
                if !users::is_admin(tx, actor)? {
                    return Err(Error::Forbidden("admins only"));
                }
                tx.execute(
                    "UPDATE users SET upload_quota = ?1 WHERE id = ?2",
                    params![quota, user.0],
                )
                .map_err(Error::db("set quota"))?;
                Ok(())
            })
            .await
    }
}
