//! Invitations to sign up (mode `invite`): a code with a number of uses and an expiry,
//! recording who invited whom. Only the code's hash is stored.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::Accounts;
use crate::error::{Error, Result};
use crate::token::{Secret, new_token, token_hash};
use crate::users::{self, Actor, UserId, UserStatus};

/// An invitation as its creator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationInfo {
    /// The invitation's number.
    pub id: i64,
    /// Who created it (`None`: the operator).
    pub created_by: Option<UserId>,
    /// How many sign-ups it allows.
    pub max_uses: u32,
    /// How many it has made.
    pub uses: u32,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// The invitation's id if the code can still be used.
pub(crate) fn usable(tx: &Transaction, code: &str, now: i64) -> Result<i64> {
    tx.query_row(
        "SELECT id FROM invitations WHERE code_hash = ?1 AND uses < max_uses AND expires_at > ?2",
        params![token_hash(code), now],
        |r| r.get(0),
    )
    .optional()
    .map_err(Error::db("invitation"))?
    .ok_or(Error::InvitationInvalid)
}

/// Counts one use at confirmation; returns who invited.
pub(crate) fn consume(tx: &Transaction, id: i64, now: i64) -> Result<Option<UserId>> {
    let changed = tx
        .execute(
            "UPDATE invitations SET uses = uses + 1
             WHERE id = ?1 AND uses < max_uses AND expires_at > ?2",
            params![id, now],
        )
        .map_err(Error::db("use invitation"))?;
    if changed == 0 {
        return Err(Error::InvitationInvalid);
    }
    tx.query_row(
        "SELECT created_by FROM invitations WHERE id = ?1",
        params![id],
        |r| r.get::<_, Option<i64>>(0),
    )
    .map(|u| u.map(UserId))
    .map_err(Error::db("use invitation"))
}

impl Accounts {
    /// Creates an invitation code for `max_uses` sign-ups within `valid_secs`. The operator
    /// and active users may invite; the code is shown once.
    pub async fn create_invitation(
        &self,
        actor: Actor,
        max_uses: u32,
        valid_secs: i64,
    ) -> Result<Secret> {
        if max_uses == 0 || valid_secs <= 0 {
            return Err(Error::Config(
                "an invitation needs at least one use and a lifetime".into(),
            ));
        }
        let now = self.now();
        self.inner
            .db
            .tx("create invitation", move |tx| {
                let created_by = match actor {
                    Actor::Operator => None,
                    Actor::User(u) => {
                        if users::get(tx, u)?.status != UserStatus::Active {
                            return Err(Error::Forbidden("only active users invite"));
                        }
                        Some(u.0)
                    }
                };
                let code = new_token()?;
                tx.execute(
                    "INSERT INTO invitations (code_hash, created_by, max_uses, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![token_hash(code.expose()), created_by, max_uses, now, now + valid_secs],
                )
                .map_err(Error::db("create invitation"))?;
                Ok(code)
            })
            .await
    }

    /// The invitations `actor` created (the operator and admins see all).
    pub async fn invitations(&self, actor: Actor) -> Result<Vec<InvitationInfo>> {
        self.inner
            .db
            .tx("invitations", move |tx| {
                let all = users::is_admin(tx, actor)?;
                let mine = match actor {
                    Actor::User(u) => Some(u.0),
                    Actor::Operator => None,
                };
                let mut st = tx
                    .prepare_cached(
                        "SELECT id, created_by, max_uses, uses, expires_at FROM invitations
                         WHERE ?1 OR created_by = ?2 ORDER BY id",
                    )
                    .map_err(Error::db("invitations"))?;
                let rows = st
                    .query_map(params![all, mine], |r| {
                        Ok(InvitationInfo {
                            id: r.get(0)?,
                            created_by: r.get::<_, Option<i64>>(1)?.map(UserId),
                            max_uses: r.get(2)?,
                            uses: r.get(3)?,
                            expires_at: r.get(4)?,
                        })
                    })
                    .map_err(Error::db("invitations"))?;
                rows.collect::<rusqlite::Result<_>>()
                    .map_err(Error::db("invitations"))
            })
            .await
    }
}
