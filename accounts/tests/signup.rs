//! Sign-up in each mode, confirmation links, resend limits, email change, deletion and the
//! admin role, on a real SQLite file with the outbox as the mail transport.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use accounts::{Actor, Error, Event, Mode, Role, SignUp, UserStatus};
use common::{PASSWORD, PUBLIC_URL, client, open};

fn form(email: &str) -> SignUp {
    SignUp {
        email: email.into(),
        password: PASSWORD.into(),
        invitation: None,
    }
}

#[tokio::test]
async fn mode_off_refuses_sign_up_and_mails_nothing() {
    let h = open(Mode::Off);
    let e = h
        .accounts
        .sign_up(form("a@example.org"), &client("192.0.2.1"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SignUpClosed), "{e}");
    assert!(h.mails_to("a@example.org").await.is_empty());
}

#[tokio::test]
async fn open_sign_up_mails_a_link_on_the_public_url_that_works_once_for_24_hours() {
    let h = open(Mode::Open);
    let c = client("192.0.2.1");
    h.accounts
        .sign_up(form("Alice@Example.org"), &c)
        .await
        .unwrap();
    let mails = h.mails_to("alice@example.org").await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains(&format!("{PUBLIC_URL}{}", accounts::CONFIRM_PATH)),
        "{}",
        mails[0]
    );
    let token = common::link_token(&mails[0], accounts::CONFIRM_PATH).unwrap();
    assert_eq!(token.expose().len(), 43, "32 random bytes in base64url");
    // Nobody exists until the link is opened: signing in is refused like a wrong password.
    let e = h
        .accounts
        .sign_in("alice@example.org", &PASSWORD.into(), &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidCredentials));
    let confirmed = h.accounts.confirm_sign_up(&token, &c).await.unwrap();
    assert_eq!(confirmed.status, UserStatus::Active);
    let e = h.accounts.confirm_sign_up(&token, &c).await.unwrap_err();
    assert!(matches!(e, Error::InvalidToken), "single use: {e}");
    let user = h.accounts.user(confirmed.user).await.unwrap();
    assert!(!user.is_admin, "the first account is no admin");
    let log = h.accounts.audit_log(confirmed.user, 10).await.unwrap();
    assert_eq!(log[0].event, Event::AccountCreated.as_str());

    // A second sign-up: its link dies after 24 h.
    h.accounts
        .sign_up(form("bob@example.org"), &c)
        .await
        .unwrap();
    let token = h.token("bob@example.org", accounts::CONFIRM_PATH).await;
    h.clock.advance(24 * 3600 + 1);
    let e = h.accounts.confirm_sign_up(&token, &c).await.unwrap_err();
    assert!(matches!(e, Error::InvalidToken), "expired: {e}");
}

#[tokio::test]
async fn signing_up_with_a_taken_address_answers_the_same_and_mails_its_owner() {
    let h = open(Mode::Open);
    h.user("taken@example.org").await;
    let c = client("192.0.2.1");
    let answer = h
        .accounts
        .sign_up(
            SignUp {
                email: "TAKEN@example.org".into(),
                password: "another long passphrase".into(),
                invitation: None,
            },
            &c,
        )
        .await;
    assert!(answer.is_ok(), "same answer as for a new address");
    let mails = h.mails_to("taken@example.org").await;
    assert_eq!(mails.len(), 2);
    assert!(mails[1].contains("already has an account"), "{}", mails[1]);
    assert!(common::link_token(&mails[1], accounts::CONFIRM_PATH).is_none());
    // The old password still works, the new one does not.
    h.session("taken@example.org").await;
}

#[tokio::test]
async fn resending_is_limited_to_five_mails_per_address_per_30_minutes_and_kills_older_links() {
    let h = open(Mode::Open);
    let c = client("192.0.2.1");
    h.accounts.sign_up(form("r@example.org"), &c).await.unwrap();
    let first = h.token("r@example.org", accounts::CONFIRM_PATH).await;
    for _ in 0..4 {
        h.accounts
            .resend_confirmation("r@example.org")
            .await
            .unwrap();
    }
    let e = h
        .accounts
        .resend_confirmation("r@example.org")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e}");
    assert_eq!(h.mails_to("r@example.org").await.len(), 5);
    // Unknown addresses answer alike (and count alike).
    h.accounts
        .resend_confirmation("nobody@example.org")
        .await
        .unwrap();
    assert!(h.mails_to("nobody@example.org").await.is_empty());
    h.clock.advance(30 * 60 + 1);
    h.accounts
        .resend_confirmation("r@example.org")
        .await
        .unwrap();
    let newest = h.token("r@example.org", accounts::CONFIRM_PATH).await;
    assert!(matches!(
        h.accounts.confirm_sign_up(&first, &c).await,
        Err(Error::InvalidToken)
    ));
    h.accounts.confirm_sign_up(&newest, &c).await.unwrap();
}

#[tokio::test]
async fn invite_mode_needs_a_code_counts_its_uses_and_records_who_invited() {
    let h = open(Mode::Invite);
    let c = client("192.0.2.1");
    let e = h
        .accounts
        .sign_up(form("x@example.org"), &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvitationInvalid));
    // The operator invites the first user; that user invites two more with one code.
    let code = h
        .accounts
        .create_invitation(Actor::Operator, 1, 3600)
        .await
        .unwrap();
    let signup = |email: &str, code: &accounts::Secret| SignUp {
        email: email.into(),
        password: PASSWORD.into(),
        invitation: Some(code.clone()),
    };
    h.accounts
        .sign_up(signup("first@example.org", &code), &c)
        .await
        .unwrap();
    let t = h.token("first@example.org", accounts::CONFIRM_PATH).await;
    let first = h.accounts.confirm_sign_up(&t, &c).await.unwrap().user;
    let e = h
        .accounts
        .sign_up(signup("late@example.org", &code), &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvitationInvalid), "used up: {e}");

    let code = h
        .accounts
        .create_invitation(Actor::User(first), 2, 3600)
        .await
        .unwrap();
    for who in ["b@example.org", "c@example.org"] {
        h.accounts.sign_up(signup(who, &code), &c).await.unwrap();
        let t = h.token(who, accounts::CONFIRM_PATH).await;
        let u = h.accounts.confirm_sign_up(&t, &c).await.unwrap().user;
        assert_eq!(h.accounts.user(u).await.unwrap().invited_by, Some(first));
    }
    let mine = h.accounts.invitations(Actor::User(first)).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].uses, mine[0].max_uses), (2, 2));

    let code = h
        .accounts
        .create_invitation(Actor::Operator, 5, 60)
        .await
        .unwrap();
    h.clock.advance(61);
    let e = h
        .accounts
        .sign_up(signup("d@example.org", &code), &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvitationInvalid), "expired: {e}");
}

#[tokio::test]
async fn approval_mode_holds_accounts_until_an_admin_granted_by_the_operator_approves() {
    let h = open(Mode::Approval);
    let c = client("192.0.2.1");
    let admin = h.user("admin@example.org").await;
    let waiting = h.user("w@example.org").await;
    assert_eq!(
        h.accounts.user(admin).await.unwrap().status,
        UserStatus::PendingApproval
    );
    let e = h
        .accounts
        .sign_in("w@example.org", &PASSWORD.into(), &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AwaitingApproval), "{e}");
    // Only the operator makes admins; an admin that is itself waiting is approved first.
    h.accounts.approve(Actor::Operator, admin).await.unwrap();
    let e = h
        .accounts
        .approve(Actor::User(admin), waiting)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "not an admin yet: {e}");
    h.accounts
        .set_admin("admin@example.org", true)
        .await
        .unwrap();
    let pending = h
        .accounts
        .pending_approvals(Actor::User(admin))
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![waiting]
    );
    h.accounts
        .approve(Actor::User(admin), waiting)
        .await
        .unwrap();
    // A refused account is deleted; an active one cannot be refused.
    let refused = h.user("r@example.org").await;
    assert!(matches!(
        h.accounts.reject(Actor::User(admin), waiting).await,
        Err(Error::UnknownUser(_))
    ));
    h.accounts
        .reject(Actor::User(admin), refused)
        .await
        .unwrap();
    assert!(h.accounts.user(refused).await.is_err());
    h.session("w@example.org").await;
    let log = h.accounts.audit_log(admin, 10).await.unwrap();
    assert!(log.iter().any(|e| e.event == "admin_granted"));
}

#[tokio::test]
async fn an_email_change_is_confirmed_by_the_new_address_and_noticed_at_the_old_one() {
    let h = open(Mode::Open);
    let c = client("192.0.2.1");
    h.user("old@example.org").await;
    let (_, who) = h.session("old@example.org").await;
    let e = h
        .accounts
        .request_email_change(&who, &"wrong password here".into(), "new@example.org", &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidCredentials));
    h.accounts
        .request_email_change(&who, &PASSWORD.into(), "new@example.org", &c)
        .await
        .unwrap();
    let notice = h.mails_to("old@example.org").await.pop().unwrap();
    assert!(
        notice.contains("new@example.org") && notice.contains("about to change"),
        "{notice}"
    );
    assert!(
        common::link_token(&notice, accounts::EMAIL_CHANGE_PATH).is_none(),
        "the old address gets no link"
    );
    let token = h
        .token("new@example.org", accounts::EMAIL_CHANGE_PATH)
        .await;
    // Until confirmed, the old address is the account's.
    assert_eq!(
        h.accounts.user(who.user).await.unwrap().email,
        "old@example.org"
    );
    let done = h.accounts.confirm_email_change(&token, &c).await.unwrap();
    assert_eq!(done.email, "new@example.org");
    assert!(matches!(
        h.accounts.confirm_email_change(&token, &c).await,
        Err(Error::InvalidToken)
    ));
    h.session("new@example.org").await;
    assert!(
        h.accounts
            .sign_in("old@example.org", &PASSWORD.into(), &c)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn deleting_an_account_names_the_identities_it_alone_owns_first() {
    let h = open(Mode::Open);
    let alice = h.user("alice@example.org").await;
    let bob = h.user("bob@example.org").await;
    let (_, who) = h.session("alice@example.org").await;
    let (solo, _) = common::identity(1);
    let (shared, _) = common::identity(2);
    h.accounts.add_identity(alice, &solo, None).await.unwrap();
    h.accounts.add_identity(alice, &shared, None).await.unwrap();
    h.accounts
        .invite_member(alice, &shared, "bob@example.org", Role::Owner)
        .await
        .unwrap();
    let t = h
        .token("bob@example.org", accounts::MEMBER_INVITE_PATH)
        .await;
    h.accounts.accept_member_invitation(bob, &t).await.unwrap();
    assert_eq!(
        h.accounts.solely_owned_identities(alice).await.unwrap(),
        vec![solo.clone()]
    );
    let e = h
        .accounts
        .delete_account(&who, &PASSWORD.into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::SoleOwner(ids) if ids == &vec![solo.clone()]),
        "{e}"
    );
    // The shared identity is not hers alone to drop: refused, nothing deleted.
    let e = h
        .accounts
        .delete_account(&who, &PASSWORD.into(), &[solo.clone(), shared.clone()])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    assert_eq!(
        h.accounts.role(alice, &solo).await.unwrap(),
        Some(Role::Owner)
    );
    h.accounts
        .delete_account(&who, &PASSWORD.into(), std::slice::from_ref(&solo))
        .await
        .unwrap();
    assert!(h.accounts.user(alice).await.is_err());
    assert_eq!(
        h.accounts.identities_of(bob).await.unwrap(),
        vec![(shared.clone(), Role::Owner)]
    );
    assert_eq!(h.accounts.role(bob, &solo).await.unwrap(), None);
    let (bob_token, _) = h.session("bob@example.org").await;
    assert_eq!(h.accounts.authenticate(&bob_token).await.unwrap().user, bob);
}
