//! Which IP addresses a node may send requests to: public unicast only, unless the operator
//! trusts a network (`fetch_allow`) or every address (`allow_private_fetch`).
//!
//! Checked on addresses, never on how a host is spelled: `127.1`, `0x7f.0.0.1` and
//! `2130706433` are parsed into 127.0.0.1 by the URL parser before they get here, names are
//! resolved first, and IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged
//! by that address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http_server::Network;

/// Which addresses outbound requests may go to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Every address (`allow_private_fetch`: tests, closed networks).
    pub allow_all: bool,
    /// Networks trusted although not public (`fetch_allow`).
    pub allow: Vec<Network>,
}

impl AddressPolicy {
    /// `Ok` if a request may go to `ip`, else why not (e.g. `"loopback"`).
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        if self.allow_all || self.allow.iter().any(|net| net.contains(ip)) {
            return Ok(());
        }
        match not_public(ip) {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

/// Why `ip` is not a public unicast address, or `None` if it is.
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => not_public_v4(ip),
        IpAddr::V6(ip) => not_public_v6(ip),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    // A shift by the whole width (prefix 0) is None on both sides: every address matches.
    let shift = 32 - u32::from(prefix);
    ip.to_bits().checked_shr(shift) == Ipv4Addr::from(net).to_bits().checked_shr(shift)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u8) -> bool {
    let shift = 128 - u32::from(prefix);
    ip.to_bits().checked_shr(shift) == Ipv6Addr::from(net).to_bits().checked_shr(shift)
}

fn not_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u8, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified (\"this network\", 0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (RFC 1918)"),
        (
            [100, 64, 0, 0],
            10,
            "shared address space (CGNAT, 100.64.0.0/10)",
        ),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private (RFC 1918)"),
        ([192, 0, 0, 0], 24, "reserved for IETF protocol assignments"),
        ([192, 0, 2, 0], 24, "reserved for documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([192, 168, 0, 0], 16, "private (RFC 1918)"),
        ([198, 18, 0, 0], 15, "reserved for benchmarking"),
        ([198, 51, 100, 0], 24, "reserved for documentation"),
        ([203, 0, 113, 0], 24, "reserved for documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, reason)| *reason)
}

fn not_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let embedded = |reason: &'static str, v4: Ipv4Addr| not_public_v4(v4).map(|_| reason);
    let s = ip.segments();
    let v4_at = |i: usize| Ipv4Addr::from((u32::from(s[i]) << 16) | u32::from(s[i + 1]));
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return embedded("IPv4-mapped, of an address that is not public", v4);
    }
    if in_v6(ip, [0; 8], 96) {
        return Some("IPv4-compatible (deprecated)");
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return embedded("NAT64, of an address that is not public", v4_at(6));
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return embedded("6to4, of an address that is not public", v4_at(1));
    }
    const RANGES: &[([u16; 8], u8, &str)] = &[
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "local-use NAT64 (64:ff9b:1::/48)",
        ),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only (100::/64)"),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "reserved for documentation",
        ),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "reserved for IETF protocol assignments (Teredo included)",
        ),
        (
            [0x3fff, 0, 0, 0, 0, 0, 0, 0],
            20,
            "reserved for documentation",
        ),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local (fc00::/7)"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
        // Everything else outside global unicast is reserved.
        ([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, ""),
    ];
    match RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
    {
        Some((_, _, "")) => None,
        Some((_, _, reason)) => Some(reason),
        None => Some("reserved (outside global unicast 2000::/3)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_that_are_not_public_unicast_are_refused_with_a_reason() {
        let refused = [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "192.88.99.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::8.8.8.8",
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "4000::1",
            "5f00::1",
        ];
        let policy = AddressPolicy::default();
        for text in refused {
            assert!(policy.check(ip(text)).is_err(), "{text} was allowed");
        }
        assert_eq!(policy.check(ip("127.0.0.1")), Err("loopback"));
        assert_eq!(
            policy.check(ip("100.64.0.1")),
            Err("shared address space (CGNAT, 100.64.0.0/10)")
        );
    }

    #[test]
    fn public_unicast_addresses_and_public_ones_carried_in_ipv6_are_allowed() {
        let policy = AddressPolicy::default();
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "192.169.0.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ] {
            assert_eq!(policy.check(ip(text)), Ok(()), "{text} was refused");
        }
    }

    #[test]
    fn an_operator_trusts_networks_or_everything() {
        let lan = AddressPolicy {
            allow_all: false,
            allow: vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
        };
        assert_eq!(lan.check(ip("10.9.8.7")), Ok(()));
        assert_eq!(lan.check(ip("::ffff:10.9.8.7")), Ok(()));
        assert_eq!(lan.check(ip("fd00::5")), Ok(()));
        assert!(lan.check(ip("192.168.0.1")).is_err());
        assert!(lan.check(ip("127.0.0.1")).is_err());
        assert!(lan.check(ip("fc00::1")).is_err());
        let all = AddressPolicy {
            allow_all: true,
            allow: Vec::new(),
        };
        assert_eq!(all.check(ip("127.0.0.1")), Ok(()));
    }
}
