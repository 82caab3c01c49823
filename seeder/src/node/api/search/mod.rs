//! Search as a read of the API: the gateway's page and JSON route, the control socket and
//! the command line all send a [`SearchRequest`] and get a [`SearchAnswer`].
//!
//! The request travels as a URL query (`q`, `identity`, `feed`, `kind`, `ext`, `min_size`,
//! `max_size`, `since`, `until`, `order`, `limit`), all text, checked here: a bad value is a
//! `400` with a stable name (`bad_query`, `bad_identity`, `bad_feed_name`, `bad_limit`).
//!
//! Each hit carries what a reader needs to choose: the identity with its display name (its
//! profile's name, else its identity record's; for an own identity without one, its
//! keystore name), the feed, the entry, highlighted
//! snippets, and the swarm's health as far as this node knows it, each figure naming its
//! source. Snippets are structured ([`Span`]s of plain text, some marked as matches), never
//! markup: whoever shows them escapes the text, so a hostile title stays text.

use std::collections::HashMap;

use axum::http::StatusCode;
use feeds::{FeedName, IdentityKey, InfoHash};
use serde::{Deserialize, Serialize};

mod snippet;

pub use snippet::{Span, marked};

use super::parse::{parse_feed, parse_identity};
use super::{NodeApi, OfflineApi};
use data_dir::DataDir;
use engine::Engine;
use http_server::{ApiError, ErrorCode};
use snippet::{around_first_match, clip, highlight_words};
use store::search::{SearchOrder, SearchQuery};
use store::{ErrorKind, Store};

/// Results when the request names no limit.
pub const DEFAULT_LIMIT: u32 = 20;
/// The most results one request returns (the store's own bound).
pub const MAX_LIMIT: u32 = 200;
/// Characters of a title or file path kept in a snippet (titles may be 130 kB).
const SNIPPET_CHARS: usize = 300;
/// Matching file paths shown per hit.
const FILES_SHOWN: usize = 3;
/// Nodes counted per feed for its health.
const NODES_COUNTED: u32 = 100;

/// A search as it travels: every field text, as a URL query carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The words (see docs/search.md for what they match).
    pub q: String,
    pub identity: Option<String>,
    /// A feed of `identity`.
    pub feed: Option<String>,
    pub kind: Option<String>,
    /// A file extension, without the dot.
    pub ext: Option<String>,
    /// Content size bounds in bytes, inclusive.
    pub min_size: Option<String>,
    pub max_size: Option<String>,
    /// Entry time bounds: `YYYY-MM-DD` (UTC; `until` takes the whole day) or Unix seconds.
    pub since: Option<String>,
    pub until: Option<String>,
    /// `relevance` (the default) or `newest`.
    pub order: Option<String>,
    pub limit: Option<String>,
}

/// The keys a query may hold, in the order [`SearchRequest::to_query`] writes them.
const KEYS: [&str; 11] = [
    "q", "identity", "feed", "kind", "ext", "min_size", "max_size", "since", "until", "order",
    "limit",
];

impl SearchRequest {
    /// A request from a URL query (`q=...&ext=mkv`). Empty values count as absent, as an
    /// HTML form sends its empty fields; an unknown key is refused, so a typo is not a
    /// filter silently ignored.
    pub fn from_query(query: &str) -> Result<SearchRequest, ApiError> {
        let mut request = SearchRequest::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_owned();
            let slot = match key.as_ref() {
                "q" => {
                    request.q = value;
                    continue;
                }
                "identity" => &mut request.identity,
                "feed" => &mut request.feed,
                "kind" => &mut request.kind,
                "ext" => &mut request.ext,
                "min_size" => &mut request.min_size,
                "max_size" => &mut request.max_size,
                "since" => &mut request.since,
                "until" => &mut request.until,
                "order" => &mut request.order,
                "limit" => &mut request.limit,
                other => {
                    return Err(bad_query(format!(
                        "unknown parameter {other:?} (known: {})",
                        KEYS.join(", ")
                    )));
                }
            };
            *slot = (!value.is_empty()).then_some(value);
        }
        Ok(request)
    }

    /// The request as a URL query, without the `?`.
    pub fn to_query(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        out.append_pair("q", &self.q);
        for (key, value) in KEYS[1..].iter().zip(self.filters()) {
            if let Some(value) = value {
                out.append_pair(key, value);
            }
        }
        out.finish()
    }

    fn filters(&self) -> [&Option<String>; 10] {
        [
            &self.identity,
            &self.feed,
            &self.kind,
            &self.ext,
            &self.min_size,
            &self.max_size,
            &self.since,
            &self.until,
            &self.order,
            &self.limit,
        ]
    }
}

/// The answer to a search.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchAnswer {
    pub hits: Vec<SearchHitView>,
    /// More entries matched than were ranked: these are the best of the newest-indexed
    /// (docs/search.md, "Latency design").
    pub truncated: bool,
}

/// One entry found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchHitView {
    pub identity: String,
    /// The name the identity gives itself (its profile's, else its identity record's), if
    /// one is held. A claim: show the identity id beside it.
    pub display_name: Option<String>,
    pub feed: String,
    pub seq: u64,
    pub kind: String,
    /// Unix seconds, as the signer claims.
    pub time: u64,
    pub title: Option<String>,
    /// The content's size in bytes, for a post.
    pub size: Option<u64>,
    pub infohash: Option<String>,
    /// The title (or the content's name) with the matches marked, clipped.
    pub snippet: Vec<Span>,
    /// The description around its first match, when it matches.
    pub description: Option<Vec<Span>>,
    /// File paths that match, each with the matches marked (at most three).
    pub files: Vec<Vec<Span>>,
    pub health: Health,
}

/// The swarm's health as far as this node knows it; every figure names its source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Peers of the content's torrent that this node's BitTorrent engine sees; absent when
    /// the engine does not hold the torrent (or no node runs: the command line offline).
    pub engine: Option<EnginePeers>,
    /// Nodes this node knows to serve the feed: followers registered with it and nodes
    /// that answered for the feed (`node_feeds`), at most 100 counted.
    pub nodes_serving: u32,
}

/// What the engine sees of one torrent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnginePeers {
    /// Peers connected now.
    pub connected: u32,
    /// Peers known, connected or not.
    pub known: u32,
    /// This node holds every byte and seeds.
    pub seeding: bool,
}

impl NodeApi {
    /// Searches everything the node holds (see docs/search.md).
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchAnswer, ApiError> {
        let data = self.node.data.clone();
        let own = tokio::task::spawn_blocking(move || own_names(&data))
            .await
            .unwrap_or_default();
        search(&self.node.store, Some(&self.node.engine), &own, request).await
    }
}

impl OfflineApi {
    /// Searches the store of a data directory whose node is not running: the engine's
    /// peers are unknown. `own` as [`own_names`] gives them.
    pub async fn search(
        &self,
        own: &HashMap<IdentityKey, String>,
        request: &SearchRequest,
    ) -> Result<SearchAnswer, ApiError> {
        search(&self.store, None, own, request).await
    }
}

/// The keystore's names of this data directory's own identities: the display name of an
/// own identity whose record the store does not hold (the gateway's identity page does the
/// same).
pub fn own_names(data: &DataDir) -> HashMap<IdentityKey, String> {
    let listed = data.keystore().list().unwrap_or_default();
    listed.into_iter().map(|id| (id.public, id.name)).collect()
}

/// The name `identity` signed: its profile's, else its identity record's (as
/// `NodeApi::display_name`, which a node without its API, the offline search, cannot call).
async fn signed_name(store: &Store, identity: &IdentityKey) -> store::Result<Option<String>> {
    let profile = store
        .extension(identity, publisher::profile::PROFILE)
        .await?
        .and_then(|item| feeds::extension::read_profile(&item).ok().flatten());
    if let Some(name) = profile.and_then(|p| p.name) {
        return Ok(Some(name));
    }
    Ok(store
        .identity_record(identity)
        .await?
        .and_then(|record| record.record().name.clone()))
}

/// Searches `store`; with `engine`, each hit's health counts the peers it sees.
async fn search(
    store: &Store,
    engine: Option<&Engine>,
    own: &HashMap<IdentityKey, String>,
    request: &SearchRequest,
) -> Result<SearchAnswer, ApiError> {
    let query = parse(request)?;
    let words = highlight_words(&query.text);
    let results = store.search(query).await.map_err(|e| match e.kind {
        ErrorKind::Invalid(message) => bad_query(message),
        _ => store_error(e),
    })?;
    let mut names: HashMap<IdentityKey, Option<String>> = HashMap::new();
    let mut nodes: HashMap<(IdentityKey, FeedName), u32> = HashMap::new();
    let mut hits = Vec::with_capacity(results.hits.len());
    for hit in results.hits {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(hit.identity) {
            let name = signed_name(store, &hit.identity)
                .await
                .map_err(store_error)?
                .or_else(|| own.get(&hit.identity).cloned());
            slot.insert(name);
        }
        let feed_key = (hit.identity, hit.feed.clone());
        if !nodes.contains_key(&feed_key) {
            let serving = store
                .nodes_serving(&hit.identity, &hit.feed, NODES_COUNTED)
                .await
                .map_err(store_error)?;
            nodes.insert(
                feed_key.clone(),
                u32::try_from(serving.len()).unwrap_or(u32::MAX),
            );
        }
        let stored = store
            .entry(&hit.identity, &hit.feed, hit.seq)
            .await
            .map_err(store_error)?;
        // The index and the entry are written in one transaction, but the search and this
        // read are two: a retraction in between drops the hit.
        let Some(stored) = stored.filter(|s| !s.retracted) else {
            continue;
        };
        let entry = stored.entry.entry();
        let content = entry.content.as_ref();
        let infohash: Option<InfoHash> = content.map(|c| c.infohash);
        let engine = engine.zip(infohash).and_then(|(engine, ih)| {
            let status = engine.stats(&ih).ok()?;
            Some(EnginePeers {
                connected: status.peers,
                known: status.known_peers,
                seeding: status.is_seeding(),
            })
        });
        let heading = match &hit.title {
            Some(title) if !title.trim().is_empty() => title.clone(),
            _ => content.map_or_else(|| format!("{} #{}", hit.kind, hit.seq), |c| c.name.clone()),
        };
        let description = entry
            .meta
            .iter()
            .find(|(key, _)| key.as_str() == "description")
            .and_then(|(_, text)| around_first_match(text, &words));
        let files = content
            .map(|c| {
                c.files
                    .iter()
                    .map(|f| f.path.join("/"))
                    .filter_map(|path| {
                        let spans = marked(&clip(&path, SNIPPET_CHARS), &words);
                        spans.iter().any(|s| s.hit).then_some(spans)
                    })
                    .take(FILES_SHOWN)
                    .collect()
            })
            .unwrap_or_default();
        hits.push(SearchHitView {
            identity: hit.identity.to_string(),
            display_name: names.get(&hit.identity).cloned().flatten(),
            feed: hit.feed.to_string(),
            seq: hit.seq,
            kind: hit.kind,
            time: hit.time,
            title: hit.title,
            size: hit.size,
            infohash: infohash.map(|ih| ih.to_string()),
            snippet: marked(&clip(&heading, SNIPPET_CHARS), &words),
            description,
            files,
            health: Health {
                engine,
                nodes_serving: nodes.get(&feed_key).copied().unwrap_or(0),
            },
        });
    }
    Ok(SearchAnswer {
        hits,
        truncated: results.truncated,
    })
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::BadQuery, message.into())
}

fn store_error(e: store::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Store,
        e.to_string(),
    )
}

/// The store's query from the request's text fields.
fn parse(request: &SearchRequest) -> Result<SearchQuery, ApiError> {
    let identity = request
        .identity
        .as_deref()
        .map(parse_identity)
        .transpose()?;
    let feed = request.feed.as_deref().map(parse_feed).transpose()?;
    if feed.is_some() && identity.is_none() {
        return Err(bad_query("a feed filter needs an identity"));
    }
    let number = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| bad_query(format!("{name} {v:?} is not a number of bytes")))
            })
            .transpose()
    };
    let order = match request.order.as_deref() {
        None | Some("relevance") => SearchOrder::Relevance,
        Some("newest") => SearchOrder::Newest,
        Some(other) => {
            return Err(bad_query(format!(
                "order {other:?} is neither \"relevance\" nor \"newest\""
            )));
        }
    };
    let limit = match request.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::BadLimit,
                    format!("limit must be 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let ext = request
        .ext
        .as_deref()
        .map(|e| e.trim_start_matches('.').to_lowercase());
    Ok(SearchQuery {
        text: request.q.clone(),
        identity,
        feed,
        kind: request.kind.clone(),
        extension: ext,
        min_size: number("min_size", &request.min_size)?,
        max_size: number("max_size", &request.max_size)?,
        since: request
            .since
            .as_deref()
            .map(|v| time("since", v, false))
            .transpose()?,
        until: request
            .until
            .as_deref()
            .map(|v| time("until", v, true))
            .transpose()?,
        order,
        limit,
    })
}

/// `YYYY-MM-DD` (the day's first second, or its last for an upper bound) or Unix seconds.
fn time(name: &str, text: &str, end_of_day: bool) -> Result<u64, ApiError> {
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    let refused = || {
        bad_query(format!(
            "{name} {text:?} is neither YYYY-MM-DD nor Unix seconds"
        ))
    };
    let mut parts = text.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (Some(Some(year)), Some(Some(month)), Some(Some(day))) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    let days = days_since_epoch(year, month, day).ok_or_else(refused)?;
    let secs = days * 86_400;
    Ok(if end_of_day { secs + 86_399 } else { secs })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (from 1970 on), `None` for a date
/// that does not exist. Howard Hinnant's `days_from_civil`.
fn days_since_epoch(year: u32, month: u32, day: u32) -> Option<u64> {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let last = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    if !(1970..=9999).contains(&year) || day == 0 || day > last {
        return None;
    }
    let y = u64::from(if month <= 2 { year - 1 } else { year });
    let (m, d) = (u64::from(month), u64::from(day));
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_through_its_query_and_refuses_unknown_keys() {
        let request = SearchRequest {
            q: "a & b=c".into(),
            ext: Some("mkv".into()),
            order: Some("newest".into()),
            ..SearchRequest::default()
        };
        assert_eq!(
            SearchRequest::from_query(&request.to_query()).unwrap(),
            request
        );
        let empty = SearchRequest::from_query("q=x&ext=&since=").unwrap();
        assert_eq!(empty.ext, None);
        let err = SearchRequest::from_query("q=x&colour=red").unwrap_err();
        assert_eq!(err.name(), "bad_query");
    }

    #[test]
    fn filters_are_checked_with_stable_names() {
        let bad = |request: SearchRequest| parse(&request).unwrap_err().name().to_owned();
        let base = || SearchRequest {
            q: "x".into(),
            ..SearchRequest::default()
        };
        assert_eq!(
            bad(SearchRequest {
                limit: Some("0".into()),
                ..base()
            }),
            "bad_limit"
        );
        assert_eq!(
            bad(SearchRequest {
                order: Some("up".into()),
                ..base()
            }),
            "bad_query"
        );
        assert_eq!(
            bad(SearchRequest {
                since: Some("yesterday".into()),
                ..base()
            }),
            "bad_query"
        );
        assert_eq!(
            bad(SearchRequest {
                identity: Some("nope".into()),
                ..base()
            }),
            "bad_identity"
        );
        let query = parse(&SearchRequest {
            since: Some("2025-01-31".into()),
            until: Some("2025-01-31".into()),
            ..base()
        })
        .unwrap();
        assert_eq!(query.since, Some(1_738_281_600));
        assert_eq!(query.until, Some(1_738_281_600 + 86_399));
    }
}
