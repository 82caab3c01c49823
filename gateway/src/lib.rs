//! The HTTP face of a node: pages, feed exports, range streaming, BEP 19 webseed, JSON API.
//!
//! The node (`seeder::node`) serves its node-to-node routes; [`router`] adds the gateway's
//! routes beside them on the same listener. Every path is built only from identity id, feed
//! name, seq, infohash and file path ([`links`]), so it means the same on every gateway.

mod files;
pub mod links;
mod range;
mod serve;
mod webseed;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use seeder::node::NodeHandle;

/// What every gateway handler shares. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Gateway {
    pub node: NodeHandle,
}

/// The gateway's routes for a running node.
pub fn router(node: NodeHandle) -> Router {
    let gateway = Gateway { node };
    Router::new()
        .route("/files/{infohash}/{*path}", get(webseed::file))
        .route("/ws/{infohash}/{*path}", get(webseed::webseed))
        .route("/webseed-torrents/{file}", get(webseed::webseed_torrent))
        .layer(axum::middleware::map_response(nosniff))
        .with_state(gateway)
}

/// `X-Content-Type-Options: nosniff` on every answer: a browser never guesses a type.
async fn nosniff(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
