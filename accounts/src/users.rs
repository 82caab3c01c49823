//! Users: who signs in. A user is not an identity: identities (keypairs) sign content, and
//! a user may be a member of several, as an identity may have several users
//! ([`crate::identities`]).

use std::net::IpAddr;
use std::str::FromStr;

use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ratelimit::client_network;

/// A user's number in the accounts database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

/// Whether a user may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// Confirmed (and approved, in mode `approval`).
    Active,
    /// Confirmed, waiting for an admin (mode `approval`).
    PendingApproval,
}

impl UserStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::PendingApproval => "pending_approval",
        }
    }

    fn parse(s: &str) -> UserStatus {
        if s == "active" {
            UserStatus::Active
        } else {
            UserStatus::PendingApproval
        }
    }
}

/// A user as the gateway shows it to the user itself or to an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user's number.
    pub id: UserId,
    /// The confirmed address, as typed.
    pub email: String,
    /// Active or waiting for approval.
    pub status: UserStatus,
    /// Holds the admin role (granted only from the server's CLI).
    pub is_admin: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Whether TOTP is on.
    pub totp_enabled: bool,
    /// Who invited the user (mode `invite`), if a user did.
    pub invited_by: Option<UserId>,
}

/// Who acts in an admin operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The operator on the server (the CLI).
    Operator,
    /// A signed-in user.
    User(UserId),
}

/// Where a request comes from (the gateway resolves trusted proxies before this).
#[derive(Clone, Debug)]
pub struct Client {
    /// The client's address.
    pub ip: IpAddr,
    /// The `User-Agent`, shown in the list of sessions.
    pub user_agent: String,
}

impl Client {
    /// The network limits count under, also recorded in the audit log.
    pub fn network(&self) -> String {
        client_network(self.ip)
    }
}

/// An address checked and its lookup form: (as typed, trimmed; lowercased).
pub(crate) fn normalise_email(email: &str) -> Result<(String, String)> {
    let email = email.trim();
    if email.len() > 254 || email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidEmail);
    }
    lettre::Address::from_str(email).map_err(|_| Error::InvalidEmail)?;
    Ok((email.to_string(), email.to_lowercase()))
}

/// The rate-limit key of an address: a hash, so the limits table holds no addresses.
pub(crate) fn email_key(email_norm: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(email_norm.as_bytes())[..16])
}

/// What sign-in needs of a user.
pub(crate) struct Credentials {
    pub id: UserId,
    pub password_hash: String,
    pub status: UserStatus,
    pub totp_enabled: bool,
}

pub(crate) fn credentials_by_email(
    tx: &Transaction,
    email_norm: &str,
) -> Result<Option<Credentials>> {
    tx.query_row(
        "SELECT id, password_hash, status, totp_secret IS NOT NULL FROM users WHERE email_norm = ?1",
        params![email_norm],
        |r| {
            Ok(Credentials {
                id: UserId(r.get(0)?),
                password_hash: r.get(1)?,
                status: UserStatus::parse(&r.get::<_, String>(2)?),
                totp_enabled: r.get(3)?,
            })
        },
    )
    .optional()
    .map_err(Error::db("user by email"))
}

pub(crate) fn credentials(tx: &Transaction, user: UserId) -> Result<Credentials> {
    tx.query_row(
        "SELECT id, password_hash, status, totp_secret IS NOT NULL FROM users WHERE id = ?1",
        params![user.0],
        |r| {
            Ok(Credentials {
                id: UserId(r.get(0)?),
                password_hash: r.get(1)?,
                status: UserStatus::parse(&r.get::<_, String>(2)?),
                totp_enabled: r.get(3)?,
            })
        },
    )
    .optional()
    .map_err(Error::db("user"))?
    .ok_or_else(|| Error::UnknownUser(user.0.to_string()))
}

pub(crate) fn get(tx: &Transaction, user: UserId) -> Result<User> {
    tx.query_row(
        "SELECT id, email, status, is_admin, created_at, totp_secret IS NOT NULL, invited_by
         FROM users WHERE id = ?1",
        params![user.0],
        row_user,
    )
    .optional()
    .map_err(Error::db("user"))?
    .ok_or_else(|| Error::UnknownUser(user.0.to_string()))
}

pub(crate) fn by_email(tx: &Transaction, email_norm: &str) -> Result<Option<User>> {
    tx.query_row(
        "SELECT id, email, status, is_admin, created_at, totp_secret IS NOT NULL, invited_by
         FROM users WHERE email_norm = ?1",
        params![email_norm],
        row_user,
    )
    .optional()
    .map_err(Error::db("user by email"))
}

pub(crate) fn pending(tx: &Transaction) -> Result<Vec<User>> {
    let mut st = tx
        .prepare_cached(
            "SELECT id, email, status, is_admin, created_at, totp_secret IS NOT NULL, invited_by
             FROM users WHERE status = 'pending_approval' ORDER BY id",
        )
        .map_err(Error::db("pending users"))?;
    let rows = st
        .query_map([], row_user)
        .map_err(Error::db("pending users"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(Error::db("pending users"))
}

pub(crate) fn all(tx: &Transaction) -> Result<Vec<User>> {
    let mut st = tx
        .prepare_cached(
            "SELECT id, email, status, is_admin, created_at, totp_secret IS NOT NULL, invited_by
             FROM users ORDER BY id",
        )
        .map_err(Error::db("users"))?;
    let rows = st.query_map([], row_user).map_err(Error::db("users"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(Error::db("users"))
}

fn row_user(r: &rusqlite::Row) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        email: r.get(1)?,
        status: UserStatus::parse(&r.get::<_, String>(2)?),
        is_admin: r.get(3)?,
        created_at: r.get(4)?,
        totp_enabled: r.get(5)?,
        invited_by: r.get::<_, Option<i64>>(6)?.map(UserId),
    })
}

/// Whether the actor holds the admin role (the operator always does).
pub(crate) fn is_admin(tx: &Transaction, actor: Actor) -> Result<bool> {
    match actor {
        Actor::Operator => Ok(true),
        Actor::User(u) => Ok(get(tx, u)?.is_admin && get(tx, u)?.status == UserStatus::Active),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_looked_up_lowercased() {
        assert_eq!(
            normalise_email("  Alice@Example.ORG ").unwrap(),
            (
                "Alice@Example.ORG".to_string(),
                "alice@example.org".to_string()
            )
        );
        for bad in [
            "",
            "alice",
            "a@b@c",
            "al ice@example.org",
            "alice@exa\nmple.org",
        ] {
            assert!(
                matches!(normalise_email(bad), Err(Error::InvalidEmail)),
                "{bad:?}"
            );
        }
    }
}
