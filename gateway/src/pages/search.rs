//! `GET /search`: the search form and its results, a plain `GET` form (no JavaScript,
//! usable in w3m), `GET /api/v1/search` (the same answer as JSON) and `GET /opensearch.xml`
//! (so a browser can add this gateway as a search engine).
//!
//! All three go through the node's API ([`NodeApi::search`](seeder::node::NodeApi)), never
//! the store. They are not in the page cache: a hit's health counts the engine's peers,
//! which change without the store changing.
//!
//! Titles, descriptions and file names are untrusted: snippets arrive as spans of plain
//! text and are interpolated by maud, which escapes them; a match is wrapped in `<mark>`
//! by this code, never by the text.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use feeds::{FeedName, IdentityKey};
use http_server::ApiError;
use maud::{Markup, html};
use seeder::node::api::search::{Health, SearchHitView, Span};
use seeder::node::api::{SearchAnswer, SearchRequest};

use super::layout::{page, size, time};
use super::{PageError, PageResult};
use crate::{Gateway, links};

/// `GET /search?q=…&…`: the form, and with `q`, the results.
pub async fn search(State(gateway): State<Gateway>, RawQuery(query): RawQuery) -> PageResult {
    let request = SearchRequest::from_query(query.as_deref().unwrap_or_default())?;
    if request.q.is_empty() {
        return Ok(page("Search", &[], form(&request)));
    }
    let answer = gateway.node.search(&request).await.map_err(PageError)?;
    let title = format!("{} — search", request.q);
    let body = html! {
        (form(&request))
        h2 { (results_line(&answer)) }
        @if answer.truncated {
            p { "Many entries match: these are the best of the most recently indexed. Add words or filters to narrow them." }
        }
        ol.entries { @for hit in &answer.hits { (hit_item(hit)) } }
        p { a href=(format!("/api/v1/search?{}", request.to_query())) { "These results as JSON" } }
    };
    Ok(page(&title, &[], body))
}

/// `GET /api/v1/search?q=…&…`: a [`SearchAnswer`], or `400 bad_query` (`bad_limit`,
/// `bad_identity`, `bad_feed_name`) with a message.
pub async fn api(
    State(gateway): State<Gateway>,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchAnswer>, ApiError> {
    let request = SearchRequest::from_query(query.as_deref().unwrap_or_default())?;
    Ok(Json(gateway.node.search(&request).await?))
}

/// `GET /opensearch.xml`: the OpenSearch 1.1 description of this gateway's search.
pub async fn opensearch(State(gateway): State<Gateway>) -> Response {
    let base = xml_escape(gateway.node.public_url().trim_end_matches('/'));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<OpenSearchDescription xmlns=\"http://a9.com/-/spec/opensearch/1.1/\">\n\
  <ShortName>swarmfeed</ShortName>\n\
  <Description>Entries and file names held by this swarmfeed node</Description>\n\
  <InputEncoding>UTF-8</InputEncoding>\n\
  <Url type=\"text/html\" method=\"get\" template=\"{base}/search?q={{searchTerms}}\"/>\n\
  <Url type=\"application/json\" method=\"get\" template=\"{base}/api/v1/search?q={{searchTerms}}\"/>\n\
  <Url type=\"application/opensearchdescription+xml\" rel=\"self\" template=\"{base}/opensearch.xml\"/>\n\
</OpenSearchDescription>\n"
    );
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/opensearchdescription+xml"),
    );
    response
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The form, filled with the request's values; every filter a plain field.
fn form(request: &SearchRequest) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let newest = request.order.as_deref() == Some("newest");
    html! {
        h1 { "Search" }
        form action="/search" method="get" role="search" {
            p {
                label { "Words " input type="search" name="q" value=(request.q) size="40"; }
                " " button type="submit" { "Search" }
            }
            details open[has_filters(request)] {
                summary { "Filters" }
                p {
                    label { "Identity " input name="identity" value=(value(&request.identity)) size="52"; }
                    " " label { "Feed " input name="feed" value=(value(&request.feed)) size="12"; }
                }
                p {
                    label { "Kind " input name="kind" value=(value(&request.kind)) size="8"; }
                    " " label { "File type " input name="ext" value=(value(&request.ext)) size="6"; }
                    " " label { "Size from " input name="min_size" inputmode="numeric" value=(value(&request.min_size)) size="12"; }
                    " " label { "to " input name="max_size" inputmode="numeric" value=(value(&request.max_size)) size="12"; }
                    " bytes"
                }
                p {
                    label { "From " input type="date" name="since" value=(value(&request.since)); }
                    " " label { "to " input type="date" name="until" value=(value(&request.until)); }
                    " " label { "Order "
                        select name="order" {
                            option value="relevance" selected[!newest] { "relevance" }
                            option value="newest" selected[newest] { "newest first" }
                        }
                    }
                }
            }
        }
        p { "Words of three letters or more match anywhere in a title, description or file name; "
            code { "word*" } " matches words starting so; shorter words match whole words." }
    }
}

fn has_filters(request: &SearchRequest) -> bool {
    [
        &request.identity,
        &request.feed,
        &request.kind,
        &request.ext,
        &request.min_size,
        &request.max_size,
        &request.since,
        &request.until,
    ]
    .iter()
    .any(|v| v.is_some())
}

fn results_line(answer: &SearchAnswer) -> String {
    match answer.hits.len() {
        0 => "No entry matches".to_owned(),
        1 => "1 entry".to_owned(),
        n => format!("{n} entries"),
    }
}

/// One hit: its highlighted title linking to the entry, where it comes from, what matched.
fn hit_item(hit: &SearchHitView) -> Markup {
    // The API's strings were made from checked keys and names; a hit that does not parse
    // back is shown without links rather than not at all.
    let key: Option<IdentityKey> = hit.identity.parse().ok();
    let feed = FeedName::new(&hit.feed).ok();
    let entry_href = key
        .zip(feed.as_ref())
        .map(|(k, f)| links::entry(&k, f, hit.seq));
    html! {
        li.hit {
            @match &entry_href {
                Some(href) => a href=(href) { (spans(&hit.snippet)) },
                None => span { (spans(&hit.snippet)) },
            }
            br;
            span.meta {
                (hit.kind) " #" (hit.seq) ", " (time(hit.time))
                @if let Some(bytes) = hit.size { ", " (size(bytes)) }
                " in "
                @match key.zip(feed.as_ref()) {
                    Some((k, f)) => a href=(links::feed(&k, f)) { (hit.feed) },
                    None => (hit.feed),
                }
                " by "
                @match key {
                    Some(k) => (super::names::identity_label(&k, hit.display_name.as_deref())),
                    None => (hit.identity),
                }
            }
            @if let Some(description) = &hit.description {
                br; span.snippet { (spans(description)) }
            }
            @if !hit.files.is_empty() {
                ul.files { @for file in &hit.files { li { (spans(file)) } } }
            }
            br; span.health { (health(&hit.health)) }
        }
    }
}

/// Marked spans: text escaped by maud, matches in `<mark>`; bidirectional and control
/// characters written out (a file name could otherwise disguise its extension).
fn spans(spans: &[Span]) -> Markup {
    html! {
        @for span in spans {
            @let text = publisher::torrent::portable_name::visible(&span.text);
            @if span.hit { mark { (text.as_ref()) } } @else { (text.as_ref()) }
        }
    }
}

/// "Swarm: 3 peers connected, 5 known (this node's engine); seeded here; 2 nodes serve the
/// feed (registered followers and nodes seen serving it)".
fn health(health: &Health) -> String {
    let engine = match &health.engine {
        Some(e) => format!(
            "{} {} connected, {} known (this node's BitTorrent engine){}",
            e.connected,
            if e.connected == 1 { "peer" } else { "peers" },
            e.known,
            if e.seeding {
                "; seeded by this node"
            } else {
                ""
            }
        ),
        None => "not in this node's BitTorrent engine".to_owned(),
    };
    let nodes = match health.nodes_serving {
        1 => "1 node serves the feed".to_owned(),
        n => format!("{n} nodes serve the feed"),
    };
    format!("Swarm: {engine}; {nodes} (followers registered here and nodes seen serving it).")
}
