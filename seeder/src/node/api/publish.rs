//! Publishing: what `swarmfeed publish` committed to the data directory is taken in by the
//! running node (seeded, announced, pushed to followers; see `own`).

use axum::http::StatusCode;

use super::authorize::{Authorized, Operation};
use super::error::{ApiError, ErrorCode};
use super::parse::{parse_feed, parse_identity};
use super::types::PublishedRequest;
use super::{Actor, NodeApi};
use crate::node::own;

impl NodeApi {
    /// Takes in every own feed. `500 not_taken_in` when the feed named (or, with `None`,
    /// any feed) could not be taken in, so `publish` does not report success for an entry
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
    let wanted = match request {
        None => None,
        Some(request) => Some((
            parse_identity(&request.identity)?,
            parse_feed(&request.feed)?,
        )),
    };
    let failed = own::sync_all(&api.node).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::SyncFailed,
            e.to_string(),
        )
    })?;
    let failed = failed.into_iter().find(|f| {
        wanted
            .as_ref()
            .is_none_or(|(identity, feed)| (identity, feed) == (&f.identity, &f.feed))
    });
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
