//! The account itself: reading it and its audit log, changing its address (confirmed by
//! the new address, with a notice to the old one), deleting it, and the admin role and
//! approvals (granted only by an explicit operator call, `swarmfeed admin …`, never by being
//! the first to sign up).

use rusqlite::params;

use crate::Accounts;
use crate::audit::{self, AuditEntry, Event};
use crate::error::{Error, Result};
use crate::identities;
use crate::messages;
use crate::ratelimit::{self, MAILS_PER_ADDRESS};
use crate::session::SessionUser;
use crate::token::Secret;
use crate::tokens::{self, Purpose, TokenData};
use crate::users::{self, Actor, Client, User, UserId, UserStatus, email_key, normalise_email};

/// An address change that took effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailChangeConfirmed {
    /// The user.
    pub user: UserId,
    /// The new address.
    pub email: String,
}

impl Accounts {
    /// The user, as the user (or an admin) sees it.
    pub async fn user(&self, user: UserId) -> Result<User> {
        self.inner
            .db
            .tx("user", move |tx| users::get(tx, user))
            .await
    }

    /// The newest `limit` security events of the user.
    pub async fn audit_log(&self, user: UserId, limit: u32) -> Result<Vec<AuditEntry>> {
        self.inner
            .db
            .tx("audit log", move |tx| audit::list(tx, user, limit))
            .await
    }

    /// Asks to change the address: needs the password; mails a link to the new address and
    /// a notice to the old one. If the new address already has an account, its owner gets a
    /// notice instead and the answer is the same.
    pub async fn request_email_change(
        &self,
        who: &SessionUser,
        password: &Secret,
        new_email: &str,
        client: &Client,
    ) -> Result<()> {
        let (_, new_email) = normalise_email(new_email)?;
        let user = who.user;
        let creds = self
            .inner
            .db
            .tx("email change", move |tx| users::credentials(tx, user))
            .await?;
        if !self
            .inner
            .hasher
            .verify(password.expose(), Some(creds.password_hash))
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        let now = self.now();
        let base = self.public_url().to_string();
        let ip = client.network();
        let mails = self
            .inner
            .db
            .tx("email change", move |tx| {
                ratelimit::hit(tx, MAILS_PER_ADDRESS, &email_key(&new_email), now)?;
                let old = users::get(tx, user)?.email;
                audit::record(tx, user, Event::EmailChangeRequested, &ip, "", now)?;
                let notice = messages::address_change_notice(&old, &base, &new_email);
                if users::by_email(tx, &new_email)?.is_some() {
                    return Ok(vec![
                        notice,
                        messages::already_registered(&new_email, &base),
                    ]);
                }
                tokens::drop_for_user(tx, Purpose::EmailChange, user.0)?;
                let token = tokens::issue(
                    tx,
                    Purpose::EmailChange,
                    &TokenData {
                        user_id: Some(user.0),
                        email: Some(new_email.clone()),
                        ..TokenData::default()
                    },
                    now,
                )?;
                Ok(vec![
                    notice,
                    messages::confirm_new_address(&new_email, &base, token.expose()),
                ])
            })
            .await?;
        for m in mails {
            self.inner.mailer.send_later(m);
        }
        Ok(())
    }

    /// Opens the link sent to the new address: the address changes (once, within 24 h).
    pub async fn confirm_email_change(
        &self,
        token: &Secret,
        client: &Client,
    ) -> Result<EmailChangeConfirmed> {
        let token = token.clone();
        let now = self.now();
        let ip = client.network();
        self.inner
            .db
            .tx("confirm email change", move |tx| {
                let data = tokens::take(tx, Purpose::EmailChange, token.expose(), now)?;
                let (Some(user), Some(email)) = (data.user_id.map(UserId), data.email) else {
                    return Err(Error::InvalidToken);
                };
                if users::by_email(tx, &email)?.is_some() {
                    return Err(Error::InvalidToken);
                }
                let old = users::get(tx, user)?.email;
                tx.execute(
                    "UPDATE users SET email = ?1, email_norm = ?1 WHERE id = ?2",
                    params![email, user.0],
                )
                .map_err(Error::db("change email"))?;
                audit::record(
                    tx,
                    user,
                    Event::EmailChanged,
                    &ip,
                    &format!("from {old}"),
                    now,
                )?;
                Ok(EmailChangeConfirmed { user, email })
            })
            .await
    }

    /// The identities the user alone owns: deleting the account needs each named, and drops
    /// them (with their keys) from this gateway. Shown to the user before deletion.
    pub async fn solely_owned_identities(&self, user: UserId) -> Result<Vec<String>> {
        self.inner
            .db
            .tx("solely owned", move |tx| identities::solely_owned(tx, user))
            .await
    }

    /// Deletes the account (needs the password). `drop_identities` must name every identity
    /// the user alone owns ([`Error::SoleOwner`] lists them otherwise), and nothing else
    /// ([`Error::Forbidden`]); those are removed
    /// from this gateway with their sealed keys, and their other members with them.
    /// Sessions, codes and tokens go with it. The keys are destroyed, not merely unlinked:
    /// freed pages are zeroed (`secure_delete`) and the write-ahead log is checkpointed and
    /// truncated, so neither file keeps the sealed bytes (the node keeps serving what those
    /// identities signed: docs/accounts.md).
    pub async fn delete_account(
        &self,
        who: &SessionUser,
        password: &Secret,
        drop_identities: &[String],
    ) -> Result<()> {
        let user = who.user;
        let creds = self
            .inner
            .db
            .tx("delete account", move |tx| users::credentials(tx, user))
            .await?;
        if !self
            .inner
            .hasher
            .verify(password.expose(), Some(creds.password_hash))
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        let drop: Vec<String> = drop_identities.to_vec();
        self.inner
            .db
            .tx("delete account", move |tx| {
                let sole = identities::solely_owned(tx, user)?;
                let missing: Vec<String> =
                    sole.iter().filter(|i| !drop.contains(i)).cloned().collect();
                if !missing.is_empty() {
                    return Err(Error::SoleOwner(missing));
                }
                // Only what the user alone owns is dropped: asking for more is refused, not
                // half done (the page would say a key was destroyed that is not).
                if drop.iter().any(|i| !sole.contains(i)) {
                    return Err(Error::Forbidden(
                        "only identities you alone own are dropped with your account",
                    ));
                }
                for id in &sole {
                    tx.execute("DELETE FROM identities WHERE id = ?1", params![id])
                        .map_err(Error::db("drop identity"))?;
                }
                tx.execute("DELETE FROM users WHERE id = ?1", params![user.0])
                    .map_err(Error::db("delete user"))?;
                Ok(())
            })
            .await?;
        match self.inner.db.truncate_wal().await {
            Ok(true) => {}
            // Emptied at the next checkpoint no reader holds back.
            Ok(false) => tracing::warn!(
                "the accounts log could not be truncated after a deletion: a reader holds it"
            ),
            Err(e) => tracing::warn!("cannot checkpoint the accounts log after a deletion: {e}"),
        }
        Ok(())
    }

    /// Grants (or with `admin = false` takes away) the admin role: for the operator's CLI.
    pub async fn set_admin(&self, email: &str, admin: bool) -> Result<UserId> {
        let (_, email) = normalise_email(email)?;
        let now = self.now();
        self.inner
            .db
            .tx("set admin", move |tx| {
                let user = users::by_email(tx, &email)?
                    .ok_or_else(|| Error::UnknownUser(email.clone()))?;
                tx.execute(
                    "UPDATE users SET is_admin = ?1 WHERE id = ?2",
                    params![admin, user.id.0],
                )
                .map_err(Error::db("set admin"))?;
                let event = if admin {
                    Event::AdminGranted
                } else {
                    Event::AdminRevoked
                };
                audit::record(tx, user.id, event, "", "by the operator", now)?;
                Ok(user.id)
            })
            .await
    }

    /// The user with this address (any case); admins only (the operator's CLI names users
    /// by address).
    pub async fn user_by_email(&self, actor: Actor, email: &str) -> Result<User> {
        let (_, email) = normalise_email(email)?;
        self.inner
            .db
            .tx("user by email", move |tx| {
                if !users::is_admin(tx, actor)? {
                    return Err(Error::Forbidden("admins only"));
                }
                users::by_email(tx, &email)?.ok_or_else(|| Error::UnknownUser(email.clone()))
            })
            .await
    }

    /// Every account, oldest first; admins only.
    pub async fn users(&self, actor: Actor) -> Result<Vec<User>> {
        self.inner
            .db
            .tx("users", move |tx| {
                if !users::is_admin(tx, actor)? {
                    return Err(Error::Forbidden("admins only"));
                }
                users::all(tx)
            })
            .await
    }

    /// Accounts waiting for approval (mode `approval`); admins only.
    pub async fn pending_approvals(&self, actor: Actor) -> Result<Vec<User>> {
        self.inner
            .db
            .tx("pending approvals", move |tx| {
                if !users::is_admin(tx, actor)? {
                    return Err(Error::Forbidden("admins only"));
                }
                users::pending(tx)
            })
            .await
    }

    /// Approves a waiting account; admins only.
    pub async fn approve(&self, actor: Actor, user: UserId) -> Result<()> {
        let now = self.now();
        self.inner
            .db
            .tx("approve", move |tx| {
                if !users::is_admin(tx, actor)? {
                    return Err(Error::Forbidden("admins only"));
                }
                let changed = tx
                    .execute(
                        "UPDATE users SET status = ?1 WHERE id = ?2 AND status = ?3",
                        params![
                            UserStatus::Active.as_str(),
                            user.0,
                            UserStatus::PendingApproval.as_str()
                        ],
                    )
                    .map_err(Error::db("approve"))?;
                if changed == 0 {
                    return Err(Error::UnknownUser(user.0.to_string()));
                }
                let by = match actor {
                    Actor::Operator => "by the operator".to_string(),
                    Actor::User(a) => format!("by user {}", a.0),
                };
                audit::record(tx, user, Event::Approved, "", &by, now)
            })
            .await
    }

    /// Refuses a waiting account (mode `approval`): it is deleted, and its address may sign
    /// up again. Admins only; an active account is not touched.
    pub async fn reject(&self, actor: Actor, user: UserId) -> Result<()> {
        self.inner
            .db
            .tx("reject", move |tx| {
                if !users::is_admin(tx, actor)? {
                    return Err(Error::Forbidden("admins only"));
                }
                let changed = tx
                    .execute(
                        "DELETE FROM users WHERE id = ?1 AND status = ?2",
                        params![user.0, UserStatus::PendingApproval.as_str()],
                    )
                    .map_err(Error::db("reject"))?;
                if changed == 0 {
                    return Err(Error::UnknownUser(user.0.to_string()));
                }
                Ok(())
            })
            .await
    }
}
