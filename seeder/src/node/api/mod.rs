//! The node's service API: every operation the node offers, with typed requests and
//! answers. Node-to-node routes, the control socket (and through it the command line) and
//! the gateway are adapters over it: parse, call, serialize.
//!
//! Every method that changes state takes the [`Actor`] asking and begins with
//! [`NodeApi::authorize`] (authorize.rs), the one place where "may this actor do this" is
//! decided and counted. [`STATE_CHANGING`] lists every route and control command that
//! changes state; the routers are built from it, and a test sends each one and checks that
//! the decision was made (tests/tests/node_api.rs).

mod account;
mod actor;
mod authorize;
pub mod files;
mod followers;
mod follows;
mod heads;
mod identities;
mod offline;
mod parse;
mod profile;
mod publish;
mod publish_files;
pub mod read;
mod restore;
mod retract;
pub mod search;
pub mod status;
pub mod types;
mod upload;
mod verify;

pub use account::{accounts_error, accounts_retry_after, accounts_status};
pub use actor::{Actor, ActorKind};
pub use authorize::{Authorized, Decisions, Operation};
pub(crate) use followers::Registrations;
pub use offline::OfflineApi;
pub use parse::{parse_feed, parse_identity, parse_infohash};
pub use profile::{AvatarChoice, ProfileAnswer, ProfileRequest, is_avatar_image};
pub use publish_files::{Publishing, publish_stream};
pub use restore::restore_without_node;
pub use search::{SearchAnswer, SearchRequest};
pub use types::*;
pub use upload::{UploadAnswer, UploadParts, UploadRequest, UploadedFile};
pub use verify::verify_without_node;

use super::NodeHandle;

/// The node's API. Cheap to clone (a handle on the node).
#[derive(Clone)]
pub struct NodeApi {
    node: NodeHandle,
}

impl NodeHandle {
    /// The node's API.
    pub fn api(&self) -> NodeApi {
        NodeApi { node: self.clone() }
    }
}

impl NodeApi {
    /// The accounts service, when `[accounts] mode` is not `off` (the gateway's sign-in
    /// pages; the user actor's memberships).
    pub fn accounts(&self) -> Option<&accounts::Accounts> {
        self.node.accounts.as_ref()
    }
}

/// Where a request reaches the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// The node-to-node HTTP routes (the actor is the peer at the connection's address).
    Http,
    /// The control socket (the actor is the operator).
    Control,
    /// The gateway's account forms (the actor is the signed-in user; paths hold `{identity}`
    /// or `{token}` as axum writes them).
    Account,
}

/// A route or control command that changes state.
#[derive(Clone, Copy, Debug)]
pub struct StateChanging {
    pub surface: Surface,
    /// Always `POST` today.
    pub method: &'static str,
    pub path: &'static str,
    pub operation: Operation,
}

/// Every route and control command that changes the node's state; the routers add exactly
/// these as their non-`GET` routes.
pub const STATE_CHANGING: [StateChanging; 18] = [
    StateChanging {
        surface: Surface::Http,
        method: "POST",
        path: "/api/v1/heads",
        operation: Operation::PushHead,
    },
    StateChanging {
        surface: Surface::Http,
        method: "POST",
        path: "/api/v1/followers",
        operation: Operation::RegisterFollower,
    },
    StateChanging {
        surface: Surface::Control,
        method: "POST",
        path: "/published",
        operation: Operation::Publish,
    },
    StateChanging {
        surface: Surface::Control,
        method: "POST",
        path: "/publish",
        operation: Operation::PublishFiles,
    },
    StateChanging {
        surface: Surface::Control,
        method: "POST",
        path: "/follow",
        operation: Operation::Follow,
    },
    StateChanging {
        surface: Surface::Control,
        method: "POST",
        path: "/unfollow",
        operation: Operation::Unfollow,
    },
    StateChanging {
        surface: Surface::Control,
        method: "POST",
        path: "/retract",
        operation: Operation::Retract,
    },
    StateChanging {
        surface: Surface::Control,
        method: "POST",
        path: "/profile",
        operation: Operation::SetProfile,
    },
    StateChanging {
        surface: Surface::Control,
        method: "POST",
        path: "/restore",
        operation: Operation::Restore,
    },
    // In this order, so the table test's one user creates the identity it then acts on.
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/identities",
        operation: Operation::CreateIdentity,
    },
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/upload",
        operation: Operation::PublishFiles,
    },
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/identities/{identity}/invite",
        operation: Operation::InviteMember,
    },
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/identities/{identity}/profile",
        operation: Operation::SetProfile,
    },
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/identities/{identity}/role",
        operation: Operation::SetRole,
    },
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/identities/{identity}/remove",
        operation: Operation::RemoveMember,
    },
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/identities/{identity}/leave",
        operation: Operation::LeaveIdentity,
    },
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/identities/join/{token}",
        operation: Operation::JoinIdentity,
    },
    // Last: the table test's user is gone after it.
    StateChanging {
        surface: Surface::Account,
        method: "POST",
        path: "/account/delete",
        operation: Operation::DeleteAccount,
    },
];

/// The path of `operation`'s route on `surface` (the gateway's account router takes its
/// paths from the table).
pub fn state_changing_path(surface: Surface, operation: Operation) -> Option<&'static str> {
    STATE_CHANGING
        .iter()
        .find(|r| r.surface == surface && r.operation == operation)
        .map(|r| r.path)
}
