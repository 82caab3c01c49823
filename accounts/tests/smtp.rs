//! Mail through a real SMTP server on loopback (aiosmtpd, started by the test): the
//! confirmation link read from the received message signs the user up; a relay without TLS
//! is refused unless it is on loopback.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use accounts::{
    Accounts, AccountsConfig, Error, MailConfig, Mode, SignUp, SmtpConfig, SmtpSecurity,
};
use common::{PASSWORD, client, mails_in, wait_for};

/// aiosmtpd in a child process; it exits when its stdin closes (on drop).
struct SmtpServer {
    child: Child,
    port: u16,
    spool: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let spool = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(spool.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 (scripts/test installs aiosmtpd with pip)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("aiosmtpd did not start (pip install aiosmtpd): {line:?}"));
        SmtpServer { child, port, spool }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_config(host: &str, port: u16, security: SmtpSecurity) -> AccountsConfig {
    AccountsConfig {
        mail: MailConfig {
            from: "Gateway <noreply@gw.example.test>".into(),
            smtp: Some(SmtpConfig {
                host: host.into(),
                port,
                security,
                ..SmtpConfig::default()
            }),
            outbox: None,
        },
        ..common::config(Mode::Open)
    }
}

#[tokio::test]
async fn a_confirmation_mail_travels_through_a_real_smtp_server_and_its_link_signs_up() {
    let server = SmtpServer::start();
    let h = common::open_with(smtp_config("127.0.0.1", server.port, SmtpSecurity::None));
    let c = client("192.0.2.1");
    h.accounts
        .sign_up(
            SignUp {
                email: "alice@example.org".into(),
                password: PASSWORD.into(),
                invitation: None,
            },
            &c,
        )
        .await
        .unwrap();
    h.accounts.flush_mail().await;
    let mail = wait_for(|| mails_in(server.spool.path()).pop());
    assert!(
        mail.contains("From: Gateway <noreply@gw.example.test>"),
        "{mail}"
    );
    assert!(mail.contains("To: alice@example.org"), "{mail}");
    let token = common::link_token(&mail, accounts::CONFIRM_PATH).unwrap();
    h.accounts.confirm_sign_up(&token, &c).await.unwrap();
    h.session("alice@example.org").await;
    // Nothing went to the outbox.
    assert!(h.outbox().is_empty());

    h.accounts
        .request_password_reset("alice@example.org")
        .await
        .unwrap();
    h.accounts.flush_mail().await;
    let reset = wait_for(|| {
        mails_in(server.spool.path())
            .into_iter()
            .find(|m| m.contains(accounts::RESET_PATH))
    });
    assert!(common::link_token(&reset, accounts::RESET_PATH).is_some());
}

#[test]
fn a_relay_without_tls_is_refused_unless_it_is_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let e = Accounts::open(
        smtp_config("smtp.example.org", 25, SmtpSecurity::None),
        dir.path(),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Config(ref m) if m.contains("loopback")),
        "{e}"
    );
    assert_eq!(SmtpSecurity::default(), SmtpSecurity::Starttls);
    // The relay's password never shows in Debug output.
    let c = SmtpConfig {
        host: "smtp.example.org".into(),
        password: Some("relay-pass-123".into()),
        ..SmtpConfig::default()
    };
    assert!(!format!("{c:?}").contains("relay-pass-123"));
}
