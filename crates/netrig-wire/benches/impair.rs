//! What netrig's user-space impairment engine costs, against a plain veth
//! measured in the same run and the same lab: packets per second delivered
//! through a veth, an unimpaired user-space link (TAP - engine - TAP) and an
//! impaired one (delay 1 ms ± 100 us, loss 1%, duplicate 1%), and the
//! latency each adds (median ping RTT). Prints the ratios.
//!
//! `cargo bench -p netrig-wire --bench impair [-- PACKETS]` as root;
//! `NETRIG_LOAD=1` runs it with one busy loop per core beside it. Kernel
//! netem, the other baseline the issue names, is measured where the kernel
//! has it (two more links, unimpaired and impaired alike, on netem); where
//! it has not, the bench says so. `scripts/netem-vm.sh` runs the bench's
//! binary under a kernel with netem.
//!
//! The rate is frames received by the far end's interface over the time from
//! the first send to the last arrival: 64-byte UDP frames sent unpaced by
//! netrig's sendmmsg sender, so what does not fit is dropped where it does
//! not fit (the TAP's queue, the engine's) and shows as a delivered share.

use netrig_lab::{BuildOptions, Lab};
use netrig_wire::{FlowSpec, NoProgress, PingOptions, Sender};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const PAIRS: [(&str, &str, &str, &str); 5] = [
    // (label, far node, near iface, far address)
    ("veth", "b", "eth0", "192.0.2.2"),
    ("user-space, unimpaired", "c", "eth1", "198.51.100.2"),
    ("user-space, impaired", "d", "eth2", "203.0.113.2"),
    ("netem, unimpaired", "e", "eth3", "198.18.0.2"),
    ("netem, impaired", "f", "eth4", "198.18.1.2"),
];

const TOPO: &str = r#"
[nodes.a]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[nodes.b]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[nodes.c]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[nodes.d]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[[links]]
ends = ["a:eth0 192.0.2.1/24", "b:eth0 192.0.2.2/24 mac=02:00:00:00:00:0b"]
[[links]]
ends = ["a:eth1 198.51.100.1/24", "c:eth0 198.51.100.2/24 mac=02:00:00:00:00:0c"]
impair = { engine = "userspace" }
[[links]]
ends = ["a:eth2 203.0.113.1/24", "d:eth0 203.0.113.2/24 mac=02:00:00:00:00:0d"]
impair = { delay = "1ms", jitter = "100us", loss = "1%", duplicate = "1%", seed = 1 }
"#;

/// The netem links, added where the kernel has netem.
const NETEM: &str = r#"
[nodes.e]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[nodes.f]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[[links]]
ends = ["a:eth3 198.18.0.1/24", "e:eth0 198.18.0.2/24 mac=02:00:00:00:00:0e"]
impair = { engine = "netem" }
[[links]]
ends = ["a:eth4 198.18.1.1/24", "f:eth0 198.18.1.2/24 mac=02:00:00:00:00:0f"]
impair = { delay = "1ms", jitter = "100us", loss = "1%", duplicate = "1%", engine = "netem" }
"#;

struct Busy(Vec<Child>);
impl Drop for Busy {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn rx(lab: &mut Lab, node: &str) -> u64 {
    lab.link_stats(node, "eth0").map_or(0, |s| s.rx_packets)
}

/// Frames per second delivered, and the share of those sent.
fn flood(lab: &mut Lab, far: &str, iface: &str, dst: &str, n: u64) -> (f64, f64) {
    let mac = format!("02:00:00:00:00:0{far}");
    let spec = FlowSpec::udp(
        "192.0.2.1".parse::<std::net::IpAddr>().expect("ip"),
        dst.parse::<std::net::IpAddr>().expect("ip"),
    )
    .with_args(&format!("sp=1024,dp=9,count={n},dmac={mac}"))
    .expect("flow");
    let mut tx = lab
        .run_in("a", || Sender::open(iface))
        .expect("enter a")
        .expect("sender");
    let before = rx(lab, far);
    let t0 = Instant::now();
    let sent = tx.send_flow(&spec, &mut NoProgress).expect("send").sent;
    // The last arrival: the counter has stopped moving for 50 ms (the
    // impaired link holds frames for about 1 ms).
    let mut last = rx(lab, far);
    let mut last_change = Instant::now();
    while last_change.elapsed() < Duration::from_millis(50) {
        std::thread::sleep(Duration::from_millis(1));
        let now = rx(lab, far);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
    let secs = (last_change - t0).as_secs_f64();
    let got = last - before;
    (got as f64 / secs, got as f64 / sent as f64)
}

fn median_rtt(lab: &Lab, dst: &str) -> f64 {
    let opts = PingOptions {
        count: 200,
        interval: Duration::from_millis(5),
        timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(20),
        ..Default::default()
    };
    let r = lab
        .run_in("a", || netrig_wire::ping(dst.parse().expect("ip"), &opts))
        .expect("enter a")
        .expect("ping");
    let mut v: Vec<f64> = r.rtts.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("impair bench: needs root, skipped");
        return;
    }
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300_000);
    let _busy = std::env::var_os("NETRIG_LOAD").map(|_| {
        let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
        Busy(
            (0..cores)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("busy loop")
                })
                .collect(),
        )
    });
    let with_netem = format!("{TOPO}{NETEM}");
    let topo = netrig_spec::parse_topology("impair-bench.toml", &with_netem).expect("topology");
    let (mut lab, no_netem) = match Lab::build(&topo, &BuildOptions::default()) {
        Ok(lab) => (lab, None),
        Err(netrig_lab::LabError::EngineUnavailable { reason, .. }) => {
            let topo = netrig_spec::parse_topology("impair-bench.toml", TOPO).expect("topology");
            (
                Lab::build(&topo, &BuildOptions::default()).expect("lab"),
                Some(reason),
            )
        }
        Err(e) => panic!("lab: {e}"),
    };
    let pairs = &PAIRS[..if no_netem.is_some() { 3 } else { 5 }];
    let info = &lab.impaired_links()[0].info;
    println!(
        "impairment engine bench: {n} frames of 64 bytes per link, unpaced{}; engine {} ({}), real-time {}",
        if std::env::var_os("NETRIG_LOAD").is_some() {
            ", one busy loop per core"
        } else {
            ", idle"
        },
        info.engine,
        info.why,
        info.realtime
    );
    if let Some(why) = &no_netem {
        println!("kernel netem: not measured ({why})");
    }
    // Rounds over the three links in turn, medians reported: a shared
    // machine's noise then hits all three alike.
    const ROUNDS: usize = 3;
    let mut samples: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); pairs.len()];
    for (label, _, _, dst) in pairs {
        // Warm up each path (neighbour entries, caches) before measuring.
        let _ = median_rtt(&lab, dst);
        let _ = label;
    }
    for round in 0..ROUNDS {
        for (i, (label, far, iface, dst)) in pairs.iter().enumerate() {
            let (pps, share) = flood(&mut lab, far, iface, dst, n);
            let rtt = median_rtt(&lab, dst);
            println!(
                "  round {}: {label:<24} {pps:>10.0} frames/s delivered ({:>5.1}% of sent), median RTT {rtt:>8.1} us",
                round + 1,
                share * 100.0
            );
            samples[i].0.push(pps);
            samples[i].1.push(share);
            samples[i].2.push(rtt);
        }
    }
    let med = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut rows = Vec::new();
    println!("medians of {ROUNDS} rounds:");
    for (i, (label, ..)) in pairs.iter().enumerate() {
        let (pps, share, rtt) = (med(&samples[i].0), med(&samples[i].1), med(&samples[i].2));
        println!(
            "  {label:<24} {pps:>10.0} frames/s delivered ({:>5.1}% of sent), median RTT {rtt:>8.1} us",
            share * 100.0
        );
        rows.push((*label, pps, rtt));
    }
    let (_, veth_pps, veth_rtt) = rows[0];
    for (label, pps, rtt) in &rows[1..] {
        println!(
            "  {label}: {:.3} x the veth's rate, {:+.1} us RTT over the veth",
            pps / veth_pps,
            rtt - veth_rtt
        );
    }
    // The impaired link delays each direction by 1 ms on average: what the
    // engine adds beyond that is its timer's lateness.
    let (_, _, imp_rtt) = rows[2];
    let (_, _, user_rtt) = rows[1];
    println!(
        "  impaired RTT minus 2 x 1 ms delay minus the unimpaired user-space RTT: {:+.1} us",
        imp_rtt - 2000.0 - user_rtt
    );
    if let [.., (_, netem_pps, netem_rtt), (_, _, netem_imp_rtt)] = rows[..] {
        if no_netem.is_none() {
            println!(
                "  impaired netem RTT minus 2 x 1 ms delay minus the unimpaired netem RTT: {:+.1} us",
                netem_imp_rtt - 2000.0 - netem_rtt
            );
            println!(
                "  user-space unimpaired vs netem unimpaired: {:.3} x the rate",
                rows[1].1 / netem_pps
            );
        }
    }
}
