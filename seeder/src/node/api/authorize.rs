//! The one place where the node decides whether an actor may change its state.
//!
//! Every state-changing method of [`NodeApi`] starts with [`NodeApi::authorize`]; what it
//! does next takes the [`Authorized`] proof that only `authorize` constructs, so a path that
//! changes state without a decision does not compile. Each decision is counted per node
//! (`swarmfeed_authorizations_total` on `/metrics`), which is how the tests see that every
//! state-changing route and control command passes through here.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;

use accounts::Role;
use feeds::IdentityKey;

use super::NodeApi;
use super::actor::{Actor, ActorKind};
use http_server::{ApiError, ErrorCode};

/// Everything that changes a node's state, whoever asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// A signed head pushed by a node serving a feed this node follows.
    PushHead,
    /// A node registering as a follower of a feed this node serves (heads get pushed to it).
    RegisterFollower,
    /// Taking in what `publish` or `retract` committed to the data directory while no node
    /// ran (or one started meanwhile).
    Publish,
    /// Publishing files as a new entry: the node hashes, signs with the one identity named,
    /// and takes the entry in.
    PublishFiles,
    /// Following a feed or an identity, or changing a follow's caps.
    Follow,
    /// Unfollowing, optionally deleting the content no other follow names.
    Unfollow,
    /// Retracting an entry of an own feed: the node signs a `delete` entry with the one
    /// identity named and takes it in.
    Retract,
    /// Signing a new version of an own identity's profile (for a user: of an identity the
    /// gateway holds, as its owner).
    SetProfile,
    /// Restoring an own identity's feeds from the network into the data directory.
    Restore,
    /// Creating an identity whose key the gateway keeps for the user asking (its owner).
    CreateIdentity,
    /// Inviting someone by email to an identity the gateway holds (owners).
    InviteMember,
    /// Removing a member from an identity (owners).
    RemoveMember,
    /// Leaving an identity (any member; never its last owner).
    LeaveIdentity,
    /// Changing a member's role (owners).
    SetRole,
    /// Accepting an invitation to an identity (the invited user).
    JoinIdentity,
    /// Deleting the user's own account, and with it the identities it alone owns (their
    /// keys destroyed): the user must own every identity it drops.
    DeleteAccount,
}

impl Operation {
    pub const ALL: [Operation; 16] = [
        Operation::PushHead,
        Operation::RegisterFollower,
        Operation::Publish,
        Operation::PublishFiles,
        Operation::Follow,
        Operation::Unfollow,
        Operation::Retract,
        Operation::SetProfile,
        Operation::Restore,
        Operation::CreateIdentity,
        Operation::InviteMember,
        Operation::RemoveMember,
        Operation::LeaveIdentity,
        Operation::SetRole,
        Operation::JoinIdentity,
        Operation::DeleteAccount,
    ];

    /// The metrics label.
    pub fn name(self) -> &'static str {
        match self {
            Operation::PushHead => "push_head",
            Operation::RegisterFollower => "register_follower",
            Operation::Publish => "publish",
            Operation::PublishFiles => "publish_files",
            Operation::Follow => "follow",
            Operation::Unfollow => "unfollow",
            Operation::Retract => "retract",
            Operation::SetProfile => "set_profile",
            Operation::Restore => "restore",
            Operation::CreateIdentity => "create_identity",
            Operation::InviteMember => "invite_member",
            Operation::RemoveMember => "remove_member",
            Operation::LeaveIdentity => "leave_identity",
            Operation::SetRole => "set_role",
            Operation::JoinIdentity => "join_identity",
            Operation::DeleteAccount => "delete_account",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The policy: the operator may do everything; another node may push heads and register
/// as a follower, nothing else. A signed-in user, with `role` its role in the identity
/// acted on: may create an identity and accept an invitation; with the role owner or
/// publisher, publish files and retract; as any member, leave; as owner, invite, remove
/// members, change roles and set the identity's public profile (a claim every gateway
/// shows for all its members: publishers may not change it); delete its own account when
/// it owns every identity that drops (`role` is then the weakest of its roles in them,
/// owner when it drops none); nothing else. (Rate limits act where they always did, in the
/// methods.)
fn allowed(actor: &Actor, operation: Operation, role: Option<Role>) -> bool {
    match actor {
        Actor::Operator => true,
        Actor::Peer { .. } => {
            matches!(operation, Operation::PushHead | Operation::RegisterFollower)
        }
        Actor::User { .. } => match operation {
            Operation::CreateIdentity | Operation::JoinIdentity => true,
            Operation::PublishFiles | Operation::Retract | Operation::LeaveIdentity => {
                role.is_some_and(|r| r >= Role::Publisher)
            }
            Operation::InviteMember
            | Operation::RemoveMember
            | Operation::SetRole
            | Operation::SetProfile
            | Operation::DeleteAccount => role == Some(Role::Owner),
            Operation::PushHead
            | Operation::RegisterFollower
            | Operation::Publish
            | Operation::Follow
            | Operation::Unfollow
            | Operation::Restore => false,
        },
    }
}

/// Proof that `actor` may do `operation`: only [`NodeApi::authorize`] makes one.
#[derive(Debug)]
pub struct Authorized {
    operation: Operation,
    actor: Actor,
}

impl Authorized {
    pub fn operation(&self) -> Operation {
        self.operation
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

const ACTOR_KINDS: [ActorKind; 3] = ActorKind::ALL;
const OUTCOMES: [&str; 2] = ["allowed", "denied"];
const SLOTS: usize = Operation::ALL.len() * ACTOR_KINDS.len() * OUTCOMES.len();

/// Decisions made, by operation, actor kind and outcome (per node, in its `Metrics`).
#[derive(Debug)]
pub struct Decisions {
    counts: [AtomicU64; SLOTS],
}

impl Default for Decisions {
    fn default() -> Self {
        Decisions {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn slot(operation: Operation, kind: ActorKind, allowed: bool) -> usize {
    let kind = match kind {
        ActorKind::Operator => 0,
        ActorKind::Peer => 1,
        ActorKind::User => 2,
    };
    (operation.index() * ACTOR_KINDS.len() + kind) * OUTCOMES.len() + usize::from(!allowed)
}

impl Decisions {
    fn count(&self, operation: Operation, kind: ActorKind, allowed: bool) {
        self.counts[slot(operation, kind, allowed)].fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text: one counter per operation, actor kind and outcome.
    pub fn prometheus(&self) -> String {
        let mut text = String::from("# TYPE swarmfeed_authorizations_total counter\n");
        for operation in Operation::ALL {
            for kind in ACTOR_KINDS {
                for (i, outcome) in OUTCOMES.iter().enumerate() {
                    let n = self.counts[slot(operation, kind, i == 0)].load(Ordering::Relaxed);
                    text.push_str(&format!(
                        "swarmfeed_authorizations_total{{operation=\"{}\",actor=\"{}\",outcome=\"{outcome}\"}} {n}\n",
                        operation.name(),
                        kind.name()
                    ));
                }
            }
        }
        text
    }
}

impl NodeApi {
    /// Decides whether `actor` may do `operation` (and counts the decision).
    pub(super) fn authorize(
        &self,
        actor: &Actor,
        operation: Operation,
    ) -> Result<Authorized, ApiError> {
        decide(self.node.metrics.authorizations(), actor, operation, None)
    }

    /// Decides whether `actor` may do `operation` on `identity`: for a user, with its role
    /// in that identity (from the accounts database; no accounts, or no membership: none).
    pub(super) async fn authorize_on(
        &self,
        actor: &Actor,
        operation: Operation,
        identity: &IdentityKey,
    ) -> Result<Authorized, ApiError> {
        let role = self.role_in(actor, identity).await;
        self.authorize_as(actor, operation, role)
    }

    /// Decides whether `actor` may do `operation` with `role`, the user's role in what it
    /// acts on (see [`allowed`]).
    pub(super) fn authorize_as(
        &self,
        actor: &Actor,
        operation: Operation,
        role: Option<Role>,
    ) -> Result<Authorized, ApiError> {
        decide(self.node.metrics.authorizations(), actor, operation, role)
    }

    /// A user's role in `identity` (none for other actors, without accounts, or without a
    /// membership).
    pub(super) async fn role_in(&self, actor: &Actor, identity: &IdentityKey) -> Option<Role> {
        let (Actor::User { user }, Some(accounts)) = (actor, self.accounts()) else {
            return None;
        };
        match accounts.role(*user, &identity.to_string()).await {
            Ok(role) => role,
            Err(e) => {
                // Refused (and counted) rather than decided on a guess.
                tracing::warn!(%actor, %identity, "cannot read the role: {e}");
                None
            }
        }
    }
}

/// The decision itself, counted in `decisions`: a node's, or the offline API's. `role` is
/// the user's role in the identity acted on, if any.
pub(super) fn decide(
    decisions: &Decisions,
    actor: &Actor,
    operation: Operation,
    role: Option<Role>,
) -> Result<Authorized, ApiError> {
    let allowed = allowed(actor, operation, role);
    decisions.count(operation, actor.kind(), allowed);
    if !allowed {
        tracing::info!(%actor, operation = operation.name(), "refused: not allowed");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("{actor} may not {}", operation.name().replace('_', " ")),
        ));
    }
    Ok(Authorized {
        operation,
        actor: actor.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_may_only_push_heads_and_register() {
        let peer = Actor::Peer {
            addr: "203.0.113.9:4000".parse().unwrap(),
        };
        for operation in Operation::ALL {
            assert!(allowed(&Actor::Operator, operation, None));
        }
        let for_peers: Vec<Operation> = Operation::ALL
            .into_iter()
            .filter(|op| allowed(&peer, *op, Some(Role::Owner)))
            .collect();
        assert_eq!(
            for_peers,
            [Operation::PushHead, Operation::RegisterFollower]
        );
    }

    #[test]
    fn users_act_on_identities_as_their_role_there_allows_and_on_nothing_else() {
        let user = Actor::User {
            user: accounts::UserId(7),
        };
        let for_user = |role| -> Vec<Operation> {
            Operation::ALL
                .into_iter()
                .filter(|op| allowed(&user, *op, role))
                .collect()
        };
        use Operation::*;
        assert_eq!(for_user(None), [CreateIdentity, JoinIdentity]);
        assert_eq!(
            for_user(Some(Role::Publisher)),
            [
                PublishFiles,
                Retract,
                CreateIdentity,
                LeaveIdentity,
                JoinIdentity
            ]
        );
        assert_eq!(
            for_user(Some(Role::Owner)),
            [
                PublishFiles,
                Retract,
                SetProfile,
                CreateIdentity,
                InviteMember,
                RemoveMember,
                LeaveIdentity,
                SetRole,
                JoinIdentity,
                DeleteAccount
            ]
        );
        let decisions = Decisions::default();
        let e = decide(&decisions, &user, Operation::PublishFiles, None).unwrap_err();
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(e.name(), "forbidden");
        assert!(decisions.prometheus().contains(
            "swarmfeed_authorizations_total{operation=\"publish_files\",actor=\"user\",outcome=\"denied\"} 1\n"
        ));
    }

    #[test]
    fn every_decision_has_its_own_counter() {
        let decisions = Decisions::default();
        decisions.count(Operation::Unfollow, ActorKind::Peer, false);
        let text = decisions.prometheus();
        assert!(text.contains(
            "swarmfeed_authorizations_total{operation=\"unfollow\",actor=\"peer\",outcome=\"denied\"} 1\n"
        ));
        assert_eq!(text.matches(" 1\n").count(), 1);
        assert_eq!(text.lines().count(), 1 + SLOTS);
    }
}
