//! The "must show" data-plane checks on the seed topology
//! (examples/seed.toml), built as an ephemeral lab in anonymous namespaces:
//! tagged flows accounted packet by packet, the quiet-window negative check,
//! the probe client against the anycast VIP, and tracepoint counting.
//!
//! Needs root (CAP_SYS_ADMIN, CAP_NET_RAW); each test prints SKIP otherwise.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use netrig_judge::{judge_streams, Arrival, StreamLimits};
use netrig_lab::{BuildOptions, Lab};
use netrig_wire::{
    probe_client, Capture, CaptureOptions, CaptureSet, Direction, Expect, FlowSpec, Match,
    NoProgress, ProbeClientOptions, ProbeProto, ProbeServer, Sender, StopWhen, Tag,
    TracepointCounter,
};

fn seed() -> Option<Lab> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "needs root, and CI is set: it must not pass without running"
        );
        eprintln!("SKIP: needs root to build the seed lab in network namespaces");
        return None;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed.toml");
    let topo = netrig_spec::load_topology(&path).expect("examples/seed.toml loads");
    Some(Lab::build(&topo, &BuildOptions::default()).expect("seed lab builds"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// Receiving ring of the given node's eth0 (incoming only: the host's own
/// ICMP errors in reply to the UDP flows are not part of the account).
fn rx_capture(lab: &Lab, node: &str) -> Capture {
    lab.run_in(node, || {
        let mut c = Capture::open(
            Some("eth0"),
            CaptureOptions {
                direction: Direction::In,
                block_count: 32,
                ..Default::default()
            },
        )
        .expect("capture opens");
        c.set_label(format!("{node}:eth0"));
        c
    })
    .expect("enter node")
}

/// Send `spec` from h1's eth0; returns the packets the kernel accepted.
fn send_from_h1(lab: &Lab, spec: &FlowSpec) -> u64 {
    lab.run_in("h1", || {
        let mut tx = Sender::open("eth0").expect("sender opens");
        tx.send_flow(spec, &mut NoProgress).expect("send").sent
    })
    .expect("enter h1")
}

/// Node name for a tag's destination id, as the tests assign them.
fn node_of(id: u16) -> String {
    format!("h{id}")
}

#[test]
fn tagged_flows_across_seed_account_for_every_packet() {
    let Some(lab) = seed() else { return };
    let mut cap = rx_capture(&lab, "h2");
    // ~33k flows in total, as the seed scenarios use, paced so that the
    // softirq backlog of each veth hop is never the thing under test.
    let v4 = FlowSpec::udp(ip("192.0.2.2"), ip("198.51.100.2"))
        .with_args("sp=1024,dp=1-16384,tag=1:1:2,pps=200000")
        .expect("v4 spec");
    let v6 = FlowSpec::udp(ip("2001:db8:1::2"), ip("2001:db8:2::2"))
        .with_args("sp=1024,dp=1-16384,tag=2:1:2,pps=200000")
        .expect("v6 spec");
    // Drain on another thread while sending, as a receiver must at speed:
    // each ring block is retired after its timeout, so an undrained ring
    // holds only block_count x block_timeout of traffic.
    let (sent4, sent6, mut pkts, mut cap) = std::thread::scope(|s| {
        let rx = s.spawn(move || {
            let p = cap
                .collect(StopWhen::count(32768, Duration::from_secs(20)))
                .expect("collect");
            (p, cap)
        });
        let sent4 = send_from_h1(&lab, &v4);
        let sent6 = send_from_h1(&lab, &v6);
        let (p, cap) = rx.join().expect("capture thread");
        (sent4, sent6, p, cap)
    });
    assert_eq!((sent4, sent6), (16384, 16384));
    // Then a quiet window, so late duplicates would be seen too.
    pkts.extend(
        cap.collect(StopWhen::quiet(
            Duration::from_millis(300),
            Duration::from_secs(5),
        ))
        .expect("collect"),
    );
    let drops = cap.stats().expect("ring stats").drops;
    assert_eq!(drops, 0, "the capture ring itself dropped packets");
    let arrivals: Vec<Arrival<String>> = pkts
        .iter()
        .filter_map(|p| Tag::from_frame(&p.data))
        .map(|t| Arrival {
            stream: t.stream,
            seq: t.seq,
            at: "h2".to_string(),
            intended: node_of(t.dst),
        })
        .collect();
    let v = judge_streams(
        "seed h1->h2 v4+v6",
        &[(1, sent4), (2, sent6)],
        arrivals,
        &StreamLimits::default(),
    )
    .expect("judge");
    println!("{}", v.explanation);
    assert!(v.passed(), "{}", v.explanation);
    // Every packet that crossed r1 arrives with valid checksums (or one the
    // kernel marks as left to offload).
    let tally = netrig_wire::ChecksumTally::of(&pkts);
    println!("checksums: {tally:?}");
    assert_eq!(tally.bad, 0, "{tally:?}");
    assert_eq!(tally.valid + tally.partial, pkts.len() as u64);
}

#[test]
fn stream_accounting_notices_a_lost_packet() {
    // The same accounting must fail when the receiver misses one packet:
    // drop one arrival from a real capture before judging.
    let Some(lab) = seed() else { return };
    let mut cap = rx_capture(&lab, "h2");
    let spec = FlowSpec::udp(ip("192.0.2.2"), ip("198.51.100.2"))
        .with_args("sp=1024,dp=1-1000,tag=3:1:2")
        .expect("spec");
    let sent = send_from_h1(&lab, &spec);
    let pkts = cap
        .collect(StopWhen::count(sent, Duration::from_secs(10)))
        .expect("collect");
    let mut arrivals: Vec<Arrival<String>> = pkts
        .iter()
        .filter_map(|p| Tag::from_frame(&p.data))
        .map(|t| Arrival {
            stream: t.stream,
            seq: t.seq,
            at: "h2".to_string(),
            intended: node_of(t.dst),
        })
        .collect();
    assert_eq!(arrivals.len() as u64, sent);
    arrivals.remove(500);
    let v =
        judge_streams("lossy", &[(3, sent)], arrivals, &StreamLimits::default()).expect("judge");
    assert!(
        !v.passed(),
        "a missing packet went unnoticed: {}",
        v.explanation
    );
}

#[test]
fn quiet_window_negative_check_fails_on_a_stray_packet() {
    let Some(lab) = seed() else { return };
    let round = |stray: bool| {
        let mut set = CaptureSet::new();
        set.push(rx_capture(&lab, "h2"));
        set.push(rx_capture(&lab, "h3"));
        let want = FlowSpec::udp(ip("192.0.2.2"), ip("198.51.100.2"))
            .with_args("sp=2000,dp=1-100,tag=1:1:2")
            .expect("spec");
        assert_eq!(send_from_h1(&lab, &want), 100);
        if stray {
            let one = FlowSpec::udp(ip("192.0.2.2"), ip("203.0.113.2"))
                .with_args("sp=2000,dp=9,c=1")
                .expect("stray spec");
            assert_eq!(send_from_h1(&lab, &one), 1);
        }
        let got = set
            .collect(StopWhen::quiet(
                Duration::from_millis(200),
                Duration::from_secs(10),
            ))
            .expect("collect");
        let caps: Vec<(&str, &[netrig_wire::Packet])> =
            vec![("h2:eth0", &got[0][..]), ("h3:eth0", &got[1][..])];
        let exact = Expect::exactly(100, Match::udp().stream(1), "h2:eth0").check(&caps);
        let quiet = Expect::nothing_except(Match::udp(), &["h2:eth0"]).check(&caps);
        (exact, quiet)
    };
    let (exact, quiet) = round(false);
    assert!(exact.ok, "{}", exact.message);
    assert!(quiet.ok, "no stray sent, yet: {}", quiet.message);
    let (exact, quiet) = round(true);
    assert!(exact.ok, "{}", exact.message);
    assert!(!quiet.ok, "a stray UDP packet to h3 was not noticed");
    assert_eq!(quiet.count, 1, "{}", quiet.message);
    println!("negative check, as expected: {}", quiet.message);
}

#[test]
fn malformed_flow_spec_error_names_the_column() {
    let e = FlowSpec::parse("udp", "sa=192.0.2.2,da=198.51.100.2,dp=1-70000")
        .expect_err("port 70000 is out of range");
    assert_eq!(e.column, 30);
    assert_eq!(e.item, "dp=1-70000");
    let msg = e.to_string();
    assert!(
        msg.contains("column 30") && msg.contains("out of range"),
        "{msg}"
    );
    let e = FlowSpec::parse("udp", "sa=192.0.2.2,dx=1").expect_err("unknown key");
    assert_eq!(e.column, 14, "{e}");
    let e = FlowSpec::parse("udp", "sa=192.0.2.2").expect_err("da is required");
    assert!(e.to_string().contains("`da`"), "{e}");
}

#[test]
fn probe_client_reports_which_anycast_server_answered() {
    let Some(lab) = seed() else { return };
    for (vip, bind) in [
        ("198.18.0.0:7000", "198.18.0.0:7000"),
        ("[2001:db8:18::]:7000", "[2001:db8:18::]:7000"),
    ] {
        let bind: SocketAddr = bind.parse().expect("addr");
        let servers: Vec<_> = ["h2", "h3"]
            .into_iter()
            .map(|n| {
                lab.run_in(n, || ProbeServer::bind(bind, n, true, false))
                    .expect("enter")
                    .expect("probe server binds")
                    .spawn()
            })
            .collect();
        let mut opts = ProbeClientOptions::new(vip.parse().expect("vip"), ProbeProto::Tcp, 64);
        // Distinct, fixed source ports: each is one 5-tuple for r1's L4 hash.
        opts.src_ports = netrig_wire::PortRange::new(40000, 40063);
        let rep = lab
            .run_in("h1", || probe_client(&opts))
            .expect("enter h1")
            .expect("probe client runs");
        for s in servers {
            s.stop().expect("server stops");
        }
        println!("{vip}: {rep}");
        let by = rep.by_name();
        assert_eq!(rep.answered(), 64, "{rep}");
        assert_eq!(rep.resets() + rep.refused() + rep.timeouts(), 0, "{rep}");
        // Weights 11:45: both get some of 64 flows unless P < 1e-6.
        assert!(by.get("h2").copied().unwrap_or(0) > 0, "{rep}");
        assert!(by.get("h3").copied().unwrap_or(0) > 0, "{rep}");
        assert_eq!(rep.records.len(), 64);
        assert!(rep
            .records
            .iter()
            .enumerate()
            .all(|(i, r)| r.src_port == 40000 + i as u16));
    }
}

#[test]
fn tracepoint_counts_fib_lookups_of_forwarded_traffic() {
    let Some(lab) = seed() else { return };
    let c = match TracepointCounter::open("fib:fib_table_lookup") {
        Ok(c) => c,
        Err(e) => match e.skip_reason() {
            Some(r) => {
                eprintln!("SKIP: {r}");
                return;
            }
            None => panic!("{e}"),
        },
    };
    let spec = FlowSpec::udp(ip("192.0.2.2"), ip("198.51.100.2"))
        .with_args("sp=1024,dp=1-2000")
        .expect("spec");
    let (sent, hits) = c.count_during(|| send_from_h1(&lab, &spec)).expect("count");
    println!("{sent} packets forwarded by r1: {hits} fib_table_lookup hits");
    // Each forwarded packet needs at least one lookup on r1 (no route cache).
    assert!(hits >= sent, "{hits} lookups for {sent} forwarded packets");
    // And nothing is counted while disabled.
    let before = c.read().expect("read");
    send_from_h1(&lab, &spec);
    assert_eq!(c.read().expect("read"), before);
}
