//! Identities held for users: members and roles, invitations by email that reveal nothing,
//! the last owner, sealed signing keys, and the upload quota.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use accounts::{Actor, Error, Mode, Role};
use common::open;

#[tokio::test]
async fn owners_invite_by_email_and_the_invitation_reads_the_same_with_or_without_an_account() {
    let h = open(Mode::Open);
    let alice = h.user("alice@example.org").await;
    let bob = h.user("bob@example.org").await;
    let (band, band_key) = common::identity(9);
    h.accounts
        .add_identity(alice, &band, Some(band_key.clone()))
        .await
        .unwrap();
    assert_eq!(
        h.accounts.role(alice, &band).await.unwrap(),
        Some(Role::Owner)
    );
    // A non-member may not invite, nor see the members, nor get the key.
    let e = h
        .accounts
        .invite_member(bob, &band, "carol@example.org", Role::Publisher)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)));
    assert!(matches!(
        h.accounts.members(bob, &band).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        h.accounts.signing_key(bob, &band).await,
        Err(Error::Forbidden(_))
    ));

    h.accounts
        .invite_member(alice, &band, "bob@example.org", Role::Publisher)
        .await
        .unwrap();
    h.accounts
        .invite_member(alice, &band, "nobody@example.org", Role::Publisher)
        .await
        .unwrap();
    let to_bob = h.mails_to("bob@example.org").await.pop().unwrap();
    let to_nobody = h.mails_to("nobody@example.org").await.pop().unwrap();
    let body = |m: &str| {
        m.split("\r\n\r\n")
            .nth(1)
            .unwrap()
            .split(accounts::MEMBER_INVITE_PATH)
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        body(&to_bob),
        body(&to_nobody),
        "same text whether or not an account exists"
    );

    // Only the invited address can accept.
    let t = common::link_token(&to_bob, accounts::MEMBER_INVITE_PATH).unwrap();
    let carol = h.user("carol@example.org").await;
    assert!(matches!(
        h.accounts.accept_member_invitation(carol, &t).await,
        Err(Error::InvitationForAnotherAddress)
    ));
    assert_eq!(
        h.accounts.accept_member_invitation(bob, &t).await.unwrap(),
        (band.clone(), Role::Publisher)
    );
    assert!(matches!(
        h.accounts.accept_member_invitation(bob, &t).await,
        Err(Error::InvalidToken)
    ));
    // A publisher signs through the gateway but does not manage members.
    assert_eq!(
        *h.accounts.signing_key(bob, &band).await.unwrap(),
        *band_key
    );
    assert!(matches!(
        h.accounts
            .invite_member(bob, &band, "carol@example.org", Role::Owner)
            .await,
        Err(Error::Forbidden(_))
    ));
    let members = h.accounts.members(bob, &band).await.unwrap();
    assert_eq!(
        members.iter().map(|m| (m.user, m.role)).collect::<Vec<_>>(),
        vec![(alice, Role::Owner), (bob, Role::Publisher)]
    );
}

#[tokio::test]
async fn the_last_owner_cannot_leave_or_step_down() {
    let h = open(Mode::Open);
    let alice = h.user("alice@example.org").await;
    let bob = h.user("bob@example.org").await;
    let (archive, _) = common::identity(7);
    h.accounts
        .add_identity(alice, &archive, None)
        .await
        .unwrap();
    assert!(matches!(
        h.accounts.remove_member(alice, &archive, alice).await,
        Err(Error::LastOwner)
    ));
    assert!(matches!(
        h.accounts.add_identity(bob, &archive, None).await,
        Err(Error::IdentityExists(_))
    ));
    h.accounts
        .invite_member(alice, &archive, "bob@example.org", Role::Publisher)
        .await
        .unwrap();
    let t = h
        .token("bob@example.org", accounts::MEMBER_INVITE_PATH)
        .await;
    h.accounts.accept_member_invitation(bob, &t).await.unwrap();
    assert!(matches!(
        h.accounts
            .set_role(alice, &archive, alice, Role::Publisher)
            .await,
        Err(Error::LastOwner)
    ));
    h.accounts
        .set_role(alice, &archive, bob, Role::Owner)
        .await
        .unwrap();
    h.accounts
        .remove_member(alice, &archive, alice)
        .await
        .unwrap();
    assert!(matches!(
        h.accounts.remove_member(bob, &archive, bob).await,
        Err(Error::LastOwner)
    ));
    assert_eq!(h.accounts.identities_of(alice).await.unwrap(), vec![]);
    // An identity without a key held here has no signing key to give.
    assert!(matches!(
        h.accounts.signing_key(bob, &archive).await,
        Err(Error::UnknownIdentity(_))
    ));
}

#[tokio::test]
async fn uploads_are_charged_against_the_quota_atomically() {
    let config = accounts::AccountsConfig {
        upload_quota_bytes: 1000,
        ..common::config(Mode::Open)
    };
    let h = common::open_with(config);
    let alice = h.user("alice@example.org").await;
    h.accounts.charge_upload(alice, 600).await.unwrap();
    let e = h.accounts.charge_upload(alice, 401).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::QuotaExceeded {
                used: 600,
                quota: 1000,
                requested: 401
            }
        ),
        "{e}"
    );
    h.accounts.charge_upload(alice, 400).await.unwrap();
    h.accounts.refund_upload(alice, 500).await.unwrap();
    assert_eq!(h.accounts.upload_usage(alice).await.unwrap().used, 500);
    assert!(matches!(
        h.accounts
            .set_upload_quota(Actor::User(alice), alice, Some(10_000))
            .await,
        Err(Error::Forbidden(_))
    ));
    h.accounts
        .set_upload_quota(Actor::Operator, alice, Some(10_000))
        .await
        .unwrap();
    h.accounts.charge_upload(alice, 9_000).await.unwrap();
    // Many charges at once never overshoot.
    let tries = (0..20).map(|_| {
        let a = h.accounts.clone();
        tokio::spawn(async move { a.charge_upload(alice, 100).await.is_ok() })
    });
    let mut ok = 0;
    for t in tries.collect::<Vec<_>>() {
        ok += t.await.unwrap() as u32;
    }
    assert_eq!(ok, 5);
    assert_eq!(h.accounts.upload_usage(alice).await.unwrap().used, 10_000);
}

#[tokio::test]
async fn an_identity_is_held_only_under_its_own_id_and_key() {
    let h = open(Mode::Open);
    let alice = h.user("alice@example.org").await;
    let (id, key) = common::identity(3);
    let (_, other_key) = common::identity(4);
    let e = h
        .accounts
        .add_identity(alice, "band", None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidIdentity(_)), "{e}");
    let e = h
        .accounts
        .add_identity(alice, &id, Some(other_key))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::IdentityKeyMismatch(_)), "{e}");
    assert_eq!(
        h.accounts.role(alice, &id).await.unwrap(),
        None,
        "nothing recorded"
    );
    h.accounts
        .add_identity(alice, &id, Some(key.clone()))
        .await
        .unwrap();
    assert_eq!(*h.accounts.signing_key(alice, &id).await.unwrap(), *key);
}

#[tokio::test]
async fn accepting_an_invitation_never_lowers_a_role() {
    let h = open(Mode::Open);
    let alice = h.user("alice@example.org").await;
    let bob = h.user("bob@example.org").await;
    let (id, _) = common::identity(5);
    h.accounts.add_identity(alice, &id, None).await.unwrap();
    h.accounts
        .invite_member(alice, &id, "bob@example.org", Role::Owner)
        .await
        .unwrap();
    let t = h
        .token("bob@example.org", accounts::MEMBER_INVITE_PATH)
        .await;
    h.accounts.accept_member_invitation(bob, &t).await.unwrap();
    // An owner who opens a publisher invitation (an old mail, say) stays an owner.
    h.accounts
        .invite_member(alice, &id, "alice@example.org", Role::Publisher)
        .await
        .unwrap();
    let t = h
        .token("alice@example.org", accounts::MEMBER_INVITE_PATH)
        .await;
    h.accounts
        .accept_member_invitation(alice, &t)
        .await
        .unwrap();
    assert_eq!(
        h.accounts.role(alice, &id).await.unwrap(),
        Some(Role::Owner)
    );
    h.accounts
        .invite_member(bob, &id, "bob@example.org", Role::Publisher)
        .await
        .unwrap();
    let t = h
        .token("bob@example.org", accounts::MEMBER_INVITE_PATH)
        .await;
    h.accounts.accept_member_invitation(bob, &t).await.unwrap();
    assert_eq!(h.accounts.role(bob, &id).await.unwrap(), Some(Role::Owner));
}
