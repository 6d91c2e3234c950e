//! Frame patterns: don't-care fields, ranges, layer order, and transforms
//! resolved against the sent frame, on frames built and decoded by the one
//! builder and decoder.

use netrig_flow::frame::{Frame, FramePattern, FrameSpec};

/// The frame as the wire carries it: built, then decoded.
fn wire(notation: &str) -> Frame {
    let spec = FrameSpec::parse(notation).expect("frame");
    Frame::decode(&spec.frame(0).build())
}

fn pat(s: &str) -> FramePattern {
    FramePattern::parse(s).expect("pattern")
}

#[test]
fn left_out_fields_and_later_layers_are_dont_care() {
    let f = wire(
        "eth() / dot1q(vid=10) / ipv4(ttl=63, dst=198.51.100.5) / udp(dport=9) / raw(text='hi')",
    );
    assert!(pat("eth()").matches(&f));
    assert!(pat("eth() / dot1q(vid=10) / ipv4(ttl=63) / udp(dport=9)").matches(&f));
    assert!(pat("eth(src=*) / dot1q / ipv4(ttl=*)").matches(&f));
    assert!(!pat("eth() / dot1q(vid=11)").matches(&f));
    assert!(!pat("eth() / ipv4()").matches(&f), "layers match in order");
    assert!(!pat("eth() / dot1q() / ipv4() / udp() / raw() / raw()").matches(&f));
}

#[test]
fn ranges_prefixes_and_payloads() {
    let f = wire("eth() / ipv4(dst=198.51.100.5, ttl=63) / udp(sport=1005) / raw(text='hi')");
    assert!(pat("eth() / ipv4(dst=198.51.100.0-198.51.100.9) / udp(sport=1000-1009)").matches(&f));
    assert!(pat("eth() / ipv4(dst=198.51.100.0/29)").matches(&f));
    assert!(!pat("eth() / ipv4(dst=198.51.100.6-198.51.100.9)").matches(&f));
    // Both ends belong to a range.
    assert!(pat("eth() / ipv4() / udp(sport=1001-1005)").matches(&f));
    assert!(pat("eth() / ipv4() / udp(sport=1005-1009)").matches(&f));
    assert!(pat("eth() / ipv4(dst=198.51.100.1-198.51.100.5)").matches(&f));
    assert!(!pat("eth() / ipv4(ttl=0-62)").matches(&f));
    assert!(pat("eth() / ipv4() / udp() / raw(text='hi')").matches(&f));
    assert!(!pat("eth() / ipv4() / udp() / raw(text='ho')").matches(&f));
}

#[test]
fn rows_name_the_mismatched_fields_side_by_side() {
    let f = wire("eth() / ipv4(ttl=64) / udp(dport=9)");
    let rows = pat("eth() / ipv4(ttl=63, dst=192.0.2.2) / udp(dport=9-10)").rows(&f);
    let bad: Vec<_> = rows.iter().filter(|r| !r.ok).collect();
    assert_eq!(bad.len(), 1, "{rows:?}");
    assert_eq!(
        (
            bad[0].field.as_str(),
            bad[0].expected.as_str(),
            bad[0].observed.as_str()
        ),
        ("ipv4.ttl", "63", "64")
    );
    assert!(rows
        .iter()
        .any(|r| r.field == "udp.dport" && r.expected == "9-10" && r.ok));
    let rows = pat("eth() / dot1q(vid=10) / ipv4()").rows(&f);
    assert!(rows
        .iter()
        .any(|r| r.field == "layer 2" && r.expected == "dot1q" && r.observed == "ipv4"));
}

#[test]
fn patterns_refuse_what_only_transforms_take() {
    let e = FramePattern::parse("eth() / ipv4(ttl=-1)").unwrap_err();
    assert!(e.message.contains("only for `each`"), "{e}");
    assert!(FrameSpec::parse("eth(src=*)")
        .unwrap_err()
        .message
        .contains("expected packets"));
    assert!(FramePattern::parse_each("eth() / ipv4(src=-1)").is_err());
    assert!(FramePattern::parse_each("eth() / ipv4(ttl=-x)").is_err());
}

#[test]
fn transform_through_a_router_ttl_one_less_macs_any() {
    let sent = wire("eth(dst=02:00:00:00:00:aa) / ipv4(src=192.0.2.2, dst=198.51.100.2, ttl=64) / udp(sport=7) / raw(text='p1')");
    let each =
        FramePattern::parse_each("eth(src=*, dst=*) / ipv4(ttl=-1) / udp() / raw()").expect("each");
    let want = each.expected_for(&sent).expect("resolves");
    let routed = wire("eth(src=02:00:00:00:00:11, dst=02:00:00:00:00:22) / ipv4(src=192.0.2.2, dst=198.51.100.2, ttl=63) / udp(sport=7) / raw(text='p1')");
    assert!(want.matches(&routed), "{:?}", want.rows(&routed));
    // A bridge forwards it unchanged: the TTL is named.
    let bad: Vec<_> = want.rows(&sent).into_iter().filter(|r| !r.ok).collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(
        (
            bad[0].field.as_str(),
            bad[0].expected.as_str(),
            bad[0].observed.as_str()
        ),
        ("ipv4.ttl", "63", "64")
    );
    // Inherited fields are checked: another source port is a mismatch.
    let other = wire(
        "eth() / ipv4(src=192.0.2.2, dst=198.51.100.2, ttl=63) / udp(sport=8) / raw(text='p1')",
    );
    assert!(want
        .rows(&other)
        .iter()
        .any(|r| r.field == "udp.sport" && !r.ok));
    // An extra layer at the end breaks an exact transform.
    let longer = wire("eth() / ipv4(src=192.0.2.2, dst=198.51.100.2, ttl=63) / udp(sport=7) / vxlan() / raw(text='p1')");
    assert!(!want.matches(&longer));
}

#[test]
fn transform_pops_a_tag_and_adds_a_tunnel() {
    let sent = wire("eth() / dot1q(vid=10) / ipv4(ttl=9) / udp() / raw(text='x')");
    let popped = FramePattern::parse_each("eth(type=*) / ipv4() / udp() / raw()")
        .expect("each")
        .expected_for(&sent)
        .expect("resolves");
    assert!(popped.matches(&wire("eth() / ipv4(ttl=9) / udp() / raw(text='x')")));
    assert!(!popped.matches(&sent), "the tag must be gone");

    let inner = wire("eth() / ipv4(ttl=9) / udp() / raw(text='x')");
    let tunnel = FramePattern::parse_each(
        "eth() / ipv4(dst=198.51.100.2) / udp(dport=4789) / vxlan(vni=42) / eth() / ipv4() / udp() / raw()",
    )
    .expect("each")
    .expected_for(&inner)
    .expect("resolves");
    let out = |vni: u32| {
        wire(&format!(
            "eth(dst=02:00:00:00:00:09) / ipv4(src=198.51.100.1, dst=198.51.100.2, ttl=64) / udp(sport=40000) / vxlan(vni={vni}) / eth() / ipv4(ttl=9) / udp() / raw(text='x')"
        ))
    };
    assert!(tunnel.matches(&out(42)), "{:?}", tunnel.rows(&out(42)));
    let bad: Vec<_> = tunnel
        .rows(&out(43))
        .into_iter()
        .filter(|r| !r.ok)
        .collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].field, "vxlan.vni");
    // The inner layers were paired with the sent ones: the inner TTL counts.
    let e = FramePattern::parse_each(
        "eth() / ipv4() / udp(dport=4789) / vxlan() / eth() / ipv4(ttl=-1) / udp() / raw()",
    )
    .expect("each")
    .expected_for(&inner)
    .expect("resolves");
    assert!(e
        .rows(&out(42))
        .iter()
        .any(|r| r.field == "ipv4[2].ttl" && r.expected == "8" && !r.ok));
    // A change on a layer the sent frame lacks cannot be resolved.
    let err = FramePattern::parse_each(
        "eth() / ipv4() / udp() / vxlan(vni=+1) / eth() / ipv4() / udp() / raw()",
    )
    .expect("each")
    .expected_for(&inner)
    .unwrap_err();
    assert!(err.0.contains("vxlan.vni"), "{err}");
}
