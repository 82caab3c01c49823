//! The audit log of security events, one row per event, readable by the user it concerns.
//! Rows name the event, the client network and a short detail; never a secret.

use rusqlite::{Transaction, params};

use crate::error::{Error, Result};
use crate::users::UserId;

/// A security event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The account was created (email confirmed).
    AccountCreated,
    /// A sign-in succeeded (a new session).
    SignedIn,
    /// A password sign-in failed.
    SignInFailed,
    /// A one-time sign-in link was used.
    SignInLinkUsed,
    /// A second-factor code was wrong.
    SecondFactorFailed,
    /// A recovery code was used.
    RecoveryCodeUsed,
    /// Every session was ended.
    SignedOutEverywhere,
    /// The password was changed.
    PasswordChanged,
    /// The password was reset by mail.
    PasswordReset,
    /// TOTP was turned on.
    TotpEnabled,
    /// TOTP was turned off.
    TotpDisabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// An email change was asked for.
    EmailChangeRequested,
    /// The email address changed.
    EmailChanged,
    /// The admin role was granted.
    AdminGranted,
    /// The admin role was taken away.
    AdminRevoked,
    /// An admin approved the account.
    Approved,
}

impl Event {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::AccountCreated => "account_created",
            Event::SignedIn => "signed_in",
            Event::SignInFailed => "sign_in_failed",
            Event::SignInLinkUsed => "sign_in_link_used",
            Event::SecondFactorFailed => "second_factor_failed",
            Event::RecoveryCodeUsed => "recovery_code_used",
            Event::SignedOutEverywhere => "signed_out_everywhere",
            Event::PasswordChanged => "password_changed",
            Event::PasswordReset => "password_reset",
            Event::TotpEnabled => "totp_enabled",
            Event::TotpDisabled => "totp_disabled",
            Event::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Event::EmailChangeRequested => "email_change_requested",
            Event::EmailChanged => "email_changed",
            Event::AdminGranted => "admin_granted",
            Event::AdminRevoked => "admin_revoked",
            Event::Approved => "approved",
        }
    }
}

/// One row of a user's audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Seconds since the epoch.
    pub at: i64,
    /// The event's name ([`Event::as_str`]).
    pub event: String,
    /// The client network, or empty when the operator acted.
    pub ip: String,
    /// A short detail (e.g. the old address of an email change).
    pub detail: String,
}

pub(crate) fn record(
    tx: &Transaction,
    user: UserId,
    event: Event,
    ip: &str,
    detail: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit (user_id, at, event, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user.0, now, event.as_str(), ip, detail],
    )
    .map_err(Error::db("audit"))?;
    Ok(())
}

pub(crate) fn list(tx: &Transaction, user: UserId, limit: u32) -> Result<Vec<AuditEntry>> {
    let mut st = tx
        .prepare_cached(
            "SELECT at, event, ip, detail FROM audit WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .map_err(Error::db("audit list"))?;
    let rows = st
        .query_map(params![user.0, limit], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                event: r.get(1)?,
                ip: r.get(2)?,
                detail: r.get(3)?,
            })
        })
        .map_err(Error::db("audit list"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(Error::db("audit list"))
}
