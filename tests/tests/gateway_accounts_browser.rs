//! The account pages in a real browser (Debian's headless Chromium, driven over DevTools),
//! with a real SMTP server on loopback: sign up, read the confirmation mail, confirm, sign in,
//! enrol TOTP (the code computed from the secret the page shows), keep the recovery codes,
//! sign out, sign in with password and code. The browser sends its own `Origin` and
//! `Sec-Fetch-Site` and keeps the cookies, so this is the CSRF and cookie set-up as users
//! meet it. A page of another origin on the same host (so `SameSite=Lax` cookies do go
//! with its post) posting the "sign out everywhere" form is refused. A screenshot of each
//! page is kept in `target/test-artifacts/accounts/`. Hashes: sign-up 1, sign-ins 2 (~1 s).

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::{Value, json};
use tests::accounts::{AccountsGateway, CONFIRM_PATH, PASSWORD, previous_totp_step, unix_now};
use tests::browser::{Browser, artifact_path};

const EMAIL: &str = "carol@example.org";

fn shot(browser: &mut Browser, name: &str) {
    browser.screenshot(&artifact_path(&format!("accounts/{name}.png")));
}

/// Fills the form posting to `action` and submits it; waits for the next page.
fn submit(browser: &mut Browser, action: &str, fields: &[(&str, &str)]) {
    let mut script = format!(
        "(() => {{ const f = document.querySelector('form[action=\"{action}\"]'); if (!f) throw new Error('no form to {action}');"
    );
    for (name, value) in fields {
        script.push_str(&format!(
            " f.elements[{}].value = {};",
            json!(name),
            json!(value)
        ));
    }
    script.push_str(" f.requestSubmit(); })()");
    browser.leave_with(&script);
}

fn text(browser: &mut Browser, selector: &str) -> String {
    let value = browser.evaluate(&format!(
        "document.querySelector({})?.textContent ?? null",
        json!(selector)
    ));
    value.as_str().unwrap_or_default().to_owned()
}

fn path(browser: &mut Browser) -> String {
    browser
        .evaluate("location.pathname")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn in_a_browser_a_user_signs_up_enrols_totp_and_signs_in_with_password_and_code() {
    let gateway = AccountsGateway::start();
    let url = format!("http://{}", gateway.addr());
    let mut browser = Browser::start();

    browser.navigate(&format!("{url}/account/sign-up"));
    shot(&mut browser, "01-sign-up");
    submit(
        &mut browser,
        "/account/sign-up",
        &[("email", EMAIL), ("password", PASSWORD)],
    );
    let body = text(&mut browser, "body");
    assert_eq!(text(&mut browser, "h1"), "Check your mail", "{body}");
    shot(&mut browser, "02-check-your-mail");

    let token = gateway.smtp.wait_for_link(0, EMAIL, CONFIRM_PATH);
    let confirm = format!("{CONFIRM_PATH}{token}");
    browser.navigate(&format!("{url}{confirm}"));
    shot(&mut browser, "03-confirm");
    submit(&mut browser, &confirm, &[]);
    assert_eq!(text(&mut browser, "h1"), "Your account is ready");
    shot(&mut browser, "04-account-ready");

    browser.navigate(&format!("{url}/account/sign-in"));
    shot(&mut browser, "05-sign-in");
    submit(
        &mut browser,
        "/account/sign-in",
        &[("email", EMAIL), ("password", PASSWORD)],
    );
    assert_eq!(path(&mut browser), "/account");
    assert_eq!(text(&mut browser, "h1"), "Your account");
    assert_eq!(
        browser.evaluate("document.cookie"),
        Value::String(String::new()),
        "the cookies are HttpOnly: no script reads them"
    );
    shot(&mut browser, "06-account");

    browser.navigate(&format!("{url}/account/two-factor"));
    submit(&mut browser, "/account/two-factor/begin", &[]);
    assert_eq!(
        browser.evaluate("document.querySelector('figure svg') !== null"),
        Value::Bool(true),
        "the QR code renders inline"
    );
    let secret = text(&mut browser, "main p code");
    shot(&mut browser, "07-enrol-totp");
    let code = accounts::totp::code(&secret, previous_totp_step()).expect("a code");
    submit(
        &mut browser,
        "/account/two-factor/confirm",
        &[("code", &code)],
    );
    let codes = browser
        .evaluate("Array.from(document.querySelectorAll('ol.codes code')).map(c => c.textContent)");
    assert_eq!(codes.as_array().map(Vec::len), Some(10), "{codes}");
    shot(&mut browser, "08-recovery-codes");

    submit(&mut browser, "/account/sign-out", &[]);
    assert_eq!(path(&mut browser), "/");
    browser.navigate(&format!("{url}/account"));
    assert_eq!(path(&mut browser), "/account/sign-in", "signed out");

    submit(
        &mut browser,
        "/account/sign-in",
        &[("email", EMAIL), ("password", PASSWORD)],
    );
    assert_eq!(text(&mut browser, "h1"), "Second factor");
    shot(&mut browser, "09-second-factor");
    let code = accounts::totp::code(&secret, unix_now()).expect("a code");
    submit(&mut browser, "/account/sign-in/code", &[("code", &code)]);
    assert_eq!(path(&mut browser), "/account");
    let log = text(&mut browser, "main");
    assert!(log.contains("totp_enabled"), "{log}");
    shot(&mut browser, "10-signed-in-with-code");

    // Another origin on this host: the browser sends the session cookie (same site) with
    // its post, and the gateway refuses it.
    let attacker = serve_once(&format!(
        "<!DOCTYPE html><html><body><form method=post action=\"{url}/account/sessions/end-all\">\
         <input type=hidden name=csrf value=guessed></form>\
         <script>document.forms[0].submit()</script></body></html>"
    ));
    browser.navigate(&attacker);
    browser.wait_for_value(
        std::time::Duration::from_secs(10),
        "the gateway's answer to the other origin's post",
        "location.pathname === '/account/sessions/end-all' && document.readyState === 'complete'",
    );
    let refusal = text(&mut browser, "body");
    assert!(refusal.contains("cross_origin"), "{refusal}");
    shot(&mut browser, "11-cross-origin-post-refused");
    browser.navigate(&format!("{url}/account"));
    assert_eq!(path(&mut browser), "/account", "still signed in");
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
