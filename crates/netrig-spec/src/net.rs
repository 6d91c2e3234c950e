//! Small address types: an interface address with its prefix length, and the
//! test prefixes netrig is allowed to give to lab hosts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address with a prefix length, as written on an interface (`192.0.2.1/24`)
/// or as a route destination (`198.18.0.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Why a string is not an `addr/len`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetParseError {
    MissingPrefix,
    BadAddress(String),
    BadPrefix(String, u8),
}

impl fmt::Display for NetParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetParseError::MissingPrefix => write!(f, "missing prefix length (write addr/len)"),
            NetParseError::BadAddress(a) => write!(f, "`{a}` is not an IPv4 or IPv6 address"),
            NetParseError::BadPrefix(p, max) => {
                write!(f, "prefix length `{p}` is not a number in 0..={max}")
            }
        }
    }
}

impl IpNet {
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        IpNet { addr, prefix }
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    pub fn max_prefix(&self) -> u8 {
        if self.is_ipv4() {
            32
        } else {
            128
        }
    }

    /// The network this address belongs to (host bits cleared).
    pub fn network(&self) -> IpNet {
        IpNet::new(mask(self.addr, self.prefix), self.prefix)
    }

    pub fn has_host_bits(&self) -> bool {
        self.network().addr != self.addr
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_ipv4() && mask(ip, self.prefix) == self.network().addr
    }

    /// Whether `other` lies wholly inside this prefix.
    pub fn covers(&self, other: &IpNet) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// Parse `addr/len`; a bare address is refused so that intent is explicit.
    pub fn parse(s: &str) -> Result<IpNet, NetParseError> {
        let (a, p) = s.split_once('/').ok_or(NetParseError::MissingPrefix)?;
        let addr = IpAddr::from_str(a).map_err(|_| NetParseError::BadAddress(a.to_string()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| NetParseError::BadPrefix(p.to_string(), max))?;
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix as u32)
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix as u32)
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// The only prefixes a lab host may be given: documentation and benchmarking
/// ranges, so that a lab can never be confused with a real network.
pub const TEST_PREFIXES: &[&str] = &[
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "198.18.0.0/15",
    "2001:db8::/32",
];

pub fn is_test_address(ip: IpAddr) -> bool {
    TEST_PREFIXES
        .iter()
        .filter_map(|p| IpNet::parse(p).ok())
        .any(|p| p.contains(ip))
}

/// A prefix is allowed as a route destination when it is a default route or lies
/// inside the test prefixes.
pub fn is_test_prefix(net: &IpNet) -> bool {
    net.prefix == 0
        || TEST_PREFIXES
            .iter()
            .filter_map(|p| IpNet::parse(p).ok())
            .any(|p| p.covers(net))
}

pub fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Parse `aa:bb:cc:dd:ee:ff` (or `-` separated): the flow notation's parser,
/// so a topology and a flow accept the same MACs.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    s.parse::<netrig_flow::MacAddr>().ok().map(|m| m.0)
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl serde::Serialize for IpNet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let n = IpNet::parse("192.0.2.77/24").unwrap();
        assert!(n.has_host_bits());
        assert_eq!(n.network().to_string(), "192.0.2.0/24");
        assert!(n.contains("192.0.2.1".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        let v6 = IpNet::parse("2001:db8:18::/64").unwrap();
        assert!(!v6.has_host_bits());
        assert!(v6.contains("2001:db8:18::5".parse().unwrap()));
        assert_eq!(IpNet::parse("1.2.3.4"), Err(NetParseError::MissingPrefix));
        assert!(IpNet::parse("1.2.3.4/33").is_err());
        assert!(IpNet::parse("::1/129").is_err());
    }

    #[test]
    fn test_prefix_policy() {
        assert!(is_test_address("198.19.255.1".parse().unwrap()));
        assert!(!is_test_address("10.0.0.1".parse().unwrap()));
        assert!(!is_test_address("2001:db9::1".parse().unwrap()));
        assert!(is_test_prefix(&IpNet::parse("0.0.0.0/0").unwrap()));
        assert!(!is_test_prefix(&IpNet::parse("198.0.0.0/8").unwrap()));
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac("02:00:00:00:00:0a"), Some([2, 0, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(parse_mac("02:00:00:00:00:0g"), None);
        assert_eq!(format_mac(&[2, 0, 0, 0, 0, 10]), "02:00:00:00:00:0a");
    }
}
