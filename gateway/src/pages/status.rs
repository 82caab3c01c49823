//! `GET /status`: the operator's view of the node at a glance, server-rendered (no script):
//! torrents held and seeding, bytes sent and received over the last day, disk use against
//! every cap, the torrents with the fewest known peers first (the ones at risk), scrub
//! progress, and errors. Only the operator sees it (see [`super::operator`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seeder::node::api::status::{
    Disk, FollowStatus, Holdings, NodeStatus, TorrentProblem, TorrentState, TorrentStatus,
};

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
    if let Err(refused) = operator::check(gateway.node.status_access(), peer, request.headers()) {
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
    let NodeStatus {
        at: now,
        public_url,
        bt_port,
        dht,
        torrents: engine,
        at_risk,
        holdings,
        follows,
        usage,
        limits,
        problems,
        traffic,
        disk,
        scrub,
        verify_failures,
    } = gateway.node.status(AT_RISK, PROBLEMS).await?;
    let minutes = traffic.last_day;
    let (sent_total, received_total) = (traffic.sent_total, traffic.received_total);
    let (sent_day, received_day) = minutes
        .iter()
        .fold((0, 0), |(s, r), m| (s + m.sent, r + m.received));
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

    Ok(html! {
        h1 { "Node status" }
        p { "At " (time(now)) ". HTTP " code { (public_url) } ", BitTorrent port "
            (bt_port) ", DHT " code { (dht) } "." }
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
            @if let Some(Disk { used, total }) = disk {
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
            "Content that did not match its entry since the node started: " (verify_failures) "." }
        h2 { "Errors" }
        (errors(&follows, &problems, &failed, &holdings))
    })
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
    problems: &[TorrentProblem],
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
