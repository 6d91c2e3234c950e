//! What a traffic verdict may blame on the system under test: only its own
//! flow counts (a routing daemon's chatter on a measured interface changes no
//! verdict), and a capture that could not see everything makes the step
//! BROKEN, never FAIL. Needs root.

mod run_common;
use run_common::*;

fn seed() -> String {
    workspace().join("examples/seed.toml").display().to_string()
}

/// The traffic step's message in a one-case report.
fn traffic_message(report: &serde_json::Value) -> String {
    report["cases"][0]["subtests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with("traffic")))
        .and_then(|s| s["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn foreign_udp_and_tcp_on_a_measured_interface_add_no_flow() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("foreign");
    // Each UDP datagram and TCP connection attempt from bash takes a fresh
    // source port: new flows to the VIP through r1, on both measured
    // interfaces, while the step's own 4,096 flows are sent (bounded: 20 s).
    let text = format!(
        r#"name = "foreign"
topology = "{seed}"
timeout = "60s"

[[steps]]
name = "chatter"
node = "h1"
daemon = '''bash -c 'end=$((SECONDS+20)); n=0; while [ $SECONDS -lt $end ]; do echo x > /dev/udp/198.18.0.1/9999; (exec 3<>/dev/tcp/198.18.0.1/9998) 2>/dev/null; n=$((n+1)); [ $n = 50 ] && echo chatting; done' '''

[[steps]]
wait_log = {{ daemon = "chatter", pattern = "chatting" }}

[[steps]]
traffic = {{ from = "h1", to = "198.18.0.1", udp = "sp=1024,dp=0-4095" }}
expect.split = {{ over = ["r1:eth1", "r1:eth2"], weights = [11, 45] }}
expect.affinity = ["r1:eth1", "r1:eth2"]
"#,
        seed = seed()
    );
    let f = scratch.write("foreign.toml", &text);
    let (code, report, out) = run_json(&[&f.display().to_string()], &scratch.0);
    assert_eq!(code, 0, "{out}");
    let msg = traffic_message(&report);
    assert!(msg.contains("n=4096 distinct flows over 2 paths"), "{msg}");
    assert!(msg.contains("all 4096 flows"), "{msg}");
    // The foreign traffic was there, and said so.
    let other = msg
        .lines()
        .find(|l| l.starts_with("other traffic"))
        .unwrap_or_else(|| panic!("no foreign traffic seen: {msg}"));
    assert!(
        other.contains("r1:eth1") && other.contains("r1:eth2"),
        "{other}"
    );
}

#[test]
fn a_capture_ring_too_small_makes_the_step_broken_not_failed() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("small-ring");
    let f = scratch.write(
        "ring.toml",
        &format!(
            r#"name = "small-ring"
topology = "{seed}"

[[steps]]
traffic = {{ from = "h1", to = "198.18.0.1", udp = "sp=1024-1043,dp=0-999,tag=1" }}
expect.streams = {{ over = ["r1:eth1", "r1:eth2"] }}
expect.split = {{ over = ["r1:eth1", "r1:eth2"], weights = [11, 45] }}
"#,
            seed = seed()
        ),
    );
    // One 4 KiB block per capture: a few dozen frames of the 20,000.
    let (code, report, out) = run_json_env(
        &[&f.display().to_string()],
        &scratch.0,
        &[("NETRIG_CAPTURE_RING", "4")],
    );
    assert_eq!(code, 3, "broken is exit 3: {out}");
    let c = &report["cases"][0];
    assert_eq!(c["state"], "broken", "{c:#}");
    let msg = traffic_message(&report);
    let first = msg.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("capture on r1:eth") && first.contains("observation incomplete"),
        "{msg}"
    );
    assert!(first.contains("dropped"), "{msg}");
    // The same step with the default ring passes: the ring was the cause.
    let (code, _, out) = run_json(&[&f.display().to_string()], &scratch.0);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_unusable_ring_size_is_refused_before_anything_runs() {
    let scratch = Scratch::new("bad-ring");
    let o = netrig_env(
        &[
            "run",
            &workspace().join("examples/basic").display().to_string(),
        ],
        &scratch.0,
        &[("NETRIG_CAPTURE_RING", "lots")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("NETRIG_CAPTURE_RING=lots"),
        "{}",
        text(&o)
    );
    assert!(!scratch.path("results").exists(), "nothing created");
}

#[test]
fn a_failed_traffic_step_keeps_its_captures_as_pcapng_that_tshark_reads() {
    if !have_root() {
        return;
    }
    let tshark_ok = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !tshark_ok {
        // CI installs it and sets NETRIG_REQUIRE_TOOLS so this never skips there.
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "tshark is required (apt-get install -y tshark)"
        );
        eprintln!("SKIP: tshark is not installed");
        return;
    }
    let scratch = Scratch::new("fail-pcap");
    // r1 blackholes 100 of the 1,000 flows: the loss check fails (expected).
    let f = scratch.write(
        "drops.toml",
        &format!(
            r#"name = "drops"
topology = "{seed}"

[[steps]]
node = "r1"
run = "ip rule add dport 100-199 blackhole"

[[steps]]
traffic = {{ from = "h1", to = "198.18.0.1", udp = "sp=1024,dp=0-999" }}
expect.streams = {{ over = ["h2:eth0", "h3:eth0"] }}
expect.fail = "streams"
"#,
            seed = seed()
        ),
    );
    let res = scratch.path("res");
    let (code, report, out) = run_json(
        &[
            "--results",
            &res.display().to_string(),
            "--tag",
            "t",
            &f.display().to_string(),
        ],
        &scratch.0,
    );
    assert_eq!(code, 0, "an expected failure: {out}");
    assert_eq!(report["cases"][0]["state"], "xfail", "{out}");
    let mut frames = 0usize;
    for node in ["h2", "h3"] {
        let pcap = res.join(format!("t/drops/step02-{node}-eth0.pcapng"));
        let o = std::process::Command::new("tshark")
            .args(["-r", &pcap.display().to_string(), "-Y", "udp and not icmp"])
            .args(["-T", "fields", "-e", "udp.dstport"])
            .output()
            .expect("running tshark");
        assert!(
            o.status.success(),
            "{}: {}",
            pcap.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let ports: Vec<u16> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        assert!(
            ports.iter().all(|p| !(100..200).contains(p)),
            "blackholed ports arrived"
        );
        frames += ports.iter().filter(|p| **p < 1000).count();
    }
    // Every datagram that got through is in the files.
    assert_eq!(frames, 900, "{out}");
}
