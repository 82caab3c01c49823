//! The node-to-node HTTP routes (documented in docs/protocol.md). Everything served here
//! verifies itself (signed heads, logs that hash to the infohashes heads name), so a node
//! needs no trust in the node it fetches from.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use feeds::SignedHead;

use super::NodeHandle;
use super::api::{
    Actor, FollowerRegistration, NODE_URL_HEADER, Operation, PushedHead, STATE_CHANGING, Surface,
    parse_feed, parse_identity, parse_infohash,
};
use http_server::server::read_body;
use http_server::{ApiError, ErrorCode};

/// The node's own routes; the gateway merges its pages beside them.
pub fn router(node: NodeHandle) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(super::metrics::metrics))
        .route("/api/v1/heads/{identity}/{feed}", get(head))
        .route("/api/v1/identities/{identity}", get(identity_record))
        .route(
            "/api/v1/identities/{identity}/extensions/{name}",
            get(identity_extension),
        )
        .route("/api/v1/logs/{identity}/{feed}/{infohash}", get(log_part))
        .route("/torrents/{file}", get(torrent_file));
    // The routes that change state are those of the API's table, and only those.
    for route in STATE_CHANGING.iter().filter(|r| r.surface == Surface::Http) {
        if let Some(handler) = handler(route.operation) {
            router = router.route(route.path, handler);
        }
    }
    router.with_state(node)
}

/// The adapter of an operation served over HTTP.
fn handler(operation: Operation) -> Option<MethodRouter<NodeHandle>> {
    match operation {
        Operation::PushHead => Some(post(push_head)),
        Operation::RegisterFollower => Some(post(register_follower)),
        Operation::Publish
        | Operation::PublishFiles
        | Operation::Follow
        | Operation::Unfollow
        | Operation::Retract
        | Operation::SetProfile
        | Operation::Restore
        | Operation::CreateIdentity
        | Operation::InviteMember
        | Operation::RemoveMember
        | Operation::LeaveIdentity
        | Operation::SetRole
        | Operation::JoinIdentity
        | Operation::DeleteAccount => None,
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn bencoded(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-bencode")], bytes).into_response()
}

async fn head(
    State(node): State<NodeHandle>,
    Path((identity, feed)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (identity, feed) = (parse_identity(&identity)?, parse_feed(&feed)?);
    let head = node.api().head(&identity, &feed).await?;
    Ok(bencoded(head.encode()))
}

async fn identity_record(
    State(node): State<NodeHandle>,
    Path(identity): Path<String>,
) -> ApiResult<Response> {
    let identity = parse_identity(&identity)?;
    let record = node.api().identity_record(&identity).await?;
    Ok(bencoded(record.encode()))
}

/// An extension item of an identity record (`profile`), as its signed BEP 44 item.
async fn identity_extension(
    State(node): State<NodeHandle>,
    Path((identity, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let identity = parse_identity(&identity)?;
    let item = node.api().identity_extension(&identity, &name).await?;
    Ok(bencoded(item.encode()))
}

async fn log_part(
    State(node): State<NodeHandle>,
    Path((identity, feed, infohash)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (identity, feed, infohash) = (
        parse_identity(&identity)?,
        parse_feed(&feed)?,
        parse_infohash(&infohash)?,
    );
    let bytes = node.api().log_part(&identity, &feed, &infohash).await?;
    Ok(bencoded(bytes))
}

/// The header naming the BitTorrent port a node seeds a torrent on, beside its .torrent.
pub const PEER_PORT_HEADER: &str = "x-swarmfeed-peer-port";

async fn torrent_file(
    State(node): State<NodeHandle>,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let hex = file
        .strip_suffix(".torrent")
        .ok_or_else(|| ApiError::not_found("torrents are served as /torrents/INFOHASH.torrent"))?;
    let infohash = parse_infohash(hex)?;
    let torrent = node.api().torrent_file(&infohash).await?;
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/x-bittorrent".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{infohash}.torrent\""),
            ),
        ],
        torrent.bytes,
    )
        .into_response();
    // A peer hint: this node seeds the torrent on its BitTorrent port, so a follower that
    // took the .torrent from here can connect at once instead of waiting for the DHT
    // (docs/protocol.md).
    if let Some(port) = torrent.peer_port {
        response.headers_mut().insert(PEER_PORT_HEADER, port.into());
    }
    Ok(response)
}

/// The largest registration body taken.
const MAX_REGISTRATION_BYTES: usize = 4096;
/// The largest pushed head taken: a BEP 44 item holds a value of at most 1000 bytes, so a
/// head is well under this.
const MAX_HEAD_BYTES: usize = 4096;

/// `POST /api/v1/heads`: a bencoded signed head, checked as it decodes.
async fn push_head(
    State(node): State<NodeHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let body = read_body(body, MAX_HEAD_BYTES).await?;
    let head = SignedHead::decode(&body).map_err(|e| {
        tracing::warn!(%peer, "refused pushed head: {e}");
        ApiError::bad_request(ErrorCode::Format(e.code()), e.to_string())
    })?;
    let node_url = headers
        .get(NODE_URL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request = PushedHead { head, node_url };
    node.api()
        .push_head(&Actor::Peer { addr: peer }, request)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/followers`: `{"identity", "feed", "url"}`.
async fn register_follower(
    State(node): State<NodeHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body,
) -> ApiResult<StatusCode> {
    let (api, actor) = (node.api(), Actor::Peer { addr: peer });
    api.admit_registration(&actor)?;
    // Read only now: the rate limit above costs a client nothing to hit, a body does.
    let body = read_body(body, MAX_REGISTRATION_BYTES).await?;
    let registration: FollowerRegistration = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::BadRequest,
            format!("expected {{\"identity\", \"feed\", \"url\"}}: {e}"),
        )
    })?;
    api.register_follower(&actor, registration).await?;
    Ok(StatusCode::NO_CONTENT)
}
