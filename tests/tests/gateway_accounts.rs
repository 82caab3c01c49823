//! The gateway's account pages over HTTP, against the real binary with a real SMTP server on
//! loopback (aiosmtpd): a user signs up, reads the confirmation mail, enrols TOTP (codes
//! computed from the secret on the page), signs in with password and code, with recovery
//! codes (each once), resets the password by mail (which ends every session); forms posted
//! without a token or from another site are refused; a cookie set before sign-in is never
//! adopted; nothing rendered for one user reaches another; no password, token or code in
//! the node's log or access log; with accounts off, every /account path is 404. bcrypt runs
//! at the node's cost (12, ~0.3 s a hash): the hashes are counted in each test.

use tests::html_check::html_problems;
use tests::web::WebClient;

use tests::accounts::{
    AccountsGateway as Gateway, PASSWORD, between, enter_code, location, previous_totp_step,
    sign_in, sign_out, signed_in, start_node, unix_now, web_csrf,
};

const NEW_PASSWORD: &str = "a brand new passphrase, long enough";

#[test]
fn a_user_signs_up_enrols_totp_signs_in_with_codes_and_a_reset_by_mail_ends_every_session() {
    // Hashes: sign-up 1, sign-ins 6, reset 1 (~2.5 s).
    assert_eq!(tests::accounts::CONFIRM_PATH, accounts::CONFIRM_PATH);
    let gateway = Gateway::start();
    let email = "Alice@Example.org";
    let mut web = gateway.client();
    let confirm_token = gateway.sign_up(&mut web, email);
    let path = format!("{}{confirm_token}", accounts::CONFIRM_PATH);
    let csrf = web_csrf(&mut web, &path);
    let again = web.post(&path, &[("csrf", &csrf)]);
    assert_eq!(again.status, 400, "a confirmation link works once");
    assert!(again.text().contains("invalid, used or expired"));

    let first = sign_in(&mut web, email, PASSWORD);
    assert_eq!(
        (first.status, location(&first)),
        (303, "/account".to_owned()),
        "{}",
        first.text()
    );
    let account = web.get("/account");
    assert_eq!(account.status, 200);
    assert!(account.text().contains("alice@example.org"));
    assert_eq!(
        account.header("cache-control").as_deref(),
        Some("private, no-store")
    );

    // TOTP: the secret from the page, a first code confirms, ten recovery codes once.
    let two_factor = web.get("/account/two-factor");
    let enrol = web.submit(&two_factor.text(), "/account/two-factor/begin", &[]);
    assert_eq!(enrol.status, 200);
    assert!(enrol.text().contains("<svg"), "the QR code inline");
    let secret = between(&enrol.text(), "Secret: <code>", "</code>").to_owned();
    let session_before = web.cookies["swarmfeed-session"].clone();
    // The previous step's code: the sign-in below then has a later step to use.
    let code = accounts::totp::code(&secret, previous_totp_step()).unwrap();
    let on = web.submit(
        &enrol.text(),
        "/account/two-factor/confirm",
        &[("code", &code)],
    );
    assert_eq!(on.status, 200, "{}", on.text());
    let recovery: Vec<String> = on
        .text()
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").unwrap()].to_owned())
        .collect();
    assert_eq!(recovery.len(), 10, "{}", on.text());
    assert_ne!(
        web.cookies["swarmfeed-session"], session_before,
        "a new token after 2FA changes"
    );
    assert!(signed_in(&mut web));
    sign_out(&mut web);
    assert!(!signed_in(&mut web));

    // Password, then a code.
    let step = sign_in(&mut web, email, PASSWORD);
    assert_eq!(step.status, 200);
    assert!(
        !web.cookies.contains_key("swarmfeed-session"),
        "no session before the code"
    );
    let code = accounts::totp::code(&secret, unix_now()).unwrap();
    let done = enter_code(&mut web, &step, &code);
    assert_eq!(done.status, 303, "{}", done.text());
    assert!(signed_in(&mut web));
    sign_out(&mut web);

    // The same code again is refused; a recovery code then works, once.
    let step = sign_in(&mut web, email, PASSWORD);
    let refused = enter_code(&mut web, &step, &code);
    assert_eq!(refused.status, 400, "a TOTP code is never accepted twice");
    assert!(refused.text().contains("wrong or already used code"));
    let done = enter_code(&mut web, &refused, &recovery[0]);
    assert_eq!(done.status, 303, "{}", done.text());
    sign_out(&mut web);
    let step = sign_in(&mut web, email, PASSWORD);
    let refused = enter_code(&mut web, &step, &recovery[0]);
    assert_eq!(refused.status, 400, "a recovery code works once");
    let done = enter_code(&mut web, &refused, &recovery[1]);
    assert_eq!(done.status, 303);
    assert!(signed_in(&mut web));

    // A reset by mail, asked from another browser, ends this session.
    let mut other = gateway.client();
    let seen = gateway.smtp.mails().len();
    let ask = other.get("/account/reset");
    let sent = other.submit(&ask.text(), "/account/reset", &[("email", email)]);
    assert_eq!(sent.status, 200);
    assert!(sent.text().contains("Check your mail"));
    let reset_token = gateway
        .smtp
        .wait_for_link(seen, "alice@example.org", accounts::RESET_PATH);
    let reset_path = format!("{}{reset_token}", accounts::RESET_PATH);
    let form = other.get(&reset_path);
    let reset = other.submit(&form.text(), &reset_path, &[("password", NEW_PASSWORD)]);
    assert_eq!(
        (reset.status, location(&reset)),
        (303, "/account/sign-in".to_owned()),
        "{}",
        reset.text()
    );
    let again = other.submit(&form.text(), &reset_path, &[("password", NEW_PASSWORD)]);
    assert_eq!(again.status, 400, "a reset link works once");
    assert!(!signed_in(&mut web), "the reset ended the session");
    let old = sign_in(&mut web, email, PASSWORD);
    assert_eq!(old.status, 401, "the old password is gone");
    let step = sign_in(&mut web, email, NEW_PASSWORD);
    let done = enter_code(&mut web, &step, &recovery[2]);
    assert_eq!(done.status, 303);
    let account = web.get("/account").text();
    for event in [
        "account_created",
        "totp_enabled",
        "recovery_code_used",
        "password_reset",
        "sign_in_failed",
    ] {
        assert!(account.contains(event), "the security log lists {event}");
    }

    // Every page is valid HTML.
    let mut pages = web.pages.clone();
    pages.extend(other.pages.clone());
    let problems = html_problems(&pages);
    assert!(problems.is_empty(), "{problems:#?}");

    // No secret in the node's log (the access log included, which did see the links).
    let mut node = gateway.node;
    node.stop();
    let log = node.log();
    assert!(
        log.contains("/account/reset/[redacted]"),
        "the access log ran:\n{log}"
    );
    let mut secrets = vec![
        PASSWORD.to_owned(),
        NEW_PASSWORD.to_owned(),
        confirm_token,
        reset_token,
        secret,
        code,
    ];
    secrets.extend(recovery);
    secrets.extend(web.cookies.values().cloned());
    secrets.extend(other.cookies.values().cloned());
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log holds a secret ({} characters)",
            secret.len()
        );
    }
}

#[test]
fn posts_without_the_token_or_from_another_site_are_refused_and_no_cookie_is_adopted() {
    // Hashes: two sign-ups, two sign-ins (~1.2 s).
    let gateway = Gateway::start();
    let mut a = gateway.client();
    gateway.sign_up(&mut a, "a@example.org");

    // Fixation: a session cookie planted before sign-in is replaced, never adopted.
    let planted = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned();
    a.cookies
        .insert("swarmfeed-session".into(), planted.clone());
    assert!(!signed_in(&mut a), "a made-up token is no session");
    a.cookies
        .insert("swarmfeed-session".into(), planted.clone());
    let done = sign_in(&mut a, "a@example.org", PASSWORD);
    assert_eq!(done.status, 303);
    let session = a.cookies["swarmfeed-session"].clone();
    assert_ne!(session, planted);
    let mut attacker = gateway.client();
    attacker.cookies.insert("swarmfeed-session".into(), planted);
    assert!(!signed_in(&mut attacker));

    // A signed-in form without its token, with another visitor's token, from another site.
    let account = a.get("/account").text();
    let csrf = tests::web::hidden_fields(&account, "/account/sessions/end-all")
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .unwrap()
        .1;
    let other_csrf = web_csrf(&mut attacker, "/account/sign-in");
    let refusals = [
        a.post("/account/sessions/end-all", &[]),
        a.post("/account/sessions/end-all", &[("csrf", &other_csrf)]),
        a.post_with(
            "/account/sessions/end-all",
            &[("csrf", &csrf)],
            &[("Origin", "http://evil.example")],
        ),
        a.post_with(
            "/account/sessions/end-all",
            &[("csrf", &csrf)],
            &[("Sec-Fetch-Site", "cross-site")],
        ),
        a.post_with(
            "/account/sessions/end-all",
            &[("csrf", &csrf)],
            &[("Origin", "null")],
        ),
    ];
    let names: Vec<(u16, bool, bool)> = refusals
        .iter()
        .map(|r| {
            (
                r.status,
                r.text().contains("csrf_refused"),
                r.text().contains("cross_origin"),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (403, true, false),
            (403, true, false),
            (403, false, true),
            (403, false, true),
            (403, false, true)
        ]
    );
    assert!(signed_in(&mut a), "none of them signed anyone out");
    // An anonymous form: the sign-in form without a pre-session cookie of its own.
    let stranger = attacker.post(
        "/account/sign-in",
        &[
            ("csrf", &csrf),
            ("email", "a@example.org"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(stranger.status, 403);

    // Nothing rendered for a signed-in user is served to anyone else.
    let mut b = gateway.client();
    gateway.sign_up(&mut b, "b@example.org");
    assert_eq!(sign_in(&mut b, "b@example.org", PASSWORD).status, 303);
    let mut anonymous = gateway.client();
    for path in ["/", "/account", "/search"] {
        let as_a = a.get(path);
        assert_eq!(
            as_a.header("cache-control").as_deref(),
            Some("private, no-store"),
            "{path}"
        );
        let as_b = b.get(path);
        let as_anonymous = anonymous.get(path);
        assert!(
            !as_b.text().contains("a@example.org"),
            "{path} as B shows A"
        );
        assert!(
            !as_anonymous.text().contains("a@example.org"),
            "{path} anonymously shows A"
        );
        if path != "/account" {
            assert_ne!(
                as_anonymous.header("cache-control").as_deref(),
                Some("private, no-store"),
                "{path}: a public page"
            );
        }
    }
    assert!(a.get("/account").text().contains("a@example.org"));
    assert!(b.get("/account").text().contains("b@example.org"));

    // Resending the confirmation: 5 mails per address per 30 minutes, then 429.
    let mut c = gateway.client();
    let form = c.get("/account/sign-up");
    let first = c.submit(
        &form.text(),
        "/account/sign-up",
        &[("email", "c@example.org"), ("password", PASSWORD)],
    );
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            c.submit(&first.text(), "/account/sign-up/resend", &[])
                .status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    let limited = c.submit(&first.text(), "/account/sign-up/resend", &[]);
    assert_eq!(limited.status, 429);
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|s| s.parse::<u64>().unwrap() > 0)
    );
}

#[test]
fn with_accounts_off_every_account_path_is_404() {
    let tmp = tempfile::tempdir().unwrap();
    let node = start_node(&tmp.path().join("data"), &[]);
    let mut web = WebClient::new(node.info.http);
    for path in [
        "/account",
        "/account/sign-in",
        "/account/sign-up",
        "/account/confirm/abc",
    ] {
        assert_eq!(web.get(path).status, 404, "{path}");
    }
    assert_eq!(
        web.post("/account/sign-in", &[("email", "a@example.org")])
            .status,
        404
    );
}

#[test]
fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
    // Hashes: two sign-ups, two sign-ins (~1.2 s).
    let behind_proxy = Gateway::start_with("\n[gateway]\ntrusted_proxies = [\"127.0.0.1\"]\n");
    let direct = Gateway::start();
    for (gateway, shown) in [(&behind_proxy, "203.0.113.7"), (&direct, "127.0.0.1")] {
        let mut web = gateway.client();
        web.headers
            .push(("X-Forwarded-For".into(), "198.51.100.1, 203.0.113.7".into()));
        gateway.sign_up(&mut web, "eve@example.org");
        assert_eq!(sign_in(&mut web, "eve@example.org", PASSWORD).status, 303);
        let account = web.get("/account").text();
        let sessions = between(&account, "<h2>Sessions</h2>", "</table>");
        assert!(
            sessions.contains(&format!("<td>{shown}</td>")),
            "{sessions}"
        );
        assert!(
            !sessions.contains("198.51.100.1"),
            "the client's own claim never counts"
        );
        let log = between(&account, "<h2>Security log</h2>", "</table>");
        assert!(log.contains(&format!("<td>{shown}</td>")), "{log}");
    }
}
