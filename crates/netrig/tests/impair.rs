//! Link impairment measured from outside the engine: tagged frames sent
//! through an impaired link and captured at the other end, pings across it,
//! each judged with a statistical test whose false-failure probability is
//! stated (alpha = 1e-6), never with a widened tolerance. Needs root.
//!
//! Every lab here is IPv4-only with IPv6 disabled and static neighbours, so
//! that nothing but the test's own frames crosses a link while it measures
//! (each test checks that against the engine's counters).
//!
//! `NETRIG_LOAD=1` runs each with one busy loop per core beside it.

mod run_common;
use run_common::*;

use netrig_judge::dist::{binom_cdf, binom_sf, norm_ppf};
use netrig_lab::{BuildOptions, DirStats, Lab};
use netrig_wire::{
    Capture, CaptureOptions, Direction, FlowSpec, NoProgress, PingOptions, Sender, Tag,
};
use std::path::Path;
use std::time::Duration;

const ALPHA: f64 = 1e-6;
const MAC_A: &str = "02:00:00:00:00:0a";
const MAC_B: &str = "02:00:00:00:00:0b";

fn busy() -> Option<BusyLoops> {
    std::env::var_os("NETRIG_LOAD").map(|_| BusyLoops::start())
}

/// Nodes a and b joined by one link with `impair` (a TOML fragment placed
/// under the link), and c joined to a by an unimpaired user-space link.
fn lab(impair: &str) -> Lab {
    lab_with(impair, "userspace")
}

/// The same, with the unimpaired a-c link (the baseline) on engine `base`.
fn lab_with(impair: &str, base: &str) -> Lab {
    let text = format!(
        r#"
[nodes.a]
sysctl = {{ "net.ipv6.conf.all.disable_ipv6" = 1 }}
[nodes.b]
sysctl = {{ "net.ipv6.conf.all.disable_ipv6" = 1 }}
[nodes.c]
sysctl = {{ "net.ipv6.conf.all.disable_ipv6" = 1 }}

[[links]]
ends = ["a:eth1 198.51.100.1/24", "c:eth0 198.51.100.2/24"]
impair = {{ engine = "{base}" }}

[[links]]
ends = ["a:eth0 192.0.2.1/24 mac={MAC_A}", "b:eth0 192.0.2.2/24 mac={MAC_B}"]
{impair}

[[neighbors]]
node = "a"
dev = "eth0"
addr = "192.0.2.2"
mac = "{MAC_B}"
[[neighbors]]
node = "b"
dev = "eth0"
addr = "192.0.2.1"
mac = "{MAC_A}"
"#
    );
    let topo =
        netrig_spec::parse_topology("impair-test.toml", &text).unwrap_or_else(|e| panic!("{e:?}"));
    Lab::build(&topo, &BuildOptions::default()).expect("impaired lab builds")
}

fn stats(lab: &Lab) -> DirStats {
    lab.impairment_stats("a", "eth0")
        .expect("a:eth0 is impaired")
        .1[0]
}

/// What a stream of tagged frames from a to b went through.
struct Run {
    /// Tag sequence numbers in arrival order at b (duplicates included).
    arrivals: Vec<u64>,
    /// Every frame b received, in order.
    frames: Vec<Vec<u8>>,
    sent: u64,
    /// The engine's counters of the a -> b direction over the stream.
    engine: DirStats,
}

/// Send `n` tagged UDP frames from a to b at `pps` and capture them at b.
/// Panics (the run is not judgeable) if anything but the engine could have
/// lost a frame: a capture ring drop, a frame the TAP's queue refused, or a
/// frame that was not the test's own crossing the link.
fn stream(lab: &Lab, n: u64, pps: u64) -> Run {
    let mut cap = lab
        .run_in("b", || {
            Capture::open(
                Some("eth0"),
                CaptureOptions {
                    direction: Direction::In,
                    block_count: 32,
                    ..Default::default()
                },
            )
        })
        .expect("enter b")
        .expect("capture on b:eth0");
    // Default options, as netrig's steps open it: on a netem link the
    // sender must go through the qdisc it would otherwise bypass.
    let mut tx = lab
        .run_in("a", || Sender::open("eth0"))
        .expect("enter a")
        .expect("sender on a:eth0");
    assert_eq!(
        tx.bypasses_qdisc(),
        lab.impaired_links()[1].info.engine != "netem"
    );
    let spec = FlowSpec::udp(
        "192.0.2.1".parse::<std::net::IpAddr>().expect("ip"),
        "192.0.2.2".parse::<std::net::IpAddr>().expect("ip"),
    )
    .with_args(&format!(
        "sp=1024,dp=9,tag=1,count={n},pps={pps},dmac={MAC_B}"
    ))
    .expect("flow spec");
    // Drained while the stream runs: a ring hands a block over every few
    // milliseconds, and would overflow if read only at the end.
    let target = std::sync::atomic::AtomicU64::new(u64::MAX);
    let before = stats(lab);
    let (sent, engine, pkts, ring) = std::thread::scope(|s| {
        let drainer = s.spawn(|| {
            let mut pkts = Vec::new();
            let t0 = std::time::Instant::now();
            while (pkts.len() as u64) < target.load(std::sync::atomic::Ordering::SeqCst)
                && t0.elapsed() < Duration::from_secs(60)
            {
                let _ = cap.wait(Duration::from_millis(5));
                cap.drain(&mut |p| pkts.push(p));
            }
            let ring = cap.stats().expect("ring stats");
            (pkts, ring)
        });
        let sent = tx.send_flow(&spec, &mut NoProgress).expect("send").sent;
        // Wait for the engine to have decided every frame and released every
        // frame it holds (bounded: 30 s, far above any delay used here).
        let t0 = std::time::Instant::now();
        let mut after = stats(lab);
        while after.sent - before.sent < sent || after.held() > 0 {
            if t0.elapsed() > Duration::from_secs(30) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
            after = stats(lab);
        }
        let engine = diff(&after, &before);
        target.store(engine.delivered, std::sync::atomic::Ordering::SeqCst);
        let (pkts, ring) = drainer.join().expect("drainer");
        (sent, engine, pkts, ring)
    });
    assert_eq!(sent, n, "the sender gave up early");
    assert_eq!(engine.held(), 0, "the engine did not settle: {engine}");
    assert_eq!(
        engine.sent, n,
        "frames other than the test's crossed the link (or the TAP queue dropped some): {engine}"
    );
    assert_eq!(ring.drops, 0, "the capture ring overflowed: not judgeable");
    assert_eq!(
        pkts.len() as u64,
        engine.delivered,
        "the capture saw another number of frames than the engine delivered"
    );
    let arrivals: Vec<u64> = pkts
        .iter()
        .filter_map(|p| Tag::from_frame(&p.data))
        .filter(|t| t.stream == 1)
        .map(|t| t.seq)
        .collect();
    Run {
        arrivals,
        frames: pkts.into_iter().map(|p| p.data).collect(),
        sent,
        engine,
    }
}

fn diff(a: &DirStats, b: &DirStats) -> DirStats {
    DirStats {
        sent: a.sent - b.sent,
        delivered: a.delivered - b.delivered,
        dropped_loss: a.dropped_loss - b.dropped_loss,
        dropped_queue: a.dropped_queue - b.dropped_queue,
        duplicated: a.duplicated - b.duplicated,
        reordered: a.reordered - b.reordered,
        corrupted: a.corrupted - b.corrupted,
        delayed: a.delayed - b.delayed,
        write_errors: a.write_errors - b.write_errors,
    }
}

/// Tag sequence numbers sent but never seen at b.
fn missing(run: &Run) -> Vec<u64> {
    assert_eq!(
        run.arrivals.len(),
        run.frames.len(),
        "untagged frames arrived"
    );
    let seen: std::collections::HashSet<u64> = run.arrivals.iter().copied().collect();
    // The sender numbers a flow's frames 0, 1, 2...
    (0..run.sent).filter(|s| !seen.contains(s)).collect()
}

/// Exact two-sided binomial test: the p-value of seeing `k` of `n` at
/// probability `p`, doubled from the smaller tail (as scipy's
/// `binomtest(...).pvalue` bounds it).
fn binom_p_value(k: u64, n: u64, p: f64) -> f64 {
    let lower = binom_cdf(k, n, p);
    let upper = if k == 0 { 1.0 } else { binom_sf(k - 1, n, p) };
    (2.0 * lower.min(upper)).min(1.0)
}

fn judge_share(what: &str, k: u64, n: u64, p: f64) {
    let pv = binom_p_value(k, n, p);
    eprintln!(
        "{what}: {k} of {n} = {:.3}% (configured {:.3}%), two-sided binomial p-value {pv:.3e}",
        k as f64 * 100.0 / n as f64,
        p * 100.0
    );
    assert!(
        pv >= ALPHA,
        "{what}: {k} of {n} is not a share of {p}: p-value {pv:.3e} < alpha {ALPHA}"
    );
}

/// Whether this kernel has netem, as a lab finds out (by trying it); says
/// why not, for the tests that then skip.
fn have_netem() -> bool {
    let topo = netrig_spec::parse_topology(
        "probe.toml",
        "[nodes.a]\n[nodes.b]\n[[links]]\nends = [\"a 192.0.2.1/24\", \"b 192.0.2.2/24\"]\nimpair = { engine = \"netem\" }\n",
    )
    .expect("valid");
    match Lab::build(&topo, &BuildOptions::default()) {
        Ok(_) => true,
        Err(netrig_lab::LabError::EngineUnavailable { reason, .. }) => {
            eprintln!("SKIP: {reason}");
            false
        }
        Err(e) => panic!("probing netem: {e}"),
    }
}

fn loss_share(p_percent: &str, p: f64, engine: &str) {
    let _load = busy();
    // No seed: every run draws afresh, so alpha bounds how often a correct
    // engine fails this test (a fixed seed would make it one fixed draw).
    let lab = lab(&format!(
        "impair = {{ loss = \"{p_percent}\", engine = \"{engine}\" }}"
    ));
    assert_eq!(lab.impaired_links()[1].info.engine, engine);
    // Enough frames that a share 25% off the configured one fails with
    // probability 0.99 (normal approximation of the binomial test).
    let (za, zb) = (norm_ppf(1.0 - ALPHA / 2.0), norm_ppf(0.99));
    let q = p * 1.25;
    let n = (((za * (p * (1.0 - p)).sqrt() + zb * (q * (1.0 - q)).sqrt()) / (q - p)).powi(2)).ceil()
        as u64;
    let n = n.max(5_000);
    let run = stream(&lab, n, 40_000);
    let lost = missing(&run);
    // The capture and the engine agree frame for frame...
    assert_eq!(lost.len() as u64, run.engine.dropped_loss, "{}", run.engine);
    // ...and the share is the configured one.
    judge_share(
        &format!(
            "loss {p_percent} (seed {})",
            lab.impaired_links()[1].info.seed
        ),
        lost.len() as u64,
        run.sent,
        p,
    );
}

#[test]
fn loss_1_percent_is_binomial() {
    if !have_root() {
        return;
    }
    loss_share("1%", 0.01, "userspace");
}

#[test]
fn loss_10_percent_is_binomial() {
    if !have_root() {
        return;
    }
    loss_share("10%", 0.10, "userspace");
}

#[test]
fn netem_loss_10_percent_is_binomial() {
    if !have_root() || !have_netem() {
        return;
    }
    loss_share("10%", 0.10, "netem");
}

#[test]
fn loss_50_percent_is_binomial() {
    if !have_root() {
        return;
    }
    loss_share("50%", 0.50, "userspace");
}

#[test]
fn the_same_seed_drops_the_same_frames() {
    if !have_root() {
        return;
    }
    let _load = busy();
    let dropped = |seed: u64| {
        let mut lab = lab("impair = { loss = \"10%\", seed = 1 }");
        // Restart the decisions from the seed right before the stream, as a
        // replay does: the frames the lab's own readiness check sent do not
        // shift them.
        lab.reseed_impairment("a", "eth0", Some(seed))
            .expect("reseed");
        missing(&stream(&lab, 5_000, 20_000))
    };
    let first = dropped(42);
    let second = dropped(42);
    let other = dropped(43);
    eprintln!(
        "seed 42: {} dropped, first {:?}; seed 43: {} dropped",
        first.len(),
        &first[..first.len().min(8)],
        other.len()
    );
    assert!(!first.is_empty());
    assert_eq!(first, second, "the same seed dropped other frames");
    assert_ne!(first, other, "another seed dropped the very same frames");
}

#[test]
fn duplication_and_reordering_counted_from_tags() {
    if !have_root() {
        return;
    }
    let _load = busy();
    // 5 ms of delay at 2,000 frames/s: about ten frames are always held, so
    // a frame that skips the delay (reorder) always overtakes some.
    let lab = lab("impair = { delay = \"5ms\", duplicate = \"5%\", reorder = \"10%\", engine = \"userspace\" }");
    let n = 10_000;
    let run = stream(&lab, n, 2_000);
    assert_eq!(
        run.arrivals.len(),
        run.frames.len(),
        "untagged frames arrived"
    );
    let mut seen = std::collections::HashSet::new();
    let dups = run.arrivals.iter().filter(|s| !seen.insert(**s)).count() as u64;
    // A frame came early if one sent before it arrived after it.
    let mut early = 0u64;
    let mut min_after = u64::MAX;
    for &s in run.arrivals.iter().rev() {
        if min_after < s {
            early += 1;
        }
        min_after = min_after.min(s);
    }
    eprintln!("engine: {}", run.engine);
    assert_eq!(dups, run.engine.duplicated);
    judge_share("duplicate 5%", dups, n, 0.05);
    // A frame and its duplicate share their reorder decision; the early
    // ones seen are the frames (and copies) whose decision skipped the delay.
    // Counted per original frame: the test of the share is on `n`.
    let early_frames = {
        let mut firsts = std::collections::HashSet::new();
        let mut min_after = u64::MAX;
        let mut e = 0u64;
        for &s in run.arrivals.iter().rev() {
            if min_after < s && firsts.insert(s) {
                e += 1;
            }
            min_after = min_after.min(s);
        }
        e
    };
    eprintln!("early arrivals {early}, early frames {early_frames}");
    // The first frames find nothing held to overtake: at most 10 of 10,000
    // at 5 ms and 2,000/s, which moves the share by 0.1 point.
    judge_share("reorder 10%", early_frames, n, 0.10);
    assert!(run.engine.reordered > 0);
}

#[test]
fn delay_and_jitter_seen_in_ping_rtts() {
    if !have_root() {
        return;
    }
    delay_and_jitter("userspace");
}

#[test]
fn netem_delay_and_jitter_seen_in_ping_rtts() {
    if !have_root() || !have_netem() {
        return;
    }
    delay_and_jitter("netem");
}

/// With netem the baseline link is netem too (a veth pair with an idle
/// netem qdisc): the same path cost as the impaired link's.
fn delay_and_jitter(engine: &str) {
    let _load = busy();
    // Only a -> b is delayed: the RTT of a ping from a to b is that one-way
    // delay plus the path's own cost, which a ping from a to c over an
    // unimpaired user-space link (same engine, same nodes, same time)
    // measures. No seed: each run draws its own delays.
    //
    // What a busy machine adds: ping's RTT ends at the kernel's receive
    // timestamp, so the pinger's own wakeup does not count; it starts just
    // before the send, in a thread that is running. What remains is the
    // engine thread's lateness in releasing a frame (it runs SCHED_FIFO, so
    // busy loops do not delay it; the test prints whether it got that) and
    // the path's cost, which the baseline carries too.
    let lab = lab_with(
        &format!(
            "[links.impair]\nengine = \"{engine}\"\n[links.impair.\"a:eth0\"]\ndelay = \"20ms\"\njitter = \"5ms\""
        ),
        engine,
    );
    eprintln!("engine: {:?}", lab.impaired_links()[1].info);
    assert_eq!(lab.impaired_links()[1].info.engine, engine);
    let opts = PingOptions {
        count: 200,
        interval: Duration::from_millis(10),
        timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(20),
        ..Default::default()
    };
    let (imp, base) = std::thread::scope(|s| {
        let imp = s.spawn(|| {
            lab.run_in("a", || {
                netrig_wire::ping("192.0.2.2".parse().expect("ip"), &opts)
            })
            .expect("enter a")
            .expect("ping b")
        });
        let base = s.spawn(|| {
            lab.run_in("a", || {
                netrig_wire::ping("198.51.100.2".parse().expect("ip"), &opts)
            })
            .expect("enter a")
            .expect("ping c")
        });
        (imp.join().expect("ping b"), base.join().expect("ping c"))
    });
    assert!(imp.all_answered() && base.all_answered(), "{imp}\n{base}");
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let a: Vec<f64> = imp.rtts.iter().map(ms).collect();
    let b: Vec<f64> = base.rtts.iter().map(ms).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
    };
    let min = a.iter().copied().fold(f64::MAX, f64::min);
    eprintln!(
        "impaired: {imp}\nbaseline: {base}\nmean {:.3} ms vs baseline {:.3} ms",
        mean(&a),
        mean(&b)
    );
    // 1. A frame never leaves before its time: every RTT is at least the
    // smallest delay the uniform jitter allows. Exact, whatever the load.
    assert!(min >= 15.0, "an RTT of {min:.3} ms is below 20 ms - 5 ms");
    // 2. The delay added is 20 ms on average: the mean RTT exceeds the
    // baseline's by 20 ms, judged with a two-sample z-test at alpha (200
    // samples each; uniform jitter has mean zero). The path's cost is in
    // both samples alike, as both pings run side by side; the engine's
    // release lateness is not in the baseline, and is an error of the link
    // the test should see.
    let se = (var(&a) / a.len() as f64 + var(&b) / b.len() as f64).sqrt();
    let z = norm_ppf(1.0 - ALPHA / 2.0);
    let added = mean(&a) - mean(&b);
    eprintln!(
        "added {added:.3} ms, accepted 20 ± {:.3} ms (z {z:.2} x se {se:.3})",
        z * se
    );
    assert!(
        (added - 20.0).abs() <= z * se,
        "the link added {added:.3} ms on average, not 20 ms (accepted ± {:.3} ms)",
        z * se
    );
    // 3. The jitter spreads it: with no jitter no RTT could be below 20 ms.
    // With it, 40% of delays are below 19 ms; an RTT stays below 19 ms
    // unless the path's own cost that time exceeds the margin. Failing by
    // chance needs none of 200 RTTs there: (1 - 0.4 q)^200, q the share of
    // baseline RTTs under 1 ms (printed), below 1e-6 for q >= 0.17.
    let q = b.iter().filter(|&&x| x < 1.0).count() as f64 / b.len() as f64;
    let below = a.iter().filter(|&&x| x < 19.0).count();
    eprintln!(
        "{below} RTTs below 19 ms; {:.0}% of baseline RTTs under 1 ms",
        q * 100.0
    );
    assert!(
        q >= 0.17,
        "the path's own cost is above 1 ms too often ({:.0}%) to judge the spread",
        q * 100.0
    );
    assert!(
        below > 0,
        "no RTT below 19 ms: the jitter does not spread the delay"
    );
}

#[test]
fn netem_is_used_where_the_kernel_has_it_and_refused_with_the_reason_where_not() {
    if !have_root() {
        return;
    }
    let build = |impair: &str| {
        let topo = netrig_spec::parse_topology(
            "netem.toml",
            &format!("[nodes.a]\n[nodes.b]\n[[links]]\nends = [\"a 192.0.2.1/24\", \"b 192.0.2.2/24\"]\nimpair = {{ {impair} }}\n"),
        )
        .expect("valid");
        Lab::build(&topo, &BuildOptions::default())
    };
    // The root qdisc of a:eth0, read back from the kernel.
    let qdisc = |lab: &Lab| {
        lab.run_in("a", || {
            netrig_lab::netlink::Netlink::open()
                .expect("netlink")
                .links()
                .expect("links")
                .into_iter()
                .find(|l| l.name == "eth0")
                .and_then(|l| l.qdisc)
        })
        .expect("enter a")
    };
    let forced = build("delay = \"10ms\", engine = \"netem\"");
    let auto = build("delay = \"10ms\"").expect("auto builds");
    let info = &auto.impaired_links()[0].info;
    eprintln!("auto: {info:?}, qdisc {:?}", qdisc(&auto));
    match forced {
        // A kernel without netem (this project's): refused with the reason,
        // and asked for nothing in particular the same link uses netrig's
        // engine and says why.
        Err(netrig_lab::LabError::EngineUnavailable { reason, .. }) => {
            eprintln!("refused: {reason}");
            assert!(reason.contains("has no netem"), "{reason}");
            assert_eq!(info.engine, "userspace");
            assert!(info.why.contains("no netem"), "{}", info.why);
        }
        Err(e) => panic!("refused for another reason: {e}"),
        // A kernel with netem: both use it, as the kernel shows.
        Ok(lab) => {
            assert_eq!(lab.impaired_links()[0].info.engine, "netem");
            assert_eq!(qdisc(&lab).as_deref(), Some("netem"));
            assert_eq!(info.engine, "netem");
            assert_eq!(qdisc(&auto).as_deref(), Some("netem"));
            // A seed asks for netrig's replayable engine.
            let seeded = build("delay = \"10ms\", seed = 7").expect("seeded builds");
            assert_eq!(seeded.impaired_links()[0].info.engine, "userspace");
        }
    }
}

#[test]
fn netrig_run_skips_a_case_whose_link_needs_netem_and_runs_it_otherwise() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("impair-run");
    let case = |engine: &str| {
        format!(
            r#"[nodes.a]
[nodes.b]
[[links]]
ends = ["a:eth0 192.0.2.1/24", "b:eth0 192.0.2.2/24"]
impair = {{ delay = "10ms", engine = "{engine}" }}

[[steps]]
ping = {{ from = "a", to = "192.0.2.2", count = 3 }}
"#
        )
    };
    scratch.write("suite/netem.toml", &case("netem"));
    scratch.write("suite/auto.toml", &case("auto"));
    let (code, report, out) = run_json(&["suite"], &scratch.0);
    assert_eq!(code, 0, "{out}");
    let netem = &report["cases"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["name"].as_str().is_some_and(|n| n.contains("netem")))
        })
        .unwrap_or_else(|| panic!("{report:#}"));
    eprintln!("netem case: {} {}", netem["state"], netem["reason"]);
    let auto = &report["cases"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["name"].as_str().is_some_and(|n| n.contains("auto")))
        })
        .unwrap_or_else(|| panic!("{report:#}"));
    // A kernel without netem: a skip that says why; with netem, both run
    // on it.
    let netem_here = have_netem();
    let imp = auto["impaired"][0].as_str().unwrap_or_default();
    if netem_here {
        assert_eq!(netem["state"], "pass", "{netem:#}");
        assert!(
            imp.starts_with("a:eth0 <-> b:eth0: engine netem"),
            "{auto:#}"
        );
    } else {
        assert_eq!(netem["state"], "skip", "{netem:#}");
        let why = netem["reason"].as_str().unwrap_or_default();
        assert!(
            why.contains("engine = \"netem\" asked for, but this kernel has no netem"),
            "the skip does not say why: {netem:#}"
        );
        assert!(
            imp.starts_with("a:eth0 <-> b:eth0: engine userspace"),
            "{auto:#}"
        );
    }
    assert_eq!(auto["state"], "pass", "{auto:#}");
    // The seed the case drew is in its result, to replay it.
    assert!(imp.contains(", seed "), "{auto:#}");
}

/// Runs `netrig down` however the test ends.
struct Down(String);
impl Drop for Down {
    fn drop(&mut self) {
        let _ = netrig(&["down", &self.0], Path::new("/"));
    }
}

#[test]
fn netrig_link_reads_a_persistent_labs_counters_from_its_holder() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("impair-up");
    let name = format!("imp{}", std::process::id() % 100000);
    let f = scratch.write(
        "imp.toml",
        "[nodes.r1]\n[nodes.h2]\n[[links]]\nends = [\"r1:eth1 198.51.100.1/24\", \"h2:eth0 198.51.100.2/24\"]\n[links.impair]\ndelay = \"5ms\"\nseed = 42\n[links.impair.\"h2:eth0\"]\nloss = \"50%\"\n",
    );
    let o = netrig(
        &["up", &f.display().to_string(), "--name", &name],
        &scratch.0,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let _down = Down(name.clone());
    let json = |end: &str| {
        let o = netrig(&["link", &name, end, "--json"], &scratch.0);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json")
    };
    let before = json("r1:eth1");
    let o = netrig(
        &[
            "ping",
            &name,
            "r1",
            "198.51.100.2",
            "-c",
            "40",
            "-i",
            "10ms",
        ],
        &scratch.0,
    );
    eprintln!("{}", text(&o));
    let after = json("r1:eth1");
    let n = |v: &serde_json::Value, dir: &str, k: &str| v[dir][k].as_u64().unwrap_or(0);
    assert_eq!(after["seed"], 42);
    assert_eq!(after["engine"], "userspace");
    assert_eq!(after["peer"], "h2:eth0");
    // 40 requests went r1 -> h2 (delayed, none lost that way), and the
    // replies that came back lost about half on h2 -> r1.
    assert!(n(&after, "sent", "sent") - n(&before, "sent", "sent") >= 40);
    assert_eq!(n(&after, "sent", "dropped_loss"), 0);
    assert!(n(&after, "sent", "delayed") >= 40);
    assert!(n(&after, "received", "dropped_loss") > 0, "{after:#}");
    // Seen from the other end, the directions swap.
    let other = json("h2:eth0");
    assert_eq!(other["sent"], after["received"]);
    // Not an impaired end: exit 2 with the ends that are.
    let o = netrig(&["link", &name, "h2:eth9"], &scratch.0);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("r1:eth1, h2:eth0"), "{}", text(&o));
}

#[test]
fn corruption_flips_bits_the_checksums_catch() {
    if !have_root() {
        return;
    }
    let _load = busy();
    let lab = lab("impair = { corrupt = \"10%\", engine = \"userspace\" }");
    let n = 10_000;
    let run = stream(&lab, n, 20_000);
    // One flipped bit after the Ethernet header is always caught by the IPv4
    // header checksum or the UDP one (the frames have no padding), or leaves
    // a header that cannot be checked at all: either way not intact.
    let bad = run
        .frames
        .iter()
        .filter(|f| {
            let c = netrig_wire::verify_checksums(f);
            !(c.ipv4_header == Some(true) && c.transport == Some(true))
        })
        .count() as u64;
    eprintln!("engine: {}", run.engine);
    assert_eq!(
        bad, run.engine.corrupted,
        "the capture and the engine disagree"
    );
    judge_share("corrupt 10%", bad, run.engine.delivered, 0.10);
}

#[test]
fn gilbert_elliott_loses_in_bursts_of_the_configured_length() {
    if !have_root() {
        return;
    }
    let _load = busy();
    // Good -> bad with 2% per frame, bad -> good with 25%: every frame of a
    // bad stay is lost, so bursts are geometric with mean 1/r = 4 frames.
    let lab = lab("impair = { gilbert = { p = \"2%\", r = \"25%\" }, engine = \"userspace\" }");
    let n = 40_000;
    let run = stream(&lab, n, 40_000);
    let lost = missing(&run);
    assert_eq!(lost.len() as u64, run.engine.dropped_loss);
    let mut bursts: Vec<u64> = Vec::new();
    for (i, s) in lost.iter().enumerate() {
        if i > 0 && lost[i - 1] + 1 == *s {
            if let Some(b) = bursts.last_mut() {
                *b += 1;
            }
        } else {
            bursts.push(1);
        }
    }
    // A burst is one stay in the bad state (a good frame ends it), so the
    // lengths are independent geometric draws: their mean is judged with a
    // z-test at alpha (the first burst may be cut by the stream's start).
    let k = bursts.len() as f64;
    let mean = bursts.iter().sum::<u64>() as f64 / k;
    let r: f64 = 0.25;
    let sd = (1.0 - r).sqrt() / r;
    let z = norm_ppf(1.0 - ALPHA / 2.0);
    let half = z * sd / k.sqrt();
    eprintln!(
        "{} lost in {k} bursts, mean burst {mean:.3} frames, accepted {:.1} ± {half:.3}",
        lost.len(),
        1.0 / r
    );
    assert!(
        (mean - 1.0 / r).abs() <= half,
        "mean burst {mean:.3} is not 1/r = {}",
        1.0 / r
    );
    // Independent losses at the same share would make bursts of ~1.09.
    assert!(mean > 2.0);
}

#[test]
fn rate_10mbit_seen_in_a_tcp_transfer() {
    if !have_root() {
        return;
    }
    rate_10mbit("userspace");
}

#[test]
fn netem_rate_10mbit_seen_in_a_tcp_transfer() {
    if !have_root() || !have_netem() {
        return;
    }
    rate_10mbit("netem");
}

fn rate_10mbit(engine: &str) {
    let _load = busy();
    let lab = lab(&format!(
        "[links.impair]\nengine = \"{engine}\"\n[links.impair.\"a:eth0\"]\nrate = \"10mbit\""
    ));
    assert_eq!(lab.impaired_links()[1].info.engine, engine);
    // 3 MB: 2.4 s at 10 Mbit/s.
    const BYTES: usize = 3_000_000;
    let listener = lab
        .run_in("b", || std::net::TcpListener::bind("192.0.2.2:5201"))
        .expect("enter b")
        .expect("listen");
    let (first, last, got) = std::thread::scope(|s| {
        let server = s.spawn(|| {
            use std::io::Read;
            let (mut c, _) = listener.accept().expect("accept");
            let mut buf = vec![0u8; 1 << 16];
            let mut got = 0usize;
            let mut first = None;
            let mut last = std::time::Instant::now();
            loop {
                let n = c.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                let now = std::time::Instant::now();
                if first.is_none() {
                    first = Some((now, n));
                }
                last = now;
                got += n;
            }
            (first, last, got)
        });
        let mut c = lab
            .run_in("a", || std::net::TcpStream::connect("192.0.2.2:5201"))
            .expect("enter a")
            .expect("connect");
        use std::io::Write;
        c.write_all(&vec![0x5a; BYTES]).expect("send");
        drop(c);
        server.join().expect("server")
    });
    let (t0, first_n) = first.expect("data arrived");
    assert_eq!(got, BYTES);
    // Goodput between the first and the last read: what arrived after the
    // first read, over the time in between.
    let secs = (last - t0).as_secs_f64();
    let goodput = (got - first_n) as f64 * 8.0 / secs;
    // On the wire each 1448-byte segment is a 1514-byte frame (Ethernet,
    // IPv4, TCP with timestamps); the engine counts frame bytes.
    let line = 10e6 * 1448.0 / 1514.0;
    eprintln!(
        "goodput {:.3} Mbit/s over {secs:.2} s; the line allows {:.3} Mbit/s of goodput",
        goodput / 1e6,
        line / 1e6
    );
    // Above the line rate is impossible: the serialiser releases no frame
    // before the previous one's time has passed (one frame of slack for the
    // first read's timing).
    assert!(
        goodput <= line * 1.01,
        "goodput {goodput:.0} bit/s exceeds the {line:.0} the rate allows"
    );
    // Below it only if the queue ran dry: TCP keeps up to `limit` (1000)
    // frames, 1.2 s of line time, queued; the sender would need to stall
    // that long. 90% allows for slow start at the beginning (a few RTTs of
    // under a millisecond) and one loss recovery at the queue's tail.
    assert!(
        goodput >= line * 0.90,
        "goodput {goodput:.0} bit/s is far below the {line:.0} the rate allows"
    );
}

/// Two nodes with one link that netrig's engine carries unimpaired until a
/// step or `netrig link --set` changes it; IPv4 only, static neighbours, so
/// that only the test's pings cross it.
const CHANGEABLE: &str = r#"[nodes.a]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[nodes.b]
sysctl = { "net.ipv6.conf.all.disable_ipv6" = 1 }
[[links]]
ends = ["a:eth0 192.0.2.1/24 mac=02:00:00:00:00:0a", "b:eth0 192.0.2.2/24 mac=02:00:00:00:00:0b"]
impair = { engine = "userspace", seed = 5 }
[[neighbors]]
node = "a"
dev = "eth0"
addr = "192.0.2.2"
mac = "02:00:00:00:00:0b"
[[neighbors]]
node = "b"
dev = "eth0"
addr = "192.0.2.1"
mac = "02:00:00:00:00:0a"
"#;

#[test]
fn an_impair_step_takes_the_loss_from_0_to_100_percent_mid_case() {
    if !have_root() {
        return;
    }
    impair_step_loss_0_100_0("userspace");
}

#[test]
fn an_impair_step_changes_a_netem_link_mid_case() {
    if !have_root() || !have_netem() {
        return;
    }
    impair_step_loss_0_100_0("netem");
}

/// CHANGEABLE with its link on `engine`.
fn changeable(engine: &str) -> String {
    if engine == "netem" {
        CHANGEABLE.replace(
            "impair = { engine = \"userspace\", seed = 5 }",
            "impair = { engine = \"netem\" }",
        )
    } else {
        CHANGEABLE.to_string()
    }
}

fn impair_step_loss_0_100_0(engine: &str) {
    let _load = busy();
    let scratch = Scratch::new("impair-step");
    // The engine decides on the frames it reads after the step returns, so
    // the bounds are exact: nothing lost before the change, everything
    // lost after it, nothing lost once cleared. Sent counts are lower
    // bounds: a stray frame of the node's own (seen once in 20 runs under
    // load: b sent one) may cross too.
    let steps = r#"
[[steps]]
counters = { node = "a", iface = "eth0", save = "s0" }
[[steps]]
ping = { from = "a", to = "192.0.2.2", count = 20 }
[[steps]]
counters = { node = "a", iface = "eth0", since = "s0", save = "s1" }
expect = { min = { impair_sent = 20, impair_delivered = 20 }, max = { impair_lost = 0 } }
[[steps]]
impair = { from = "a:eth0", loss = "100%" }
[[steps]]
ping = { from = "a", to = "192.0.2.2", count = 20 }
expect = { reachable = false }
[[steps]]
counters = { node = "a", iface = "eth0", since = "s1", save = "s2" }
expect = { min = { impair_sent = 20, impair_lost = 20 }, max = { impair_delivered = 0 } }
[[steps]]
impair = { link = "a:eth0" }
[[steps]]
ping = { from = "a", to = "192.0.2.2", count = 20 }
[[steps]]
counters = { node = "a", iface = "eth0", since = "s2" }
expect = { min = { impair_sent = 20, impair_delivered = 20 }, max = { impair_lost = 0 } }
[[steps]]
counters = { node = "a", iface = "eth0", since = "s0" }
expect = { min = { impair_sent = 60, impair_delivered = 40, impair_lost = 20 } }
"#;
    scratch.write(
        "suite/change.toml",
        &format!("{}{steps}", changeable(engine)),
    );
    let (code, report, out) = run_json(&["suite"], &scratch.0);
    let case = &report["cases"][0];
    assert_eq!(code, 0, "{out}\n{case:#}");
    assert_eq!(case["state"], "pass", "{case:#}");
    let imp = case["impaired"][0].as_str().unwrap_or_default();
    assert!(imp.contains(&format!("engine {engine}")), "{case:#}");
}

#[test]
fn netrig_link_set_changes_a_persistent_labs_delay_seen_in_ping_rtts() {
    if !have_root() {
        return;
    }
    link_set_changes_delay("userspace");
}

#[test]
fn netrig_link_set_changes_a_persistent_netem_labs_delay_seen_in_ping_rtts() {
    if !have_root() || !have_netem() {
        return;
    }
    link_set_changes_delay("netem");
}

/// `netrig link --set` on a persistent lab whose link uses `engine`; its
/// counters read through `netrig link --json` (from the holder's memory,
/// or for netem from the qdiscs, inside the nodes' namespaces).
fn link_set_changes_delay(engine: &str) {
    let _load = busy();
    let scratch = Scratch::new("impair-set");
    let name = format!("set{}", std::process::id() % 100000);
    let f = scratch.write("set.toml", &changeable(engine));
    let o = netrig(
        &["up", &f.display().to_string(), "--name", &name],
        &scratch.0,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let _down = Down(name.clone());
    // RTTs of 20 pings a -> b, in ms.
    let rtts = || {
        let o = netrig(
            &["ping", &name, "a", "192.0.2.2", "-c", "20", "-i", "10ms"],
            &scratch.0,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: Vec<f64> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split("time=").nth(1)?.strip_suffix(" ms")?.parse().ok())
            .collect();
        assert_eq!(v.len(), 20, "{}", text(&o));
        let min = v.iter().copied().fold(f64::MAX, f64::min);
        eprintln!("RTT min {min:.3} ms, all {v:.1?}");
        min
    };
    let set = |args: &[&str]| {
        let mut a = vec!["link", name.as_str(), "a:eth0"];
        a.extend_from_slice(args);
        let o = netrig(&a, &scratch.0);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let sent = || {
        let o = netrig(&["link", &name, "a:eth0", "--json"], &scratch.0);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(v["engine"], engine, "{v:#}");
        v["sent"]["sent"].as_u64().unwrap_or(0)
    };
    let base = rtts();
    // A frame never leaves before its time: with 30 ms each way, every RTT
    // is at least 60 ms, whatever the load. Without the change none is.
    let shown = set(&["--set", "delay=30ms"]);
    assert!(shown.contains("(now: delay 30ms"), "{shown}");
    assert_eq!(
        shown.contains("netem counts only sent, delivered and lost"),
        engine == "netem",
        "{shown}"
    );
    let slow = rtts();
    assert!(slow >= 60.0, "RTT {slow:.3} ms under 2 x 30 ms");
    // Only what a:eth0 sends: 10 ms there, 30 ms back. Every RTT is at
    // least 40 ms; one of 20 at 60 ms or more would mean the change did not
    // take (the path's own cost is under a millisecond: `base`).
    set(&["--from", "--set", "delay=10ms"]);
    let mixed = rtts();
    assert!(
        (40.0..60.0).contains(&mixed),
        "RTT {mixed:.3} ms, not 10 + 30 ms (baseline {base:.3} ms)"
    );
    let before_clear = sent();
    let shown = set(&["--clear"]);
    assert!(shown.contains("(now: unimpaired)"), "{shown}");
    let clear = rtts();
    assert!(
        clear < 10.0,
        "RTT {clear:.3} ms after --clear (baseline {base:.3} ms)"
    );
    // The counters went on across the changes: 80 requests at least.
    assert!(before_clear >= 60 && sent() >= before_clear + 20);
    // A bad value is refused with where it is, and changes nothing.
    let o = netrig(
        &["link", &name, "a:eth0", "--set", "delay=30ms,loss=110%"],
        &scratch.0,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--set:1:"), "{}", text(&o));
    assert!(rtts() < 10.0);
}

#[test]
fn a_netem_link_changes_at_run_time_and_counts_what_it_dropped() {
    if !have_root() || !have_netem() {
        return;
    }
    let lab = lab("impair = { engine = \"netem\" }");
    assert_eq!(lab.impaired_links()[1].info.engine, "netem");
    let clean = stream(&lab, 500, 10_000);
    assert!(missing(&clean).is_empty(), "{}", clean.engine);
    let all = netrig_spec::Impairment {
        loss: netrig_spec::Loss::Random(1.0),
        ..Default::default()
    };
    lab.set_impairment("a", "eth0", Some(&all), None)
        .expect("change the netem qdisc");
    assert_eq!(
        lab.impairment_model("a", "eth0").expect("model")[0].loss,
        all.loss
    );
    let lossy = stream(&lab, 500, 10_000);
    assert_eq!(missing(&lossy).len(), 500, "{}", lossy.engine);
    assert_eq!(lossy.engine.dropped_loss, 500, "{}", lossy.engine);
    // Uniform jitter by a change goes as a delay table: the kernel takes it.
    let jittery = netrig_spec::Impairment {
        delay: Duration::from_millis(2),
        jitter: Duration::from_millis(1),
        ..Default::default()
    };
    lab.set_impairment("a", "eth0", Some(&jittery), None)
        .expect("jitter on the netem qdisc");
    let late = stream(&lab, 200, 10_000);
    assert!(missing(&late).is_empty(), "{}", late.engine);
    // Back to clean: the change must reset the loss, not keep it.
    lab.set_impairment("a", "eth0", Some(&Default::default()), None)
        .expect("clear the netem qdisc");
    let again = stream(&lab, 500, 10_000);
    assert!(missing(&again).is_empty(), "{}", again.engine);
}

#[test]
fn a_bound_on_a_counter_netem_does_not_keep_is_broken_not_judged() {
    if !have_root() || !have_netem() {
        return;
    }
    let scratch = Scratch::new("impair-netem-counters");
    // netem delays every frame but does not count delayed frames: a bound
    // on impair_delayed reads 0 there, which must not pass or fail.
    let steps = r#"
[[steps]]
impair = { link = "a:eth0", delay = "5ms" }
[[steps]]
ping = { from = "a", to = "192.0.2.2", count = 5 }
[[steps]]
counters = { node = "a", iface = "eth0" }
expect = { min = { impair_sent = 5, impair_delivered = 5 } }
[[steps]]
counters = { node = "a", iface = "eth0" }
expect = { min = { impair_delayed = 5 } }
"#;
    scratch.write(
        "suite/delayed.toml",
        &format!("{}{steps}", changeable("netem")),
    );
    let (code, report, out) = run_json(&["suite"], &scratch.0);
    let case = &report["cases"][0];
    eprintln!("{case:#}");
    assert_eq!(code, 3, "{out}\n{case:#}");
    assert_eq!(case["state"], "broken", "{case:#}");
    assert!(
        case.to_string()
            .contains("impair_delayed is not counted by netem"),
        "{case:#}"
    );
}
