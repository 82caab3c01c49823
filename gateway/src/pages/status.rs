//! `GET /status`: the operator's view of the node at a glance, server-rendered (no script):
//! torrents held and seeding, bytes sent and received over the last day, disk use against
//! every cap, the torrents with the fewest known peers first (the ones at risk), scrub
//! progress, and errors. Only the operator sees it (see [`super::operator`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seeder::engine::{TorrentState, TorrentStatus};
use seeder::node::ApiError;
use seeder::store::{FollowStatus, Holdings, Origin};

use super::layout::{page, size, time};
use super::{PageError, operator, traffic_chart};
use crate::Gateway;

/// Torrents listed as at risk.
const AT_RISK: usize = 20;
/// Problems listed (the counts cover them all).
const PROBLEMS: u32 = 50;

/// `GET /status`.
pub async fn status(State(gateway): State<Gateway>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Err(refused) = operator::check(&gateway.node.config.status, peer, request.headers()) {
        return *refused;
    }
    match render(&gateway).await {
        Ok(body) => {
            let mut response = page("Status", &[], body);
            // Operator data: never kept by a browser or proxy cache.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn render(gateway: &Gateway) -> Result<Markup, PageError> {
    let node = &gateway.node;
    let now = unix_now();
    let engine = node.engine.list();
    let scrub = &node.config.scrub;
    let store = &node.store;
    let holdings = store
        .holdings(now.saturating_sub(scrub.interval_secs))
        .await
        .map_err(ApiError::internal)?;
    let follows = store.follows().await.map_err(ApiError::internal)?;
    let usage = store.reserved_usage().await.map_err(ApiError::internal)?;
    let problems = store
        .torrent_problems(PROBLEMS)
        .await
        .map_err(ApiError::internal)?;
    let (sent_total, received_total) = node.traffic_totals();
    let minutes = node.traffic.last_day(now, sent_total, received_total);
    let (sent_day, received_day) = minutes
        .iter()
        .fold((0, 0), |(s, r), m| (s + m.sent, r + m.received));
    let at_risk = at_risk(gateway, &engine).await;
    let seeding = engine.iter().filter(|t| t.is_seeding()).count();
    let checking = engine
        .iter()
        .filter(|t| matches!(t.state, TorrentState::Checking { .. }))
        .count();
    let downloading = engine
        .iter()
        .filter(|t| t.state == TorrentState::Live && !t.complete)
        .count();
    let failed: Vec<&TorrentStatus> = engine
        .iter()
        .filter(|t| matches!(t.state, TorrentState::Error(_)))
        .collect();
    let limits = &node.config.limits;
    let disk = filesystem(&node.config.download_dir(), &node.config.data_dir);

    Ok(html! {
        h1 { "Node status" }
        p { "At " (time(now)) ". HTTP " code { (node.public_url) } ", BitTorrent port "
            (node.bt_port()) ", DHT " code { (node.dht.local_addr()) } "." }
        h2 { "Torrents" }
        table {
            tr { th { "in the engine" } td { (engine.len()) " (content and feed logs)" } }
            tr { th { "seeding" } td { (seeding) } }
            tr { th { "downloading" } td { (downloading) } }
            tr { th { "checking" } td { (checking) } }
            tr { th { "stopped by an error" } td { (failed.len()) } }
            tr { th { "content torrents" } td { (holdings.torrents) " (" (holdings.published)
                " published here, " (holdings.torrents - holdings.published) " followed); "
                (holdings.complete) " complete" } }
            tr { th { "content held" } td { (size(holdings.have_bytes)) " of " (size(holdings.total_bytes)) } }
        }
        h2 { "Traffic, last 24 hours" }
        (traffic_chart::chart(&minutes, now))
        p { "Sent " (size(sent_day)) ", received " (size(received_day))
            " in the last 24 hours (since the node started, if that was later: the history is kept in memory); "
            (size(sent_total)) " sent and " (size(received_total)) " received since then over the torrents held now." }
        h2 { "Disk" }
        table {
            tr { th { "cap" } th { "bytes" } th { "files" } }
            (cap_row("node, over every follow", usage.bytes, limits.max_bytes, usage.files, limits.max_files))
            @for follow in follows.iter().filter(|f| f.limits.caps != Default::default()) {
                (cap_row(&follow_name(follow), follow.limits.used.bytes, follow.limits.caps.max_bytes,
                    follow.limits.used.files, follow.limits.caps.max_files))
            }
            @if let Some((used, total)) = disk {
                tr { td { "filesystem of the downloads" } td { (meter(used, Some(total))) " " (size(used)) " of " (size(total))
                    ", " (size(total - used)) " free" } td {} }
            }
        }
        p { "Followed content counts against the caps from the moment its download is admitted; content published here lies where it was published and counts against none." }
        h2 { "At risk: fewest known peers first" }
        @if at_risk.is_empty() { p { "The engine holds no torrent." } }
        @else {
            table {
                tr { th { "torrent" } th { "what" } th { "known peers" } th { "connected" } th { "size" } th { "state" } }
                @for row in &at_risk {
                    tr {
                        td { (row.name) br; span.id { (row.status.infohash.to_string()) } }
                        td { (row.kind) }
                        td { (row.status.known_peers) }
                        td { (row.status.peers) }
                        td style="white-space:nowrap" { (size(row.status.total_bytes)) }
                        td { (state(&row.status)) }
                    }
                }
            }
        }
        h2 { "Scrub" }
        @if scrub.rate == 0 {
            p { "Off (" code { "[scrub] rate = 0" } ")." }
        } @else {
            p { "Reads at most " (size(scrub.rate)) "/s; re-hashes each torrent every "
                (scrub.interval_secs / 86_400) " days." }
        }
        p { (meter(holdings.verified_recently, Some(holdings.complete))) " "
            (holdings.verified_recently) " of " (holdings.complete)
            " complete torrents verified whole within the interval; "
            (holdings.never_verified) " not since they were added. Last verification: "
            (holdings.newest_verified.map_or("never".to_string(), time))
            "; oldest: " (holdings.oldest_verified.map_or("none".to_string(), time)) ". "
            "Content that did not match its entry since the node started: " (node.metrics().verify_failures()) "." }
        h2 { "Errors" }
        (errors(&follows, &problems, &failed, &holdings))
    })
}

/// A torrent the engine holds, with a name for people.
struct AtRisk {
    status: TorrentStatus,
    name: String,
    kind: &'static str,
}

/// The torrents with the fewest known peers (then fewest connected, then the largest: the
/// most to lose), named from the store.
async fn at_risk(gateway: &Gateway, engine: &[TorrentStatus]) -> Vec<AtRisk> {
    let mut sorted: Vec<&TorrentStatus> = engine.iter().collect();
    sorted.sort_by_key(|t| {
        (
            t.known_peers,
            t.peers,
            std::cmp::Reverse(t.total_bytes),
            t.infohash.0,
        )
    });
    let mut out = Vec::new();
    for status in sorted.into_iter().take(AT_RISK) {
        let store = &gateway.node.store;
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

fn state(status: &TorrentStatus) -> String {
    match &status.state {
        TorrentState::Checking { checked_bytes } => format!("checking ({})", size(*checked_bytes)),
        TorrentState::Live if status.complete => "seeding".to_string(),
        TorrentState::Live => format!(
            "downloading ({} of {})",
            size(status.have_bytes),
            size(status.total_bytes)
        ),
        TorrentState::Paused => "paused".to_string(),
        TorrentState::Error(e) => format!("error: {e}"),
    }
}

fn cap_row(
    name: &str,
    bytes: u64,
    max_bytes: Option<u64>,
    files: u64,
    max_files: Option<u64>,
) -> Markup {
    html! {
        tr {
            td { (name) }
            td { (meter(bytes, max_bytes)) " " (size(bytes)) " of " (max_bytes.map_or("no cap".to_string(), size)) }
            td { (meter(files, max_files)) " " (files) " of " (max_files.map_or("no cap".to_string(), |n| n.to_string())) }
        }
    }
}

/// A `<meter>` of `value` against `max`, or nothing without a maximum.
fn meter(value: u64, max: Option<u64>) -> Markup {
    html! {
        @if let Some(max) = max.filter(|m| *m > 0) {
            meter min="0" max=(max) high=(max / 10 * 9) value=(value.min(max)) {
                (value) " of " (max)
            }
        }
    }
}

fn follow_name(follow: &FollowStatus) -> String {
    match &follow.feed {
        Some(feed) => format!("follow {}/{}", follow.identity, feed.as_str()),
        None => format!("follow {}", follow.identity),
    }
}

fn errors(
    follows: &[FollowStatus],
    problems: &[seeder::store::TorrentProblem],
    failed: &[&TorrentStatus],
    holdings: &Holdings,
) -> Markup {
    let follow_errors: Vec<(String, String)> = follows
        .iter()
        .flat_map(|f| {
            let own = f.last_error.clone().map(|e| (follow_name(f), e));
            let feeds = f.feeds.iter().filter_map(move |(feed, problem)| {
                problem
                    .clone()
                    .map(|p| (format!("feed {}/{}", f.identity, feed.as_str()), p))
            });
            own.into_iter().chain(feeds)
        })
        .collect();
    let quiet = follow_errors.is_empty() && problems.is_empty() && failed.is_empty();
    html! {
        @if quiet { p { "None." } }
        @else {
            p { (holdings.errors) " torrents stopped by an error, " (holdings.over_limit)
                " waiting over a disk cap; " (follow_errors.len()) " follows or feeds failing." }
            ul {
                @for (what, error) in &follow_errors { li { (what) ": " (error) } }
                @for problem in problems {
                    li { (problem.name) " (" span.id { (problem.infohash.to_string()) } "): " (problem.problem) }
                }
                @for status in failed {
                    li { "engine: " span.id { (status.infohash.to_string()) } ": " (state(status)) }
                }
            }
        }
    }
}

/// Bytes used and the size of the filesystem holding the downloads (or the data directory,
/// before the first download).
fn filesystem(downloads: &std::path::Path, data: &std::path::Path) -> Option<(u64, u64)> {
    let stat = rustix::fs::statvfs(downloads)
        .or_else(|_| rustix::fs::statvfs(data))
        .ok()?;
    let total = stat.f_blocks.saturating_mul(stat.f_frsize);
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    (total > 0).then(|| (total.saturating_sub(free), total))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
