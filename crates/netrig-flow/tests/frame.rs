//! Frames built from the notation decode back to the same layers, every
//! blank filled with what was built, and build again to the same bytes.

use netrig_flow::checksum::{checksum, fold, pseudo_header_sum, sum};
use netrig_flow::frame::{Frame, FrameSpec, Layer};

/// One frame per layer kind (and the combinations that matter).
pub const CASES: &[&str] = &[
    "eth(dst=02:00:00:00:00:02, src=02:00:00:00:00:01) / raw(hex='dead beef')",
    "eth() / dot1q(pcp=5, dei=1, vid=10) / ipv4(dst=203.0.113.1) / udp(dport=53) / raw(text='hi')",
    "eth() / dot1ad(vid=100) / dot1q(vid=200) / ipv6() / udp(sport=7, dport=8)",
    "eth() / arp(op=2, sha=02:00:00:00:00:09, spa=192.0.2.9, tha=02:00:00:00:00:01, tpa=192.0.2.1)",
    "eth() / mpls(label=100, tc=3, ttl=9) / mpls(label=200) / ipv4() / icmp()",
    "eth() / ipv4(tos=0xb8, id=77, df=1, ttl=5, options='94040000') / tcp(sport=1, dport=2, seq=3, ack=4, flags=syn+ack+urg, window=5, urg=6)",
    "eth() / ipv4(id=9, mf=1, frag=0) / raw(hex=0011223344556677)",
    "eth() / ipv4(id=9, frag=185) / raw(hex=0011223344556677)",
    "eth() / ipv6(tc=0x2e, fl=0x12345, hlim=3) / hbh(options='0502 0000') / routing(type=0, segleft=1, data='00000000 20010db8000000000000000000000009') / dstopts() / frag6(offset=0, id=0xabcd) / udp() / raw(text='ext')",
    "eth() / ipv6() / frag6(offset=10, m=1, id=7) / raw(hex=00112233)",
    "eth() / ipv4() / icmp(type=8, code=0, id=1234, seq=7) / raw(text='ping')",
    "eth() / ipv6() / icmpv6(type=128, id=5, seq=6)",
    "eth() / ipv6(dst=ff02::1:ff00:2, hlim=255) / icmpv6(type=135, target=2001:db8::2, sll=02:00:00:00:00:01)",
    "eth() / ipv6(hlim=255) / icmpv6(type=136, flags=0x60, target=2001:db8::2, tll=02:00:00:00:00:02)",
    "eth() / ipv6(dst=ff02::2, hlim=255) / icmpv6(type=133, sll=02:00:00:00:00:01)",
    "eth() / ipv6(dst=ff02::1, hlim=255) / icmpv6(type=134, hlim=64, flags=0xc0, lifetime=1800, reachable=30000, retrans=1000, sll=02:00:00:00:00:01)",
    "eth() / ipv4(src=198.51.100.1, dst=198.51.100.2) / udp(sport=5000) / vxlan(vni=42) / eth(dst=02:00:00:00:00:0b) / ipv4(dst=203.0.113.1, ttl=3) / icmp(type=8)",
    "eth() / ipv4() / gre(key=1234, seq=5) / ipv4(dst=203.0.113.9) / udp(dport=9)",
    "eth() / ipv4() / gre() / eth() / arp()",
    "eth() / ipv6() / gre(seq=1) / ipv6() / tcp(flags=fin+psh+ack+ece+cwr)",
];

#[test]
fn every_case_decodes_back_to_what_was_built() {
    for case in CASES {
        let spec = FrameSpec::parse(case).unwrap_or_else(|e| panic!("{case}: {e}"));
        let frame = spec.frame(0);
        let bytes = frame.build();
        let decoded = Frame::decode(&bytes);
        assert_eq!(
            decoded.layers.len(),
            frame.layers.len(),
            "{case}\n{decoded}"
        );
        for (want, got) in frame.layers.iter().zip(&decoded.layers) {
            assert_eq!(want.keyword(), got.keyword(), "{case}");
            // Every field the case gave (or defaulted) is what came back;
            // blanks were filled.
            for (name, _) in want.field_kinds() {
                match (want.get(name), got.get(name)) {
                    (Some(w), Some(g))
                        if matches!(
                            want,
                            Layer::Ipv4(_)
                                | Layer::Tcp(_)
                                | Layer::HopByHop(_)
                                | Layer::DestOpts(_)
                                | Layer::Routing(_)
                        ) && *name == "options"
                            || *name == "data" =>
                    {
                        // Padded on the wire: a prefix of what came back.
                        let (
                            netrig_flow::frame::Value::Bytes(w),
                            netrig_flow::frame::Value::Bytes(g),
                        ) = (w, g)
                        else {
                            panic!()
                        };
                        assert!(g.starts_with(&w), "{case}: {name}");
                    }
                    (Some(w), g) => assert_eq!(Some(w), g, "{case}: {} {name}", want.keyword()),
                    (None, g) => assert!(
                        g.is_some() || matches!(*name, "target" | "sll" | "tll" | "key" | "seq"),
                        "{case}: {} {name} left blank",
                        want.keyword()
                    ),
                }
            }
        }
        // The decoded frame, written out and parsed back, builds the same bytes.
        let again = FrameSpec::parse(&decoded.to_string())
            .unwrap_or_else(|e| panic!("{decoded}: {e}"))
            .frame(0);
        assert_eq!(again.build(), bytes, "{case}");
        assert_eq!(decoded.build(), bytes, "{case}");
    }
}

#[test]
fn checksums_and_lengths_are_filled_in() {
    let f = FrameSpec::parse(
        "eth() / ipv4(src=192.0.2.1, dst=198.51.100.7) / udp(sport=1, dport=2) / raw(text='abc')",
    )
    .unwrap()
    .frame(0);
    let b = f.build();
    assert_eq!(b.len(), 14 + 20 + 8 + 3);
    assert_eq!(u16::from_be_bytes([b[16], b[17]]), 31);
    assert_eq!(checksum(&b[14..34]), 0, "IPv4 header checksum verifies");
    let l4 = &b[34..];
    assert_eq!(u16::from_be_bytes([l4[4], l4[5]]), 11);
    let p = pseudo_header_sum(&b[26..30], &b[30..34], 17, l4.len() as u32);
    assert_eq!(fold(sum(l4, p)), 0xffff, "UDP checksum verifies");
}

/// Behind a routing header with segments left, UDP is summed against the
/// final destination (RFC 8200 8.1). The expected bytes are scapy 2.8.0's:
/// `Ether(dst='ff:ff:ff:ff:ff:ff', src='02:fc:00:00:00:01') /
/// IPv6(src='2001:db8::1', dst='2001:db8::2') / X / UDP(sport=1, dport=2) /
/// Raw(b'hi')`, X = `IPv6ExtHdrSegmentRouting(addresses=['2001:db8::99',
/// '2001:db8::2'], segleft=1)` and `IPv6ExtHdrRouting(addresses=
/// ['2001:db8::7', '2001:db8::99'], segleft=2)`: final destination ::99.
#[test]
fn routing_headers_checksum_against_the_final_destination() {
    const HEAD: &str = "eth(dst=ff:ff:ff:ff:ff:ff, src=02:fc:00:00:00:01) / ipv6(src=2001:db8::1, dst=2001:db8::2)";
    for (routing, scapy) in [
        (
            "routing(type=4, segleft=1, data='01000000 20010db8000000000000000000000099 20010db8000000000000000000000002')",
            "ffffffffffff02fc0000000186dd6000000000322b4020010db800000000000000000000000120010db8000000000000000000000002110404010100000020010db800000000000000000000009920010db800000000000000000000000200010002000a3b626869",
        ),
        (
            "routing(type=0, segleft=2, data='00000000 20010db8000000000000000000000007 20010db8000000000000000000000099')",
            "ffffffffffff02fc0000000186dd6000000000322b4020010db800000000000000000000000120010db8000000000000000000000002110400020000000020010db800000000000000000000000720010db800000000000000000000009900010002000a3b626869",
        ),
    ] {
        let text = format!("{HEAD} / {routing} / udp(sport=1, dport=2) / raw(text='hi')");
        let built = FrameSpec::parse(&text).unwrap().frame(0).build();
        let hex: String = built.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, scapy, "{routing}");
    }
}

#[test]
fn explicit_wrong_values_are_sent_as_given() {
    let f = FrameSpec::parse(
        "eth() / ipv4(checksum=0x1234, len=99, ihl=5) / udp(len=3, checksum=0) / raw(text='x')",
    )
    .unwrap()
    .frame(0);
    let b = f.build();
    assert_eq!(&b[24..26], &[0x12, 0x34]);
    assert_eq!(&b[16..18], &[0, 99]);
    assert_eq!(&b[38..42], &[0, 3, 0, 0]);
}

#[test]
fn ranges_iterate_last_field_fastest() {
    let s =
        FrameSpec::parse("eth() / ipv4(dst=198.18.0.1-198.18.0.2) / udp(sport=1000-1002)").unwrap();
    assert_eq!(s.combinations(), 6);
    let got: Vec<String> = (0..7)
        .map(|i| {
            let f = s.frame(i);
            let (Layer::Ipv4(ip), Layer::Udp(u)) = (&f.layers[1], &f.layers[2]) else {
                panic!()
            };
            format!("{}:{}", ip.dst, u.sport)
        })
        .collect();
    assert_eq!(
        got,
        [
            "198.18.0.1:1000",
            "198.18.0.1:1001",
            "198.18.0.1:1002",
            "198.18.0.2:1000",
            "198.18.0.2:1001",
            "198.18.0.2:1002",
            "198.18.0.1:1000"
        ]
    );
}

#[test]
fn errors_point_at_the_faulty_part() {
    for (text, col, msg) in [
        ("eth() / ipv5()", 9, "unknown layer `ipv5`"),
        ("eth() / ipv4(ttl=300)", 18, "does not fit in 8 bits"),
        ("eth() / ipv4(tll=3)", 14, "ipv4 has no field `tll`"),
        ("eth() / dot1q(vid=5000)", 19, "does not fit in 12 bits"),
        (
            "eth() / udp(sport=9-3)",
            19,
            "range start 9 is above its end 3",
        ),
        ("eth() / ipv4(src=2001:db8::1)", 18, "takes an IPv4 address"),
        ("eth() / raw(hex='xyz')", 17, "invalid hex bytes"),
        ("eth() / raw(text='abc)", 18, "unterminated quote"),
        ("eth() / tcp(flags=syn+foo)", 19, "unknown TCP flag"),
        ("eth() ipv4()", 7, "expected `/` between layers"),
        ("ipv4() / udp()", 1, "a frame starts with eth"),
        ("eth() / udp(sport=1, sport=2)", 22, "given twice"),
        ("eth(dst=02:00:00:00:00)", 9, "invalid MAC"),
        ("eth() / udp(sport 1)", 13, "expected field=value"),
    ] {
        let e = FrameSpec::parse(text).expect_err(text);
        assert_eq!(e.span.start + 1, col, "{text}: {e}");
        assert!(e.to_string().contains(msg), "{text}: {e}");
    }
}

#[test]
fn any_bytes_decode_without_panic_into_contiguous_layers() {
    // Every truncation of every case, and random bytes: the decoder takes
    // what it can and leaves the rest raw, its layers covering the frame
    // without gaps.
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for case in CASES {
        let b = FrameSpec::parse(case).unwrap().frame(0).build();
        for n in 0..=b.len() {
            inputs.push(b[..n].to_vec());
        }
    }
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..20_000 {
        let len = (rnd() % 160) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        // Steer some into known ethertypes so deeper decoders run.
        if b.len() >= 14 {
            let t: [u16; 8] = [
                0x0800, 0x86dd, 0x8100, 0x88a8, 0x8847, 0x0806, 0x6558, 0x88b5,
            ];
            b[12..14].copy_from_slice(&t[(rnd() % 8) as usize].to_be_bytes());
            if b.len() > 14 {
                b[14] = (b[14] & 0x0f) | if rnd() % 2 == 0 { 0x40 } else { 0x60 };
            }
        }
        inputs.push(b);
    }
    for b in &inputs {
        let f = Frame::decode(b);
        let spans = Frame::decode_spans(b);
        assert_eq!(spans.len(), f.layers.len());
        for w in spans.windows(2) {
            assert_eq!(w[0].span.end, w[1].span.start, "layers are contiguous");
        }
        if let Some(last) = spans.last() {
            assert!(last.span.end <= b.len());
        }
    }
}
