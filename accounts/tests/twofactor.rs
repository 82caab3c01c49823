//! TOTP enrolment, sign-in with a code, replays, recovery codes and disabling, with codes
//! computed from the enrolment secret as an authenticator app would.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use accounts::{Error, Mode, NewSession, Secret, SignIn, totp};
use common::{PASSWORD, client, open};

fn code(secret: &Secret, now: i64) -> Secret {
    Secret::new(totp::code(secret.expose(), now).unwrap())
}

fn challenge(answer: SignIn) -> Secret {
    match answer {
        SignIn::SecondFactor { challenge } => challenge,
        SignIn::Session(_) => panic!("no second factor asked"),
    }
}

/// A user with TOTP on: (secret, recovery codes).
async fn enrolled(h: &common::Harness, email: &str) -> (Secret, Vec<Secret>) {
    h.user(email).await;
    let (_, who) = h.session(email).await;
    let enrolment = h.accounts.begin_totp(&who).await.unwrap();
    assert!(enrolment.qr_svg.contains("<svg"));
    assert!(
        enrolment
            .otpauth_uri
            .expose()
            .contains(enrolment.secret_base32.expose())
    );
    assert_eq!(format!("{enrolment:?}"), "TotpEnrolment(<redacted>)");
    let c = client("192.0.2.1");
    let right = code(&enrolment.secret_base32, h.clock.now());
    let wrong = Secret::new(format!(
        "{:06}",
        (right.expose().parse::<u32>().unwrap() + 1) % 1_000_000
    ));
    let e = h.accounts.confirm_totp(&who, &wrong, &c).await.unwrap_err();
    assert!(matches!(e, Error::InvalidCode), "{e}");
    assert!(!h.accounts.user(who.user).await.unwrap().totp_enabled);
    let codes = h
        .accounts
        .confirm_totp(&who, &code(&enrolment.secret_base32, h.clock.now()), &c)
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    (enrolment.secret_base32, codes)
}

#[tokio::test]
async fn with_totp_a_password_alone_gives_a_challenge_and_a_code_a_new_session() {
    let h = open(Mode::Open);
    let (secret, _) = enrolled(&h, "alice@example.org").await;
    let c = client("192.0.2.1");
    let ch = challenge(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
    );
    // The challenge is no session.
    assert!(matches!(
        h.accounts.authenticate(&ch).await,
        Err(Error::NotSignedIn)
    ));
    // The code used at enrolment (same step) is refused: no code works twice.
    let same_step = code(&secret, h.clock.now());
    assert!(matches!(
        h.accounts.complete_second_factor(&ch, &same_step, &c).await,
        Err(Error::InvalidCode)
    ));
    h.clock.advance(totp::STEP_SECS);
    let fresh = code(&secret, h.clock.now());
    let s: NewSession = h
        .accounts
        .complete_second_factor(&ch, &fresh, &c)
        .await
        .unwrap();
    assert_ne!(s.token, ch);
    h.accounts.authenticate(&s.token).await.unwrap();
    // The challenge is spent, and the code cannot be replayed with a new challenge.
    assert!(matches!(
        h.accounts.complete_second_factor(&ch, &fresh, &c).await,
        Err(Error::InvalidToken)
    ));
    let ch2 = challenge(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
    );
    assert!(matches!(
        h.accounts.complete_second_factor(&ch2, &fresh, &c).await,
        Err(Error::InvalidCode)
    ));
}

#[tokio::test]
async fn a_challenge_dies_after_five_wrong_codes() {
    let h = open(Mode::Open);
    let (secret, _) = enrolled(&h, "alice@example.org").await;
    let c = client("192.0.2.1");
    h.clock.advance(totp::STEP_SECS);
    let ch = challenge(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
    );
    let right = code(&secret, h.clock.now());
    let wrong = Secret::new(format!(
        "{:06}",
        (right.expose().parse::<u32>().unwrap() + 1) % 1_000_000
    ));
    for _ in 0..5 {
        assert!(matches!(
            h.accounts.complete_second_factor(&ch, &wrong, &c).await,
            Err(Error::InvalidCode)
        ));
    }
    assert!(matches!(
        h.accounts.complete_second_factor(&ch, &right, &c).await,
        Err(Error::InvalidToken)
    ));
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let h = open(Mode::Open);
    let (_, codes) = enrolled(&h, "alice@example.org").await;
    let c = client("192.0.2.1");
    let ch = challenge(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
    );
    // Typed in capitals without dashes, it still matches.
    let typed = Secret::new(codes[3].expose().replace('-', "").to_uppercase());
    let s = h
        .accounts
        .complete_second_factor(&ch, &typed, &c)
        .await
        .unwrap();
    h.accounts.authenticate(&s.token).await.unwrap();
    assert_eq!(h.accounts.recovery_codes_left(s.user).await.unwrap(), 9);
    let ch = challenge(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
    );
    assert!(matches!(
        h.accounts.complete_second_factor(&ch, &codes[3], &c).await,
        Err(Error::InvalidCode)
    ));
    let log = h.accounts.audit_log(s.user, 20).await.unwrap();
    assert!(log.iter().any(|e| e.event == "recovery_code_used"));
    assert!(log.iter().any(|e| e.event == "second_factor_failed"));
}

#[tokio::test]
async fn a_sign_in_link_still_asks_for_the_second_factor() {
    let h = open(Mode::Open);
    let (secret, _) = enrolled(&h, "alice@example.org").await;
    let c = client("192.0.2.1");
    h.accounts
        .request_sign_in_link("alice@example.org")
        .await
        .unwrap();
    let link = h
        .token("alice@example.org", accounts::SIGN_IN_LINK_PATH)
        .await;
    let ch = challenge(h.accounts.sign_in_with_link(&link, &c).await.unwrap());
    h.clock.advance(totp::STEP_SECS);
    h.accounts
        .complete_second_factor(&ch, &code(&secret, h.clock.now()), &c)
        .await
        .unwrap();
}

#[tokio::test]
async fn disabling_totp_needs_the_password_and_a_valid_code() {
    let h = open(Mode::Open);
    let (secret, codes) = enrolled(&h, "alice@example.org").await;
    let c = client("192.0.2.1");
    h.clock.advance(totp::STEP_SECS);
    let ch = challenge(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
    );
    let s = h
        .accounts
        .complete_second_factor(&ch, &code(&secret, h.clock.now()), &c)
        .await
        .unwrap();
    let who = h.accounts.authenticate(&s.token).await.unwrap();
    assert!(matches!(
        h.accounts.begin_totp(&who).await,
        Err(Error::SecondFactorState(_))
    ));
    let e = h
        .accounts
        .disable_totp(&who, &PASSWORD.into(), &"123456".into(), &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidCode), "{e}");
    let e = h
        .accounts
        .disable_totp(&who, &"wrong password here".into(), &codes[0], &c)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidCredentials), "{e}");
    h.accounts
        .disable_totp(&who, &PASSWORD.into(), &codes[0], &c)
        .await
        .unwrap();
    assert!(!h.accounts.user(who.user).await.unwrap().totp_enabled);
    assert_eq!(h.accounts.recovery_codes_left(who.user).await.unwrap(), 0);
    let notice = h.mails_to("alice@example.org").await.pop().unwrap();
    assert!(
        notice.contains("two-factor authentication was turned off"),
        "{notice}"
    );
    // Back to a password alone.
    assert!(matches!(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
        SignIn::Session(_)
    ));
    let log = h.accounts.audit_log(who.user, 20).await.unwrap();
    assert!(
        log.iter().any(|e| e.event == "totp_enabled")
            && log.iter().any(|e| e.event == "totp_disabled")
    );
}

#[tokio::test]
async fn with_totp_on_eight_characters_are_enough_but_turning_it_off_needs_fifteen() {
    let h = open(Mode::Open);
    let (secret, codes) = enrolled(&h, "alice@example.org").await;
    let c = client("192.0.2.1");
    h.clock.advance(totp::STEP_SECS);
    let ch = challenge(
        h.accounts
            .sign_in("alice@example.org", &PASSWORD.into(), &c)
            .await
            .unwrap(),
    );
    let s = h
        .accounts
        .complete_second_factor(&ch, &code(&secret, h.clock.now()), &c)
        .await
        .unwrap();
    let who = h.accounts.authenticate(&s.token).await.unwrap();
    h.accounts
        .change_password(&who, &PASSWORD.into(), &"tulip-42".into(), &c)
        .await
        .unwrap();
    let e = h
        .accounts
        .disable_totp(&who, &"tulip-42".into(), &codes[0], &c)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Password(accounts::PasswordProblem::TooShort { min: 15 })
        ),
        "{e}"
    );
    assert!(h.accounts.user(who.user).await.unwrap().totp_enabled);
    // New recovery codes replace the old ones.
    let fresh = h
        .accounts
        .regenerate_recovery_codes(&who, &codes[1], &c)
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|f| !codes.contains(f)));
    let ch = challenge(
        h.accounts
            .sign_in("alice@example.org", &"tulip-42".into(), &c)
            .await
            .unwrap(),
    );
    assert!(matches!(
        h.accounts.complete_second_factor(&ch, &codes[2], &c).await,
        Err(Error::InvalidCode)
    ));
    h.accounts
        .complete_second_factor(&ch, &fresh[0], &c)
        .await
        .unwrap();
}
