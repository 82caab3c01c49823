//! Follower registrations: a node says it follows a feed this node serves, and new heads
//! get pushed to it. Limited per client address (`registrations_per_minute`), per feed and
//! in all.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::authorize::{Authorized, Operation};
use super::parse::{parse_feed, parse_identity};
use super::types::FollowerRegistration;
use super::{Actor, NodeApi};
use http_server::{ApiError, ErrorCode};
use store::Registered;

/// Client addresses remembered by the rate limiter before idle ones are forgotten.
const MAX_CLIENTS_TRACKED: usize = 10_000;
/// How long a client refused for full registrations is told to wait.
const FULL_RETRY_SECS: u64 = 3600;

impl NodeApi {
    /// Takes one registration from the actor's address out of its bucket: `429
    /// rate_limited` with `Retry-After` when it is empty. Asked before the request's body
    /// is read: hitting the limit costs a client nothing, a body does.
    pub fn admit_registration(&self, actor: &Actor) -> Result<(), ApiError> {
        let Actor::Peer { addr } = actor else {
            return Ok(());
        };
        let per_minute = self.node.config.limits.registrations_per_minute;
        self.node
            .registrations
            .take(addr.ip(), per_minute)
            .map_err(|wait| {
                tracing::info!(peer = %addr, "follower registration refused: rate limited");
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    format!(
                        "at most {per_minute} follower registrations a minute from one address"
                    ),
                )
                .retry_after(wait.as_secs())
            })
    }

    /// Registers a follower (`204` on the wire): `400 bad_url` for a URL the outbound
    /// policy refuses, `404` for a feed this node does not serve, `503 followers_full` with
    /// `Retry-After` when the feed or the node has all the followers it takes.
    pub async fn register_follower(
        &self,
        actor: &Actor,
        request: FollowerRegistration,
    ) -> Result<(), ApiError> {
        let authorized = self.authorize(actor, Operation::RegisterFollower)?;
        register(self, &authorized, request).await
    }
}

async fn register(
    api: &NodeApi,
    authorized: &Authorized,
    request: FollowerRegistration,
) -> Result<(), ApiError> {
    let node = &api.node;
    let actor = authorized.actor();
    let limits = &node.config.limits;
    let (identity, feed) = (
        parse_identity(&request.identity)?,
        parse_feed(&request.feed)?,
    );
    // The outbound policy: this node will push to the URL.
    let url = match node.outbound.check_node_url(&request.url).await {
        Ok(url) => url,
        Err(e) => {
            tracing::info!(peer = %actor, "follower registration refused: {e}");
            return Err(ApiError::bad_request(ErrorCode::BadUrl, e.to_string()));
        }
    };
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
            url.as_str(),
            &identity,
            &feed,
            limits.followers_per_feed,
            limits.followers_total,
        )
        .await
        .map_err(ApiError::internal)?;
    let full = |message: String| {
        tracing::info!(peer = %actor, %identity, %feed, "follower registration refused: {message}");
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::FollowersFull,
            message,
        )
        .retry_after(FULL_RETRY_SECS))
    };
    match registered {
        Registered::New | Registered::Renewed => Ok(()),
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
