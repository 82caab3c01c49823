//! The crate's one error type. Each variant has a stable name ([`Error::name`]) for the
//! gateway to answer with; messages never carry a password, token or code.

use std::path::PathBuf;

use crate::password::PasswordProblem;

/// Result of every accounts operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured mode does not allow sign-up (`off`, or a closed mode without invitation).
    #[error("sign-up is closed on this gateway")]
    SignUpClosed,
    /// The invitation code is unknown, used up or expired.
    #[error("the invitation is unknown, used up or expired")]
    InvitationInvalid,
    /// Not a usable email address.
    #[error("not a usable email address")]
    InvalidEmail,
    /// The password policy refused the new password.
    #[error("password refused: {0}")]
    Password(#[from] PasswordProblem),
    /// Sign-in failed; the same answer for unknown emails and wrong passwords.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// A TOTP or recovery code was wrong, already used, or the challenge was spent.
    #[error("wrong or already used code")]
    InvalidCode,
    /// A link or token is unknown, used or expired.
    #[error("the link is invalid, used or expired")]
    InvalidToken,
    /// Too many attempts in the window; try again later.
    #[error("too many attempts; try again in {}", wait_in_words(*.retry_after_secs))]
    RateLimited {
        /// Seconds until the oldest counted attempt leaves the window.
        retry_after_secs: u64,
    },
    /// The account exists but an admin has not approved it yet (mode `approval`).
    #[error("the account awaits an admin's approval")]
    AwaitingApproval,
    /// The session token is unknown or expired.
    #[error("not signed in (the session is unknown or expired)")]
    NotSignedIn,
    /// The actor may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No user with this id or email (operator calls only: user-facing calls never say so).
    #[error("no such user: {0}")]
    UnknownUser(String),
    /// No identity with this id is held for users.
    #[error("no such identity: {0}")]
    UnknownIdentity(String),
    /// Not an identity id (52 z-base32 characters of an ed25519 public key).
    #[error("not an identity id: {0}")]
    InvalidIdentity(String),
    /// The secret key given is not the identity's.
    #[error("the secret key given is not the key of identity {0}")]
    IdentityKeyMismatch(String),
    /// The identity is already held by this gateway.
    #[error("the identity {0} is already held here")]
    IdentityExists(String),
    /// The last owner of an identity cannot leave it or be removed.
    #[error("the last owner of an identity cannot leave it")]
    LastOwner,
    /// The invitation was sent to another address than the signed-in user's.
    #[error("this invitation was sent to another address")]
    InvitationForAnotherAddress,
    /// Deleting the account would orphan identities it alone owns: name them to drop them.
    #[error("the account alone owns {} identities: {}", .0.len(), .0.join(", "))]
    SoleOwner(Vec<String>),
    /// Two-factor authentication is already on (disable it first) or not on.
    #[error("two-factor authentication is {0}")]
    SecondFactorState(&'static str),
    /// The upload would exceed the user's quota.
    #[error("upload quota exceeded: {used} of {quota} bytes used, {requested} more asked")]
    QuotaExceeded {
        /// Bytes already charged.
        used: u64,
        /// The user's quota.
        quota: u64,
        /// Bytes asked for.
        requested: u64,
    },
    /// Too many password hashes are waiting; the caller answers "busy" instead of queueing.
    #[error("busy: too many sign-ins at once, try again shortly")]
    Busy,
    /// The configuration is unusable.
    #[error("accounts config: {0}")]
    Config(String),
    /// The secrets key is missing or malformed.
    #[error("secrets key: {0}")]
    SecretsKey(String),
    /// A sealed secret did not open: the secrets key is not the one it was sealed under.
    #[error("a sealed secret did not open (is this the secrets key it was sealed under?)")]
    Unseal,
    /// SQLite failed.
    #[error("accounts database, {op}: {source}")]
    Database {
        /// The operation.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The database thread is gone.
    #[error("accounts database thread stopped")]
    DatabaseGone,
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A message could not be built or sent.
    #[error("mail: {0}")]
    Mail(String),
    /// A blocking task panicked or was cancelled.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// A stable machine-readable name (`{"error": name}` over HTTP).
    pub fn name(&self) -> &'static str {
        match self {
            Error::SignUpClosed => "signup_closed",
            Error::InvitationInvalid => "invitation_invalid",
            Error::InvalidEmail => "invalid_email",
            Error::Password(_) => "password_refused",
            Error::InvalidCredentials => "invalid_credentials",
            Error::InvalidCode => "invalid_code",
            Error::InvalidToken => "invalid_token",
            Error::RateLimited { .. } => "rate_limited",
            Error::AwaitingApproval => "awaiting_approval",
            Error::NotSignedIn => "not_signed_in",
            Error::Forbidden(_) => "forbidden",
            Error::UnknownUser(_) => "unknown_user",
            Error::UnknownIdentity(_) => "unknown_identity",
            Error::IdentityExists(_) => "identity_exists",
            Error::InvalidIdentity(_) => "invalid_identity",
            Error::IdentityKeyMismatch(_) => "identity_key_mismatch",
            Error::LastOwner => "last_owner",
            Error::InvitationForAnotherAddress => "invitation_for_another_address",
            Error::SoleOwner(_) => "sole_owner",
            Error::SecondFactorState(_) => "second_factor_state",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::Busy => "busy",
            Error::Config(_) => "config",
            Error::SecretsKey(_) => "secrets_key",
            Error::Unseal => "unseal",
            Error::Database { .. } | Error::DatabaseGone => "database",
            Error::Io { .. } => "io",
            Error::Mail(_) => "mail",
            Error::Internal(_) => "internal",
        }
    }

    pub(crate) fn db(op: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| Error::Database { op, source }
    }
}

/// A wait as a person reads it on a page: seconds under a minute, else whole minutes
/// rounded up ("1800 s" read as a riddle; "30 minutes" does not).
fn wait_in_words(secs: u64) -> String {
    match secs {
        0 | 1 => "1 second".to_owned(),
        2..=59 => format!("{secs} seconds"),
        _ => match secs.div_ceil(60) {
            1 => "1 minute".to_owned(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_says_how_long_to_wait_in_words() {
        let wait = |secs| {
            Error::RateLimited {
                retry_after_secs: secs,
            }
            .to_string()
        };
        assert_eq!(wait(1), "too many attempts; try again in 1 second");
        assert_eq!(wait(45), "too many attempts; try again in 45 seconds");
        assert_eq!(wait(60), "too many attempts; try again in 1 minute");
        assert_eq!(wait(61), "too many attempts; try again in 2 minutes");
        assert_eq!(wait(1800), "too many attempts; try again in 30 minutes");
        assert_eq!(wait(3599), "too many attempts; try again in 60 minutes");
    }
}
