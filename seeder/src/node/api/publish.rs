//! Taking in: what `swarmfeed publish` (with no node running) or `retract` committed to the
//! data directory is taken in by the running node (seeded, announced, pushed to followers;
//! see `own`). Publishing through the node itself is publish_files.rs.

use axum::http::StatusCode;

use super::authorize::{Authorized, Operation};
use super::parse::{parse_feed, parse_identity};
use super::types::PublishedRequest;
use super::{Actor, NodeApi};
use crate::node::own;
use http_server::{ApiError, ErrorCode};

impl NodeApi {
    /// Takes in what was committed to the data directory: the feed named (and its identity's
    /// record), or with `None` every own feed. `500 not_taken_in` when the feed named (or,
    /// with `None`, any feed) could not be taken in, so `publish` does not report success for an entry
    /// that is not seeded or announced.
    pub async fn published(
        &self,
        actor: &Actor,
        request: Option<PublishedRequest>,
    ) -> Result<(), ApiError> {
        let authorized = self.authorize(actor, Operation::Publish)?;
        take_in(self, &authorized, request).await
    }
}

async fn take_in(
    api: &NodeApi,
    _: &Authorized,
    request: Option<PublishedRequest>,
) -> Result<(), ApiError> {
    let sync_failed = |e: crate::node::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::SyncFailed,
            e.to_string(),
        )
    };
    let failed = match request {
        None => own::sync_all(&api.node)
            .await
            .map_err(sync_failed)?
            .into_iter()
            .next(),
        // Only the identity named: its record (re-signed with its key alone, if it must
        // change) and the feed.
        Some(request) => {
            let identity = parse_identity(&request.identity)?;
            let feed = parse_feed(&request.feed)?;
            own::sync_identity_record(&api.node, &identity, None)
                .await
                .map_err(sync_failed)?;
            own::sync_feed(&api.node, &identity, &feed)
                .await
                .err()
                .map(|error| own::NotTakenIn {
                    identity,
                    feed,
                    error,
                })
        }
    };
    match failed {
        None => Ok(()),
        Some(f) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::NotTakenIn,
            format!(
                "cannot take in own feed {}/{}: {}",
                f.identity, f.feed, f.error
            ),
        )),
    }
}
