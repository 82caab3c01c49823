//! No account enumeration at sign-up: an address with an account and a new one get the same
//! answer after the same work (both hash the password), and the mail each gets says
//! nothing to the one who signed up. Expired rows go at pruning.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Instant;

use accounts::{Accounts, Clock, Mode, SignUp};
use common::{PASSWORD, client};

#[tokio::test]
async fn signing_up_with_a_taken_or_a_new_address_takes_as_long() {
    // Cost 8 (~15-60 ms a hash here), so bcrypt and not machine noise sets the time; a
    // manual clock moved past the mail limit between rounds.
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let h = common::Harness {
        accounts: Accounts::builder(common::config(Mode::Open), dir.path())
            .clock(clock.clone())
            .insecure_bcrypt_cost(8)
            .open()
            .unwrap(),
        dir,
        clock,
    };
    h.user("taken@example.org").await;
    let mut taken = Vec::new();
    let mut new = Vec::new();
    for i in 0..8 {
        let c = client(&format!("192.0.2.{}", i + 10));
        let form = |email: &str| SignUp {
            email: email.into(),
            password: PASSWORD.into(),
            invitation: None,
        };
        let t = Instant::now();
        let a = h.accounts.sign_up(form("taken@example.org"), &c).await;
        taken.push(t.elapsed());
        let t = Instant::now();
        let b = h
            .accounts
            .sign_up(form(&format!("new{i}@example.org")), &c)
            .await;
        new.push(t.elapsed());
        assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
        h.clock.advance(30 * 60 + 1);
    }
    taken.sort();
    new.sort();
    // Within the noise of a 2-core machine running other tests; skipping the hash for a
    // taken address makes it ~100x faster.
    let ratio = taken[4].as_secs_f64() / new[4].as_secs_f64();
    assert!(
        (0.4..2.5).contains(&ratio),
        "median taken {:?} vs new {:?}",
        taken[4],
        new[4]
    );
    assert_eq!(
        h.mails_to("taken@example.org").await.len(),
        1 + 8,
        "the owner hears of each try"
    );
}

#[tokio::test]
async fn pruning_drops_expired_sessions_and_tokens() {
    let h = common::open(Mode::Open);
    h.user("alice@example.org").await;
    h.session("alice@example.org").await;
    h.accounts
        .request_password_reset("alice@example.org")
        .await
        .unwrap();
    let count = |table: &str| -> i64 {
        let db = rusqlite::Connection::open(h.accounts.database_path()).unwrap();
        db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!((count("sessions"), count("tokens")), (1, 1));
    h.accounts.prune().await.unwrap();
    assert_eq!(
        (count("sessions"), count("tokens")),
        (1, 1),
        "nothing expired yet"
    );
    h.clock.advance(90 * 24 * 3600 + 1);
    h.accounts.prune().await.unwrap();
    assert_eq!(
        (count("sessions"), count("tokens"), count("rate_events")),
        (0, 0, 0)
    );
}
