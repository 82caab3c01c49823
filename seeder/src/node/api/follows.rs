//! Follows: what this node replicates, with optional disk caps per follow.

use axum::http::StatusCode;
use feeds::{FeedName, IdentityKey};

use super::authorize::{Authorized, Operation};
use super::parse::{parse_feed, parse_identity};
use super::types::{CapValue, FollowAnswer, FollowRequest, FollowView, UnfollowAnswer};
use super::{Actor, NodeApi};
use crate::node::content;
use http_server::{ApiError, ErrorCode};
use store::{CapChange, Store, Unfollowed};

impl NodeApi {
    /// Follows a feed (or every feed of an identity) and sets the caps the request names.
    pub async fn follow(
        &self,
        actor: &Actor,
        request: FollowRequest,
    ) -> Result<FollowAnswer, ApiError> {
        let authorized = self.authorize(actor, Operation::Follow)?;
        follow(self, &authorized, &Parsed::new(&request)?).await
    }

    /// Unfollows; with `delete`, also removes the content no other follow names.
    pub async fn unfollow(
        &self,
        actor: &Actor,
        request: FollowRequest,
    ) -> Result<UnfollowAnswer, ApiError> {
        let authorized = self.authorize(actor, Operation::Unfollow)?;
        unfollow(self, &authorized, &Parsed::new(&request)?).await
    }

    /// Every follow with its status.
    pub async fn follows(&self) -> Result<Vec<FollowView>, ApiError> {
        follows_in(&self.node.store).await
    }
}

/// A follow request, checked.
pub(super) struct Parsed {
    identity: IdentityKey,
    feed: Option<FeedName>,
    pub(super) delete: bool,
    max_bytes: CapChange,
    max_files: CapChange,
}

impl Parsed {
    pub(super) fn new(request: &FollowRequest) -> Result<Parsed, ApiError> {
        let cap = |value: Option<&CapValue>| {
            CapValue::change(value).map_err(|e| ApiError::bad_request(ErrorCode::BadCap, e))
        };
        Ok(Parsed {
            identity: parse_identity(&request.identity)?,
            feed: request.feed.as_deref().map(parse_feed).transpose()?,
            delete: request.delete,
            max_bytes: cap(request.max_bytes.as_ref())?,
            max_files: cap(request.max_files.as_ref())?,
        })
    }

    fn changes_caps(&self) -> bool {
        (self.max_bytes, self.max_files) != (CapChange::Keep, CapChange::Keep)
    }
}

async fn follow(
    api: &NodeApi,
    authorized: &Authorized,
    request: &Parsed,
) -> Result<FollowAnswer, ApiError> {
    let node = &api.node;
    let answer = follow_in(&node.store, authorized, request).await?;
    if request.changes_caps() {
        content::recheck_caps(node);
    }
    node.wake_replication();
    Ok(answer)
}

async fn unfollow(
    api: &NodeApi,
    authorized: &Authorized,
    request: &Parsed,
) -> Result<UnfollowAnswer, ApiError> {
    let node = &api.node;
    let outcome = unfollow_in(&node.store, authorized, request).await?;
    for infohash in &outcome.infohashes {
        // A torrent waiting over a cap was never in the engine: nothing to delete.
        node.dht.forget_announced(infohash.0);
        let removed = node.engine.remove(infohash, true).await.is_ok()
            || !node.store.is_reserved(infohash).await.unwrap_or(true);
        if removed {
            let dir = node.config.download_dir().join(infohash.to_string());
            let _ = std::fs::remove_dir_all(dir);
            // Its reservation goes with its row: the space is free for what waits.
            if let Err(e) = node.store.remove_torrent(infohash).await {
                // The row stays; its files are gone, so its reservation must not.
                tracing::warn!(%infohash, "cannot forget the unfollowed torrent: {e}");
                content::release_reservation(node, infohash).await;
            }
        }
    }
    if !outcome.infohashes.is_empty() {
        content::recheck_caps(node);
    }
    Ok(UnfollowAnswer {
        deleted_torrents: outcome.infohashes.len(),
        removed: outcome.removed,
    })
}

/// The follow as the store keeps it (all there is to it without a running node).
pub(super) async fn follow_in(
    store: &Store,
    _: &Authorized,
    request: &Parsed,
) -> Result<FollowAnswer, ApiError> {
    let failed = |e: store::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::FollowFailed,
            e.to_string(),
        )
    };
    let (identity, feed) = (&request.identity, request.feed.as_ref());
    let new = store.follow(identity, feed).await.map_err(failed)?;
    if request.changes_caps() {
        store
            .set_follow_caps(identity, feed, request.max_bytes, request.max_files)
            .await
            .map_err(failed)?;
    }
    Ok(FollowAnswer { new })
}

/// The unfollow as the store keeps it; the torrents it frees (with `delete`) are the
/// caller's to remove.
pub(super) async fn unfollow_in(
    store: &Store,
    _: &Authorized,
    request: &Parsed,
) -> Result<Unfollowed, ApiError> {
    store
        .unfollow(&request.identity, request.feed.as_ref(), request.delete)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::UnfollowFailed,
                e.to_string(),
            )
        })
}

/// Every follow with its status.
pub(super) async fn follows_in(store: &Store) -> Result<Vec<FollowView>, ApiError> {
    let follows = store.follows().await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Store,
            e.to_string(),
        )
    })?;
    Ok(follows.iter().map(FollowView::from).collect())
}
