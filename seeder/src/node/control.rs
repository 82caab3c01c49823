//! The local control API: HTTP over a Unix socket in the data directory (mode 0600, so only
//! the owner of the data directory can use it), never on a public listener. `publish` and
//! `retract` go through it (`/publish`, `/retract`; `/published` takes in what either
//! committed while no node ran); `follow`, `unfollow`, `follows`, `search`, `verify`,
//! `identity profile` and `identity sync` (`/restore`) talk to it. Its client is
//! [`super::control_client`].

use std::os::unix::fs::PermissionsExt;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use tokio::net::UnixListener;

use super::api::{
    Actor, FollowAnswer, FollowView, Operation, ProfileAnswer, PublishRequest, PublishedRequest,
    RestoreAnswer, RestoreRequest, RetractAnswer, RetractRequest, STATE_CHANGING, SearchAnswer,
    SearchRequest, Surface, UnfollowAnswer, Verdict, VerifyRequest,
};
use super::{Error, NodeHandle, Result};
use http_server::{ApiError, ErrorCode};

/// Binds the control socket (replacing a stale one left by a crash).
pub async fn bind(node: &NodeHandle) -> Result<UnixListener> {
    let path = node.data.control_socket();
    let _ = std::fs::remove_file(&path);
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let listener = UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

pub async fn serve(node: NodeHandle, listener: UnixListener) {
    let cancel = node.cancel.clone();
    let mut app = Router::new()
        .route("/follows", get(follows))
        .route("/search", get(search))
        .route("/verify", get(verify));
    // The commands that change state are those of the API's table, and only those.
    for command in STATE_CHANGING
        .iter()
        .filter(|c| c.surface == Surface::Control)
    {
        if let Some(handler) = handler(command.operation) {
            app = app.route(command.path, handler);
        }
    }
    let app = app.with_state(node);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::error!("control socket stopped: {e}");
    }
}

/// `POST /published`: what `publish` just committed (absent: any feed).
async fn published(State(node): State<NodeHandle>, body: Bytes) -> Result<StatusCode, ApiError> {
    let request = if body.is_empty() {
        None
    } else {
        Some(json::<PublishedRequest>(&body)?)
    };
    node.api().published(&Actor::Operator, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /publish`: the node publishes; newline-delimited JSON events while it hashes, then
/// the result.
async fn publish(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let request: PublishRequest = json(&body)?;
    let publishing = node.api().publish(&Actor::Operator, request).await?;
    Ok(super::api::publish_stream(publishing))
}

/// `POST /retract`: the node signs a `delete` entry and takes it in.
async fn retract(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<Json<RetractAnswer>, ApiError> {
    let request: RetractRequest = json(&body)?;
    Ok(Json(node.api().retract(&Actor::Operator, request).await?))
}

async fn follow(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<Json<FollowAnswer>, ApiError> {
    let answer = node.api().follow(&Actor::Operator, json(&body)?).await?;
    Ok(Json(answer))
}

async fn unfollow(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<Json<UnfollowAnswer>, ApiError> {
    let answer = node.api().unfollow(&Actor::Operator, json(&body)?).await?;
    Ok(Json(answer))
}

/// `POST /profile`: sign a new version of an own identity's profile.
async fn profile(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<Json<ProfileAnswer>, ApiError> {
    let answer = node
        .api()
        .set_profile(&Actor::Operator, json(&body)?)
        .await?;
    Ok(Json(answer))
}

async fn follows(State(node): State<NodeHandle>) -> Result<Json<Vec<FollowView>>, ApiError> {
    Ok(Json(node.api().follows().await?))
}

/// `GET /search?q=…`: the same query the gateway's `/api/v1/search` takes.
async fn search(
    State(node): State<NodeHandle>,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchAnswer>, ApiError> {
    let request = SearchRequest::from_query(query.as_deref().unwrap_or_default())?;
    Ok(Json(node.api().search(&request).await?))
}

/// `GET /verify?…`: fetch a feed and check it, keeping nothing.
async fn verify(
    State(node): State<NodeHandle>,
    RawQuery(query): RawQuery,
) -> Result<Json<Verdict>, ApiError> {
    let request = VerifyRequest::from_query(query.as_deref().unwrap_or_default())?;
    Ok(Json(node.api().verify(request).await?))
}

/// `POST /restore`: fetch an own identity's feeds into the data directory, then take them in.
async fn restore(
    State(node): State<NodeHandle>,
    body: Bytes,
) -> Result<Json<RestoreAnswer>, ApiError> {
    let request: RestoreRequest = json(&body)?;
    Ok(Json(node.api().restore(&Actor::Operator, request).await?))
}

/// A request body as its typed request: `400 bad_request` if it is not one.
fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(ErrorCode::BadRequest, e.to_string()))
}

/// The adapter of an operation served on the control socket.
fn handler(operation: Operation) -> Option<MethodRouter<NodeHandle>> {
    match operation {
        Operation::Publish => Some(post(published)),
        Operation::PublishFiles => Some(post(publish)),
        Operation::Follow => Some(post(follow)),
        Operation::Unfollow => Some(post(unfollow)),
        Operation::Retract => Some(post(retract)),
        Operation::SetProfile => Some(post(profile)),
        Operation::Restore => Some(post(restore)),
        Operation::PushHead
        | Operation::RegisterFollower
        | Operation::CreateIdentity
        | Operation::InviteMember
        | Operation::RemoveMember
        | Operation::LeaveIdentity
        | Operation::SetRole
        | Operation::JoinIdentity
        | Operation::DeleteAccount => None,
    }
}
