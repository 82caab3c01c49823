//! Rendered pages, feed exports and API answers, kept in memory until the store changes.
//!
//! A page depends on the store (heads, verified entries, torrents held, follows), on the
//! keystore (own identities) and, for text previews, on files whose BLAKE3 is signed. The
//! store's [`generation`](seeder::node::api::NodeApi::generation) moves after every committed write
//! — a new signed head, a new entry, a torrent completing — so an answer is served from
//! memory only while the generation it was rendered at is still current, and for at most
//! `cache_ttl_secs` (for the keystore). A hit costs no SQLite query at all.
//!
//! Every answer carries an `ETag`: the BLAKE3 of its bytes, so it changes exactly when the
//! page does, and the same page has the same tag after a restart. `If-None-Match` → `304`.
//! `Cache-Control: no-cache` makes browsers revalidate each time.
//!
//! A hit is answered by [`Front`], ahead of the router: no routing, no middleware, no
//! allocation beyond the answer's own (its body shares the stored bytes, its headers were
//! built when the page was stored). A miss goes on to the routes, whose [`cached`] layer
//! renders, tags and stores.
//!
//! The cache holds at most `cache_bytes` (bodies, headers and keys counted), least recently
//! used answers leaving first; only `200` answers to `GET` are stored.
//!
//! Nothing rendered for a signed-in user is ever served to anyone else: a request carrying a
//! session cookie, every `/account` path and every mailed link's path (an invitation's
//! `/identities/join/…`) is [`private`]: never answered from the cache,
//! never stored, and answered `Cache-Control: private, no-store` (no shared proxy or
//! browser history keeps it either).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use lru::LruCache;
use tower_service::Service;

use crate::Gateway;

/// Largest answer the cache buffers and stores; larger ones are passed on as they come,
/// uncached (pages and exports clip long fields, so only the JSON API of an entry with a
/// huge file list gets there).
const MAX_ENTRY: usize = 16 << 20;
/// Bytes counted per entry on top of its body, headers and key.
const OVERHEAD: usize = 256;

/// One stored answer.
struct Cached {
    generation: u64,
    stored: Instant,
    /// The answer's headers as sent: with `ETag`, `Cache-Control` and `nosniff`.
    headers: HeaderMap,
    body: Bytes,
    etag: HeaderValue,
    weight: usize,
}

/// The byte-bounded LRU of answers.
pub struct PageCache {
    budget: usize,
    ttl: Duration,
    state: Mutex<Entries>,
}

struct Entries {
    entries: LruCache<String, Arc<Cached>>,
    used: usize,
}

impl PageCache {
    pub fn new(budget: u64, ttl: Duration) -> PageCache {
        PageCache {
            budget: usize::try_from(budget).unwrap_or(usize::MAX),
            ttl,
            state: Mutex::new(Entries {
                entries: LruCache::unbounded(),
                used: 0,
            }),
        }
    }

    fn enabled(&self) -> bool {
        self.budget > 0
    }

    fn get(&self, key: &str, generation: u64) -> Option<Arc<Cached>> {
        let mut state = self.state.lock().ok()?;
        let hit = state.entries.get(key)?.clone();
        if hit.generation == generation && hit.stored.elapsed() < self.ttl {
            return Some(hit);
        }
        if let Some(stale) = state.entries.pop(key) {
            state.used -= stale.weight;
        }
        None
    }

    fn put(&self, key: String, entry: Arc<Cached>) {
        if entry.weight > self.budget {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.used += entry.weight;
        if let Some(old) = state.entries.put(key, entry) {
            state.used -= old.weight;
        }
        while state.used > self.budget {
            match state.entries.pop_lru() {
                Some((_, gone)) => state.used -= gone.weight,
                None => break,
            }
        }
    }

    /// Bytes held now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.state.lock().map_or(0, |s| s.used)
    }
}

/// Middleware over the cacheable routes: answers from memory while the store has not
/// changed, else renders, tags and stores.
pub async fn cached(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD || private(&request) {
        return next.run(request).await;
    }
    let cache = &gateway.cache;
    let key = cache_key(&request).to_owned();
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    // Read before rendering: a write during the render moves the generation past this one,
    // so the stored answer is never served after that write.
    let generation = gateway.node.generation();
    if cache.enabled()
        && let Some(hit) = cache.get(&key, generation)
    {
        return answer(&hit.headers, &hit.etag, &hit.body, if_none_match.as_ref());
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = match buffer(body, MAX_ENTRY).await {
        Buffered::Whole(body) => body,
        Buffered::Larger(body) => {
            // Sent as it comes, neither tagged nor stored: larger than any page should be.
            tracing::debug!(path = %key, "answer over {MAX_ENTRY} bytes passed on uncached");
            return Response::from_parts(parts, body);
        }
        Buffered::Failed(e) => {
            tracing::warn!(path = %key, "cannot render an answer: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let etag = etag(&body);
    set_validators(&mut parts.headers, &etag);
    crate::set_nosniff(&mut parts.headers);
    let response = answer(&parts.headers, &etag, &body, if_none_match.as_ref());
    if cache.enabled() && method == Method::GET {
        let weight = body.len()
            + key.len()
            + OVERHEAD
            + parts
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 32)
                .sum::<usize>();
        cache.put(
            key,
            Arc::new(Cached {
                generation,
                stored: Instant::now(),
                headers: parts.headers,
                body,
                etag,
                weight,
            }),
        );
    }
    response
}

/// A rendered answer's body: whole when at most `limit` bytes, else the bytes read so far
/// chained with the rest.
enum Buffered {
    Whole(Bytes),
    Larger(Body),
    Failed(axum::Error),
}

async fn buffer(body: Body, limit: usize) -> Buffered {
    use futures_lite::StreamExt;
    let mut stream = body.into_data_stream();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return Buffered::Failed(e),
        };
        len += chunk.len();
        chunks.push(chunk);
        if len > limit {
            let read = futures_lite::stream::iter(chunks.into_iter().map(Ok));
            return Buffered::Larger(Body::from_stream(read.chain(stream)));
        }
    }
    match chunks.len() {
        0 => Buffered::Whole(Bytes::new()),
        1 => Buffered::Whole(chunks.remove(0)),
        _ => Buffered::Whole(chunks.concat().into()),
    }
}

/// The quoted hex of the BLAKE3 of the answer's bytes (128 bits).
fn etag(body: &[u8]) -> HeaderValue {
    let hash = blake3::hash(body);
    let text = format!("\"{}\"", &hash.to_hex()[..32]);
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("\"\""))
}

fn set_validators(headers: &mut HeaderMap, etag: &HeaderValue) {
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// The answer to send from a stored one: its headers already carry the validators.
fn answer(
    headers: &HeaderMap,
    etag: &HeaderValue,
    body: &Bytes,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let fresh = if_none_match.is_some_and(|v| matches_etag(v, etag));
    if !fresh {
        let mut response = Response::new(Body::from(body.clone()));
        *response.headers_mut() = headers.clone();
        return response;
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let out = response.headers_mut();
    set_validators(out, etag);
    crate::set_nosniff(out);
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        out.insert(header::CONTENT_TYPE, ct.clone());
    }
    response
}

/// The cache key of a request: its path and query, as sent.
fn cache_key(request: &Request) -> &str {
    request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path(), |p| p.as_str())
}

/// Whether an answer may hold what only this visitor may see: a request with a session
/// cookie, an account page, or a mailed link's page (an invitation shows a visitor who is
/// not signed in the sign-in form, with a CSRF token bound to that visitor's cookie).
fn private(request: &Request) -> bool {
    let path = request.uri().path();
    path == "/account"
        || path.starts_with("/account/")
        || crate::accounts::session::holds_token(path)
        || crate::accounts::cookies::has_session_cookie(request.headers())
}

/// `Cache-Control: private, no-store`.
fn set_private(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}

/// The gateway's entry: answers `GET`/`HEAD` from the page cache when it holds the path at
/// the store's current generation, else hands the request to the routes; every answer gets
/// `X-Content-Type-Options: nosniff`.
#[derive(Clone)]
pub struct Front {
    gateway: Gateway,
    routes: Router,
}

impl Front {
    pub fn new(gateway: Gateway, routes: Router) -> Front {
        Front { gateway, routes }
    }

    fn hit(&self, request: &Request) -> Option<Response> {
        let method = request.method();
        if method != Method::GET && method != Method::HEAD || private(request) {
            return None;
        }
        let cache = &self.gateway.cache;
        if !cache.enabled() {
            return None;
        }
        let hit = cache.get(cache_key(request), self.gateway.node.generation())?;
        Some(answer(
            &hit.headers,
            &hit.etag,
            &hit.body,
            request.headers().get(header::IF_NONE_MATCH),
        ))
    }
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> FrontFuture {
        match self.hit(&request) {
            Some(response) => FrontFuture::Hit(Some(response)),
            None => {
                let private = private(&request);
                FrontFuture::Routed(self.routes.call(request), private)
            }
        }
    }
}

pub enum FrontFuture {
    Hit(Option<Response>),
    /// The routes' answer; `true`: a [`private`] request's.
    Routed(RouteFuture<Infallible>, bool),
}

impl Future for FrontFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            FrontFuture::Hit(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
            FrontFuture::Routed(routed, private) => {
                let Ok(mut response) = std::task::ready!(Pin::new(routed).poll(cx));
                crate::set_nosniff(response.headers_mut());
                if *private {
                    set_private(response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// `If-None-Match`: `*` or a list of (possibly weak) tags; weak comparison (RFC 9110 13.1.2).
fn matches_etag(header: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(text) = header.to_str() else {
        return false;
    };
    let ours = etag.as_bytes();
    text.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(generation: u64, len: usize) -> Arc<Cached> {
        Arc::new(Cached {
            generation,
            stored: Instant::now(),
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; len]),
            etag: etag(&vec![b'x'; len]),
            weight: len,
        })
    }

    #[test]
    fn the_cache_keeps_within_its_budget_and_drops_the_least_recently_used() {
        let cache = PageCache::new(1000, Duration::from_secs(60));
        cache.put("a".into(), entry(1, 400));
        cache.put("b".into(), entry(1, 400));
        assert!(cache.get("a", 1).is_some());
        cache.put("c".into(), entry(1, 400));
        assert_eq!(cache.used(), 800);
        assert!(cache.get("b", 1).is_none(), "b was the least recently used");
        assert!(cache.get("a", 1).is_some() && cache.get("c", 1).is_some());
        cache.put("huge".into(), entry(1, 2000));
        assert!(cache.get("huge", 1).is_none());
        assert_eq!(cache.used(), 800);
    }

    #[test]
    fn an_answer_of_an_older_generation_or_past_its_ttl_is_not_served() {
        let cache = PageCache::new(10_000, Duration::from_secs(60));
        cache.put("a".into(), entry(1, 10));
        assert!(cache.get("a", 2).is_none());
        assert_eq!(cache.used(), 0, "the stale answer left");
        let short = PageCache::new(10_000, Duration::ZERO);
        short.put("a".into(), entry(1, 10));
        assert!(short.get("a", 1).is_none());
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_passed_on_whole_and_a_small_one_buffered() {
        use futures_lite::StreamExt;
        let chunks = || {
            let parts: Vec<Result<Bytes, std::io::Error>> =
                (0..5u8).map(|i| Ok(Bytes::from(vec![i; 1000]))).collect();
            Body::from_stream(futures_lite::stream::iter(parts))
        };
        let whole: Vec<u8> = (0..5u8).flat_map(|i| vec![i; 1000]).collect();
        match buffer(chunks(), 5000).await {
            Buffered::Whole(bytes) => assert_eq!(bytes, whole),
            _ => panic!("5,000 bytes fit a limit of 5,000"),
        }
        let Buffered::Larger(body) = buffer(chunks(), 2500).await else {
            panic!("5,000 bytes do not fit a limit of 2,500");
        };
        let mut sent = Vec::new();
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            sent.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(sent, whole, "the bytes read ahead and the rest, in order");
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = etag(b"page");
        let text = tag.to_str().unwrap().to_owned();
        let check = |h: &str| matches_etag(&HeaderValue::from_str(h).unwrap(), &tag);
        assert!(check(&text));
        assert!(check(&format!("W/{text}")));
        assert!(check(&format!("\"other\", {text}")));
        assert!(check("*"));
        assert!(!check("\"other\""));
    }
}
