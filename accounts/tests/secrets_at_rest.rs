//! The accounts database never holds a password, token, TOTP secret, recovery code or
//! identity key in the clear: a whole run of every flow, then the SQLite files (database,
//! WAL, shared memory) are read byte by byte for each secret handed out or typed in. The
//! log lines of the run and the Debug output of what the API returns are scanned too.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use accounts::{Mode, Role, Secret, SignIn, SignUp, totp};
use common::{client, open};
use data_encoding::{BASE32_NOPAD, HEXLOWER};

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_secret_is_ever_stored_or_logged_in_the_clear() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let h = open(Mode::Open);
    let c = client("192.0.2.1");
    // Every secret that passes through, typed or handed out. The passwords are non-ASCII
    // too, to check their NFKC form is not stored either.
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    let mut keep = |s: &Secret| secrets.push(s.expose().as_bytes().to_vec());
    let password: Secret = "ﬁrst pässwörd of ours".into();
    keep(&password);
    keep(&Secret::new("first pässwörd of ours"));
    h.accounts
        .sign_up(
            SignUp {
                email: "alice@example.org".into(),
                password: password.clone(),
                invitation: None,
            },
            &c,
        )
        .await
        .unwrap();
    let confirm = h.token("alice@example.org", accounts::CONFIRM_PATH).await;
    keep(&confirm);
    let alice = h.accounts.confirm_sign_up(&confirm, &c).await.unwrap().user;
    let SignIn::Session(s) = h
        .accounts
        .sign_in("alice@example.org", &password, &c)
        .await
        .unwrap()
    else {
        panic!()
    };
    keep(&s.token);
    let who = h.accounts.authenticate(&s.token).await.unwrap();
    let enrolment = h.accounts.begin_totp(&who).await.unwrap();
    keep(&enrolment.secret_base32);
    keep(&enrolment.otpauth_uri);
    let raw_secret = BASE32_NOPAD
        .decode(enrolment.secret_base32.expose().as_bytes())
        .unwrap();
    secrets.push(raw_secret.clone());
    secrets.push(HEXLOWER.encode(&raw_secret).into_bytes());
    let code = Secret::new(totp::code(enrolment.secret_base32.expose(), h.clock.now()).unwrap());
    let codes = h.accounts.confirm_totp(&who, &code, &c).await.unwrap();
    for code in &codes {
        secrets.push(code.expose().as_bytes().to_vec());
        secrets.push(code.expose().replace('-', "").into_bytes());
    }
    h.clock.advance(totp::STEP_SECS);
    let SignIn::SecondFactor { challenge } = h
        .accounts
        .sign_in("alice@example.org", &password, &c)
        .await
        .unwrap()
    else {
        panic!()
    };
    secrets.push(challenge.expose().as_bytes().to_vec());
    let s2 = h
        .accounts
        .complete_second_factor(&challenge, &codes[0], &c)
        .await
        .unwrap();
    secrets.push(s2.token.expose().as_bytes().to_vec());
    let rotated = h.accounts.rotate_session(&s2.token).await.unwrap();
    secrets.push(rotated.token.expose().as_bytes().to_vec());

    let (band, key) = common::identity(0x5a);
    secrets.push(key.to_vec());
    h.accounts
        .add_identity(alice, &band, Some(key))
        .await
        .unwrap();
    h.accounts
        .invite_member(alice, &band, "bob@example.org", Role::Publisher)
        .await
        .unwrap();
    let invite = h
        .token("bob@example.org", accounts::MEMBER_INVITE_PATH)
        .await;
    secrets.push(invite.expose().as_bytes().to_vec());
    let code = h
        .accounts
        .create_invitation(accounts::Actor::Operator, 3, 3600)
        .await
        .unwrap();
    secrets.push(code.expose().as_bytes().to_vec());

    h.accounts
        .request_password_reset("alice@example.org")
        .await
        .unwrap();
    let reset = h.token("alice@example.org", accounts::RESET_PATH).await;
    secrets.push(reset.expose().as_bytes().to_vec());
    let new_password: Secret = "второй пароль для проверки".into();
    secrets.push(new_password.expose().as_bytes().to_vec());
    h.accounts
        .reset_password(&reset, &new_password, &c)
        .await
        .unwrap();
    h.accounts
        .request_sign_in_link("alice@example.org")
        .await
        .unwrap();
    let link = h
        .token("alice@example.org", accounts::SIGN_IN_LINK_PATH)
        .await;
    secrets.push(link.expose().as_bytes().to_vec());
    assert!(
        h.accounts.authenticate(&rotated.token).await.is_err(),
        "the reset ended every session"
    );
    let SignIn::SecondFactor { challenge } = h
        .accounts
        .sign_in("alice@example.org", &new_password, &c)
        .await
        .unwrap()
    else {
        panic!()
    };
    let s3 = h
        .accounts
        .complete_second_factor(&challenge, &codes[1], &c)
        .await
        .unwrap();
    secrets.push(s3.token.expose().as_bytes().to_vec());
    let who = h.accounts.authenticate(&s3.token).await.unwrap();
    h.accounts
        .request_email_change(&who, &new_password, "alice@new.example.org", &c)
        .await
        .unwrap();
    let change = h
        .token("alice@new.example.org", accounts::EMAIL_CHANGE_PATH)
        .await;
    secrets.push(change.expose().as_bytes().to_vec());
    h.accounts.flush_mail().await;

    // The secrets key file holds the only key; the database never does.
    let key_file = std::fs::read_to_string(h.dir.path().join("accounts.key")).unwrap();
    secrets.push(key_file.trim().as_bytes().to_vec());

    let db = h.accounts.database_path().to_path_buf();
    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(bytes) = std::fs::read(&path) {
            files.push((path, bytes));
        }
    }
    assert!(
        files.iter().map(|f| f.1.len()).sum::<usize>() > 4096,
        "the files were read"
    );
    // The scan can fail: the email address, stored on purpose, is found.
    assert!(files.iter().any(|(_, b)| contains(b, b"alice@example.org")));
    for (path, bytes) in &files {
        for secret in &secrets {
            assert!(
                !contains(bytes, secret),
                "{} holds a secret in the clear: {:?}",
                path.display(),
                String::from_utf8_lossy(secret)
            );
        }
    }
    // Nor does a log line or a Debug rendering of what the API handed out.
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let debug = format!(
        "{s:?} {s2:?} {rotated:?} {enrolment:?} {codes:?} {password:?} {:?}",
        accounts::AccountsConfig::default()
    );
    for secret in &secrets {
        let secret = String::from_utf8_lossy(secret);
        assert!(!logs.contains(secret.as_ref()), "a log line holds {secret}");
        assert!(
            !debug.contains(secret.as_ref()),
            "Debug output holds {secret}"
        );
    }
}
