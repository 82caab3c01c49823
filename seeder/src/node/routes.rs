//! The node-to-node HTTP routes (documented in docs/protocol.md). Everything served here
//! verifies itself (signed heads, logs that hash to the infohashes heads name), so a node
//! needs no trust in the node it fetches from.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use feeds::{FeedName, IdentityKey, InfoHash, SignedHead};

use super::server::read_body;
use super::{NodeHandle, pushed};
use crate::store::{HeadChange, Registered};

/// The node's own routes; the gateway merges its pages beside them.
pub fn router(node: NodeHandle) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(super::metrics::metrics))
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
    match node
        .store
        .torrent_file(&infohash)
        .await
        .map_err(ApiError::internal)?
    {
        Some(bytes) => {
            let mut response = (
                [
                    (header::CONTENT_TYPE, "application/x-bittorrent".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{infohash}.torrent\""),
                    ),
                ],
                bytes,
            )
                .into_response();
            // A peer hint: this node seeds the torrent on its BitTorrent port, so a follower
            // that took the .torrent from here can connect at once instead of waiting for
            // the DHT (docs/protocol.md).
            if node
                .engine
                .stats(&infohash)
                .is_ok_and(|status| status.have_bytes > 0 || status.total_bytes == 0)
            {
                response
                    .headers_mut()
                    .insert(PEER_PORT_HEADER, node.bt_port().into());
            }
            Ok(response)
        }
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
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, MAX_HEAD_BYTES).await?;
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
    // Only the push that brought a newer head may name a node serving the feed: a replayed
    // head (anyone can fetch one and resend it) records nothing (see `pushed`).
    if change == HeadChange::Newer
        && let Some(url) = headers
            .get("x-swarmfeed-node")
            .and_then(|v| v.to_str().ok())
    {
        pushed::record(&node, peer, url, &identity, &feed).await;
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

/// The largest registration body taken.
const MAX_REGISTRATION_BYTES: usize = 4096;
/// The largest pushed head taken: a BEP 44 item holds a value of at most 1000 bytes, so a
/// head is well under this.
const MAX_HEAD_BYTES: usize = 4096;
/// Client addresses remembered by the rate limiter before idle ones are forgotten.
const MAX_CLIENTS_TRACKED: usize = 10_000;

/// Follower registrations per client address: a token bucket each, refilled at
/// `registrations_per_minute` (the burst is the same). IPv6 clients count per /64.
#[derive(Default)]
pub struct Registrations {
    buckets: std::sync::Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Registrations {
    /// Takes one registration for `client`; `Err` says how long to wait.
    fn take(&self, client: IpAddr, per_minute: u32) -> Result<(), Duration> {
        let client = match client {
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = ip.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
            v4 => v4,
        };
        let burst = f64::from(per_minute.max(1));
        let rate = burst / 60.0;
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Err(Duration::from_secs(60));
        };
        if buckets.len() >= MAX_CLIENTS_TRACKED && !buckets.contains_key(&client) {
            // Forget clients whose bucket has refilled: they are as if new.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
            if buckets.len() >= MAX_CLIENTS_TRACKED {
                return Err(Duration::from_secs(60));
            }
        }
        let (tokens, at) = buckets.entry(client).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

/// A node says it follows a feed this node serves: new heads will be pushed to it. Limited
/// per client address (`registrations_per_minute`), per feed and in all.
async fn register_follower(
    State(node): State<NodeHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body,
) -> ApiResult<Response> {
    let limits = &node.config.limits;
    if let Err(wait) = node
        .registrations
        .take(peer.ip(), limits.registrations_per_minute)
    {
        tracing::info!(%peer, "follower registration refused: rate limited");
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "at most {} follower registrations a minute from one address",
                limits.registrations_per_minute
            ),
        )
        .into_response();
        let secs = wait.as_secs().max(1).to_string();
        if let Ok(value) = header::HeaderValue::from_str(&secs) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    // Read only now: the rate limit above costs a client nothing to hit, a body does.
    let body = read_body(body, MAX_REGISTRATION_BYTES).await?;
    let registration: FollowerRegistration = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("expected {{\"identity\", \"feed\", \"url\"}}: {e}"),
        )
    })?;
    let (identity, feed) = (
        parse_identity(&registration.identity)?,
        parse_feed(&registration.feed)?,
    );
    // The outbound policy: this node will push to the URL.
    let url = match node.outbound.check_node_url(&registration.url).await {
        Ok(url) => url,
        Err(e) => {
            tracing::info!(%peer, "follower registration refused: {e}");
            return Err(ApiError::bad_request("bad_url", e.to_string()));
        }
    };
    let url = url.as_str();
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
    let registered = node
        .store
        .register_follower(
            url,
            &identity,
            &feed,
            limits.followers_per_feed,
            limits.followers_total,
        )
        .await
        .map_err(ApiError::internal)?;
    let full = |message: String| {
        tracing::info!(%peer, %identity, %feed, "follower registration refused: {message}");
        let mut response =
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "followers_full", message)
                .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static("3600"),
        );
        Ok(response)
    };
    match registered {
        Registered::New | Registered::Renewed => Ok(StatusCode::NO_CONTENT.into_response()),
        Registered::FeedFull => full(format!(
            "{identity}/{feed} has {} registered followers already",
            limits.followers_per_feed
        )),
        Registered::NodeFull => full(format!(
            "this node has {} follower registrations already",
            limits.followers_total
        )),
    }
}
