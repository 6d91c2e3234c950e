//! Executing scenario steps inside a case process. Every step returns a
//! [`SubResult`]; expectations are checked here, statistical ones through
//! netrig-judge so that the verdict (with its error bound) lands in the report.

use crate::observe::{verdict_ring, HostWindow, Plan, Watch};
use crate::procs::{host_command, tail, Proc};
use crate::result::{State, SubResult};
use crate::tplock::TracepointLock;
use crate::verdicts::{
    affinity_of_flows, attribute_ratio, broken, fail, fail_by, group_indexes, host_explains,
    judge_traffic, judged, skip, split_of_flows, watched_paths, FlowPaths, Observation,
    PathCapture, Problem, StepOut,
};
use netrig_judge::{judge_ratio, RatioBounds, Verdict};
use netrig_lab::{tune::Offload, Lab, LinkStats};
use netrig_spec::scenario::{Expect, Step, StepKind};
use netrig_wire::perf::TracepointCounter;
use netrig_wire::{
    probe_client, Capture, CaptureOptions, FlowSpec, Match, NoProgress, PerfError, PingOptions,
    PortRange, ProbeClientOptions, ProbeOutcome, ProbeProto, ProbeServer, ProbeServerHandle,
    Sender, TagSpec,
};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Default bound for steps that wait (wait_port, wait_log) without a `timeout`.
const WAIT_DEFAULT: Duration = Duration::from_secs(10);

/// Everything a case has started or saved, torn down in [`Ctx::teardown`].
pub struct Ctx {
    pub lab: Option<Lab>,
    pub dir: PathBuf,
    pub t0: Instant,
    pub procs: Vec<Proc>,
    pub daemons: Vec<Proc>,
    saved: HashMap<String, LinkStats>,
    servers: Vec<(String, ProbeServerHandle)>,
    captures: Vec<(String, Capture)>,
    pub warnings: Vec<String>,
    /// Ring geometry of the captures traffic verdicts use.
    pub capture_ring: CaptureOptions,
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
            saved: HashMap::new(),
            servers: Vec::new(),
            captures: Vec::new(),
            warnings: ring_warning.into_iter().collect(),
            capture_ring,
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

    /// Start `sh -c cmd` in `node` with extra environment.
    pub fn start(
        &mut self,
        node: Option<&str>,
        name: &str,
        program: &str,
        args: &[&str],
        env: &[(String, String)],
        cwd: Option<&std::path::Path>,
    ) -> Result<Proc, String> {
        let mut cmd = match (node, &self.lab) {
            (Some(n), Some(lab)) => lab.command(n, program).map_err(|e| e.to_string())?,
            _ => host_command(program),
        };
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(d) = cwd {
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
        let out = self.exec_kind(step);
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
        }
    }

    fn exec_kind(&mut self, step: &Step) -> StepOut {
        let e = &step.expect;
        match &step.kind {
            StepKind::Run { node, cmd } => self.run(step, node.as_deref(), cmd, e),
            StepKind::Daemon { node, cmd, name } => {
                let p = self
                    .start(node.as_deref(), name, "sh", &["-c", cmd], &[], None)
                    .map_err(broken)?;
                self.daemons.push(p);
                Ok((String::new(), vec![]))
            }
            StepKind::WaitPort { node, port, udp } => {
                let limit = step.timeout.unwrap_or(WAIT_DEFAULT);
                let deadline = Instant::now() + limit;
                let mut pause = Duration::from_micros(500);
                loop {
                    if self.in_node(node.as_deref(), || listening(*port, *udp))? {
                        return Ok((String::new(), vec![]));
                    }
                    if Instant::now() >= deadline {
                        return Err(fail(format!(
                            "nothing {} port {port} after {limit:?}",
                            if *udp { "bound UDP" } else { "listened on TCP" }
                        )));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
            }
            StepKind::WaitLog { daemon, pattern } => {
                let limit = step.timeout.unwrap_or(WAIT_DEFAULT);
                let deadline = Instant::now() + limit;
                loop {
                    let d = self
                        .daemons
                        .iter_mut()
                        .find(|d| &d.rec.name == daemon)
                        .ok_or_else(|| broken(format!("no daemon named `{daemon}` was started")))?;
                    if d.output_contains(pattern) {
                        return Ok((String::new(), vec![]));
                    }
                    if let Some(st) = d.try_wait() {
                        // One last look: output may trail the exit.
                        std::thread::sleep(Duration::from_millis(20));
                        if d.output_contains(pattern) {
                            return Ok((String::new(), vec![]));
                        }
                        return Err(fail(format!(
                            "daemon `{daemon}` exited ({st}) without printing `{pattern}`"
                        )));
                    }
                    if Instant::now() >= deadline {
                        return Err(fail(format!(
                            "`{pattern}` not in the output of `{daemon}` after {limit:?}"
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            StepKind::Ping { from, to, count } => {
                let opts = PingOptions {
                    count: *count,
                    interval: Duration::from_millis(10),
                    // Positive pings wait past the kernel's 1 s ARP/ND retransmit,
                    // as iputils would (-W 10): a first request lost while a lab
                    // settles is retried by the neighbour layer, not a failure.
                    timeout: Duration::from_millis(if e.reachable == Some(false) {
                        300
                    } else {
                        2500
                    }),
                    deadline: Duration::from_secs(5),
                    ..PingOptions::default()
                };
                let want = e.reachable.unwrap_or(true);
                let _lock = TracepointLock::shared();
                let window = match self.lab.as_mut() {
                    Some(lab) => Some(HostWindow::open(lab)?),
                    None => None,
                };
                let mut msgs = Vec::new();
                for ip in to {
                    let r = self
                        .in_node(from.as_deref(), || netrig_wire::ping(*ip, &opts))?
                        .map_err(|err| broken(format!("ping {ip}: {err}")))?;
                    let got = r.received;
                    msgs.push(format!("{ip}: {}/{} answered", got, r.sent));
                    if want && got < r.sent {
                        if let (Some(w), Some(lab)) = (&window, self.lab.as_mut()) {
                            let host = w.close(lab)?;
                            let short = format!("ping {ip}: {got}/{} answered", r.sent);
                            if let Some(p) = host_explains(&host, &short) {
                                return Err(p);
                            }
                        }
                        return Err(fail_by(
                            "reachable",
                            format!(
                                "ping {ip}: {got}/{} answered{}",
                                r.sent,
                                if r.errors.is_empty() {
                                    String::new()
                                } else {
                                    format!(" ({})", r.errors.join("; "))
                                }
                            ),
                        ));
                    }
                    if !want && got > 0 {
                        return Err(fail_by(
                            "reachable",
                            format!("ping {ip}: {got}/{} answered, expected none", r.sent),
                        ));
                    }
                }
                Ok((msgs.join(", "), vec![]))
            }
            StepKind::Sysctl { node, key, value } => {
                let read =
                    |lab: &Lab, n: &str| lab.sysctl_get(n, key).map_err(|e| broken(e.to_string()));
                let now = match (node, value) {
                    (Some(n), Some(v)) => {
                        let lab = self.lab()?;
                        lab.sysctl_set(n, key, v)
                            .map_err(|e| broken(e.to_string()))?;
                        read(lab, n)?
                    }
                    (Some(n), None) => read(self.lab()?, n)?,
                    (None, v) => {
                        let path = format!("/proc/sys/{}", key.replace('.', "/"));
                        if let Some(v) = v {
                            std::fs::write(&path, v)
                                .map_err(|err| broken(format!("{key}={v}: {err}")))?;
                        }
                        std::fs::read_to_string(&path)
                            .map(|s| s.trim().to_string())
                            .map_err(|err| broken(format!("{key}: {err}")))?
                    }
                };
                if let Some(want) = &e.value {
                    if &now != want {
                        return Err(fail_by(
                            "value",
                            format!("{key} is `{now}`, expected `{want}`"),
                        ));
                    }
                }
                Ok((format!("{key} = {now}"), vec![]))
            }
            StepKind::Link { node, iface, up } => {
                self.lab_mut()?
                    .set_link(node, iface, *up)
                    .map_err(|err| broken(err.to_string()))?;
                Ok((String::new(), vec![]))
            }
            StepKind::Counters {
                node,
                iface,
                save,
                since,
            } => {
                let now = self
                    .lab_mut()?
                    .link_stats(node, iface)
                    .map_err(|err| broken(err.to_string()))?;
                let base = match since {
                    None => LinkStats::default(),
                    Some(s) => *self
                        .saved
                        .get(s)
                        .ok_or_else(|| broken(format!("no counters saved as `{s}`")))?,
                };
                if let Some(s) = save {
                    self.saved.insert(s.clone(), now);
                }
                let vals = counter_map(&now, &base);
                let mut bad = Vec::new();
                let mut which = Vec::new();
                for (k, min) in e.min.iter().flatten() {
                    match vals.get(k.as_str()) {
                        None => {
                            return Err(broken(format!(
                                "unknown counter `{k}` (known: {})",
                                vals.keys().copied().collect::<Vec<_>>().join(", ")
                            )))
                        }
                        Some(v) if v < min => {
                            bad.push(format!("{k} = {v} < {min}"));
                            which.push("min");
                        }
                        _ => {}
                    }
                }
                for (k, max) in e.max.iter().flatten() {
                    match vals.get(k.as_str()) {
                        None => return Err(broken(format!("unknown counter `{k}`"))),
                        Some(v) if v > max => {
                            bad.push(format!("{k} = {v} > {max}"));
                            which.push("max");
                        }
                        _ => {}
                    }
                }
                let shown = format!(
                    "rx_packets={} tx_packets={}",
                    vals["rx_packets"], vals["tx_packets"]
                );
                if bad.is_empty() {
                    Ok((shown, vec![]))
                } else {
                    which.dedup();
                    Err(Problem(
                        State::Fail,
                        format!("{node}:{iface}: {}", bad.join(", ")),
                        which,
                        Vec::new(),
                    ))
                }
            }
            StepKind::Sleep { duration } => {
                std::thread::sleep(*duration);
                Ok((String::new(), vec![]))
            }
            StepKind::Traffic {
                from,
                dev,
                to,
                proto,
                args,
            } => self.traffic(step, from, dev, to, proto, args),
            StepKind::Serve {
                node,
                addr,
                name,
                tcp,
                udp,
            } => {
                let server = self
                    .in_node(Some(node), || ProbeServer::bind(*addr, name, *tcp, *udp))?
                    .map_err(|err| broken(format!("serve on {addr}: {err}")))?;
                self.servers.push((name.clone(), server.spawn()));
                Ok((String::new(), vec![]))
            }
            StepKind::Probe {
                from,
                to,
                udp,
                count,
                src_port,
                rounds,
            } => self.probe(step, from, *to, *udp, *count, *src_port, *rounds),
            StepKind::Capture { node, iface } => {
                let cap = self
                    .in_node(Some(node), || {
                        Capture::open(Some(iface), CaptureOptions::default())
                    })?
                    .map_err(|err| broken(format!("capture on {node}:{iface}: {err}")))?;
                self.captures.push((format!("{node}-{iface}"), cap));
                Ok((String::new(), vec![]))
            }
            StepKind::Route { route } => {
                self.lab_mut()?
                    .replace_route(route)
                    .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
                Ok((String::new(), vec![]))
            }
            StepKind::Offload {
                node,
                iface,
                gro,
                tso,
                gso,
                tx_checksum,
            } => {
                let lab = self.lab()?;
                let mut now = Vec::new();
                for (what, want) in [
                    (Offload::Gro, gro),
                    (Offload::Tso, tso),
                    (Offload::Gso, gso),
                    (Offload::TxChecksum, tx_checksum),
                ] {
                    let Some(on) = want else { continue };
                    lab.set_offload(node, iface, what, *on)
                        .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
                    // Read back: a driver may refuse a feature without an error.
                    let got = lab
                        .offload(node, iface, what)
                        .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
                    if got != *on {
                        return Err(broken(format!(
                            "{node}:{iface}: {what:?} stays {} after setting it {}",
                            if got { "on" } else { "off" },
                            if *on { "on" } else { "off" }
                        )));
                    }
                    now.push(format!("{what:?} {}", if got { "on" } else { "off" }));
                }
                Ok((now.join(", "), vec![]))
            }
            StepKind::Sysfs { node, path, value } => {
                let lab = self.lab()?;
                if let Some(v) = value {
                    lab.write_sysfs(node, path, v)
                        .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
                }
                let now = lab
                    .read_sysfs(node, path)
                    .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
                let now = now.trim().to_string();
                if let Some(want) = &e.value {
                    if &now != want {
                        return Err(fail_by(
                            "value",
                            format!("/sys/{path} is `{now}`, expected `{want}`"),
                        ));
                    }
                }
                Ok((format!("/sys/{path} = {now}"), vec![]))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn probe(
        &mut self,
        step: &Step,
        from: &str,
        to: std::net::SocketAddr,
        udp: bool,
        count: u32,
        src_port: Option<u16>,
        rounds: u32,
    ) -> StepOut {
        let e = &step.expect;
        let mut opts = ProbeClientOptions::new(
            to,
            if udp {
                ProbeProto::Udp
            } else {
                ProbeProto::Tcp
            },
            count,
        );
        if let Some(p) = src_port {
            let end = u16::try_from(u32::from(p) + count - 1)
                .map_err(|_| broken("source ports run past 65535"))?;
            opts.src_ports = PortRange::new(p, end);
        }
        let _lock = TracepointLock::shared();
        let window = HostWindow::open(self.lab_mut()?)?;
        // Round r probes the same source ports again: each port is one flow,
        // so every round must reach the same server (affinity).
        let mut reports = Vec::new();
        for _ in 0..rounds {
            let rep = self
                .in_node(Some(from), || probe_client(&opts))?
                .map_err(|err| broken(format!("probe {to}: {err}")))?;
            reports.push(rep);
        }
        let host = window.close(self.lab_mut()?)?;
        let mut all = netrig_wire::ProbeReport::default();
        for r in &reports {
            all.records.extend(r.records.iter().cloned());
        }
        let summary = if rounds > 1 {
            format!("{rounds} rounds, {all}")
        } else {
            all.to_string()
        };
        let summary = format!("{summary}\n{}", host.consulted(&[]));
        let mut failures: Vec<(&'static str, String)> = Vec::new();
        let want = e.answered.unwrap_or(u64::from(count) * u64::from(rounds));
        if all.answered() < want {
            let short = format!("{} answered, expected at least {want}", all.answered());
            if let Some(p) = host_explains(&host, &short) {
                return Err(p);
            }
            failures.push(("answered", short));
        }
        if let Some(max) = e.resets {
            if all.resets() > max {
                failures.push((
                    "resets",
                    format!(
                        "{} connections reset after being established, at most {max} allowed",
                        all.resets()
                    ),
                ));
            }
        }
        // Flow (source port) -> servers that answered it, over all rounds.
        let mut flows = FlowPaths::new();
        for r in &all.records {
            let slot = flows.entry(format!("sport {}", r.src_port)).or_default();
            if let ProbeOutcome::Answered(n) = &r.outcome {
                slot.insert(n.clone());
            }
        }
        let mut verdicts = Vec::new();
        if let Some(s) = &e.split {
            // Distinct flows per server: with rounds, a flow counts once.
            verdicts.push(("split", split_of_flows(&step.name, &flows, s)?));
        }
        if let Some(over) = &e.affinity {
            // A server outside `over` counts as a path of its own, so an
            // answer from elsewhere breaks affinity.
            let v = affinity_of_flows(&step.name, &flows, None);
            let strays: Vec<&String> = flows
                .values()
                .flatten()
                .filter(|n| !over.contains(n))
                .collect();
            if !strays.is_empty() {
                failures.push((
                    "affinity",
                    format!(
                        "answers from servers outside {}: {}",
                        over.join(", "),
                        strays
                            .iter()
                            .take(netrig_judge::MAX_LISTED)
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            verdicts.push(("affinity", v));
        }
        judged(summary, verdicts, failures)
    }

    fn run(&mut self, step: &Step, node: Option<&str>, cmd: &str, e: &Expect) -> StepOut {
        // The log is named after the step: `03-client_py.log` for a matrix client.
        let slug: String = step
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("{:02}-{slug}", step.index);
        let mut p = self
            .start(node, &name, "sh", &["-c", cmd], &[], None)
            .map_err(broken)?;
        let status = p.wait_timeout(step.timeout);
        let timed_out = status.is_none();
        p.finish();
        let (out, err) = (p.stdout(), p.stderr());
        let rec = p.rec.clone();
        self.procs.push(p);
        if timed_out {
            return Err(fail(format!(
                "`{cmd}` still running after its step timeout {:?}; killed",
                step.timeout.unwrap_or_default()
            )));
        }
        let want = e.exit.unwrap_or(0);
        let mut problems = Vec::new();
        match (rec.exit, rec.signal) {
            (Some(c), _) if c == want => {}
            (Some(c), _) => problems.push(format!("exit status {c}, expected {want}")),
            (None, Some(s)) => problems.push(format!("killed by signal {s}")),
            _ => problems.push("no exit status".to_string()),
        }
        for s in &e.stdout {
            if !out.contains(s.as_str()) {
                problems.push(format!("stdout lacks `{s}`"));
            }
        }
        for s in &e.stdout_not {
            if out.contains(s.as_str()) {
                problems.push(format!("stdout contains `{s}`"));
            }
        }
        for s in &e.stderr {
            if !err.contains(s.as_str()) {
                problems.push(format!("stderr lacks `{s}`"));
            }
        }
        if problems.is_empty() {
            Ok((String::new(), vec![]))
        } else {
            let mut msg = format!("`{cmd}`: {}", problems.join("; "));
            let t = tail(&err, 5);
            if !t.is_empty() {
                msg.push_str(&format!("\nstderr:\n{t}"));
            }
            let t = tail(&out, 5);
            if !t.is_empty() {
                msg.push_str(&format!("\nstdout:\n{t}"));
            }
            Err(fail(msg))
        }
    }

    fn traffic(
        &mut self,
        step: &Step,
        from: &str,
        dev: &str,
        to: &str,
        proto: &str,
        args: &str,
    ) -> StepOut {
        let e = &step.expect;
        let dst: netrig_wire::IpRange = to
            .parse()
            .map_err(|err| broken(format!("destination `{to}`: {err}")))?;
        let v6 = dst.is_v6();
        let src = self
            .lab()?
            .topo
            .ifaces_of(from)
            .find(|i| i.name == dev)
            .and_then(|i| i.addrs.iter().find(|a| a.addr.is_ipv6() == v6))
            .map(|a| a.addr)
            .ok_or_else(|| {
                broken(format!(
                    "{from}:{dev} has no {} address",
                    if v6 { "IPv6" } else { "IPv4" }
                ))
            })?;
        let base = match proto {
            "tcp" => FlowSpec::tcp_syn(src, dst),
            _ => FlowSpec::udp(src, dst),
        };
        let mut spec = base
            .with_args(args)
            .map_err(|err| broken(format!("flow `{args}`: {err}")))?;
        if e.streams.is_some() && spec.tag.is_none() {
            // Loss is told from payload tags; stream 1 unless the flow names one.
            spec.tag = Some(TagSpec {
                stream: 1,
                ..TagSpec::default()
            });
        }

        // A tracepoint window: exclusive of other cases' traffic (see
        // TracepointLock), opened before anything is sent.
        let (lock, counter, ratio_base) = match &e.ratio {
            Some(r) => {
                let mut terms = Vec::new();
                if let Some(p) = &r.iif {
                    let (n, i) = p
                        .split_once(':')
                        .ok_or_else(|| broken(format!("path `{p}` is not node:iface")))?;
                    let idx = self
                        .lab()?
                        .ifindex(n, i)
                        .map_err(|err| broken(err.to_string()))?;
                    terms.push(format!("iif == {idx}"));
                }
                if let Some(t) = r.table {
                    terms.push(format!("tb_id == {t}"));
                }
                let filter = (!terms.is_empty()).then(|| terms.join(" && "));
                let c = open_tracepoint(&r.tracepoint, filter.as_deref())?;
                let lock = TracepointLock::exclusive();
                let counter = r.counter.as_deref().unwrap_or("tx_packets");
                let before = sum_counter(self.lab_mut()?, &r.per, counter)?;
                (lock, Some(c), before)
            }
            None => (TracepointLock::shared(), None, 0),
        };
        // Every `node:iface` an expectation names gets a capture, drained
        // from before the first packet is sent until the path settles.
        let paths = watched_paths(e);
        let flow = Match::of_flow(&spec);
        let mut watch = if paths.is_empty() {
            None
        } else {
            let plan = Plan {
                groups: group_indexes(e, &paths),
                received: e
                    .received
                    .iter()
                    .flatten()
                    .filter_map(|(p, min)| Some((paths.iter().position(|q| q == p)?, *min)))
                    .collect(),
                flow: flow.clone(),
                tagged: spec.tag.is_some(),
                paths,
            };
            let ring = self.capture_ring.clone();
            Some(Watch::start(self.lab_mut()?, plan, &ring)?)
        };
        let ratio_window = match &counter {
            Some(c) => {
                let w = HostWindow::open(self.lab_mut()?)?;
                c.start()
                    .map_err(|err| broken(format!("starting {}: {err}", c.name())))?;
                Some(w)
            }
            None => None,
        };
        let t_send = Instant::now();
        let stats = self
            .lab()?
            .run_in(from, || {
                Sender::open(dev).and_then(|mut s| s.send_flow(&spec, &mut NoProgress))
            })
            .map_err(|err| broken(err.to_string()))?
            .map_err(|err| broken(format!("sending: {err}")))?;
        let send_time = t_send.elapsed();
        let observed = match watch.as_mut() {
            Some(w) => Some(w.settle(self.lab_mut()?, stats.sent, send_time)),
            None => None,
        };
        let summary = format!(
            "sent {} packets in {:.1} ms ({:.1} ms with neighbour resolution)",
            stats.sent,
            stats.elapsed.as_secs_f64() * 1e3,
            send_time.as_secs_f64() * 1e3,
        );
        let mut ratio = None;
        if let (Some(r), Some(c)) = (&e.ratio, &counter) {
            let name = r.counter.as_deref().unwrap_or("tx_packets");
            // Forwarding runs on after the sender returns (softirq, NAPI):
            // wait until the counters stand still before closing the window.
            let mut last = ratio_base;
            let mut still_since = Instant::now();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                std::thread::sleep(Duration::from_millis(20));
                let now = sum_counter(self.lab_mut()?, &r.per, name)?;
                if now != last {
                    last = now;
                    still_since = Instant::now();
                } else if still_since.elapsed() >= Duration::from_millis(100)
                    || Instant::now() >= deadline
                {
                    break;
                }
            }
            let hits = c
                .stop()
                .map_err(|err| broken(format!("reading {}: {err}", c.name())))?;
            let outside = match &ratio_window {
                Some(w) => w.received_outside_lab(self.lab_mut()?)?,
                None => None,
            };
            let exclusive = lock.held();
            let bounds = RatioBounds {
                min: r.min,
                max: r.max,
            };
            let mut v = judge_ratio(
                &step.name,
                (
                    &format!(
                        "{} hits{}{}",
                        r.tracepoint,
                        r.iif
                            .as_ref()
                            .map(|p| format!(" with iif {p}"))
                            .unwrap_or_default(),
                        r.table
                            .map(|t| format!(" in table {t}"))
                            .unwrap_or_default()
                    ),
                    hits,
                ),
                (&format!("{name} on {}", r.per.join("+")), last - ratio_base),
                bounds,
            )
            .map_err(|err| broken(format!("ratio check: {err}")))?;
            v.explanation.push_str(&format!(
                " (tracepoints fire host-wide; window {} other netrig traffic)",
                if exclusive {
                    "exclusive of"
                } else {
                    "NOT exclusive of"
                }
            ));
            ratio = Some(attribute_ratio(v, outside));
        }
        drop(lock);
        let ratio: Vec<(&'static str, Verdict)> = ratio.map(|v| ("ratio", v)).into_iter().collect();
        match (watch, observed) {
            (Some(w), Some(ending)) => {
                let (captures, host) = w.finish(self.lab_mut()?)?;
                let obs = Observation {
                    sent: stats.sent,
                    captures,
                    host,
                    ending,
                };
                let stream = spec.tag.map(|t| t.stream);
                let out = judge_traffic(&step.name, e, &flow, stream, &obs, summary, ratio);
                if out.is_err() {
                    self.keep_step_pcaps(step, &obs.captures);
                }
                out
            }
            _ => judged(summary, ratio, Vec::new()),
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

    /// End daemons and servers, keep captures of failed cases, record statuses.
    pub fn teardown(&mut self, keep_pcaps: bool) {
        for d in &mut self.daemons {
            d.finish();
        }
        for (name, h) in self.servers.drain(..) {
            if let Err(e) = h.stop() {
                self.warnings
                    .push(format!("stopping probe server {name}: {e}"));
            }
        }
        for (name, mut cap) in self.captures.drain(..) {
            if !keep_pcaps {
                continue;
            }
            let mut pkts = Vec::new();
            cap.drain(&mut |p| pkts.push(p));
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
        let (n, i) = p
            .split_once(':')
            .ok_or_else(|| broken(format!("path `{p}` is not node:iface")))?;
        let st = lab
            .link_stats(n, i)
            .map_err(|err| broken(err.to_string()))?;
        let vals = counter_map(&st, &LinkStats::default());
        total += vals
            .get(counter)
            .copied()
            .ok_or_else(|| broken(format!("unknown counter `{counter}`")))?;
    }
    Ok(total)
}

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

/// Is a TCP socket listening (or a UDP socket bound) on `port` in this
/// thread's namespace? Read from /proc/thread-self/net, which follows the
/// thread's namespace (unlike /proc/net, which follows the process leader's).
fn listening(port: u16, udp: bool) -> bool {
    let files: &[&str] = if udp {
        &["udp", "udp6"]
    } else {
        &["tcp", "tcp6"]
    };
    files.iter().any(|f| {
        std::fs::read_to_string(format!("/proc/thread-self/net/{f}"))
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    let mut cols = l.split_whitespace();
                    let local = cols.nth(1).unwrap_or("");
                    let state = cols.nth(1).unwrap_or("");
                    let p = local
                        .rsplit(':')
                        .next()
                        .and_then(|h| u16::from_str_radix(h, 16).ok());
                    // 0A is TCP_LISTEN; a bound UDP socket shows 07 (CLOSE).
                    p == Some(port) && (udp || state == "0A")
                })
            })
            .unwrap_or(false)
    })
}
