//! Issue 15's journey in a real browser (Debian's headless Chromium, driven over DevTools)
//! against the real binary, with a real SMTP server on loopback. Carol signs up, reads the
//! confirmation mail, confirms, signs in, enrols TOTP (the code computed from the secret the
//! page shows), keeps the recovery codes, signs out, signs in with password and code, then
//! with a recovery code, which the same form refuses the second time (400, "wrong or
//! already used code"; the next code works). She creates an identity through the form and
//! invites Dave as publisher. Dave, in a second browser (its own profile), signs up and
//! confirms, then opens the mailed invitation: not signed in, he gets the sign-in form at
//! the link's own path (a redirect to `/account/sign-in?next=…` put the token in a query,
//! which the access log writes out) and after it the invitation's button. He joins and
//! uploads two files through `/account/upload`, a form with no script: the test picks the
//! files as the file dialog would (`DOM.setFileInputFiles`) and the browser posts its own
//! multipart form. The entry page says it is signed by the identity's key; the feed page
//! lists it, verified; Carol sees Dave as publisher among the members. A second node
//! follows the identity, verifies and holds the entry, and its own pages show it. Then a
//! page of another origin on the same host (so `SameSite=Lax` cookies do go with its post)
//! posting the "sign out everywhere" form is refused. Last, the node's log (its access log
//! saw every page) holds no password, TOTP secret, recovery code or mailed token.
//!
//! The browser sends its own `Origin` and `Sec-Fetch-Site` and keeps the cookies, so this is
//! the CSRF and cookie set-up as users meet it. Assertions are on what the pages show
//! (headings, notices, the member table, the entry's title), and a screenshot of every page
//! is kept, numbered in order, in `target/test-artifacts/accounts/`. Hashes: sign-ups 2,
//! sign-ins 5 (~2 s).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};
use tests::accounts::{AccountsGateway, CONFIRM_PATH, PASSWORD, previous_totp_step, unix_now};
use tests::browser::{Browser, artifact_path};
use tests::network::{Network, follow_until_held};

const CAROL: &str = "carol@example.org";
const DAVE: &str = "dave@example.org";
const TITLE: &str = "Dawn chorus";

/// The numbered screenshots of the journey, in the order its pages are seen.
struct Shots(u32);

impl Shots {
    fn take(&mut self, browser: &mut Browser, what: &str) {
        self.0 += 1;
        let name = format!("accounts/{:02}-{what}.png", self.0);
        browser.screenshot(&artifact_path(&name));
    }
}

/// Follows the first link to `href` on the page, as a click does.
fn click(browser: &mut Browser, href: &str) {
    browser.leave_with(&format!(
        "document.querySelector({}).click()",
        json!(format!("a[href=\"{href}\"]"))
    ));
}

/// Signs `email` up in `browser` and confirms it through the mailed link; the link's token.
fn sign_up(
    browser: &mut Browser,
    shots: &mut Shots,
    gateway: &AccountsGateway,
    email: &str,
    who: &str,
) -> String {
    let url = format!("http://{}", gateway.addr());
    let seen = gateway.smtp.mails().len();
    browser.navigate(&format!("{url}/account/sign-up"));
    assert_eq!(browser.text("h1"), "Create an account");
    shots.take(browser, &format!("{who}sign-up"));
    browser.submit(
        "/account/sign-up",
        &[("email", email), ("password", PASSWORD)],
    );
    let body = browser.text("body");
    assert_eq!(browser.text("h1"), "Check your mail", "{body}");
    assert!(body.contains("spam folder"), "{body}");
    shots.take(browser, &format!("{who}check-your-mail"));

    let token = gateway.smtp.wait_for_link(seen, email, CONFIRM_PATH);
    let confirm = format!("{CONFIRM_PATH}{token}");
    browser.navigate(&format!("{url}{confirm}"));
    shots.take(browser, &format!("{who}confirm"));
    browser.submit(&confirm, &[]);
    assert_eq!(browser.text("h1"), "Your account is ready");
    shots.take(browser, &format!("{who}account-ready"));
    token
}

/// Fills the sign-in form shown (email and password) and posts it.
fn password_step(browser: &mut Browser, email: &str) {
    assert_eq!(browser.text("h1"), "Sign in");
    browser.submit(
        "/account/sign-in",
        &[("email", email), ("password", PASSWORD)],
    );
}

/// Signs out with the header's button; the home page follows.
fn sign_out(browser: &mut Browser, shots: &mut Shots) {
    browser.submit("/account/sign-out", &[]);
    assert_eq!(browser.path(), "/");
    assert_eq!(browser.status(), 200);
    shots.take(browser, "signed-out");
}

#[test]
fn in_a_browser_users_sign_up_with_totp_share_an_identity_and_publish_what_a_follower_verifies() {
    // Only this run's screenshots: a renamed step leaves no stale picture behind.
    let _ = std::fs::remove_dir_all(artifact_path("accounts"));
    let network = Network::new(4);
    let gateway = AccountsGateway::start_on("open", "", Some(network.bootstrap()));
    let url = format!("http://{}", gateway.addr());
    let mut shots = Shots(0);
    let mut carol = Browser::start();

    let mut confirmations = vec![sign_up(&mut carol, &mut shots, &gateway, CAROL, "")];
    carol.navigate(&format!("{url}/account/sign-in"));
    shots.take(&mut carol, "sign-in");
    password_step(&mut carol, CAROL);
    assert_eq!(carol.path(), "/account");
    assert_eq!(carol.text("h1"), "Your account");
    assert_eq!(
        carol.evaluate("document.cookie"),
        Value::String(String::new()),
        "the cookies are HttpOnly: no script reads them"
    );
    shots.take(&mut carol, "account");

    // TOTP: the secret from the page, a first code to confirm, ten recovery codes.
    click(&mut carol, "/account/two-factor");
    assert_eq!(carol.text("h1"), "Two-factor authentication");
    shots.take(&mut carol, "two-factor");
    carol.submit("/account/two-factor/begin", &[]);
    assert_eq!(
        carol.evaluate("document.querySelector('figure svg') !== null"),
        Value::Bool(true),
        "the QR code renders inline"
    );
    let secret = carol.text("main p code");
    shots.take(&mut carol, "enrol-totp");
    let code = accounts::totp::code(&secret, previous_totp_step()).expect("a code");
    carol.submit("/account/two-factor/confirm", &[("code", &code)]);
    let codes = carol.texts("ol.codes code");
    assert_eq!(codes.len(), 10, "{codes:?}");
    shots.take(&mut carol, "recovery-codes");

    // Password and a TOTP code, after the redirect that brings her back to /account.
    sign_out(&mut carol, &mut shots);
    carol.navigate(&format!("{url}/account"));
    assert_eq!(carol.path(), "/account/sign-in", "signed out");
    shots.take(&mut carol, "sign-in-first");
    password_step(&mut carol, CAROL);
    assert_eq!(carol.text("h1"), "Second factor");
    shots.take(&mut carol, "second-factor");
    let code = accounts::totp::code(&secret, unix_now()).expect("a code");
    carol.submit("/account/sign-in/code", &[("code", &code)]);
    assert_eq!(carol.path(), "/account");
    let log = carol.text("main");
    assert!(log.contains("totp_enabled"), "{log}");
    shots.take(&mut carol, "signed-in-with-code");

    // A recovery code signs her in once; the second time the form says no, and another
    // code on the same form works.
    sign_out(&mut carol, &mut shots);
    carol.navigate(&format!("{url}/account/sign-in"));
    password_step(&mut carol, CAROL);
    assert_eq!(carol.text("h1"), "Second factor");
    carol.submit("/account/sign-in/code", &[("code", &codes[0])]);
    assert_eq!(carol.path(), "/account");
    let log = carol.text("main");
    assert!(log.contains("recovery_code_used"), "{log}");
    shots.take(&mut carol, "signed-in-with-recovery-code");
    sign_out(&mut carol, &mut shots);
    carol.navigate(&format!("{url}/account/sign-in"));
    password_step(&mut carol, CAROL);
    carol.submit("/account/sign-in/code", &[("code", &codes[0])]);
    assert_eq!(carol.status(), 400);
    assert_eq!(carol.text("h1"), "Second factor");
    assert_eq!(carol.text("p.problem"), "wrong or already used code");
    shots.take(&mut carol, "recovery-code-refused");
    carol.submit("/account/sign-in/code", &[("code", &codes[1])]);
    assert_eq!(carol.path(), "/account");
    shots.take(&mut carol, "signed-in-with-another-recovery-code");

    // An identity, and Dave invited to it as publisher.
    carol.navigate(&format!("{url}/account/identities"));
    assert_eq!(carol.text("h1"), "Your identities");
    let body = carol.text("main");
    assert!(body.contains("member of no identity yet"), "{body}");
    shots.take(&mut carol, "identities");
    carol.submit("/account/identities", &[]);
    let identity_path = carol.path();
    let identity = identity_path
        .strip_prefix("/account/identities/")
        .unwrap_or_else(|| panic!("not an identity page: {identity_path}"))
        .to_owned();
    assert_eq!(carol.text("h1"), format!("Identity {identity}"));
    assert_eq!(
        members(&mut carol),
        [(CAROL.to_owned(), "owner".to_owned())]
    );
    shots.take(&mut carol, "identity-created");
    let seen = gateway.smtp.mails().len();
    carol.submit(
        &format!("{identity_path}/invite"),
        &[("email", DAVE), ("role", "publisher")],
    );
    assert_eq!(carol.path(), identity_path);
    assert_eq!(carol.text("p.notice"), "The invitation is on its way.");
    shots.take(&mut carol, "invitation-sent");
    let invitation = gateway
        .smtp
        .wait_for_link(seen, DAVE, accounts::MEMBER_INVITE_PATH);
    let join = format!("{}{invitation}", accounts::MEMBER_INVITE_PATH);

    // Dave, in a browser of his own: an account first, then the invitation's link, which
    // goes through the sign-in page and back.
    let mut dave = Browser::start();
    confirmations.push(sign_up(&mut dave, &mut shots, &gateway, DAVE, "dave-"));
    dave.navigate(&format!("{url}{join}"));
    assert_eq!(dave.text("h1"), "Sign in");
    assert_eq!(
        (dave.path(), dave.evaluate("location.search")),
        (join.clone(), json!("")),
        "the token stays in the path, which the access log redacts"
    );
    // Its form's CSRF token is bound to the visitor's pre-session cookie: the page is
    // answered as the sign-in page is, never to be kept.
    let probe = gateway.client().get(&join);
    assert_eq!(
        probe.header("cache-control").as_deref(),
        Some("private, no-store"),
        "{}",
        probe.head
    );
    shots.take(&mut dave, "dave-invitation-sign-in");
    password_step(&mut dave, DAVE);
    assert_eq!(dave.path(), join, "the sign-in came back to the invitation");
    assert_eq!(dave.text("h1"), "Join an identity");
    shots.take(&mut dave, "dave-join");
    dave.submit(&join, &[]);
    assert_eq!(dave.path(), identity_path);
    assert_eq!(
        members(&mut dave),
        [
            (CAROL.to_owned(), "owner".to_owned()),
            (DAVE.to_owned(), "publisher".to_owned())
        ]
    );
    shots.take(&mut dave, "dave-joined");

    // The upload form: the identity offered, two files picked, the browser's own post.
    click(&mut dave, "/account/upload");
    assert_eq!(dave.text("h1"), "Publish files");
    assert_eq!(
        dave.evaluate(
            "Array.from(document.querySelectorAll('#identity option')).map(o => o.value)"
        ),
        json!([identity])
    );
    let files = tempfile::tempdir().expect("temp dir");
    let song: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (chorus, notes) = (
        files.path().join("chorus.flac"),
        files.path().join("notes.txt"),
    );
    std::fs::write(&chorus, &song).expect("write a file");
    std::fs::write(&notes, b"three blackbirds").expect("write a file");
    dave.choose_files("#files", &[chorus.as_path(), notes.as_path()]);
    dave.evaluate(&format!(
        "document.querySelector('#title').value = {}; document.querySelector('#description').value = 'Recorded at five'",
        json!(TITLE)
    ));
    assert_eq!(
        dave.evaluate("Array.from(document.querySelector('#files').files).map(f => f.name)"),
        json!(["chorus.flac", "notes.txt"])
    );
    shots.take(&mut dave, "dave-upload-form");
    dave.submit("/account/upload", &[]);
    let entry_path = format!("/{identity}/main/1");
    let body = dave.text("body");
    assert_eq!(dave.path(), entry_path, "{body}");
    assert_eq!(dave.text("h1"), TITLE);
    assert!(body.contains("the identity's own key"), "{body}");
    assert!(body.contains("Signature and hash chain verified"), "{body}");
    let names = dave.texts("main table td a");
    assert!(names.iter().any(|n| n == "chorus.flac"), "{names:?}");
    assert!(names.iter().any(|n| n == "notes.txt"), "{names:?}");
    shots.take(&mut dave, "dave-entry");
    feed_shows_the_entry(&mut dave, &format!("{url}/{identity}/main"));
    shots.take(&mut dave, "dave-feed");

    // Carol sees her new publisher.
    carol.navigate(&format!("{url}{identity_path}"));
    assert_eq!(
        members(&mut carol),
        [
            (CAROL.to_owned(), "owner".to_owned()),
            (DAVE.to_owned(), "publisher".to_owned())
        ]
    );
    shots.take(&mut carol, "members");

    // Another node follows the identity, verifies the entry and holds its files; its own
    // pages show it.
    let follower_data = gateway.tmp.path().join("follower");
    let follower = network.start_node(&follower_data, &[]);
    let status = follow_until_held(&follower_data, &identity, 1, Duration::from_secs(120));
    assert_eq!(status["entries"], 1, "{status}");
    let follower_url = format!("http://{}", follower.info.http);
    feed_shows_the_entry(&mut dave, &format!("{follower_url}/{identity}/main"));
    shots.take(&mut dave, "follower-feed");
    dave.navigate(&format!("{follower_url}{entry_path}"));
    assert_eq!(dave.text("h1"), TITLE);
    let body = dave.text("body");
    assert!(body.contains("Signature and hash chain verified"), "{body}");
    assert!(!body.contains("does not hold these files"), "{body}");
    shots.take(&mut dave, "follower-entry");

    cross_origin_post_is_refused(&mut carol, &mut shots, &url);

    // The invitation's token went through the sign-in page; neither it nor any other
    // secret of the journey is in the node's log (its access log saw every page).
    let mut node = gateway.node;
    node.stop();
    let log = node.log();
    assert!(
        log.contains(&format!("{}[redacted]", accounts::MEMBER_INVITE_PATH)),
        "the access log ran:\n{log}"
    );
    let mut secrets = vec![PASSWORD.to_owned(), secret, invitation];
    secrets.extend(codes);
    secrets.extend(confirmations);
    for secret in &secrets {
        // A query carries it percent-encoded.
        let encoded = secret.replace('-', "%2D").replace('_', "%5F");
        assert!(
            !log.contains(secret.as_str()) && !log.contains(&encoded),
            "the log holds a secret ({} characters)",
            secret.len()
        );
    }
}

/// The member table of an identity page: (address, role) rows.
fn members(browser: &mut Browser) -> Vec<(String, String)> {
    let rows = browser.evaluate(
        "Array.from(document.querySelectorAll('main table tbody tr')).map(r => [r.cells[0].textContent, r.cells[1].textContent])",
    );
    serde_json::from_value(rows).unwrap_or_else(|e| panic!("member rows: {e}"))
}

/// Opens the feed page at `url`: it lists the entry, all of it verified.
fn feed_shows_the_entry(browser: &mut Browser, url: &str) {
    browser.navigate(url);
    assert_eq!(browser.status(), 200);
    assert_eq!(browser.text("h1"), "main");
    assert_eq!(browser.texts("ul.entries li a"), [TITLE]);
    let verified = browser.text(".verified");
    assert!(verified.contains("1 entry verified"), "{verified}");
}

/// Another origin on this host: the browser sends the session cookie (same site) with its
/// post, and the gateway refuses it; Carol stays signed in.
fn cross_origin_post_is_refused(browser: &mut Browser, shots: &mut Shots, url: &str) {
    let attacker = serve_once(&format!(
        "<!DOCTYPE html><html><body><form method=post action=\"{url}/account/sessions/end-all\">\
         <input type=hidden name=csrf value=guessed></form>\
         <script>document.forms[0].submit()</script></body></html>"
    ));
    browser.navigate(&attacker);
    browser.wait_for_value(
        Duration::from_secs(10),
        "the gateway's answer to the other origin's post",
        "location.pathname === '/account/sessions/end-all' && document.readyState === 'complete'",
    );
    let refusal = browser.text("body");
    assert!(refusal.contains("cross_origin"), "{refusal}");
    shots.take(browser, "cross-origin-post-refused");
    browser.navigate(&format!("{url}/account"));
    assert_eq!(browser.path(), "/account", "still signed in");
}

/// Serves `html` to the first request on a new port of 127.0.0.1: its URL.
fn serve_once(html: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}
