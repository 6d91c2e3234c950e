//! For every layer: a frame built from the notation is sent over a veth
//! pair, captured on the far end, and decoded by netrig and by tshark; the
//! two must agree on every field.

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use netrig_wire::frame::{Frame, FrameSpec, Layer, Value};
use netrig_wire::{write_pcapng, Capture, CaptureOptions, MacAddr, Packet, Sender, StopWhen};
use support::Pair;

/// One frame per layer kind, and the combinations that matter (tags in
/// tags, labels on labels, tunnels with inner frames, ND messages).
const CASES: &[&str] = &[
    "eth(dst=02:00:00:00:00:02) / raw(hex='dead beef')",
    "eth() / dot1q(pcp=5, dei=1, vid=10) / ipv4(dst=203.0.113.1) / udp(dport=9) / raw(text='hi')",
    "eth() / dot1ad(pcp=3, dei=1, vid=100) / dot1q(vid=200) / ipv6() / udp(sport=7, dport=8)",
    "eth() / arp(op=2, sha=02:00:00:00:00:09, spa=192.0.2.9, tha=02:00:00:00:00:01, tpa=192.0.2.1)",
    "eth() / mpls(label=100, tc=3, ttl=9) / mpls(label=200) / ipv4() / icmp()",
    "eth() / ipv4(tos=0xb8, id=77, df=1, ttl=5, options='94040000') / tcp(sport=1, dport=2, seq=3, ack=4, flags=syn+ack+urg, window=5, urg=6)",
    "eth() / ipv4(id=9, mf=1) / raw(hex=0011223344556677)",
    "eth() / ipv4(id=10, frag=185) / raw(hex=0011223344556677)",
    "eth() / ipv6(tc=0x2e, fl=0x12345, hlim=3) / hbh(options='0502 0000') / routing(type=0, segleft=1, data='00000000 20010db8000000000000000000000009') / dstopts() / frag6(id=0xabcd) / udp(dport=9) / raw(text='ext')",
    "eth() / ipv6() / frag6(offset=10, m=1, id=7) / raw(hex=00112233)",
    "eth() / ipv4() / icmp(type=8, code=0, id=1234, seq=7) / raw(text='ping')",
    "eth() / ipv4() / icmp(type=3, code=1, checksum=0xbad0)",
    "eth() / ipv6() / icmpv6(type=128, id=5, seq=6)",
    "eth() / ipv6(dst=ff02::1:ff00:2, hlim=255) / icmpv6(type=135, target=2001:db8::2, sll=02:00:00:00:00:01)",
    "eth() / ipv6(hlim=255) / icmpv6(type=136, flags=0x60, target=2001:db8::2, tll=02:00:00:00:00:02)",
    "eth() / ipv6(dst=ff02::2, hlim=255) / icmpv6(type=133, sll=02:00:00:00:00:01)",
    "eth() / ipv6(dst=ff02::1, hlim=255) / icmpv6(type=134, hlim=64, flags=0xc0, lifetime=1800, reachable=30000, retrans=1000, sll=02:00:00:00:00:01)",
    "eth() / ipv4(src=198.51.100.1, dst=198.51.100.2) / udp(sport=5000, len=99, checksum=0x1111) / raw(text='bad')",
    "eth() / ipv4(src=198.51.100.1, dst=198.51.100.2) / udp(sport=5000) / vxlan(vni=42) / eth(dst=02:00:00:00:00:0b) / ipv4(dst=203.0.113.1, ttl=3) / icmp(type=8)",
    "eth() / ipv4() / gre(key=1234, seq=5) / ipv4(dst=203.0.113.9) / udp(dport=9)",
    "eth() / ipv4() / gre() / eth() / arp()",
    "eth() / ipv6() / gre(seq=1) / ipv6() / tcp(sport=3000, dport=4000, flags=fin+psh+ack+ece+cwr, options='020405b4')",
];

/// How tshark names a field, and how its value relates to netrig's.
#[derive(Clone, Copy)]
enum Conv {
    Same,
    /// tshark's value is netrig's times this (units of 4 or 8 bytes).
    Times(u64),
    /// tshark's field is wider, netrig's value sits in its top bits.
    Shl(u32),
}

/// netrig's (layer, field) to tshark's field. A field of a layer not listed
/// here must be in [`NOT_COMPARED`] with the reason.
const FIELDS: &[(&str, &str, &str, Conv)] = &[
    ("eth", "dst", "eth.dst", Conv::Same),
    ("eth", "src", "eth.src", Conv::Same),
    ("eth", "type", "eth.type", Conv::Same),
    ("dot1q", "pcp", "vlan.priority", Conv::Same),
    ("dot1q", "dei", "vlan.dei", Conv::Same),
    ("dot1q", "vid", "vlan.id", Conv::Same),
    ("dot1q", "type", "vlan.etype", Conv::Same),
    ("dot1ad", "pcp", "ieee8021ad.priority", Conv::Same),
    ("dot1ad", "dei", "ieee8021ad.dei", Conv::Same),
    ("dot1ad", "vid", "ieee8021ad.id", Conv::Same),
    ("arp", "op", "arp.opcode", Conv::Same),
    ("arp", "sha", "arp.src.hw_mac", Conv::Same),
    ("arp", "spa", "arp.src.proto_ipv4", Conv::Same),
    ("arp", "tha", "arp.dst.hw_mac", Conv::Same),
    ("arp", "tpa", "arp.dst.proto_ipv4", Conv::Same),
    ("mpls", "label", "mpls.label", Conv::Same),
    ("mpls", "tc", "mpls.exp", Conv::Same),
    ("mpls", "s", "mpls.bottom", Conv::Same),
    ("mpls", "ttl", "mpls.ttl", Conv::Same),
    ("ipv4", "src", "ip.src", Conv::Same),
    ("ipv4", "dst", "ip.dst", Conv::Same),
    ("ipv4", "tos", "ip.dsfield", Conv::Same),
    ("ipv4", "id", "ip.id", Conv::Same),
    ("ipv4", "df", "ip.flags.df", Conv::Same),
    ("ipv4", "mf", "ip.flags.mf", Conv::Same),
    ("ipv4", "frag", "ip.frag_offset", Conv::Same),
    ("ipv4", "ttl", "ip.ttl", Conv::Same),
    ("ipv4", "proto", "ip.proto", Conv::Same),
    ("ipv4", "ihl", "ip.hdr_len", Conv::Times(4)),
    ("ipv4", "len", "ip.len", Conv::Same),
    ("ipv4", "checksum", "ip.checksum", Conv::Same),
    ("ipv6", "src", "ipv6.src", Conv::Same),
    ("ipv6", "dst", "ipv6.dst", Conv::Same),
    ("ipv6", "tc", "ipv6.tclass", Conv::Same),
    ("ipv6", "fl", "ipv6.flow", Conv::Same),
    ("ipv6", "hlim", "ipv6.hlim", Conv::Same),
    ("ipv6", "nh", "ipv6.nxt", Conv::Same),
    ("ipv6", "plen", "ipv6.plen", Conv::Same),
    ("hbh", "nh", "ipv6.hopopts.nxt", Conv::Same),
    ("hbh", "len", "ipv6.hopopts.len", Conv::Same),
    ("dstopts", "nh", "ipv6.dstopts.nxt", Conv::Same),
    ("dstopts", "len", "ipv6.dstopts.len", Conv::Same),
    ("routing", "nh", "ipv6.routing.nxt", Conv::Same),
    ("routing", "len", "ipv6.routing.len", Conv::Same),
    ("routing", "type", "ipv6.routing.type", Conv::Same),
    ("routing", "segleft", "ipv6.routing.segleft", Conv::Same),
    ("frag6", "nh", "ipv6.fraghdr.nxt", Conv::Same),
    ("frag6", "offset", "ipv6.fraghdr.offset", Conv::Same),
    ("frag6", "m", "ipv6.fraghdr.more", Conv::Same),
    ("frag6", "id", "ipv6.fraghdr.ident", Conv::Same),
    ("icmp", "type", "icmp.type", Conv::Same),
    ("icmp", "code", "icmp.code", Conv::Same),
    ("icmp", "checksum", "icmp.checksum", Conv::Same),
    ("icmp", "id", "icmp.ident", Conv::Same),
    ("icmp", "seq", "icmp.seq", Conv::Same),
    ("icmpv6", "type", "icmpv6.type", Conv::Same),
    ("icmpv6", "code", "icmpv6.code", Conv::Same),
    ("icmpv6", "checksum", "icmpv6.checksum", Conv::Same),
    ("icmpv6", "id", "icmpv6.echo.identifier", Conv::Same),
    ("icmpv6", "seq", "icmpv6.echo.sequence_number", Conv::Same),
    (
        "icmpv6",
        "target",
        "icmpv6.nd.ns.target_address",
        Conv::Same,
    ),
    (
        "icmpv6",
        "target",
        "icmpv6.nd.na.target_address",
        Conv::Same,
    ),
    ("icmpv6", "flags", "icmpv6.nd.na.flag", Conv::Shl(24)),
    ("icmpv6", "flags", "icmpv6.nd.ra.flag", Conv::Same),
    ("icmpv6", "hlim", "icmpv6.nd.ra.cur_hop_limit", Conv::Same),
    (
        "icmpv6",
        "lifetime",
        "icmpv6.nd.ra.router_lifetime",
        Conv::Same,
    ),
    (
        "icmpv6",
        "reachable",
        "icmpv6.nd.ra.reachable_time",
        Conv::Same,
    ),
    (
        "icmpv6",
        "retrans",
        "icmpv6.nd.ra.retrans_timer",
        Conv::Same,
    ),
    ("icmpv6", "sll", "icmpv6.opt.src_linkaddr", Conv::Same),
    ("icmpv6", "tll", "icmpv6.opt.target_linkaddr", Conv::Same),
    ("udp", "sport", "udp.srcport", Conv::Same),
    ("udp", "dport", "udp.dstport", Conv::Same),
    ("udp", "len", "udp.length", Conv::Same),
    ("udp", "checksum", "udp.checksum", Conv::Same),
    ("tcp", "sport", "tcp.srcport", Conv::Same),
    ("tcp", "dport", "tcp.dstport", Conv::Same),
    ("tcp", "seq", "tcp.seq_raw", Conv::Same),
    ("tcp", "ack", "tcp.ack_raw", Conv::Same),
    ("tcp", "flags", "tcp.flags", Conv::Same),
    ("tcp", "window", "tcp.window_size_value", Conv::Same),
    ("tcp", "urg", "tcp.urgent_pointer", Conv::Same),
    ("tcp", "doff", "tcp.hdr_len", Conv::Times(4)),
    ("tcp", "checksum", "tcp.checksum", Conv::Same),
    ("vxlan", "flags", "vxlan.flags", Conv::Shl(8)),
    ("vxlan", "vni", "vxlan.vni", Conv::Same),
    ("gre", "proto", "gre.proto", Conv::Same),
    ("gre", "key", "gre.key", Conv::Same),
    ("gre", "seq", "gre.sequence_number", Conv::Same),
    ("raw", "hex", "data.data", Conv::Same),
];

/// Fields compared another way, with why.
const NOT_COMPARED: &[(&str, &str, &str)] = &[
    (
        "dot1ad",
        "type",
        "tshark's 802.1ad dissector has no ethertype field; the next layer it decodes is checked",
    ),
    (
        "ipv4",
        "options",
        "length checked through ihl; bytes checked by the build/decode round trip",
    ),
    (
        "tcp",
        "options",
        "length checked through doff; bytes checked by the build/decode round trip",
    ),
    ("hbh", "options", "length checked through len"),
    ("dstopts", "options", "length checked through len"),
    ("routing", "data", "length checked through len"),
];

/// The ICMPv6 fields a type has (the others are zero and not on the wire).
fn icmpv6_has(ty: u64, field: &str) -> bool {
    match field {
        "type" | "code" | "checksum" => true,
        "id" | "seq" => matches!(ty, 128 | 129),
        "target" => matches!(ty, 135 | 136),
        "flags" => matches!(ty, 134 | 136),
        "hlim" | "lifetime" | "reachable" | "retrans" => ty == 134,
        "sll" | "tll" => matches!(ty, 133..=136),
        _ => false,
    }
}

/// A value as a canonical string: numbers in decimal (tshark writes some
/// in hex), booleans as 0/1, addresses and bytes as they are.
fn canon(s: &str) -> String {
    let s = s.trim();
    match s {
        "True" | "true" => return "1".into(),
        "False" | "false" => return "0".into(),
        _ => {}
    }
    if let Some(h) = s.strip_prefix("0x") {
        if let Ok(n) = u64::from_str_radix(h, 16) {
            return n.to_string();
        }
    }
    s.to_ascii_lowercase()
}

fn which(cmd: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

/// The marker source MAC of case `i`: frames on the wire that are ours.
fn marker(i: usize) -> MacAddr {
    MacAddr([0x02, 0xaa, 0, 0, 0, i as u8])
}

#[test]
fn every_layer_agrees_with_tshark_after_a_trip_through_a_lab() {
    require_netns!();
    let Some(tshark) = which("tshark") else {
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "tshark is required (apt-get install -y tshark)"
        );
        eprintln!("SKIP: tshark not installed");
        return;
    };
    // Every field of every layer is compared or said why not.
    for kw in Layer::KEYWORDS {
        let layer = Layer::new(kw).expect("keyword");
        for (name, _) in layer.field_kinds() {
            assert!(
                FIELDS.iter().any(|(l, f, _, _)| l == kw && f == name)
                    || NOT_COMPARED.iter().any(|(l, f, _)| l == kw && f == name),
                "{kw}.{name} is neither compared with tshark nor excused"
            );
        }
    }
    let frames: Vec<Frame> = CASES
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut f = FrameSpec::parse(c)
                .unwrap_or_else(|e| panic!("{c}: {e}"))
                .frame(0);
            let Layer::Eth(e) = &mut f.layers[0] else {
                unreachable!("a frame starts with eth")
            };
            e.src = marker(i);
            f
        })
        .collect();
    let bytes: Vec<Vec<u8>> = frames.iter().map(Frame::build).collect();
    let captured: Vec<Packet> = Pair::with(|p| {
        let mut cap = p.in_b(|| Capture::open(Some("vb"), CaptureOptions::default()).unwrap());
        let mut tx = Sender::open("va").unwrap();
        let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        assert_eq!(tx.send_frames(&refs).unwrap().sent, CASES.len() as u64);
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while got.len() < CASES.len() && std::time::Instant::now() < deadline {
            let pkts = cap
                .collect(StopWhen::quiet(
                    Duration::from_millis(100),
                    Duration::from_secs(2),
                ))
                .unwrap();
            got.extend(
                pkts.into_iter()
                    .filter(|p| p.data.len() >= 12 && p.data[6..11] == marker(0).0[..5]),
            );
        }
        got
    });
    assert_eq!(captured.len(), CASES.len(), "every frame arrived once");
    // In the order sent, byte for byte.
    for (i, (p, b)) in captured.iter().zip(&bytes).enumerate() {
        assert_eq!(&p.data, b, "case {i}: {}", CASES[i]);
    }

    let path = std::env::temp_dir().join(format!("netrig-frames-{}.pcapng", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    write_pcapng(std::io::BufWriter::new(f), &[("vb", &captured)]).unwrap();
    let tfields: Vec<&str> = {
        let mut v: Vec<&str> = FIELDS.iter().map(|(_, _, t, _)| *t).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut cmd = Command::new(&tshark);
    cmd.arg("-r").arg(&path);
    // Fragments as they are (no reassembly); VXLAN on its port.
    cmd.args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]);
    cmd.args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]);
    for t in &tfields {
        cmd.args(["-e", t]);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), CASES.len(), "{text}");

    let mut compared = 0;
    for (i, (row, p)) in rows.iter().zip(&captured).enumerate() {
        let theirs: HashMap<&str, Vec<&str>> = tfields
            .iter()
            .zip(row.split('\t'))
            .map(|(f, v)| {
                let occ = if v.is_empty() {
                    vec![]
                } else {
                    v.split('|').collect()
                };
                (*f, occ)
            })
            .collect();
        let ours = Frame::decode(&p.data);
        // netrig decodes what it built: every field given or defaulted (the
        // blanks it filled in are compared with tshark below).
        assert_eq!(
            ours.layers.len(),
            frames[i].layers.len(),
            "case {i}: {ours}"
        );
        for (want, got) in frames[i].layers.iter().zip(&ours.layers) {
            for (name, _) in want.field_kinds() {
                if let Some(w) = want.get(name) {
                    if !NOT_COMPARED
                        .iter()
                        .any(|(l, f, _)| *l == want.keyword() && f == name)
                    {
                        assert_eq!(
                            Some(w),
                            got.get(name),
                            "case {i}: {}.{name}",
                            want.keyword()
                        );
                    }
                }
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for layer in &ours.layers {
            let kw = layer.keyword();
            let nth = *seen.entry(kw).and_modify(|n| *n += 1).or_insert(0);
            let applies = |name: &str| match layer {
                Layer::Icmpv6(x) => icmpv6_has(u64::from(x.ty), name),
                // Bytes 4..8 are an identifier and sequence only in the
                // echo, timestamp and information messages.
                Layer::Icmp(x) => !matches!(name, "id" | "seq") || matches!(x.ty, 0 | 8 | 13..=18),
                _ => true,
            };
            for (name, kind) in layer.field_kinds() {
                let Some(v) = layer.get(name) else { continue };
                if !applies(name) {
                    continue;
                }
                let mapped: Vec<_> = FIELDS
                    .iter()
                    .filter(|(l, f, _, _)| *l == kw && f == name)
                    .collect();
                if mapped.is_empty() {
                    continue; // excused in NOT_COMPARED
                }
                // One of the tshark fields for it has this occurrence.
                let found = mapped
                    .iter()
                    .find_map(|(_, _, t, conv)| theirs[t].get(nth).map(|s| (*t, *conv, *s)));
                let Some((t, conv, s)) = found else {
                    panic!(
                        "case {i} ({}): tshark shows no {} for {kw}.{name} #{nth}",
                        CASES[i],
                        mapped.iter().map(|m| m.2).collect::<Vec<_>>().join(" or ")
                    );
                };
                let (mine, theirs) = match &v {
                    Value::U(n) => (
                        match conv {
                            Conv::Same => *n,
                            Conv::Times(k) => n * k,
                            Conv::Shl(k) => n << k,
                        }
                        .to_string(),
                        canon(s),
                    ),
                    Value::Mac(_) | Value::Bytes(_) => {
                        (kind.show(&v).replace(':', ""), canon(&s.replace(':', "")))
                    }
                    Value::Ip(ip) => (ip.to_string(), canon(s)),
                };
                assert_eq!(
                    mine, theirs,
                    "case {i} ({}): {kw}.{name} #{nth}: tshark {t} = {s}",
                    CASES[i]
                );
                compared += 1;
            }
        }
    }
    eprintln!("{compared} fields agree over {} frames", CASES.len());
}
