//! How long a lab takes to come up and go down: netrig against the way
//! kselftest's lib.sh builds the same seed topology (one `ip` process per
//! step), then chains of 100 and 1,000 routers to see how netrig scales.
//!
//! `cargo bench -p netrig-lab --bench build`; `NETRIG_BENCH_QUICK=1` for a
//! smoke run. Needs root (the `ip` baseline makes named namespaces), and
//! skips with a message otherwise.
//!
//! What is timed:
//! - netrig up: `Lab::build` (returns once every link is operationally up).
//!   netrig down: dropping the `Lab`, which is all a user waits for; the
//!   kernel then tears the namespaces down asynchronously (cleanup_net).
//! - ip up: every `ip` step, then polling `ip -n NS -o link show` (one
//!   process per poll, no sleeps) until every declared interface reports
//!   `state UP`. ip down: one `ip netns del` per namespace, which likewise only
//!   drops the last reference and leaves the rest to cleanup_net.
//! - For chains, additionally "settled": from the drop until the kernel has
//!   removed the lab's devices in its asynchronous teardown (see `Probe`).

use netrig_lab::netlink::*;
use netrig_lab::{gen, ns, BuildOptions, Lab};
use netrig_spec::{IpNet, Topology};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Named namespaces of this bench start with this, then the PID, so a later
/// run can tell its own leftovers (from a SIGKILL) from anyone else's.
const PREFIX: &str = "nrbench-";

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("build bench skipped: needs root (the ip baseline creates named namespaces in /run/netns)");
        return;
    }
    let quick = std::env::var("NETRIG_BENCH_QUICK").is_ok_and(|v| v == "1");
    raise_nofile_limit();
    sweep_stale();

    let seed_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed.toml");
    let seed = netrig_spec::load_topology(&seed_path).expect("examples/seed.toml is valid");
    // Five even in a smoke run: with three, one rep slowed by other load on
    // a 2-core machine moves the median.
    let seed_reps = if quick { 5 } else { 20 };

    // Warm both paths once (page cache for the `ip` binary, first netns
    // creation costs) and check that they really build the same thing.
    {
        let lab = Lab::build(&seed, &BuildOptions::default()).expect("seed builds with netrig");
        let iplab = IpLab::up(&seed).expect("seed builds with ip");
        match same_config(&lab, &iplab, &seed) {
            Ok(()) => println!("check: netrig and the ip script give the same addresses, routes and sysctls on every node"),
            Err(diff) => println!("WARNING: netrig and the ip script differ:\n{diff}"),
        }
        drop(lab);
        iplab.down().expect("ip netns del");
    }

    let mut rows: Vec<Row> = Vec::new();

    let (mut up, mut down) = (Vec::new(), Vec::new());
    for _ in 0..seed_reps {
        let t = Instant::now();
        let lab = Lab::build(&seed, &BuildOptions::default()).expect("seed builds with netrig");
        up.push(t.elapsed());
        let t = Instant::now();
        drop(lab);
        down.push(t.elapsed());
    }
    let nr_seed = Row::new("seed, netrig", 0, &up, &down, None);

    if let Ok(p) = Probe::arm() {
        p.wait(Duration::from_secs(60));
    }
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut procs = 0;
    for _ in 0..seed_reps {
        let t = Instant::now();
        let iplab = IpLab::up(&seed).expect("seed builds with ip");
        up.push(t.elapsed());
        procs = iplab.procs;
        let t = Instant::now();
        iplab.down().expect("ip netns del");
        down.push(t.elapsed());
    }
    let ip_seed = Row::new(&format!("seed, ip x{procs}"), 0, &up, &down, None);
    let up_ratio = ip_seed.up_med.as_secs_f64() / nr_seed.up_med.as_secs_f64();
    let down_ratio = ip_seed.down_med.as_secs_f64() / nr_seed.down_med.as_secs_f64();
    rows.push(nr_seed);
    rows.push(ip_seed);

    // Let the kernel finish tearing down the seed labs first, so that the
    // chains are not built while it works.
    if let Ok(p) = Probe::arm() {
        p.wait(Duration::from_secs(60));
    }
    let chains: &[(usize, usize)] = if quick {
        &[(100, 1), (1000, 1)]
    } else {
        &[(100, 3), (1000, 2)]
    };
    let mut reach = String::from("not checked");
    let mut phases_1000 = Vec::new();
    for &(routers, reps) in chains {
        let topo = gen::chain(routers);
        let (mut up, mut down, mut settled) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..reps {
            let t = Instant::now();
            let lab = Lab::build(&topo, &BuildOptions::default()).expect("chain builds");
            up.push(t.elapsed());
            if routers == 1000 {
                phases_1000 = lab.timings.clone();
            }
            if rep == 0 && routers <= 200 {
                reach = reachability(&lab, &topo, routers);
            }
            let probe = Probe::arm().ok();
            let t = Instant::now();
            drop(lab);
            down.push(t.elapsed());
            // Waiting here also keeps this teardown from running under the
            // next build.
            if probe
                .and_then(|p| p.wait(Duration::from_secs(60)))
                .is_some()
            {
                settled.push(t.elapsed());
            }
        }
        let settled = (settled.len() == reps).then_some(settled);
        rows.push(Row::new(
            &format!("chain {routers}, netrig"),
            routers,
            &up,
            &down,
            settled.as_deref(),
        ));
    }

    print_table(&rows, seed_reps);
    println!();
    println!(
        "ratio ip/netrig, medians: up {up_ratio:.1}x (target >= 10x: {}), down {down_ratio:.1}x",
        if up_ratio >= 10.0 { "met" } else { "NOT met" }
    );
    let per = |n: usize| rows.iter().find(|r| r.routers == n);
    if let (Some(a), Some(b)) = (per(100), per(1000)) {
        let (ua, ub) = (a.per_router(a.up_med), b.per_router(b.up_med));
        let (da, db) = (a.per_router(a.down_med), b.per_router(b.down_med));
        println!(
            "per router, up: {ua:.0} us at 100, {ub:.0} us at 1000 (x{:.2}); down: {da:.1} us at 100, {db:.1} us at 1000 (x{:.2}); {}",
            ub / ua,
            db / da,
            // A 10x larger lab at up to 1.5x the cost per router is within the
            // noise of a loaded 2-core machine; beyond that, say so plainly.
            if ub / ua <= 1.0 {
                "growth is linear or better"
            } else if ub / ua <= 1.5 {
                "growth is about linear (per-router cost within 1.5x at 10x the size)"
            } else {
                "growth is WORSE than linear"
            }
        );
        let total = b.up_med + b.down_med;
        println!(
            "chain 1000 up+down (median): {:.2} s (target < 10 s: {})",
            total.as_secs_f64(),
            if total < Duration::from_secs(10) {
                "met"
            } else {
                "NOT met"
            }
        );
        if let Some(s) = &b.settled_med {
            println!(
                "chain 1000 up+settled: {:.2} s (until the kernel had removed its devices)",
                (b.up_med + *s).as_secs_f64()
            );
        }
    }
    if !phases_1000.is_empty() {
        let p: Vec<String> = phases_1000
            .iter()
            .map(|(n, d)| format!("{n} {}", ms(*d)))
            .collect();
        println!("chain 1000 build phases (last rep): {}", p.join(", "));
    }
    println!("h0 -> h1 over the chain: {reach}");
    host_check();
}

/// netrig holds two descriptors per namespace (the namespace and its netlink
/// socket), so 1,000 routers need more than the usual soft limit of 1,024.
fn raise_nofile_limit() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain get/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Delete namespaces a previous run of this bench left behind when it was
/// killed before its guards could run (their PID no longer exists).
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("removing stale namespace {name} from an earlier run");
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

/// The seed built as lib.sh builds it: named namespaces, one `ip` process per
/// step. Dropping it deletes every namespace it made, so a panic or an error
/// half way through leaves nothing in /run/netns.
struct IpLab {
    /// (node, namespace name), in creation order; only the ones `ip netns add`
    /// was run for, so the guard never deletes anything it did not create.
    ns: Vec<(String, String)>,
    procs: usize,
}

impl Drop for IpLab {
    fn drop(&mut self) {
        for (_, ns) in self.ns.drain(..) {
            if Path::new("/run/netns").join(&ns).exists() {
                let _ = Command::new("ip")
                    .args(["netns", "del", &ns])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

fn fam(n: &IpNet) -> &'static str {
    if n.is_ipv4() {
        "-4"
    } else {
        "-6"
    }
}

impl IpLab {
    fn ns_of(&self, node: &str) -> &str {
        &self
            .ns
            .iter()
            .find(|(n, _)| n == node)
            .expect("known node")
            .1
    }

    /// One `ip` (or `ip netns exec ... sysctl`) process; its output, or its
    /// stderr as the error.
    fn run(&mut self, args: &[&str]) -> Result<String, String> {
        self.procs += 1;
        let out = Command::new("ip")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
        if !out.status.success() {
            return Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn sysctl(&mut self, node: &str, key: &str, value: &str) -> Result<(), String> {
        let ns = self.ns_of(node).to_string();
        let kv = format!("{key}={value}");
        self.run(&["netns", "exec", &ns, "sysctl", "-q", "-w", &kv])
            .map(drop)
    }

    /// Everything the topology asks for, generated from the same model netrig
    /// builds from. Addresses are `nodad` as netrig's are by default, and
    /// routes `proto static` as netrig's are; the ip script does not repeat
    /// netrig's per-namespace IPv6 hygiene sysctls (accept_ra, autoconf,
    /// router_solicitations, accept_dad), which only favours the baseline.
    fn up(topo: &Topology) -> Result<IpLab, String> {
        if !topo.lans.is_empty() || topo.dad {
            return Err("the ip baseline covers point-to-point links without DAD only".into());
        }
        let tag = format!(
            "{PREFIX}{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut lab = IpLab {
            ns: Vec::new(),
            procs: 0,
        };
        for node in &topo.nodes {
            let ns = format!("{tag}-{}", node.name);
            lab.ns.push((node.name.clone(), ns.clone()));
            lab.run(&["netns", "add", &ns])?;
            if node.forwarding {
                lab.sysctl(&node.name, "net.ipv4.ip_forward", "1")?;
                lab.sysctl(&node.name, "net.ipv6.conf.all.forwarding", "1")?;
            }
        }
        // Each veth is made inside one end's namespace with its peer placed
        // straight into the other's: nothing ever exists in the host's.
        for link in &topo.links {
            let [a, b] = &link.ends;
            let (na, nb) = (
                lab.ns_of(&a.node).to_string(),
                lab.ns_of(&b.node).to_string(),
            );
            let mut args: Vec<String> = vec!["-n".into(), na, "link".into(), "add".into()];
            args.push(a.name.clone());
            push_link_opts(&mut args, a);
            args.extend(["type", "veth", "peer", "name"].map(String::from));
            args.push(b.name.clone());
            push_link_opts(&mut args, b);
            args.extend(["netns".into(), nb]);
            lab.run(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        for node in &topo.nodes {
            let ns = lab.ns_of(&node.name).to_string();
            lab.run(&["-n", &ns, "link", "set", "lo", "up"])?;
            for a in &node.loopback {
                add_addr(&mut lab, &ns, a, "lo")?;
            }
            for iface in topo.ifaces_of(&node.name) {
                lab.run(&["-n", &ns, "link", "set", &iface.name, "up"])?;
                for a in &iface.addrs {
                    add_addr(&mut lab, &ns, a, &iface.name)?;
                }
            }
            for (k, v) in &node.sysctls {
                lab.sysctl(&node.name, k, v)?;
            }
        }
        for r in &topo.routes {
            let ns = lab.ns_of(&r.node).to_string();
            let dst = if r.dst.prefix == 0 {
                "default".to_string()
            } else {
                r.dst.to_string()
            };
            let mut args: Vec<String> = [
                "-n",
                &ns,
                fam(&r.dst),
                "route",
                "add",
                &dst,
                "proto",
                "static",
            ]
            .map(String::from)
            .to_vec();
            if let Some(m) = r.metric {
                args.extend(["metric".into(), m.to_string()]);
            }
            let hop_args = |args: &mut Vec<String>, h: &netrig_spec::Nexthop| {
                if let Some(gw) = h.gateway {
                    args.extend(["via".into(), gw.to_string()]);
                }
                if let Some(d) = &h.dev {
                    args.extend(["dev".into(), d.clone()]);
                }
            };
            if r.is_multipath() {
                for h in &r.nexthops {
                    args.push("nexthop".into());
                    hop_args(&mut args, h);
                    args.extend(["weight".into(), h.weight.to_string()]);
                }
            } else {
                hop_args(&mut args, &r.nexthops[0]);
            }
            lab.run(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        for nb in &topo.neighbors {
            let ns = lab.ns_of(&nb.node).to_string();
            let mac = netrig_spec::net::format_mac(&nb.mac);
            let addr = nb.addr.to_string();
            lab.run(&[
                "-n",
                &ns,
                "neigh",
                "replace",
                &addr,
                "lladdr",
                &mac,
                "dev",
                &nb.dev,
                "nud",
                "permanent",
            ])?;
        }
        lab.wait_ready(topo, Duration::from_secs(10))?;
        Ok(lab)
    }

    /// Poll each namespace with `ip -o link show` until every interface the
    /// topology declares there is `state UP`. No sleeps: the time one `ip`
    /// process takes is the polling interval, as a lib.sh busywait loop.
    fn wait_ready(&mut self, topo: &Topology, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        for node in &topo.nodes {
            let want: Vec<String> = topo.ifaces_of(&node.name).map(|i| i.name.clone()).collect();
            if want.is_empty() {
                continue;
            }
            let ns = self.ns_of(&node.name).to_string();
            loop {
                let out = self.run(&["-n", &ns, "-o", "link", "show"])?;
                let up = |name: &String| {
                    out.lines().any(|l| {
                        let dev = l.split_whitespace().nth(1).unwrap_or("");
                        let dev = dev.trim_end_matches(':');
                        dev.split('@').next() == Some(name.as_str()) && l.contains(" state UP ")
                    })
                };
                if want.iter().all(up) {
                    break;
                }
                if start.elapsed() > timeout {
                    return Err(format!(
                        "{}: links not up after {timeout:?}:\n{out}",
                        node.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// `ip netns del` for each namespace, as lib.sh's cleanup does.
    fn down(mut self) -> Result<(), String> {
        let names: Vec<String> = self.ns.iter().map(|(_, n)| n.clone()).collect();
        for ns in names {
            self.run(&["netns", "del", &ns])?;
            self.ns.retain(|(_, n)| *n != ns);
        }
        Ok(())
    }
}

fn push_link_opts(args: &mut Vec<String>, i: &netrig_spec::Iface) {
    if let Some(mac) = &i.mac {
        args.extend(["address".into(), netrig_spec::net::format_mac(mac)]);
    }
    if let Some(mtu) = i.mtu {
        args.extend(["mtu".into(), mtu.to_string()]);
    }
}

fn add_addr(lab: &mut IpLab, ns: &str, a: &IpNet, dev: &str) -> Result<(), String> {
    let a = a.to_string();
    let mut args = vec!["-n", ns, "addr", "add", &a, "dev", dev];
    if !a.contains('.') {
        args.push("nodad");
    }
    lab.run(&args).map(drop)
}

/// Compare what each node ends up with: addresses (without link-local ones,
/// which follow the random MACs), both routing tables, and the sysctls the
/// topology sets. Interface indexes and peer suffixes (`eth0@if11`) differ by
/// construction and are left out.
fn same_config(lab: &Lab, iplab: &IpLab, topo: &Topology) -> Result<(), String> {
    let views: &[&[&str]] = &[
        &["-br", "addr", "show"],
        &["-4", "route", "show"],
        &["-6", "route", "show"],
    ];
    // One entry per line, with a multipath route's indented `nexthop` lines
    // folded into it, sorted: the kernel lists connected routes in the order
    // the interfaces came up, which the two builds do not share.
    let clean = |s: &str| -> String {
        let mut entries: Vec<String> = Vec::new();
        for l in s.lines() {
            let words: Vec<&str> = l
                .split_whitespace()
                .filter(|w| !w.starts_with("fe80:"))
                .map(|w| w.split('@').next().unwrap_or(w))
                .collect();
            match entries.last_mut() {
                Some(last) if l.starts_with(char::is_whitespace) => {
                    *last += " ";
                    *last += &words.join(" ");
                }
                _ => entries.push(words.join(" ")),
            }
        }
        entries.retain(|l| !l.starts_with("fe80::/64"));
        entries.sort();
        entries.join("; ")
    };
    let mut diffs = String::new();
    for node in &topo.nodes {
        let mut keys: Vec<String> = node.sysctls.iter().map(|(k, _)| k.clone()).collect();
        if node.forwarding {
            keys.extend([
                "net.ipv4.ip_forward".into(),
                "net.ipv6.conf.all.forwarding".into(),
            ]);
        }
        let ns = iplab.ns_of(&node.name);
        let mut pairs: Vec<(String, String)> = Vec::new();
        for v in views {
            let mine = lab
                .command(&node.name, "ip")
                .map_err(|e| e.to_string())?
                .args(*v)
                .output()
                .map_err(|e| e.to_string())?;
            let theirs = Command::new("ip")
                .args(["-n", ns])
                .args(*v)
                .output()
                .map_err(|e| e.to_string())?;
            pairs.push((
                clean(&String::from_utf8_lossy(&mine.stdout)),
                clean(&String::from_utf8_lossy(&theirs.stdout)),
            ));
        }
        for k in &keys {
            let mine = lab.sysctl_get(&node.name, k).map_err(|e| e.to_string())?;
            let theirs = Command::new("ip")
                .args(["netns", "exec", ns, "sysctl", "-n", k])
                .output()
                .map_err(|e| e.to_string())?;
            pairs.push((
                format!("{k}={mine}"),
                format!("{k}={}", String::from_utf8_lossy(&theirs.stdout).trim()),
            ));
        }
        for (mine, theirs) in pairs {
            if mine != theirs {
                diffs += &format!("{}:\n netrig: {mine}\n ip:     {theirs}\n", node.name);
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs)
    }
}

/// A way to see when the kernel has torn down namespaces we let go of, which
/// it does later, on a workqueue (cleanup_net): a veth pair between a watcher
/// namespace we keep and a probe namespace we release right after the lab.
/// cleanup_net takes every namespace queued so far as one batch and removes
/// their devices together, and the probe is queued after the lab's, so when
/// the watcher's end of the pair disappears the lab's devices are gone too
/// (and any earlier batch has finished). The probe's last reference, like a
/// lab's, is dropped by its netlink socket after an RCU grace period, and a
/// membarrier (which waits for one) first gives the lab's callbacks their turn.
struct Probe {
    watcher: Netlink,
    _watcher_ns: OwnedFd,
    probe: Option<(OwnedFd, Netlink)>,
}

impl Probe {
    fn arm() -> std::io::Result<Probe> {
        let home = ns::current_netns()?;
        let (watcher_ns, mut watcher) = ns::with_new_netns(home.as_fd(), Netlink::open)?;
        let (probe_ns, probe_nl) = ns::with_new_netns(home.as_fd(), Netlink::open)?;
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL).header(&ifinfomsg(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, "watch0");
        m.nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.nest(IFLA_INFO_DATA);
        m.nest(VETH_INFO_PEER);
        m.raw(&ifinfomsg(0, 0, 0, 0));
        m.attr_str(IFLA_IFNAME, "probe0");
        m.attr_u32(IFLA_NET_NS_FD, probe_ns.as_raw_fd() as u32);
        m.end_nest().end_nest().end_nest();
        watcher
            .request(m, "creating the probe veth")
            .map_err(std::io::Error::other)?;
        Ok(Probe {
            watcher,
            _watcher_ns: watcher_ns,
            probe: Some((probe_ns, probe_nl)),
        })
    }

    /// Release the probe and wait until its veth is gone; None after `limit`.
    fn wait(mut self, limit: Duration) -> Option<Duration> {
        let t = Instant::now();
        // SAFETY: MEMBARRIER_CMD_GLOBAL takes no pointers.
        unsafe { libc::syscall(libc::SYS_membarrier, 1, 0, 0) };
        self.probe = None;
        while t.elapsed() < limit {
            let links = self.watcher.links().ok()?;
            if !links.iter().any(|l| l.name == "watch0") {
                return Some(t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }
}

/// One UDP datagram from h0 to h1 in each family, all the way along the chain
/// and inside the lab, with the largest TTL so that up to 253 routers work.
fn reachability(lab: &Lab, topo: &Topology, routers: usize) -> String {
    let h1 = topo.ifaces_of("h1").next().expect("h1 has eth0");
    let mut out = Vec::new();
    for a in &h1.addrs {
        let res = (|| -> Result<(), String> {
            let dst = SocketAddr::new(a.addr, 9999);
            let unspec: IpAddr = if a.is_ipv4() {
                "0.0.0.0".parse().unwrap()
            } else {
                "::".parse().unwrap()
            };
            let rx = lab
                .run_in("h1", || UdpSocket::bind(dst))
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            rx.set_read_timeout(Some(Duration::from_secs(3)))
                .map_err(|e| e.to_string())?;
            let tx = lab
                .run_in("h0", || UdpSocket::bind(SocketAddr::new(unspec, 0)))
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let hops: libc::c_int = 255;
            let (level, opt) = if a.is_ipv4() {
                (libc::IPPROTO_IP, libc::IP_TTL)
            } else {
                (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS)
            };
            // SAFETY: setsockopt with a c_int option on a socket we own.
            unsafe {
                libc::setsockopt(
                    tx.as_raw_fd(),
                    level,
                    opt,
                    &hops as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            tx.send_to(b"netrig", dst).map_err(|e| e.to_string())?;
            let mut buf = [0u8; 16];
            let (n, _) = rx.recv_from(&mut buf).map_err(|e| e.to_string())?;
            (&buf[..n] == b"netrig")
                .then_some(())
                .ok_or_else(|| "wrong payload".into())
        })();
        out.push(match res {
            Ok(()) => format!("{} ok", a.addr),
            Err(e) => format!("{} FAILED ({e})", a.addr),
        });
    }
    format!("{} (UDP over {routers} routers)", out.join(", "))
}

/// After the bench: none of our namespaces left, and the host's interfaces
/// untouched.
fn host_check() {
    let ours: Vec<String> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    let links = Command::new("ip")
        .args(["-br", "link"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    println!(
        "host after the bench: {} bench namespaces left in /run/netns; host links: {}",
        ours.len(),
        names.join(" ")
    );
}

struct Row {
    name: String,
    routers: usize,
    reps: usize,
    up_med: Duration,
    up_min: Duration,
    up_max: Duration,
    down_med: Duration,
    down_min: Duration,
    down_max: Duration,
    settled_med: Option<Duration>,
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

impl Row {
    fn new(
        name: &str,
        routers: usize,
        up: &[Duration],
        down: &[Duration],
        settled: Option<&[Duration]>,
    ) -> Row {
        Row {
            name: name.to_string(),
            routers,
            reps: up.len(),
            up_med: median(up),
            up_min: *up.iter().min().unwrap(),
            up_max: *up.iter().max().unwrap(),
            down_med: median(down),
            down_min: *down.iter().min().unwrap(),
            down_max: *down.iter().max().unwrap(),
            settled_med: settled.map(median),
        }
    }

    /// Microseconds per router.
    fn per_router(&self, d: Duration) -> f64 {
        d.as_secs_f64() * 1e6 / self.routers as f64
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn print_table(rows: &[Row], seed_reps: usize) {
    println!();
    println!("netrig-lab build bench (seed: {seed_reps} reps; medians with min..max)");
    println!(
        "{:<20} {:>4}  {:>10} {:>23}  {:>10} {:>23}  {:>10}",
        "case", "reps", "up", "up min..max", "down", "down min..max", "settled"
    );
    for r in rows {
        println!(
            "{:<20} {:>4}  {:>10} {:>23}  {:>10} {:>23}  {:>10}",
            r.name,
            r.reps,
            ms(r.up_med),
            format!("{}..{}", ms(r.up_min), ms(r.up_max)),
            ms(r.down_med),
            format!("{}..{}", ms(r.down_min), ms(r.down_max)),
            r.settled_med.map(ms).unwrap_or_else(|| "-".into()),
        );
    }
}
