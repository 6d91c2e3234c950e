//! Packet generator shoot-out: the same 64-byte UDP flow set (60 bytes + FCS;
//! 192.0.2.1:1024 -> 192.0.2.2:0-32767, i.e. 32768 flows) sent over a veth
//! pair between two throwaway namespaces by netrig, trafgen and mausezahn,
//! each pinned to the same core(s). Prints packets/s and ratios to trafgen
//! and mausezahn.
//!
//! `cargo bench -p netrig-wire --bench pps [-- PACKETS]` as root.
//! trafgen and mausezahn come from netsniff-ng (`apt-get install -y
//! netsniff-ng`); a missing tool is skipped with a message.
//!
//! The rate is the sender's interface tx counter over the tool's wall-clock
//! time (process start to exit for the external tools, socket open to last
//! send for netrig), so every tool is charged its own setup.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netrig_wire::{FlowSpec, NoProgress, Sender, SenderOptions, TxMode};

const FLOWS: u64 = 32768;

struct Run {
    label: String,
    sent: u64,
    received: u64,
    secs: f64,
}

impl Run {
    fn pps(&self) -> f64 {
        self.sent as f64 / self.secs
    }
}

fn pin_thread(cpus: &[usize]) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Measure `f` (which sends on va) by va's tx counter and vb's rx counter.
fn measure(p: &support::Pair, label: String, f: impl FnOnce()) -> Run {
    let (_, tx0) = support::counters("va");
    let rx0 = p.in_b(|| support::counters("vb").0);
    let t = Instant::now();
    f();
    let secs = t.elapsed().as_secs_f64();
    let (_, tx1) = support::counters("va");
    // Let the peer's softirq finish before reading its counter.
    std::thread::sleep(Duration::from_millis(50));
    let rx1 = p.in_b(|| support::counters("vb").0);
    Run {
        label,
        sent: tx1 - tx0,
        received: rx1 - rx0,
        secs,
    }
}

/// A MAC address nobody in the pair owns: the peer drops such frames right
/// after the driver, so a run measures the generator, not the peer's stack.
const NOBODY: &str = "02:00:00:00:00:99";

fn spec(n: u64, dmac: Option<&str>) -> FlowSpec {
    let a: IpAddr = support::A_IP.parse().expect("A");
    let b: IpAddr = support::B_IP.parse().expect("B");
    FlowSpec::udp(a, b)
        .with_args(&format!(
            "sp=1024,dp=0-{},c={n},size=60{}",
            FLOWS - 1,
            dmac.map_or(String::new(), |m| format!(",dmac={m}"))
        ))
        .expect("flow spec")
}

/// netrig on `threads` threads, each pinned to its own core with its own
/// socket and an equal share of the packets.
fn netrig(
    p: &support::Pair,
    n: u64,
    threads: usize,
    mode: TxMode,
    batch: usize,
    dmac: Option<&str>,
) -> Run {
    let label = format!(
        "netrig {} x{threads} ({})",
        match mode {
            TxMode::Sendmmsg => "sendmmsg",
            TxMode::TxRing => "tx ring",
        },
        batch
    );
    measure(p, label, || {
        std::thread::scope(|s| {
            for t in 0..threads {
                let share = n / threads as u64;
                s.spawn(move || {
                    // Threads inherit the namespace of the thread that made them.
                    pin_thread(&[t]);
                    let opts = SenderOptions {
                        mode,
                        batch,
                        ..Default::default()
                    };
                    let mut tx = Sender::open_with("va", opts).expect("sender");
                    tx.send_flow(&spec(share, dmac), &mut NoProgress)
                        .expect("send");
                });
            }
        });
    })
}

fn run_pinned(mut cmd: Command, cpus: &[usize]) {
    let cpus = cpus.to_vec();
    // SAFETY: only sched_setaffinity between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &c in &cpus {
                libc::CPU_SET(c, &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        });
    }
    let out = cmd.output().expect("spawn tool");
    if !out.status.success() {
        eprintln!(
            "tool failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn trafgen(p: &support::Pair, n: u64, cpus: usize, va_mac: &str, vb_mac: &str) -> Run {
    let conf = std::env::temp_dir().join(format!("netrig-bench-{}.trafgen", std::process::id()));
    let mut f = std::fs::File::create(&conf).expect("trafgen conf");
    // Same frame: Ethernet + IPv4 + UDP (checksums recomputed per packet by
    // trafgen as dport changes) + 18 zero bytes = 60 bytes.
    writeln!(
        f,
        "{{ eth(sa={va_mac}, da={vb_mac}), ipv4(sa={}, da={}, ttl=64), udp(sp=1024, dp=dinc(0, {})), fill(0x00, 18) }}",
        support::A_IP,
        support::B_IP,
        FLOWS - 1
    )
    .expect("write conf");
    drop(f);
    let mut cmd = Command::new("trafgen");
    // -Q: leave IRQ affinity alone; -A: leave the host's socket memory
    // sysctls alone; -C: no CPU stats.
    cmd.args(["--dev", "va", "--conf"]).arg(&conf).args([
        "-n",
        &n.to_string(),
        "-P",
        &cpus.to_string(),
        "-Q",
        "--no-sock-mem",
        "-C",
    ]);
    let cpu_list: Vec<usize> = (0..cpus).collect();
    let r = measure(p, format!("trafgen -P {cpus}"), || {
        run_pinned(cmd, &cpu_list)
    });
    let _ = std::fs::remove_file(&conf);
    r
}

fn mausezahn(p: &support::Pair, n: u64, vb_mac: &str) -> Run {
    // mausezahn's -c repeats the whole flow set.
    let reps = (n / FLOWS).max(1);
    let mut cmd = Command::new("mausezahn");
    cmd.args([
        "va",
        "-q",
        "-c",
        &reps.to_string(),
        "-d",
        "0",
        "-b",
        vb_mac,
        "-A",
        support::A_IP,
        "-B",
        support::B_IP,
        "-p",
        "18",
        "-t",
        "udp",
        &format!("sp=1024,dp=0-{}", FLOWS - 1),
    ]);
    measure(p, "mausezahn".into(), || run_pinned(cmd, &[0]))
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(FLOWS * 32);
    if !support::can_unshare() {
        eprintln!("SKIP: needs root (CAP_SYS_ADMIN) to create network namespaces");
        return;
    }
    let rounds: usize = std::env::var("NETRIG_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (has_trafgen, has_mz) = (have("trafgen"), have("mausezahn"));
    if !has_trafgen {
        eprintln!("SKIP trafgen: not installed (apt-get install -y netsniff-ng)");
    }
    if !has_mz {
        eprintln!("SKIP mausezahn: not installed (apt-get install -y netsniff-ng)");
    }
    support::Pair::with(|p| {
        let va_mac = support::mac_of("va");
        let vb_mac = p.in_b(|| support::mac_of("vb"));
        // Warm-up: neighbour entries, page cache, CPU frequency.
        let _ = netrig(p, FLOWS, 1, TxMode::Sendmmsg, 64, None);
        for (dmac, what) in [
            (
                None,
                "to the peer's address (its IP stack receives every packet)",
            ),
            (
                Some(NOBODY),
                "to a MAC nobody owns (the peer drops at L2: generator-bound)",
            ),
        ] {
            // Rounds interleave the generators so that background load on a
            // shared machine hits them alike; medians are compared.
            let mut all: Vec<Vec<Run>> = Vec::new();
            for _ in 0..rounds {
                let mut runs = vec![
                    netrig(p, n, 1, TxMode::Sendmmsg, 64, dmac),
                    netrig(p, n, 1, TxMode::TxRing, 256, dmac),
                ];
                if has_trafgen {
                    runs.push(trafgen(p, n, 1, &va_mac, dmac.unwrap_or(&vb_mac)));
                }
                if ncpu >= 2 {
                    runs.push(netrig(p, n, 2, TxMode::Sendmmsg, 64, dmac));
                    if has_trafgen {
                        runs.push(trafgen(p, n, 2, &va_mac, dmac.unwrap_or(&vb_mac)));
                    }
                }
                if has_mz {
                    // mausezahn is slow; a quarter of the packets still takes a while.
                    runs.push(mausezahn(p, (n / 4).max(FLOWS), dmac.unwrap_or(&vb_mac)));
                }
                all.push(runs);
            }
            println!(
                "\n64-byte UDP, {FLOWS} flows, veth between two namespaces, {ncpu} CPUs, \
                 median of {rounds} interleaved rounds; {what}\n"
            );
            println!(
                "{:<28} {:>10} {:>10} {:>12} {:>12} {:>12}",
                "generator", "sent", "not rx", "median pps", "min pps", "max pps"
            );
            let labels: Vec<String> = all[0].iter().map(|r| r.label.clone()).collect();
            let mut med = std::collections::HashMap::new();
            for l in &labels {
                let rs: Vec<&Run> = all.iter().flatten().filter(|r| &r.label == l).collect();
                let mut pps: Vec<f64> = rs.iter().map(|r| r.pps()).collect();
                pps.sort_by(f64::total_cmp);
                let m = pps[pps.len() / 2];
                med.insert(l.clone(), m);
                let lost: u64 = rs.iter().map(|r| r.sent.saturating_sub(r.received)).sum();
                println!(
                    "{:<28} {:>10} {:>10} {:>12.0} {:>12.0} {:>12.0}",
                    l,
                    rs[0].sent,
                    lost,
                    m,
                    pps[0],
                    pps[pps.len() - 1]
                );
            }
            let get = |pre: &str| {
                med.iter()
                    .filter(|(l, _)| l.starts_with(pre))
                    .map(|(_, v)| *v)
                    .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
            };
            println!();
            let one = get("netrig sendmmsg x1")
                .into_iter()
                .chain(get("netrig tx ring x1"))
                .fold(0.0, f64::max);
            if let Some(t) = get("trafgen -P 1") {
                println!("netrig/trafgen   1 core : {:.2}", one / t);
            }
            if let Some(m) = get("mausezahn") {
                println!("netrig/mausezahn 1 core : {:.2}", one / m);
            }
            if let (Some(b), Some(t)) = (get("netrig sendmmsg x2"), get("trafgen -P 2")) {
                println!("netrig/trafgen   2 cores: {:.2}", b / t);
            }
            // mausezahn has no multi-core mode: this is each tool at its best here.
            if let (Some(b), Some(m)) = (get("netrig sendmmsg x2"), get("mausezahn")) {
                println!("netrig 2 cores/mausezahn: {:.2} (target 2x)", b / m);
            }
        }
    });
}
