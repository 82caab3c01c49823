//! Sign-up through the pages in the closed modes, with the operator's `swarmfeed admin`:
//! in mode `invite` the form asks for the code and refuses a sign-up without a valid one;
//! in mode `approval` a confirmed account cannot sign in until an admin approves it.
//! Hashes: invite 2, approval 3 (~1.5 s).

use tests::accounts::{AccountsGateway, CONFIRM_PATH, PASSWORD, location, sign_in};

#[test]
fn in_mode_invite_the_sign_up_form_takes_a_code_and_refuses_a_sign_up_without_one() {
    let gateway = AccountsGateway::start_in_mode("invite", "");
    let mut web = gateway.client();
    let form = web.get("/account/sign-up").text();
    assert!(form.contains("name=\"invitation\""), "{form}");
    let refused = web.submit(
        &form,
        "/account/sign-up",
        &[
            ("email", "ivy@example.org"),
            ("password", PASSWORD),
            ("invitation", "made-up"),
        ],
    );
    assert_eq!(refused.status, 400);
    assert!(
        refused.text().contains("invitation is unknown"),
        "{}",
        refused.text()
    );
    let code = gateway.admin(&["invite", "--uses", "1", "--expires", "1h"]);
    let sent = web.submit(
        &form,
        "/account/sign-up",
        &[
            ("email", "ivy@example.org"),
            ("password", PASSWORD),
            ("invitation", code.trim()),
        ],
    );
    assert!(sent.text().contains("Check your mail"), "{}", sent.text());
    let token = gateway
        .smtp
        .wait_for_link(0, "ivy@example.org", CONFIRM_PATH);
    let path = format!("{CONFIRM_PATH}{token}");
    let landing = web.get(&path).text();
    assert!(
        web.submit(&landing, &path, &[])
            .text()
            .contains("Your account is ready")
    );
    let signed_in = sign_in(&mut web, "ivy@example.org", PASSWORD);
    assert_eq!(location(&signed_in), "/account");
}

#[test]
fn in_mode_approval_an_account_signs_in_once_an_admin_approved_it() {
    let gateway = AccountsGateway::start_in_mode("approval", "");
    let mut web = gateway.client();
    let form = web.get("/account/sign-up").text();
    assert!(form.contains("administrator approves"), "{form}");
    assert!(!form.contains("name=\"invitation\""));
    web.submit(
        &form,
        "/account/sign-up",
        &[("email", "abe@example.org"), ("password", PASSWORD)],
    );
    let token = gateway
        .smtp
        .wait_for_link(0, "abe@example.org", CONFIRM_PATH);
    let path = format!("{CONFIRM_PATH}{token}");
    let landing = web.get(&path).text();
    let created = web.submit(&landing, &path, &[]).text();
    assert!(created.contains("once yours is approved"), "{created}");
    let waiting = sign_in(&mut web, "abe@example.org", PASSWORD);
    assert_eq!(waiting.status, 403);
    assert!(
        waiting.text().contains("awaits an admin"),
        "{}",
        waiting.text()
    );
    gateway.admin(&["approve", "abe@example.org"]);
    let signed_in = sign_in(&mut web, "abe@example.org", PASSWORD);
    assert_eq!(location(&signed_in), "/account");
}
