//! Executing scenario steps inside a case process. Every step returns a
//! [`SubResult`]; expectations are checked here, statistical ones through
//! netrig-judge so that the verdict (with its error bound) lands in the report.

use crate::procs::{host_command, tail, Proc};
use crate::result::{State, SubResult};
use netrig_judge::{judge_affinity, judge_split, Outcome, SplitConfig, Verdict};
use netrig_lab::{Lab, LinkStats};
use netrig_spec::scenario::{Expect, Step, StepKind};
use netrig_wire::{
    probe_client, Capture, CaptureOptions, CaptureSet, FlowSpec, NoProgress, Packet, PingOptions,
    PortRange, ProbeClientOptions, ProbeProto, ProbeServer, ProbeServerHandle, Sender, StopWhen,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
}

/// Why a step did not pass, and whether that is the system's fault (Fail) or
/// the harness's (Broken).
struct Problem(State, String);

fn fail(msg: impl Into<String>) -> Problem {
    Problem(State::Fail, msg.into())
}
fn broken(msg: impl Into<String>) -> Problem {
    Problem(State::Broken, msg.into())
}

type StepOut = Result<(String, Vec<Verdict>), Problem>;

impl Ctx {
    pub fn new(lab: Option<Lab>, dir: PathBuf, t0: Instant) -> Ctx {
        Ctx {
            lab,
            dir,
            t0,
            procs: Vec::new(),
            daemons: Vec::new(),
            saved: HashMap::new(),
            servers: Vec::new(),
            captures: Vec::new(),
            warnings: Vec::new(),
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
        let (state, message, verdicts) = match out {
            Ok((msg, v)) => (State::Pass, msg, v),
            Err(Problem(s, msg)) => (s, msg, Vec::new()),
        };
        SubResult {
            index: step.index,
            name: step.name.clone(),
            state,
            message,
            duration_s: start.elapsed().as_secs_f64(),
            verdicts: verdicts
                .iter()
                .filter_map(|v| serde_json::to_value(v).ok())
                .collect(),
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
                    if d.stdout().contains(pattern.as_str())
                        || d.stderr().contains(pattern.as_str())
                    {
                        return Ok((String::new(), vec![]));
                    }
                    if let Some(st) = d.try_wait() {
                        // One last look: output may trail the exit.
                        std::thread::sleep(Duration::from_millis(20));
                        if d.stdout().contains(pattern.as_str())
                            || d.stderr().contains(pattern.as_str())
                        {
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
                let mut msgs = Vec::new();
                for ip in to {
                    let r = self
                        .in_node(from.as_deref(), || netrig_wire::ping(*ip, &opts))?
                        .map_err(|err| broken(format!("ping {ip}: {err}")))?;
                    let got = r.received;
                    msgs.push(format!("{ip}: {}/{} answered", got, r.sent));
                    if want && got < r.sent {
                        return Err(fail(format!(
                            "ping {ip}: {got}/{} answered{}",
                            r.sent,
                            if r.errors.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", r.errors.join("; "))
                            }
                        )));
                    }
                    if !want && got > 0 {
                        return Err(fail(format!(
                            "ping {ip}: {got}/{} answered, expected none",
                            r.sent
                        )));
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
                        return Err(fail(format!("{key} is `{now}`, expected `{want}`")));
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
                for (k, min) in e.min.iter().flatten() {
                    match vals.get(k.as_str()) {
                        None => {
                            return Err(broken(format!(
                                "unknown counter `{k}` (known: {})",
                                vals.keys().copied().collect::<Vec<_>>().join(", ")
                            )))
                        }
                        Some(v) if v < min => bad.push(format!("{k} = {v} < {min}")),
                        _ => {}
                    }
                }
                for (k, max) in e.max.iter().flatten() {
                    match vals.get(k.as_str()) {
                        None => return Err(broken(format!("unknown counter `{k}`"))),
                        Some(v) if v > max => bad.push(format!("{k} = {v} > {max}")),
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
                    Err(fail(format!("{node}:{iface}: {}", bad.join(", "))))
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
            } => {
                let mut opts = ProbeClientOptions::new(
                    *to,
                    if *udp {
                        ProbeProto::Udp
                    } else {
                        ProbeProto::Tcp
                    },
                    *count,
                );
                if let Some(p) = src_port {
                    let end = p
                        .checked_add((*count - 1) as u16)
                        .ok_or_else(|| broken("source ports run past 65535"))?;
                    opts.src_ports = PortRange::new(*p, end);
                }
                let rep = self
                    .in_node(Some(from), || probe_client(&opts))?
                    .map_err(|err| broken(format!("probe {to}: {err}")))?;
                let want = e.answered.unwrap_or(*count as u64);
                if rep.answered() < want {
                    return Err(fail(format!(
                        "{} answered, expected at least {want}: {rep}",
                        rep.answered()
                    )));
                }
                let mut verdicts = Vec::new();
                if let Some(s) = &e.split {
                    let by = rep.by_name();
                    let counts: Vec<u64> = s
                        .over
                        .iter()
                        .map(|n| by.get(n).copied().unwrap_or(0))
                        .collect();
                    verdicts.push(split_verdict(&step.name, &counts, s)?);
                }
                judged(rep.to_string(), verdicts)
            }
            StepKind::Capture { node, iface } => {
                let cap = self
                    .in_node(Some(node), || {
                        Capture::open(Some(iface), CaptureOptions::default())
                    })?
                    .map_err(|err| broken(format!("capture on {node}:{iface}: {err}")))?;
                self.captures.push((format!("{node}-{iface}"), cap));
                Ok((String::new(), vec![]))
            }
        }
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
        // Every `node:iface` an expectation names gets a capture, opened before sending.
        let mut paths: BTreeSet<String> = BTreeSet::new();
        if let Some(s) = &e.split {
            paths.extend(s.over.iter().cloned());
        }
        paths.extend(e.affinity.iter().flatten().cloned());
        paths.extend(e.received.iter().flat_map(|m| m.keys().cloned()));
        let lab = self.lab()?;
        let dst: netrig_wire::IpRange = to
            .parse()
            .map_err(|err| broken(format!("destination `{to}`: {err}")))?;
        let v6 = dst.is_v6();
        let src = lab
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
        let spec = base
            .with_args(args)
            .map_err(|err| broken(format!("flow `{args}`: {err}")))?;
        let mut set = CaptureSet::new();
        let mut order = Vec::new();
        for p in &paths {
            let (n, i) = p
                .split_once(':')
                .ok_or_else(|| broken(format!("path `{p}` is not node:iface")))?;
            let cap = lab
                .run_in(n, || Capture::open(Some(i), CaptureOptions::default()))
                .map_err(|err| broken(err.to_string()))?
                .map_err(|err| broken(format!("capture on {p}: {err}")))?;
            set.push(cap);
            order.push(p.clone());
        }
        let stats = lab
            .run_in(from, || {
                Sender::open(dev).and_then(|mut s| s.send_flow(&spec, &mut NoProgress))
            })
            .map_err(|err| broken(err.to_string()))?
            .map_err(|err| broken(format!("sending: {err}")))?;
        let per_path: Vec<Vec<Packet>> = if order.is_empty() {
            Vec::new()
        } else {
            set.collect(StopWhen::quiet(
                Duration::from_millis(300),
                Duration::from_secs(20),
            ))
            .map_err(|err| broken(format!("capturing: {err}")))?
        };
        // Distinct flows per path: packets of a flow follow one path, so
        // flows, not packets, are the independent draws a split test needs.
        let mut flows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut packets: BTreeMap<&str, u64> = BTreeMap::new();
        for (p, pkts) in order.iter().zip(&per_path) {
            for pkt in pkts {
                if let Some(key) = flow_key(&pkt.data) {
                    flows.entry(key).or_default().insert(p.clone());
                    *packets.entry(p.as_str()).or_default() += 1;
                }
            }
        }
        let mut verdicts = Vec::new();
        let mut msgs = vec![format!("sent {} packets", stats.sent)];
        if let Some(s) = &e.split {
            let counts: Vec<u64> = s
                .over
                .iter()
                .map(|p| flows.values().filter(|set| set.contains(p)).count() as u64)
                .collect();
            verdicts.push(split_verdict(&step.name, &counts, s)?);
        }
        if let Some(over) = &e.affinity {
            let v = judge_affinity(
                &step.name,
                flows.iter().map(|(f, set)| {
                    (
                        f.clone(),
                        set.iter()
                            .filter(|p| over.contains(p))
                            .cloned()
                            .collect::<Vec<_>>(),
                    )
                }),
            );
            verdicts.push(v);
        }
        if let Some(rx) = &e.received {
            for (p, min) in rx {
                let got = packets.get(p.as_str()).copied().unwrap_or(0);
                if got < *min {
                    return Err(fail(format!(
                        "{p} received {got} matching packets, expected at least {min} ({})",
                        msgs.join(", ")
                    )));
                }
                msgs.push(format!("{p}: {got} packets"));
            }
        }
        judged(msgs.join(", "), verdicts)
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

fn judged(msg: String, verdicts: Vec<Verdict>) -> StepOut {
    let lines: Vec<String> = verdicts.iter().map(|v| v.to_string()).collect();
    let msg = std::iter::once(msg)
        .chain(lines.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    match verdicts.iter().map(|v| v.outcome).max_by_key(|o| match o {
        Outcome::Pass => 0,
        Outcome::Fail => 1,
        Outcome::Broken => 2,
    }) {
        Some(Outcome::Fail) => Err(fail(msg)),
        Some(Outcome::Broken) => Err(broken(msg)),
        _ => Ok((msg, verdicts)),
    }
}

fn split_verdict(
    name: &str,
    counts: &[u64],
    s: &netrig_spec::scenario::SplitExpect,
) -> Result<Verdict, Problem> {
    let mut cfg = SplitConfig::default();
    if let Some(a) = s.alpha {
        cfg.alpha = a;
    }
    if let Some(t) = s.tolerance {
        cfg.tolerance = t;
    }
    judge_split(name, counts, &s.weights, &cfg).map_err(|e| broken(format!("split check: {e}")))
}

/// A flow's identity for the split and affinity checks: the fields the
/// sender varies, read back from the captured frame.
fn flow_key(frame: &[u8]) -> Option<String> {
    use netrig_wire::decode::{Net, Transport};
    let d = netrig_wire::Decoded::parse(frame)?;
    let Net::Ip { src, dst, .. } = d.net else {
        return None;
    };
    let (sp, dp) = match d.transport {
        Transport::Udp { sp, dp, .. } | Transport::Tcp { sp, dp, .. } => (sp, dp),
        _ => return None,
    };
    Some(format!("{src}:{sp}->{dst}:{dp}"))
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
