//! Sign-in: the password, then the second factor if the account has one, then a new
//! session. Unknown emails get the same answer after the same work (a bcrypt verify against
//! a dummy hash). Limits: 25 password tries per 5 minutes per client network (IPv6 per
//! /64) and 25 per hour per address, whether the address has an account or not.
//!
//! A stranger can hold an account's password limit full, so the owner always has another
//! way in: a one-time sign-in link, mailed on request (5 per 30 minutes per address, each
//! valid an hour, an older one not revoked by a newer one — so even links a stranger asks
//! for land in the owner's mailbox and let the owner in). The link replaces the password,
//! never the second factor.

use rusqlite::Transaction;

use crate::Accounts;
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::mail::Mail;
use crate::messages;
use crate::password;
use crate::ratelimit::{
    self, Limit, MAILS_PER_ADDRESS, SECOND_FACTOR_PER_ACCOUNT, SIGN_IN_PER_ACCOUNT,
    SIGN_IN_PER_NETWORK,
};
use crate::session;
use crate::token::Secret;
use crate::tokens::{self, Purpose, TokenData};
use crate::twofactor;
use crate::users::{self, Client, UserId, UserStatus, email_key, normalise_email};

/// A new session: the token goes into the cookie, and nowhere else.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The session token.
    pub token: Secret,
    /// The user.
    pub user: UserId,
    /// The session's number.
    pub session: i64,
    /// When it ends at the latest.
    pub expires_at: i64,
}

/// What a first factor (password or link) gives.
#[derive(Clone, Debug)]
pub enum SignIn {
    /// Signed in.
    Session(NewSession),
    /// The account has TOTP: ask for a code and pass it with this challenge to
    /// [`Accounts::complete_second_factor`] (5 minutes, 5 tries).
    SecondFactor {
        /// The challenge token (a hidden form field, not a session).
        challenge: Secret,
    },
}

/// After a valid first factor: a session, or a challenge for the second.
fn after_first_factor(
    tx: &Transaction,
    user: UserId,
    status: UserStatus,
    totp: bool,
    client: &Client,
    now: i64,
    absolute: i64,
) -> Result<SignIn> {
    if status == UserStatus::PendingApproval {
        return Err(Error::AwaitingApproval);
    }
    if totp {
        let challenge = tokens::issue(
            tx,
            Purpose::Challenge,
            &TokenData {
                user_id: Some(user.0),
                ..TokenData::default()
            },
            now,
        )?;
        return Ok(SignIn::SecondFactor { challenge });
    }
    Ok(SignIn::Session(session::create(
        tx, user, client, now, absolute,
    )?))
}

impl Accounts {
    /// Signs in with email and password.
    pub async fn sign_in(&self, email: &str, password: &Secret, client: &Client) -> Result<SignIn> {
        // A malformed address is looked up as itself: found by nobody, same work as others.
        let email = normalise_email(email)
            .map(|e| e.1)
            .unwrap_or_else(|_| email.to_lowercase());
        let now = self.now();
        let net = client.network();
        let key = email_key(&email);
        let lookup_email = email.clone();
        let creds = self
            .inner
            .db
            .tx("sign in", move |tx| {
                ratelimit::hit(tx, SIGN_IN_PER_NETWORK, &net, now)?;
                ratelimit::hit(tx, SIGN_IN_PER_ACCOUNT, &key, now)?;
                users::credentials_by_email(tx, &lookup_email)
            })
            .await?;
        let stored = creds.as_ref().map(|c| c.password_hash.clone());
        let ok = self.inner.hasher.verify(password.expose(), stored).await?;
        // A hash made at a lower cost than configured now (the cost was raised) is redone
        // while the password is at hand.
        let upgrade = match &creds {
            Some(c)
                if ok
                    && password::cost_of(&c.password_hash)
                        .is_some_and(|k| k < self.inner.hasher.cost()) =>
            {
                Some(self.inner.hasher.hash(password.expose()).await?)
            }
            _ => None,
        };
        let client = client.clone();
        let absolute = self.inner.session_absolute_secs;
        // The inner Result is the answer; the outer one the database's. A wrong password
        // commits its audit row and still answers InvalidCredentials.
        self.inner
            .db
            .tx("sign in", move |tx| match creds {
                Some(c) if ok => {
                    if let Some(hash) = upgrade {
                        tx.execute(
                            "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                            rusqlite::params![hash, c.id.0],
                        )
                        .map_err(Error::db("upgrade hash"))?;
                    }
                    Ok(after_first_factor(
                        tx,
                        c.id,
                        c.status,
                        c.totp_enabled,
                        &client,
                        now,
                        absolute,
                    ))
                }
                Some(c) => {
                    audit::record(tx, c.id, Event::SignInFailed, &client.network(), "", now)?;
                    Ok(Err(Error::InvalidCredentials))
                }
                None => Ok(Err(Error::InvalidCredentials)),
            })
            .await?
    }

    /// Completes a sign-in with a TOTP code or a recovery code; the challenge dies after 5
    /// wrong codes and every account takes at most 25 wrong codes an hour.
    pub async fn complete_second_factor(
        &self,
        challenge: &Secret,
        code: &Secret,
        client: &Client,
    ) -> Result<NewSession> {
        let challenge = challenge.clone();
        let code = code.clone();
        let client = client.clone();
        let now = self.now();
        let absolute = self.inner.session_absolute_secs;
        let inner = self.inner.clone();
        self.inner
            .db
            .tx("second factor", move |tx| {
                let data = tokens::peek(tx, Purpose::Challenge, challenge.expose(), now)?;
                let user = UserId(data.user_id.ok_or(Error::InvalidToken)?);
                ratelimit::check(tx, SECOND_FACTOR_PER_ACCOUNT, &user.0.to_string(), now)?;
                match twofactor::check_code(tx, &inner.keys, user, code.expose(), now)? {
                    Some(used) => {
                        tokens::take(tx, Purpose::Challenge, challenge.expose(), now)?;
                        if used == twofactor::CodeKind::Recovery {
                            audit::record(
                                tx,
                                user,
                                Event::RecoveryCodeUsed,
                                &client.network(),
                                "",
                                now,
                            )?;
                        }
                        session::create(tx, user, &client, now, absolute).map(Some)
                    }
                    None => {
                        ratelimit::hit(tx, SECOND_FACTOR_PER_ACCOUNT, &user.0.to_string(), now)?;
                        tokens::count_attempt(tx, challenge.expose())?;
                        audit::record(
                            tx,
                            user,
                            Event::SecondFactorFailed,
                            &client.network(),
                            "",
                            now,
                        )?;
                        Ok(None)
                    }
                }
            })
            .await?
            .ok_or(Error::InvalidCode)
    }

    /// Mails a one-time sign-in link if the address has an account; the same answer if not.
    pub async fn request_sign_in_link(&self, email: &str) -> Result<()> {
        self.mail_link_if_known(
            email,
            "sign-in link",
            MAILS_PER_ADDRESS,
            Purpose::SignInLink,
            messages::sign_in_link,
        )
        .await
    }

    /// Mails a link holding a fresh `purpose` token if `email` has an account, counted
    /// against `limit` for the address whether or not it has one. The same answer either
    /// way, and the mail goes out in the background, so the answer does not tell.
    pub(crate) async fn mail_link_if_known(
        &self,
        email: &str,
        action: &'static str,
        limit: Limit,
        purpose: Purpose,
        message: fn(&str, &str, &str) -> Mail,
    ) -> Result<()> {
        let (_, email) = normalise_email(email)?;
        let now = self.now();
        let base = self.public_url().to_string();
        let mail = self
            .inner
            .db
            .tx(action, move |tx| {
                ratelimit::hit(tx, limit, &email_key(&email), now)?;
                let Some(user) = users::by_email(tx, &email)? else {
                    return Ok(None);
                };
                let token = tokens::issue(
                    tx,
                    purpose,
                    &TokenData {
                        user_id: Some(user.id.0),
                        ..TokenData::default()
                    },
                    now,
                )?;
                Ok(Some(message(&user.email, &base, token.expose())))
            })
            .await?;
        if let Some(mail) = mail {
            self.inner.mailer.send_later(mail);
        }
        Ok(())
    }

    /// Opens a sign-in link: the password step is done (its limits do not apply); the
    /// second factor, if any, still follows.
    pub async fn sign_in_with_link(&self, token: &Secret, client: &Client) -> Result<SignIn> {
        let token = token.clone();
        let client = client.clone();
        let now = self.now();
        let absolute = self.inner.session_absolute_secs;
        self.inner
            .db
            .tx("sign in with link", move |tx| {
                let data = tokens::take(tx, Purpose::SignInLink, token.expose(), now)?;
                let user = UserId(data.user_id.ok_or(Error::InvalidToken)?);
                let c = users::credentials(tx, user)?;
                audit::record(tx, user, Event::SignInLinkUsed, &client.network(), "", now)?;
                after_first_factor(tx, user, c.status, c.totp_enabled, &client, now, absolute)
            })
            .await
    }
}
