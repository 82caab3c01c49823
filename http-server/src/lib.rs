//! The hardened HTTP server that the node's routes and the gateway share, beside the
//! gateway and below the node:
//!
//! - [`server`]: the accept loop with its connection cap, header, body and write timeouts,
//!   and head size limit, over hyper.
//! - [`error`]: the HTTP error answer ([`ApiError`]) with a typed code ([`ErrorCode`]) whose
//!   names are stable.
//! - [`access_log`], [`log`]: one line per request, written in batches.
//! - [`config`]: the `[gateway]` and `[status]` tables; [`network`]: address ranges in them.

pub mod access_log;
pub mod config;
pub mod error;
pub mod log;
pub mod network;
pub mod server;

pub use config::{GatewayConfig, MetricsAccess, StatusConfig};
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use network::Network;
