//! Executing scenario steps inside a case process. Every step returns a
//! [`SubResult`]; expectations are checked here, statistical ones through
//! netrig-judge so that the verdict (with its error bound) lands in the report.

use crate::observe::verdict_ring;
use crate::procs::{host_command, tail, Proc};
use crate::result::{State, SubResult};
use crate::verdicts::{broken, skip, PathCapture, Problem, StepOut};
use netrig_lab::{Lab, LinkStats};
use netrig_spec::expect::IfacePath;
use netrig_spec::scenario::{Step, StepKind};
use netrig_wire::perf::TracepointCounter;
use netrig_wire::{Capture, CaptureOptions, PerfError, ProbeServerHandle};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long daemons have between SIGTERM and SIGKILL at teardown.
pub const TERM_GRACE: Duration = Duration::from_secs(2);

/// Default bound for steps that wait (wait_port, wait_log) without a `timeout`.
pub(super) const WAIT_DEFAULT: Duration = Duration::from_secs(10);

/// Everything a case has started or saved, torn down in [`Ctx::teardown`].
pub struct Ctx {
    pub lab: Option<Lab>,
    pub dir: PathBuf,
    pub t0: Instant,
    pub procs: Vec<Proc>,
    pub daemons: Vec<Proc>,
    /// Daemons whose end is no failure (`may_exit`, or signalled by a step).
    may_exit: HashSet<String>,
    /// Counter sets `counters` steps saved, by name (absolute values).
    saved: HashMap<String, BTreeMap<&'static str, u64>>,
    servers: Vec<(String, ProbeServerHandle)>,
    /// `capture` steps' captures, each with whether to keep it anyway.
    captures: Vec<(String, Capture, bool)>,
    pub warnings: Vec<String>,
    /// Ring geometry of the captures traffic verdicts use.
    pub capture_ring: CaptureOptions,
    /// Environment of every process the case starts (NETRIG_CASE_DIR,
    /// NETRIG_LAB, ...); each also gets NETRIG_NODE, its node.
    pub env: Vec<(String, String)>,
    /// Where processes start unless told otherwise (the scenario's folder).
    pub workdir: Option<PathBuf>,
}

impl Ctx {
    pub fn new(lab: Option<Lab>, dir: PathBuf, t0: Instant) -> Ctx {
        let (capture_ring, ring_warning) = match verdict_ring() {
            Ok(r) => (r, None),
            Err(e) => (CaptureOptions::default(), Some(e)),
        };
        Ctx {
            lab,
            dir,
            t0,
            procs: Vec::new(),
            daemons: Vec::new(),
            may_exit: HashSet::new(),
            saved: HashMap::new(),
            servers: Vec::new(),
            captures: Vec::new(),
            warnings: ring_warning.into_iter().collect(),
            capture_ring,
            env: Vec::new(),
            workdir: None,
        }
    }

    fn lab(&self) -> Result<&Lab, Problem> {
        self.lab
            .as_ref()
            .ok_or_else(|| broken("this step needs a lab"))
    }

    fn lab_mut(&mut self) -> Result<&mut Lab, Problem> {
        self.lab
            .as_mut()
            .ok_or_else(|| broken("this step needs a lab"))
    }

    /// Run `f` in `node` (or right here when there is no node).
    fn in_node<T>(&self, node: Option<&str>, f: impl FnOnce() -> T) -> Result<T, Problem> {
        match node {
            None => Ok(f()),
            Some(n) => self.lab()?.run_in(n, f).map_err(|e| broken(e.to_string())),
        }
    }

    /// Start `program args` in `node` (or the case's own namespace), with the
    /// case's environment and in its working folder.
    pub fn start(
        &mut self,
        node: Option<&str>,
        name: &str,
        program: &str,
        args: &[&str],
    ) -> Result<Proc, String> {
        self.start_with(node, name, program, args, false)
    }

    /// [`Ctx::start`] for a daemon, the system under test: with its core
    /// limit raised, so that a crash leaves a core to debug.
    pub fn start_daemon(
        &mut self,
        node: Option<&str>,
        name: &str,
        program: &str,
        args: &[&str],
    ) -> Result<Proc, String> {
        self.start_with(node, name, program, args, true)
    }

    fn start_with(
        &mut self,
        node: Option<&str>,
        name: &str,
        program: &str,
        args: &[&str],
        raise_core: bool,
    ) -> Result<Proc, String> {
        let mut cmd = match (node, &self.lab) {
            (Some(n), Some(lab)) => lab.command(n, program).map_err(|e| e.to_string())?,
            _ => host_command(program),
        };
        if raise_core {
            // SAFETY: setrlimit/getrlimit are async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    crate::coredump::raise_core_limit();
                    Ok(())
                });
            }
        }
        cmd.args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let (Some(n), Some(_)) = (node, &self.lab) {
            cmd.env("NETRIG_NODE", n);
        }
        if let Some(d) = &self.workdir {
            cmd.current_dir(d);
        }
        let shown = if args.first() == Some(&"-c") {
            args[1..].join(" ")
        } else {
            std::iter::once(program)
                .chain(args.iter().copied())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let lab = &mut self.lab;
        let spawn = |c: &mut std::process::Command| match (node, lab.as_mut()) {
            (Some(n), Some(lab)) => lab.spawn(n, c).map_err(std::io::Error::other),
            _ => c.spawn(),
        };
        Proc::spawn(cmd, spawn, name, node, &shown, &self.dir, self.t0)
            .map_err(|e| format!("starting `{shown}`: {e}"))
    }

    pub fn exec_step(&mut self, step: &Step) -> SubResult {
        let start = Instant::now();
        let out = exec_kind(self, step);
        let (state, message, verdicts, checks) = match out {
            Ok((msg, v)) => (State::Pass, msg, v, Vec::new()),
            Err(Problem(s, msg, checks, v)) => (s, msg, v, checks),
        };
        SubResult {
            index: step.index,
            name: step.name.clone(),
            state,
            message,
            duration_s: start.elapsed().as_secs_f64(),
            started_s: Some(start.duration_since(self.t0).as_secs_f64()),
            verdicts: verdicts
                .iter()
                .filter_map(|v| serde_json::to_value(v).ok())
                .collect(),
            failed_checks: checks.iter().map(|c| c.to_string()).collect(),
            failed_at: Vec::new(),
        }
    }

    /// Save a failed traffic step's captures as pcapng in the case folder.
    fn keep_step_pcaps(&mut self, step: &Step, captures: &[PathCapture]) {
        for c in captures {
            let name = format!("step{:02}-{}.pcapng", step.index, c.path.replace(':', "-"));
            let path = self.dir.join(name);
            let res = std::fs::File::create(&path).and_then(|f| {
                netrig_wire::write_pcapng(f, &[(c.path.as_str(), &c.packets)]).map(|_| ())
            });
            if let Err(err) = res {
                self.warnings
                    .push(format!("writing {}: {err}", path.display()));
            }
        }
    }

    /// A daemon that ended while the case ran (and was not allowed to):
    /// the system under test crashed or quit. Reported once.
    pub fn dead_daemon(&mut self) -> Option<String> {
        for d in &mut self.daemons {
            if self.may_exit.contains(&d.rec.name) {
                continue;
            }
            let Some(st) = d.try_wait() else { continue };
            self.may_exit.insert(d.rec.name.clone());
            let how = match (st.code(), st.signal()) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(s)) => {
                    let core = d.collect_core().cloned();
                    format!("was {}", crate::coredump::describe(s, core.as_ref()))
                }
                _ => "ended".to_string(),
            };
            // The core's lines follow the first.
            let (first, more) = how.split_once('\n').unwrap_or((&how, ""));
            let mut msg = format!("daemon `{}` {first} while the case ran", d.rec.name);
            if !more.is_empty() {
                msg.push_str(&format!("\n{more}"));
            }
            let (out, err) = (tail(&d.stdout(), 5), tail(&d.stderr(), 5));
            if !err.is_empty() {
                msg.push_str(&format!("\nstderr:\n{err}"));
            }
            if !out.is_empty() {
                msg.push_str(&format!("\nstdout:\n{out}"));
            }
            return Some(msg);
        }
        None
    }

    /// End daemons and servers, keep captures of failed cases, record statuses.
    /// Daemons get SIGTERM first and [`TERM_GRACE`] to clean up (pid files,
    /// sockets), then SIGKILL.
    pub fn teardown(&mut self, keep_pcaps: bool) {
        let mut running = Vec::new();
        for (i, d) in self.daemons.iter_mut().enumerate() {
            if d.try_wait().is_none() {
                d.signal_group(libc::SIGTERM);
                d.rec.killed_at_end = true;
                running.push(i);
            }
        }
        let deadline = Instant::now() + TERM_GRACE;
        let mut nap = Duration::from_millis(1);
        while Instant::now() < deadline {
            running.retain(|&i| self.daemons[i].try_wait().is_none());
            if running.is_empty() {
                break;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(50));
        }
        for d in &mut self.daemons {
            d.finish();
        }
        for (name, h) in self.servers.drain(..) {
            if let Err(e) = h.stop() {
                self.warnings
                    .push(format!("stopping probe server {name}: {e}"));
            }
        }
        for (name, mut cap, keep) in self.captures.drain(..) {
            if !keep_pcaps && !keep {
                continue;
            }
            let pkts = drain_settled(&mut cap);
            let path = self.dir.join(format!("{name}.pcapng"));
            let res = std::fs::File::create(&path)
                .and_then(|f| netrig_wire::write_pcapng(f, &[(name.as_str(), &pkts)]).map(|_| ()));
            if let Err(e) = res {
                self.warnings
                    .push(format!("writing {}: {e}", path.display()));
            }
        }
    }
}

/// Everything a capture holds: packets still waiting in the host's per-CPU
/// backlogs or in a block the kernel has not retired belong to it too (the
/// last frames a step sent just before the case ended). Bounded: a host
/// whose backlogs other work keeps busy gets [`SETTLE_MAX`].
fn drain_settled(cap: &mut Capture) -> Vec<netrig_wire::Packet> {
    const SETTLE_MAX: Duration = Duration::from_secs(2);
    let mut pkts = Vec::new();
    let start = Instant::now();
    loop {
        cap.drain(&mut |p| pkts.push(p));
        let held = cap.pending().map_or(0, |(n, _)| n);
        let backlog = netrig_wire::Softnet::read()
            .ok()
            .and_then(|s| s.backlog())
            .unwrap_or(0);
        if (held == 0 && backlog == 0) || start.elapsed() >= SETTLE_MAX {
            break;
        }
        let _ = cap.wait(Duration::from_millis(10));
    }
    pkts
}

/// Each step kind's execution, in the module of its name (the spec's
/// registry, `netrig_spec::with_step_kinds!`, lists them).
trait Exec {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut;
}

macro_rules! define_exec {
    ($($variant:ident: $module:ident),* $(,)?) => {
        $(mod $module;)*
        mod watch_frames;

        fn exec_kind(cx: &mut Ctx, step: &Step) -> StepOut {
            match &step.kind {
                $(StepKind::$variant(s) => s.exec(cx, step),)*
            }
        }
    };
}

netrig_spec::with_step_kinds!(define_exec);

/// Open a tracepoint counter; unavailability (rootless, no tracefs, unknown
/// to this kernel) is a skip with the reason, not a failure.
fn open_tracepoint(name: &str, filter: Option<&str>) -> Result<TracepointCounter, Problem> {
    TracepointCounter::open_filtered(name, filter).map_err(|err| {
        let why = err
            .skip_reason()
            .or_else(|| matches!(err, PerfError::Unknown(_)).then(|| err.to_string()));
        match why {
            Some(w) => skip(format!("tracepoint {name} cannot be counted here: {w}")),
            None => broken(format!("tracepoint {name}: {err}")),
        }
    })
}

/// Sum of one counter over `paths` (`node:iface`).
fn sum_counter(lab: &mut Lab, paths: &[String], counter: &str) -> Result<u64, Problem> {
    let mut total = 0u64;
    for p in paths {
        let at = IfacePath::parse(p).map_err(broken)?;
        let st = lab
            .link_stats(&at.node, &at.iface)
            .map_err(|err| broken(err.to_string()))?;
        let vals = counter_map(&st, &LinkStats::default());
        total += vals
            .get(counter)
            .copied()
            .ok_or_else(|| broken(format!("unknown counter `{counter}`")))?;
    }
    Ok(total)
}

/// The change of every counter in `COUNTERS` from `base` to `now`.
fn counter_map(now: &LinkStats, base: &LinkStats) -> BTreeMap<&'static str, u64> {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    BTreeMap::from([
        ("rx_packets", d(now.rx_packets, base.rx_packets)),
        ("tx_packets", d(now.tx_packets, base.tx_packets)),
        ("rx_bytes", d(now.rx_bytes, base.rx_bytes)),
        ("tx_bytes", d(now.tx_bytes, base.tx_bytes)),
        ("rx_errors", d(now.rx_errors, base.rx_errors)),
        ("tx_errors", d(now.tx_errors, base.tx_errors)),
        ("rx_dropped", d(now.rx_dropped, base.rx_dropped)),
        ("tx_dropped", d(now.tx_dropped, base.tx_dropped)),
        ("multicast", d(now.multicast, base.multicast)),
    ])
}

#[cfg(test)]
mod tests {
    /// `netrig check` accepts exactly the counter names the runner reads.
    #[test]
    fn every_checked_counter_is_read() {
        let map = super::counter_map(&Default::default(), &Default::default());
        let read: Vec<&str> = map.keys().copied().collect();
        let mut checked = netrig_spec::expect::COUNTERS.to_vec();
        checked.sort();
        assert_eq!(read, checked);
    }
}
