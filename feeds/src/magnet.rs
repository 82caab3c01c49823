//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<infohash>&dn=<name>&xl=<size>&tr=<tracker>&ws=<webseed>`.
//!
//! Written with the infohash as 40 lowercase hex digits and every other value
//! percent-encoded per RFC 3986 (everything but `A-Z a-z 0-9 - . _ ~`). Read leniently where
//! clients differ: hex or base32 infohashes, escapes in either case, `+` as a space in `dn`
//! (as web forms write it), indexed keys like `tr.1`, unknown parameters ignored.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::metainfo::InfoHash;

/// What a magnet link says about a torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Magnet {
    pub infohash: InfoHash,
    /// Display name (`dn`).
    pub name: Option<String>,
    /// Total size in bytes (`xl`).
    pub size: Option<u64>,
    /// Tracker URLs (`tr`).
    pub trackers: Vec<String>,
    /// BEP 19 web seed URLs (`ws`).
    pub webseeds: Vec<String>,
}

impl Magnet {
    /// A bare magnet link naming only the infohash.
    pub fn new(infohash: InfoHash) -> Magnet {
        Magnet {
            infohash,
            name: None,
            size: None,
            trackers: vec![],
            webseeds: vec![],
        }
    }
}

impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "magnet:?xt=urn:btih:{}", self.infohash)?;
        if let Some(name) = &self.name {
            write!(f, "&dn={}", PercentEncoded(name))?;
        }
        if let Some(size) = self.size {
            write!(f, "&xl={size}")?;
        }
        for tracker in &self.trackers {
            write!(f, "&tr={}", PercentEncoded(tracker))?;
        }
        for url in &self.webseeds {
            write!(f, "&ws={}", PercentEncoded(url))?;
        }
        Ok(())
    }
}

impl FromStr for Magnet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Magnet> {
        let query = s
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("magnet:?"))
            .map(|_| &s[8..])
            .ok_or(Error::BadMagnet("does not start with \"magnet:?\""))?;
        let mut infohash = None;
        let mut magnet = Magnet::new(InfoHash([0; 20]));
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair
                .split_once('=')
                .ok_or_else(|| bad(pair, "has no \"=value\""))?;
            let key = strip_index(key);
            let value = percent_decode(raw, key == "dn").map_err(|reason| bad(key, reason))?;
            if value.is_empty() && matches!(key, "xt" | "dn" | "xl" | "tr" | "ws") {
                return Err(bad(key, "is empty"));
            }
            match key {
                "xt" => {
                    let Some(hash) = strip_prefix_ignore_case(&value, "urn:btih:") else {
                        continue; // other URNs, such as BEP 52's urn:btmh:, do not concern v1
                    };
                    let hash = parse_btih(hash).ok_or_else(|| {
                        bad(key, "is not a 40-digit hex or 32-letter base32 infohash")
                    })?;
                    if infohash.is_some_and(|h| h != hash) {
                        return Err(bad(key, "names two different infohashes"));
                    }
                    infohash = Some(hash);
                }
                "dn" if magnet.name.is_some() => return Err(bad(key, "appears twice")),
                "dn" => magnet.name = Some(value),
                "xl" if magnet.size.is_some() => return Err(bad(key, "appears twice")),
                "xl" => {
                    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                    let size = digits.then(|| value.parse().ok()).flatten();
                    magnet.size = Some(size.ok_or_else(|| bad(key, "is not a size in bytes"))?);
                }
                "tr" => magnet.trackers.push(value),
                "ws" => magnet.webseeds.push(value),
                _ => {} // as, xs, kt, x.pe, so...: hints this crate does not use
            }
        }
        magnet.infohash = infohash.ok_or(Error::BadMagnet("has no xt=urn:btih: infohash"))?;
        Ok(magnet)
    }
}

fn bad(param: &str, reason: &'static str) -> Error {
    Error::BadMagnetParam {
        param: param.to_owned(),
        reason,
    }
}

/// `tr.1` → `tr`: some clients number repeated parameters.
fn strip_index(key: &str) -> &str {
    match key.split_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => key,
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// 40 hex digits or 32 base32 letters (RFC 4648, either case).
fn parse_btih(s: &str) -> Option<InfoHash> {
    match s.len() {
        40 => s.parse().ok(),
        32 => {
            let mut out = [0u8; 20];
            let (mut acc, mut bits, mut at) = (0u64, 0u32, 0usize);
            for byte in s.bytes() {
                let digit = match byte.to_ascii_uppercase() {
                    c @ b'A'..=b'Z' => c - b'A',
                    c @ b'2'..=b'7' => c - b'2' + 26,
                    _ => return None,
                };
                acc = acc << 5 | u64::from(digit);
                bits += 5;
                if bits >= 8 {
                    bits -= 8;
                    out[at] = (acc >> bits) as u8;
                    at += 1;
                }
            }
            Some(InfoHash(out))
        }
        _ => None,
    }
}

/// Displays a string with everything but RFC 3986 unreserved characters percent-encoded.
struct PercentEncoded<'a>(&'a str);

impl fmt::Display for PercentEncoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                write!(f, "{}", byte as char)?;
            } else {
                write!(f, "%{byte:02X}")?;
            }
        }
        Ok(())
    }
}

fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(byte.ok_or("has a '%' not followed by two hex digits")?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "is not UTF-8 once percent-decoded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALBUM: &str = "2b20b0da6bb954469e64d987d22a7d3cedebf47a";

    fn album() -> Magnet {
        Magnet {
            infohash: ALBUM.parse().unwrap(),
            name: Some("album".into()),
            size: None,
            trackers: vec![
                "http://tracker.example/announce".into(),
                "udp://tracker2.example:6969/announce".into(),
            ],
            webseeds: vec!["https://gw.example/ws/".into()],
        }
    }

    fn err(link: &str) -> Error {
        link.parse::<Magnet>().unwrap_err()
    }

    #[test]
    fn links_are_written_with_rfc_3986_escapes() {
        assert_eq!(
            album().to_string(),
            "magnet:?xt=urn:btih:2b20b0da6bb954469e64d987d22a7d3cedebf47a&dn=album\
             &tr=http%3A%2F%2Ftracker.example%2Fannounce\
             &tr=udp%3A%2F%2Ftracker2.example%3A6969%2Fannounce&ws=https%3A%2F%2Fgw.example%2Fws%2F"
        );
        let mut m = Magnet::new(ALBUM.parse().unwrap());
        m.name = Some("Été & friends +1 50%/日.txt".into());
        m.size = Some(40016);
        assert_eq!(
            m.to_string(),
            "magnet:?xt=urn:btih:2b20b0da6bb954469e64d987d22a7d3cedebf47a\
             &dn=%C3%89t%C3%A9%20%26%20friends%20%2B1%2050%25%2F%E6%97%A5.txt&xl=40016"
        );
        assert_eq!(m.to_string().parse::<Magnet>().unwrap(), m);
    }

    #[test]
    fn links_from_stock_clients_parse() {
        // As python3-libtorrent 2.0.8's make_magnet_uri wrote it for the same torrent.
        let libtorrent = "magnet:?xt=urn:btih:2b20b0da6bb954469e64d987d22a7d3cedebf47a&dn=album\
            &tr=http%3a%2f%2ftracker.example%2fannounce&tr=udp%3a%2f%2ftracker2.example%3a6969%2fannounce\
            &ws=https%3a%2f%2fgw.example%2fws%2f";
        assert_eq!(libtorrent.parse::<Magnet>().unwrap(), album());
        // Base32 infohash, '+' for spaces in dn, numbered tr keys, unknown and v2 parameters.
        let other = "MAGNET:?xt=urn:btmh:1220abcd&xt=urn:btih:FMQLBWTLXFKENHTE3GD5EKT5HTW6X5D2\
            &dn=my+album&tr.1=udp://t:1/a+b&x.pe=1.2.3.4:5&so=0-2&";
        let m: Magnet = other.parse().unwrap();
        assert_eq!(m.infohash.to_hex(), ALBUM);
        assert_eq!(m.name.as_deref(), Some("my album"));
        assert_eq!(m.trackers, vec!["udp://t:1/a+b".to_string()]);
    }

    #[test]
    fn bad_links_are_rejected_naming_the_parameter() {
        let p = |param: &str, reason| Error::BadMagnetParam {
            param: param.into(),
            reason,
        };
        let h = "xt=urn:btih:2b20b0da6bb954469e64d987d22a7d3cedebf47a";
        assert_eq!(
            err("http://x"),
            Error::BadMagnet("does not start with \"magnet:?\"")
        );
        assert_eq!(
            err("magnet:?dn=x"),
            Error::BadMagnet("has no xt=urn:btih: infohash")
        );
        assert_eq!(
            err("magnet:?xt=urn:btih:2b20"),
            p("xt", "is not a 40-digit hex or 32-letter base32 infohash")
        );
        assert_eq!(
            err(&format!("magnet:?{h}&xt=urn:btih:{}", "0".repeat(40))),
            p("xt", "names two different infohashes")
        );
        assert_eq!(
            err(&format!("magnet:?{h}&dn=%zz")),
            p("dn", "has a '%' not followed by two hex digits")
        );
        assert_eq!(
            err(&format!("magnet:?{h}&tr=%4")),
            p("tr", "has a '%' not followed by two hex digits")
        );
        assert_eq!(
            err(&format!("magnet:?{h}&dn=%FF")),
            p("dn", "is not UTF-8 once percent-decoded")
        );
        assert_eq!(
            err(&format!("magnet:?{h}&xl=-1")),
            p("xl", "is not a size in bytes")
        );
        assert_eq!(
            err(&format!("magnet:?{h}&xl=99999999999999999999")),
            p("xl", "is not a size in bytes")
        );
        assert_eq!(
            err(&format!("magnet:?{h}&dn=a&dn=b")),
            p("dn", "appears twice")
        );
        assert_eq!(err(&format!("magnet:?{h}&tr=")), p("tr", "is empty"));
        assert_eq!(
            err(&format!("magnet:?{h}&tr")),
            p("tr", "has no \"=value\"")
        );
    }

    proptest! {
        #[test]
        fn any_magnet_round_trips(
            hash in any::<[u8; 20]>(),
            name in proptest::option::of("\\PC{1,20}"),
            size in proptest::option::of(any::<u64>()),
            trackers in proptest::collection::vec("\\PC{1,20}", 0..3),
            webseeds in proptest::collection::vec("\\PC{1,20}", 0..3),
        ) {
            let magnet = Magnet { infohash: InfoHash(hash), name, size, trackers, webseeds };
            let link = magnet.to_string();
            prop_assert!(link.bytes().all(|b| b.is_ascii_graphic()));
            prop_assert_eq!(link.parse::<Magnet>().unwrap(), magnet);
        }
    }
}
