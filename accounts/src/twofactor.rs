//! Two-factor authentication: TOTP enrolment confirmed by a first code, the last accepted
//! time step stored (no code works twice), ten single-use recovery codes stored as keyed
//! hashes, and disabling only with a valid code and the password. The TOTP secret is sealed
//! under the secrets key ([`crate::keys`]); the database never holds it in the clear.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rusqlite::{OptionalExtension, Transaction, params};
use sha2::Sha256;

use crate::Accounts;
use crate::audit::{self, Event};
use crate::error::{Error, Result};
use crate::keys::{Keys, Sealed};
use crate::messages;
use crate::password::check_policy;
use crate::session::SessionUser;
use crate::token::{Secret, ct_eq, random_bytes};
use crate::totp;
use crate::users::{self, Client, UserId};

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

/// What the enrolment page shows once: the secret typed or scanned into an app.
#[derive(Clone)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing.
    pub secret_base32: Secret,
    /// The `otpauth://` URI.
    pub otpauth_uri: Secret,
    /// The URI as an SVG QR code (it holds the secret: serve it only to this user, uncached).
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(<redacted>)")
    }
}

/// Which kind of code passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CodeKind {
    Totp,
    Recovery,
}

fn context(user: UserId) -> String {
    format!("totp:user:{}", user.0)
}

/// Recovery codes compared as lowercase base32 without separators.
fn recovery_hash(keys: &Keys, code: &str) -> Result<Vec<u8>> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(keys.pepper.as_slice())
        .map_err(|_| Error::Internal("hmac key".into()))?;
    mac.update(b"recovery code\0");
    mac.update(normal.as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Ten new codes (80 bits each, `xxxx-xxxx-xxxx-xxxx`), replacing the user's old ones.
fn new_recovery_codes(tx: &Transaction, keys: &Keys, user: UserId) -> Result<Vec<Secret>> {
    tx.execute(
        "DELETE FROM recovery_codes WHERE user_id = ?1",
        params![user.0],
    )
    .map_err(Error::db("recovery codes"))?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = BASE32_NOPAD
            .encode(random_bytes::<10>()?.as_slice())
            .to_lowercase();
        let code = format!(
            "{}-{}-{}-{}",
            &raw[0..4],
            &raw[4..8],
            &raw[8..12],
            &raw[12..16]
        );
        tx.execute(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)",
            params![user.0, recovery_hash(keys, &code)?],
        )
        .map_err(Error::db("recovery codes"))?;
        codes.push(Secret::new(code));
    }
    Ok(codes)
}

/// Checks a TOTP code (six digits) or a recovery code for `user` and uses it up: the TOTP
/// step is stored, the recovery code marked used. `None` if it does not pass.
pub(crate) fn check_code(
    tx: &Transaction,
    keys: &Keys,
    user: UserId,
    code: &str,
    now: i64,
) -> Result<Option<CodeKind>> {
    let row: Option<(Option<Vec<u8>>, i64)> = tx
        .query_row(
            "SELECT totp_secret, totp_last_step FROM users WHERE id = ?1",
            params![user.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(Error::db("second factor"))?;
    let Some((Some(sealed), last_step)) = row else {
        return Ok(None);
    };
    let code = code.trim();
    if code.len() == totp::DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit()) {
        let secret = keys.open(Sealed::Totp, &context(user), &sealed)?;
        let Some(step) = totp::matching_step(&secret, code, now, last_step.max(0) as u64) else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE users SET totp_last_step = ?1 WHERE id = ?2",
            params![step as i64, user.0],
        )
        .map_err(Error::db("totp step"))?;
        return Ok(Some(CodeKind::Totp));
    }
    let wanted = recovery_hash(keys, code)?;
    let mut st = tx
        .prepare_cached(
            "SELECT rowid, code_hash FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        )
        .map_err(Error::db("recovery codes"))?;
    let rows = st
        .query_map(params![user.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(Error::db("recovery codes"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(Error::db("recovery codes"))?;
    // Compare with every unused code in constant time, whichever matches.
    let mut hit = None;
    for (rowid, hash) in rows {
        if ct_eq(&hash, &wanted) {
            hit = Some(rowid);
        }
    }
    let Some(rowid) = hit else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE recovery_codes SET used_at = ?1 WHERE rowid = ?2",
        params![now, rowid],
    )
    .map_err(Error::db("use recovery code"))?;
    Ok(Some(CodeKind::Recovery))
}

impl Accounts {
    /// Starts TOTP enrolment: a new secret, sealed and kept pending until
    /// [`Accounts::confirm_totp`] sees a first code from it.
    pub async fn begin_totp(&self, who: &SessionUser) -> Result<TotpEnrolment> {
        let user = who.user;
        let secret = random_bytes::<20>()?;
        let inner = self.inner.clone();
        let issuer = self
            .public_url()
            .split("://")
            .nth(1)
            .unwrap_or("swarmfeed")
            .to_string();
        let uri = totp::otpauth_uri(secret.as_slice(), &issuer, &who.email);
        let qr_svg = totp::qr_svg(&uri).ok_or_else(|| Error::Internal("QR code".into()))?;
        let sealed = inner
            .keys
            .seal(Sealed::Totp, &context(user), secret.as_slice())?;
        self.inner
            .db
            .tx("begin totp", move |tx| {
                if users::credentials(tx, user)?.totp_enabled {
                    return Err(Error::SecondFactorState("already on"));
                }
                tx.execute(
                    "UPDATE users SET totp_pending = ?1 WHERE id = ?2",
                    params![sealed, user.0],
                )
                .map_err(Error::db("begin totp"))?;
                Ok(())
            })
            .await?;
        Ok(TotpEnrolment {
            secret_base32: Secret::new(totp::base32(secret.as_slice())),
            otpauth_uri: Secret::new(uri),
            qr_svg,
        })
    }

    /// Turns TOTP on with a first code from the pending secret; returns the ten recovery
    /// codes (shown once).
    pub async fn confirm_totp(
        &self,
        who: &SessionUser,
        code: &Secret,
        client: &Client,
    ) -> Result<Vec<Secret>> {
        let user = who.user;
        let code = code.clone();
        let now = self.now();
        let ip = client.network();
        let inner = self.inner.clone();
        self.inner
            .db
            .tx("confirm totp", move |tx| {
                let (pending, last_step): (Option<Vec<u8>>, i64) = tx
                    .query_row(
                        "SELECT totp_pending, totp_last_step FROM users WHERE id = ?1",
                        params![user.0],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(Error::db("confirm totp"))?;
                let Some(pending) = pending else {
                    return Err(Error::SecondFactorState("not being enrolled"));
                };
                let secret = inner.keys.open(Sealed::Totp, &context(user), &pending)?;
                let step = totp::matching_step(&secret, code.expose(), now, last_step.max(0) as u64)
                    .ok_or(Error::InvalidCode)?;
                tx.execute(
                    "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?1
                     WHERE id = ?2",
                    params![step as i64, user.0],
                )
                .map_err(Error::db("confirm totp"))?;
                let codes = new_recovery_codes(tx, &inner.keys, user)?;
                audit::record(tx, user, Event::TotpEnabled, &ip, "", now)?;
                Ok(codes)
            })
            .await
    }

    /// Turns TOTP off: needs the password and a valid code (TOTP or recovery). Refused while
    /// the password is shorter than the 15 characters an account without a second factor
    /// needs (change it first).
    pub async fn disable_totp(
        &self,
        who: &SessionUser,
        password: &Secret,
        code: &Secret,
        client: &Client,
    ) -> Result<()> {
        let user = who.user;
        let creds = self
            .inner
            .db
            .tx("disable totp", move |tx| users::credentials(tx, user))
            .await?;
        if !creds.totp_enabled {
            return Err(Error::SecondFactorState("off"));
        }
        if !self
            .inner
            .hasher
            .verify(password.expose(), Some(creds.password_hash))
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        check_policy(password.expose(), false)?;
        let code = code.clone();
        let now = self.now();
        let ip = client.network();
        let inner = self.inner.clone();
        let base = self.public_url().to_string();
        let notice = self
            .inner
            .db
            .tx("disable totp", move |tx| {
                if check_code(tx, &inner.keys, user, code.expose(), now)?.is_none() {
                    return Err(Error::InvalidCode);
                }
                tx.execute(
                    "UPDATE users SET totp_secret = NULL, totp_pending = NULL WHERE id = ?1",
                    params![user.0],
                )
                .map_err(Error::db("disable totp"))?;
                tx.execute(
                    "DELETE FROM recovery_codes WHERE user_id = ?1",
                    params![user.0],
                )
                .map_err(Error::db("disable totp"))?;
                audit::record(tx, user, Event::TotpDisabled, &ip, "", now)?;
                let email = users::get(tx, user)?.email;
                Ok(messages::security_notice(
                    &email,
                    &base,
                    "two-factor authentication was turned off",
                ))
            })
            .await?;
        self.inner.mailer.send_later(notice);
        Ok(())
    }

    /// Replaces the recovery codes (needs a valid code); returns the new ten.
    pub async fn regenerate_recovery_codes(
        &self,
        who: &SessionUser,
        code: &Secret,
        client: &Client,
    ) -> Result<Vec<Secret>> {
        let user = who.user;
        let code = code.clone();
        let now = self.now();
        let ip = client.network();
        let inner = self.inner.clone();
        self.inner
            .db
            .tx("regenerate recovery codes", move |tx| {
                if check_code(tx, &inner.keys, user, code.expose(), now)?.is_none() {
                    return Err(Error::InvalidCode);
                }
                let codes = new_recovery_codes(tx, &inner.keys, user)?;
                audit::record(tx, user, Event::RecoveryCodesRegenerated, &ip, "", now)?;
                Ok(codes)
            })
            .await
    }

    /// How many recovery codes the user has left.
    pub async fn recovery_codes_left(&self, user: UserId) -> Result<usize> {
        self.inner
            .db
            .tx("recovery codes left", move |tx| {
                tx.query_row(
                    "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
                    params![user.0],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as usize)
                .map_err(Error::db("recovery codes left"))
            })
            .await
    }
}
