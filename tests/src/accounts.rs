//! The fixture of the account-page tests: a node with `[accounts] mode = "open"` mailing
//! through a real SMTP server on loopback, and a visitor signing up through the pages.

use std::net::SocketAddr;
use std::path::Path;

use crate::node::{NodeOptions, NodeProcess};
use crate::raw_http::RawAnswer;
use crate::smtp::SmtpServer;
use crate::web::WebClient;

/// `accounts::CONFIRM_PATH` (the harness does not link the accounts crate; the tests that
/// do check it is the same).
pub const CONFIRM_PATH: &str = "/account/confirm/";

/// `accounts::MEMBER_INVITE_PATH`, likewise.
pub const MEMBER_INVITE_PATH: &str = "/identities/join/";

/// The password of every account the tests make.
pub const PASSWORD: &str = "correct horse battery staple";

/// A node with accounts on, mailing through its own SMTP server; its files in a temp dir.
pub struct AccountsGateway {
    pub tmp: tempfile::TempDir,
    pub smtp: SmtpServer,
    pub node: NodeProcess,
    /// How the node was started, for [`AccountsGateway::restart`].
    options: NodeOptions,
}

impl AccountsGateway {
    /// A node with `[accounts] mode = "open"` mailing through a fresh SMTP server.
    pub fn start() -> AccountsGateway {
        AccountsGateway::start_with("")
    }

    /// The same, with `extra` appended to its TOML config.
    pub fn start_with(extra: &str) -> AccountsGateway {
        AccountsGateway::start_in_mode("open", extra)
    }

    /// A node in accounts mode `mode`, with `extra` appended to its TOML config.
    pub fn start_in_mode(mode: &str, extra: &str) -> AccountsGateway {
        AccountsGateway::start_full(mode, "", extra, None)
    }

    /// The same on the DHT at `bootstrap` (`None`: a DHT of its own), so that other nodes
    /// of a test can follow the identities it holds.
    pub fn start_on(mode: &str, extra: &str, bootstrap: Option<String>) -> AccountsGateway {
        AccountsGateway::start_full(mode, "", extra, bootstrap)
    }

    /// A node in accounts mode `mode` with `accounts_keys` (lines of `key = value`) in its
    /// `[accounts]` table and `extra` appended to its TOML config.
    pub fn start_configured(mode: &str, accounts_keys: &str, extra: &str) -> AccountsGateway {
        AccountsGateway::start_full(mode, accounts_keys, extra, None)
    }

    fn start_full(
        mode: &str,
        accounts_keys: &str,
        extra: &str,
        bootstrap: Option<String>,
    ) -> AccountsGateway {
        let tmp = tempfile::tempdir().expect("temp dir");
        let smtp = SmtpServer::start(&tmp.path().join("spool"));
        let config = tmp.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[accounts]\nmode = {mode:?}\n{accounts_keys}\n[accounts.mail.smtp]\n\
                 host = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n{extra}",
                smtp.port
            ),
        )
        .expect("write the config");
        let options = NodeOptions {
            bootstrap,
            args: vec!["--config".into(), config.to_str().unwrap().into()],
        };
        let node = NodeProcess::start(&tmp.path().join("data"), &options);
        AccountsGateway {
            tmp,
            smtp,
            node,
            options,
        }
    }

    /// Starts the node again on the same data, config and DHT (after `node.kill()`).
    pub fn restart(&mut self) {
        self.node = NodeProcess::start(&self.tmp.path().join("data"), &self.options);
    }

    /// `swarmfeed admin ARGS` on this node's config and data: its standard output.
    pub fn admin(&self, args: &[&str]) -> String {
        let data = self.tmp.path().join("data");
        let config = self.tmp.path().join("config.toml");
        let mut all = vec![
            "--data",
            data.to_str().expect("a UTF-8 path"),
            "admin",
            "--config",
            config.to_str().expect("a UTF-8 path"),
        ];
        all.extend_from_slice(args);
        crate::binary::swarmfeed_ok(&all)
    }

    /// The gateway's address.
    pub fn addr(&self) -> SocketAddr {
        self.node.info.http
    }

    /// A new visitor with an empty cookie jar.
    pub fn client(&self) -> WebClient {
        WebClient::new(self.addr())
    }

    /// Signs `email` up and confirms it through the mailed link (one hash), whose address
    /// starts with the node's own public URL; the token mailed.
    pub fn sign_up(&self, web: &mut WebClient, email: &str) -> String {
        let token = sign_up(web, &self.smtp, email);
        // With no [accounts] public_url, links start with the node's own public URL.
        let link = format!("{}{CONFIRM_PATH}{token}", self.node.info.public_url);
        assert!(
            self.smtp.mails().iter().any(|mail| mail.contains(&link)),
            "no mail holds {link}"
        );
        token
    }
}

/// Signs `email` up through the pages and confirms it through the link `smtp` received
/// (one hash); the token mailed.
pub fn sign_up(web: &mut WebClient, smtp: &SmtpServer, email: &str) -> String {
    let seen = smtp.mails().len();
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
    let token = smtp.wait_for_link(seen, email, CONFIRM_PATH);
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

/// Starts a node on `data` with extra `serve` arguments.
pub fn start_node(data: &Path, args: &[&str]) -> NodeProcess {
    let options = NodeOptions {
        args: args.iter().map(|s| s.to_string()).collect(),
        ..NodeOptions::default()
    };
    NodeProcess::start(data, &options)
}

/// A Unix time in the previous 30-second TOTP step, for the code that confirms an
/// enrolment (a sign-in right after then has a later step to use). Near the end of a step
/// it first waits for the next one: the server accepts the current step and one either side,
/// and a step ending between this and its check would leave the code two steps behind.
pub fn previous_totp_step() -> i64 {
    if unix_now() % 30 >= 27 {
        std::thread::sleep(std::time::Duration::from_secs(4));
    }
    unix_now() - 30
}

/// Unix seconds now (for TOTP codes).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The `Location` of an answer.
pub fn location(answer: &RawAnswer) -> String {
    answer.header("location").unwrap_or_default()
}

/// Password sign-in (one hash): `303` to /account, or the second-factor page.
pub fn sign_in(web: &mut WebClient, email: &str, password: &str) -> RawAnswer {
    let page = web.get("/account/sign-in");
    assert_eq!(page.status, 200);
    web.submit(
        &page.text(),
        "/account/sign-in",
        &[("email", email), ("password", password)],
    )
}

/// Submits a second-factor code on `page` (the code form).
pub fn enter_code(web: &mut WebClient, page: &RawAnswer, code: &str) -> RawAnswer {
    assert!(page.text().contains("Second factor"), "{}", page.text());
    web.submit(&page.text(), "/account/sign-in/code", &[("code", code)])
}

/// Signs out with the header's button.
pub fn sign_out(web: &mut WebClient) {
    let account = web.get("/account");
    assert_eq!(account.status, 200);
    let out = web.submit(&account.text(), "/account/sign-out", &[]);
    assert_eq!((out.status, location(&out)), (303, "/".to_owned()));
    assert!(
        !web.cookies.contains_key("swarmfeed-session"),
        "the cookie is cleared"
    );
}

/// Whether `/account` shows the account (else it redirects to sign-in).
pub fn signed_in(web: &mut WebClient) -> bool {
    let account = web.get("/account");
    match account.status {
        200 => true,
        303 => {
            assert!(location(&account).starts_with("/account/sign-in"));
            false
        }
        other => panic!("GET /account answered {other}"),
    }
}

/// The text between `start` and the next `end` in `page`.
pub fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in\n{page}"))
        + start.len();
    &page[from..from + page[from..].find(end).unwrap()]
}

/// The CSRF token of the form on `path`.
pub fn web_csrf(web: &mut WebClient, path: &str) -> String {
    let page = web.get(path).text();
    crate::web::hidden_fields(&page, path)
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no CSRF token on {path}"))
}

/// A node config in `dir` with `[accounts] mode = "open"` mailing through `smtp`.
pub fn open_accounts_config(dir: &Path, smtp: &SmtpServer) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[accounts]\nmode = \"open\"\n\n[accounts.mail.smtp]\nhost = \"127.0.0.1\"\n\
             port = {}\nsecurity = \"none\"\n",
            smtp.port
        ),
    )
    .expect("write the config");
    config
}

/// Signs `email` up through the pages (confirmed by the link `smtp` received) and in.
pub fn sign_up_and_in(web: &mut WebClient, smtp: &SmtpServer, email: &str) {
    sign_up(web, smtp, email);
    let signed_in = sign_in(web, email, PASSWORD);
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
}

/// Creates an identity through `/account/identities` as the signed-in `web` user: its id.
pub fn create_identity(web: &mut WebClient) -> String {
    let list = web.get("/account/identities").text();
    let created = web.submit(&list, "/account/identities", &[]);
    assert_eq!(created.status, 303, "{}", created.text());
    location(&created)
        .strip_prefix("/account/identities/")
        .expect("to the new identity's page")
        .to_owned()
}

/// The signed-in `owner` invites `email` (signed in as `member`) to `identity` as `role` on
/// its page; the member joins through the link `smtp` received and lands on that page.
pub fn invite_and_join(
    owner: &mut WebClient,
    member: &mut WebClient,
    smtp: &SmtpServer,
    identity: &str,
    email: &str,
    role: &str,
) {
    let page_path = format!("/account/identities/{identity}");
    let seen = smtp.mails().len();
    let page = owner.get(&page_path).text();
    let invited = owner.submit(
        &page,
        &format!("{page_path}/invite"),
        &[("email", email), ("role", role)],
    );
    assert_eq!(invited.status, 303, "{}", invited.text());
    let token = smtp.wait_for_link(seen, email, MEMBER_INVITE_PATH);
    let join = format!("{MEMBER_INVITE_PATH}{token}");
    let landing = member.get(&join);
    assert_eq!(landing.status, 200, "{}", landing.text());
    let joined = member.submit(&landing.text(), &join, &[]);
    assert_eq!((joined.status, location(&joined)), (303, page_path));
}
