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
        SmtpServer::start_with(&[])
    }

    /// With `["starttls" | "tls", cert, key]`, the server speaks TLS.
    fn start_with(tls: &[&str]) -> SmtpServer {
        let spool = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(spool.path())
            .args(tls)
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

#[tokio::test]
async fn starttls_is_required_so_a_relay_without_it_gets_nothing_in_the_clear() {
    // aiosmtpd here offers no STARTTLS: the message must not go out in plaintext.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let server = SmtpServer::start();
    let h = common::open_with(smtp_config(
        "127.0.0.1",
        server.port,
        SmtpSecurity::Starttls,
    ));
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
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(mails_in(server.spool.path()).is_empty());
}

/// A self-signed certificate for 127.0.0.1 (openssl), as (dir, cert path, key path).
fn self_signed() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem").display().to_string();
    let key = dir.path().join("key.pem").display().to_string();
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/test installs it)");
    assert!(status.success());
    (dir, cert, key)
}

async fn sign_up_through(security: SmtpSecurity, mode: &str) {
    let (_certs, cert, key) = self_signed();
    let server = SmtpServer::start_with(&[mode, &cert, &key]);
    let mut config = smtp_config("127.0.0.1", server.port, security);
    // Without the relay's certificate as a root, TLS fails and nothing is sent.
    let h = common::open_with(config.clone());
    let c = client("192.0.2.1");
    let form = || SignUp {
        email: "alice@example.org".into(),
        password: PASSWORD.into(),
        invitation: None,
    };
    h.accounts.sign_up(form(), &c).await.unwrap();
    h.accounts.flush_mail().await;
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        mails_in(server.spool.path()).is_empty(),
        "an unknown certificate is refused"
    );
    // Trusting it, the mail goes through.
    config.mail.smtp.as_mut().unwrap().root_certificate = Some(cert.clone().into());
    let h = common::open_with(config);
    h.accounts.sign_up(form(), &c).await.unwrap();
    h.accounts.flush_mail().await;
    let mail = wait_for(|| mails_in(server.spool.path()).pop());
    let token = common::link_token(&mail, accounts::CONFIRM_PATH).unwrap();
    h.accounts.confirm_sign_up(&token, &c).await.unwrap();
}

#[tokio::test]
async fn mail_goes_through_starttls_to_a_relay_whose_certificate_is_trusted() {
    sign_up_through(SmtpSecurity::Starttls, "starttls").await;
}

#[tokio::test]
async fn mail_goes_through_tls_from_the_first_byte_to_a_relay_whose_certificate_is_trusted() {
    sign_up_through(SmtpSecurity::Tls, "tls").await;
}
