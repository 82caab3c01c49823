//! Heads pushed by other nodes: verified before they get here (a `SignedHead` checks its
//! signature as it decodes), taken only for feeds this node follows; a newer one wakes
//! replication, which fetches the log from wherever it can be found.

use axum::http::StatusCode;

use super::authorize::{Authorized, Operation};
use super::types::PushedHead;
use super::{Actor, NodeApi};
use crate::node::pushed;
use http_server::{ApiError, ErrorCode};
use store::HeadChange;

impl NodeApi {
    /// Takes a pushed head (`202` on the wire): `403 not_followed` for a feed this node does
    /// not follow, `409 stale_head` when a newer head is held.
    pub async fn push_head(&self, actor: &Actor, request: PushedHead) -> Result<(), ApiError> {
        let authorized = self.authorize(actor, Operation::PushHead)?;
        take_head(self, &authorized, request).await
    }
}

async fn take_head(
    api: &NodeApi,
    authorized: &Authorized,
    pushed: PushedHead,
) -> Result<(), ApiError> {
    let node = &api.node;
    let actor = authorized.actor();
    let head = &pushed.head;
    let (identity, feed) = (head.author(), head.head().feed.clone());
    let followed = node
        .store
        .is_followed(&identity, &feed)
        .await
        .map_err(ApiError::internal)?;
    if !followed {
        tracing::warn!(peer = %actor, %identity, %feed, "refused pushed head: feed not followed");
        return Err(ApiError::forbidden(
            ErrorCode::NotFollowed,
            format!("this node does not follow {identity}/{feed}"),
        ));
    }
    let change = node
        .store
        .put_head(head)
        .await
        .map_err(ApiError::internal)?;
    if change == HeadChange::Older {
        tracing::warn!(peer = %actor, %identity, %feed, seq = head.head().seq, "refused pushed head: older than the one held");
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::StaleHead,
            "a head with a higher seq is already held",
        ));
    }
    // Only the push that brought a newer head may name a node serving the feed: a replayed
    // head (anyone can fetch one and resend it) records nothing (see `pushed`).
    if change == HeadChange::Newer {
        if let Some(url) = &pushed.node_url {
            pushed::record(node, actor, url, &identity, &feed).await;
        }
        node.wake_replication();
    }
    Ok(())
}
