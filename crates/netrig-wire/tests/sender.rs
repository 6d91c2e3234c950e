//! AF_PACKET sender over a veth pair between two throwaway namespaces.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netrig_wire::{FlowSpec, NoProgress, Sender, SenderOptions, TxMode, WireError};
use std::process::Command;
use support::{counters, mac_of, Pair};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn sends_exact_count_with_resolved_mac_v4_and_v6() {
    require_netns!();
    Pair::with(|p| {
        let vb_mac = p.in_b(|| mac_of("vb"));
        let mut tx = Sender::open("va").unwrap();
        assert_eq!(tx.mac().to_string(), mac_of("va"));
        let before = p.in_b(|| counters("vb")).0;
        let spec = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("sp=1024,dp=0-999")
            .unwrap();
        assert_eq!(tx.resolve_dst_mac(&spec).unwrap().to_string(), vb_mac);
        let st = tx.send_flow(&spec, &mut NoProgress).unwrap();
        assert_eq!(st.sent, 1000);
        assert_eq!(st.bytes, 60_000);
        let spec6 = FlowSpec::udp(ip(support::A_IP6), ip(support::B_IP6))
            .with_args("sp=1-10,dp=80,tag=1:2:3")
            .unwrap();
        assert_eq!(tx.resolve_dst_mac(&spec6).unwrap().to_string(), vb_mac);
        let st6 = tx.send_flow(&spec6, &mut NoProgress).unwrap();
        assert_eq!(st6.sent, 10);
        // Let the receiving softirq drain, then count (ARP/NS may add a few).
        std::thread::sleep(Duration::from_millis(50));
        let after = p.in_b(|| counters("vb")).0;
        let got = after - before;
        assert!((1010..1020).contains(&got), "vb received {got}");
    });
}

#[test]
fn tx_ring_mode_sends_exact_count() {
    require_netns!();
    Pair::with(|p| {
        let opts = SenderOptions {
            mode: TxMode::TxRing,
            batch: 256,
            ..Default::default()
        };
        let mut tx = Sender::open_with("va", opts).unwrap();
        let spec = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("dmac=02:00:00:00:00:02,sp=1,dp=1-700,size=100")
            .unwrap();
        let (tx0, _) = (counters("va").1, ());
        let st = tx.send_flow(&spec, &mut NoProgress).unwrap();
        assert_eq!(st.sent, 700);
        let sent = counters("va").1 - tx0;
        assert_eq!(sent, 700, "va tx_packets");
        let _ = p;
    });
}

#[test]
fn rate_and_duration_bounds() {
    require_netns!();
    Pair::with(|_| {
        let mut tx = Sender::open("va").unwrap();
        let base = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("dmac=02:00:00:00:00:02,sp=1,dp=1-65535")
            .unwrap();
        // 100 packets at 400 pps: about 250 ms.
        let spec = base.clone().with_args("c=100,pps=400").unwrap();
        let t = Instant::now();
        let st = tx.send_flow(&spec, &mut NoProgress).unwrap();
        let el = t.elapsed();
        assert_eq!(st.sent, 100);
        assert!(
            // The lower bound shows the pacing; the upper one is loose so a
            // busy CI machine cannot fail it.
            el >= Duration::from_millis(230) && el < Duration::from_secs(2),
            "{el:?}"
        );
        // Duration only: stops by itself.
        let spec = base.clone().with_args("d=150ms,pps=20000").unwrap();
        let t = Instant::now();
        let st = tx.send_flow(&spec, &mut NoProgress).unwrap();
        let el = t.elapsed();
        assert!(
            el >= Duration::from_millis(150) && el < Duration::from_secs(2),
            "{el:?}"
        );
        assert!((2000..=3200).contains(&st.sent), "sent {}", st.sent);
        // Progress can cancel.
        let mut stop_at_500 = |s: &netrig_wire::SendStats| {
            if s.sent >= 500 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        };
        let st = tx.send_flow(&base, &mut stop_at_500).unwrap();
        assert!(st.cancelled && st.sent >= 500 && st.sent < 600, "{st:?}");
    });
}

#[test]
fn clear_errors_for_bad_interface_and_unresolvable_hop() {
    require_netns!();
    Pair::with(|_| {
        match Sender::open("nope0") {
            Err(WireError::NoSuchInterface(n)) => assert_eq!(n, "nope0"),
            other => panic!("{other:?}"),
        }
        let opts = SenderOptions {
            resolve_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let mut tx = Sender::open_with("va", opts).unwrap();
        let spec = FlowSpec::udp(ip(support::A_IP), ip("192.0.2.99"));
        let t = Instant::now();
        let e = tx.send_flow(&spec, &mut NoProgress).unwrap_err();
        assert!(matches!(e, WireError::Unresolved { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(e.to_string().contains("192.0.2.99"), "{e}");
        // Off-link without a route: with an output interface given the kernel
        // treats the destination as on-link (as `ip route get .. oif va`).
        let spec = FlowSpec::udp(ip(support::A_IP), ip("203.0.113.5"));
        let e = tx.send_flow(&spec, &mut NoProgress).unwrap_err();
        assert!(matches!(e, WireError::Unresolved { .. }), "{e}");
    });
}

#[test]
fn resolves_gateway_for_routed_destination() {
    require_netns!();
    Pair::with(|p| {
        p.ip_a(&format!("ip route add 198.18.0.0/24 via {}", support::B_IP));
        let vb_mac = p.in_b(|| mac_of("vb"));
        let tx = Sender::open("va").unwrap();
        let spec = FlowSpec::udp(ip(support::A_IP), ip("198.18.0.7"));
        assert_eq!(tx.resolve_dst_mac(&spec).unwrap().to_string(), vb_mac);
    });
}

/// A qdisc someone configured on the sending interface (a shaper under
/// test: tbf at 1 Mbit/s here) is honoured, not bypassed; the kernel's own
/// noqueue is skipped as before.
#[test]
fn a_configured_qdisc_is_honoured_not_bypassed() {
    require_netns!();
    Pair::with(|p| {
        assert!(Sender::open("va").unwrap().bypasses_qdisc(), "noqueue");
        let tc = Command::new("tc")
            .args(["qdisc", "add", "dev", "va", "root", "tbf"])
            .args(["rate", "1mbit", "burst", "1600", "limit", "3000"])
            .status();
        let Ok(tc) = tc else {
            eprintln!("SKIP: no tc");
            return;
        };
        assert!(tc.success());
        let mut tx = Sender::open("va").unwrap();
        assert!(!tx.bypasses_qdisc(), "tbf was bypassed");
        let spec = FlowSpec::udp(ip(support::A_IP), ip(support::B_IP))
            .with_args("dmac=02:00:00:00:00:02,sp=1,dp=1-100,size=1000")
            .unwrap();
        let before = p.in_b(|| counters("vb")).0;
        let start = Instant::now();
        let st = tx.send_flow(&spec, &mut NoProgress).unwrap();
        let elapsed = start.elapsed();
        std::thread::sleep(Duration::from_millis(50));
        let got = p.in_b(|| counters("vb")).0 - before;
        // The sender waits for the full queue rather than drop: every frame
        // arrives (vb's counter may add the pair's own MLD/ND frames), at
        // the shaper's pace (100 kB at 1 Mbit/s: 0.8 s).
        assert_eq!(st.sent, 100);
        assert!((100..105).contains(&got), "vb received {got}");
        assert!(
            elapsed >= Duration::from_millis(700),
            "shaped to 1 Mbit/s in {elapsed:?}"
        );
    });
}
