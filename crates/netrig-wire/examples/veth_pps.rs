//! Measure generator speed over a veth pair between two throwaway namespaces.
//!
//! `cargo run --release -p netrig-wire --example veth_pps [packets]` (root).
//! Prints sent pps per mode and how many frames the peer actually received.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::IpAddr;

use netrig_wire::{FlowSpec, NoProgress, Sender, SenderOptions, TxMode};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    if !support::can_unshare() {
        eprintln!("needs root (CAP_SYS_ADMIN) to create network namespaces");
        std::process::exit(2);
    }
    support::Pair::with(|p| {
        let a: IpAddr = support::A_IP.parse().unwrap();
        let b: IpAddr = support::B_IP.parse().unwrap();
        for (label, mode, batch, size) in [
            ("sendmmsg  batch 64, 60B", TxMode::Sendmmsg, 64, 60),
            ("sendmmsg  batch 256, 60B", TxMode::Sendmmsg, 256, 60),
            ("tx ring V2 256, 60B", TxMode::TxRing, 256, 60),
            ("sendmmsg  batch 64, 64B+tag", TxMode::Sendmmsg, 64, 64),
            ("tx ring V2 256, 64B+tag", TxMode::TxRing, 256, 64),
            ("sendmmsg 64, other-host dmac", TxMode::Sendmmsg, 64, 0),
            ("tx ring 256, other-host dmac", TxMode::TxRing, 256, 0),
        ] {
            // size 0: 60-byte frames to a MAC nobody owns, dropped by the
            // peer at L2 (measures the sender, not the peer's IP stack).
            let (size, other) = if size == 0 { (60, true) } else { (size, false) };
            let opts = SenderOptions {
                mode,
                batch,
                ..Default::default()
            };
            let mut tx = Sender::open_with("va", opts).expect("open sender");
            let mut args = format!("sp=1024,dp=0-65535,c={n},size={size}");
            if size >= 62 {
                args.push_str(",tag=1:1:2");
            }
            if other {
                args.push_str(",dmac=02:00:00:00:00:99");
            }
            let spec = FlowSpec::udp(a, b).with_args(&args).expect("spec");
            let rx0 = p.in_b(|| support::counters("vb").0);
            let st = tx.send_flow(&spec, &mut NoProgress).expect("send");
            std::thread::sleep(std::time::Duration::from_millis(100));
            let rx = p.in_b(|| support::counters("vb").0) - rx0;
            println!(
                "{label:28} sent {:>9} in {:>7.3} s = {:>6.3} Mpps; peer received {:>9} ({:.1}%), retries {}",
                st.sent,
                st.elapsed.as_secs_f64(),
                st.pps() / 1e6,
                rx,
                100.0 * rx as f64 / st.sent as f64,
                st.retries
            );
        }
    });
}
