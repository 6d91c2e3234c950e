//! Packet templates: a frame built once per flow, then patched per packet with
//! incremental checksum updates (RFC 1624), so generating a packet costs a few
//! word operations and a copy.

use std::net::IpAddr;

use crate::checksum::{self, update};
use crate::error::FlowError;
use crate::flow::{FlowPoint, FlowSpec, MacAddr, L4};
use crate::tag::{Tag, TAG_LEN, TAG_SEQ_OFFSET};

const ETH_LEN: usize = 14;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// A ready-to-send frame for one flow plus what is needed to patch it.
#[derive(Clone, Debug)]
pub struct Template {
    frame: Vec<u8>,
    v6: bool,
    l4_proto: u8,
    l4: usize,
    csum: usize,
    tag: Option<usize>,
    point: FlowPoint,
    seq: u64,
}

impl Template {
    /// Build the frame for the first point of `spec`.
    pub fn new(spec: &FlowSpec, src_mac: MacAddr, dst_mac: MacAddr) -> Result<Self, FlowError> {
        spec.validate()?;
        let point = spec.points().current();
        let v6 = spec.dst_ip.is_v6();
        let size = spec.effective_frame_size();
        let mut f = vec![0u8; size];
        f[0..6].copy_from_slice(&dst_mac.0);
        f[6..12].copy_from_slice(&src_mac.0);
        f[12..14].copy_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });

        let l4_proto = match spec.l4 {
            L4::Udp { .. } => IPPROTO_UDP,
            L4::Tcp { .. } => IPPROTO_TCP,
            L4::IcmpEcho { .. } => IPPROTO_ICMP,
            L4::Icmpv6Echo { .. } => IPPROTO_ICMPV6,
        };
        let l3 = ETH_LEN;
        let l4 = l3 + if v6 { 40 } else { 20 };
        let l4_len = size - l4;
        match (point.src_ip, point.dst_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let ip = &mut f[l3..l4];
                ip[0] = 0x45;
                ip[2..4].copy_from_slice(&((size - l3) as u16).to_be_bytes());
                ip[6] = 0x40; // DF: generated traffic should never be fragmented
                ip[8] = spec.ttl;
                ip[9] = l4_proto;
                ip[12..16].copy_from_slice(&s.octets());
                ip[16..20].copy_from_slice(&d.octets());
                let c = checksum::checksum(ip);
                ip[10..12].copy_from_slice(&c.to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let ip = &mut f[l3..l4];
                ip[0] = 0x60;
                ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                ip[6] = l4_proto;
                ip[7] = spec.ttl;
                ip[8..24].copy_from_slice(&s.octets());
                ip[24..40].copy_from_slice(&d.octets());
            }
            // validate() rejected mixed families already.
            _ => {
                return Err(FlowError::FamilyMismatch {
                    src: spec.src_ip.to_string(),
                    dst: spec.dst_ip.to_string(),
                })
            }
        }
        let (hdr, csum) = match spec.l4 {
            L4::Udp { .. } => {
                let h = &mut f[l4..l4 + 8];
                h[0..2].copy_from_slice(&point.sp.to_be_bytes());
                h[2..4].copy_from_slice(&point.dp.to_be_bytes());
                h[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                (8, l4 + 6)
            }
            L4::Tcp { flags, seq, .. } => {
                let h = &mut f[l4..l4 + 20];
                h[0..2].copy_from_slice(&point.sp.to_be_bytes());
                h[2..4].copy_from_slice(&point.dp.to_be_bytes());
                h[4..8].copy_from_slice(&seq.to_be_bytes());
                h[12] = 5 << 4;
                h[13] = flags.0;
                h[14..16].copy_from_slice(&64240u16.to_be_bytes());
                (20, l4 + 16)
            }
            L4::IcmpEcho { id } | L4::Icmpv6Echo { id } => {
                let h = &mut f[l4..l4 + 8];
                h[0] = if v6 { 128 } else { 8 };
                h[4..6].copy_from_slice(&id.to_be_bytes());
                (8, l4 + 2)
            }
        };
        let tag = spec.tag.map(|t| {
            let off = l4 + hdr;
            let tag = Tag {
                stream: t.stream,
                seq: 0,
                src: t.src,
                dst: t.dst,
            };
            // validate() guaranteed room for the tag.
            let _ = tag.write(&mut f[off..off + TAG_LEN]);
            off
        });
        let mut t = Template {
            frame: f,
            v6,
            l4_proto,
            l4,
            csum,
            tag,
            point,
            seq: 0,
        };
        let c = t.full_l4_checksum();
        t.frame[csum..csum + 2].copy_from_slice(&c.to_be_bytes());
        Ok(t)
    }

    /// The current frame.
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }

    /// Frame length in bytes.
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    /// Always false: a template holds at least the headers.
    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }

    /// The point the frame currently encodes.
    pub fn point(&self) -> FlowPoint {
        self.point
    }

    /// Patch the frame to encode `p`, touching only fields that differ.
    pub fn set_point(&mut self, p: &FlowPoint) {
        if p.src_ip != self.point.src_ip {
            let off = if self.v6 { ETH_LEN + 8 } else { ETH_LEN + 12 };
            self.patch_addr(off, p.src_ip);
        }
        if p.dst_ip != self.point.dst_ip {
            let off = if self.v6 { ETH_LEN + 24 } else { ETH_LEN + 16 };
            self.patch_addr(off, p.dst_ip);
        }
        if matches!(self.l4_proto, IPPROTO_UDP | IPPROTO_TCP) {
            if p.sp != self.point.sp {
                self.patch_l4(self.l4, &p.sp.to_be_bytes());
            }
            if p.dp != self.point.dp {
                self.patch_l4(self.l4 + 2, &p.dp.to_be_bytes());
            }
        }
        self.point = *p;
    }

    /// Set the per-packet sequence: the tag's sequence and, for echo
    /// requests, the ICMP sequence (low 16 bits).
    pub fn set_seq(&mut self, seq: u64) {
        if seq == self.seq {
            return;
        }
        if let Some(off) = self.tag {
            self.patch_l4(off + TAG_SEQ_OFFSET, &seq.to_be_bytes());
        }
        if matches!(self.l4_proto, IPPROTO_ICMP | IPPROTO_ICMPV6) {
            self.patch_l4(self.l4 + 6, &(seq as u16).to_be_bytes());
        }
        self.seq = seq;
    }

    fn patch_addr(&mut self, off: usize, ip: IpAddr) {
        let new: &[u8] = &match ip {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        };
        let new = if self.v6 { new } else { &new[12..] };
        let len = new.len();
        if !self.v6 {
            // IPv4 header checksum covers the addresses.
            let hc = self.read16(ETH_LEN + 10);
            let c = update(hc, &self.frame[off..off + len], new);
            self.frame[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&c.to_be_bytes());
        }
        if self.l4_proto != IPPROTO_ICMP {
            // Pseudo header: UDP, TCP and ICMPv6 cover the addresses too.
            self.update_l4_csum(off, new);
        }
        self.frame[off..off + len].copy_from_slice(new);
    }

    fn patch_l4(&mut self, off: usize, new: &[u8]) {
        self.update_l4_csum(off, new);
        self.frame[off..off + new.len()].copy_from_slice(new);
    }

    fn update_l4_csum(&mut self, off: usize, new: &[u8]) {
        let hc = self.read16(self.csum);
        let mut c = update(hc, &self.frame[off..off + new.len()], new);
        if c == 0 && self.l4_proto == IPPROTO_UDP {
            c = 0xffff; // 0 means "no checksum" in UDP
        }
        self.frame[self.csum..self.csum + 2].copy_from_slice(&c.to_be_bytes());
    }

    fn read16(&self, off: usize) -> u16 {
        u16::from_be_bytes([self.frame[off], self.frame[off + 1]])
    }

    /// Recompute the L4 checksum from scratch (used at build time and by tests).
    pub fn full_l4_checksum(&self) -> u16 {
        l4_checksum(&self.frame, self.v6, self.l4_proto, self.l4, self.csum)
    }

    /// Recompute the IPv4 header checksum from scratch (None for IPv6).
    pub fn full_ip_checksum(&self) -> Option<u16> {
        if self.v6 {
            return None;
        }
        let mut h = [0u8; 20];
        h.copy_from_slice(&self.frame[ETH_LEN..ETH_LEN + 20]);
        h[10] = 0;
        h[11] = 0;
        Some(checksum::checksum(&h))
    }
}

fn l4_checksum(f: &[u8], v6: bool, proto: u8, l4: usize, csum: usize) -> u16 {
    let l4_len = (f.len() - l4) as u32;
    let mut acc = if proto == IPPROTO_ICMP {
        0
    } else if v6 {
        checksum::pseudo_header_sum(
            &f[ETH_LEN + 8..ETH_LEN + 24],
            &f[ETH_LEN + 24..ETH_LEN + 40],
            proto,
            l4_len,
        )
    } else {
        checksum::pseudo_header_sum(
            &f[ETH_LEN + 12..ETH_LEN + 16],
            &f[ETH_LEN + 16..ETH_LEN + 20],
            proto,
            l4_len,
        )
    };
    acc = checksum::sum(&f[l4..csum], acc);
    acc = checksum::sum(&f[csum + 2..], acc);
    let c = !checksum::fold(acc);
    if c == 0 && proto == IPPROTO_UDP {
        0xffff
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowSpec;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    const SM: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const DM: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    /// Check every checksum of `frame` with etherparse (independent code).
    fn etherparse_ok(frame: &[u8]) {
        let p = SlicedPacket::from_ethernet(frame).expect("parses");
        let (src, dst, v6, hdr_ok) = match p.net.as_ref().expect("ip") {
            NetSlice::Ipv4(ip) => {
                let h = ip.header().to_header();
                (
                    h.source.to_vec(),
                    h.destination.to_vec(),
                    false,
                    h.calc_header_checksum() == h.header_checksum,
                )
            }
            NetSlice::Ipv6(ip) => {
                let h = ip.header().to_header();
                (h.source.to_vec(), h.destination.to_vec(), true, true)
            }
            _ => panic!("arp?"),
        };
        assert!(hdr_ok, "ipv4 header checksum");
        let (s4, d4) = (
            <[u8; 4]>::try_from(&src[..src.len().min(4)]).ok(),
            <[u8; 4]>::try_from(&dst[..dst.len().min(4)]).ok(),
        );
        let (s16, d16) = (
            <[u8; 16]>::try_from(&src[..]).ok(),
            <[u8; 16]>::try_from(&dst[..]).ok(),
        );
        match p.transport.expect("l4") {
            TransportSlice::Udp(u) => {
                let h = u.to_header();
                let c = if v6 {
                    h.calc_checksum_ipv6_raw(s16.unwrap(), d16.unwrap(), u.payload())
                } else {
                    h.calc_checksum_ipv4_raw(s4.unwrap(), d4.unwrap(), u.payload())
                }
                .unwrap();
                assert_eq!(c, h.checksum, "udp checksum");
            }
            TransportSlice::Tcp(t) => {
                let h = t.to_header();
                let c = if v6 {
                    h.calc_checksum_ipv6_raw(s16.unwrap(), d16.unwrap(), t.payload())
                } else {
                    h.calc_checksum_ipv4_raw(s4.unwrap(), d4.unwrap(), t.payload())
                }
                .unwrap();
                assert_eq!(c, h.checksum, "tcp checksum");
            }
            TransportSlice::Icmpv4(i) => {
                let h = i.header();
                assert_eq!(h.icmp_type.calc_checksum(i.payload()), h.checksum, "icmp");
            }
            TransportSlice::Icmpv6(i) => {
                let h = i.header();
                let c = h
                    .icmp_type
                    .calc_checksum(s16.unwrap(), d16.unwrap(), i.payload())
                    .unwrap();
                assert_eq!(c, h.checksum, "icmpv6");
            }
            _ => panic!("unexpected transport"),
        }
    }

    fn exercise(proto: &str, args: &str, n: usize) {
        let spec = FlowSpec::parse(proto, args)
            .unwrap()
            .with_args("c=1")
            .unwrap();
        let mut t = Template::new(&spec, SM, DM).unwrap();
        etherparse_ok(t.frame());
        let mut cur = spec.points();
        for i in 0..n as u64 {
            let p = cur.current();
            t.set_point(&p);
            t.set_seq(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            // Incremental result equals a full recompute...
            let c = u16::from_be_bytes([t.frame()[t.csum], t.frame()[t.csum + 1]]);
            assert_eq!(c, t.full_l4_checksum(), "{proto} {args} packet {i}");
            if let Some(ipc) = t.full_ip_checksum() {
                assert_eq!(u16::from_be_bytes([t.frame()[24], t.frame()[25]]), ipc);
            }
            // ...and an independent implementation agrees, fields are right.
            if i % 97 == 0 {
                etherparse_ok(t.frame());
            }
            let h = etherparse::SlicedPacket::from_ethernet(t.frame()).unwrap();
            match h.transport {
                Some(TransportSlice::Udp(u)) => {
                    assert_eq!((u.source_port(), u.destination_port()), (p.sp, p.dp))
                }
                Some(TransportSlice::Tcp(u)) => {
                    assert_eq!((u.source_port(), u.destination_port()), (p.sp, p.dp))
                }
                _ => {}
            }
            if spec.tag.is_some() {
                let tag = Tag::from_frame(t.frame()).expect("tag");
                assert_eq!(tag.seq, i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            }
            cur.advance();
        }
    }

    #[test]
    fn udp4_incremental_matches_full() {
        exercise(
            "udp",
            "sa=192.0.2.1-192.0.2.200,da=198.18.0.0/22,sp=1000-1013,dp=0-65535,tag=3:1:2",
            20_000,
        );
        exercise("udp", "sa=192.0.2.1,da=198.18.0.0/16,sp=7,dp=9", 20_000);
    }

    #[test]
    fn udp6_tcp_icmp_incremental_matches_full() {
        exercise(
            "udp",
            "sa=2001:db8::1-2001:db8::ff,da=2001:db8:1::/112,sp=1-3,dp=100-9000,tag=1,size=200",
            20_000,
        );
        exercise(
            "tcp",
            "sa=192.0.2.1-192.0.2.9,da=203.0.113.0/24,sp=1-10,dp=80,flags=syn,tag=9:9:9",
            5_000,
        );
        exercise(
            "tcp",
            "sa=2001:db8::1,da=2001:db8::2-2001:db8::40,sp=1024-1100,dp=443",
            5_000,
        );
        exercise(
            "icmp",
            "sa=192.0.2.1,da=198.51.100.1-198.51.100.20,tag=5",
            3_000,
        );
        exercise(
            "icmpv6",
            "sa=2001:db8::1,da=2001:db8::2-2001:db8::30,tag=5",
            3_000,
        );
    }

    #[test]
    fn layout_and_sizes() {
        let spec = FlowSpec::parse("udp", "sa=192.0.2.1,da=198.18.0.1,sp=1024,dp=80").unwrap();
        let t = Template::new(&spec, SM, DM).unwrap();
        assert_eq!(t.len(), 60);
        assert_eq!(&t.frame()[0..6], &DM.0);
        assert_eq!(&t.frame()[6..12], &SM.0);
        let p = etherparse::SlicedPacket::from_ethernet(t.frame()).unwrap();
        let Some(NetSlice::Ipv4(ip)) = p.net else {
            panic!()
        };
        assert_eq!(ip.header().ttl(), 64);
        assert_eq!(ip.header().total_len(), 46);
        let spec = spec.with_args("size=64,tag=1").unwrap();
        assert_eq!(Template::new(&spec, SM, DM).unwrap().len(), 64);
        let spec = FlowSpec::parse("udp", "sa=2001:db8::1,da=2001:db8::2,tag=1").unwrap();
        assert_eq!(Template::new(&spec, SM, DM).unwrap().len(), 82);
    }
}
