//! Networks in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address), as the settings
//! `fetch_allow` (networks a node may send requests to) and `[gateway] trusted_proxies`
//! list them. Parsed strictly: a typo such as `10.0.0.1/8` is refused, not widened.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network in CIDR notation, such as `10.0.0.0/8` or `fd00::/8`; a bare address is a
/// network of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` lies in the network (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_bits(u128::from(net.to_bits()), 32, self.prefix)
                    == prefix_bits(u128::from(ip.to_bits()), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_bits(net.to_bits(), 128, self.prefix)
                    == prefix_bits(ip.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn prefix_bits(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not a network (try 10.0.0.0/8 or fd00::/8)"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {width}"))?,
        };
        let bits = match address {
            IpAddr::V4(a) => u128::from(a.to_bits()),
            IpAddr::V6(a) => a.to_bits(),
        };
        let host_bits = if prefix == width {
            0
        } else {
            bits & (u128::MAX >> (128 - u32::from(width - prefix)))
        };
        if host_bits != 0 {
            return Err(format!(
                "{text:?} has bits set past its /{prefix} prefix (give the network's first address)"
            ));
        }
        Ok(Network { address, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl TryFrom<String> for Network {
    type Error = String;

    fn try_from(text: String) -> Result<Network, String> {
        text.parse()
    }
}

impl From<Network> for String {
    fn from(network: Network) -> String {
        network.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::Network;

    fn ip(text: &str) -> std::net::IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_parse_strictly_and_print_back() {
        let net: Network = "192.168.0.0/16".parse().unwrap();
        assert_eq!(net.to_string(), "192.168.0.0/16");
        assert!(net.contains(ip("192.168.255.1")));
        assert!(!net.contains(ip("192.169.0.1")));
        assert_eq!(
            "10.1.2.3".parse::<Network>().unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert!(
            "0.0.0.0/0"
                .parse::<Network>()
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        assert!(!"0.0.0.0/0".parse::<Network>().unwrap().contains(ip("::1")));
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "10/8",
            "127.1/32",
            "fd00::/129",
            "x",
            "",
        ] {
            assert!(bad.parse::<Network>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn ranges_hold_their_addresses_and_nothing_else() {
        let net = |text: &str| text.parse::<Network>().unwrap();
        assert!(net("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(net("fd00::/8").contains(ip("fd12::1")));
        assert!(!net("fd00::/8").contains(ip("fe80::1")));
        assert!(net("192.168.0.0/16").contains(ip("::ffff:192.168.4.4")));
        assert!(!net("::/0").contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "example.org", "10.0.0.0/x"] {
            let e = bad.parse::<Network>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
