//! Bytes from layers ([`Frame::build`]) and layers from bytes
//! ([`Frame::decode`]): the one encoder and the one decoder of every layer.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::{
    Arp, Eth, Ext, Frag6, Frame, Gre, Icmp, Icmpv6, Ipv4, Ipv6, Layer, Mpls, Raw, Routing, Tcp,
    Udp, Vlan, Vxlan,
};
use crate::checksum::{checksum, fold, pseudo_header_sum, sum};
use crate::flow::{MacAddr, TcpFlags};

/// IEEE 802 local experimental ethertype: what an Ethernet header says
/// when a raw payload follows it.
pub const ETHERTYPE_EXPERIMENTAL: u16 = 0x88b5;
/// IP protocol number before a raw payload ("no next header").
const PROTO_NONE: u8 = 59;
const VXLAN_PORT: u16 = 4789;

fn ethertype_of(next: Option<&Layer>) -> u16 {
    match next {
        Some(Layer::Eth(_)) => 0x6558,
        Some(Layer::Dot1q(_)) => 0x8100,
        Some(Layer::Dot1ad(_)) => 0x88a8,
        Some(Layer::Arp(_)) => 0x0806,
        Some(Layer::Mpls(_)) => 0x8847,
        Some(Layer::Ipv4(_)) => 0x0800,
        Some(Layer::Ipv6(_)) => 0x86dd,
        _ => ETHERTYPE_EXPERIMENTAL,
    }
}

fn proto_of(next: Option<&Layer>) -> u8 {
    match next {
        Some(Layer::HopByHop(_)) => 0,
        Some(Layer::Icmp(_)) => 1,
        Some(Layer::Ipv4(_)) => 4,
        Some(Layer::Tcp(_)) => 6,
        Some(Layer::Udp(_)) => 17,
        Some(Layer::Ipv6(_)) => 41,
        Some(Layer::Routing(_)) => 43,
        Some(Layer::Frag6(_)) => 44,
        Some(Layer::Gre(_)) => 47,
        Some(Layer::Icmpv6(_)) => 58,
        Some(Layer::DestOpts(_)) => 60,
        Some(Layer::Mpls(_)) => 137,
        Some(Layer::Eth(_)) => 143,
        _ => PROTO_NONE,
    }
}

/// The addresses of the innermost IP header, for pseudo-header checksums.
#[derive(Clone)]
struct IpCtx {
    src: Vec<u8>,
    dst: Vec<u8>,
}

impl Frame {
    /// The frame's bytes, blanks filled in: lengths, checksums, next-layer
    /// numbers. Fields given explicitly are sent as they are.
    pub fn build(&self) -> Vec<u8> {
        encode(&self.layers, None)
    }

    /// Decode an Ethernet frame. Never fails: what cannot be decoded (an
    /// unknown type, a truncated header, a non-first fragment) ends the
    /// frame as a [`Raw`] layer. Bytes past an IP packet's length (Ethernet
    /// padding) are dropped.
    pub fn decode(b: &[u8]) -> Frame {
        Frame {
            layers: decode_spans(b).into_iter().map(|d| d.layer).collect(),
        }
    }

    /// [`Frame::decode`] with the bytes each layer took.
    pub fn decode_spans(b: &[u8]) -> Vec<Spanned> {
        decode_spans(b)
    }
}

fn encode(ls: &[Layer], ip: Option<&IpCtx>) -> Vec<u8> {
    let Some((first, rest)) = ls.split_first() else {
        return Vec::new();
    };
    let next = rest.first();
    let inner_ip = match first {
        Layer::Ipv4(h) => Some(IpCtx {
            src: h.src.octets().to_vec(),
            dst: h.dst.octets().to_vec(),
        }),
        Layer::Ipv6(h) => Some(IpCtx {
            src: h.src.octets().to_vec(),
            dst: h.dst.octets().to_vec(),
        }),
        // Upper layers after a routing header still in use are checksummed
        // against the final destination, not the next hop in the IPv6
        // header (RFC 8200 8.1); a wrong sum is dropped by the receiver.
        Layer::Routing(r) if r.segleft > 0 => ip.map(|ip| IpCtx {
            src: ip.src.clone(),
            dst: final_destination(r).unwrap_or_else(|| ip.dst.clone()),
        }),
        _ => ip.cloned(),
    };
    let payload = encode(rest, inner_ip.as_ref());
    let mut o = Vec::with_capacity(64 + payload.len());
    let be16 = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_be_bytes());
    let be32 = |o: &mut Vec<u8>, v: u32| o.extend_from_slice(&v.to_be_bytes());
    match first {
        Layer::Eth(e) => {
            o.extend_from_slice(&e.dst.0);
            o.extend_from_slice(&e.src.0);
            be16(&mut o, e.ty.unwrap_or_else(|| ethertype_of(next)));
        }
        Layer::Dot1q(v) | Layer::Dot1ad(v) => {
            let tci = (u16::from(v.pcp) << 13) | (u16::from(v.dei) << 12) | (v.vid & 0x0fff);
            be16(&mut o, tci);
            be16(&mut o, v.ty.unwrap_or_else(|| ethertype_of(next)));
        }
        Layer::Arp(a) => {
            be16(&mut o, 1);
            be16(&mut o, 0x0800);
            o.extend_from_slice(&[6, 4]);
            be16(&mut o, a.op);
            o.extend_from_slice(&a.sha.0);
            o.extend_from_slice(&a.spa.octets());
            o.extend_from_slice(&a.tha.0);
            o.extend_from_slice(&a.tpa.octets());
        }
        Layer::Mpls(m) => {
            let s = m.s.unwrap_or(!matches!(next, Some(Layer::Mpls(_))));
            be32(
                &mut o,
                ((m.label & 0xf_ffff) << 12)
                    | (u32::from(m.tc & 7) << 9)
                    | (u32::from(s) << 8)
                    | u32::from(m.ttl),
            );
        }
        Layer::Ipv4(h) => {
            let mut opts = h.options.clone();
            opts.resize(opts.len().div_ceil(4) * 4, 0);
            let hlen = 20 + opts.len();
            let ihl = h.ihl.unwrap_or((hlen / 4) as u8);
            o.push(0x40 | (ihl & 0x0f));
            o.push(h.tos);
            be16(
                &mut o,
                h.len.unwrap_or((hlen + payload.len()).min(65535) as u16),
            );
            be16(&mut o, h.id);
            be16(
                &mut o,
                (u16::from(h.df) << 14) | (u16::from(h.mf) << 13) | (h.frag & 0x1fff),
            );
            o.push(h.ttl);
            o.push(h.proto.unwrap_or_else(|| proto_of(next)));
            be16(&mut o, 0);
            o.extend_from_slice(&h.src.octets());
            o.extend_from_slice(&h.dst.octets());
            o.extend_from_slice(&opts);
            let c = h.checksum.unwrap_or_else(|| checksum(&o));
            o[10..12].copy_from_slice(&c.to_be_bytes());
        }
        Layer::Ipv6(h) => {
            be32(
                &mut o,
                (6 << 28) | (u32::from(h.tc) << 20) | (h.fl & 0xf_ffff),
            );
            be16(&mut o, h.plen.unwrap_or(payload.len().min(65535) as u16));
            o.push(h.nh.unwrap_or_else(|| proto_of(next)));
            o.push(h.hlim);
            o.extend_from_slice(&h.src.octets());
            o.extend_from_slice(&h.dst.octets());
        }
        Layer::HopByHop(x) | Layer::DestOpts(x) => {
            let mut opts = x.options.clone();
            // Pad the options to 6 + 8n bytes: Pad1 for one byte, PadN else.
            let pad = (8 - (opts.len() + 2) % 8) % 8;
            match pad {
                0 => {}
                1 => opts.push(0),
                n => {
                    opts.push(1);
                    opts.push((n - 2) as u8);
                    opts.extend(std::iter::repeat_n(0, n - 2));
                }
            }
            o.push(x.nh.unwrap_or_else(|| proto_of(next)));
            o.push(x.len.unwrap_or(((opts.len() + 2) / 8 - 1) as u8));
            o.extend_from_slice(&opts);
        }
        Layer::Routing(r) => {
            let mut data = r.data.clone();
            // 4 header bytes + data make whole 8-byte units.
            data.resize((data.len() + 4).div_ceil(8).max(1) * 8 - 4, 0);
            o.push(r.nh.unwrap_or_else(|| proto_of(next)));
            o.push(r.len.unwrap_or(((data.len() + 4) / 8 - 1) as u8));
            o.push(r.rtype);
            o.push(r.segleft);
            o.extend_from_slice(&data);
        }
        Layer::Frag6(fr) => {
            o.push(fr.nh.unwrap_or_else(|| proto_of(next)));
            o.push(0);
            be16(&mut o, (fr.offset << 3) | u16::from(fr.m));
            be32(&mut o, fr.id);
        }
        Layer::Icmp(i) => {
            o.extend_from_slice(&[i.ty, i.code, 0, 0]);
            be16(&mut o, i.id);
            be16(&mut o, i.seq);
            let c = i.checksum.unwrap_or_else(|| {
                o.extend_from_slice(&payload);
                let c = checksum(&o);
                o.truncate(8);
                c
            });
            o[2..4].copy_from_slice(&c.to_be_bytes());
        }
        Layer::Icmpv6(i) => {
            o.extend_from_slice(&[i.ty, i.code, 0, 0]);
            let target = i.target.unwrap_or(Ipv6Addr::UNSPECIFIED).octets();
            match i.ty {
                133 => be32(&mut o, 0),
                134 => {
                    o.extend_from_slice(&[i.hlim, i.flags]);
                    be16(&mut o, i.lifetime);
                    be32(&mut o, i.reachable);
                    be32(&mut o, i.retrans);
                }
                135 => {
                    be32(&mut o, 0);
                    o.extend_from_slice(&target);
                }
                136 => {
                    o.extend_from_slice(&[i.flags, 0, 0, 0]);
                    o.extend_from_slice(&target);
                }
                _ => {
                    be16(&mut o, i.id);
                    be16(&mut o, i.seq);
                }
            }
            if is_nd(i.ty) {
                for (t, mac) in [(1u8, i.sll), (2, i.tll)] {
                    if let Some(m) = mac {
                        o.extend_from_slice(&[t, 1]);
                        o.extend_from_slice(&m.0);
                    }
                }
            }
            let hlen = o.len();
            o.extend_from_slice(&payload);
            let c = i.checksum.unwrap_or_else(|| l4_checksum(ip, 58, &o));
            o.truncate(hlen);
            o[2..4].copy_from_slice(&c.to_be_bytes());
        }
        Layer::Udp(u) => {
            let dport = u.dport.unwrap_or(match next {
                Some(Layer::Vxlan(_)) => VXLAN_PORT,
                _ => 9,
            });
            be16(&mut o, u.sport);
            be16(&mut o, dport);
            be16(
                &mut o,
                u.len.unwrap_or((8 + payload.len()).min(65535) as u16),
            );
            be16(&mut o, 0);
            let c = u.checksum.unwrap_or_else(|| {
                o.extend_from_slice(&payload);
                let c = match l4_checksum(ip, 17, &o) {
                    // RFC 768: a computed zero is sent as all ones.
                    0 => 0xffff,
                    c => c,
                };
                o.truncate(8);
                c
            });
            o[6..8].copy_from_slice(&c.to_be_bytes());
        }
        Layer::Tcp(t) => {
            let mut opts = t.options.clone();
            opts.resize(opts.len().div_ceil(4) * 4, 0);
            let doff = t.doff.unwrap_or(((20 + opts.len()) / 4) as u8);
            be16(&mut o, t.sport);
            be16(&mut o, t.dport);
            be32(&mut o, t.seq);
            be32(&mut o, t.ack);
            o.extend_from_slice(&[(doff & 0x0f) << 4, t.flags.0]);
            be16(&mut o, t.window);
            be16(&mut o, 0);
            be16(&mut o, t.urg);
            o.extend_from_slice(&opts);
            let hlen = o.len();
            let c = t.checksum.unwrap_or_else(|| {
                o.extend_from_slice(&payload);
                let c = l4_checksum(ip, 6, &o);
                o.truncate(hlen);
                c
            });
            o[16..18].copy_from_slice(&c.to_be_bytes());
        }
        Layer::Vxlan(v) => {
            o.extend_from_slice(&[v.flags, 0, 0, 0]);
            be32(&mut o, (v.vni & 0xff_ffff) << 8);
        }
        Layer::Gre(g) => {
            let flags = (u16::from(g.key.is_some()) << 13) | (u16::from(g.seq.is_some()) << 12);
            be16(&mut o, flags);
            be16(&mut o, g.proto.unwrap_or_else(|| ethertype_of(next)));
            if let Some(k) = g.key {
                be32(&mut o, k);
            }
            if let Some(s) = g.seq {
                be32(&mut o, s);
            }
        }
        Layer::Raw(r) => o.extend_from_slice(&r.data),
    }
    o.extend_from_slice(&payload);
    o
}

/// Where a packet with this routing header ends up, for the types that say
/// it plainly: the last address of type 0, the home address of type 2, the
/// first segment (Segment List[0]) of a segment routing header (type 4).
/// `data` starts after the 4 fixed bytes, with the type's reserved word.
fn final_destination(r: &Routing) -> Option<Vec<u8>> {
    let addrs = r.data.get(4..)?;
    let at = match r.rtype {
        0 if addrs.len() >= 16 => (addrs.len() / 16 - 1) * 16,
        2 | 4 => 0,
        _ => return None,
    };
    addrs.get(at..at + 16).map(<[u8]>::to_vec)
}

fn is_nd(ty: u8) -> bool {
    matches!(ty, 133..=136)
}

/// The checksum of a UDP/TCP/ICMPv6 segment `l4` (checksum field zero)
/// under the innermost IP header; without one, the plain sum.
fn l4_checksum(ip: Option<&IpCtx>, proto: u8, l4: &[u8]) -> u16 {
    let acc = match ip {
        Some(ip) => pseudo_header_sum(&ip.src, &ip.dst, proto, l4.len() as u32),
        None => 0,
    };
    !fold(sum(l4, acc))
}

/// One decoded layer and the bytes its header (or, for [`Raw`], its data)
/// took in the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned {
    pub layer: Layer,
    pub span: Range<usize>,
}

/// What the decoder expects next.
enum Next {
    Ether(u16),
    Eth,
    Ip(u8),
    /// After MPLS bottom of stack: guess IPv4/IPv6 from the version nibble.
    MplsPayload,
    Vxlan,
    Raw,
}

fn ether_next(t: u16) -> Next {
    match t {
        0x6558 => Next::Eth,
        0x8100 | 0x88a8 | 0x0806 | 0x8847 | 0x8848 | 0x0800 | 0x86dd => Next::Ether(t),
        _ => Next::Raw,
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn mac(b: &[u8], at: usize) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[at..at + 6]);
    MacAddr(m)
}
fn v4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}
fn v6(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(a)
}

/// Decode `b` into layers with their spans (see [`Frame::decode`]).
fn decode_spans(b: &[u8]) -> Vec<Spanned> {
    let mut out = Vec::with_capacity(6);
    let mut at = 0usize;
    // Where the current IP packet ends (its length field), if shorter.
    let mut end = b.len();
    let mut next = Next::Eth;
    loop {
        let rest = &b[at..end];
        let (layer, hlen, then) = match next {
            Next::Eth if rest.len() >= 14 => {
                let ty = be16(rest, 12);
                (
                    Layer::Eth(Eth {
                        dst: mac(rest, 0),
                        src: mac(rest, 6),
                        ty: Some(ty),
                    }),
                    14,
                    ether_next(ty),
                )
            }
            Next::Ether(tpid @ (0x8100 | 0x88a8)) if rest.len() >= 4 => {
                let tci = be16(rest, 0);
                let ty = be16(rest, 2);
                let v = Vlan {
                    pcp: (tci >> 13) as u8,
                    dei: tci & 0x1000 != 0,
                    vid: tci & 0x0fff,
                    ty: Some(ty),
                };
                let l = if tpid == 0x8100 {
                    Layer::Dot1q(v)
                } else {
                    Layer::Dot1ad(v)
                };
                (l, 4, ether_next(ty))
            }
            Next::Ether(0x0806) if rest.len() >= 28 && rest[..6] == [0, 1, 8, 0, 6, 4] => (
                Layer::Arp(Arp {
                    op: be16(rest, 6),
                    sha: mac(rest, 8),
                    spa: v4(rest, 14),
                    tha: mac(rest, 18),
                    tpa: v4(rest, 24),
                }),
                28,
                Next::Raw,
            ),
            Next::Ether(0x8847 | 0x8848) if rest.len() >= 4 => {
                let w = be32(rest, 0);
                let s = w & 0x100 != 0;
                (
                    Layer::Mpls(Mpls {
                        label: w >> 12,
                        tc: ((w >> 9) & 7) as u8,
                        s: Some(s),
                        ttl: w as u8,
                    }),
                    4,
                    if s {
                        Next::MplsPayload
                    } else {
                        Next::Ether(0x8847)
                    },
                )
            }
            Next::MplsPayload => match rest.first().map(|v| v >> 4) {
                Some(4) => {
                    next = Next::Ether(0x0800);
                    continue;
                }
                Some(6) => {
                    next = Next::Ether(0x86dd);
                    continue;
                }
                _ => {
                    next = Next::Raw;
                    continue;
                }
            },
            Next::Ether(0x0800) if rest.len() >= 20 && rest[0] >> 4 == 4 => {
                let ihl = rest[0] & 0x0f;
                let hlen = usize::from(ihl) * 4;
                if hlen < 20 || hlen > rest.len() {
                    next = Next::Raw;
                    continue;
                }
                let len = be16(rest, 2);
                if usize::from(len) >= hlen && usize::from(len) <= rest.len() {
                    end = at + usize::from(len);
                }
                let fl = be16(rest, 6);
                let proto = rest[9];
                let h = Ipv4 {
                    tos: rest[1],
                    id: be16(rest, 4),
                    df: fl & 0x4000 != 0,
                    mf: fl & 0x2000 != 0,
                    frag: fl & 0x1fff,
                    ttl: rest[8],
                    proto: Some(proto),
                    options: rest[20..hlen].to_vec(),
                    src: v4(rest, 12),
                    dst: v4(rest, 16),
                    ihl: Some(ihl),
                    len: Some(len),
                    checksum: Some(be16(rest, 10)),
                };
                // Only a whole datagram's payload is a layer.
                let then = if h.mf || h.frag != 0 {
                    Next::Raw
                } else {
                    Next::Ip(proto)
                };
                (Layer::Ipv4(h), hlen, then)
            }
            Next::Ether(0x86dd) if rest.len() >= 40 && rest[0] >> 4 == 6 => {
                let w = be32(rest, 0);
                let plen = be16(rest, 4);
                if 40 + usize::from(plen) <= rest.len() {
                    end = at + 40 + usize::from(plen);
                }
                let nh = rest[6];
                (
                    Layer::Ipv6(Ipv6 {
                        tc: (w >> 20) as u8,
                        fl: w & 0xf_ffff,
                        plen: Some(plen),
                        nh: Some(nh),
                        hlim: rest[7],
                        src: v6(rest, 8),
                        dst: v6(rest, 24),
                    }),
                    40,
                    Next::Ip(nh),
                )
            }
            Next::Ip(p @ (0 | 43 | 60)) if rest.len() >= 8 => {
                let hlen = (usize::from(rest[1]) + 1) * 8;
                if hlen > rest.len() {
                    next = Next::Raw;
                    continue;
                }
                let nh = rest[0];
                let l = match p {
                    43 => Layer::Routing(Routing {
                        nh: Some(nh),
                        len: Some(rest[1]),
                        rtype: rest[2],
                        segleft: rest[3],
                        data: rest[4..hlen].to_vec(),
                    }),
                    _ => {
                        let x = Ext {
                            nh: Some(nh),
                            len: Some(rest[1]),
                            options: rest[2..hlen].to_vec(),
                        };
                        if p == 0 {
                            Layer::HopByHop(x)
                        } else {
                            Layer::DestOpts(x)
                        }
                    }
                };
                (l, hlen, Next::Ip(nh))
            }
            Next::Ip(44) if rest.len() >= 8 => {
                let w = be16(rest, 2);
                let f = Frag6 {
                    nh: Some(rest[0]),
                    offset: w >> 3,
                    m: w & 1 != 0,
                    id: be32(rest, 4),
                };
                let then = if f.m || f.offset != 0 {
                    Next::Raw
                } else {
                    Next::Ip(rest[0])
                };
                (Layer::Frag6(f), 8, then)
            }
            Next::Ip(4) => {
                next = Next::Ether(0x0800);
                continue;
            }
            Next::Ip(41) => {
                next = Next::Ether(0x86dd);
                continue;
            }
            Next::Ip(137) => {
                next = Next::Ether(0x8847);
                continue;
            }
            Next::Ip(143) => {
                next = Next::Eth;
                continue;
            }
            Next::Ip(1) if rest.len() >= 8 => (
                Layer::Icmp(Icmp {
                    ty: rest[0],
                    code: rest[1],
                    checksum: Some(be16(rest, 2)),
                    id: be16(rest, 4),
                    seq: be16(rest, 6),
                }),
                8,
                Next::Raw,
            ),
            Next::Ip(58) if rest.len() >= 8 => {
                let (i, hlen) = icmpv6(rest);
                (Layer::Icmpv6(i), hlen, Next::Raw)
            }
            Next::Ip(17) if rest.len() >= 8 => {
                let dport = be16(rest, 2);
                (
                    Layer::Udp(Udp {
                        sport: be16(rest, 0),
                        dport: Some(dport),
                        len: Some(be16(rest, 4)),
                        checksum: Some(be16(rest, 6)),
                    }),
                    8,
                    if dport == VXLAN_PORT {
                        Next::Vxlan
                    } else {
                        Next::Raw
                    },
                )
            }
            Next::Ip(6) if rest.len() >= 20 => {
                let doff = rest[12] >> 4;
                let hlen = usize::from(doff) * 4;
                if hlen < 20 || hlen > rest.len() {
                    next = Next::Raw;
                    continue;
                }
                (
                    Layer::Tcp(Tcp {
                        sport: be16(rest, 0),
                        dport: be16(rest, 2),
                        seq: be32(rest, 4),
                        ack: be32(rest, 8),
                        flags: TcpFlags(rest[13]),
                        window: be16(rest, 14),
                        checksum: Some(be16(rest, 16)),
                        urg: be16(rest, 18),
                        options: rest[20..hlen].to_vec(),
                        doff: Some(doff),
                    }),
                    hlen,
                    Next::Raw,
                )
            }
            Next::Ip(47) if rest.len() >= 4 && be16(rest, 0) & 0xcfff == 0 => {
                let fl = be16(rest, 0);
                let mut hlen = 4;
                let mut word = |present: bool| {
                    (present && rest.len() >= hlen + 4).then(|| {
                        hlen += 4;
                        be32(rest, hlen - 4)
                    })
                };
                let key = word(fl & 0x2000 != 0);
                let seq = word(fl & 0x1000 != 0);
                let proto = be16(rest, 2);
                (
                    Layer::Gre(Gre {
                        proto: Some(proto),
                        key,
                        seq,
                    }),
                    hlen,
                    ether_next(proto),
                )
            }
            Next::Vxlan if rest.len() >= 8 => (
                Layer::Vxlan(Vxlan {
                    flags: rest[0],
                    vni: be32(rest, 4) >> 8,
                }),
                8,
                Next::Eth,
            ),
            _ => {
                if !rest.is_empty() {
                    out.push(Spanned {
                        layer: Layer::Raw(Raw {
                            data: rest.to_vec(),
                        }),
                        span: at..end,
                    });
                }
                return out;
            }
        };
        out.push(Spanned {
            layer,
            span: at..at + hlen,
        });
        at += hlen;
        next = then;
    }
}

/// ICMPv6 header (with ND fields and link-layer options) and its length.
fn icmpv6(b: &[u8]) -> (Icmpv6, usize) {
    let mut i = Icmpv6 {
        ty: b[0],
        code: b[1],
        checksum: Some(be16(b, 2)),
        ..Icmpv6::default()
    };
    let fixed = match i.ty {
        133 => 8,
        134 => 16,
        135 | 136 => 24,
        _ => {
            i.id = be16(b, 4);
            i.seq = be16(b, 6);
            return (i, 8);
        }
    };
    if b.len() < fixed {
        i.id = be16(b, 4);
        i.seq = be16(b, 6);
        return (i, 8);
    }
    match i.ty {
        134 => {
            i.hlim = b[4];
            i.flags = b[5];
            i.lifetime = be16(b, 6);
            i.reachable = be32(b, 8);
            i.retrans = be32(b, 12);
        }
        135 => i.target = Some(v6(b, 8)),
        136 => {
            i.flags = b[4];
            i.target = Some(v6(b, 8));
        }
        _ => {}
    }
    // Source/target link-layer address options, in the order the builder
    // writes them; anything else is left to the payload.
    let mut at = fixed;
    for (t, slot) in [(1u8, &mut i.sll), (2, &mut i.tll)] {
        if b.len() >= at + 8 && b[at] == t && b[at + 1] == 1 {
            *slot = Some(mac(b, at + 2));
            at += 8;
        }
    }
    (i, at)
}
