//! Identities the gateway holds for its users: creating one (its key sealed in the accounts
//! database, the user its owner), and its members — invitations by email, roles, removal,
//! leaving, accepting an invitation. Each is an operation decided in `authorize` with the
//! user as actor and its role in the identity; the accounts crate then keeps its own rules
//! (the last owner cannot leave). A created identity is an own identity of the node: its
//! record is signed, stored and put into the DHT at once, like one made with `identity new`.

use accounts::{Role, Secret, UserId};
use feeds::{IdentityKey, Keypair};
use zeroize::Zeroizing;

use super::account::accounts_error;
use super::authorize::Operation;
use super::parse::parse_identity;
use super::{Actor, NodeApi};
use crate::node::own;
use http_server::{ApiError, ErrorCode};

impl NodeApi {
    /// Creates an identity for the user asking, who becomes its owner; the gateway keeps
    /// its key (sealed) and the node publishes its record.
    pub async fn create_identity(&self, actor: &Actor) -> Result<IdentityKey, ApiError> {
        self.authorize(actor, Operation::CreateIdentity)?;
        let (user, accounts) = self.user_and_accounts(actor)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice()).map_err(ApiError::internal)?;
        let keypair = Keypair::from_seed(&seed);
        let identity = keypair.public();
        accounts
            .add_identity(user, &identity.to_string(), Some(seed))
            .await
            .map_err(accounts_error)?;
        if let Err(e) = own::sync_identity_record(&self.node, &identity, Some(keypair)).await {
            // Its first publish signs the record again.
            tracing::warn!(%identity, "cannot publish the new identity's record yet: {e}");
        }
        Ok(identity)
    }

    /// Invites `email` to `identity` with `role` (owners); the mail reveals nothing.
    pub async fn invite_member(
        &self,
        actor: &Actor,
        identity: &str,
        email: &str,
        role: Role,
    ) -> Result<(), ApiError> {
        let identity = self
            .decide_on(actor, Operation::InviteMember, identity)
            .await?;
        let (user, accounts) = self.user_and_accounts(actor)?;
        accounts
            .invite_member(user, &identity.to_string(), email, role)
            .await
            .map_err(accounts_error)
    }

    /// Changes a member's role (owners; the last owner cannot step down).
    pub async fn set_member_role(
        &self,
        actor: &Actor,
        identity: &str,
        member: UserId,
        role: Role,
    ) -> Result<(), ApiError> {
        let identity = self.decide_on(actor, Operation::SetRole, identity).await?;
        let (user, accounts) = self.user_and_accounts(actor)?;
        accounts
            .set_role(user, &identity.to_string(), member, role)
            .await
            .map_err(accounts_error)
    }

    /// Removes a member (owners; the last owner cannot go).
    pub async fn remove_member(
        &self,
        actor: &Actor,
        identity: &str,
        member: UserId,
    ) -> Result<(), ApiError> {
        let identity = self
            .decide_on(actor, Operation::RemoveMember, identity)
            .await?;
        let (user, accounts) = self.user_and_accounts(actor)?;
        accounts
            .remove_member(user, &identity.to_string(), member)
            .await
            .map_err(accounts_error)
    }

    /// The user asking leaves the identity (never its last owner).
    pub async fn leave_identity(&self, actor: &Actor, identity: &str) -> Result<(), ApiError> {
        let identity = self
            .decide_on(actor, Operation::LeaveIdentity, identity)
            .await?;
        let (user, accounts) = self.user_and_accounts(actor)?;
        accounts
            .remove_member(user, &identity.to_string(), user)
            .await
            .map_err(accounts_error)
    }

    /// Accepts an invitation as the user asking (it must be the invited address): the
    /// identity and the role.
    pub async fn join_identity(
        &self,
        actor: &Actor,
        token: &Secret,
    ) -> Result<(String, Role), ApiError> {
        self.authorize(actor, Operation::JoinIdentity)?;
        let (user, accounts) = self.user_and_accounts(actor)?;
        accounts
            .accept_member_invitation(user, token)
            .await
            .map_err(accounts_error)
    }

    /// Decides `operation` on the identity named (refused as well when the name is bad).
    async fn decide_on(
        &self,
        actor: &Actor,
        operation: Operation,
        identity: &str,
    ) -> Result<IdentityKey, ApiError> {
        match parse_identity(identity) {
            Ok(identity) => {
                self.authorize_on(actor, operation, &identity).await?;
                Ok(identity)
            }
            Err(e) => {
                self.authorize(actor, operation)?;
                Err(e)
            }
        }
    }

    fn user_and_accounts(&self, actor: &Actor) -> Result<(UserId, &accounts::Accounts), ApiError> {
        match (actor, self.accounts()) {
            (Actor::User { user }, Some(accounts)) => Ok((*user, accounts)),
            _ => Err(ApiError::bad_request(
                ErrorCode::BadRequest,
                "identities held for users are managed by their users",
            )),
        }
    }
}
