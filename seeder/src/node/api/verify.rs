//! Verifying a feed as the API offers it: fetch it from wherever it can be found and check it
//! as a follower would, keeping nothing (node/verify.rs does the checking). One
//! implementation for both callers: a running node (`GET /verify` on the control socket; it
//! lends its warm DHT) and `swarmfeed verify` with no node running
//! ([`verify_without_node`]), each over a [`FetchNode`] of the request's own. Verify only
//! reads, so it takes no actor.

use std::time::Duration;

use axum::http::StatusCode;

use super::NodeApi;
use super::parse::{parse_feed, parse_identity};
use super::types::{FetchOptions, Verdict, VerifyRequest};
use crate::node::FetchNode;
use crate::node::verify::verify_feed;
use engine::dht::DhtNode;
use http_server::Network;
use http_server::{ApiError, ErrorCode};

/// How long a verify looks before it gives up.
const VERIFY_LIMIT: Duration = Duration::from_secs(180);

impl NodeApi {
    /// Verifies a feed with this node's DHT (or the bootstrap the request names).
    pub async fn verify(&self, request: VerifyRequest) -> Result<Verdict, ApiError> {
        verify(request, Some(&self.node.dht)).await
    }
}

/// Verifies a feed with no node running: the fetcher starts a DHT node of its own,
/// bootstrapped from the request's list.
pub async fn verify_without_node(request: VerifyRequest) -> Result<Verdict, ApiError> {
    verify(request, None).await
}

async fn verify(request: VerifyRequest, shared_dht: Option<&DhtNode>) -> Result<Verdict, ApiError> {
    let identity = parse_identity(&request.identity)?;
    let feed = parse_feed(&request.feed)?;
    let fetcher = FetchNode::for_request(&request.fetch, shared_dht)
        .await
        .map_err(fetch_start_failed)?;
    let result = tokio::time::timeout(
        VERIFY_LIMIT,
        verify_feed(&fetcher.fetcher(), &identity, &feed, &request.fetch.nodes),
    )
    .await;
    fetcher.shutdown().await;
    match result {
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::NotFound,
            format!("no verdict within {VERIFY_LIMIT:?}: the feed was not found"),
        )),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::VerifyFailed,
            format!("invalid: {identity}/{feed}: {e}"),
        )),
        Ok(Ok(verdict)) => Ok(verdict),
    }
}

/// The fetcher could not start (a port, the scratch directory): the node's fault, not the
/// request's; the message goes to the operator who asked.
pub(super) fn fetch_start_failed(e: crate::node::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        format!("cannot start fetching: {e}"),
    )
}

/// The keys of a verify query, in the order [`VerifyRequest::to_query`] writes them.
const KEYS: [&str; 7] = [
    "identity",
    "feed",
    "node",
    "dht_bootstrap",
    "allow_private_fetch",
    "fetch_allow",
    "bind_ip",
];

impl VerifyRequest {
    /// The request as a URL query (`GET /verify?…`): `node` once per node, lists joined
    /// with commas, `dht_bootstrap` absent for the node's own DHT.
    pub fn to_query(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        out.append_pair("identity", &self.identity);
        out.append_pair("feed", &self.feed);
        let FetchOptions {
            nodes,
            dht_bootstrap,
            allow_private_fetch,
            fetch_allow,
            bind_ip,
        } = &self.fetch;
        for node in nodes {
            out.append_pair("node", node);
        }
        if let Some(list) = dht_bootstrap {
            out.append_pair("dht_bootstrap", &list.join(","));
        }
        out.append_pair("allow_private_fetch", &allow_private_fetch.to_string());
        let networks: Vec<String> = fetch_allow.iter().map(Network::to_string).collect();
        out.append_pair("fetch_allow", &networks.join(","));
        out.append_pair("bind_ip", &bind_ip.to_string());
        out.finish()
    }

    /// A request from a URL query: `400 bad_query` for an unknown key or a bad value.
    pub fn from_query(query: &str) -> Result<VerifyRequest, ApiError> {
        let bad = |message: String| ApiError::bad_request(ErrorCode::BadQuery, message);
        let list = |value: &str| -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut request = VerifyRequest::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "identity" => request.identity = value.into_owned(),
                "feed" => request.feed = value.into_owned(),
                "node" => request.fetch.nodes.push(value.into_owned()),
                "dht_bootstrap" => request.fetch.dht_bootstrap = Some(list(&value)),
                "allow_private_fetch" => {
                    request.fetch.allow_private_fetch = value
                        .parse()
                        .map_err(|_| bad(format!("allow_private_fetch={value:?}: true or false")))?
                }
                "fetch_allow" => {
                    request.fetch.fetch_allow = list(&value)
                        .iter()
                        .map(|net| net.parse().map_err(|e| bad(format!("fetch_allow: {e}"))))
                        .collect::<Result<_, _>>()?
                }
                "bind_ip" => {
                    request.fetch.bind_ip = value
                        .parse()
                        .map_err(|_| bad(format!("bind_ip={value:?} is not an IPv4 address")))?
                }
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?} (known: {})",
                        KEYS.join(", ")
                    )));
                }
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verify_request_survives_its_query() {
        let request = VerifyRequest {
            identity: "abc".into(),
            feed: "main".into(),
            fetch: FetchOptions {
                nodes: vec!["http://a.example".into(), "http://b.example:8080/".into()],
                dht_bootstrap: Some(vec!["127.0.0.1:6881".into(), "h.example:1".into()]),
                allow_private_fetch: true,
                fetch_allow: vec!["10.0.0.0/8".parse().unwrap()],
                bind_ip: std::net::Ipv4Addr::LOCALHOST,
            },
        };
        assert_eq!(
            VerifyRequest::from_query(&request.to_query()).unwrap(),
            request
        );
        // No bootstrap list (the node's own DHT) and an empty one (no DHT) differ.
        let own_dht = VerifyRequest::default();
        assert_eq!(
            VerifyRequest::from_query(&own_dht.to_query()).unwrap(),
            own_dht
        );
        let no_dht = VerifyRequest {
            fetch: FetchOptions {
                dht_bootstrap: Some(Vec::new()),
                ..FetchOptions::default()
            },
            ..VerifyRequest::default()
        };
        assert_eq!(
            VerifyRequest::from_query(&no_dht.to_query()).unwrap(),
            no_dht
        );
        let refused = VerifyRequest::from_query("identity=a&colour=red").unwrap_err();
        assert_eq!(refused.code(), ErrorCode::BadQuery);
    }
}
