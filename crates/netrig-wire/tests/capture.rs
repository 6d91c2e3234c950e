//! Capture on a TPACKET_V3 ring, pcapng checked by tshark, expectations.

mod support;

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use netrig_wire::{
    write_pcapng, Capture, CaptureOptions, CaptureSet, Decoded, Direction, Expect, FlowSpec, Match,
    NoProgress, Packet, PortRange, Sender, StopWhen,
};
use support::Pair;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tmpfile(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("netrig-wire-{}-{name}", std::process::id()))
}

#[test]
fn capture_to_pcapng_read_back_by_tshark() {
    require_netns!();
    let Ok(tshark) = which("tshark") else {
        // CI installs it and sets NETRIG_REQUIRE_TOOLS so this never skips there.
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "tshark is required (apt-get install -y tshark)"
        );
        eprintln!("SKIP: tshark not installed");
        return;
    };
    Pair::with(|p| {
        let mut cap = p.in_b(|| {
            let mut c = Capture::open(Some("vb"), CaptureOptions::default()).unwrap();
            c.set_label("B:vb");
            c
        });
        let mut tx = Sender::open("va").unwrap();
        let spec = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("sp=1024,dp=5000-5999,tag=3:1:2")
            .unwrap();
        assert_eq!(tx.send_flow(&spec, &mut NoProgress).unwrap().sent, 1000);
        let pkts = cap
            .collect(StopWhen::quiet(
                Duration::from_millis(100),
                Duration::from_secs(5),
            ))
            .unwrap();
        let udp: Vec<&Packet> = pkts
            .iter()
            .filter(|p| Match::udp().matches_frame(&p.data))
            .collect();
        assert_eq!(udp.len(), 1000);
        // Timestamps are wall clock and ordered.
        assert!(udp.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        assert!(now - udp[0].ts_ns < 10_000_000_000);
        // Tags carry sequence 0..999 in order.
        let seqs: Vec<u64> = udp
            .iter()
            .map(|p| Decoded::parse(&p.data).unwrap().tag.unwrap().seq)
            .collect();
        assert_eq!(seqs, (0..1000).collect::<Vec<u64>>());
        let st = cap.stats().unwrap();
        assert_eq!(st.drops, 0);
        assert!(st.packets >= 1000, "{st:?}");

        let path = tmpfile("cap.pcapng");
        let f = std::fs::File::create(&path).unwrap();
        write_pcapng(std::io::BufWriter::new(f), &[("B:vb", &pkts)]).unwrap();
        let out = Command::new(&tshark)
            .args(["-r"])
            .arg(&path)
            .args([
                "-o",
                "udp.check_checksum:TRUE",
                "-Y",
                "udp && !icmp",
                "-T",
                "fields",
                "-e",
                "udp.dstport",
                "-e",
                "udp.checksum.status",
                "-e",
                "frame.interface_description",
                "-e",
                "frame.time_epoch",
            ])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(rows.len(), 1000, "tshark rows: {:?}", &rows[..8]);
        let ports: Vec<u16> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
        assert_eq!(ports, (5000..6000).collect::<Vec<u16>>());
        assert!(
            rows.iter().all(|r| r[1] == "1" || r[1] == "Good"),
            "checksum status {:?}",
            rows[0]
        );
        assert!(rows.iter().all(|r| r[2] == "B:vb"), "{:?}", rows[0]);
        // Nanosecond resolution survives: tshark prints the same epoch time.
        let t0: f64 = rows[0][3].parse().unwrap();
        assert!(
            (t0 - udp[0].ts_ns as f64 / 1e9).abs() < 1e-6,
            "{t0} vs {}",
            udp[0].ts_ns
        );
    });
}

fn which(cmd: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(cmd))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

#[test]
fn ring_overflow_is_reported_as_drops() {
    require_netns!();
    Pair::with(|p| {
        let opts = CaptureOptions {
            block_size: 4096,
            block_count: 2,
            ..Default::default()
        };
        let mut cap = p.in_b(|| Capture::open(Some("vb"), opts).unwrap());
        let mut tx = Sender::open("va").unwrap();
        let spec = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("dmac=02:00:00:00:00:02,c=3000,pps=200000")
            .unwrap();
        tx.send_flow(&spec, &mut NoProgress).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let got = cap
            .collect(StopWhen::quiet(
                Duration::from_millis(50),
                Duration::from_secs(2),
            ))
            .unwrap()
            .len() as u64;
        let st = cap.stats().unwrap();
        assert!(st.drops > 0, "{st:?}");
        assert!(got < 3000);
        assert_eq!(st.packets - st.drops, got, "{st:?} delivered {got}");
    });
}

#[test]
fn shared_quiet_window_over_two_namespaces() {
    require_netns!();
    Pair::with(|p| {
        let mut set = CaptureSet::new();
        let mut a = Capture::open(
            Some("va"),
            CaptureOptions {
                direction: Direction::In,
                ..Default::default()
            },
        )
        .unwrap();
        a.set_label("A:va");
        set.push(a);
        set.push(p.in_b(|| {
            let mut c = Capture::open(Some("vb"), CaptureOptions::default()).unwrap();
            c.set_label("B:vb");
            c
        }));
        let mut tx = Sender::open("va").unwrap();
        let spec = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("sp=9,dp=100-149")
            .unwrap();
        tx.send_flow(&spec, &mut NoProgress).unwrap();
        let t = Instant::now();
        let res = set
            .collect(StopWhen::quiet(
                Duration::from_millis(200),
                Duration::from_secs(5),
            ))
            .unwrap();
        let el = t.elapsed();
        assert!(
            el >= Duration::from_millis(200) && el < Duration::from_millis(900),
            "{el:?}"
        );
        let caps: Vec<(&str, &[Packet])> = vec![("A:va", &res[0]), ("B:vb", &res[1])];
        let flow = Match::udp().dport(PortRange::new(100, 149).unwrap());
        let checks = [
            Expect::exactly(50, flow.clone(), "B:vb"),
            Expect::nothing_except(flow.clone(), &["B:vb"]),
            Expect::at_least_one_anywhere(flow.clone()),
        ];
        for c in &checks {
            let o = c.check(&caps);
            assert!(o.ok, "{}", o.message);
        }
        // And a check that must fail does.
        assert!(!Expect::exactly(50, flow, "A:va").check(&caps).ok);
    });
}

#[test]
fn capture_on_all_interfaces_stops_at_count() {
    require_netns!();
    Pair::with(|p| {
        let mut cap = p.in_b(|| {
            Capture::open(
                None,
                CaptureOptions {
                    direction: Direction::In,
                    ..Default::default()
                },
            )
            .unwrap()
        });
        assert_eq!(cap.label(), "any");
        let mut tx = Sender::open("va").unwrap();
        let spec = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("dp=1-20")
            .unwrap();
        tx.send_flow(&spec, &mut NoProgress).unwrap();
        let t = Instant::now();
        let pkts = cap
            .collect(StopWhen::count(10, Duration::from_secs(3)))
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "count stop took {:?}",
            t.elapsed()
        );
        assert!(pkts.len() >= 10);
        let udp: Vec<&Packet> = pkts
            .iter()
            .filter(|p| Match::udp().matches_frame(&p.data))
            .collect();
        assert!(!udp.is_empty());
        // Names resolved in B's namespace; Direction::In dropped the ICMP errors B sent.
        assert!(
            pkts.iter()
                .all(|p| p.ifname == "vb" && !p.pkttype.is_outgoing()),
            "{pkts:?}"
        );
    });
}
