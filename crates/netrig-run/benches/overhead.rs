//! Runner overhead: 200 trivial cases, each with its own two-node lab, run
//! serially and with -j2. Prints the per-case cost and the speedup.
//!
//! `cargo bench -p netrig-run --bench overhead` (as root, or rootless with
//! NETRIG_ROOTLESS=1). This binary is also its own case process: the runner
//! re-executes it as `overhead __case DIR`, exactly as `netrig` does.

use netrig_run::{discover, run, Event, RunOptions, State};
use std::path::Path;
use std::time::Instant;

const CASES: usize = 200;

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
    let tmp = std::env::temp_dir().join(format!("netrig-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);
    let values: Vec<String> = (0..CASES).map(|i| i.to_string()).collect();
    let scenario = format!(
        "name = \"trivial\"\ntimeout = \"30s\"\nvariants = {{ i = [{}] }}\n\
         [nodes.a]\n[nodes.b]\n[[links]]\nends = [\"a:eth0 192.0.2.1/24\", \"b:eth0 192.0.2.2/24\"]\n\
         [[steps]]\nnode = \"a\"\nrun = \"true\"\n",
        values.join(", ")
    );
    let file = tmp.join("trivial.toml");
    if let Err(e) = std::fs::write(&file, scenario) {
        eprintln!("writing {}: {e}", file.display());
        std::process::exit(2);
    }
    let cases = match discover(&[file]) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{} problems in the bench scenario", e.len());
            std::process::exit(2);
        }
    };
    let mode = netrig_lab::ns::wanted_mode();
    let measure = |jobs: usize| {
        let opts = RunOptions {
            exe: exe.clone(),
            jobs,
            repeat: 1,
            retries: 0,
            fail_fast: false,
            pause_on_fail: false,
            results: tmp.join("results"),
            tag: format!("j{jobs}"),
            mode,
        };
        let t = Instant::now();
        let busy0 = busy_cpu_seconds();
        let report = run(cases.clone(), &opts, &mut |_: Event| {});
        let wall = t.elapsed().as_secs_f64();
        let cores = (busy_cpu_seconds() - busy0) / wall;
        let passed = report
            .cases
            .iter()
            .filter(|c| c.state == State::Pass)
            .count();
        let step: f64 = report
            .cases
            .iter()
            .flat_map(|c| c.subtests.iter())
            .map(|s| s.duration_s)
            .sum();
        (wall, passed, step / CASES as f64, cores)
    };
    println!(
        "netrig-run overhead: {CASES} cases, two-node lab each, step `run = \"true\"`, {mode} mode"
    );
    let (serial, p1, step1, c1) = measure(1);
    let (par, p2, _, c2) = measure(2);
    let per_case = serial / CASES as f64 * 1e3;
    println!("  -j1: {serial:.2} s total, {per_case:.2} ms per case ({p1}/{CASES} passed), machine busy {c1:.2} cores");
    println!(
        "       of which the step itself: {:.2} ms; overhead (exec, namespaces, lab, teardown, result): {:.2} ms per case",
        step1 * 1e3,
        per_case - step1 * 1e3
    );
    println!(
        "  -j2: {par:.2} s total, {:.2} ms per case ({p2}/{CASES} passed), machine busy {c2:.2} cores",
        par / CASES as f64 * 1e3
    );
    println!("  speedup -j2 vs -j1: {:.2}x", serial / par);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// CPU seconds the whole machine spent busy (all processes and kernel
/// threads, e.g. the workqueue that tears namespaces down), from /proc/stat.
fn busy_cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = text.lines().next() else {
        return 0.0;
    };
    let v: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: busy = all - idle - iowait.
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (total - idle) / hz.max(1.0)
}
