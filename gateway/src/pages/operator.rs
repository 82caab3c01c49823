//! Who may see the operator's pages (`/status`): anyone if `[status] open`, else a client on
//! loopback that no proxy forwarded, or one that gives the configured token (HTTP Basic
//! password with any user name, or `Authorization: Bearer`). The token is compared as
//! BLAKE3 hashes, whose equality is constant-time, so timing tells nothing about it.

use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http_server::StatusConfig;
use http_server::{ApiError, ErrorCode};

use super::PageError;

/// Headers a reverse proxy adds: a request carrying one came from elsewhere, even if the
/// connection is from loopback.
const FORWARDING: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// `Ok` if the request may see operator pages, else the answer to give (401 with a Basic
/// challenge when a token is configured, 403 without).
pub fn check(
    config: &StatusConfig,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<(), Box<Response>> {
    if config.open {
        return Ok(());
    }
    let proxied = FORWARDING.iter().any(|name| headers.contains_key(*name));
    if peer.is_some_and(|p| p.ip().is_loopback()) && !proxied {
        return Ok(());
    }
    let Some(token) = config.token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(Box::new(
            PageError(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::StatusForbidden,
                "the status page is for the node's operator: open it from the node itself \
                 (loopback), or set [status] token or open in its config",
            ))
            .into_response(),
        ));
    };
    if offered(headers).is_some_and(|given| same_secret(&given, token)) {
        return Ok(());
    }
    let mut response = PageError(ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::StatusUnauthorized,
        "the status page needs the operator's token (any user name, the token as password)",
    ))
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"swarmfeed status\", charset=\"UTF-8\""),
    );
    Err(Box::new(response))
}

/// The secret a request offers: a Bearer token, or a Basic password.
fn offered(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        return Some(decoded[colon + 1..].to_vec());
    }
    None
}

/// Constant-time: `blake3::Hash`'s equality does not stop at the first differing byte.
fn same_secret(given: &[u8], token: &str) -> bool {
    blake3::hash(given) == blake3::hash(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn loopback_token_and_open_decide_who_sees_the_status_page() {
        let local: Option<SocketAddr> = Some("127.0.0.1:5000".parse().unwrap());
        let remote: Option<SocketAddr> = Some("192.0.2.7:5000".parse().unwrap());
        let closed = StatusConfig::default();
        assert!(check(&closed, local, &HeaderMap::new()).is_ok());
        let forbidden = check(&closed, remote, &HeaderMap::new()).unwrap_err();
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        // Through a reverse proxy on the same machine: not the operator.
        let proxied = headers(&[("x-forwarded-for", "192.0.2.7")]);
        assert!(check(&closed, local, &proxied).is_err());

        let with_token = StatusConfig {
            open: false,
            token: Some("s3cret".into()),
        };
        let asked = check(&with_token, remote, &HeaderMap::new()).unwrap_err();
        assert_eq!(asked.status(), StatusCode::UNAUTHORIZED);
        assert!(asked.headers().contains_key(header::WWW_AUTHENTICATE));
        // "anyone:s3cret" and "anyone:s3cre" in Basic.
        let basic = headers(&[("authorization", "Basic YW55b25lOnMzY3JldA==")]);
        assert!(check(&with_token, remote, &basic).is_ok());
        let wrong = headers(&[("authorization", "Basic YW55b25lOnMzY3Jl")]);
        assert!(check(&with_token, remote, &wrong).is_err());
        let bearer = headers(&[("authorization", "Bearer s3cret")]);
        assert!(check(&with_token, remote, &bearer).is_ok());
        let garbage = headers(&[("authorization", "Basic !!!")]);
        assert!(check(&with_token, remote, &garbage).is_err());

        let open = StatusConfig {
            open: true,
            token: None,
        };
        assert!(check(&open, remote, &proxied).is_ok());
    }
}
