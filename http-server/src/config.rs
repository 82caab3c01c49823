//! The HTTP server's configuration: the `[gateway]` table (timeouts, connection cap, head
//! size, page and export sizes, who reads `/metrics`) and the `[status]` table, read by the
//! node's configuration (`seeder::config::NodeConfig`) and used by the gateway.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[status]` table: the status page (`/status`) is the operator's unless opened.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    /// Anyone may see it.
    pub open: bool,
    /// A secret that also opens it from addresses other than loopback (HTTP Basic password,
    /// any user name, or `Authorization: Bearer`).
    pub token: Option<String>,
}

/// The `[gateway]` table: how the HTTP server (gateway and node routes) behaves and what it
/// holds back against bad clients. `Default` is what `swarmfeed serve` uses.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Items in each feed export (RSS, Atom, JSON Feed): the latest N.
    pub export_items: u32,
    /// Entries per feed page and per page of the JSON API's listings (at most 1000).
    pub page_size: u32,
    /// Bytes of rendered pages and exports kept in memory (0: no cache).
    pub cache_bytes: u64,
    /// Seconds a cached page lives at most, for what the store does not record (a new
    /// identity in the keystore); any store write replaces cached pages at once.
    pub cache_ttl_secs: u64,
    /// Seconds a client has to send a request's headers, counted from the connection's
    /// start or the end of the previous answer: slow senders and idle keep-alive
    /// connections are closed after it.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body, counted from the end of its head:
    /// later, the request is answered 408 and the connection closed [default: the header
    /// timeout].
    pub body_timeout_secs: Option<u64>,
    /// Seconds an answer may wait for a client that reads nothing before the connection is
    /// closed.
    pub write_timeout_secs: u64,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: u32,
    /// Largest request head (request line and headers) in bytes; larger gets 431.
    pub max_header_bytes: u32,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
    /// The bearer token `metrics = "token"` asks for (also `SWARMFEED_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// Reverse proxies (addresses or CIDR ranges) whose `Forwarded` / `X-Forwarded-For`
    /// headers name the client; from any other peer those headers are ignored. Empty by
    /// default: the peer is the client. Used where a client's address matters (sign-in
    /// limits, the accounts' audit log).
    pub trusted_proxies: Vec<crate::Network>,
}

/// Who may read `/metrics`: what a node holds and how busy it is is nobody else's business
/// by default, but a Prometheus on the same machine (or one given a token) scrapes it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Anyone.
    Public,
    /// Clients connecting from a loopback address (behind a reverse proxy on the same
    /// machine that is every client: use `token` there, or keep the path off the proxy).
    #[default]
    Loopback,
    /// Requests with `Authorization: Bearer {metrics_token}`, from anywhere.
    Token,
    /// Nobody: `404`.
    Off,
}

impl std::str::FromStr for MetricsAccess {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "public" => Ok(MetricsAccess::Public),
            "loopback" => Ok(MetricsAccess::Loopback),
            "token" => Ok(MetricsAccess::Token),
            "off" => Ok(MetricsAccess::Off),
            _ => Err(format!(
                "{text:?} is not one of public, loopback, token, off"
            )),
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            export_items: 50,
            page_size: 50,
            cache_bytes: 64 << 20,
            cache_ttl_secs: 60,
            header_timeout_secs: 10,
            body_timeout_secs: None,
            write_timeout_secs: 60,
            max_connections: 2048,
            max_header_bytes: 32 << 10,
            metrics: MetricsAccess::Loopback,
            metrics_token: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl GatewayConfig {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(
            self.body_timeout_secs
                .unwrap_or(self.header_timeout_secs)
                .max(1),
        )
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs.max(1))
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs.max(1))
    }
}
