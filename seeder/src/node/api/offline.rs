//! The API's follow operations on a data directory whose node is not running: the command
//! line's offline edits. Same requests, answers and authorization point as a running
//! node's; what needs the node (deleting the content it seeds) is refused.

use axum::http::StatusCode;

use super::Actor;
use super::authorize::{Decisions, Operation, decide};
use super::follows::{Parsed, follow_in, follows_in, unfollow_in};
use super::types::{FollowAnswer, FollowRequest, FollowView, UnfollowAnswer};
use http_server::{ApiError, ErrorCode};
use store::Store;

/// The offline API over a data directory's store.
pub struct OfflineApi {
    pub(super) store: Store,
    /// Decisions made (there is no `/metrics` without a node; kept for symmetry and tests).
    decisions: Decisions,
}

impl OfflineApi {
    pub fn new(store: Store) -> OfflineApi {
        OfflineApi {
            store,
            decisions: Decisions::default(),
        }
    }

    /// Follows and sets the caps the request names; replication starts with the node.
    pub async fn follow(
        &self,
        actor: &Actor,
        request: FollowRequest,
    ) -> Result<FollowAnswer, ApiError> {
        let authorized = decide(&self.decisions, actor, Operation::Follow, None)?;
        follow_in(&self.store, &authorized, &Parsed::new(&request)?).await
    }

    /// Unfollows; `delete` needs the running node (it removes the files the node seeds).
    pub async fn unfollow(
        &self,
        actor: &Actor,
        request: FollowRequest,
    ) -> Result<UnfollowAnswer, ApiError> {
        let authorized = decide(&self.decisions, actor, Operation::Unfollow, None)?;
        let request = Parsed::new(&request)?;
        if request.delete {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "--delete needs the node running (it removes the files it seeds)",
            ));
        }
        let outcome = unfollow_in(&self.store, &authorized, &request).await?;
        Ok(UnfollowAnswer {
            deleted_torrents: 0,
            removed: outcome.removed,
        })
    }

    /// Every follow with its status.
    pub async fn follows(&self) -> Result<Vec<FollowView>, ApiError> {
        follows_in(&self.store).await
    }

    /// The decisions made so far.
    pub fn decisions(&self) -> &Decisions {
        &self.decisions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(identity: &str) -> FollowRequest {
        FollowRequest {
            identity: identity.to_owned(),
            feed: Some("main".to_owned()),
            ..FollowRequest::default()
        }
    }

    #[tokio::test]
    async fn offline_edits_pass_the_authorization_point() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("node.sqlite")).await.unwrap();
        let api = OfflineApi::new(store);
        let identity = feeds::Keypair::from_seed(&[3; 32]).public().to_string();
        let counted = |api: &OfflineApi, operation: &str| {
            let line = format!(
                "swarmfeed_authorizations_total{{operation=\"{operation}\",actor=\"operator\",outcome=\"allowed\"}} 1\n"
            );
            api.decisions().prometheus().contains(&line)
        };
        let answer = api
            .follow(&Actor::Operator, request(&identity))
            .await
            .unwrap();
        assert!(answer.new);
        assert!(counted(&api, "follow"));
        assert_eq!(api.follows().await.unwrap().len(), 1);
        let answer = api
            .unfollow(&Actor::Operator, request(&identity))
            .await
            .unwrap();
        assert!(answer.removed);
        assert!(counted(&api, "unfollow"));
        // A peer never edits a data directory.
        let peer = Actor::Peer {
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        let refused = api.follow(&peer, request(&identity)).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Forbidden);
        assert!(api.follows().await.unwrap().is_empty());
    }
}
