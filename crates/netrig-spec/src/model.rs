//! The validated topology: what the lab crate builds. Every name here has been
//! checked, every address parsed, every reference resolved.

use crate::net::IpNet;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    pub name: String,
    /// Wait for real IPv6 duplicate address detection instead of configuring
    /// addresses `nodad`.
    pub dad: bool,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub lans: Vec<Lan>,
    pub routes: Vec<Route>,
    pub neighbors: Vec<Neighbor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Host,
    Router,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    pub forwarding: bool,
    /// `(key, value)` in file order, e.g. `("net.ipv4.fib_multipath_hash_policy", "1")`.
    pub sysctls: Vec<(String, String)>,
    /// Addresses on `lo`, such as an anycast VIP.
    pub loopback: Vec<IpNet>,
    /// Paths this node sees privately (`files` and `tmpfs`), parents first.
    pub mounts: Vec<NodeMount>,
}

/// A path only one node sees: every process started in the node (steps,
/// daemons, `netrig exec`) shares that view for the life of the lab; other
/// nodes and the host keep seeing what the machine has there.
#[derive(Debug, Clone, Serialize)]
pub struct NodeMount {
    /// Where the node sees it: an absolute path that exists on the machine.
    pub target: std::path::PathBuf,
    /// A file or directory (written relative to the topology file's folder,
    /// kept resolved) whose copy the node sees at `target`, so that nothing
    /// a daemon writes there reaches the source; `None` for `tmpfs`: an
    /// empty writable directory with the owner and mode of the one it covers.
    pub source: Option<std::path::PathBuf>,
}

/// One end of a link or a LAN port: an interface on a node.
#[derive(Debug, Clone, Serialize)]
pub struct Iface {
    pub node: String,
    pub name: String,
    pub addrs: Vec<IpNet>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
}

/// A point-to-point link: a veth pair, or with `impair` two TAP devices
/// joined by an impairment engine.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub ends: [Iface; 2],
    pub impair: Option<LinkImpair>,
}

/// How a link is impaired (`impair = {...}` on a `[[links]]` entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkImpair {
    /// Which engine must carry it.
    pub engine: EngineChoice,
    /// Seed of the engine's random decisions; `None`: the lab picks one and
    /// reports it, so a run can still be replayed.
    pub seed: Option<u64>,
    /// `dirs[i]`: what happens to the frames `ends[i]` sends towards the
    /// other end ([`Impairment::is_noop`] for a direction left alone).
    pub dirs: [Impairment; 2],
}

/// `engine = "auto" | "netem" | "userspace"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// Kernel netem where the kernel has it and no seed is asked for,
    /// netrig's user-space engine otherwise.
    Auto,
    /// Kernel netem only: refused with the reason where the kernel has no
    /// netem, never silently replaced.
    Netem,
    /// netrig's user-space engine even where netem exists.
    Userspace,
}

/// What one direction of a link does to the frames it carries, in the order
/// the engine applies it: rate and queue limit, loss, duplication,
/// corruption, then delay (with jitter, or skipped by `reorder`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impairment {
    pub delay: std::time::Duration,
    /// Spread of the delay: the half-width of a uniform distribution, or the
    /// standard deviation of a normal one. A frame's delay never goes below
    /// zero; jitter may reorder frames, as netem's does.
    pub jitter: std::time::Duration,
    pub distribution: Distribution,
    pub loss: Loss,
    /// Probability that a frame is sent twice.
    pub duplicate: f64,
    /// Probability that a frame skips the delay and so overtakes frames
    /// still delayed (needs a delay).
    pub reorder: f64,
    /// Probability that one random bit after the Ethernet header is flipped.
    pub corrupt: f64,
    /// Bits per second; `None` is unlimited.
    pub rate: Option<u64>,
    /// Most frames held in this direction (queued for the rate or delayed);
    /// one more is dropped (tail drop). netem's default is 1000.
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    Uniform,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    None,
    /// Each frame independently, with this probability.
    Random(f64),
    /// Gilbert-Elliott: a two-state Markov chain stepped once per frame.
    /// `p`: good to bad, `r`: bad to good; the frame is lost with
    /// `loss_good` in the good state and `loss_bad` in the bad one.
    Gilbert {
        p: f64,
        r: f64,
        loss_good: f64,
        loss_bad: f64,
    },
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            delay: std::time::Duration::ZERO,
            jitter: std::time::Duration::ZERO,
            distribution: Distribution::Uniform,
            loss: Loss::None,
            duplicate: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            rate: None,
            limit: 1000,
        }
    }
}

impl Impairment {
    /// True when every frame passes unchanged and at once.
    pub fn is_noop(&self) -> bool {
        self.delay.is_zero()
            && self.loss == Loss::None
            && self.duplicate == 0.0
            && self.reorder == 0.0
            && self.corrupt == 0.0
            && self.rate.is_none()
    }
}

/// A bridge joining the member interfaces, in its own switch namespace.
#[derive(Debug, Clone, Serialize)]
pub struct Lan {
    pub name: String,
    pub members: Vec<Iface>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Nexthop {
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
    /// As `ip route` writes it: 1..=256.
    pub weight: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub node: String,
    pub dst: IpNet,
    pub nexthops: Vec<Nexthop>,
    pub metric: Option<u32>,
}

impl Route {
    pub fn is_multipath(&self) -> bool {
        self.nexthops.len() > 1
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Neighbor {
    pub node: String,
    pub dev: String,
    pub addr: IpAddr,
    pub mac: [u8; 6],
}

impl Topology {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every interface of a node (links and LAN ports), in creation order.
    pub fn ifaces_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Iface> + 'a {
        self.links
            .iter()
            .flat_map(|l| l.ends.iter())
            .chain(self.lans.iter().flat_map(|l| l.members.iter()))
            .filter(move |i| i.node == node)
    }
}

/// `delay 20ms ±5ms normal, loss 1%, rate 10mbit limit 1000`, or `unimpaired`.
impl std::fmt::Display for Impairment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |p: f64| format!("{}%", (p * 1e6).round() / 1e4);
        let mut parts = Vec::new();
        if !self.delay.is_zero() {
            let mut d = format!("delay {:?}", self.delay);
            if !self.jitter.is_zero() {
                d += &format!(
                    " ±{:?} {}",
                    self.jitter,
                    match self.distribution {
                        Distribution::Uniform => "uniform",
                        Distribution::Normal => "normal",
                    }
                );
            }
            parts.push(d);
        }
        match self.loss {
            Loss::None => {}
            Loss::Random(p) => parts.push(format!("loss {}", pct(p))),
            Loss::Gilbert {
                p,
                r,
                loss_good,
                loss_bad,
            } => parts.push(format!(
                "gilbert p {} r {} loss_good {} loss_bad {}",
                pct(p),
                pct(r),
                pct(loss_good),
                pct(loss_bad)
            )),
        }
        for (name, p) in [
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
        ] {
            if p > 0.0 {
                parts.push(format!("{name} {}", pct(p)));
            }
        }
        if let Some(r) = self.rate {
            let rate = match r {
                r if r % 1_000_000_000 == 0 => format!("{}gbit", r / 1_000_000_000),
                r if r % 1_000_000 == 0 => format!("{}mbit", r / 1_000_000),
                r if r % 1_000 == 0 => format!("{}kbit", r / 1_000),
                r => format!("{r}bit"),
            };
            parts.push(format!("rate {rate}"));
        }
        if parts.is_empty() {
            return f.write_str("unimpaired");
        }
        write!(f, "{} (limit {})", parts.join(", "), self.limit)
    }
}
