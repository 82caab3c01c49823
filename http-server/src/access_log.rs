//! Access log: one line per answered request on the target `swarmfeed::access`, written when
//! the answer's body ends or the client goes away: peer, method, path, status, body bytes
//! sent, duration. A transfer cut short shows fewer bytes than the file.
//!
//! Lines are `tracing` events (`SWARMFEED_LOG=info,swarmfeed::access=off` silences them);
//! `swarmfeed serve` writes them in batches (see [`crate::log`]), so a line may appear up to
//! [`crate::log::FLUSH_EVERY`] after its request ended.
//!
//! Paths that carry a secret (mailed links ending in a token, e.g. `/account/confirm/…`) are
//! logged with everything after their prefix replaced by `[redacted]`: the server is told
//! the prefixes ([`crate::server::Limits::redacted_paths`]); it knows nothing of accounts.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::http::uri::PathAndQuery;
use axum::http::{Method, Request, StatusCode};

use crate::log::ACCESS;

/// Whether access lines are wanted now (the `tracing` filter of the process).
pub fn enabled() -> bool {
    tracing::enabled!(target: ACCESS, tracing::Level::INFO)
}

/// What a request's line needs from its head, taken before the request is handed on.
pub struct Start {
    start: Instant,
    peer: IpAddr,
    method: Method,
    path: Option<PathAndQuery>,
    redacted: &'static [&'static str],
}

impl Start {
    /// `redacted`: path prefixes after which a path holds a secret.
    pub fn new<B>(
        request: &Request<B>,
        peer: SocketAddr,
        redacted: &'static [&'static str],
    ) -> Start {
        Start {
            start: Instant::now(),
            peer: peer.ip(),
            method: request.method().clone(),
            // Cloning shares the request's bytes: no copy.
            path: request.uri().path_and_query().cloned(),
            redacted,
        }
    }

    /// Logs the request: its answer's status and the body bytes sent.
    pub fn finish(self, status: StatusCode, bytes: u64) {
        let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let path = self.path.as_ref().map_or("/", PathAndQuery::as_str);
        let path = redact(path, self.redacted);
        tracing::info!(
            target: ACCESS,
            peer = %self.peer,
            method = %self.method,
            path = %path,
            status = status.as_u16(),
            bytes,
            micros
        );
    }
}

/// `path` with what follows a secret-bearing prefix (query included) replaced.
pub fn redact<'a>(path: &'a str, prefixes: &[&str]) -> std::borrow::Cow<'a, str> {
    match prefixes.iter().find(|p| path.starts_with(**p)) {
        Some(prefix) if path.len() > prefix.len() => format!("{prefix}[redacted]").into(),
        _ => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_token_after_a_listed_prefix_is_replaced_and_other_paths_kept() {
        let prefixes = ["/account/confirm/", "/account/reset/"];
        assert_eq!(
            redact("/account/confirm/abcDEF123?x=1", &prefixes),
            "/account/confirm/[redacted]"
        );
        assert_eq!(redact("/account/reset/", &prefixes), "/account/reset/");
        assert_eq!(
            redact("/account/sign-in?next=/", &prefixes),
            "/account/sign-in?next=/"
        );
        assert_eq!(redact("/feed/x", &[]), "/feed/x");
    }
}
