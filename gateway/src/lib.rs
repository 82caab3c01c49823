//! The HTTP face of a node: pages, feed exports, range streaming, BEP 19 webseed, JSON API.
//!
//! The node (`seeder::node`) serves its node-to-node routes; [`router`] adds the gateway's
//! routes beside them on the same listener. Every path is built only from identity id, feed
//! name, seq, infohash and file path ([`links`]), so it means the same on every gateway.

mod accounts;
mod api;
mod cache;
mod exports;
mod files;
pub mod links;
mod pages;
mod range;
mod serve;
mod view;
mod webseed;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::routing::get;
use http_server::ApiError;
use seeder::node::NodeHandle;
use seeder::node::api::NodeApi;

/// How the gateway behaves: the `[gateway]` table of the node's configuration.
pub use http_server::GatewayConfig;

/// What every gateway handler shares. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Gateway {
    /// The node, through its API only.
    pub node: NodeApi,
    pub config: Arc<GatewayConfig>,
    pub cache: Arc<cache::PageCache>,
    /// The accounts service when `[accounts] mode` is not `off`.
    pub accounts: Option<accounts::Web>,
}

/// The gateway's routes for a running node, configured by its `[gateway]` table.
pub fn router(node: NodeHandle) -> Router {
    let config = node.api().gateway_config().clone();
    router_with(node, config)
}

/// The gateway's routes for a running node.
pub fn router_with(node: NodeHandle, config: GatewayConfig) -> Router {
    let api = node.api();
    let gateway = Gateway {
        accounts: api.accounts().cloned().map(accounts::Web::new),
        node: api,
        cache: Arc::new(cache::PageCache::new(
            config.cache_bytes,
            config.cache_ttl(),
        )),
        config: Arc::new(config),
    };
    // Pages, exports and API answers come from the page cache while the store is unchanged.
    let rendered = Router::new()
        .route("/api/v1/feeds/{identity}/{feed}/entries", get(api::entries))
        .route("/api/v1/entries/{identity}/{feed}/{seq}", get(api::entry))
        .route("/", get(pages::home))
        .route("/{identity}", get(pages::identity))
        .route("/{identity}/{feed}", get(pages::feed))
        .route("/{identity}/{feed}/{seq}", get(pages::entry))
        .route("/{identity}/{feed}/feed.rss", get(exports::rss))
        .route("/{identity}/{feed}/feed.atom", get(exports::atom))
        .route("/{identity}/{feed}/feed.json", get(exports::json_feed))
        .route_layer(axum::middleware::from_fn_with_state(
            gateway.clone(),
            cache::cached,
        ));
    let routes = Router::new()
        .route("/files/{infohash}/{*path}", get(webseed::file))
        .route("/ws/{infohash}/{*path}", get(webseed::webseed))
        .route("/webseed-torrents/{file}", get(webseed::webseed_torrent))
        .route("/favicon.ico", get(no_favicon))
        // The operator's status page: never cached (it is not in `rendered`).
        .route("/status", get(pages::status))
        // Search answers count the engine's peers, which move without the store: not cached.
        .route("/search", get(pages::search))
        .route("/api/v1/search", get(pages::search_api))
        .route("/opensearch.xml", get(pages::opensearch))
        .merge(accounts::routes(gateway.accounts.is_some()))
        .merge(rendered)
        .with_state(gateway.clone());
    // Every path the node's own routes leave goes to the gateway's front: cached answers
    // without routing, the rest through `routes`.
    Router::new().fallback_service(cache::Front::new(gateway, routes))
}

/// Browsers ask every site for `/favicon.ico`: a plain `404 not_found`, not an identity
/// lookup that answers `400 bad_identity`.
async fn no_favicon() -> ApiError {
    ApiError::not_found("this gateway has no favicon")
}

/// `X-Content-Type-Options: nosniff` on every answer: a browser never guesses a type.
pub(crate) fn set_nosniff(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}
