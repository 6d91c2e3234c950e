//! Decoding captured frames into a small summary struct, tcpdump-style
//! one-line renderings, and match predicates with don't-care fields.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::flow::{IpRange, MacAddr, PortRange, TcpFlags};
use crate::tag::Tag;

/// Layer 3 of a decoded frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    Arp {
        request: bool,
        sender_mac: MacAddr,
        sender_ip: Ipv4Addr,
        target_ip: Ipv4Addr,
    },
    Ip {
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        /// IP protocol / final next header.
        proto: u8,
        fragmented: bool,
    },
    /// Some other ethertype.
    Other,
}

/// Layer 4 of a decoded frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp {
        sp: u16,
        dp: u16,
        len: u16,
    },
    Tcp {
        sp: u16,
        dp: u16,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        payload_len: usize,
    },
    Icmp {
        ty: u8,
        code: u8,
        /// (id, seq) for echo request/reply.
        echo: Option<(u16, u16)>,
    },
    Icmpv6 {
        ty: u8,
        code: u8,
        echo: Option<(u16, u16)>,
    },
    None,
}

/// The fields of a frame that checks and summaries need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub ethertype: u16,
    pub net: Net,
    pub transport: Transport,
    pub tag: Option<Tag>,
    /// Frame length.
    pub len: usize,
}

impl Decoded {
    /// Decode an Ethernet frame; `None` if it is too short to have a header.
    /// A summary of [`Frame::decode`](crate::frame::Frame::decode)'s layers:
    /// the outer Ethernet header, the first network layer and the
    /// transport right after it (a tunnel's inner layers are not summed up).
    pub fn parse(frame: &[u8]) -> Option<Decoded> {
        use crate::frame::{Frame, Layer};
        let layers = Frame::decode_spans(frame);
        let Some(Layer::Eth(eth)) = layers.first().map(|l| &l.layer) else {
            return None;
        };
        let mut d = Decoded {
            dst_mac: eth.dst,
            src_mac: eth.src,
            ethertype: eth.ty.unwrap_or(0),
            net: Net::Other,
            transport: Transport::None,
            tag: None,
            len: frame.len(),
        };
        let Some(ni) = layers
            .iter()
            .position(|l| matches!(l.layer, Layer::Ipv4(_) | Layer::Ipv6(_) | Layer::Arp(_)))
        else {
            return Some(d);
        };
        // The IPv6 extension headers after the network layer: the final
        // next header and whether the payload is a fragment.
        let mut ti = ni + 1;
        let mut frag6 = false;
        let mut last_nh = None;
        while let Some(l) = layers.get(ti) {
            match &l.layer {
                Layer::HopByHop(x) | Layer::DestOpts(x) => last_nh = x.nh,
                Layer::Routing(r) => last_nh = r.nh,
                Layer::Frag6(f) => {
                    last_nh = f.nh;
                    frag6 |= f.m || f.offset != 0;
                }
                _ => break,
            }
            ti += 1;
        }
        d.net = match &layers[ni].layer {
            Layer::Ipv4(h) => Net::Ip {
                src: h.src.into(),
                dst: h.dst.into(),
                ttl: h.ttl,
                proto: h.proto.unwrap_or(0),
                fragmented: h.mf || h.frag != 0,
            },
            Layer::Ipv6(h) => Net::Ip {
                src: h.src.into(),
                dst: h.dst.into(),
                ttl: h.hlim,
                proto: last_nh.or(h.nh).unwrap_or(0),
                fragmented: frag6,
            },
            Layer::Arp(a) => Net::Arp {
                request: a.op == 1,
                sender_mac: a.sha,
                sender_ip: a.spa,
                target_ip: a.tpa,
            },
            _ => Net::Other,
        };
        let Some(t) = layers.get(ti) else {
            return Some(d);
        };
        // The transport's payload: everything decoded after its header.
        let end = layers.last().map_or(t.span.end, |l| l.span.end);
        let payload = frame.get(t.span.end..end).unwrap_or(&[]);
        d.transport = match &t.layer {
            Layer::Udp(u) => Transport::Udp {
                sp: u.sport,
                dp: u.dport.unwrap_or(0),
                len: u.len.unwrap_or(0),
            },
            Layer::Tcp(tc) => Transport::Tcp {
                sp: tc.sport,
                dp: tc.dport,
                flags: tc.flags,
                seq: tc.seq,
                ack: tc.ack,
                payload_len: payload.len(),
            },
            Layer::Icmp(i) => Transport::Icmp {
                ty: i.ty,
                code: i.code,
                echo: matches!(i.ty, 0 | 8).then_some((i.id, i.seq)),
            },
            Layer::Icmpv6(i) => Transport::Icmpv6 {
                ty: i.ty,
                code: i.code,
                echo: matches!(i.ty, 128 | 129).then_some((i.id, i.seq)),
            },
            _ => return Some(d),
        };
        d.tag = Tag::parse(payload);
        Some(d)
    }

    /// Source and destination IP, if any.
    pub fn ips(&self) -> Option<(IpAddr, IpAddr)> {
        match self.net {
            Net::Ip { src, dst, .. } => Some((src, dst)),
            _ => None,
        }
    }

    /// Source and destination ports for UDP/TCP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.transport {
            Transport::Udp { sp, dp, .. } | Transport::Tcp { sp, dp, .. } => Some((sp, dp)),
            _ => None,
        }
    }

    /// Link housekeeping rather than test traffic: ARP, IPv6 RS/RA/NS/NA/
    /// redirect, MLD, IGMP, LLDP and other non-IP frames. Negative checks
    /// ignore these unless asked (they appear on every fresh link).
    pub fn is_link_control(&self) -> bool {
        match (self.net, self.transport) {
            (Net::Arp { .. }, _) | (Net::Other, _) => true,
            (_, Transport::Icmpv6 { ty, .. }) => matches!(ty, 130..=137 | 143),
            (Net::Ip { proto: 2, .. }, _) => true, // IGMP
            _ => false,
        }
    }
}

impl fmt::Display for Decoded {
    /// Like `tcpdump -n` without the timestamp.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.net {
            Net::Arp {
                request: true,
                sender_ip,
                target_ip,
                ..
            } => {
                return write!(
                    f,
                    "ARP, Request who-has {target_ip} tell {sender_ip}, length {}",
                    self.len
                )
            }
            Net::Arp {
                request: false,
                sender_ip,
                sender_mac,
                ..
            } => {
                return write!(
                    f,
                    "ARP, Reply {sender_ip} is-at {sender_mac}, length {}",
                    self.len
                )
            }
            Net::Other => {
                return write!(
                    f,
                    "{} > {}, ethertype 0x{:04x}, length {}",
                    self.src_mac, self.dst_mac, self.ethertype, self.len
                )
            }
            Net::Ip { .. } => {}
        }
        let Net::Ip {
            src,
            dst,
            ttl,
            proto,
            ..
        } = self.net
        else {
            return Ok(());
        };
        let fam = if src.is_ipv6() { "IP6" } else { "IP" };
        let tag = |f: &mut fmt::Formatter<'_>| match self.tag {
            Some(t) => write!(f, " [tag {}:{} {}>{}]", t.stream, t.seq, t.src, t.dst),
            None => Ok(()),
        };
        match self.transport {
            Transport::Udp { sp, dp, len } => {
                write!(
                    f,
                    "{fam} {src}.{sp} > {dst}.{dp}: UDP, length {}",
                    len.saturating_sub(8)
                )?;
            }
            Transport::Tcp {
                sp,
                dp,
                flags,
                seq,
                ack,
                payload_len,
            } => {
                write!(
                    f,
                    "{fam} {src}.{sp} > {dst}.{dp}: Flags [{}], seq {seq}",
                    tcpdump_flags(flags)
                )?;
                if flags.0 & TcpFlags::ACK.0 != 0 {
                    write!(f, ", ack {ack}")?;
                }
                write!(f, ", length {payload_len}")?;
            }
            Transport::Icmp { ty, code, echo } => {
                write!(f, "{fam} {src} > {dst}: ICMP ")?;
                match (ty, echo) {
                    (8, Some((id, seq))) => write!(f, "echo request, id {id}, seq {seq}")?,
                    (0, Some((id, seq))) => write!(f, "echo reply, id {id}, seq {seq}")?,
                    (3, _) => write!(f, "unreachable, code {code}")?,
                    (11, _) => write!(f, "time exceeded in-transit")?,
                    _ => write!(f, "type {ty}, code {code}")?,
                }
            }
            Transport::Icmpv6 { ty, code, echo } => {
                write!(f, "{fam} {src} > {dst}: ICMP6, ")?;
                match (ty, echo) {
                    (128, Some((id, seq))) => write!(f, "echo request, id {id}, seq {seq}")?,
                    (129, Some((id, seq))) => write!(f, "echo reply, id {id}, seq {seq}")?,
                    (133, _) => write!(f, "router solicitation")?,
                    (134, _) => write!(f, "router advertisement")?,
                    (135, _) => write!(f, "neighbor solicitation")?,
                    (136, _) => write!(f, "neighbor advertisement")?,
                    (143, _) => write!(f, "multicast listener report v2")?,
                    (1, _) => write!(f, "destination unreachable, code {code}")?,
                    _ => write!(f, "type {ty}, code {code}")?,
                }
            }
            Transport::None => write!(f, "{fam} {src} > {dst}: ip-proto-{proto}")?,
        }
        write!(f, ", ttl {ttl}")?;
        tag(f)
    }
}

fn tcpdump_flags(fl: TcpFlags) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (0x02, 'S'),
        (0x01, 'F'),
        (0x08, 'P'),
        (0x04, 'R'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if fl.0 & bit != 0 {
            s.push(c);
        }
    }
    if fl.0 & 0x10 != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// One-line tcpdump-like summary of a frame.
pub fn summary(frame: &[u8]) -> String {
    match Decoded::parse(frame) {
        Some(d) => d.to_string(),
        None => format!("truncated frame, length {}", frame.len()),
    }
}

/// L4 selector for a [`Match`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchProto {
    Udp,
    Tcp,
    Icmp,
    Icmpv6,
    Arp,
}

/// A packet predicate: `None` fields are don't-care.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Match {
    pub src_mac: Option<MacAddr>,
    pub dst_mac: Option<MacAddr>,
    pub src_ip: Option<IpRange>,
    pub dst_ip: Option<IpRange>,
    pub proto: Option<MatchProto>,
    pub sp: Option<PortRange>,
    pub dp: Option<PortRange>,
    /// All of these TCP flags must be set.
    pub tcp_flags: Option<TcpFlags>,
    /// ICMP/ICMPv6 type.
    pub icmp_type: Option<u8>,
    pub ttl: Option<u8>,
    pub tag_stream: Option<u32>,
    pub tag_src: Option<u16>,
    pub tag_dst: Option<u16>,
    /// Also match ARP/ND/MLD/IGMP (see [`Decoded::is_link_control`]).
    pub include_link_control: bool,
}

impl Match {
    /// Any packet except link housekeeping.
    pub fn any() -> Self {
        Match::default()
    }
    pub fn udp() -> Self {
        Match {
            proto: Some(MatchProto::Udp),
            ..Match::default()
        }
    }
    pub fn tcp() -> Self {
        Match {
            proto: Some(MatchProto::Tcp),
            ..Match::default()
        }
    }
    pub fn src(mut self, r: impl Into<IpRange>) -> Self {
        self.src_ip = Some(r.into());
        self
    }
    pub fn dst(mut self, r: impl Into<IpRange>) -> Self {
        self.dst_ip = Some(r.into());
        self
    }
    pub fn sport(mut self, r: PortRange) -> Self {
        self.sp = Some(r);
        self
    }
    pub fn dport(mut self, r: PortRange) -> Self {
        self.dp = Some(r);
        self
    }
    pub fn stream(mut self, id: u32) -> Self {
        self.tag_stream = Some(id);
        self
    }

    /// The packets of one flow a sender emits, and nothing else: by its payload
    /// tag when it has one (a tag survives NAT and tunnels), else by protocol,
    /// address ranges and port ranges (ICMP: echo requests of its family).
    /// Replies travel with swapped addresses, so they do not match.
    pub fn of_flow(spec: &crate::flow::FlowSpec) -> Self {
        use crate::flow::L4;
        if let Some(t) = spec.tag {
            return Match {
                tag_stream: Some(t.stream),
                tag_src: Some(t.src),
                tag_dst: Some(t.dst),
                ..Match::default()
            };
        }
        let base = Match::default().src(spec.src_ip).dst(spec.dst_ip);
        match spec.l4 {
            L4::Udp { sp, dp } => Match {
                proto: Some(MatchProto::Udp),
                ..base
            }
            .sport(sp)
            .dport(dp),
            L4::Tcp { sp, dp, .. } => Match {
                proto: Some(MatchProto::Tcp),
                ..base
            }
            .sport(sp)
            .dport(dp),
            L4::IcmpEcho { .. } => Match {
                proto: Some(MatchProto::Icmp),
                icmp_type: Some(8),
                ..base
            },
            L4::Icmpv6Echo { .. } => Match {
                proto: Some(MatchProto::Icmpv6),
                icmp_type: Some(128),
                ..base
            },
        }
    }

    /// Whether a decoded frame satisfies every given field.
    pub fn matches(&self, d: &Decoded) -> bool {
        if !self.include_link_control && d.is_link_control() && self.proto != Some(MatchProto::Arp)
        {
            return false;
        }
        let opt = |o: Option<bool>| o.unwrap_or(true);
        if !opt(self.src_mac.map(|m| m == d.src_mac)) || !opt(self.dst_mac.map(|m| m == d.dst_mac))
        {
            return false;
        }
        let ips = d.ips();
        if let Some(r) = self.src_ip {
            if !ips.is_some_and(|(s, _)| r.contains(s)) {
                return false;
            }
        }
        if let Some(r) = self.dst_ip {
            if !ips.is_some_and(|(_, t)| r.contains(t)) {
                return false;
            }
        }
        if let Some(p) = self.proto {
            let ok = matches!(
                (p, d.transport, d.net),
                (MatchProto::Udp, Transport::Udp { .. }, _)
                    | (MatchProto::Tcp, Transport::Tcp { .. }, _)
                    | (MatchProto::Icmp, Transport::Icmp { .. }, _)
                    | (MatchProto::Icmpv6, Transport::Icmpv6 { .. }, _)
                    | (MatchProto::Arp, _, Net::Arp { .. })
            );
            if !ok {
                return false;
            }
        }
        let ports = d.ports();
        if let Some(r) = self.sp {
            if !ports.is_some_and(|(s, _)| r.contains(s)) {
                return false;
            }
        }
        if let Some(r) = self.dp {
            if !ports.is_some_and(|(_, t)| r.contains(t)) {
                return false;
            }
        }
        if let Some(fl) = self.tcp_flags {
            if !matches!(d.transport, Transport::Tcp { flags, .. } if flags.0 & fl.0 == fl.0) {
                return false;
            }
        }
        if let Some(t) = self.icmp_type {
            if !matches!(d.transport, Transport::Icmp { ty, .. } | Transport::Icmpv6 { ty, .. } if ty == t)
            {
                return false;
            }
        }
        if let Some(t) = self.ttl {
            if !matches!(d.net, Net::Ip { ttl, .. } if ttl == t) {
                return false;
            }
        }
        if self.tag_stream.is_some() || self.tag_src.is_some() || self.tag_dst.is_some() {
            let Some(tag) = d.tag else { return false };
            if !opt(self.tag_stream.map(|s| s == tag.stream))
                || !opt(self.tag_src.map(|s| s == tag.src))
                || !opt(self.tag_dst.map(|s| s == tag.dst))
            {
                return false;
            }
        }
        true
    }

    /// Decode and match a raw frame.
    pub fn matches_frame(&self, frame: &[u8]) -> bool {
        Decoded::parse(frame).is_some_and(|d| self.matches(&d))
    }
}

/// How many matching packets an expectation wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Exactly(u64),
    AtLeast(u64),
    AtMost(u64),
}

impl Quantity {
    fn ok(&self, n: u64) -> bool {
        match *self {
            Quantity::Exactly(e) => n == e,
            Quantity::AtLeast(e) => n >= e,
            Quantity::AtMost(e) => n <= e,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Exactly(0) => write!(f, "nothing"),
            Quantity::Exactly(n) => write!(f, "exactly {n}"),
            Quantity::AtLeast(n) => write!(f, "at least {n}"),
            Quantity::AtMost(n) => write!(f, "at most {n}"),
        }
    }
}

/// Which captures (by label) an expectation counts over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One capture.
    On(String),
    /// The sum over all captures.
    Any,
    /// The sum over all captures except these (for "nothing elsewhere").
    Except(Vec<String>),
}

/// "exactly N on X", "at least one on any", "nothing elsewhere".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    pub what: Match,
    pub quantity: Quantity,
    pub scope: Scope,
}

/// The result of checking one expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    /// Matching packets counted in scope.
    pub count: u64,
    /// Matching packets per capture label in scope.
    pub per_capture: Vec<(String, u64)>,
    /// Up to five summaries of matching packets (for failure messages).
    pub examples: Vec<String>,
    /// e.g. "exactly 10 on r1:eth1: saw 9".
    pub message: String,
}

impl Expect {
    pub fn exactly(n: u64, what: Match, on: impl Into<String>) -> Self {
        Expect {
            what,
            quantity: Quantity::Exactly(n),
            scope: Scope::On(on.into()),
        }
    }
    pub fn at_least_one_anywhere(what: Match) -> Self {
        Expect {
            what,
            quantity: Quantity::AtLeast(1),
            scope: Scope::Any,
        }
    }
    pub fn nothing_except(what: Match, except: &[&str]) -> Self {
        Expect {
            what,
            quantity: Quantity::Exactly(0),
            scope: Scope::Except(except.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Count over `captures` (label, packets), typically the output of one
    /// [`crate::capture::CaptureSet::collect`] with its shared quiet window.
    pub fn check(&self, captures: &[(&str, &[crate::capture::Packet])]) -> Outcome {
        let mut per = Vec::new();
        let mut examples = Vec::new();
        let mut count = 0;
        for (label, pkts) in captures {
            let in_scope = match &self.scope {
                Scope::On(l) => l == label,
                Scope::Any => true,
                Scope::Except(ls) => !ls.iter().any(|l| l == label),
            };
            if !in_scope {
                continue;
            }
            let mut n = 0;
            for p in pkts.iter() {
                if let Some(d) = Decoded::parse(&p.data) {
                    if self.what.matches(&d) {
                        n += 1;
                        if examples.len() < 5 {
                            examples.push(format!("{label}: {d}"));
                        }
                    }
                }
            }
            count += n;
            per.push((label.to_string(), n));
        }
        let ok = self.quantity.ok(count);
        let scope = match &self.scope {
            Scope::On(l) => format!("on {l}"),
            Scope::Any => "on any capture".to_string(),
            Scope::Except(ls) if ls.is_empty() => "anywhere".to_string(),
            Scope::Except(ls) => format!("outside {}", ls.join(", ")),
        };
        let missing_scope =
            matches!(&self.scope, Scope::On(l) if !captures.iter().any(|(c, _)| c == l));
        let message = if missing_scope {
            format!("{} {scope}: no capture with that label", self.quantity)
        } else {
            format!("{} {scope}: saw {count}", self.quantity)
        };
        Outcome {
            ok: ok && !missing_scope,
            count,
            per_capture: per,
            examples,
            message,
        }
    }
}

/// Checksums of one frame, recomputed. `None` where a header is absent (no
/// IPv4 header checksum in IPv6; no transport) or truncated by the snaplen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksums {
    pub ipv4_header: Option<bool>,
    pub transport: Option<bool>,
}

impl Checksums {
    pub fn all_valid(&self) -> bool {
        self.ipv4_header != Some(false) && self.transport != Some(false)
    }
}

/// Recompute the IPv4 header checksum and the UDP/TCP/ICMP/ICMPv6 checksum
/// (with its pseudo-header) of an Ethernet frame.
pub fn verify_checksums(frame: &[u8]) -> Checksums {
    use crate::checksum::{fold, pseudo_header_sum, sum};
    use crate::frame::{Frame, Layer};
    let mut out = Checksums {
        ipv4_header: None,
        transport: None,
    };
    let layers = Frame::decode_spans(frame);
    let Some(ni) = layers
        .iter()
        .position(|l| matches!(l.layer, Layer::Ipv4(_) | Layer::Ipv6(_)))
    else {
        return out;
    };
    let (src, dst) = match &layers[ni].layer {
        Layer::Ipv4(h) => {
            out.ipv4_header = Some(fold(sum(&frame[layers[ni].span.clone()], 0)) == 0xffff);
            (h.src.octets().to_vec(), h.dst.octets().to_vec())
        }
        Layer::Ipv6(h) => (h.src.octets().to_vec(), h.dst.octets().to_vec()),
        _ => return out,
    };
    // The transport right after the IP header and any extension headers.
    let Some(t) = layers[ni + 1..].iter().find(|l| {
        !matches!(
            l.layer,
            Layer::HopByHop(_) | Layer::DestOpts(_) | Layer::Routing(_) | Layer::Frag6(_)
        )
    }) else {
        return out;
    };
    let end = layers.last().map_or(t.span.end, |l| l.span.end);
    let l4 = &frame[t.span.start..end];
    let proto = match &t.layer {
        Layer::Udp(u) => {
            // A UDP checksum of zero over IPv4 means "not computed".
            if u.checksum == Some(0) && src.len() == 4 {
                out.transport = Some(true);
                return out;
            }
            17
        }
        Layer::Tcp(_) => 6,
        Layer::Icmpv6(_) => 58,
        Layer::Icmp(_) => {
            out.transport = Some(fold(sum(l4, 0)) == 0xffff);
            return out;
        }
        _ => return out,
    };
    let pseudo = pseudo_header_sum(&src, &dst, proto, l4.len() as u32);
    out.transport = Some(fold(sum(l4, pseudo)) == 0xffff);
    out
}

/// Counts of checksum outcomes over captured packets, for "all checksums valid".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumTally {
    pub valid: u64,
    /// Left partial by offload (tp_status CSUMNOTREADY): valid by contract.
    pub partial: u64,
    pub bad: u64,
}

impl ChecksumTally {
    pub fn of(packets: &[crate::capture::Packet]) -> ChecksumTally {
        let mut t = ChecksumTally::default();
        for p in packets {
            let c = verify_checksums(&p.data);
            match (p.csum, c.ipv4_header, c.transport) {
                (_, Some(false), _) => t.bad += 1,
                (crate::capture::CsumStatus::Partial, _, _) => t.partial += 1,
                (_, _, Some(false)) => t.bad += 1,
                _ => t.valid += 1,
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Packet, PktType};
    use crate::flow::FlowSpec;
    use crate::template::Template;

    fn frame(proto: &str, args: &str) -> Vec<u8> {
        let s = FlowSpec::parse(proto, args).unwrap();
        Template::new(&s, MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]))
            .unwrap()
            .frame()
            .to_vec()
    }

    fn pkt(data: Vec<u8>) -> Packet {
        Packet {
            csum: crate::capture::CsumStatus::Unknown,
            ts_ns: 0,
            ifindex: 1,
            ifname: "eth0".into(),
            pkttype: PktType::Host,
            orig_len: data.len() as u32,
            data,
        }
    }

    #[test]
    fn summaries_look_like_tcpdump() {
        assert_eq!(
            summary(&frame("udp", "sa=192.0.2.1,da=198.18.0.1,sp=1024,dp=80")),
            "IP 192.0.2.1.1024 > 198.18.0.1.80: UDP, length 18, ttl 64"
        );
        assert_eq!(
            summary(&frame("tcp", "sa=2001:db8::1,da=2001:db8::2,sp=1,dp=443,tag=4:1:2")),
            "IP6 2001:db8::1.1 > 2001:db8::2.443: Flags [S], seq 0, length 20, ttl 64 [tag 4:0 1>2]"
        );
        assert_eq!(
            summary(&frame("icmp", "sa=192.0.2.1,da=192.0.2.2,id=7")),
            "IP 192.0.2.1 > 192.0.2.2: ICMP echo request, id 7, seq 0, ttl 64"
        );
        assert!(summary(&[0u8; 5]).starts_with("truncated"));
    }

    #[test]
    fn match_fields_and_dont_care() {
        let f = frame("udp", "sa=192.0.2.1,da=198.18.0.1,sp=1024,dp=80,tag=9:1:2");
        let d = Decoded::parse(&f).unwrap();
        assert!(Match::any().matches(&d));
        assert!(Match::udp()
            .dst("198.18.0.0/24".parse::<IpRange>().unwrap())
            .dport(PortRange::single(80))
            .matches(&d));
        assert!(!Match::udp().dport(PortRange::single(81)).matches(&d));
        assert!(!Match::tcp().matches(&d));
        assert!(Match::any().stream(9).matches(&d));
        assert!(!Match::any().stream(8).matches(&d));
        assert!(!Match {
            tag_dst: Some(3),
            ..Match::any()
        }
        .matches(&d));
        assert_eq!(d.tag.unwrap().dst, 2);
        // A frame without a tag fails a tag condition.
        let g = frame("udp", "sa=192.0.2.1,da=198.18.0.1");
        assert!(!Match::any().stream(9).matches_frame(&g));
    }

    #[test]
    fn expectations_count_in_scope() {
        let a: Vec<Packet> = (0..3)
            .map(|_| pkt(frame("udp", "sa=192.0.2.1,da=198.18.0.1,dp=5")))
            .collect();
        let b: Vec<Packet> = vec![pkt(frame("udp", "sa=192.0.2.1,da=198.18.0.1,dp=6"))];
        let caps: Vec<(&str, &[Packet])> = vec![("r1:eth1", &a), ("r1:eth2", &b)];
        let m5 = Match::udp().dport(PortRange::single(5));
        assert!(Expect::exactly(3, m5.clone(), "r1:eth1").check(&caps).ok);
        let o = Expect::exactly(2, m5.clone(), "r1:eth1").check(&caps);
        assert!(!o.ok);
        assert_eq!(o.message, "exactly 2 on r1:eth1: saw 3");
        assert_eq!(o.examples.len(), 3);
        assert!(
            Expect::nothing_except(m5.clone(), &["r1:eth1"])
                .check(&caps)
                .ok
        );
        let o = Expect::nothing_except(Match::udp(), &["r1:eth1"]).check(&caps);
        assert!(!o.ok && o.count == 1, "{o:?}");
        assert!(
            Expect::at_least_one_anywhere(Match::udp().dport(PortRange::single(6)))
                .check(&caps)
                .ok
        );
        assert!(
            !Expect::exactly(0, m5, "r9:eth0").check(&caps).ok,
            "unknown label must not pass"
        );
    }

    #[test]
    fn checksums_are_recomputed_and_corruption_is_caught() {
        for (proto, args) in [
            ("udp", "sa=192.0.2.2,da=198.18.0.0,sp=1024,dp=7"),
            ("tcp", "sa=192.0.2.2,da=198.18.0.0,sp=1024,dp=80"),
            ("udp", "sa=2001:db8:1::2,da=2001:db8:18::,sp=1024,dp=7"),
            ("tcp", "sa=2001:db8:1::2,da=2001:db8:18::,sp=1,dp=2"),
            ("icmp", "sa=192.0.2.2,da=198.51.100.2"),
            ("icmp6", "sa=2001:db8:1::2,da=2001:db8:2::2"),
        ] {
            let good = frame(proto, args);
            let c = verify_checksums(&good);
            assert!(
                c.all_valid() && c.transport == Some(true),
                "{proto} {args}: {c:?}"
            );
            // A flipped payload byte breaks the transport checksum.
            let mut bad = good.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x40;
            assert_eq!(
                verify_checksums(&bad).transport,
                Some(false),
                "{proto} {args}"
            );
            let t = ChecksumTally::of(&[pkt(good.clone()), pkt(bad.clone())]);
            assert_eq!((t.valid, t.bad, t.partial), (1, 1, 0));
            // Offloaded (partial) packets are counted apart, not as bad.
            let mut partial = pkt(bad);
            partial.csum = crate::capture::CsumStatus::Partial;
            assert_eq!(ChecksumTally::of(&[partial]).partial, 1);
        }
        // A flipped TTL breaks the IPv4 header checksum.
        let mut v4 = frame("udp", "sa=192.0.2.2,da=198.18.0.0,sp=1,dp=2");
        v4[14 + 8] ^= 1;
        assert_eq!(verify_checksums(&v4).ipv4_header, Some(false));
        assert!(!verify_checksums(&v4).all_valid());
    }
}
