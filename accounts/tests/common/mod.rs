//! The harness of the accounts tests: a real SQLite file and outbox in a temp dir, a manual
//! clock, a low bcrypt cost (this crate's test-only feature), and helpers that read the
//! mails written to the outbox (or received by a real SMTP server, tests/smtp.rs).
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accounts::{
    Accounts, AccountsConfig, Client, Clock, Mode, Secret, SessionUser, SignIn, SignUp, UserId,
};

pub const PUBLIC_URL: &str = "https://gw.example.test";
pub const PASSWORD: &str = "a long enough passphrase";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub accounts: Accounts,
    pub clock: Clock,
}

pub fn config(mode: Mode) -> AccountsConfig {
    AccountsConfig {
        mode,
        public_url: Some(PUBLIC_URL.into()),
        ..AccountsConfig::default()
    }
}

pub fn open(mode: Mode) -> Harness {
    open_with(config(mode))
}

pub fn open_with(config: AccountsConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let accounts = Accounts::builder(config, dir.path())
        .clock(clock.clone())
        .insecure_bcrypt_cost(4)
        .open()
        .unwrap();
    Harness {
        dir,
        accounts,
        clock,
    }
}

pub fn client(ip: &str) -> Client {
    Client {
        ip: ip.parse().unwrap(),
        user_agent: "test-agent/1".into(),
    }
}

/// Every `.eml` file in a folder, oldest first, as text.
pub fn mails_in(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files
        .iter()
        .map(|p| decode(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

/// Undoes quoted-printable soft line breaks, in case a transport chose that encoding.
fn decode(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "")
}

impl Harness {
    pub fn outbox(&self) -> Vec<String> {
        mails_in(self.accounts.outbox_path())
    }

    /// Mails to `to` in the outbox, after every queued one was written.
    pub async fn mails_to(&self, to: &str) -> Vec<String> {
        self.accounts.flush_mail().await;
        self.outbox()
            .into_iter()
            .filter(|m| m.contains(&format!("To: {to}")))
            .collect()
    }

    /// The token of the newest mail to `to` with a link under `path`.
    pub async fn token(&self, to: &str, path: &str) -> Secret {
        let mails = self.mails_to(to).await;
        mails
            .iter()
            .rev()
            .find_map(|m| link_token(m, path))
            .unwrap_or_else(|| panic!("no {path} link to {to} in {mails:#?}"))
    }

    /// Signs up and confirms `email`; returns the new user.
    pub async fn user(&self, email: &str) -> UserId {
        let c = client("192.0.2.1");
        self.accounts
            .sign_up(
                SignUp {
                    email: email.into(),
                    password: PASSWORD.into(),
                    invitation: None,
                },
                &c,
            )
            .await
            .unwrap();
        let token = self.token(email, accounts::CONFIRM_PATH).await;
        self.accounts
            .confirm_sign_up(&token, &c)
            .await
            .unwrap()
            .user
    }

    /// Signs in (no second factor) and returns the session token and its user.
    pub async fn session(&self, email: &str) -> (Secret, SessionUser) {
        let c = client("192.0.2.1");
        match self
            .accounts
            .sign_in(email, &PASSWORD.into(), &c)
            .await
            .unwrap()
        {
            SignIn::Session(s) => {
                let who = self.accounts.authenticate(&s.token).await.unwrap();
                (s.token, who)
            }
            SignIn::SecondFactor { .. } => panic!("unexpected second factor"),
        }
    }
}

/// The token after `{PUBLIC_URL}{path}` in a mail.
pub fn link_token(mail: &str, path: &str) -> Option<Secret> {
    let prefix = format!("{PUBLIC_URL}{path}");
    let at = mail.find(&prefix)? + prefix.len();
    let token: String = mail[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(Secret::new(token))
}

/// Polls `f` until it gives Some, for at most 10 s.
pub fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An identity id and its secret seed, made from one repeated byte.
pub fn identity(seed: u8) -> (String, zeroize::Zeroizing<[u8; 32]>) {
    let key = zeroize::Zeroizing::new([seed; 32]);
    (
        feeds::identity::Keypair::from_seed(&key)
            .public()
            .to_string(),
        key,
    )
}
