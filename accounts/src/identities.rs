//! Identities held for users. A user is not an identity: identities (ed25519 keypairs) sign
//! content; users are members of identities with a role. An identity's secret key may be
//! kept here for its members, sealed under the secrets key — so this gateway can sign as
//! that identity (docs/accounts.md says so plainly). Account recovery never hands a key
//! out: the only way to it is [`Accounts::signing_key`], for the server to sign with.
//!
//! Owners invite members by email; the invitation is mailed whether or not the address has
//! an account, so it reveals nothing. The last owner cannot leave or be removed.

use feeds::identity::{IdentityKey, Keypair};
use rusqlite::{OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use crate::Accounts;
use crate::error::{Error, Result};
use crate::keys::Sealed;
use crate::messages;
use crate::ratelimit::{self, MAILS_PER_ADDRESS};
use crate::token::Secret;
use crate::tokens::{self, Purpose, TokenData};
use crate::users::{self, UserId, email_key, normalise_email};

/// A member's role in an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Publishes entries to the identity's feeds.
    Publisher,
    /// Publishes, and manages members.
    Owner,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Publisher => "publisher",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "publisher" => Some(Role::Publisher),
            _ => None,
        }
    }
}

/// A member of an identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user: UserId,
    /// Their address (shown to other members only).
    pub email: String,
    /// Their role.
    pub role: Role,
}

fn key_context(identity: &str) -> String {
    format!("identity:{identity}")
}

pub(crate) fn role_of(tx: &Transaction, user: UserId, identity: &str) -> Result<Option<Role>> {
    let r: Option<String> = tx
        .query_row(
            "SELECT role FROM memberships WHERE identity = ?1 AND user_id = ?2",
            params![identity, user.0],
            |r| r.get(0),
        )
        .optional()
        .map_err(Error::db("role"))?;
    Ok(r.as_deref().and_then(Role::parse))
}

fn owners(tx: &Transaction, identity: &str) -> Result<i64> {
    tx.query_row(
        "SELECT COUNT(*) FROM memberships WHERE identity = ?1 AND role = 'owner'",
        params![identity],
        |r| r.get(0),
    )
    .map_err(Error::db("owners"))
}

/// Identities whose only owner is `user`.
pub(crate) fn solely_owned(tx: &Transaction, user: UserId) -> Result<Vec<String>> {
    let mut st = tx
        .prepare_cached(
            "SELECT m.identity FROM memberships m WHERE m.user_id = ?1 AND m.role = 'owner'
             AND (SELECT COUNT(*) FROM memberships o WHERE o.identity = m.identity AND o.role = 'owner') = 1
             ORDER BY m.identity",
        )
        .map_err(Error::db("solely owned"))?;
    let rows = st
        .query_map(params![user.0], |r| r.get(0))
        .map_err(Error::db("solely owned"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(Error::db("solely owned"))
}

fn require(tx: &Transaction, user: UserId, identity: &str, at_least: Role) -> Result<Role> {
    match role_of(tx, user, identity)? {
        Some(r) if r >= at_least => Ok(r),
        Some(_) => Err(Error::Forbidden("this needs an owner of the identity")),
        None => Err(Error::Forbidden("not a member of this identity")),
    }
}

impl Accounts {
    /// Records an identity created for `user`, who becomes its owner. With `secret_key` (the
    /// ed25519 seed, checked to be the identity's), the key is kept sealed so members can
    /// publish through the gateway.
    pub async fn add_identity(
        &self,
        user: UserId,
        identity: &str,
        secret_key: Option<Zeroizing<[u8; 32]>>,
    ) -> Result<()> {
        let public: IdentityKey = identity
            .parse()
            .map_err(|_| Error::InvalidIdentity(identity.to_string()))?;
        if let Some(k) = &secret_key
            && Keypair::from_seed(k).public() != public
        {
            return Err(Error::IdentityKeyMismatch(identity.to_string()));
        }
        // Stored in its canonical spelling, so every lookup by id finds it.
        let identity = public.to_string();
        let sealed = match &secret_key {
            Some(k) => Some(self.inner.keys.seal(
                Sealed::Identity,
                &key_context(&identity),
                k.as_slice(),
            )?),
            None => None,
        };
        let now = self.now();
        self.inner
            .db
            .tx("add identity", move |tx| {
                users::get(tx, user)?;
                let exists: bool = tx
                    .query_row("SELECT EXISTS(SELECT 1 FROM identities WHERE id = ?1)", params![identity], |r| r.get(0))
                    .map_err(Error::db("add identity"))?;
                if exists {
                    return Err(Error::IdentityExists(identity));
                }
                tx.execute(
                    "INSERT INTO identities (id, sealed_key, created_by, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![identity, sealed, user.0, now],
                )
                .map_err(Error::db("add identity"))?;
                tx.execute(
                    "INSERT INTO memberships (identity, user_id, role, added_at) VALUES (?1, ?2, 'owner', ?3)",
                    params![identity, user.0, now],
                )
                .map_err(Error::db("add identity"))?;
                Ok(())
            })
            .await
    }

    /// Every identity whose key this gateway keeps (the node publishes, seeds and announces
    /// them as its own).
    pub async fn held_identities(&self) -> Result<Vec<String>> {
        self.inner
            .db
            .tx("held identities", move |tx| {
                let mut st = tx
                    .prepare_cached(
                        "SELECT id FROM identities WHERE sealed_key IS NOT NULL ORDER BY id",
                    )
                    .map_err(Error::db("held identities"))?;
                let rows = st
                    .query_map([], |r| r.get(0))
                    .map_err(Error::db("held identities"))?;
                rows.collect::<rusqlite::Result<_>>()
                    .map_err(Error::db("held identities"))
            })
            .await
    }

    /// The user's role in an identity, if a member (the one check every publish makes).
    pub async fn role(&self, user: UserId, identity: &str) -> Result<Option<Role>> {
        let identity = identity.to_string();
        self.inner
            .db
            .tx("role", move |tx| role_of(tx, user, &identity))
            .await
    }

    /// The identities the user is a member of, with the role.
    pub async fn identities_of(&self, user: UserId) -> Result<Vec<(String, Role)>> {
        self.inner
            .db
            .tx("identities of", move |tx| {
                let mut st = tx
                    .prepare_cached("SELECT identity, role FROM memberships WHERE user_id = ?1 ORDER BY identity")
                    .map_err(Error::db("identities of"))?;
                let rows = st
                    .query_map(params![user.0], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .map_err(Error::db("identities of"))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(Error::db("identities of"))?;
                Ok(rows.into_iter().filter_map(|(i, r)| Role::parse(&r).map(|r| (i, r))).collect())
            })
            .await
    }

    /// The members of an identity; members only.
    pub async fn members(&self, user: UserId, identity: &str) -> Result<Vec<Member>> {
        let identity = identity.to_string();
        self.inner
            .db
            .tx("members", move |tx| {
                require(tx, user, &identity, Role::Publisher)?;
                let mut st = tx
                    .prepare_cached(
                        "SELECT m.user_id, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id
                         WHERE m.identity = ?1 ORDER BY m.user_id",
                    )
                    .map_err(Error::db("members"))?;
                let rows = st
                    .query_map(params![identity], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .map_err(Error::db("members"))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(Error::db("members"))?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(u, email, r)| Role::parse(&r).map(|role| Member { user: UserId(u), email, role }))
                    .collect())
            })
            .await
    }

    /// The identity's secret key, for the server to sign an entry a member publishes
    /// (publisher or owner). Never for display or export.
    pub async fn signing_key(&self, user: UserId, identity: &str) -> Result<Zeroizing<[u8; 32]>> {
        let identity = identity.to_string();
        let inner = self.inner.clone();
        self.inner
            .db
            .tx("signing key", move |tx| {
                require(tx, user, &identity, Role::Publisher)?;
                let sealed: Option<Vec<u8>> = tx
                    .query_row(
                        "SELECT sealed_key FROM identities WHERE id = ?1",
                        params![identity],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(Error::db("signing key"))?
                    .flatten();
                let sealed = sealed.ok_or_else(|| Error::UnknownIdentity(identity.clone()))?;
                let plain = inner
                    .keys
                    .open(Sealed::Identity, &key_context(&identity), &sealed)?;
                let mut key = Zeroizing::new([0u8; 32]);
                if plain.len() != 32 {
                    return Err(Error::Unseal);
                }
                key.copy_from_slice(&plain);
                Ok(key)
            })
            .await
    }

    /// Invites an address to an identity (owners only). The mail goes out whether or not
    /// the address has an account: the answer says nothing about it.
    pub async fn invite_member(
        &self,
        owner: UserId,
        identity: &str,
        email: &str,
        role: Role,
    ) -> Result<()> {
        let (_, email) = normalise_email(email)?;
        let identity = identity.to_string();
        let now = self.now();
        let base = self.public_url().to_string();
        let mail = self
            .inner
            .db
            .tx("invite member", move |tx| {
                require(tx, owner, &identity, Role::Owner)?;
                ratelimit::hit(tx, MAILS_PER_ADDRESS, &email_key(&email), now)?;
                let token = tokens::issue(
                    tx,
                    Purpose::MemberInvite,
                    &TokenData {
                        user_id: Some(owner.0),
                        email: Some(email.clone()),
                        identity: Some(identity.clone()),
                        role: Some(role.as_str().into()),
                        ..TokenData::default()
                    },
                    now,
                )?;
                Ok(messages::member_invitation(
                    &email,
                    &base,
                    &identity,
                    role.as_str(),
                    token.expose(),
                ))
            })
            .await?;
        self.inner.mailer.send_later(mail);
        Ok(())
    }

    /// Accepts an invitation as the signed-in user, whose address must be the invited one.
    /// Returns the identity and the role.
    pub async fn accept_member_invitation(
        &self,
        user: UserId,
        token: &Secret,
    ) -> Result<(String, Role)> {
        let token = token.clone();
        let now = self.now();
        self.inner
            .db
            .tx("accept invitation", move |tx| {
                let data = tokens::peek(tx, Purpose::MemberInvite, token.expose(), now)?;
                let me = users::get(tx, user)?;
                if data.email.as_deref() != Some(me.email.as_str()) {
                    return Err(Error::InvitationForAnotherAddress);
                }
                tokens::take(tx, Purpose::MemberInvite, token.expose(), now)?;
                let (Some(identity), Some(role)) = (data.identity, data.role.as_deref().and_then(Role::parse)) else {
                    return Err(Error::InvalidToken);
                };
                tx.execute(
                    "INSERT INTO memberships (identity, user_id, role, added_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (identity, user_id) DO UPDATE SET role =
                       CASE WHEN role = 'owner' OR excluded.role = 'owner' THEN 'owner' ELSE 'publisher' END",
                    params![identity, user.0, role.as_str(), now],
                )
                .map_err(Error::db("accept invitation"))?;
                Ok((identity, role))
            })
            .await
    }

    /// Removes a member (owners only; anyone may remove themselves). The last owner cannot
    /// go.
    pub async fn remove_member(&self, actor: UserId, identity: &str, member: UserId) -> Result<()> {
        let identity = identity.to_string();
        self.inner
            .db
            .tx("remove member", move |tx| {
                if actor != member {
                    require(tx, actor, &identity, Role::Owner)?;
                }
                let role = role_of(tx, member, &identity)?
                    .ok_or(Error::Forbidden("not a member of this identity"))?;
                if role == Role::Owner && owners(tx, &identity)? <= 1 {
                    return Err(Error::LastOwner);
                }
                tx.execute(
                    "DELETE FROM memberships WHERE identity = ?1 AND user_id = ?2",
                    params![identity, member.0],
                )
                .map_err(Error::db("remove member"))?;
                Ok(())
            })
            .await
    }

    /// Changes a member's role (owners only); the last owner cannot step down.
    pub async fn set_role(
        &self,
        owner: UserId,
        identity: &str,
        member: UserId,
        role: Role,
    ) -> Result<()> {
        let identity = identity.to_string();
        self.inner
            .db
            .tx("set role", move |tx| {
                require(tx, owner, &identity, Role::Owner)?;
                let current = role_of(tx, member, &identity)?
                    .ok_or(Error::Forbidden("not a member of this identity"))?;
                if current == Role::Owner && role != Role::Owner && owners(tx, &identity)? <= 1 {
                    return Err(Error::LastOwner);
                }
                tx.execute(
                    "UPDATE memberships SET role = ?1 WHERE identity = ?2 AND user_id = ?3",
                    params![role.as_str(), identity, member.0],
                )
                .map_err(Error::db("set role"))?;
                Ok(())
            })
            .await
    }
}
