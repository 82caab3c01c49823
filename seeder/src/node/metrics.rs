//! `GET /metrics`: Prometheus text, for whom `[gateway] metrics` allows.
//!
//! Public `/metrics` was never intended: its counts (torrents held and seeded, bytes
//! uploaded, peers, failed verifications) tell anyone what a node holds and how busy it is.
//! By default only clients on loopback read it (a Prometheus on the same machine, the
//! tests); `token` serves remote scrapers that send `Authorization: Bearer TOKEN` (compared
//! in constant time), `public` anyone, `off` nobody.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::NodeHandle;
use http_server::MetricsAccess;
use http_server::{ApiError, ErrorCode};

/// The counters one node keeps since it started. Each node owns its own: two nodes in one
/// process (the tests run several) count apart.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Content on disk that did not match its entry (downloads that failed BLAKE3 included).
    verify_failures: AtomicU64,
    /// Authorization decisions by operation, actor kind and outcome (see `api::authorize`).
    authorizations: super::api::Decisions,
    /// Updates of followed feeds finished (each poll updates every followed feed): a test
    /// waits for more of them to show that a poll changed nothing, instead of sleeping.
    feed_updates: AtomicU64,
    /// Torrents the scrub re-hashed whole.
    scrub_verifications: AtomicU64,
}

impl Metrics {
    /// Counts a BLAKE3 mismatch.
    pub fn count_verify_failure(&self) {
        self.verify_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times content on disk did not match its entry since the node started.
    pub fn verify_failures(&self) -> u64 {
        self.verify_failures.load(Ordering::Relaxed)
    }

    /// Counts one finished update of a followed feed (whatever its outcome).
    pub fn count_feed_update(&self) {
        self.feed_updates.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one torrent re-hashed whole by the scrub.
    pub fn count_scrub_verification(&self) {
        self.scrub_verifications.fetch_add(1, Ordering::Relaxed);
    }

    /// The authorization decisions counted so far.
    pub fn authorizations(&self) -> &super::api::Decisions {
        &self.authorizations
    }
}

/// Prometheus text format: torrents, bytes, peers.
pub async fn metrics(
    State(node): State<NodeHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let config = &node.config.gateway;
    if let Err(refused) = allowed(
        config.metrics,
        config.metrics_token.as_deref(),
        peer,
        &headers,
    ) {
        return refused.into_response();
    }
    let all = node.engine.list();
    let seeding = all.iter().filter(|s| s.is_seeding()).count();
    let uploaded: u64 = all.iter().map(|s| s.uploaded_bytes).sum();
    let downloaded: u64 = all.iter().map(|s| s.downloaded_bytes).sum();
    let peers: u64 = all.iter().map(|s| u64::from(s.peers)).sum();
    let mut text = format!(
        "# TYPE swarmfeed_torrents gauge\nswarmfeed_torrents {}\n\
         # TYPE swarmfeed_torrents_seeding gauge\nswarmfeed_torrents_seeding {seeding}\n\
         # TYPE swarmfeed_uploaded_bytes counter\nswarmfeed_uploaded_bytes {uploaded}\n\
         # TYPE swarmfeed_downloaded_bytes counter\nswarmfeed_downloaded_bytes {downloaded}\n\
         # TYPE swarmfeed_peers gauge\nswarmfeed_peers {peers}\n\
         # TYPE swarmfeed_verify_failures counter\nswarmfeed_verify_failures {}\n\
         # TYPE swarmfeed_feed_updates_total counter\nswarmfeed_feed_updates_total {}\n\
         # TYPE swarmfeed_scrub_verifications_total counter\nswarmfeed_scrub_verifications_total {}\n",
        all.len(),
        node.metrics.verify_failures(),
        node.metrics.feed_updates.load(Ordering::Relaxed),
        node.metrics.scrub_verifications.load(Ordering::Relaxed),
    );
    text.push_str(&node.metrics.authorizations.prometheus());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Says at start when `/metrics` can be read by nobody by mistake.
pub fn check_config(config: &http_server::GatewayConfig) {
    if config.metrics == MetricsAccess::Token
        && config.metrics_token.as_deref().is_none_or(str::is_empty)
    {
        tracing::warn!(
            "metrics = \"token\" without a metrics_token (or SWARMFEED_METRICS_TOKEN): /metrics answers 403 to everyone"
        );
    }
}

/// Whether `peer` with `headers` may read the metrics under `access`.
fn allowed(
    access: MetricsAccess,
    token: Option<&str>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let forbidden = |why: &str| ApiError::forbidden(ErrorCode::Forbidden, why);
    match access {
        MetricsAccess::Public => Ok(()),
        MetricsAccess::Off => Err(ApiError::not_found("metrics are off on this node")),
        MetricsAccess::Loopback if is_loopback(peer) => Ok(()),
        MetricsAccess::Loopback => Err(forbidden("metrics are served on loopback only")),
        MetricsAccess::Token => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            match (token.filter(|t| !t.is_empty()), given) {
                // blake3::Hash compares in constant time; hashing first hides the length.
                (Some(token), Some(given))
                    if blake3::hash(token.as_bytes()) == blake3::hash(given.trim().as_bytes()) =>
                {
                    Ok(())
                }
                _ => Err(forbidden("metrics need the node's bearer token")),
            }
        }
    }
}

fn is_loopback(peer: SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn each_mode_lets_in_whom_it_says() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let remote: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let none = HeaderMap::new();
        use MetricsAccess::*;
        assert!(allowed(Public, None, remote, &none).is_ok());
        assert!(allowed(Loopback, None, local, &none).is_ok());
        assert!(allowed(Loopback, None, mapped, &none).is_ok());
        assert_eq!(
            allowed(Loopback, None, remote, &none).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            allowed(Off, None, local, &none).unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        assert!(allowed(Token, Some("s3cret"), remote, &bearer("s3cret")).is_ok());
        assert!(allowed(Token, Some("s3cret"), remote, &bearer("s3cre")).is_err());
        assert!(allowed(Token, Some("s3cret"), local, &none).is_err());
        assert!(allowed(Token, None, local, &bearer("")).is_err());
        assert!(allowed(Token, Some(""), local, &bearer("")).is_err());
    }
}
