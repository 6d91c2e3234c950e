//! Flow specifications: what a generator sends, and the mausezahn-style notation
//! (`sp=1024,dp=0-32768`) people already know from the kernel selftests.
//!
//! A [`FlowSpec`] describes a cartesian product of source/destination addresses
//! and ports. Iteration follows mausezahn: the destination port varies fastest,
//! then the source port, then the destination address, then the source address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{FlowError, ParseError, ParseErrorKind};

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = ParseErrorKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let p = parts.next().ok_or(ParseErrorKind::InvalidMac)?;
            if p.is_empty() || p.len() > 2 {
                return Err(ParseErrorKind::InvalidMac);
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| ParseErrorKind::InvalidMac)?;
        }
        if parts.next().is_some() {
            return Err(ParseErrorKind::InvalidMac);
        }
        Ok(MacAddr(out))
    }
}

/// An inclusive range of ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    /// A single port.
    pub const fn single(p: u16) -> Self {
        PortRange { start: p, end: p }
    }
    /// An inclusive range; `None` if `start > end`.
    pub const fn new(start: u16, end: u16) -> Option<Self> {
        if start > end {
            None
        } else {
            Some(PortRange { start, end })
        }
    }
    /// Number of ports in the range (1..=65536).
    pub fn len(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }
    /// Always false: a range holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Whether `p` lies in the range.
    pub fn contains(&self, p: u16) -> bool {
        self.start <= p && p <= self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

fn parse_port(s: &str) -> Result<u16, ParseErrorKind> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseErrorKind::InvalidPort(s.to_string()));
    }
    // Digits only, so the only failure left is overflow.
    match s.parse::<u64>() {
        Ok(v) if v <= 65535 => Ok(v as u16),
        _ => Err(ParseErrorKind::PortOutOfRange(s.to_string())),
    }
}

impl FromStr for PortRange {
    type Err = ParseErrorKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('-') {
            None => Ok(PortRange::single(parse_port(s)?)),
            Some((a, b)) => {
                let (a, b) = (parse_port(a)?, parse_port(b)?);
                PortRange::new(a, b).ok_or(ParseErrorKind::ReversedRange)
            }
        }
    }
}

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpRange {
    V4 { start: Ipv4Addr, end: Ipv4Addr },
    V6 { start: Ipv6Addr, end: Ipv6Addr },
}

impl IpRange {
    /// A single address.
    pub fn single(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => IpRange::V4 { start: a, end: a },
            IpAddr::V6(a) => IpRange::V6 { start: a, end: a },
        }
    }
    /// Number of addresses in the range (at least 1).
    pub fn len(&self) -> u128 {
        match *self {
            IpRange::V4 { start, end } => u128::from(u32::from(end) - u32::from(start)) + 1,
            // A full /0 would overflow; saturate, nobody iterates that far.
            IpRange::V6 { start, end } => (u128::from(end) - u128::from(start)).saturating_add(1),
        }
    }
    /// Always false: a range holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// The `i`-th address of the range (wrapping modulo its length).
    pub fn nth(&self, i: u128) -> IpAddr {
        let i = i % self.len();
        match *self {
            IpRange::V4 { start, .. } => IpAddr::V4(Ipv4Addr::from(u32::from(start) + i as u32)),
            IpRange::V6 { start, .. } => IpAddr::V6(Ipv6Addr::from(u128::from(start) + i)),
        }
    }
    /// First address.
    pub fn first(&self) -> IpAddr {
        self.nth(0)
    }
    /// True for IPv6 ranges.
    pub fn is_v6(&self) -> bool {
        matches!(self, IpRange::V6 { .. })
    }
    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (IpRange::V4 { start, end }, IpAddr::V4(a)) => start <= a && a <= end,
            (IpRange::V6 { start, end }, IpAddr::V6(a)) => start <= a && a <= end,
            _ => false,
        }
    }
}

impl From<IpAddr> for IpRange {
    fn from(ip: IpAddr) -> Self {
        IpRange::single(ip)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpRange::V4 { start, end } if start == end => write!(f, "{start}"),
            IpRange::V6 { start, end } if start == end => write!(f, "{start}"),
            IpRange::V4 { start, end } => write!(f, "{start}-{end}"),
            IpRange::V6 { start, end } => write!(f, "{start}-{end}"),
        }
    }
}

impl FromStr for IpRange {
    type Err = ParseErrorKind;
    /// `a`, `a-b` or `prefix/len` (every address of the prefix, network and
    /// broadcast included, as mausezahn does).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let addr = |t: &str| {
            t.trim()
                .parse::<IpAddr>()
                .map_err(|_| ParseErrorKind::InvalidAddress(t.trim().to_string()))
        };
        if let Some((a, len)) = s.split_once('/') {
            let a = addr(a)?;
            let len: u32 = len
                .parse()
                .map_err(|_| ParseErrorKind::InvalidPrefix(len.to_string()))?;
            return match a {
                IpAddr::V4(a) if len <= 32 => {
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    let start = u32::from(a) & mask;
                    Ok(IpRange::V4 {
                        start: start.into(),
                        end: (start | !mask).into(),
                    })
                }
                IpAddr::V6(a) if len <= 128 => {
                    let mask = if len == 0 {
                        0
                    } else {
                        u128::MAX << (128 - len)
                    };
                    let start = u128::from(a) & mask;
                    Ok(IpRange::V6 {
                        start: start.into(),
                        end: (start | !mask).into(),
                    })
                }
                _ => Err(ParseErrorKind::InvalidPrefix(len.to_string())),
            };
        }
        match s.split_once('-') {
            None => Ok(IpRange::single(addr(s)?)),
            Some((a, b)) => match (addr(a)?, addr(b)?) {
                (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => Ok(IpRange::V4 { start: a, end: b }),
                (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => Ok(IpRange::V6 { start: a, end: b }),
                (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                    Err(ParseErrorKind::ReversedRange)
                }
                _ => Err(ParseErrorKind::MixedFamilies),
            },
        }
    }
}

/// TCP flag bits (the low byte of the flags field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    const NAMES: [(&'static str, u8); 8] = [
        ("fin", 0x01),
        ("syn", 0x02),
        ("rst", 0x04),
        ("psh", 0x08),
        ("ack", 0x10),
        ("urg", 0x20),
        ("ece", 0x40),
        ("cwr", 0x80),
    ];
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, o: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | o.0)
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, bit) in Self::NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl FromStr for TcpFlags {
    type Err = ParseErrorKind;
    /// `syn`, `syn|ack`, `syn+ack` (case-insensitive), or `none`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bits = 0u8;
        for name in s.split(['|', '+']) {
            let name = name.trim().to_ascii_lowercase();
            if name == "none" {
                continue;
            }
            let (_, bit) = Self::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| ParseErrorKind::UnknownFlag(name.clone()))?;
            bits |= bit;
        }
        Ok(TcpFlags(bits))
    }
}

/// The transport part of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4 {
    /// UDP datagrams.
    Udp { sp: PortRange, dp: PortRange },
    /// TCP segments with fixed flags (SYN by default) and a fixed sequence number.
    Tcp {
        sp: PortRange,
        dp: PortRange,
        flags: TcpFlags,
        seq: u32,
    },
    /// ICMP echo requests; the sequence number counts packets.
    IcmpEcho { id: u16 },
    /// ICMPv6 echo requests; the sequence number counts packets.
    Icmpv6Echo { id: u16 },
}

/// Protocol selector used by the notation parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
    Icmp,
    Icmpv6,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
        })
    }
}

impl FromStr for Proto {
    type Err = ParseErrorKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "udp" => Ok(Proto::Udp),
            "tcp" => Ok(Proto::Tcp),
            "icmp" | "icmpv4" | "ping" => Ok(Proto::Icmp),
            "icmp6" | "icmpv6" | "ping6" => Ok(Proto::Icmpv6),
            other => Err(ParseErrorKind::UnknownProto(other.to_string())),
        }
    }
}

impl L4 {
    /// Default transport for a protocol: ports 0, SYN for TCP, id 1 for echo.
    pub fn default_for(proto: Proto) -> L4 {
        let p0 = PortRange::single(0);
        match proto {
            Proto::Udp => L4::Udp { sp: p0, dp: p0 },
            Proto::Tcp => L4::Tcp {
                sp: p0,
                dp: p0,
                flags: TcpFlags::SYN,
                seq: 0,
            },
            Proto::Icmp => L4::IcmpEcho { id: 1 },
            Proto::Icmpv6 => L4::Icmpv6Echo { id: 1 },
        }
    }
    /// The protocol of this transport.
    pub fn proto(&self) -> Proto {
        match self {
            L4::Udp { .. } => Proto::Udp,
            L4::Tcp { .. } => Proto::Tcp,
            L4::IcmpEcho { .. } => Proto::Icmp,
            L4::Icmpv6Echo { .. } => Proto::Icmpv6,
        }
    }
    /// Source and destination port ranges (single port 0 for ICMP).
    pub fn ports(&self) -> (PortRange, PortRange) {
        match *self {
            L4::Udp { sp, dp } | L4::Tcp { sp, dp, .. } => (sp, dp),
            _ => (PortRange::single(0), PortRange::single(0)),
        }
    }
    fn ports_mut_is_none(&self) -> bool {
        !matches!(self, L4::Udp { .. } | L4::Tcp { .. })
    }
    fn ports_mut(&mut self) -> Option<(&mut PortRange, &mut PortRange)> {
        match self {
            L4::Udp { sp, dp } | L4::Tcp { sp, dp, .. } => Some((sp, dp)),
            _ => None,
        }
    }
}

/// Payload tag identity for a flow; the sequence number counts packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TagSpec {
    pub stream: u32,
    pub src: u16,
    pub dst: u16,
}

/// Everything a generator needs to emit one flow (a product of ranges).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSpec {
    /// Source MAC; `None` uses the sending interface's address.
    pub src_mac: Option<MacAddr>,
    /// Destination MAC; `None` resolves the next hop through the neighbour table.
    pub dst_mac: Option<MacAddr>,
    pub src_ip: IpRange,
    pub dst_ip: IpRange,
    pub l4: L4,
    /// Total packets. `None` means one pass over the product, or, with a
    /// duration, as many passes as fit.
    pub count: Option<u64>,
    /// Packets per second; `None` sends as fast as possible.
    pub rate_pps: Option<u64>,
    /// Stop after this long even if `count` is not reached.
    pub duration: Option<Duration>,
    /// Frame length without FCS; `None` is max(60, headers + tag).
    pub frame_size: Option<usize>,
    pub ttl: u8,
    /// Put a [`crate::tag::Tag`] at the start of the payload.
    pub tag: Option<TagSpec>,
}

/// Passes over a product larger than this must be bounded explicitly.
pub const MAX_IMPLICIT_PACKETS: u128 = 1 << 32;
/// Largest frame we build (no jumbo frames).
pub const MAX_FRAME: usize = 9216;

impl FlowSpec {
    /// A flow with defaults: ports 0, one pass, unpaced, minimum frame, TTL 64.
    pub fn new(l4: L4, src_ip: impl Into<IpRange>, dst_ip: impl Into<IpRange>) -> Self {
        FlowSpec {
            src_mac: None,
            dst_mac: None,
            src_ip: src_ip.into(),
            dst_ip: dst_ip.into(),
            l4,
            count: None,
            rate_pps: None,
            duration: None,
            frame_size: None,
            ttl: 64,
            tag: None,
        }
    }

    /// A UDP flow between two addresses, ports 0; refine with [`FlowSpec::with_args`].
    pub fn udp(src: impl Into<IpRange>, dst: impl Into<IpRange>) -> Self {
        Self::new(L4::default_for(Proto::Udp), src, dst)
    }

    /// A TCP SYN flow between two addresses, ports 0.
    pub fn tcp_syn(src: impl Into<IpRange>, dst: impl Into<IpRange>) -> Self {
        Self::new(L4::default_for(Proto::Tcp), src, dst)
    }

    /// An ICMP (or ICMPv6, by address family) echo request flow.
    pub fn echo(src: impl Into<IpRange>, dst: impl Into<IpRange>) -> Self {
        let (src, dst) = (src.into(), dst.into());
        let proto = if src.is_v6() {
            Proto::Icmpv6
        } else {
            Proto::Icmp
        };
        Self::new(L4::default_for(proto), src, dst)
    }

    /// Parse a complete flow: `proto` plus comma-separated `key=value` items in
    /// which `sa=` and `da=` are required. See [`FlowSpec::with_args`] for keys.
    pub fn parse(proto: &str, args: &str) -> Result<Self, ParseError> {
        let proto: Proto = proto.parse().map_err(|kind| ParseError {
            column: 1,
            span: 0..0,
            item: proto.to_string(),
            kind,
        })?;
        let zero = IpRange::single(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut spec = FlowSpec::new(L4::default_for(proto), zero, zero);
        let seen = spec.apply(args)?;
        for key in ["sa", "da"] {
            if !seen.contains(&key) {
                return Err(ParseError {
                    column: args.chars().count() + 1,
                    span: args.len()..args.len(),
                    item: String::new(),
                    kind: ParseErrorKind::Missing(key),
                });
            }
        }
        Ok(spec)
    }

    /// Overlay mausezahn-style arguments on this spec, e.g. `sp=1024,dp=0-32768`.
    ///
    /// Keys: `sp`, `dp` (port or `a-b`), `flags` (TCP, `syn|ack`), `seq` (TCP),
    /// `id` (ICMP), `sa`/`da` (address, `a-b` or CIDR), `smac`/`dmac`,
    /// `c`/`count`, `pps`/`rate`, `d`/`duration` (`500ms`, `2s`, `1m`),
    /// `size`/`len` (frame bytes), `ttl`, `tag` (`stream[:src:dst]`).
    pub fn with_args(mut self, args: &str) -> Result<Self, ParseError> {
        self.apply(args)?;
        Ok(self)
    }

    fn apply(&mut self, args: &str) -> Result<Vec<&'static str>, ParseError> {
        let mut seen: Vec<&'static str> = Vec::new();
        let mut offset = 0usize;
        for raw in args.split(',') {
            let start = offset + (raw.len() - raw.trim_start().len());
            offset += raw.len() + 1;
            let item = raw.trim();
            if item.is_empty() && args.trim().is_empty() {
                continue;
            }
            let span: Range<usize> = start..start + item.len();
            let err = |kind| ParseError {
                column: args[..start].chars().count() + 1,
                span: span.clone(),
                item: item.to_string(),
                kind,
            };
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| err(ParseErrorKind::ExpectedKeyValue))?;
            let key = canonical_key(key.trim())
                .ok_or_else(|| err(ParseErrorKind::UnknownKey(key.trim().to_string())))?;
            if seen.contains(&key) {
                return Err(err(ParseErrorKind::DuplicateKey(key)));
            }
            seen.push(key);
            let value = value.trim();
            if value.is_empty() {
                return Err(err(ParseErrorKind::EmptyValue));
            }
            self.apply_one(key, value).map_err(err)?;
        }
        Ok(seen)
    }

    fn apply_one(&mut self, key: &'static str, v: &str) -> Result<(), ParseErrorKind> {
        let proto = self.l4.proto();
        let not_for = || ParseErrorKind::NotForProto { key, proto };
        match key {
            "sp" | "dp" => {
                let r: PortRange = v.parse()?;
                let (sp, dp) = self.l4.ports_mut().ok_or_else(not_for)?;
                *(if key == "sp" { sp } else { dp }) = r;
            }
            "flags" => match &mut self.l4 {
                L4::Tcp { flags, .. } => *flags = v.parse()?,
                _ => return Err(not_for()),
            },
            "seq" => match &mut self.l4 {
                L4::Tcp { seq, .. } => *seq = parse_num(v)?,
                _ => return Err(not_for()),
            },
            "id" => match &mut self.l4 {
                L4::IcmpEcho { id } | L4::Icmpv6Echo { id } => *id = parse_num(v)?,
                _ => return Err(not_for()),
            },
            "sa" => self.src_ip = v.parse()?,
            "da" => self.dst_ip = v.parse()?,
            "smac" => self.src_mac = Some(v.parse()?),
            "dmac" => self.dst_mac = Some(v.parse()?),
            "count" => self.count = Some(parse_num(v)?),
            "pps" => {
                let r: u64 = parse_num(v)?;
                if r == 0 {
                    return Err(ParseErrorKind::InvalidNumber(v.to_string()));
                }
                self.rate_pps = Some(r);
            }
            "duration" => self.duration = Some(parse_duration(v)?),
            "size" => self.frame_size = Some(parse_num(v)?),
            "ttl" => self.ttl = parse_num(v)?,
            "tag" => {
                let mut it = v.split(':');
                let stream = parse_num(it.next().unwrap_or(""))?;
                let src = it.next().map(parse_num).transpose()?.unwrap_or(0);
                let dst = it.next().map(parse_num).transpose()?.unwrap_or(0);
                if it.next().is_some() {
                    return Err(ParseErrorKind::InvalidTag(v.to_string()));
                }
                self.tag = Some(TagSpec { stream, src, dst });
            }
            _ => return Err(ParseErrorKind::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    /// Check consistency: address families, ICMP family, frame size, bounds.
    pub fn validate(&self) -> Result<(), FlowError> {
        if self.src_ip.is_v6() != self.dst_ip.is_v6() {
            return Err(FlowError::FamilyMismatch {
                src: self.src_ip.to_string(),
                dst: self.dst_ip.to_string(),
            });
        }
        match (self.l4, self.dst_ip.is_v6()) {
            (L4::IcmpEcho { .. }, true) => return Err(FlowError::IcmpFamily("icmp", "IPv6")),
            (L4::Icmpv6Echo { .. }, false) => return Err(FlowError::IcmpFamily("icmpv6", "IPv4")),
            _ => {}
        }
        let need = self.header_len()
            + if self.tag.is_some() {
                crate::tag::TAG_LEN
            } else {
                0
            };
        if let Some(size) = self.frame_size {
            if size < need {
                return Err(FlowError::FrameTooSmall { need, size });
            }
            if size > MAX_FRAME {
                return Err(FlowError::FrameTooLarge {
                    max: MAX_FRAME,
                    size,
                });
            }
        }
        if self.count.is_none() && self.duration.is_none() {
            let n = self.combinations();
            if n > MAX_IMPLICIT_PACKETS {
                return Err(FlowError::Unbounded(n));
            }
        }
        if self.rate_pps == Some(0) {
            return Err(FlowError::ZeroRate);
        }
        Ok(())
    }

    /// Bytes of Ethernet + IP + L4 headers.
    pub fn header_len(&self) -> usize {
        let l3 = if self.dst_ip.is_v6() { 40 } else { 20 };
        let l4 = match self.l4 {
            L4::Udp { .. } | L4::IcmpEcho { .. } | L4::Icmpv6Echo { .. } => 8,
            L4::Tcp { .. } => 20,
        };
        14 + l3 + l4
    }

    /// The frame length actually built (without FCS).
    pub fn effective_frame_size(&self) -> usize {
        let need = self.header_len()
            + if self.tag.is_some() {
                crate::tag::TAG_LEN
            } else {
                0
            };
        self.frame_size.unwrap_or(need.max(60))
    }

    /// Size of the product of all ranges (one pass).
    pub fn combinations(&self) -> u128 {
        let (sp, dp) = self.l4.ports();
        self.src_ip
            .len()
            .saturating_mul(self.dst_ip.len())
            .saturating_mul(u128::from(sp.len()))
            .saturating_mul(u128::from(dp.len()))
    }

    /// How many packets a send will emit if not cut short by `duration`;
    /// `None` when only the duration bounds it.
    pub fn packet_budget(&self) -> Option<u64> {
        match (self.count, self.duration) {
            (Some(c), _) => Some(c),
            (None, Some(_)) => None,
            (None, None) => Some(u64::try_from(self.combinations()).unwrap_or(u64::MAX)),
        }
    }

    /// Iterate the product forever, in mausezahn order (dp fastest).
    pub fn points(&self) -> FlowCursor {
        FlowCursor::new(self)
    }

    /// Split into at most `n` flows over disjoint parts of the larger port
    /// range, for parallel senders: together they send the same flow set,
    /// the packet count and rate divided in proportion. Specs without port
    /// ranges (ICMP) or with a single port split into one part. Tags are
    /// refused by the caller: their sequence numbers count per sender.
    pub fn split(&self, n: usize) -> Vec<FlowSpec> {
        let (sp, dp) = self.l4.ports();
        let split_dp = dp.len() >= sp.len();
        let range = if split_dp { dp } else { sp };
        let parts = (n.max(1) as u32).min(range.len().max(1)) as usize;
        if parts <= 1 || self.l4.ports_mut_is_none() {
            return vec![self.clone()];
        }
        let total = range.len();
        let mut out = Vec::with_capacity(parts);
        let mut start = u32::from(range.start);
        let (mut count_left, mut rate_left) = (self.count, self.rate_pps);
        for i in 0..parts {
            let len = total / parts as u32 + u32::from((i as u32) < total % parts as u32);
            let sub = PortRange {
                start: start as u16,
                end: (start + len - 1) as u16,
            };
            start += len;
            let mut part = self.clone();
            if let Some((psp, pdp)) = part.l4.ports_mut() {
                if split_dp {
                    *pdp = sub;
                } else {
                    *psp = sub;
                }
            }
            // Proportional shares; the last part takes what rounding left.
            let last = i + 1 == parts;
            let share = |whole: u64, left: &mut u64| {
                let s = if last {
                    *left
                } else {
                    ((u128::from(whole) * u128::from(len)) / u128::from(total)) as u64
                };
                *left -= s.min(*left);
                s.max(1)
            };
            part.count = self
                .count
                .zip(count_left.as_mut())
                .map(|(c, l)| share(c, l));
            part.rate_pps = self
                .rate_pps
                .zip(rate_left.as_mut())
                .map(|(r, l)| share(r, l));
            out.push(part);
        }
        out
    }
}

fn canonical_key(k: &str) -> Option<&'static str> {
    Some(match k.to_ascii_lowercase().as_str() {
        "sp" => "sp",
        "dp" => "dp",
        "flags" => "flags",
        "seq" | "s" => "seq",
        "id" => "id",
        "sa" | "a_ip" | "src" => "sa",
        "da" | "b_ip" | "dst" => "da",
        "smac" | "a" => "smac",
        "dmac" | "b" => "dmac",
        "c" | "count" => "count",
        "pps" | "rate" => "pps",
        "d" | "duration" => "duration",
        "size" | "len" => "size",
        "ttl" => "ttl",
        "tag" => "tag",
        _ => return None,
    })
}

fn parse_num<T: FromStr>(v: &str) -> Result<T, ParseErrorKind> {
    v.trim()
        .parse()
        .map_err(|_| ParseErrorKind::InvalidNumber(v.to_string()))
}

/// `250ms`, `2s`, `1.5s`, `1m`, `100us`, `10ns`; a bare number is seconds.
pub fn parse_duration(v: &str) -> Result<Duration, ParseErrorKind> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| ParseErrorKind::InvalidDuration(v.to_string()))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(ParseErrorKind::InvalidDuration(v.to_string())),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| ParseErrorKind::InvalidDuration(v.to_string()))
}

/// One element of the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowPoint {
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub sp: u16,
    pub dp: u16,
}

/// Which fields changed between two consecutive points (lets the template
/// patch only what moved).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    pub src_ip: bool,
    pub dst_ip: bool,
    pub sp: bool,
    pub dp: bool,
}

/// Mixed-radix counter over the product, dp fastest; cycles forever.
#[derive(Clone, Debug)]
pub struct FlowCursor {
    src: IpRange,
    dst: IpRange,
    sp: PortRange,
    dp: PortRange,
    i_src: u128,
    i_dst: u128,
    i_sp: u32,
    i_dp: u32,
}

impl FlowCursor {
    fn new(spec: &FlowSpec) -> Self {
        let (sp, dp) = spec.l4.ports();
        FlowCursor {
            src: spec.src_ip,
            dst: spec.dst_ip,
            sp,
            dp,
            i_src: 0,
            i_dst: 0,
            i_sp: 0,
            i_dp: 0,
        }
    }

    /// The current point.
    pub fn current(&self) -> FlowPoint {
        FlowPoint {
            src_ip: self.src.nth(self.i_src),
            dst_ip: self.dst.nth(self.i_dst),
            sp: (u32::from(self.sp.start) + self.i_sp) as u16,
            dp: (u32::from(self.dp.start) + self.i_dp) as u16,
        }
    }

    /// Move to the next point and report which fields changed.
    pub fn advance(&mut self) -> Changed {
        let mut c = Changed {
            dp: self.dp.len() > 1,
            ..Changed::default()
        };
        self.i_dp += 1;
        if self.i_dp < self.dp.len() {
            return c;
        }
        self.i_dp = 0;
        c.sp = self.sp.len() > 1;
        self.i_sp += 1;
        if self.i_sp < self.sp.len() {
            return c;
        }
        self.i_sp = 0;
        c.dst_ip = self.dst.len() > 1;
        self.i_dst += 1;
        if self.i_dst < self.dst.len() {
            return c;
        }
        self.i_dst = 0;
        c.src_ip = self.src.len() > 1;
        self.i_src += 1;
        if self.i_src >= self.src.len() {
            self.i_src = 0;
        }
        c
    }
}

impl Iterator for FlowCursor {
    type Item = FlowPoint;
    /// Yields the current point, then advances (infinite).
    fn next(&mut self) -> Option<FlowPoint> {
        let p = self.current();
        self.advance();
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mausezahn_ports() {
        let f = FlowSpec::udp(
            "192.0.2.2".parse::<IpAddr>().unwrap(),
            "198.18.0.1".parse::<IpAddr>().unwrap(),
        )
        .with_args("sp=1024,dp=0-32768")
        .unwrap();
        assert_eq!(
            f.l4,
            L4::Udp {
                sp: PortRange::single(1024),
                dp: PortRange::new(0, 32768).unwrap()
            }
        );
        assert_eq!(f.combinations(), 32769);
        assert_eq!(f.packet_budget(), Some(32769));
    }

    #[test]
    fn port_out_of_range_has_column() {
        let e = FlowSpec::parse("udp", "sp=1024,dp=70000").unwrap_err();
        assert_eq!(e.column, 9);
        assert_eq!(
            e.to_string(),
            "dp=70000: port out of range 0..=65535 at column 9"
        );
        assert_eq!(&"sp=1024,dp=70000"[e.span.clone()], "dp=70000");
    }

    #[test]
    fn errors_are_specific() {
        let cases: &[(&str, &str, usize)] = &[
            ("udp", "sp=10-1", 1),
            ("udp", "sa=192.0.2.1, da=198.51.100.300", 15),
            ("udp", "sa=192.0.2.1,da=2001:db8::1-192.0.2.9", 14),
            ("udp", "flags=syn", 1),
            ("tcp", "flags=syn|bogus", 1),
            ("udp", "sp=1,sp=2", 6),
            ("udp", "speed=1", 1),
            ("udp", "sp", 1),
            ("udp", "d=3 parsecs", 1),
            ("udp", "sp=abc", 1),
            ("udp", "sp=", 1),
        ];
        for (proto, args, col) in cases {
            let e = FlowSpec::parse(proto, args).unwrap_err();
            assert_eq!(e.column, *col, "{args}: {e}");
        }
        let e = FlowSpec::parse("udp", "sp=1").unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::Missing("sa")), "{e}");
        let e = FlowSpec::parse("sctp", "sp=1").unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::UnknownProto(_)), "{e}");
    }

    #[test]
    fn full_parse_and_tcp_flags() {
        let f = FlowSpec::parse(
            "tcp",
            "sa=192.0.2.2,da=198.18.0.0/30,sp=1-10,dp=80,flags=syn|ack,c=100,pps=1000,d=2s,size=128,ttl=9,tag=7:1:2,dmac=02:00:00:00:00:01",
        )
        .unwrap();
        assert_eq!(f.combinations(), 4 * 10);
        assert_eq!(
            f.l4,
            L4::Tcp {
                sp: PortRange::new(1, 10).unwrap(),
                dp: PortRange::single(80),
                flags: TcpFlags::SYN | TcpFlags::ACK,
                seq: 0
            }
        );
        assert_eq!(f.count, Some(100));
        assert_eq!(f.rate_pps, Some(1000));
        assert_eq!(f.duration, Some(Duration::from_secs(2)));
        assert_eq!(f.frame_size, Some(128));
        assert_eq!(f.ttl, 9);
        assert_eq!(
            f.tag,
            Some(TagSpec {
                stream: 7,
                src: 1,
                dst: 2
            })
        );
        assert_eq!(f.dst_mac, Some(MacAddr([2, 0, 0, 0, 0, 1])));
        f.validate().unwrap();
    }

    #[test]
    fn validate_catches_inconsistency() {
        let f = FlowSpec::parse("udp", "sa=192.0.2.1,da=2001:db8::1").unwrap();
        assert!(matches!(
            f.validate(),
            Err(FlowError::FamilyMismatch { .. })
        ));
        let f = FlowSpec::parse("icmp", "sa=2001:db8::2,da=2001:db8::1").unwrap();
        assert!(matches!(f.validate(), Err(FlowError::IcmpFamily(..))));
        let f = FlowSpec::parse("udp", "sa=192.0.2.1,da=198.18.0.1,size=50,tag=1").unwrap();
        assert!(matches!(
            f.validate(),
            Err(FlowError::FrameTooSmall { need: 62, size: 50 })
        ));
        let f = FlowSpec::parse("udp", "sa=2001:db8::/64,da=2001:db8:1::1").unwrap();
        assert!(matches!(f.validate(), Err(FlowError::Unbounded(_))));
        let f = f.with_args("d=1s").unwrap();
        f.validate().unwrap();
    }

    #[test]
    fn iteration_order_dp_fastest() {
        let f = FlowSpec::parse(
            "udp",
            "sa=192.0.2.1-192.0.2.2,da=198.18.0.1-198.18.0.2,sp=1-2,dp=10-12",
        )
        .unwrap();
        let pts: Vec<FlowPoint> = f.points().take(25).collect();
        assert_eq!(f.combinations(), 24);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            (pts[0].src_ip, pts[0].dst_ip, pts[0].sp, pts[0].dp),
            (ip("192.0.2.1"), ip("198.18.0.1"), 1, 10)
        );
        assert_eq!((pts[1].sp, pts[1].dp), (1, 11));
        assert_eq!((pts[3].sp, pts[3].dp), (2, 10));
        assert_eq!(
            (pts[6].dst_ip, pts[6].sp, pts[6].dp),
            (ip("198.18.0.2"), 1, 10)
        );
        assert_eq!(pts[12].src_ip, ip("192.0.2.2"));
        assert_eq!(pts[24], pts[0], "cycles after one pass");
        let distinct: std::collections::HashSet<_> = pts[..24].iter().collect();
        assert_eq!(distinct.len(), 24);
    }

    #[test]
    fn cursor_changed_flags_match_points() {
        let f =
            FlowSpec::parse("udp", "sa=192.0.2.1-192.0.2.3,da=198.18.0.9,sp=5-6,dp=1-3").unwrap();
        let mut c = f.points();
        let mut prev = c.current();
        for _ in 0..40 {
            let ch = c.advance();
            let cur = c.current();
            assert_eq!(ch.src_ip, prev.src_ip != cur.src_ip);
            assert_eq!(ch.dst_ip, prev.dst_ip != cur.dst_ip);
            assert_eq!(ch.sp, prev.sp != cur.sp);
            assert_eq!(ch.dp, prev.dp != cur.dp);
            prev = cur;
        }
    }

    #[test]
    fn cidr_and_v6_ranges() {
        let r: IpRange = "198.18.0.7/24".parse().unwrap();
        assert_eq!(r.len(), 256);
        assert_eq!(r.first(), "198.18.0.0".parse::<IpAddr>().unwrap());
        let r: IpRange = "2001:db8::1-2001:db8::10".parse().unwrap();
        assert_eq!(r.len(), 16);
        assert_eq!(r.nth(15), "2001:db8::10".parse::<IpAddr>().unwrap());
        assert!("192.0.2.9-192.0.2.1".parse::<IpRange>().is_err());
        assert!("192.0.2.0/33".parse::<IpRange>().is_err());
    }

    #[test]
    fn durations_and_macs() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("-1s").is_err());
        let m: MacAddr = "02:AB:00:00:00:ff".parse().unwrap();
        assert_eq!(m.to_string(), "02:ab:00:00:00:ff");
        assert!("02:ab:00:00:00".parse::<MacAddr>().is_err());
        assert!("02:ab:00:00:00:00:01".parse::<MacAddr>().is_err());
    }

    #[test]
    fn split_covers_the_flow_set_once() {
        let spec = FlowSpec::parse("udp", "sa=192.0.2.2,da=198.18.0.0,sp=1024,dp=0-32768").unwrap();
        let parts = spec.split(2);
        assert_eq!(parts.len(), 2);
        let mut seen = std::collections::BTreeSet::new();
        for p in &parts {
            let (_, dp) = p.l4.ports();
            for port in dp.start..=dp.end {
                assert!(seen.insert(port), "port {port} in two parts");
            }
        }
        assert_eq!(seen.len(), 32769);
        assert_eq!(
            parts
                .iter()
                .map(|p| p.packet_budget().unwrap())
                .sum::<u64>(),
            32769
        );
        let counted = FlowSpec::parse(
            "udp",
            "sa=192.0.2.2,da=198.18.0.0,sp=1-100,dp=7,c=1000,pps=1000",
        )
        .unwrap();
        let parts = counted.split(3);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.iter().map(|p| p.count.unwrap()).sum::<u64>(), 1000);
        assert_eq!(parts.iter().map(|p| p.rate_pps.unwrap()).sum::<u64>(), 1000);
        assert_eq!(
            FlowSpec::parse("icmp", "sa=192.0.2.2,da=198.51.100.2")
                .unwrap()
                .split(4)
                .len(),
            1
        );
    }
}
