//! The seed's multipath VIP suite (examples/multipath-vip), whole: ping, UDP
//! split for 1:1, 2:1 and 11:45 in both families, TCP connections, FIB
//! lookups per packet, and the deliberately broken configurations. Prints the
//! suite's wall time beside the time the seed's own pacing would take.
//!
//! `cargo bench -p netrig-run --bench mpvip` (as root; rootless with
//! NETRIG_ROOTLESS=1 skips the tracepoint cases). This binary is also its own
//! case process, as `netrig` is: the runner re-executes it as `mpvip __case DIR`.

use netrig_run::{discover, run, Event, RunOptions, State};
use std::path::Path;
use std::time::Instant;

/// What router_multipath_vip.sh does per multipath case: 32,769 UDP flows
/// (`dp=0-32768`) paced at 1 ms each, for six cases (three weights, two
/// families), after about 36 s of setup (measured on the seed script).
const SEED_FLOWS: f64 = 32_769.0;
const SEED_CASES: f64 = 6.0;
const SEED_SETUP_S: f64 = 36.0;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__case") {
        let dir = args.get(2).map(String::as_str).unwrap_or(".");
        std::process::exit(netrig_run::case::case_main(Path::new(dir)));
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find this binary: {e}");
            std::process::exit(2);
        }
    };
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/multipath-vip");
    let cases = match discover(std::slice::from_ref(&suite)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{} problems in {}", e.len(), suite.display());
            std::process::exit(2);
        }
    };
    let tmp = std::env::temp_dir().join(format!("netrig-bench-mpvip-{}", std::process::id()));
    let mode = netrig_lab::ns::wanted_mode();
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let opts = RunOptions {
        exe,
        jobs,
        repeat: 1,
        retries: 0,
        fail_fast: false,
        pause_on_fail: false,
        results: tmp.join("results"),
        tag: "mpvip".into(),
        mode,
    };
    let n = cases.len();
    let t = Instant::now();
    let report = run(cases, &opts, &mut |_: Event| {});
    let wall = t.elapsed().as_secs_f64();
    let count = |s: State| report.cases.iter().filter(|c| c.state == s).count();
    // Packets and connections the suite sent, from its steps' own words
    // ("sent N packets", "N probes").
    let mut sent = 0u64;
    for s in report.cases.iter().flat_map(|c| c.subtests.iter()) {
        let first = s.message.lines().next().unwrap_or("");
        let num = |t: Option<&str>| t.and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        if let Some(rest) = first.strip_prefix("sent ") {
            sent += num(rest.split_whitespace().next());
        } else if let Some((head, _)) = first.split_once(" probes:") {
            sent += num(head.split_whitespace().last());
        }
    }
    let seed_pacing = SEED_CASES * SEED_FLOWS * 1e-3;
    let seed_total = seed_pacing + SEED_SETUP_S;
    println!(
        "multipath-vip suite: {n} cases in {wall:.2} s (-j{jobs}, {mode} mode): {} passed, {} xfail (broken configurations failing as expected), {} skipped, {} failed, {} broken, {} timed out",
        count(State::Pass),
        count(State::Xfail),
        count(State::Skip),
        count(State::Fail),
        count(State::Broken),
        count(State::Timeout)
    );
    println!(
        "  seed pacing: {SEED_CASES} cases x {SEED_FLOWS} packets x 1 ms = {seed_pacing:.1} s (+ {SEED_SETUP_S} s setup = {seed_total:.1} s); this suite: {wall:.2} s, {:.0}x faster than the pacing alone, {:.0}x faster than the seed run",
        seed_pacing / wall,
        seed_total / wall
    );
    println!(
        "  this suite sent {sent} packets/connections; at the seed's 1 ms each they alone would take {:.1} s",
        sent as f64 * 1e-3
    );
    println!(
        "  target (whole suite, both families, all weights) under 10 s: {}",
        if wall < 10.0 { "met" } else { "NOT met" }
    );
    let _ = std::fs::remove_dir_all(&tmp);
    if report.cases.iter().any(|c| !c.state.ok()) {
        for c in report.cases.iter().filter(|c| !c.state.ok()) {
            eprintln!("  {} {}: {}", c.state, c.name, c.reason);
        }
        std::process::exit(1);
    }
}
