//! The fixture of the account-page tests: a node with `[accounts] mode = "open"` mailing
//! through a real SMTP server on loopback, and a visitor signing up through the pages.

use std::net::SocketAddr;
use std::path::Path;

use crate::node::{NodeOptions, NodeProcess};
use crate::smtp::SmtpServer;
use crate::web::WebClient;

/// `accounts::CONFIRM_PATH` (the harness does not link the accounts crate; the tests that
/// do check it is the same).
pub const CONFIRM_PATH: &str = "/account/confirm/";

/// The password of every account the tests make.
pub const PASSWORD: &str = "correct horse battery staple";

/// A node with accounts on, mailing through its own SMTP server; its files in a temp dir.
pub struct AccountsGateway {
    pub tmp: tempfile::TempDir,
    pub smtp: SmtpServer,
    pub node: NodeProcess,
}

impl AccountsGateway {
    /// A node with `[accounts] mode = "open"` mailing through a fresh SMTP server.
    pub fn start() -> AccountsGateway {
        let tmp = tempfile::tempdir().expect("temp dir");
        let smtp = SmtpServer::start(&tmp.path().join("spool"));
        let config = tmp.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[accounts]\nmode = \"open\"\n\n[accounts.mail.smtp]\nhost = \"127.0.0.1\"\n\
                 port = {}\nsecurity = \"none\"\n",
                smtp.port
            ),
        )
        .expect("write the config");
        let node = start_node(
            &tmp.path().join("data"),
            &["--config", config.to_str().unwrap()],
        );
        AccountsGateway { tmp, smtp, node }
    }

    /// The gateway's address.
    pub fn addr(&self) -> SocketAddr {
        self.node.info.http
    }

    /// A new visitor with an empty cookie jar.
    pub fn client(&self) -> WebClient {
        WebClient::new(self.addr())
    }

    /// Signs `email` up and confirms it through the mailed link (one hash); the tokens
    /// mailed.
    pub fn sign_up(&self, web: &mut WebClient, email: &str) -> String {
        let seen = self.smtp.mails().len();
        let page = web.get("/account/sign-up");
        assert_eq!(page.status, 200);
        let done = web.submit(
            &page.text(),
            "/account/sign-up",
            &[("email", email), ("password", PASSWORD)],
        );
        assert_eq!(done.status, 200, "{}", done.text());
        assert!(done.text().contains("Check your mail"), "{}", done.text());
        assert!(done.text().contains("spam folder"), "{}", done.text());
        let token = self.smtp.wait_for_link(seen, email, CONFIRM_PATH);
        let path = format!("{CONFIRM_PATH}{token}");
        let landing = web.get(&path);
        assert_eq!(
            landing.status, 200,
            "a scanner fetching the link spends nothing"
        );
        let created = web.submit(&landing.text(), &path, &[]);
        assert_eq!(created.status, 200, "{}", created.text());
        assert!(created.text().contains("Your account is ready"));
        token
    }
}

/// Starts a node on `data` with extra `serve` arguments.
pub fn start_node(data: &Path, args: &[&str]) -> NodeProcess {
    let options = NodeOptions {
        args: args.iter().map(|s| s.to_string()).collect(),
        ..NodeOptions::default()
    };
    NodeProcess::start(data, &options)
}

/// Unix seconds now (for TOTP codes).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
