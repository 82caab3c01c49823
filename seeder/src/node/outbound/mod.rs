//! Every request a node sends to another node (fetches, pushes, follower registrations,
//! peer hints) goes through here, under one policy: plain `http(s)` base URLs, hosts whose
//! every address is public (or trusted by the operator), connections made to the addresses
//! checked (the client resolves through [`CheckedResolver`], so no second lookup can give
//! another answer), no redirects, and answers read chunk by chunk and cut at a cap.

mod address;
mod node_url;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;

pub use address::AddressPolicy;
pub use node_url::{BadNodeUrl, NodeUrl};

/// How long resolving a host name may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take (answer included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an outbound request was not sent or its answer not taken.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{url:?}: {reason}")]
    BadUrl { url: String, reason: BadNodeUrl },
    #[error("{host} is {reason} ({address}); not dialled (allow it with fetch_allow)")]
    Refused {
        host: String,
        address: IpAddr,
        reason: &'static str,
    },
    #[error("{host} does not resolve: {message}")]
    Unresolved { host: String, message: String },
    #[error("{method} {url}: {status}{}", if status.is_redirection() { " (redirects are not followed)" } else { "" })]
    Status {
        method: &'static str,
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("{method} {url}: the answer is longer than {max} bytes; cut there")]
    TooLarge {
        method: &'static str,
        url: String,
        max: usize,
    },
    #[error("{method} {url}: {message}")]
    Request {
        method: &'static str,
        url: String,
        message: String,
    },
}

/// The node's HTTP client and the policy it runs under. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    policy: Arc<AddressPolicy>,
    client: reqwest::Client,
}

impl Outbound {
    pub fn new(policy: AddressPolicy) -> Result<Outbound, OutboundError> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and dial names itself, past the resolver's checks.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: policy.clone(),
            }))
            .build()
            .map_err(|e| OutboundError::Request {
                method: "build",
                url: String::new(),
                message: error_chain(&e),
            })?;
        Ok(Outbound { policy, client })
    }

    /// The policy requests run under.
    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// Whether `url` may be asked at all without resolving it: a node URL whose host, if
    /// it is an address, is allowed (a name is checked when it is resolved).
    pub fn may_ask(&self, url: &NodeUrl) -> bool {
        match host_address(url) {
            Some(ip) => self.policy.check(ip).is_ok(),
            None => true,
        }
    }

    /// Checks a node URL before it is recorded: it parses as a node URL and every address
    /// its host has now is allowed.
    pub async fn check_node_url(&self, text: &str) -> Result<NodeUrl, OutboundError> {
        let url = NodeUrl::parse(text).map_err(|reason| OutboundError::BadUrl {
            url: text.to_owned(),
            reason,
        })?;
        self.addresses(&url).await?;
        Ok(url)
    }

    /// Every address of `url`'s host, each allowed (else an error naming the first that
    /// is not), with `url`'s port.
    pub async fn addresses(&self, url: &NodeUrl) -> Result<Vec<SocketAddr>, OutboundError> {
        let port = url.port();
        match host_address(url) {
            Some(ip) => {
                self.check(&url.host().to_string(), ip)?;
                Ok(vec![SocketAddr::new(ip, port)])
            }
            None => resolve_checked(&self.policy, &url.host().to_string(), port).await,
        }
    }

    fn check(&self, host: &str, ip: IpAddr) -> Result<(), OutboundError> {
        self.policy
            .check(ip)
            .map_err(|reason| OutboundError::Refused {
                host: host.to_owned(),
                address: ip,
                reason,
            })
    }

    /// `base` (a node URL) followed by `path`, once `base`'s host is checked as far as it can
    /// be without resolving (names are checked by the resolver).
    fn request_url(&self, base: &str, path: &str) -> Result<String, OutboundError> {
        let url = NodeUrl::parse(base).map_err(|reason| OutboundError::BadUrl {
            url: base.to_owned(),
            reason,
        })?;
        if let Some(ip) = host_address(&url) {
            self.check(&url.host().to_string(), ip)?;
        }
        Ok(format!("{url}{path}"))
    }

    /// GETs `path` from the node at `base`: the answer's headers and at most `max` bytes of
    /// body, read chunk by chunk (a longer answer is cut at `max` and is an error).
    pub async fn get(
        &self,
        base: &str,
        path: &str,
        max: usize,
    ) -> Result<(HeaderMap, Vec<u8>), OutboundError> {
        let url = self.request_url(base, path)?;
        let failed = |e: reqwest::Error| OutboundError::Request {
            method: "GET",
            url: url.clone(),
            message: error_chain(&e),
        };
        let mut response = self.client.get(&url).send().await.map_err(failed)?;
        if !response.status().is_success() {
            return Err(OutboundError::Status {
                method: "GET",
                url,
                status: response.status(),
            });
        }
        let too_large = || OutboundError::TooLarge {
            method: "GET",
            url: url.clone(),
            max,
        };
        let announced = response.content_length();
        if announced.is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let mut body =
            Vec::with_capacity(announced.map_or(0, |n| usize::try_from(n).unwrap_or(max).min(max)));
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if chunk.len() > max - body.len() {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((response.headers().clone(), body))
    }

    /// POSTs `body` to `path` at the node at `base`, with `headers`: the answer's status (its
    /// body is not read).
    pub async fn post(
        &self,
        base: &str,
        path: &str,
        headers: &[(&'static str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<reqwest::StatusCode, OutboundError> {
        let url = self.request_url(base, path)?;
        let mut request = self.client.post(&url).timeout(timeout).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.map_err(|e| OutboundError::Request {
            method: "POST",
            url: url.clone(),
            message: error_chain(&e),
        })?;
        Ok(response.status())
    }
}

/// The host of `url` if it is an address.
fn host_address(url: &NodeUrl) -> Option<IpAddr> {
    match url.host() {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Resolves `host` and checks every address it has: one address refused refuses the name
/// (a name that also points inside is not a node to talk to).
async fn resolve_checked(
    policy: &AddressPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, OutboundError> {
    let unresolved = |message: String| OutboundError::Unresolved {
        host: host.to_owned(),
        message,
    };
    let found: Vec<SocketAddr> =
        tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| unresolved(format!("no answer within {RESOLVE_TIMEOUT:?}")))?
            .map_err(|e| unresolved(e.to_string()))?
            .collect();
    if found.is_empty() {
        return Err(unresolved("no address".into()));
    }
    for address in &found {
        policy
            .check(address.ip())
            .map_err(|reason| OutboundError::Refused {
                host: host.to_owned(),
                address: address.ip(),
                reason,
            })?;
    }
    Ok(found)
}

/// The HTTP client's resolver: the addresses it connects to are the ones checked here.
struct CheckedResolver {
    policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = resolve_checked(&policy, &host, 0).await?;
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An error with its causes (reqwest's own text leaves out why a connection failed).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
