//! Sign-up with email and password, confirmed by a mailed link.
//!
//! An unconfirmed sign-up is a token, not a user: the password hash waits in the token row,
//! and the user exists only once the link is opened. So nobody can claim an address they
//! cannot read, and a second sign-up for an address that already has an account answers
//! exactly like a first one (the owner gets a "you already have an account" mail instead).
//! Both paths hash the password, so they take as long.

use crate::Accounts;
use crate::audit::{self, Event};
use crate::config::Mode;
use crate::error::{Error, Result};
use crate::invite;
use crate::messages;
use crate::password::check_policy;
use crate::ratelimit::{self, MAILS_PER_ADDRESS, SIGN_IN_PER_NETWORK};
use crate::token::Secret;
use crate::tokens::{self, Purpose, TokenData};
use crate::users::{self, Client, UserId, UserStatus, email_key, normalise_email};

/// A sign-up form.
#[derive(Clone, Debug)]
pub struct SignUp {
    /// The address to confirm.
    pub email: String,
    /// The chosen password.
    pub password: Secret,
    /// The invitation code (mode `invite`).
    pub invitation: Option<Secret>,
}

/// An account created by a confirmation link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirmed {
    /// The new user.
    pub user: UserId,
    /// Active, or waiting for an admin (mode `approval`).
    pub status: UserStatus,
}

impl Accounts {
    /// Takes a sign-up: mails a confirmation link (or, for an address with an account, a
    /// notice). The answer is the same either way: "check your mail, and the spam folder".
    pub async fn sign_up(&self, form: SignUp, client: &Client) -> Result<()> {
        let mode = self.inner.mode;
        if mode == Mode::Off {
            return Err(Error::SignUpClosed);
        }
        let (_, email) = normalise_email(&form.email)?;
        // No second factor yet at sign-up: the long minimum applies.
        check_policy(form.password.expose(), false)?;
        let invitation_id = match (mode, &form.invitation) {
            (Mode::Invite, None) => return Err(Error::InvitationInvalid),
            (Mode::Invite, Some(code)) => {
                let code = code.clone();
                let now = self.now();
                Some(
                    self.inner
                        .db
                        .tx("check invitation", move |tx| {
                            invite::usable(tx, code.expose(), now)
                        })
                        .await?,
                )
            }
            _ => None,
        };
        let hash = self.inner.hasher.hash(form.password.expose()).await?;
        let now = self.now();
        let base = self.public_url().to_string();
        let net = client.network();
        let mail = self
            .inner
            .db
            .tx("sign up", move |tx| {
                // Sign-ups mail, so they count per client network like sign-ins do.
                ratelimit::hit(tx, SIGN_IN_PER_NETWORK, &net, now)?;
                ratelimit::hit(tx, MAILS_PER_ADDRESS, &email_key(&email), now)?;
                if users::by_email(tx, &email)?.is_some() {
                    return Ok(messages::already_registered(&email, &base));
                }
                tokens::drop_for_email(tx, Purpose::Confirm, &email)?;
                let token = tokens::issue(
                    tx,
                    Purpose::Confirm,
                    &TokenData {
                        email: Some(email.clone()),
                        password_hash: Some(hash),
                        invitation_id,
                        ..TokenData::default()
                    },
                    now,
                )?;
                Ok(messages::confirm_sign_up(&email, &base, token.expose()))
            })
            .await?;
        self.inner.mailer.send_later(mail);
        Ok(())
    }

    /// Mails a new confirmation link for a pending sign-up (at most 5 mails per address per
    /// 30 minutes, sign-ups included); the older link stops working. Answers the same
    /// whether or not a sign-up is pending.
    pub async fn resend_confirmation(&self, email: &str) -> Result<()> {
        let (_, email) = normalise_email(email)?;
        let now = self.now();
        let base = self.public_url().to_string();
        let mail = self
            .inner
            .db
            .tx("resend confirmation", move |tx| {
                ratelimit::hit(tx, MAILS_PER_ADDRESS, &email_key(&email), now)?;
                let Some(data) = tokens::newest_for_email(tx, Purpose::Confirm, &email, now)?
                else {
                    return Ok(None);
                };
                tokens::drop_for_email(tx, Purpose::Confirm, &email)?;
                let token = tokens::issue(tx, Purpose::Confirm, &data, now)?;
                Ok(Some(messages::confirm_sign_up(
                    &email,
                    &base,
                    token.expose(),
                )))
            })
            .await?;
        if let Some(mail) = mail {
            self.inner.mailer.send_later(mail);
        }
        Ok(())
    }

    /// Opens a confirmation link: creates the user (active, or waiting for approval in mode
    /// `approval`). The link works once, for 24 hours.
    pub async fn confirm_sign_up(&self, token: &Secret, client: &Client) -> Result<Confirmed> {
        let mode = self.inner.mode;
        if mode == Mode::Off {
            return Err(Error::SignUpClosed);
        }
        let token = token.clone();
        let now = self.now();
        let ip = client.network();
        self.inner
            .db
            .tx("confirm sign-up", move |tx| {
                let data = tokens::take(tx, Purpose::Confirm, token.expose(), now)?;
                let (Some(email), Some(hash)) = (data.email, data.password_hash) else {
                    return Err(Error::InvalidToken);
                };
                if users::by_email(tx, &email)?.is_some() {
                    return Err(Error::InvalidToken);
                }
                let invited_by = match data.invitation_id {
                    Some(id) => invite::consume(tx, id, now)?,
                    None if mode == Mode::Invite => return Err(Error::InvitationInvalid),
                    None => None,
                };
                let status = if mode == Mode::Approval {
                    UserStatus::PendingApproval
                } else {
                    UserStatus::Active
                };
                tx.execute(
                    "INSERT INTO users (email, email_norm, password_hash, status, created_at,
                                        invited_by, invitation_id)
                     VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![
                        email,
                        hash,
                        status.as_str(),
                        now,
                        invited_by.map(|u: UserId| u.0),
                        data.invitation_id
                    ],
                )
                .map_err(Error::db("create user"))?;
                let user = UserId(tx.last_insert_rowid());
                audit::record(tx, user, Event::AccountCreated, &ip, "", now)?;
                Ok(Confirmed { user, status })
            })
            .await
    }
}
