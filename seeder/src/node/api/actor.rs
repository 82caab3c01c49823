//! Who asks the node to do something. Every state-changing method of the API takes one, so
//! "may this actor do this" is decided in one place (`authorize`).

use std::net::SocketAddr;

/// The one asking. App keys come later, as a variant of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The node's operator: the control socket (mode 0600, only the owner of the data
    /// directory reaches it) and the command line on this machine.
    Operator,
    /// Another node, over the node-to-node HTTP routes.
    Peer { addr: SocketAddr },
    /// A user signed in to the gateway (`[accounts]`): acts on the identities the gateway
    /// holds for it, as its role in each allows (accounts' memberships).
    User { user: accounts::UserId },
}

/// An actor's kind, as counted in the metrics (no addresses or user ids there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorKind {
    Operator,
    Peer,
    User,
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Operator => ActorKind::Operator,
            Actor::Peer { .. } => ActorKind::Peer,
            Actor::User { .. } => ActorKind::User,
        }
    }
}

impl ActorKind {
    /// Every kind, in the metrics' order.
    pub const ALL: [ActorKind; 3] = [ActorKind::Operator, ActorKind::Peer, ActorKind::User];

    /// The metrics label.
    pub fn name(self) -> &'static str {
        match self {
            ActorKind::Operator => "operator",
            ActorKind::Peer => "peer",
            ActorKind::User => "user",
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Operator => f.write_str("the operator"),
            Actor::Peer { addr } => write!(f, "peer {addr}"),
            Actor::User { user } => write!(f, "user {}", user.0),
        }
    }
}
