//! Sessions: a random token per sign-in, stored as its SHA-256, ending after
//! `session_idle_secs` unused or `session_absolute_secs` after sign-in. A new token is made
//! at every sign-in and after the second factor (never reusing one the client had: no
//! fixation). A password change or reset ends the user's other sessions.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::Accounts;
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::signin::NewSession;
use crate::token::{Secret, new_token, token_hash};
use crate::users::{Client, UserId};

/// last_seen_at is written at most this often (a page view need not write to disk).
const TOUCH_EVERY_SECS: i64 = 60;

/// The signed-in user behind a session token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionUser {
    /// The user.
    pub user: UserId,
    /// The session's number (for the list of sessions).
    pub session: i64,
    /// The user's address.
    pub email: String,
    /// Holds the admin role.
    pub is_admin: bool,
}

/// One active session, for the list a user sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session's number.
    pub id: i64,
    /// Sign-in time.
    pub created_at: i64,
    /// Last use (to the minute).
    pub last_seen_at: i64,
    /// The client network at sign-in.
    pub ip: String,
    /// The browser at sign-in.
    pub user_agent: String,
}

/// Creates a session for `user`.
pub(crate) fn create(
    tx: &Transaction,
    user: UserId,
    client: &Client,
    now: i64,
    absolute_secs: i64,
) -> Result<NewSession> {
    let token = new_token()?;
    let agent: String = client.user_agent.chars().take(200).collect();
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
        params![token_hash(token.expose()), user.0, now, now + absolute_secs, client.network(), agent],
    )
    .map_err(Error::db("create session"))?;
    let id = tx.last_insert_rowid();
    audit::record(
        tx,
        user,
        Event::SignedIn,
        &client.network(),
        &format!("session {id}"),
        now,
    )?;
    Ok(NewSession {
        token,
        user,
        session: id,
        expires_at: now + absolute_secs,
    })
}

/// Ends every session of `user` except `keep`.
pub(crate) fn end_all(tx: &Transaction, user: UserId, keep: Option<i64>) -> Result<()> {
    tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id IS NOT ?2",
        params![user.0, keep],
    )
    .map_err(Error::db("end sessions"))?;
    Ok(())
}

pub(crate) fn prune(tx: &Transaction, now: i64) -> Result<()> {
    tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", params![now])
        .map_err(Error::db("prune sessions"))?;
    Ok(())
}

impl Accounts {
    /// The user signed in with `token`, or [`Error::NotSignedIn`] if it is unknown or
    /// expired (idle or absolute). Refreshes the idle clock.
    pub async fn authenticate(&self, token: &Secret) -> Result<SessionUser> {
        let hash = token_hash(token.expose());
        let now = self.now();
        let idle = self.inner.session_idle_secs;
        self.inner
            .db
            .tx("authenticate", move |tx| {
                let row: Option<(i64, i64, i64, String, bool)> = tx
                    .query_row(
                        "SELECT s.id, s.user_id, s.last_seen_at, u.email, u.is_admin
                         FROM sessions s JOIN users u ON u.id = s.user_id
                         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.status = 'active'",
                        params![hash, now],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()
                    .map_err(Error::db("authenticate"))?;
                let Some((session, user, last_seen, email, is_admin)) = row else {
                    return Err(Error::NotSignedIn);
                };
                if last_seen + idle <= now {
                    tx.execute("DELETE FROM sessions WHERE id = ?1", params![session])
                        .map_err(Error::db("end idle session"))?;
                    return Err(Error::NotSignedIn);
                }
                if now - last_seen >= TOUCH_EVERY_SECS {
                    tx.execute(
                        "UPDATE sessions SET last_seen_at = ?1 WHERE id = ?2",
                        params![now, session],
                    )
                    .map_err(Error::db("touch session"))?;
                }
                Ok(SessionUser {
                    user: UserId(user),
                    session,
                    email,
                    is_admin,
                })
            })
            .await
    }

    /// Replaces a session's token with a new one (same user, same expiry); the old token
    /// stops working.
    pub async fn rotate_session(&self, token: &Secret) -> Result<NewSession> {
        let old = token_hash(token.expose());
        let now = self.now();
        let idle = self.inner.session_idle_secs;
        self.inner
            .db
            .tx("rotate session", move |tx| {
                let new = new_token()?;
                // An expired session (idle or absolute) is not revived by rotating it.
                let row: Option<(i64, i64, i64)> = tx
                    .query_row(
                        "UPDATE sessions SET token_hash = ?1, last_seen_at = ?3
                         WHERE token_hash = ?2 AND expires_at > ?3 AND last_seen_at > ?3 - ?4
                         RETURNING id, user_id, expires_at",
                        params![token_hash(new.expose()), old, now, idle],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()
                    .map_err(Error::db("rotate session"))?;
                let (session, user, expires_at) = row.ok_or(Error::NotSignedIn)?;
                Ok(NewSession {
                    token: new,
                    user: UserId(user),
                    session,
                    expires_at,
                })
            })
            .await
    }

    /// Signs out this session.
    pub async fn sign_out(&self, token: &Secret) -> Result<()> {
        let hash = token_hash(token.expose());
        self.inner
            .db
            .tx("sign out", move |tx| {
                tx.execute("DELETE FROM sessions WHERE token_hash = ?1", params![hash])
                    .map_err(Error::db("sign out"))?;
                Ok(())
            })
            .await
    }

    /// The user's active sessions, newest first.
    pub async fn sessions(&self, user: UserId) -> Result<Vec<SessionSummary>> {
        let now = self.now();
        let idle = self.inner.session_idle_secs;
        self.inner
            .db
            .tx("sessions", move |tx| {
                let mut st = tx
                    .prepare_cached(
                        "SELECT id, created_at, last_seen_at, ip, user_agent FROM sessions
                         WHERE user_id = ?1 AND expires_at > ?2 AND last_seen_at > ?3 ORDER BY id DESC",
                    )
                    .map_err(Error::db("sessions"))?;
                let rows = st
                    .query_map(params![user.0, now, now - idle], |r| {
                        Ok(SessionSummary {
                            id: r.get(0)?,
                            created_at: r.get(1)?,
                            last_seen_at: r.get(2)?,
                            ip: r.get(3)?,
                            user_agent: r.get(4)?,
                        })
                    })
                    .map_err(Error::db("sessions"))?;
                rows.collect::<rusqlite::Result<_>>().map_err(Error::db("sessions"))
            })
            .await
    }

    /// Ends one of the user's sessions by its number.
    pub async fn end_session(&self, user: UserId, session: i64) -> Result<()> {
        self.inner
            .db
            .tx("end session", move |tx| {
                tx.execute(
                    "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2",
                    params![session, user.0],
                )
                .map_err(Error::db("end session"))?;
                Ok(())
            })
            .await
    }

    /// Ends every session of the user, this one included ("sign out everywhere").
    pub async fn sign_out_everywhere(&self, user: UserId, client: &Client) -> Result<()> {
        let now = self.now();
        let ip = client.network();
        self.inner
            .db
            .tx("sign out everywhere", move |tx| {
                end_all(tx, user, None)?;
                audit::record(tx, user, Event::SignedOutEverywhere, &ip, "", now)
            })
            .await
    }
}
