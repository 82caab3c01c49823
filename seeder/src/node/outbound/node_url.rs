//! A node's base URL as a node records and uses it: `http(s)://host[:port][/path]`, parsed
//! by the same URL parser the HTTP client uses, so the host checked is the host dialled.

use std::fmt;

use reqwest::Url;

/// The longest node URL taken.
pub const MAX_NODE_URL: usize = 512;

/// A parsed, normalized node base URL: scheme, host, port and path only (no user name,
/// password, query or fragment), lowercase host, numeric hosts in their one canonical form
/// (`127.1` is `127.0.0.1`), no default port, no trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUrl {
    url: Url,
    text: String,
}

/// Why a text is not a node URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadNodeUrl {
    #[error("the URL is empty or longer than {MAX_NODE_URL} bytes")]
    Length,
    #[error("the URL holds spaces or control characters")]
    Characters,
    #[error("the URL does not parse")]
    Unparsable,
    #[error("the URL is not http or https")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL holds a user name or password")]
    UserInfo,
    #[error("the URL holds a query or fragment (give the node's base URL)")]
    QueryOrFragment,
    #[error("the URL names localhost")]
    Localhost,
}

impl NodeUrl {
    /// Parses and normalizes `text`, refusing anything but a plain base URL.
    pub fn parse(text: &str) -> Result<NodeUrl, BadNodeUrl> {
        if text.is_empty() || text.len() > MAX_NODE_URL {
            return Err(BadNodeUrl::Length);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BadNodeUrl::Characters);
        }
        let url = Url::parse(text).map_err(|_| BadNodeUrl::Unparsable)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BadNodeUrl::Scheme);
        }
        let Some(host) = url.host() else {
            return Err(BadNodeUrl::NoHost);
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BadNodeUrl::UserInfo);
        }
        // `?` and `#` count even when empty: the text is then no plain base URL either.
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BadNodeUrl::QueryOrFragment);
        }
        if let url::Host::Domain(name) = host {
            let name = name.trim_end_matches('.');
            if name.is_empty() {
                return Err(BadNodeUrl::NoHost);
            }
            // RFC 6761: always the machine itself, whatever a resolver says.
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(BadNodeUrl::Localhost);
            }
        }
        let text = url.as_str().trim_end_matches('/').to_owned();
        Ok(NodeUrl { url, text })
    }

    /// The host: a domain name, or an address as the client dials it.
    pub fn host(&self) -> url::Host<&str> {
        // `parse` refused URLs without a host.
        self.url.host().unwrap_or(url::Host::Domain(""))
    }

    /// The port, the scheme's default if none is given.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(80)
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_are_normalized_to_scheme_host_port_and_path() {
        for (given, normal) in [
            ("http://example.org", "http://example.org"),
            ("http://Example.ORG:80/", "http://example.org"),
            ("https://example.org:443/node/", "https://example.org/node"),
            (
                "http://example.org:8080/a/../b",
                "http://example.org:8080/b",
            ),
            ("http://127.1:9000", "http://127.0.0.1:9000"),
            ("http://2130706433/", "http://127.0.0.1"),
            ("http://0x7f.0.0.1", "http://127.0.0.1"),
            ("http://0", "http://0.0.0.0"),
            ("http://[::FFFF:127.0.0.1]", "http://[::ffff:7f00:1]"),
        ] {
            assert_eq!(NodeUrl::parse(given).unwrap().as_str(), normal, "{given}");
        }
        let url = NodeUrl::parse("http://127.1:9000").unwrap();
        assert_eq!(
            url.host(),
            url::Host::<&str>::Ipv4(std::net::Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(url.port(), 9000);
        assert_eq!(NodeUrl::parse("https://example.org").unwrap().port(), 443);
    }

    #[test]
    fn anything_but_a_plain_http_base_url_is_refused() {
        let long = format!("http://example.org/{}", "a".repeat(MAX_NODE_URL));
        for (given, why) in [
            ("", BadNodeUrl::Length),
            (long.as_str(), BadNodeUrl::Length),
            ("http://example.org/a b", BadNodeUrl::Characters),
            ("http://example.org/\n", BadNodeUrl::Characters),
            ("example.org", BadNodeUrl::Unparsable),
            ("http://[::1", BadNodeUrl::Unparsable),
            ("ftp://example.org", BadNodeUrl::Scheme),
            ("file:///etc/passwd", BadNodeUrl::Scheme),
            ("gopher://127.0.0.1:6379/_INFO", BadNodeUrl::Scheme),
            ("http://x@127.0.0.1:9000/p?", BadNodeUrl::UserInfo),
            ("http://user:pass@example.org", BadNodeUrl::UserInfo),
            (
                "http://127.1:9000/internal/admin?secret=1#",
                BadNodeUrl::QueryOrFragment,
            ),
            ("http://example.org/?", BadNodeUrl::QueryOrFragment),
            ("http://example.org/#", BadNodeUrl::QueryOrFragment),
            ("http://LOCALHOST:9000", BadNodeUrl::Localhost),
            ("http://localhost.:9000", BadNodeUrl::Localhost),
            ("http://api.localhost", BadNodeUrl::Localhost),
        ] {
            assert_eq!(NodeUrl::parse(given), Err(why), "{given:?}");
        }
    }
}
