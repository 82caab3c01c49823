//! The `[accounts]` configuration: one serde struct whose defaults work (mode `off`, the
//! database, outbox and secrets key inside the data directory). Documented in
//! docs/accounts.md.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The lowest bcrypt cost accepted anywhere in configuration (and the default).
pub const MIN_BCRYPT_COST: u32 = 12;

/// Who may create an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No accounts: a single-user node publishing from the CLI (the default).
    #[default]
    Off,
    /// Sign-up needs an invitation code.
    Invite,
    /// Anyone may sign up; an admin approves each account before it can sign in.
    Approval,
    /// Anyone may sign up.
    Open,
}

impl Mode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Invite => "invite",
            Mode::Approval => "approval",
            Mode::Open => "open",
        }
    }
}

/// Where the secrets key (for TOTP secrets, identity keys and the password pepper) comes from.
/// It lives outside the database, so a copy of the database alone reveals none of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsKeyConfig {
    /// A file holding the key as 64 hex digits; created (mode 0600) when missing and no
    /// `env` is set. Default: `accounts.key` in the data directory.
    pub file: Option<PathBuf>,
    /// An environment variable holding the key as 64 hex digits; takes precedence.
    pub env: Option<String>,
}

/// How TLS protects an SMTP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server lacks it.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: accepted only for a loopback host (a local relay, tests).
    None,
}

/// An SMTP relay to send mail through.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name (also the TLS name).
    pub host: String,
    /// Port; 0 means the security's usual port (587, 465, 25).
    pub port: u16,
    /// STARTTLS, TLS or none.
    pub security: SmtpSecurity,
    /// User name for AUTH, if any.
    pub username: Option<String>,
    /// Password for AUTH (prefer `password_env`: config files get copied around).
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// An environment variable holding the AUTH password.
    pub password_env: Option<String>,
    /// A PEM file of a root certificate to trust besides the system's (a private CA, or a
    /// relay's self-signed certificate).
    pub root_certificate: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("root_certificate", &self.root_certificate)
            .finish()
    }
}

/// Outgoing mail.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The `From:` header, e.g. `swarmfeed <noreply@example.org>`.
    pub from: String,
    /// Send through this relay; without it every message is written to the outbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    /// Where messages go as `.eml` files when no relay is set. Default: `outbox` in the
    /// data directory.
    pub outbox: Option<PathBuf>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: "swarmfeed <noreply@localhost>".into(),
            smtp: None,
            outbox: None,
        }
    }
}

/// The accounts configuration (`[accounts]` in the node's TOML).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// Who may sign up.
    pub mode: Mode,
    /// The SQLite file. Default: `accounts.sqlite` in the data directory, beside the node's.
    pub database: Option<PathBuf>,
    /// The gateway's public URL; every mailed link starts with it (never with a Host header).
    /// Default: the node's `public_url` (itself `http://{listen}` by default).
    pub public_url: Option<String>,
    /// The key for secrets at rest.
    pub secrets_key: SecretsKeyConfig,
    /// bcrypt cost, at least 12.
    pub bcrypt_cost: u32,
    /// Password hashes computed at once (threads of the bounded hashing pool).
    pub password_hash_threads: usize,
    /// Password hashes allowed to wait for a thread; beyond it a sign-in answers busy.
    pub password_hash_queue: usize,
    /// A session ends after this long without use.
    pub session_idle_secs: u64,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute_secs: u64,
    /// Bytes each user may upload through the gateway unless set per user.
    pub upload_quota_bytes: u64,
    /// The largest upload (one form, every file together) the gateway takes in.
    pub max_upload_bytes: u64,
    /// An upload with no byte for this long is cut (`408`), its files removed and its
    /// quota given back. Uploads are timed by this and `upload_timeout_secs` instead of
    /// `[gateway] body_timeout_secs`, so a large file on a slow link arrives.
    pub upload_idle_secs: u64,
    /// An upload still arriving this long after its request began is cut, however steady.
    pub upload_timeout_secs: u64,
    /// Outgoing mail.
    pub mail: MailConfig,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            mode: Mode::Off,
            database: None,
            public_url: None,
            secrets_key: SecretsKeyConfig::default(),
            bcrypt_cost: MIN_BCRYPT_COST,
            password_hash_threads: 1,
            password_hash_queue: 32,
            session_idle_secs: 14 * 24 * 3600,
            session_absolute_secs: 90 * 24 * 3600,
            upload_quota_bytes: 1 << 30,
            max_upload_bytes: 1 << 30,
            upload_idle_secs: 60,
            // 1 GiB at 50 kB/s.
            upload_timeout_secs: 6 * 3600,
            mail: MailConfig::default(),
        }
    }
}

/// A configuration checked and with every path made absolute.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub database: PathBuf,
    pub outbox: PathBuf,
    pub key_file: PathBuf,
    pub public_url: String,
}

impl AccountsConfig {
    /// Checks the values and fills the paths left unset from `data_dir`.
    pub(crate) fn resolve(&self, data_dir: &Path) -> Result<Resolved> {
        if self.bcrypt_cost < MIN_BCRYPT_COST || self.bcrypt_cost > 31 {
            return Err(Error::Config(format!(
                "bcrypt_cost {} is outside {MIN_BCRYPT_COST}..=31",
                self.bcrypt_cost
            )));
        }
        if self.upload_idle_secs == 0 || self.upload_timeout_secs < self.upload_idle_secs {
            return Err(Error::Config(
                "upload_idle_secs must be at least 1 and at most upload_timeout_secs".into(),
            ));
        }
        if self.password_hash_threads == 0 {
            return Err(Error::Config(
                "password_hash_threads must be at least 1".into(),
            ));
        }
        if self.session_idle_secs == 0 || self.session_absolute_secs < self.session_idle_secs {
            return Err(Error::Config(
                "session_idle_secs must be > 0 and at most session_absolute_secs".into(),
            ));
        }
        let Some(public_url) = &self.public_url else {
            return Err(Error::Config(
                "public_url is not set (the node sets it to its own public URL)".into(),
            ));
        };
        let public_url = public_url.trim_end_matches('/').to_string();
        if !(public_url.starts_with("https://") || public_url.starts_with("http://"))
            || public_url.contains(char::is_whitespace)
        {
            return Err(Error::Config(format!(
                "public_url {:?} must be an http(s) URL",
                self.public_url
            )));
        }
        if let Some(smtp) = &self.mail.smtp {
            smtp.check()?;
        }
        let under = |p: &Option<PathBuf>, name: &str| match p {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => data_dir.join(p),
            None => data_dir.join(name),
        };
        Ok(Resolved {
            database: under(&self.database, "accounts.sqlite"),
            outbox: under(&self.mail.outbox, "outbox"),
            key_file: under(&self.secrets_key.file, "accounts.key"),
            public_url,
        })
    }
}

impl SmtpConfig {
    fn check(&self) -> Result<()> {
        if self.host.is_empty() {
            return Err(Error::Config("mail.smtp.host is empty".into()));
        }
        let loopback = matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "::1")
            || self.host.starts_with("127.");
        if self.security == SmtpSecurity::None && !loopback {
            return Err(Error::Config(format!(
                "mail.smtp.security = \"none\" is only allowed for a loopback host, not {}",
                self.host
            )));
        }
        Ok(())
    }

    /// The port to connect to.
    pub(crate) fn effective_port(&self) -> u16 {
        match (self.port, self.security) {
            (0, SmtpSecurity::Starttls) => 587,
            (0, SmtpSecurity::Tls) => 465,
            (0, SmtpSecurity::None) => 25,
            (p, _) => p,
        }
    }

    /// The AUTH password from the config or its environment variable.
    pub(crate) fn auth_password(&self) -> Result<Option<String>> {
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .map(Some)
                .map_err(|_| Error::Config(format!("mail.smtp.password_env: ${var} is not set")));
        }
        Ok(self.password.clone())
    }
}
