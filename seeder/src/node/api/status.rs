//! The node at a glance, for its operator (the gateway's `/status` page): the engine's
//! torrents, what the store holds, follows and their caps, traffic over the last day, disk
//! use, scrub progress and errors — one snapshot, taken in one call.
//!
//! No actor yet: the gateway decides who sees the page ([`NodeApi::status_access`]); the
//! policy moves here with accounts.

use std::net::SocketAddrV4;

use super::NodeApi;
use crate::config::Limits;
use crate::node::scrub::ScrubConfig;
pub use crate::node::traffic::TrafficMinute;
use http_server::ApiError;
use http_server::{GatewayConfig, StatusConfig};
use store::unix_now;

pub use engine::{TorrentState, TorrentStatus};
pub use store::{FollowStatus, Holdings, Origin, TorrentProblem, Usage};

/// Everything the status page shows.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    /// Unix seconds when the snapshot was taken.
    pub at: u64,
    pub public_url: String,
    pub bt_port: u16,
    pub dht: SocketAddrV4,
    /// Every torrent in the engine (content and feed logs), by infohash.
    pub torrents: Vec<TorrentStatus>,
    /// The torrents with the fewest known peers, named.
    pub at_risk: Vec<AtRisk>,
    /// Content torrents held, with scrub progress over the scrub interval.
    pub holdings: Holdings,
    pub follows: Vec<FollowStatus>,
    /// Followed content reserved against the node's caps.
    pub usage: Usage,
    /// The node's caps and rates.
    pub limits: Limits,
    /// The first torrents stopped by an error or waiting over a cap.
    pub problems: Vec<TorrentProblem>,
    pub traffic: Traffic,
    /// Bytes used and size of the filesystem holding the downloads.
    pub disk: Option<Disk>,
    pub scrub: ScrubConfig,
    /// Content that did not match its entry since the node started.
    pub verify_failures: u64,
}

/// A torrent the engine holds, with a name for people.
#[derive(Clone, Debug)]
pub struct AtRisk {
    pub status: TorrentStatus,
    pub name: String,
    /// `published here`, `followed`, `feed log` or `other`.
    pub kind: &'static str,
}

/// Bytes sent and received.
#[derive(Clone, Debug)]
pub struct Traffic {
    /// Since the engine started, over the torrents it holds now.
    pub sent_total: u64,
    pub received_total: u64,
    /// The last day a minute at a time (since the node started, if later: kept in memory).
    pub last_day: Vec<TrafficMinute>,
}

/// A filesystem's size and use, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Disk {
    pub used: u64,
    pub total: u64,
}

impl NodeApi {
    /// A snapshot of the node: at most `at_risk` torrents at risk and `problems` problems
    /// listed (the counts in [`Holdings`] cover them all).
    pub async fn status(&self, at_risk: usize, problems: u32) -> Result<NodeStatus, ApiError> {
        let node = &self.node;
        let at = unix_now();
        let torrents = node.engine.list();
        let scrub = node.config.scrub.clone();
        let store = &node.store;
        let holdings = store
            .holdings(at.saturating_sub(scrub.interval_secs))
            .await
            .map_err(ApiError::internal)?;
        let follows = store.follows().await.map_err(ApiError::internal)?;
        let usage = store.reserved_usage().await.map_err(ApiError::internal)?;
        let problems = store
            .torrent_problems(problems)
            .await
            .map_err(ApiError::internal)?;
        let (sent_total, received_total) = node.traffic_totals();
        let last_day = node.traffic.last_day(at, sent_total, received_total);
        let at_risk = self.at_risk(&torrents, at_risk).await;
        Ok(NodeStatus {
            at,
            public_url: node.public_url.clone(),
            bt_port: node.bt_port(),
            dht: node.dht.local_addr(),
            torrents,
            at_risk,
            holdings,
            follows,
            usage,
            limits: node.config.limits.clone(),
            problems,
            traffic: Traffic {
                sent_total,
                received_total,
                last_day,
            },
            disk: filesystem(&node.config.download_dir(), &node.config.data_dir),
            scrub,
            verify_failures: node.metrics().verify_failures(),
        })
    }

    /// Who may see the status page.
    pub fn status_access(&self) -> &StatusConfig {
        &self.node.config.status
    }

    /// The node's `[gateway]` table.
    pub fn gateway_config(&self) -> &GatewayConfig {
        &self.node.config.gateway
    }

    /// The `limit` torrents with the fewest known peers (then fewest connected, then the
    /// largest: the most to lose), named from the store.
    async fn at_risk(&self, torrents: &[TorrentStatus], limit: usize) -> Vec<AtRisk> {
        let mut sorted: Vec<&TorrentStatus> = torrents.iter().collect();
        sorted.sort_by_key(|t| {
            (
                t.known_peers,
                t.peers,
                std::cmp::Reverse(t.total_bytes),
                t.infohash.0,
            )
        });
        let store = &self.node.store;
        let mut out = Vec::new();
        for status in sorted.into_iter().take(limit) {
            let (name, kind) = match store.torrent(&status.infohash).await {
                Ok(Some(t)) => match t.origin {
                    Origin::Published { .. } => (t.name, "published here"),
                    Origin::Followed => (t.name, "followed"),
                },
                _ => match store.log_torrent_by_infohash(&status.infohash).await {
                    Ok(Some(log)) => (
                        format!("feed log of {}/{}", log.identity, log.feed.as_str()),
                        "feed log",
                    ),
                    _ => ("(unknown)".to_string(), "other"),
                },
            };
            out.push(AtRisk {
                status: status.clone(),
                name,
                kind,
            });
        }
        out
    }
}

/// Bytes used and the size of the filesystem holding the downloads (or the data directory,
/// before the first download).
fn filesystem(downloads: &std::path::Path, data: &std::path::Path) -> Option<Disk> {
    let stat = rustix::fs::statvfs(downloads)
        .or_else(|_| rustix::fs::statvfs(data))
        .ok()?;
    let total = stat.f_blocks.saturating_mul(stat.f_frsize);
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    (total > 0).then(|| Disk {
        used: total.saturating_sub(free),
        total,
    })
}
