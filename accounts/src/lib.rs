//! Accounts for group-hosted gateways: users, sessions, passwords, TOTP, identities held for
//! users, and mail. No HTTP here: the gateway holds the pages and forms and calls
//! [`Accounts`]. Its own SQLite file beside the node's keeps secrets apart from replica
//! data. The model, the modes and the operator's side are in docs/accounts.md.
//!
//! Secrets at rest: passwords as peppered bcrypt, tokens and recovery codes as hashes, TOTP
//! secrets and identity keys sealed under a key kept outside the database ([`keys`]).
//! Secrets handed out are [`Secret`]s, whose `Debug` prints nothing.

mod account;
mod audit;
mod clock;
mod config;
mod csrf;
mod db;
mod error;
mod hasher;
mod identities;
mod invite;
mod keys;
mod mail;
mod messages;
mod password;
mod password_reset;
mod quota;
mod ratelimit;
mod session;
mod signin;
mod signup;
mod token;
mod tokens;
pub mod totp;
mod twofactor;
mod users;

use std::path::Path;
use std::sync::Arc;

pub use crate::account::EmailChangeConfirmed;
pub use crate::audit::{AuditEntry, Event};
pub use crate::clock::Clock;
pub use crate::config::{
    AccountsConfig, MIN_BCRYPT_COST, MailConfig, Mode, SecretsKeyConfig, SmtpConfig, SmtpSecurity,
};
pub use crate::error::{Error, Result};
pub use crate::identities::{Member, Role};
pub use crate::invite::InvitationInfo;
pub use crate::keys::generate_secrets_key;
pub use crate::messages::{
    CONFIRM_PATH, EMAIL_CHANGE_PATH, MEMBER_INVITE_PATH, RESET_PATH, SIGN_IN_LINK_PATH,
    TOKEN_PATH_PREFIXES,
};
pub use crate::password::{
    MAX_LEN, MIN_LEN_WITH_SECOND_FACTOR, MIN_LEN_WITHOUT_SECOND_FACTOR, PasswordProblem,
    check_policy,
};
pub use crate::quota::UploadUsage;
pub use crate::ratelimit::client_network;
pub use crate::session::{SessionSummary, SessionUser};
pub use crate::signin::{NewSession, SignIn};
pub use crate::signup::{Confirmed, SignUp};
pub use crate::token::{Secret, new_token};
pub use crate::twofactor::TotpEnrolment;
pub use crate::users::{Actor, Client, User, UserId, UserStatus};

use crate::config::Resolved;
use crate::db::Db;
use crate::hasher::Hasher;
use crate::keys::Keys;
use crate::mail::Mailer;

/// The accounts service. Cheap to clone; every method is async and never blocks the
/// executor (SQLite on its own thread, bcrypt on the bounded pool).
#[derive(Clone, Debug)]
pub struct Accounts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    hasher: Hasher,
    keys: Keys,
    mailer: Arc<Mailer>,
    clock: Clock,
    mode: config::Mode,
    resolved: Resolved,
    session_idle_secs: i64,
    session_absolute_secs: i64,
    upload_quota_bytes: u64,
    max_upload_bytes: u64,
}

/// Opens [`Accounts`] with options beyond the config.
pub struct AccountsBuilder {
    config: AccountsConfig,
    data_dir: std::path::PathBuf,
    clock: Clock,
    cost: u32,
}

impl AccountsBuilder {
    /// Uses `clock` for every expiry and window (tests move a [`Clock::manual`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// A bcrypt cost below 12, for this crate's tests only: the feature
    /// `insecure-test-cost` exists only in its dev-dependencies, and no config field leads
    /// here.
    #[cfg(feature = "insecure-test-cost")]
    pub fn insecure_bcrypt_cost(mut self, cost: u32) -> Self {
        self.cost = cost;
        self
    }

    /// Opens the database (creating it), loads the secrets key (creating its file when it is
    /// missing and no variable is named) and sets up mail.
    pub fn open(self) -> Result<Accounts> {
        let resolved = self.config.resolve(&self.data_dir)?;
        let keys = Keys::load(&self.config.secrets_key, &resolved.key_file)?;
        let db = Db::open(&resolved.database)?;
        let mailer = Arc::new(Mailer::new(&self.config.mail, &resolved.outbox)?);
        let hasher = Hasher::new(
            self.cost,
            keys.pepper.clone(),
            self.config.password_hash_threads,
            self.config.password_hash_queue,
        );
        Ok(Accounts {
            inner: Arc::new(Inner {
                db,
                hasher,
                keys,
                mailer,
                clock: self.clock,
                mode: self.config.mode,
                resolved,
                session_idle_secs: self.config.session_idle_secs as i64,
                session_absolute_secs: self.config.session_absolute_secs as i64,
                upload_quota_bytes: self.config.upload_quota_bytes,
                max_upload_bytes: self.config.max_upload_bytes,
            }),
        })
    }
}

impl Accounts {
    /// A builder over `config`, with relative paths under `data_dir`.
    pub fn builder(config: AccountsConfig, data_dir: &Path) -> AccountsBuilder {
        let cost = config.bcrypt_cost;
        AccountsBuilder {
            config,
            data_dir: data_dir.to_path_buf(),
            clock: Clock::system(),
            cost,
        }
    }

    /// Opens with the system clock.
    pub fn open(config: AccountsConfig, data_dir: &Path) -> Result<Accounts> {
        Accounts::builder(config, data_dir).open()
    }

    /// The configured mode.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// The public URL links start with (no trailing slash).
    pub fn public_url(&self) -> &str {
        &self.inner.resolved.public_url
    }

    /// The SQLite file.
    pub fn database_path(&self) -> &Path {
        &self.inner.resolved.database
    }

    /// The outbox folder (used when no SMTP relay is set).
    pub fn outbox_path(&self) -> &Path {
        &self.inner.resolved.outbox
    }

    /// The largest upload the gateway takes in (`max_upload_bytes`).
    pub fn max_upload_bytes(&self) -> u64 {
        self.inner.max_upload_bytes
    }

    /// The bcrypt cost new password hashes get.
    pub fn bcrypt_cost(&self) -> u32 {
        self.inner.hasher.cost()
    }

    /// Waits until every queued mail was handed to the relay or written to the outbox.
    pub async fn flush_mail(&self) {
        self.inner.mailer.flush().await
    }

    /// Deletes expired tokens, sessions and rate-limit events (call now and then).
    pub async fn prune(&self) -> Result<()> {
        let now = self.now();
        self.inner
            .db
            .tx("prune", move |tx| {
                tokens::prune(tx, now)?;
                ratelimit::prune(tx, now)?;
                session::prune(tx, now)
            })
            .await
    }

    fn now(&self) -> i64 {
        self.inner.clock.now()
    }
}
