//! Changing a password (signed in, with the current one) and resetting it by a mailed link
//! (1 hour, single-use, 5 mails per 30 minutes per account). Either ends every other
//! session of the user; a reset ends all of them.

use crate::Accounts;
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::messages;
use crate::password::check_policy;
use crate::ratelimit::RESETS_PER_ACCOUNT;
use crate::session::{self, SessionUser};
use crate::token::Secret;
use crate::tokens::{self, Purpose};
use crate::users::{self, Client, UserId};

impl Accounts {
    /// Changes the signed-in user's password after checking the current one; every other
    /// session of the user ends.
    pub async fn change_password(
        &self,
        who: &SessionUser,
        current: &Secret,
        new: &Secret,
        client: &Client,
    ) -> Result<()> {
        let user = who.user;
        let keep = who.session;
        let creds = self
            .inner
            .db
            .tx("change password", move |tx| users::credentials(tx, user))
            .await?;
        check_policy(new.expose(), creds.totp_enabled)?;
        if !self
            .inner
            .hasher
            .verify(current.expose(), Some(creds.password_hash))
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        let hash = self.inner.hasher.hash(new.expose()).await?;
        let now = self.now();
        let ip = client.network();
        let base = self.public_url().to_string();
        let notice = self
            .inner
            .db
            .tx("change password", move |tx| {
                set_password(tx, user, &hash)?;
                session::end_all(tx, user, Some(keep))?;
                tokens::drop_for_user(tx, Purpose::Reset, user.0)?;
                audit::record(tx, user, Event::PasswordChanged, &ip, "", now)?;
                let email = users::get(tx, user)?.email;
                Ok(messages::security_notice(
                    &email,
                    &base,
                    "the password was changed",
                ))
            })
            .await?;
        self.inner.mailer.send_later(notice);
        Ok(())
    }

    /// Mails a reset link if the address has an account; the same answer (and no slower or
    /// faster) if not: the mail goes out in the background.
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        self.mail_link_if_known(
            email,
            "request reset",
            RESETS_PER_ACCOUNT,
            Purpose::Reset,
            messages::reset_password,
        )
        .await
    }

    /// Sets a new password with a reset link; every session of the user ends, and every
    /// other reset link dies.
    pub async fn reset_password(
        &self,
        token: &Secret,
        new: &Secret,
        client: &Client,
    ) -> Result<UserId> {
        let now = self.now();
        let t = token.clone();
        let creds = self
            .inner
            .db
            .tx("reset password", move |tx| {
                let data = tokens::peek(tx, Purpose::Reset, t.expose(), now)?;
                users::credentials(tx, UserId(data.user_id.ok_or(Error::InvalidToken)?))
            })
            .await?;
        check_policy(new.expose(), creds.totp_enabled)?;
        let hash = self.inner.hasher.hash(new.expose()).await?;
        let user = creds.id;
        let ip = client.network();
        let token = token.clone();
        let base = self.public_url().to_string();
        let (user, notice) = self
            .inner
            .db
            .tx("reset password", move |tx| {
                // Taken only now, so a refused new password leaves the link usable; taken in
                // this transaction, so two tabs cannot both use it.
                let data = tokens::take(tx, Purpose::Reset, token.expose(), now)?;
                if data.user_id != Some(user.0) {
                    return Err(Error::InvalidToken);
                }
                set_password(tx, user, &hash)?;
                session::end_all(tx, user, None)?;
                tokens::drop_for_user(tx, Purpose::Reset, user.0)?;
                audit::record(tx, user, Event::PasswordReset, &ip, "", now)?;
                let email = users::get(tx, user)?.email;
                Ok((
                    user,
                    messages::security_notice(&email, &base, "the password was reset"),
                ))
            })
            .await?;
        self.inner.mailer.send_later(notice);
        Ok(user)
    }
}

fn set_password(tx: &rusqlite::Transaction, user: UserId, hash: &str) -> Result<()> {
    tx.execute(
        "UPDATE users SET password_hash = ?1 WHERE id = ?2",
        rusqlite::params![hash, user.0],
    )
    .map_err(Error::db("set password"))?;
    Ok(())
}
