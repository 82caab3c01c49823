//! The HTTP face of a node: pages, feed exports, range streaming, BEP 19 webseed, JSON API.
//!
//! The node (`seeder::node`) serves its node-to-node routes; [`router`] adds the gateway's
//! routes beside them on the same listener.

use axum::Router;
use seeder::node::NodeHandle;

/// The gateway's routes for a running node.
pub fn router(_node: NodeHandle) -> Router {
    Router::new()
}
