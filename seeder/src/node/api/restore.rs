//! Restoring an own identity's feeds from the network into the data directory (node/restore.rs
//! fetches, verifies and installs), as the API offers it. One implementation for both
//! callers: a running node (`POST /restore` on the control socket: it lends its warm DHT,
//! and takes the restored feeds in at once) and `swarmfeed identity sync` / `identity
//! import` with no node running ([`restore_without_node`]). It writes the data directory,
//! so the operator must be allowed to ([`Operation::Restore`]). Only the key of the identity
//! named is loaded.

use std::time::Duration;

use axum::http::StatusCode;
use data_dir::DataDir;
use feeds::Keypair;

use super::authorize::{Authorized, Decisions, Operation, decide};
use super::publish_files::blocking;
use super::types::{RestoreAnswer, RestoreRequest};
use super::verify::fetch_start_failed;
use super::{Actor, NodeApi};
use crate::node::{FetchNode, own, restore::restore_with};
use engine::dht::DhtNode;
use http_server::{ApiError, ErrorCode};

impl NodeApi {
    /// Fetches, verifies and installs every feed of the identity named (its record lists
    /// them), clears its restore mark, then takes the feeds in (seeded, announced).
    pub async fn restore(
        &self,
        actor: &Actor,
        request: RestoreRequest,
    ) -> Result<RestoreAnswer, ApiError> {
        let authorized = self.authorize(actor, Operation::Restore)?;
        let node = &self.node;
        let (answer, keypair) = restore(&authorized, &node.data, Some(&node.dht), request).await?;
        // Served from now on, as a restart would: a failure here leaves the restore done
        // (the data directory holds the feeds) and the next start takes them in.
        let identity = keypair.public();
        let taken_in = match own::sync_identity_record(node, &identity, Some(keypair)).await {
            Ok(()) => own::sync_feeds(node, &identity).await.map(|failed| {
                for f in failed {
                    tracing::warn!(%identity, feed = %f.feed, "restored feed not taken in: {}", f.error);
                }
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = taken_in {
            tracing::warn!(%identity, "restored feeds not taken in: {e}");
        }
        Ok(answer)
    }
}

/// Restores with no node running: the fetcher starts a DHT node of its own, bootstrapped
/// from the request's list. The decision is made as on a node (counted in `decisions`).
pub async fn restore_without_node(
    data: &DataDir,
    decisions: &Decisions,
    actor: &Actor,
    request: RestoreRequest,
) -> Result<RestoreAnswer, ApiError> {
    let authorized = decide(decisions, actor, Operation::Restore, None)?;
    Ok(restore(&authorized, data, None, request).await?.0)
}

async fn restore(
    _: &Authorized,
    data: &DataDir,
    shared_dht: Option<&DhtNode>,
    request: RestoreRequest,
) -> Result<(RestoreAnswer, Keypair), ApiError> {
    let keystore_data = data.clone();
    let name = request.identity.clone();
    // Only the one identity named (or the default) is read from the keystore.
    let (_, keypair) = blocking(move || keystore_data.keystore().resolve(name.as_deref()))
        .await?
        .map_err(|e| super::publish_files::publisher_error(e.into()))?;
    let identity = keypair.public();
    let failed = |e: crate::node::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::SyncFailed,
            format!(
                "cannot sync the feeds of {identity}; publishing as it stays refused until \
                 `swarmfeed identity sync` succeeds: {e}"
            ),
        )
    };
    let fetcher = FetchNode::for_request(&request.fetch, shared_dht)
        .await
        .map_err(fetch_start_failed)?;
    let result = restore_with(
        &fetcher.fetcher(),
        data,
        &keypair,
        &request.fetch.nodes,
        Duration::from_secs(request.timeout_secs),
    )
    .await;
    fetcher.shutdown().await;
    let feeds = result.map_err(failed)?;
    Ok((
        RestoreAnswer {
            identity: identity.to_string(),
            feeds,
        },
        keypair,
    ))
}
