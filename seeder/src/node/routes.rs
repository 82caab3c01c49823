//! The node-to-node HTTP routes (documented in docs/protocol.md). Everything served here
//! verifies itself (signed heads, logs that hash to the infohashes heads name), so a node
//! needs no trust in the node it fetches from.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use feeds::{FeedName, IdentityKey, InfoHash, SignedHead};

use super::{NodeHandle, fetch};
use crate::store::HeadChange;

/// The node's own routes; the gateway merges its pages beside them.
pub fn router(node: NodeHandle) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/heads", post(push_head))
        .route("/api/v1/heads/{identity}/{feed}", get(head))
        .route("/api/v1/identities/{identity}", get(identity_record))
        .route("/api/v1/logs/{identity}/{feed}/{infohash}", get(log_part))
        .route("/api/v1/followers", post(register_follower))
        .route("/torrents/{file}", get(torrent_file))
        .with_state(node)
}

/// An error with a stable name: `{"error": "not_found", "message": "…"}`.
pub struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            name,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(name: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, name, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable name, e.g. `not_found`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A 500 whose details go to the log, not to the client.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {error}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the node's log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.name, "message": self.message});
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Parses an identity id from a path.
pub fn parse_identity(text: &str) -> ApiResult<IdentityKey> {
    text.parse().map_err(|e: feeds::identity::IdentityError| {
        ApiError::bad_request("bad_identity", e.to_string())
    })
}

/// Parses a feed name from a path.
pub fn parse_feed(text: &str) -> ApiResult<FeedName> {
    FeedName::new(text).map_err(|e| ApiError::bad_request("bad_feed_name", e.to_string()))
}

/// Parses a 40-hex-digit infohash from a path.
pub fn parse_infohash(text: &str) -> ApiResult<InfoHash> {
    text.parse().map_err(|_| {
        ApiError::bad_request("bad_infohash", format!("{text:?} is not 40 hex digits"))
    })
}

fn bencoded(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-bencode")], bytes).into_response()
}

async fn head(
    State(node): State<NodeHandle>,
    Path((identity, feed)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (identity, feed) = (parse_identity(&identity)?, parse_feed(&feed)?);
    match node
        .store
        .head(&identity, &feed)
        .await
        .map_err(ApiError::internal)?
    {
        Some(head) => Ok(bencoded(head.encode())),
        None => Err(ApiError::not_found(format!(
            "no head of {identity}/{feed} here"
        ))),
    }
}

async fn identity_record(
    State(node): State<NodeHandle>,
    Path(identity): Path<String>,
) -> ApiResult<Response> {
    let identity = parse_identity(&identity)?;
    match node
        .store
        .identity_record(&identity)
        .await
        .map_err(ApiError::internal)?
    {
        Some(record) => Ok(bencoded(record.encode())),
        None => Err(ApiError::not_found(format!(
            "no identity record of {identity} here"
        ))),
    }
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
    match node
        .store
        .log_torrent_by_infohash(&infohash)
        .await
        .map_err(ApiError::internal)?
    {
        Some(part) if part.identity == identity && part.feed == feed => Ok(bencoded(part.bytes)),
        _ => Err(ApiError::not_found(format!(
            "no log part {infohash} of {identity}/{feed} here"
        ))),
    }
}

async fn torrent_file(
    State(node): State<NodeHandle>,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let hex = file
        .strip_suffix(".torrent")
        .ok_or_else(|| ApiError::not_found("torrents are served as /torrents/INFOHASH.torrent"))?;
    let infohash = parse_infohash(hex)?;
    match node
        .store
        .torrent_file(&infohash)
        .await
        .map_err(ApiError::internal)?
    {
        Some(bytes) => Ok((
            [
                (header::CONTENT_TYPE, "application/x-bittorrent".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{infohash}.torrent\""),
                ),
            ],
            bytes,
        )
            .into_response()),
        None => Err(ApiError::not_found(format!(
            "no .torrent for {infohash} here"
        ))),
    }
}

/// A pushed head: verified first, taken only for feeds this node follows; it then wakes
/// replication, which fetches the log from wherever it can be found.
async fn push_head(
    State(node): State<NodeHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let head = SignedHead::decode(&body).map_err(|e| {
        tracing::warn!(%peer, "refused pushed head: {e}");
        ApiError::bad_request(e.code(), e.to_string())
    })?;
    let (identity, feed) = (head.author(), head.head().feed.clone());
    let followed = node
        .store
        .is_followed(&identity, &feed)
        .await
        .map_err(ApiError::internal)?;
    if !followed {
        tracing::warn!(%peer, %identity, %feed, "refused pushed head: feed not followed");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_followed",
            format!("this node does not follow {identity}/{feed}"),
        ));
    }
    let change = node
        .store
        .put_head(&head)
        .await
        .map_err(ApiError::internal)?;
    if change == HeadChange::Older {
        tracing::warn!(%peer, %identity, %feed, seq = head.head().seq, "refused pushed head: older than the one held");
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "stale_head",
            "a head with a higher seq is already held",
        ));
    }
    // Only a pusher of a head at least as new as the one held is noted as serving the feed: a
    // refused push changes nothing (else a replayed old head would make this node fetch from
    // whatever URL came with it).
    if let Some(url) = headers
        .get("x-swarmfeed-node")
        .and_then(|v| v.to_str().ok())
        && fetch::fetch_allowed(&node, url)
    {
        let _ = node.store.note_node(url, Some((&identity, &feed))).await;
    }
    if change == HeadChange::Newer {
        node.wake_replication();
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

#[derive(serde::Deserialize)]
struct FollowerRegistration {
    identity: String,
    feed: String,
    url: String,
}

/// A node says it follows a feed this node serves: new heads will be pushed to it.
async fn register_follower(State(node): State<NodeHandle>, body: Bytes) -> ApiResult<StatusCode> {
    let registration: FollowerRegistration = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
    let (identity, feed) = (
        parse_identity(&registration.identity)?,
        parse_feed(&registration.feed)?,
    );
    let url = registration.url.trim_end_matches('/');
    if url.len() > 512 || !fetch::fetch_allowed(&node, url) {
        return Err(ApiError::bad_request(
            "bad_url",
            "the follower URL is not an allowed http(s) URL",
        ));
    }
    if node
        .store
        .head(&identity, &feed)
        .await
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "this node does not serve {identity}/{feed}"
        )));
    }
    node.store
        .note_node(url, Some((&identity, &feed)))
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Prometheus text format: torrents, bytes, peers.
async fn metrics(State(node): State<NodeHandle>) -> Response {
    let all = node.engine.list();
    let seeding = all.iter().filter(|s| s.is_seeding()).count();
    let uploaded: u64 = all.iter().map(|s| s.uploaded_bytes).sum();
    let peers: u64 = all.iter().map(|s| u64::from(s.peers)).sum();
    let text = format!(
        "# TYPE swarmfeed_torrents gauge\nswarmfeed_torrents {}\n\
         # TYPE swarmfeed_torrents_seeding gauge\nswarmfeed_torrents_seeding {seeding}\n\
         # TYPE swarmfeed_uploaded_bytes counter\nswarmfeed_uploaded_bytes {uploaded}\n\
         # TYPE swarmfeed_peers gauge\nswarmfeed_peers {peers}\n\
         # TYPE swarmfeed_verify_failures counter\nswarmfeed_verify_failures {}\n",
        all.len(),
        super::verify_failures()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
