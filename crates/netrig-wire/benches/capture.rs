//! Capture at netrig's full send rate: a TPACKET_V3 ring on the receiving
//! end of a veth pair drains on its own thread (pinned to another core)
//! while netrig sends 64-byte UDP frames as fast as it can; reports packets
//! captured, ring drops and the rate. Also runs the seed scenarios' load
//! (one pass over ~33k flows, unpaced and at 200k pps), where the target is
//! zero drops.
//!
//! `cargo bench -p netrig-wire --bench capture [-- PACKETS]` as root.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netrig_wire::{Capture, CaptureOptions, Direction, FlowSpec, NoProgress, Sender, StopWhen};

fn pin_thread(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

struct Result {
    label: String,
    sent: u64,
    send_pps: f64,
    captured: u64,
    ring_packets: u64,
    drops: u64,
}

fn run(p: &support::Pair, label: &str, args: &str, ring_mb: usize) -> Result {
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let a: IpAddr = support::A_IP.parse().expect("A");
    let b: IpAddr = support::B_IP.parse().expect("B");
    let spec = FlowSpec::udp(a, b).with_args(args).expect("spec");
    let expect = spec.packet_budget().expect("counted flow");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let rx = p.spawn_in_b(move || {
        if ncpu > 1 {
            pin_thread(1);
        }
        let mut cap = Capture::open(
            Some("vb"),
            CaptureOptions {
                direction: Direction::In,
                block_count: ring_mb,
                ..Default::default()
            },
        )
        .expect("capture");
        let _ = ready_tx.send(());
        let got = cap
            .collect(StopWhen {
                count: Some(expect),
                quiet: Some(Duration::from_millis(500)),
                max: Duration::from_secs(60),
            })
            .expect("collect");
        let st = cap.stats().expect("stats");
        (got.len() as u64, st.packets, st.drops)
    });
    ready_rx.recv().expect("capture ready");
    pin_thread(0);
    let mut tx = Sender::open("va").expect("sender");
    let t = Instant::now();
    let st = tx.send_flow(&spec, &mut NoProgress).expect("send");
    let secs = t.elapsed().as_secs_f64();
    let (captured, ring_packets, drops) = rx.join().expect("capture thread");
    Result {
        label: label.to_string(),
        sent: st.sent,
        send_pps: st.sent as f64 / secs,
        captured,
        ring_packets,
        drops,
    }
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1 << 20);
    if !support::can_unshare() {
        eprintln!("SKIP: needs root (CAP_SYS_ADMIN) to create network namespaces");
        return;
    }
    support::Pair::with(|p| {
        // Warm-up (neighbour entries, ring pages).
        let _ = run(p, "warm-up", "sp=1024,dp=0-1023,size=60", 8);
        let results = [
            run(
                p,
                "seed load, 32768 flows, unpaced",
                "sp=1024,dp=0-32767,size=60",
                8,
            ),
            run(
                p,
                "seed load, 32768 flows, 200k pps",
                "sp=1024,dp=0-32767,size=60,pps=200000",
                8,
            ),
            run(
                p,
                "full rate, default 8 MiB ring",
                &format!("sp=1024,dp=0-32767,size=60,c={n}"),
                8,
            ),
            run(
                p,
                "full rate, 64 MiB ring",
                &format!("sp=1024,dp=0-32767,size=60,c={n}"),
                64,
            ),
        ];
        println!("\nCapture on the receiving veth while netrig sends 64-byte UDP (sender on CPU 0, capture on CPU 1)\n");
        println!(
            "{:<36} {:>9} {:>11} {:>9} {:>11} {:>8}",
            "case", "sent", "send pps", "captured", "ring saw", "drops"
        );
        for r in &results {
            println!(
                "{:<36} {:>9} {:>11.0} {:>9} {:>11} {:>8}",
                r.label, r.sent, r.send_pps, r.captured, r.ring_packets, r.drops
            );
        }
        let seed_drops: u64 = results[..2].iter().map(|r| r.drops).sum();
        println!(
            "\nseed-load drops: {seed_drops} (target 0): {}",
            if seed_drops == 0 { "met" } else { "NOT met" }
        );
    });
}
