//! The signed-in user's `/account` pages over HTTP, against the real binary and a real SMTP
//! server on loopback: ending another session, changing the password (the session gets a
//! new token, the old one stops working) and the address (confirmed from the new address,
//! a notice to the old), a one-time sign-in link (once), TOTP on, recovery codes renewed,
//! TOTP off, and deleting the account (its sessions go with it). Every page Nu-valid.
//! Hashes: sign-up 1, sign-ins 3, password change 2, address change 1, TOTP off 1,
//! deletion 2 (~3 s).

use tests::accounts::{
    AccountsGateway as Gateway, PASSWORD, between, location, previous_totp_step, sign_in, signed_in,
};
use tests::html_check::html_problems;

const NEW_PASSWORD: &str = "a brand new passphrase, long enough";
const SESSION: &str = "swarmfeed-session";

fn recovery_codes(page: &str) -> Vec<String> {
    page.split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").unwrap()].to_owned())
        .collect()
}

#[test]
fn a_user_ends_a_session_changes_password_and_address_signs_in_by_link_and_deletes_the_account() {
    let gateway = Gateway::start();
    let (old, new) = ("dan@example.org", "dan.new@example.org");
    let mut web = gateway.client();
    gateway.sign_up(&mut web, old);
    assert_eq!(sign_in(&mut web, old, PASSWORD).status, 303);
    let mut laptop = gateway.client();
    assert_eq!(sign_in(&mut laptop, old, PASSWORD).status, 303);

    // Another session, ended from this one.
    let account = web.get("/account").text();
    assert_eq!(
        account.matches("action=\"/account/sessions/end\"").count(),
        1,
        "the other session has an End button, this one none"
    );
    let ended = web.submit(&account, "/account/sessions/end", &[]);
    assert_eq!(location(&ended), "/account?done=session");
    assert!(!signed_in(&mut laptop), "the laptop's session ended");
    assert!(signed_in(&mut web));

    // The password: a new token for this session, the old one dead, a notice mailed.
    let seen = gateway.smtp.mails().len();
    let before = web.cookies[SESSION].clone();
    let account = web.get("/account").text();
    let changed = web.submit(
        &account,
        "/account/password",
        &[("current", PASSWORD), ("new", NEW_PASSWORD)],
    );
    assert_eq!(
        location(&changed),
        "/account?done=password",
        "{}",
        changed.text()
    );
    assert_ne!(web.cookies[SESSION], before);
    assert!(signed_in(&mut web));
    let mut stale = gateway.client();
    stale.cookies.insert(SESSION.into(), before);
    assert!(
        !signed_in(&mut stale),
        "the session's old token stopped working"
    );
    tests::poll::wait_for(std::time::Duration::from_secs(20), "the notice", || {
        gateway.smtp.mails()[seen..]
            .iter()
            .any(|m| m.contains(old) && m.contains("password was changed"))
            .then_some(())
    });

    // The address: a link to the new one, a notice to the old one.
    let seen = gateway.smtp.mails().len();
    let account = web.get("/account").text();
    let asked = web.submit(
        &account,
        "/account/email",
        &[("email", new), ("password", NEW_PASSWORD)],
    );
    assert_eq!(location(&asked), "/account?done=email", "{}", asked.text());
    let token = gateway
        .smtp
        .wait_for_link(seen, new, accounts::EMAIL_CHANGE_PATH);
    assert!(
        gateway.smtp.mails()[seen..]
            .iter()
            .any(|m| m.contains(&format!("To: {old}"))),
        "the old address got a notice"
    );
    let path = format!("{}{token}", accounts::EMAIL_CHANGE_PATH);
    let landing = web.get(&path).text();
    let done = web.submit(&landing, &path, &[]);
    assert_eq!(done.status, 200);
    assert!(done.text().contains(new), "{}", done.text());

    // A one-time sign-in link to the new address, from another browser; once.
    let mut phone = gateway.client();
    let seen = gateway.smtp.mails().len();
    let ask = phone.get("/account/sign-in-link").text();
    let sent = phone.submit(&ask, "/account/sign-in-link", &[("email", new)]);
    assert!(sent.text().contains("Check your mail"));
    let token = gateway
        .smtp
        .wait_for_link(seen, new, accounts::SIGN_IN_LINK_PATH);
    let path = format!("{}{token}", accounts::SIGN_IN_LINK_PATH);
    let landing = phone.get(&path).text();
    let used = phone.submit(&landing, &path, &[]);
    assert_eq!(location(&used), "/account");
    assert!(signed_in(&mut phone));
    let again = phone.submit(&landing, &path, &[]);
    assert_eq!(again.status, 400, "a sign-in link works once");

    // TOTP on, the recovery codes renewed with one of them, then off.
    let page = web.get("/account/two-factor").text();
    let enrol = web.submit(&page, "/account/two-factor/begin", &[]).text();
    let secret = between(&enrol, "Secret: <code>", "</code>").to_owned();
    let code = accounts::totp::code(&secret, previous_totp_step()).unwrap();
    let first = recovery_codes(
        &web.submit(&enrol, "/account/two-factor/confirm", &[("code", &code)])
            .text(),
    );
    assert_eq!(first.len(), 10);
    let page = web.get("/account/two-factor").text();
    assert!(page.contains("10 recovery codes left"), "{page}");
    let renewed = web.submit(&page, "/account/recovery-codes", &[("code", &first[0])]);
    let second = recovery_codes(&renewed.text());
    assert_eq!(second.len(), 10);
    assert!(second.iter().all(|c| !first.contains(c)));
    let page = web.get("/account/two-factor").text();
    let wrong = web.submit(
        &page,
        "/account/two-factor/disable",
        &[("password", NEW_PASSWORD), ("code", &first[1])],
    );
    assert_eq!(wrong.status, 400, "the old codes died with the renewal");
    let off = web.submit(
        &page,
        "/account/two-factor/disable",
        &[("password", NEW_PASSWORD), ("code", &second[0])],
    );
    assert_eq!(location(&off), "/account?done=totp-off", "{}", off.text());
    assert!(
        web.get("/account?done=totp-off")
            .text()
            .contains("Two-factor authentication is off.")
    );

    // Deletion: the password, then every session goes with the account.
    let page = web.get("/account/delete").text();
    let refused = web.submit(
        &page,
        "/account/delete",
        &[("password", "not the password at all")],
    );
    assert_eq!(refused.status, 401);
    let deleted = web.submit(&page, "/account/delete", &[("password", NEW_PASSWORD)]);
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert!(!web.cookies.contains_key(SESSION));
    assert!(!signed_in(&mut phone), "the account's other sessions ended");
    assert_eq!(sign_in(&mut web, new, NEW_PASSWORD).status, 401);

    let mut pages: Vec<(String, String)> = web.pages.clone();
    for other in [&laptop, &phone, &stale] {
        pages.extend(other.pages.clone());
    }
    let problems = html_problems(&pages);
    assert!(problems.is_empty(), "{problems:#?}");
}
