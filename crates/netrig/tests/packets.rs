//! `expect.packets` end to end: frames sent by `send` (and `replay`)
//! through real labs, captured and checked field by field. Each behaviour
//! has a case that must pass and one that must fail for the stated reason,
//! with the side-by-side report naming the field.

mod run_common;
use run_common::*;

/// h1 -- r1 -- h2, and h3 on r1's third port; r1 routes (or, in the
/// bridge cases, bridges eth0 and eth1). Static neighbours: no ARP wait.
const ROUTED: &str = r#"
[nodes.h1]
[nodes.r1]
forwarding = true
[nodes.h2]
[nodes.h3]
[[links]]
ends = ["h1:eth0 192.0.2.2/24 mac=02:00:00:00:00:11", "r1:eth0 192.0.2.1/24 mac=02:00:00:00:01:00"]
[[links]]
ends = ["r1:eth1 198.51.100.1/24 mac=02:00:00:00:01:01", "h2:eth0 198.51.100.2/24 mac=02:00:00:00:00:22"]
[[links]]
ends = ["r1:eth2 203.0.113.1/24", "h3:eth0 203.0.113.2/24"]
[[neighbors]]
node = "r1"
dev = "eth1"
addr = "198.51.100.2"
mac = "02:00:00:00:00:22"
"#;

/// h1 and h2 in one subnet through r1, a plain bridge (no TTL change).
const BRIDGED: &str = r#"
[nodes.h1]
[nodes.r1]
[nodes.h2]
[[links]]
ends = ["h1:eth0 192.0.2.2/24 mac=02:00:00:00:00:11", "r1:eth0"]
[[links]]
ends = ["r1:eth1", "h2:eth0 192.0.2.3/24 mac=02:00:00:00:00:22"]

[[steps]]
node = "r1"
run = "ip link add br0 type bridge && ip link set eth0 master br0 && ip link set eth1 master br0 && ip link set br0 up"
"#;

/// h1, h2 and h3 on one LAN (a learning bridge).
const LAN: &str = r#"
[nodes.h1]
[nodes.h2]
[nodes.h3]
[[lans]]
name = "lan0"
ends = ["h1:eth0 192.0.2.1/24 mac=02:00:00:00:00:11", "h2:eth0 192.0.2.2/24 mac=02:00:00:00:00:22", "h3:eth0 192.0.2.3/24 mac=02:00:00:00:00:33"]
"#;

/// Ten frames h1 sends towards h2 through r1 (five source ports, twice).
const TO_H2: &str = "eth(dst=02:00:00:00:01:00) / ipv4(src=192.0.2.2, dst=198.51.100.2, ttl=64) / udp(sport=1000-1004, dport=9) / raw(text='to h2')";

/// Every case: its file name (and case name), its text.
fn cases() -> Vec<(&'static str, String)> {
    let send = |frame: &str, count: u32, expect: &str| {
        format!("[[steps]]\nsend = {{ from = \"h1\", count = {count}, frame = \"{frame}\" }}\nexpect.packets = [\n{expect}\n]\n")
    };
    let routed = |name: &str, body: String| format!("name = \"{name}\"\n{ROUTED}\n{body}");
    vec![
        (
            "count_exact",
            routed(
                "count_exact",
                send(
                    TO_H2,
                    10,
                    "{ at = \"h2:eth0\", match = \"eth() / ipv4(ttl=63, dst=198.51.100.0-198.51.100.9) / udp(dport=9)\", count = 10 },\n\
                     { at = \"r1:eth1\", match = \"eth(src=02:00:00:00:01:01) / ipv4(ttl=63)\", count = 10 },\n\
                     { at = \"h3:eth0\", match = \"eth() / ipv4() / udp()\", count = 0 }",
                ),
            ),
        ),
        (
            "count_wrong_ttl",
            routed(
                "count_wrong_ttl",
                send(
                    TO_H2,
                    10,
                    "{ at = \"h2:eth0\", match = \"eth() / ipv4(ttl=64) / udp(dport=9)\", count = 10 }",
                ),
            ),
        ),
        (
            "ranges",
            routed(
                "ranges",
                send(
                    TO_H2,
                    10,
                    "{ at = \"h2:eth0\", match = \"eth(src=*) / ipv4(dst=198.51.100.2-198.51.100.3) / udp(sport=1000-1001)\", count = 4 },\n\
                     { at = \"h2:eth0\", match = \"eth() / ipv4(src=192.0.2.0/30) / udp(sport=1004, dport=0-9) / raw(text='to h2')\", count = 2 },\n\
                     { at = \"h2:eth0\", match = \"eth() / ipv4()\", min = 1 }",
                ),
            ),
        ),
        (
            "ranges_miscount",
            routed(
                "ranges_miscount",
                send(
                    TO_H2,
                    10,
                    "{ at = \"h2:eth0\", match = \"eth() / ipv4() / udp(sport=1000-1002)\", count = 4 }",
                ),
            ),
        ),
        (
            "transform_router",
            routed(
                "transform_router",
                send(
                    TO_H2,
                    10,
                    "{ at = \"h2:eth0\", each = \"eth(src=02:00:00:00:01:01, dst=02:00:00:00:00:22) / ipv4(ttl=-1) / udp() / raw()\", only = true }",
                ),
            ),
        ),
        (
            "transform_bridge",
            format!(
                "name = \"transform_bridge\"\n{BRIDGED}\n{}",
                send(
                    "eth(dst=02:00:00:00:00:22) / ipv4(src=192.0.2.2, dst=192.0.2.3) / udp(sport=1000-1004) / raw(text='bridged')",
                    5,
                    "{ at = \"h2:eth0\", each = \"eth(src=*, dst=*) / ipv4(ttl=-1) / udp() / raw()\" }",
                )
            ),
        ),
        (
            "only_learned",
            format!(
                "name = \"only_learned\"\n{LAN}\n\
                 [[steps]]\nping = {{ from = \"h1\", to = \"192.0.2.2\", count = 1 }}\n{}",
                send(
                    "eth(dst=02:00:00:00:00:22) / ipv4(src=192.0.2.1, dst=192.0.2.2) / udp(dport=9) / raw(text='for h2')",
                    3,
                    "{ at = \"h2:eth0\", match = \"eth() / ipv4() / udp(dport=9)\", count = 3, only = true }",
                )
            ),
        ),
        (
            "only_flooded",
            format!(
                "name = \"only_flooded\"\n{LAN}\n{}",
                send(
                    // Nobody has sent from this MAC: the bridge floods it.
                    "eth(dst=02:00:00:00:00:99) / ipv4(src=192.0.2.1, dst=192.0.2.2) / udp(dport=9) / raw(text='for h2')",
                    3,
                    "{ at = \"h2:eth0\", match = \"eth() / ipv4() / udp(dport=9)\", count = 3, only = true }",
                )
            ),
        ),
        (
            "replay_counts",
            format!(
                "name = \"replay_counts\"\n{PAIR}\n\
                 [[steps]]\nreplay = {{ file = \"mixed.pcap\", node = \"a\", iface = \"eth0\", timing = \"fast\", src_mac = \"lab\", dst_mac = \"peer\" }}\n\
                 expect.packets = [\n\
                 {{ at = \"b:eth0\", match = \"eth() / dot1q(vid=10, pcp=3) / ipv4(dst=198.51.100.2) / udp(dport=5001) / raw(text='tagged')\", count = 1 }},\n\
                 {{ at = \"b:eth0\", match = \"eth() / ipv6(hlim=33) / tcp(flags=syn+ack, window=512)\", count = 1 }},\n\
                 {{ at = \"b:eth0\", match = \"eth() / ipv4(src=192.0.2.1) / udp(sport=1024-1025)\", count = 2 }},\n\
                 ]\n"
            ),
        ),
    ]
}

/// Each case's messages (every step's), from the run's JSON report, runs
/// of spaces squeezed (table columns are as wide as their widest cell).
fn message(report: &serde_json::Value, name: &str) -> String {
    let s = case(report, name).to_string().replace("\\n", "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out
}

fn run_all() {
    let s = Scratch::new("packets");
    for (name, text) in cases() {
        s.write(&format!("{name}.toml"), &text);
    }
    std::fs::copy(
        workspace().join("examples/replay/mixed.pcap"),
        s.path("mixed.pcap"),
    )
    .expect("copying the replay file");
    for (name, _) in cases() {
        let o = netrig(&["check", &format!("{name}.toml")], &s.0);
        assert!(o.status.success(), "netrig check {name}: {}", text(&o));
    }
    let (_, report, out) = run_json(&[".", "--results", "res"], &s.0);
    let state = |n: &str| case(&report, n)["state"].as_str().unwrap_or("").to_string();
    for pass in [
        "count_exact",
        "ranges",
        "transform_router",
        "only_learned",
        "replay_counts",
    ] {
        assert_eq!(
            state(pass),
            "pass",
            "{pass}: {}\n{out}",
            message(&report, pass)
        );
    }
    for fail in [
        "count_wrong_ttl",
        "ranges_miscount",
        "transform_bridge",
        "only_flooded",
    ] {
        assert_eq!(
            state(fail),
            "fail",
            "{fail}: {}\n{out}",
            message(&report, fail)
        );
    }
    // The side-by-side report names the field, expected and observed.
    let m = message(&report, "count_wrong_ttl");
    assert!(
        m.contains(
            "h2:eth0: 0 frames match `eth() / ipv4(ttl=64) / udp(dport=9)`, expected exactly 10"
        ),
        "{m}"
    );
    assert!(m.contains("ipv4.ttl | 64 | 63 <- differs"), "{m}");
    assert!(m.contains("mismatched: ipv4.ttl\n"), "{m}");
    let m = message(&report, "ranges_miscount");
    assert!(m.contains("6 frames match"), "{m}");
    let m = message(&report, "transform_bridge");
    assert!(
        m.contains("5 of 5 frames sent did not arrive as") && m.contains("same payload"),
        "{m}"
    );
    assert!(
        m.contains("mismatched: ipv4.ttl\n"),
        "only the TTL differs: {m}"
    );
    let m = message(&report, "only_flooded");
    assert!(
        m.contains("arrived elsewhere: h3:eth0 received 3"),
        "the flooded copies at h3 are named: {m}"
    );
    assert!(!m.contains("h1:eth0 received"), "{m}");
    // What the router case proved, said in its message.
    let m = message(&report, "transform_router");
    assert!(m.contains("each of 10 frames sent arrived as"), "{m}");
}

#[test]
fn counts_transforms_and_nothing_elsewhere() {
    if !have_root() {
        return;
    }
    run_all();
}

/// The same verdicts with one busy loop per core beside them.
#[test]
fn counts_transforms_and_nothing_elsewhere_under_load() {
    if !have_root() {
        return;
    }
    let _busy = BusyLoops::start();
    run_all();
}

/// The broken VXLAN example fails by its `packets` check with the VNI
/// named beside the frame that came.
#[test]
fn the_broken_vxlan_example_names_the_vni() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("packets-vxlan");
    let (code, report, out) = run_json(
        &[
            workspace().join("examples/vxlan").to_str().unwrap_or(""),
            "--results",
            "res",
        ],
        &s.0,
    );
    assert_eq!(code, 0, "{out}");
    for fam in ["ipv4", "ipv6"] {
        let n = format!("vxlan-broken-vni[family={fam}]");
        assert_eq!(case(&report, &n)["state"], "xfail", "{out}");
        let m = message(&report, &n);
        assert!(
            m.contains("vxlan.vni | 42 | 43 <- differs") && m.contains("mismatched: vxlan.vni\n"),
            "{m}"
        );
        let ok = format!("vxlan-tunnel[family={fam}]");
        assert_eq!(case(&report, &ok)["state"], "pass", "{out}");
        assert!(
            message(&report, &ok).contains("r2:eth1: each of 10 frames sent arrived as"),
            "{out}"
        );
    }
}
