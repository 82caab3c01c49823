//! Single-use tokens mailed to users or held between steps: sign-up confirmations, email
//! changes, password resets, sign-in links, second-factor challenges and identity
//! invitations. Only a token's SHA-256 is stored; using one deletes its row (and
//! `secure_delete` zeroes the page), so it works once.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::error::{Error, Result};
use crate::token::{Secret, new_token, token_hash};

/// What a token is for; each has its own lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Confirms a sign-up (24 h).
    Confirm,
    /// Confirms a new email address (24 h).
    EmailChange,
    /// Resets a password (1 h).
    Reset,
    /// Signs in without the password (1 h).
    SignInLink,
    /// Waits for the second factor after the first (5 min, 5 tries).
    Challenge,
    /// Joins an identity as a member (7 days).
    MemberInvite,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::EmailChange => "email_change",
            Purpose::Reset => "reset",
            Purpose::SignInLink => "sign_in_link",
            Purpose::Challenge => "challenge",
            Purpose::MemberInvite => "member_invite",
        }
    }

    /// Seconds a token of this purpose stays valid.
    pub(crate) fn lifetime(self) -> i64 {
        match self {
            Purpose::Confirm | Purpose::EmailChange => 24 * 3600,
            Purpose::Reset | Purpose::SignInLink => 3600,
            Purpose::Challenge => 300,
            Purpose::MemberInvite => 7 * 24 * 3600,
        }
    }
}

/// Wrong codes a second-factor challenge takes before it is spent.
pub(crate) const CHALLENGE_ATTEMPTS: i64 = 5;

/// What a token carries besides itself.
#[derive(Clone, Debug, Default)]
pub(crate) struct TokenData {
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub invitation_id: Option<i64>,
    pub identity: Option<String>,
    pub role: Option<String>,
}

/// Stores a new token and returns it (the only time it exists in the clear).
pub(crate) fn issue(
    tx: &Transaction,
    purpose: Purpose,
    data: &TokenData,
    now: i64,
) -> Result<Secret> {
    let token = new_token()?;
    tx.execute(
        "INSERT INTO tokens (hash, purpose, user_id, email, password_hash, invitation_id,
                             identity, role, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            token_hash(token.expose()),
            purpose.as_str(),
            data.user_id,
            data.email,
            data.password_hash,
            data.invitation_id,
            data.identity,
            data.role,
            now,
            now + purpose.lifetime()
        ],
    )
    .map_err(Error::db("issue token"))?;
    Ok(token)
}

/// The token's data if it is valid for `purpose`, without using it up.
pub(crate) fn peek(tx: &Transaction, purpose: Purpose, token: &str, now: i64) -> Result<TokenData> {
    tx.query_row(
        "SELECT user_id, email, password_hash, invitation_id, identity, role FROM tokens
         WHERE hash = ?1 AND purpose = ?2 AND expires_at > ?3",
        params![token_hash(token), purpose.as_str(), now],
        |r| {
            Ok(TokenData {
                user_id: r.get(0)?,
                email: r.get(1)?,
                password_hash: r.get(2)?,
                invitation_id: r.get(3)?,
                identity: r.get(4)?,
                role: r.get(5)?,
            })
        },
    )
    .optional()
    .map_err(Error::db("read token"))?
    .ok_or(Error::InvalidToken)
}

/// Uses the token up: its data if it was valid, and it is gone either way.
pub(crate) fn take(tx: &Transaction, purpose: Purpose, token: &str, now: i64) -> Result<TokenData> {
    let data = peek(tx, purpose, token, now);
    tx.execute(
        "DELETE FROM tokens WHERE hash = ?1",
        params![token_hash(token)],
    )
    .map_err(Error::db("use token"))?;
    data
}

/// Counts a wrong try on a challenge; spends it at the limit. Returns the tries left.
pub(crate) fn count_attempt(tx: &Transaction, token: &str) -> Result<i64> {
    let hash = token_hash(token);
    tx.execute(
        "UPDATE tokens SET attempts = attempts + 1 WHERE hash = ?1",
        params![hash],
    )
    .map_err(Error::db("count attempt"))?;
    let attempts: i64 = tx
        .query_row(
            "SELECT attempts FROM tokens WHERE hash = ?1",
            params![hash],
            |r| r.get(0),
        )
        .optional()
        .map_err(Error::db("count attempt"))?
        .unwrap_or(CHALLENGE_ATTEMPTS);
    if attempts >= CHALLENGE_ATTEMPTS {
        tx.execute("DELETE FROM tokens WHERE hash = ?1", params![hash])
            .map_err(Error::db("spend challenge"))?;
    }
    Ok((CHALLENGE_ATTEMPTS - attempts).max(0))
}

/// Deletes every token of `purpose` for an email address (older links die with a new one).
pub(crate) fn drop_for_email(tx: &Transaction, purpose: Purpose, email_norm: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM tokens WHERE purpose = ?1 AND email = ?2",
        params![purpose.as_str(), email_norm],
    )
    .map_err(Error::db("drop tokens"))?;
    Ok(())
}

/// Deletes every token of `purpose` for a user.
pub(crate) fn drop_for_user(tx: &Transaction, purpose: Purpose, user: i64) -> Result<()> {
    tx.execute(
        "DELETE FROM tokens WHERE purpose = ?1 AND user_id = ?2",
        params![purpose.as_str(), user],
    )
    .map_err(Error::db("drop tokens"))?;
    Ok(())
}

/// The newest unexpired token's data of `purpose` for an email address.
pub(crate) fn newest_for_email(
    tx: &Transaction,
    purpose: Purpose,
    email_norm: &str,
    now: i64,
) -> Result<Option<TokenData>> {
    tx.query_row(
        "SELECT user_id, email, password_hash, invitation_id, identity, role FROM tokens
         WHERE purpose = ?1 AND email = ?2 AND expires_at > ?3 ORDER BY created_at DESC LIMIT 1",
        params![purpose.as_str(), email_norm, now],
        |r| {
            Ok(TokenData {
                user_id: r.get(0)?,
                email: r.get(1)?,
                password_hash: r.get(2)?,
                invitation_id: r.get(3)?,
                identity: r.get(4)?,
                role: r.get(5)?,
            })
        },
    )
    .optional()
    .map_err(Error::db("newest token"))
}

/// Deletes expired tokens.
pub(crate) fn prune(tx: &Transaction, now: i64) -> Result<()> {
    tx.execute("DELETE FROM tokens WHERE expires_at <= ?1", params![now])
        .map_err(Error::db("prune tokens"))?;
    Ok(())
}
