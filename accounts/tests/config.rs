//! The `[accounts]` config: TOML with working defaults, bcrypt cost 12 by default and never
//! below it from config, and the secrets key from a variable or a file.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use accounts::{Accounts, AccountsConfig, Error, Mode, SignIn, SignUp};
use common::{PASSWORD, client};

#[test]
fn the_defaults_are_mode_off_and_cost_12_and_the_toml_spells_what_the_docs_say() {
    let d = AccountsConfig::default();
    assert_eq!(d.mode, Mode::Off);
    assert_eq!(d.bcrypt_cost, 12);
    let c: AccountsConfig = toml::from_str(
        r#"
        mode = "approval"
        public_url = "https://gw.example.org/"
        bcrypt_cost = 13
        session_idle_secs = 3600
        upload_quota_bytes = 5000
        [secrets_key]
        env = "SWARMFEED_ACCOUNTS_KEY"
        [mail]
        from = "Gateway <noreply@gw.example.org>"
        [mail.smtp]
        host = "smtp.example.org"
        port = 587
        security = "starttls"
        username = "gw"
        password_env = "SMTP_PASSWORD"
        "#,
    )
    .unwrap();
    assert_eq!(c.mode, Mode::Approval);
    assert_eq!(c.bcrypt_cost, 13);
    assert_eq!(
        c.mail.smtp.as_ref().unwrap().password_env.as_deref(),
        Some("SMTP_PASSWORD")
    );
    assert!(toml::from_str::<AccountsConfig>("mode = \"everyone\"").is_err());
    assert!(
        toml::from_str::<AccountsConfig>("bcrypt_costs = 12").is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn a_bcrypt_cost_below_12_is_refused_from_config() {
    let dir = tempfile::tempdir().unwrap();
    for cost in [4, 10, 11] {
        let c = AccountsConfig {
            bcrypt_cost: cost,
            ..AccountsConfig::default()
        };
        let e = Accounts::open(c, dir.path()).unwrap_err();
        assert!(
            matches!(e, Error::Config(ref m) if m.contains("bcrypt_cost")),
            "{e}"
        );
    }
    let c: AccountsConfig = toml::from_str("bcrypt_cost = 4").unwrap();
    assert!(Accounts::open(c, dir.path()).is_err());
}

#[test]
fn an_upload_idle_time_of_zero_or_over_the_upload_timeout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (idle, total) in [(0, 60), (61, 60)] {
        let c = AccountsConfig {
            upload_idle_secs: idle,
            upload_timeout_secs: total,
            ..AccountsConfig::default()
        };
        let e = Accounts::open(c, dir.path()).unwrap_err();
        assert!(
            matches!(e, Error::Config(ref m) if m.contains("upload_idle_secs")),
            "{e}"
        );
    }
    let c = AccountsConfig {
        upload_idle_secs: 60,
        upload_timeout_secs: 60,
        ..common::config(Mode::Open)
    };
    assert!(Accounts::open(c, dir.path()).is_ok());
}

#[tokio::test]
async fn passwords_are_hashed_at_cost_12_by_default_and_a_lower_cost_hash_is_upgraded_at_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(Mode::Open);
    let c = client("192.0.2.1");
    // First opened at the test-only cost 4: the stored hash says $2b$04$.
    let low = Accounts::builder(config.clone(), dir.path())
        .insecure_bcrypt_cost(4)
        .open()
        .unwrap();
    low.sign_up(
        SignUp {
            email: "a@example.org".into(),
            password: PASSWORD.into(),
            invitation: None,
        },
        &c,
    )
    .await
    .unwrap();
    low.flush_mail().await;
    let mail = common::mails_in(low.outbox_path()).pop().unwrap();
    let token = common::link_token(&mail, accounts::CONFIRM_PATH).unwrap();
    low.confirm_sign_up(&token, &c).await.unwrap();
    let stored = || {
        let db = rusqlite::Connection::open(dir.path().join("accounts.sqlite")).unwrap();
        db.query_row("SELECT password_hash FROM users", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };
    assert!(stored().starts_with("v1$$2b$04$"), "{}", stored());
    drop(low);
    // Opened from config alone: cost 12, and the sign-in rehashes at it.
    let real = Accounts::open(config, dir.path()).unwrap();
    assert_eq!(real.bcrypt_cost(), 12);
    assert!(matches!(
        real.sign_in("a@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
        SignIn::Session(_)
    ));
    assert!(stored().starts_with("v1$$2b$12$"), "{}", stored());
    assert!(matches!(
        real.sign_in("a@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
        SignIn::Session(_)
    ));
}

#[test]
fn the_secrets_key_comes_from_the_named_variable_when_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = AccountsConfig {
        public_url: Some("https://gw.example.test".into()),
        ..AccountsConfig::default()
    };
    c.secrets_key.env = Some("ACCOUNTS_TEST_KEY_UNSET_VARIABLE".into());
    let e = Accounts::open(c.clone(), dir.path()).unwrap_err();
    assert!(matches!(e, Error::SecretsKey(_)), "{e}");
    assert!(
        !dir.path().join("accounts.key").exists(),
        "no file made when a variable is named"
    );
    // Without a variable, a fresh data directory gets a key file.
    c.secrets_key.env = None;
    Accounts::open(c, dir.path()).unwrap();
    let key = std::fs::read_to_string(dir.path().join("accounts.key")).unwrap();
    assert_eq!(key.trim().len(), 64);
}
