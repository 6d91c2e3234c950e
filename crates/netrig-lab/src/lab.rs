//! Building a lab: one anonymous network namespace per node (and per LAN
//! switch), veth pairs created directly in their final namespaces, everything
//! configured over netlink in a few batched requests per namespace.
//!
//! Nothing is ever created in the namespace the lab is built from: a veth is
//! created by the socket of one end's namespace with its peer placed in the
//! other's by descriptor, so neither end ever exists in the host.

use crate::impair::{CounterPage, DirStats, ImpairInfo, ModelPage};
use crate::netlink::*;
use crate::ns::{self, Mode};
use netrig_spec::{Iface, Impairment, IpNet, Route, Topology};
use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first interface index a lab assigns; indexes then count up across the
/// whole lab. Chosen above the handful of fallback tunnel devices some kernels
/// create in every new netns.
const FIRST_IFINDEX: i32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("creating the namespace for `{node}`: {source}")]
    Namespace {
        node: String,
        #[source]
        source: std::io::Error,
    },
    #[error("giving node `{node}` its own files: {source}")]
    View {
        node: String,
        #[source]
        source: std::io::Error,
    },
    #[error("on node `{node}`: {source}")]
    Netlink {
        node: String,
        #[source]
        source: NetlinkError,
    },
    #[error("on node `{node}`: sysctl {key}={value}: {source}")]
    Sysctl {
        node: String,
        key: String,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("on node `{node}`: sysctl {key}: {source}")]
    SysctlRead {
        node: String,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("on node `{node}`: interface {iface} not ready after {waited:?} ({state})")]
    NotReady {
        node: String,
        iface: String,
        waited: Duration,
        state: String,
    },
    #[error("on node `{node}`: {what}: {source}")]
    Tune {
        node: String,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no node `{0}` in this lab")]
    UnknownNode(String),
    #[error("node `{node}` has no interface `{iface}`")]
    UnknownIface { node: String, iface: String },
    #[error("entering node `{node}`: {source}")]
    Enter {
        node: String,
        #[source]
        source: std::io::Error,
    },
    /// An impairment no engine here can provide: a reason to skip, not a failure.
    #[error("link {link}: {reason}")]
    EngineUnavailable { link: String, reason: String },
    #[error("link {link}: starting its impairment engine: {source}")]
    Engine {
        link: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{node}:{iface} is not an end of an impaired link")]
    NotImpaired { node: String, iface: String },
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// How long links may take to come up (and IPv6 DAD to finish when asked for).
    pub ready_timeout: Duration,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            ready_timeout: Duration::from_secs(10),
        }
    }
}

/// A namespace of the lab with its netlink socket and interface indexes.
pub struct NodeNs {
    pub name: String,
    fd: OwnedFd,
    nl: Netlink,
    ifindex: HashMap<String, i32>,
    /// TAP devices of impaired links: their indexes are the kernel's choice.
    taps: std::collections::HashSet<i32>,
    /// The node's own mount namespace, when it declares `files` or `tmpfs`.
    view: Option<OwnedFd>,
}

impl NodeNs {
    /// Record `name` with the next lab-wide index. Indexes are unique across the
    /// whole lab, not just per namespace: a veth whose peer had the same index
    /// would look like a non-stacked device to the kernel's linkwatch, which
    /// then delays its carrier event by up to a second.
    fn alloc(&mut self, name: &str, next: &mut i32) -> i32 {
        let i = *next;
        *next += 1;
        self.ifindex.insert(name.to_string(), i);
        i
    }
}

/// A running lab. Dropping it ends every process started in it and releases
/// every namespace; with nothing else holding them, the kernel removes them.
pub struct Lab {
    pub topo: Topology,
    pub mode: Mode,
    home: OwnedFd,
    nodes: Vec<NodeNs>,
    switches: Vec<NodeNs>,
    groups: Vec<i32>,
    /// How long each build phase took, for `--verbose` output and benchmarks.
    pub timings: Vec<(&'static str, Duration)>,
    /// Impaired links, in topology order; their engine threads stop when the
    /// lab drops.
    impaired: Vec<ImpairedLink>,
    counters: Option<Arc<CounterPage>>,
    models: Option<Arc<ModelPage>>,
    /// Per topology link: the engine its impairment uses (`None`: not
    /// impaired), decided before any link exists.
    engines: Vec<Option<(Engine, String)>>,
}

/// Which engine carries an impaired link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// A veth pair with a root netem qdisc on each end.
    Netem,
    /// TAP devices joined by netrig's own engine thread.
    Userspace,
}

/// An impaired link of a running lab.
pub struct ImpairedLink {
    /// `(node, iface)` of each end; direction `i` is what end `i` sends.
    pub ends: [(String, String); 2],
    pub info: ImpairInfo,
    engine: Option<crate::impair::EngineThread>,
    /// A netem link: each end's node (index in the lab) and ifindex.
    netem: Option<[(usize, i32); 2]>,
}

fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Keys that are not per network namespace are the host's: refused here
/// too, not only when files are checked.
fn netns_key(key: &str) -> std::io::Result<()> {
    if netrig_spec::nsonly::is_netns_sysctl(key) {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a network namespace sysctl",
        ))
    }
}

fn write_sysctl(node: &str, key: &str, value: &str) -> Result<(), LabError> {
    netns_key(key)
        .and_then(|()| std::fs::write(sysctl_path(key), value))
        .map_err(|source| LabError::Sysctl {
            node: node.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            source,
        })
}

fn read_sysctl(node: &str, key: &str) -> Result<String, LabError> {
    netns_key(key)
        .and_then(|()| std::fs::read_to_string(sysctl_path(key)))
        .map(|s| s.trim_end().to_string())
        .map_err(|source| LabError::SysctlRead {
            node: node.to_string(),
            key: key.to_string(),
            source,
        })
}

fn family(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    }
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Sysctls every node gets before its interfaces exist, so that they apply to
/// all of them: no router advertisements accepted (and so no autoconfiguration
/// and no router solicitations, which would be noise in captures), IPv6
/// addresses kept while a link is down, and no DAD unless the topology asks
/// for it. `all.accept_dad` is already 0 in a new
/// namespace. Kept short: each /proc/sys write costs a path walk that grows
/// with the number of namespaces alive.
fn baseline_sysctls(dad: bool) -> Vec<(&'static str, &'static str)> {
    // keep_addr_on_down: IPv4 keeps a link's addresses while it is down and
    // IPv6 by default does not, so a `link` step's down and up would
    // silently take the topology's IPv6 addresses away.
    let mut v = vec![
        ("net.ipv6.conf.default.accept_ra", "0"),
        ("net.ipv6.conf.default.keep_addr_on_down", "1"),
    ];
    if !dad {
        v.push(("net.ipv6.conf.default.accept_dad", "0"));
    }
    v
}

/// A lab holds two descriptors per namespace (the namespace and its netlink
/// socket): raise the soft limit towards the hard one for large topologies.
fn ensure_fd_room(namespaces: usize) {
    let want = (namespaces as u64) * 2 + 256;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reading and raising our own soft limit within the hard limit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

impl Lab {
    /// Build `topo` from the calling thread's network namespace, which is left
    /// untouched. Returns when every link is operationally up.
    pub fn build(topo: &Topology, opts: &BuildOptions) -> Result<Lab, LabError> {
        ensure_fd_room(topo.nodes.len() + topo.lans.len());
        let home = ns::current_netns().map_err(|source| LabError::Namespace {
            node: "(home)".into(),
            source,
        })?;
        let mut lab = Lab {
            topo: topo.clone(),
            mode: if std::fs::read_to_string("/proc/self/uid_map")
                .is_ok_and(|m| m.split_whitespace().nth(2) != Some("4294967295"))
            {
                Mode::Rootless
            } else {
                Mode::Root
            },
            home,
            nodes: Vec::with_capacity(topo.nodes.len()),
            switches: Vec::with_capacity(topo.lans.len()),
            groups: Vec::new(),
            timings: Vec::new(),
            impaired: Vec::new(),
            counters: None,
            models: None,
            engines: Vec::new(),
        };
        let mut t = Instant::now();
        let mut mark = |lab: &mut Lab, phase: &'static str| {
            lab.timings.push((phase, t.elapsed()));
            t = Instant::now();
        };
        lab.create_namespaces()?;
        lab.create_views()?;
        mark(&mut lab, "namespaces");
        lab.choose_engines()?;
        lab.create_links()?;
        lab.create_impaired_links()?;
        mark(&mut lab, "links");
        lab.configure()?;
        mark(&mut lab, "addresses, sysctls, routes");
        lab.wait_ready(opts.ready_timeout, None)?;
        mark(&mut lab, "links up");
        Ok(lab)
    }

    fn create_namespaces(&mut self) -> Result<(), LabError> {
        let dad = self.topo.dad;
        for node in &self.topo.nodes {
            let mut sysctls: Vec<(String, String)> = baseline_sysctls(dad)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if node.forwarding {
                sysctls.push(("net.ipv4.ip_forward".into(), "1".into()));
                sysctls.push(("net.ipv6.conf.all.forwarding".into(), "1".into()));
            }
            let name = node.name.clone();
            let (fd, res) = ns::with_new_netns(self.home.as_fd(), || {
                let nl = Netlink::open()?;
                let r = sysctls
                    .iter()
                    .try_for_each(|(k, v)| write_sysctl(&name, k, v));
                Ok((nl, r))
            })
            .map_err(|source| LabError::Namespace {
                node: node.name.clone(),
                source,
            })?;
            let (nl, sysctl_result) = res;
            sysctl_result?;
            self.nodes.push(NodeNs {
                name: node.name.clone(),
                fd,
                nl,
                ifindex: HashMap::from([("lo".to_string(), 1)]),
                taps: Default::default(),
                view: None,
            });
        }
        for lan in &self.topo.lans {
            let (fd, nl) =
                ns::with_new_netns(self.home.as_fd(), Netlink::open).map_err(|source| {
                    LabError::Namespace {
                        node: lan.name.clone(),
                        source,
                    }
                })?;
            self.switches.push(NodeNs {
                name: lan.name.clone(),
                fd,
                nl,
                ifindex: HashMap::from([("lo".to_string(), 1)]),
                taps: Default::default(),
                view: None,
            });
        }
        Ok(())
    }

    /// The mount namespaces of nodes that see files of their own.
    fn create_views(&mut self) -> Result<(), LabError> {
        let rootless = self.mode == Mode::Rootless;
        for (node, ns) in self.topo.nodes.iter().zip(&mut self.nodes) {
            if node.mounts.is_empty() {
                continue;
            }
            let view =
                crate::view::create(ns.fd.as_fd(), &node.mounts, rootless).map_err(|source| {
                    LabError::View {
                        node: node.name.clone(),
                        source,
                    }
                })?;
            ns.view = Some(view);
        }
        Ok(())
    }

    /// The mount namespace of a node that sees files of its own.
    pub fn view(&self, node: &str) -> Result<Option<BorrowedFd<'_>>, LabError> {
        Ok(self.node_ns(node)?.view.as_ref().map(|v| v.as_fd()))
    }

    fn node_pos(&self, name: &str) -> Result<usize, LabError> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| LabError::UnknownNode(name.to_string()))
    }

    fn create_links(&mut self) -> Result<(), LabError> {
        let mut per_ns: HashMap<(bool, usize), Vec<(Msg, String)>> = HashMap::new();
        let mut next = FIRST_IFINDEX;
        let topo = self.topo.clone();
        // Netem links are veth pairs too; the user-space engine's are TAPs.
        let veth: Vec<_> = topo
            .links
            .iter()
            .enumerate()
            .filter(|(i, _)| !matches!(self.engines[*i], Some((Engine::Userspace, _))))
            .map(|(_, l)| l)
            .collect();
        for link in veth {
            let [a, b] = &link.ends;
            let ai = self.node_pos(&a.node)?;
            let bi = self.node_pos(&b.node)?;
            let a_idx = self.nodes[ai].alloc(&a.name, &mut next);
            let b_idx = self.nodes[bi].alloc(&b.name, &mut next);
            let peer_fd = self.nodes[bi].fd.as_raw_fd();
            let msg = veth_msg(a, a_idx, None, b, b_idx, peer_fd);
            per_ns.entry((false, ai)).or_default().push((
                msg,
                format!(
                    "creating veth {}:{} <-> {}:{}",
                    a.node, a.name, b.node, b.name
                ),
            ));
        }
        for (li, lan) in topo.lans.iter().enumerate() {
            let sw = &mut self.switches[li];
            let br_idx = sw.alloc("br0", &mut next);
            let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
                .header(&ifinfomsg(0, br_idx, IFF_UP, IFF_UP));
            m.attr_str(IFLA_IFNAME, "br0");
            m.nest(IFLA_LINKINFO)
                .attr_str(IFLA_INFO_KIND, "bridge")
                .end_nest();
            let mut reqs = vec![(m, format!("creating bridge of lan {}", lan.name))];
            for (pi, member) in lan.members.iter().enumerate() {
                let mi = self.node_pos(&member.node)?;
                let m_idx = self.nodes[mi].alloc(&member.name, &mut next);
                let port = Iface {
                    node: lan.name.clone(),
                    name: format!("p{pi}"),
                    addrs: Vec::new(),
                    mac: None,
                    mtu: member.mtu,
                };
                let sw = &mut self.switches[li];
                let p_idx = sw.alloc(&port.name, &mut next);
                let peer_fd = self.nodes[mi].fd.as_raw_fd();
                reqs.push((
                    veth_msg(&port, p_idx, Some(br_idx), member, m_idx, peer_fd),
                    format!(
                        "joining {}:{} to lan {}",
                        member.node, member.name, lan.name
                    ),
                ));
            }
            per_ns.insert((true, li), reqs);
        }
        for ((is_switch, i), reqs) in per_ns {
            let ns = if is_switch {
                &mut self.switches[i]
            } else {
                &mut self.nodes[i]
            };
            ns.nl.batch(reqs).map_err(|source| LabError::Netlink {
                node: ns.name.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Which engine each impaired link uses: kernel netem where the kernel
    /// has it (found by trying it in a lab namespace, not by guessing) and
    /// the link asks for no seed, netrig's own engine otherwise;
    /// `engine = "netem"` on a kernel without it is refused with the reason.
    fn choose_engines(&mut self) -> Result<(), LabError> {
        use netrig_spec::EngineChoice;
        let topo = self.topo.clone();
        let probe = if topo.links.iter().any(|l| {
            l.impair
                .as_ref()
                .is_some_and(|i| i.engine != EngineChoice::Userspace)
        }) {
            crate::impair::probe_netem(&mut self.nodes[0].nl)
        } else {
            Err("engine = \"userspace\" asked for".to_string())
        };
        for link in &topo.links {
            let [a, b] = &link.ends;
            let desc = format!("{}:{} <-> {}:{}", a.node, a.name, b.node, b.name);
            let choice = link.impair.as_ref().map(|imp| match (imp.engine, &probe) {
                (EngineChoice::Netem, Err(why)) => Err(LabError::EngineUnavailable {
                    link: desc.clone(),
                    reason: format!("engine = \"netem\" asked for, but {why}"),
                }),
                (EngineChoice::Netem, Ok(())) => {
                    Ok((Engine::Netem, "engine = \"netem\" asked for".to_string()))
                }
                (EngineChoice::Userspace, _) => Ok((
                    Engine::Userspace,
                    "engine = \"userspace\" asked for".to_string(),
                )),
                // A seed asks for decisions a replay can repeat: netrig's
                // engine guarantees them; netem ignores a seed before Linux
                // 6.4 and draws per frame as its options make it.
                (EngineChoice::Auto, Ok(())) if imp.seed.is_some() => Ok((
                    Engine::Userspace,
                    "a seed asks for netrig's replayable decisions".to_string(),
                )),
                (EngineChoice::Auto, Ok(())) => {
                    Ok((Engine::Netem, "this kernel has netem".to_string()))
                }
                (EngineChoice::Auto, Err(why)) => Ok((Engine::Userspace, why.clone())),
            });
            self.engines.push(choice.transpose()?);
        }
        Ok(())
    }

    /// Impaired links: for netem, a root netem qdisc on each end of the
    /// veth pair `create_links` made; for netrig's engine, a TAP device per
    /// end (created after every veth, as the kernel picks a TAP's index and
    /// must not take one the lab assigns) and an engine thread joining them.
    fn create_impaired_links(&mut self) -> Result<(), LabError> {
        let topo = self.topo.clone();
        let impaired: Vec<_> = topo
            .links
            .iter()
            .zip(self.engines.clone())
            .filter_map(|(l, e)| Some((l, l.impair.as_ref()?, e?)))
            .collect();
        if impaired.is_empty() {
            return Ok(());
        }
        let counters =
            Arc::new(
                CounterPage::new(impaired.len()).map_err(|source| LabError::Engine {
                    link: "(counters)".into(),
                    source,
                })?,
            );
        self.counters = Some(counters.clone());
        let models =
            Arc::new(
                ModelPage::new(impaired.len()).map_err(|source| LabError::Engine {
                    link: "(models)".into(),
                    source,
                })?,
            );
        self.models = Some(models.clone());
        for (li, (link, imp, (engine, why))) in impaired.into_iter().enumerate() {
            let [a, b] = &link.ends;
            let desc = format!("{}:{} <-> {}:{}", a.node, a.name, b.node, b.name);
            let ends = [
                (a.node.clone(), a.name.clone()),
                (b.node.clone(), b.name.clone()),
            ];
            if engine == Engine::Netem {
                let seed = imp.seed.unwrap_or_else(random_seed);
                let mut at = [(0, 0); 2];
                for (d, end) in [a, b].into_iter().enumerate() {
                    let ni = self.node_pos(&end.node)?;
                    let node = &mut self.nodes[ni];
                    let idx = node.ifindex[&end.name];
                    let m = crate::netem::qdisc_msg(idx, &imp.dirs[d], Some(seed), false);
                    node.nl
                        .request(m, format!("adding netem to {} of {desc}", end.name))
                        .map_err(|source| LabError::Netlink {
                            node: node.name.clone(),
                            source,
                        })?;
                    at[d] = (ni, idx);
                }
                // The model page holds netem links' models too, for
                // `impairment_model` and `netrig link`.
                models
                    .write(li, [Some(&imp.dirs[0]), Some(&imp.dirs[1])])
                    .map_err(|source| LabError::Engine {
                        link: desc.clone(),
                        source,
                    })?;
                self.impaired.push(ImpairedLink {
                    ends,
                    info: ImpairInfo {
                        engine: "netem".into(),
                        why,
                        seed,
                        realtime: false,
                    },
                    engine: None,
                    netem: Some(at),
                });
                continue;
            }
            let mut taps = Vec::with_capacity(2);
            let mut reqs = Vec::with_capacity(2);
            for end in [a, b] {
                let ni = self.node_pos(&end.node)?;
                let (fd, idx) = ns::in_netns(self.home.as_fd(), self.nodes[ni].fd.as_fd(), || {
                    let fd = crate::impair::open_tap(&end.name)?;
                    let cname = std::ffi::CString::new(end.name.as_str())
                        .map_err(|_| std::io::ErrorKind::InvalidInput)?;
                    // SAFETY: a NUL-terminated name.
                    let idx = unsafe { libc::if_nametoindex(cname.as_ptr()) } as i32;
                    if idx == 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok((fd, idx))
                })
                .and_then(|r| r)
                .map_err(|source| LabError::Engine {
                    link: desc.clone(),
                    source,
                })?;
                let node = &mut self.nodes[ni];
                node.ifindex.insert(end.name.clone(), idx);
                node.taps.insert(idx);
                let mut m = Msg::new(RTM_NEWLINK, 0).header(&ifinfomsg(0, idx, 0, 0));
                if let Some(mac) = end.mac {
                    m.attr(IFLA_ADDRESS, &mac);
                }
                if let Some(mtu) = end.mtu {
                    m.attr_u32(IFLA_MTU, mtu);
                }
                reqs.push((ni, m, format!("setting up TAP {} of {desc}", end.name)));
                taps.push(fd);
            }
            for (ni, m, what) in reqs {
                let node = &mut self.nodes[ni];
                node.nl
                    .request(m, what)
                    .map_err(|source| LabError::Netlink {
                        node: node.name.clone(),
                        source,
                    })?;
            }
            let seed = imp.seed.unwrap_or_else(random_seed);
            let [ta, tb]: [OwnedFd; 2] = taps.try_into().map_err(|_| LabError::Engine {
                link: desc.clone(),
                source: std::io::ErrorKind::InvalidData.into(),
            })?;
            let engine = crate::impair::spawn(
                [ta, tb],
                &imp.dirs,
                seed,
                counters.clone(),
                models.clone(),
                li,
                format!("{}:{}", a.node, a.name),
            )
            .map_err(|source| LabError::Engine {
                link: desc.clone(),
                source,
            })?;
            self.impaired.push(ImpairedLink {
                ends,
                info: ImpairInfo {
                    engine: "userspace".into(),
                    why,
                    seed,
                    realtime: engine.realtime,
                },
                engine: Some(engine),
                netem: None,
            });
        }
        Ok(())
    }

    fn configure(&mut self) -> Result<(), LabError> {
        let topo = self.topo.clone();
        let dad = topo.dad;
        for (ni, node) in topo.nodes.iter().enumerate() {
            let mut reqs: Vec<(Msg, String)> = Vec::new();
            let lo = Msg::new(RTM_NEWLINK, 0).header(&ifinfomsg(0, 1, IFF_UP, IFF_UP));
            reqs.push((lo, "bringing lo up".into()));
            for a in &node.loopback {
                reqs.push((addr_msg(a, 1, dad), format!("adding {a} to lo")));
            }
            let ifaces: Vec<&Iface> = topo.ifaces_of(&node.name).collect();
            for iface in &ifaces {
                let idx = self.nodes[ni].ifindex[&iface.name];
                let up = Msg::new(RTM_NEWLINK, 0).header(&ifinfomsg(0, idx, IFF_UP, IFF_UP));
                reqs.push((up, format!("bringing {} up", iface.name)));
                for a in &iface.addrs {
                    reqs.push((
                        addr_msg(a, idx, dad),
                        format!("adding {a} to {}", iface.name),
                    ));
                }
            }
            let ns = &mut self.nodes[ni];
            ns.nl.batch(reqs).map_err(|source| LabError::Netlink {
                node: node.name.clone(),
                source,
            })?;
            // Per-node sysctls come after the interfaces exist so that
            // interface-specific keys (net.ipv4.conf.eth1.rp_filter) resolve.
            if !node.sysctls.is_empty() {
                let fd = self.nodes[ni].fd.as_fd();
                ns::in_netns(self.home.as_fd(), fd, || {
                    node.sysctls
                        .iter()
                        .try_for_each(|(k, v)| write_sysctl(&node.name, k, v))
                })
                .map_err(|source| LabError::Enter {
                    node: node.name.clone(),
                    source,
                })??;
            }
        }
        let mut per_node: HashMap<usize, Vec<(Msg, String)>> = HashMap::new();
        for route in &topo.routes {
            let ni = self.node_pos(&route.node)?;
            let msg = self.route_msg(ni, route, NLM_F_CREATE | NLM_F_EXCL)?;
            per_node
                .entry(ni)
                .or_default()
                .push((msg, format!("adding route to {}", route.dst)));
        }
        for nb in &topo.neighbors {
            let ni = self.node_pos(&nb.node)?;
            let m = self.neighbor_msg(ni, &nb.dev, &nb.addr, Some(&nb.mac))?;
            per_node
                .entry(ni)
                .or_default()
                .push((m, format!("adding neighbour {} on {}", nb.addr, nb.dev)));
        }
        for (ni, reqs) in per_node {
            let ns = &mut self.nodes[ni];
            ns.nl.batch(reqs).map_err(|source| LabError::Netlink {
                node: ns.name.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn iface_index(&self, ni: usize, name: &str) -> Result<i32, LabError> {
        self.nodes[ni]
            .ifindex
            .get(name)
            .copied()
            .ok_or_else(|| LabError::UnknownIface {
                node: self.nodes[ni].name.clone(),
                iface: name.to_string(),
            })
    }

    /// The interface of node `ni` whose subnet holds `gw`.
    fn iface_for_gateway(&self, ni: usize, gw: IpAddr) -> Option<i32> {
        let node = &self.nodes[ni].name;
        self.topo
            .ifaces_of(node)
            .find(|i| i.addrs.iter().any(|a| a.contains(gw)))
            .and_then(|i| self.nodes[ni].ifindex.get(&i.name).copied())
    }

    fn route_msg(&self, ni: usize, route: &Route, flags: u16) -> Result<Msg, LabError> {
        let fam = family(&route.dst.addr);
        let dev_only = route.nexthops.iter().all(|h| h.gateway.is_none());
        let scope = if dev_only && route.dst.is_ipv4() {
            RT_SCOPE_LINK
        } else {
            RT_SCOPE_UNIVERSE
        };
        let mut m = Msg::new(RTM_NEWROUTE, flags).header(&rtmsg(
            fam,
            route.dst.prefix,
            RT_TABLE_MAIN,
            RTPROT_STATIC,
            scope,
            RTN_UNICAST,
        ));
        if route.dst.prefix > 0 {
            m.attr(RTA_DST, &ip_bytes(&route.dst.addr));
        }
        if let Some(metric) = route.metric {
            m.attr_u32(RTA_PRIORITY, metric);
        }
        let mut hops = Vec::new();
        for h in &route.nexthops {
            let idx = match (&h.dev, h.gateway) {
                (Some(d), _) => self.iface_index(ni, d)?,
                (None, Some(gw)) => self.iface_for_gateway(ni, gw).unwrap_or(0),
                (None, None) => 0,
            };
            hops.push((h, idx));
        }
        if let [(h, idx)] = hops.as_slice() {
            if let Some(gw) = h.gateway {
                m.attr(RTA_GATEWAY, &ip_bytes(&gw));
            }
            if *idx != 0 {
                m.attr_u32(RTA_OIF, *idx as u32);
            }
        } else {
            m.nest(RTA_MULTIPATH);
            for (h, idx) in hops {
                // The kernel stores the weight minus one (rtnh_hops).
                m.nexthop((h.weight - 1) as u8, idx);
                if let Some(gw) = h.gateway {
                    m.attr(RTA_GATEWAY, &ip_bytes(&gw));
                }
                m.end_nest();
            }
            m.end_nest();
        }
        Ok(m)
    }

    /// Wait until every interface of the lab (or only those of `only`, by
    /// index) can carry its first packet.
    fn wait_ready(
        &mut self,
        timeout: Duration,
        only: Option<&std::collections::HashSet<i32>>,
    ) -> Result<(), LabError> {
        let start = Instant::now();
        let home = self.home.as_fd();
        let all: Vec<&mut NodeNs> = self
            .nodes
            .iter_mut()
            .chain(self.switches.iter_mut())
            .filter(|ns| {
                only.is_none_or(|set| ns.ifindex.values().chain(&ns.taps).any(|i| set.contains(i)))
            })
            .collect();
        for ns in all {
            let mut pause = Duration::from_micros(100);
            // Interfaces whose first frame went out, and the drop counters of
            // those whose proof frame is in flight.
            let mut proven: std::collections::HashSet<i32> = std::collections::HashSet::new();
            let mut probing: HashMap<i32, u64> = HashMap::new();
            loop {
                let links = ns.nl.links().map_err(|source| LabError::Netlink {
                    node: ns.name.clone(),
                    source,
                })?;
                // Running is not enough: linkwatch marks a link operationally
                // up a moment before it attaches the real qdisc, and until
                // then the `noop` qdisc drops everything (the first ARP
                // request of a test, typically, costing a 1 s retry).
                let ours_index = |index: i32| {
                    (index >= FIRST_IFINDEX || ns.taps.contains(&index))
                        && only.is_none_or(|set| set.contains(&index))
                };
                let ours = |l: &LinkInfo| ours_index(l.index);
                let not_up = links
                    .iter()
                    .filter(|l| ours(l))
                    .find(|l| l.flags & IFF_RUNNING == 0 || l.qdisc.as_deref() == Some("noop"));
                let mut pending = not_up.map(|l| {
                    let state = if l.flags & IFF_RUNNING == 0 {
                        "operationally down"
                    } else {
                        "qdisc not attached yet"
                    };
                    (l.name.clone(), state.to_string())
                });
                if pending.is_none() {
                    let addrs = ns
                        .nl
                        .dump(Msg::new(RTM_GETADDR, 0).header(&ifaddrmsg(
                            libc::AF_INET6 as u8,
                            0,
                            0,
                            0,
                            0,
                        )))
                        .map_err(|source| LabError::Netlink {
                            node: ns.name.clone(),
                            source,
                        })?;
                    let addrs: Vec<_> = addrs
                        .iter()
                        .filter_map(|p| parse_addr(p))
                        .filter(|a| ours_index(a.index))
                        .collect();
                    for a in &addrs {
                        if a.flags & IFA_F_DADFAILED != 0 {
                            return Err(LabError::NotReady {
                                node: ns.name.clone(),
                                iface: format!("index {}", a.index),
                                waited: start.elapsed(),
                                state: format!("duplicate address detection failed for {}", a.addr),
                            });
                        }
                        // Even without DAD an address is tentative until the
                        // kernel's DAD work has run once.
                        if a.flags & IFA_F_TENTATIVE != 0 {
                            pending = Some((
                                format!("index {}", a.index),
                                format!("{} still tentative (DAD)", a.addr),
                            ));
                            break;
                        }
                    }
                    // A router sends the neighbour solicitation for a packet
                    // it forwards from its link-local address, and without
                    // one skips it silently until the 1 s retransmission
                    // (seen: ~1 in 60 fresh labs built beside others lost
                    // the first forwarded IPv6 packet). The kernel adds that
                    // address a moment after the link is running.
                    if pending.is_none() {
                        let missing = links.iter().filter(|l| ours(l)).find(|l| {
                            l.link_type == ARPHRD_ETHER
                                && l.makes_link_local
                                && !addrs.iter().any(|a| {
                                    a.index == l.index
                                        && matches!(a.addr, IpAddr::V6(v6) if v6.is_unicast_link_local())
                                })
                        });
                        if let Some(l) = missing {
                            pending = Some((
                                l.name.clone(),
                                "no IPv6 link-local address yet".to_string(),
                            ));
                        }
                    }
                    if pending.is_none() {
                        pending =
                            unjoined_solicited_node(&mut ns.nl, &addrs).map_err(|source| {
                                LabError::Netlink {
                                    node: ns.name.clone(),
                                    source,
                                }
                            })?;
                    }
                }
                if pending.is_none() {
                    // Flags and qdisc names can say ready while a transmit
                    // queue still drops (seen: ~1 in 40 fresh labs lost its
                    // first ARP request to a QDISC_DROP). Proof instead: one
                    // frame per interface must leave without a drop.
                    let parsed: Vec<LinkInfo> = links.into_iter().filter(|l| ours(l)).collect();
                    let mut dropped = false;
                    for l in &parsed {
                        if let Some(before) = probing.remove(&l.index) {
                            if l.stats.tx_dropped > before {
                                if std::env::var_os("NETRIG_DEBUG_READY").is_some() {
                                    eprintln!("{:?} {}:{} proof dropped (tx_dropped {} -> {}), qdisc {:?}", start.elapsed(), ns.name, l.name, before, l.stats.tx_dropped, l.qdisc);
                                }
                                dropped = true;
                            } else {
                                proven.insert(l.index);
                            }
                        }
                    }
                    let unproven: Vec<&LinkInfo> = parsed
                        .iter()
                        .filter(|l| !proven.contains(&l.index))
                        .collect();
                    if let Some(first) = unproven.first() {
                        pending = Some((
                            first.name.clone(),
                            "its first frame was dropped (transmit queue not active yet)"
                                .to_string(),
                        ));
                        for l in &unproven {
                            probing.insert(l.index, l.stats.tx_dropped);
                        }
                        let targets: Vec<(i32, Vec<u8>)> =
                            unproven.iter().map(|l| (l.index, l.mac.clone())).collect();
                        let refused =
                            ns::in_netns(home, ns.fd.as_fd(), || send_proof_frames(&targets))
                                .and_then(|r| r)
                                .map_err(|source| LabError::Enter {
                                    node: ns.name.clone(),
                                    source,
                                })?;
                        for i in &refused {
                            probing.remove(i);
                            dropped = true;
                        }
                        if !dropped {
                            // Nothing failed yet: check at once.
                            continue;
                        }
                    }
                }
                match pending {
                    None => break,
                    Some((iface, state)) if start.elapsed() > timeout => {
                        return Err(LabError::NotReady {
                            node: ns.name.clone(),
                            iface,
                            waited: start.elapsed(),
                            state,
                        })
                    }
                    Some((iface, state)) => {
                        if std::env::var_os("NETRIG_DEBUG_READY").is_some() {
                            eprintln!("{:?} {}:{iface} {state}", start.elapsed(), ns.name);
                        }
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(20));
                    }
                }
            }
        }
        Ok(())
    }

    fn node_ns(&self, node: &str) -> Result<&NodeNs, LabError> {
        self.nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| LabError::UnknownNode(node.to_string()))
    }

    fn node_ns_mut(&mut self, node: &str) -> Result<&mut NodeNs, LabError> {
        self.nodes
            .iter_mut()
            .find(|n| n.name == node)
            .ok_or_else(|| LabError::UnknownNode(node.to_string()))
    }

    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    /// The namespace descriptor of a node.
    pub fn netns(&self, node: &str) -> Result<BorrowedFd<'_>, LabError> {
        Ok(self.node_ns(node)?.fd.as_fd())
    }

    /// Namespace descriptors of the LAN switches, by LAN name.
    pub fn switch_netns(&self) -> impl Iterator<Item = (&str, BorrowedFd<'_>)> {
        self.switches
            .iter()
            .map(|s| (s.name.as_str(), s.fd.as_fd()))
    }

    /// Run `f` on this thread inside `node`'s namespace. Sockets `f` opens stay
    /// in that namespace after it returns.
    pub fn run_in<T>(&self, node: &str, f: impl FnOnce() -> T) -> Result<T, LabError> {
        let ns = self.node_ns(node)?;
        ns::in_netns(self.home.as_fd(), ns.fd.as_fd(), f).map_err(|source| LabError::Enter {
            node: node.to_string(),
            source,
        })
    }

    /// A command that will run inside `node`, in its own process group, and be
    /// killed if the thread that spawns it dies (spawn it from a thread that
    /// lives as long as the lab).
    pub fn command(
        &self,
        node: &str,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Result<Command, LabError> {
        let ns = self.node_ns(node)?;
        let fd: RawFd = ns.fd.as_raw_fd();
        let view: Option<RawFd> = ns.view.as_ref().map(|v| v.as_raw_fd());
        let mut cmd = Command::new(program);
        cmd.process_group(0);
        // SAFETY: only async-signal-safe syscalls run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The node's shared view has the node's /sys already.
                match view {
                    Some(v) => crate::view::join(v)?,
                    None => {
                        crate::ns::remount_sys();
                    }
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        Ok(cmd)
    }

    /// Spawn a command in `node`; its whole process group is killed when the lab drops.
    pub fn spawn(
        &mut self,
        node: &str,
        cmd: &mut Command,
    ) -> Result<std::process::Child, LabError> {
        let _ = self.node_ns(node)?;
        let child = cmd.spawn().map_err(|source| LabError::Enter {
            node: node.to_string(),
            source,
        })?;
        self.groups.push(child.id() as i32);
        Ok(child)
    }

    pub fn sysctl_get(&self, node: &str, key: &str) -> Result<String, LabError> {
        self.run_in(node, || read_sysctl(node, key))?
    }

    /// Set a sysctl and return its previous value, for a later restore.
    pub fn sysctl_set(&self, node: &str, key: &str, value: &str) -> Result<String, LabError> {
        self.run_in(node, || {
            let old = read_sysctl(node, key)?;
            write_sysctl(node, key, value)?;
            Ok(old)
        })?
    }

    /// All interfaces of a node with their counters.
    pub fn links(&mut self, node: &str) -> Result<Vec<LinkInfo>, LabError> {
        let ns = self.node_ns_mut(node)?;
        let name = ns.name.clone();
        ns.nl
            .links()
            .map_err(|source| LabError::Netlink { node: name, source })
    }

    /// Every interface of every namespace of the lab, nodes and the hidden
    /// switch namespaces of LANs alike, by namespace name.
    pub fn all_links(&mut self) -> Result<Vec<(String, Vec<LinkInfo>)>, LabError> {
        let mut out = Vec::new();
        for ns in self.nodes.iter_mut().chain(self.switches.iter_mut()) {
            let links = ns.nl.links().map_err(|source| LabError::Netlink {
                node: ns.name.clone(),
                source,
            })?;
            out.push((ns.name.clone(), links));
        }
        Ok(out)
    }

    pub fn link_stats(&mut self, node: &str, iface: &str) -> Result<LinkStats, LabError> {
        self.links(node)?
            .into_iter()
            .find(|l| l.name == iface)
            .map(|l| l.stats)
            .ok_or_else(|| LabError::UnknownIface {
                node: node.to_string(),
                iface: iface.to_string(),
            })
    }

    pub fn addrs(&mut self, node: &str) -> Result<Vec<AddrInfo>, LabError> {
        let ns = self.node_ns_mut(node)?;
        let name = ns.name.clone();
        let msgs = ns
            .nl
            .dump(Msg::new(RTM_GETADDR, 0).header(&ifaddrmsg(0, 0, 0, 0, 0)))
            .map_err(|source| LabError::Netlink { node: name, source })?;
        Ok(msgs.iter().filter_map(|p| parse_addr(p)).collect())
    }

    /// Routes of the main table, both families.
    pub fn routes(&mut self, node: &str) -> Result<Vec<RouteInfo>, LabError> {
        let ns = self.node_ns_mut(node)?;
        let name = ns.name.clone();
        let msgs = ns
            .nl
            .dump(Msg::new(RTM_GETROUTE, 0).header(&rtmsg(0, 0, 0, 0, 0, 0)))
            .map_err(|source| LabError::Netlink { node: name, source })?;
        Ok(msgs
            .iter()
            .filter_map(|p| parse_route(p))
            .filter(|r| r.table == RT_TABLE_MAIN as u32)
            .collect())
    }

    /// Replace a route of the topology (e.g. to change weights between cases).
    pub fn replace_route(&mut self, route: &Route) -> Result<(), LabError> {
        let ni = self.node_pos(&route.node)?;
        let msg = self.route_msg(ni, route, NLM_F_CREATE | NLM_F_REPLACE)?;
        let ns = &mut self.nodes[ni];
        ns.nl
            .request(msg, format!("replacing route to {}", route.dst))
            .map_err(|source| LabError::Netlink {
                node: ns.name.clone(),
                source,
            })
    }

    /// A permanent neighbour entry (`mac`), or its deletion (`None`).
    fn neighbor_msg(
        &self,
        ni: usize,
        dev: &str,
        addr: &IpAddr,
        mac: Option<&[u8; 6]>,
    ) -> Result<Msg, LabError> {
        let idx = self.iface_index(ni, dev)?;
        let (kind, flags) = match mac {
            Some(_) => (RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE),
            None => (RTM_DELNEIGH, 0),
        };
        let mut m = Msg::new(kind, flags).header(&ndmsg(family(addr), idx, NUD_PERMANENT));
        m.attr(NDA_DST, &ip_bytes(addr));
        if let Some(mac) = mac {
            m.attr(NDA_LLADDR, mac);
        }
        Ok(m)
    }

    /// Add or replace a permanent neighbour entry (`mac`), or delete the
    /// entry for `addr` on `dev` (`None`; deleting an absent one is an error).
    pub fn set_neighbor(
        &mut self,
        node: &str,
        dev: &str,
        addr: IpAddr,
        mac: Option<[u8; 6]>,
    ) -> Result<(), LabError> {
        let ni = self.node_pos(node)?;
        let m = self.neighbor_msg(ni, dev, &addr, mac.as_ref())?;
        let what = match mac {
            Some(_) => format!("setting neighbour {addr} on {dev}"),
            None => format!("deleting neighbour {addr} on {dev}"),
        };
        let ns = &mut self.nodes[ni];
        ns.nl.request(m, what).map_err(|source| LabError::Netlink {
            node: ns.name.clone(),
            source,
        })
    }

    /// Bring an interface administratively up or down. Up returns once it
    /// and its veth peer carry their first packets again, as after a build:
    /// taking a link down detaches its qdisc and its peer's.
    pub fn set_link(&mut self, node: &str, iface: &str, up: bool) -> Result<(), LabError> {
        let ni = self.node_pos(node)?;
        let idx = self.iface_index(ni, iface)?;
        let m = Msg::new(RTM_NEWLINK, 0).header(&ifinfomsg(
            0,
            idx,
            if up { IFF_UP } else { 0 },
            IFF_UP,
        ));
        let ns = &mut self.nodes[ni];
        let nl_err = |source| LabError::Netlink {
            node: node.to_string(),
            source,
        };
        ns.nl
            .request(
                m,
                format!("setting {iface} {}", if up { "up" } else { "down" }),
            )
            .map_err(nl_err)?;
        if !up {
            return Ok(());
        }
        // Indexes are unique across the lab, so the peer's names it anywhere.
        let peer = ns
            .nl
            .links()
            .map_err(nl_err)?
            .into_iter()
            .find(|l| l.index == idx)
            .and_then(|l| l.link);
        let scope: std::collections::HashSet<i32> =
            [Some(idx), peer].into_iter().flatten().collect();
        self.wait_ready(BuildOptions::default().ready_timeout, Some(&scope))
    }

    /// The impaired links, in topology order.
    pub fn impaired_links(&self) -> &[ImpairedLink] {
        &self.impaired
    }

    /// The shared counters of the impaired links, for a holder to publish.
    pub fn impair_counters(&self) -> Option<&CounterPage> {
        self.counters.as_deref()
    }

    /// The shared models of the impaired links, for a holder to publish.
    pub fn impair_models(&self) -> Option<&ModelPage> {
        self.models.as_deref()
    }

    /// The current model of the impaired link with the end `node:iface`:
    /// `[what node:iface sends, what it receives]`.
    pub fn impairment_model(&self, node: &str, iface: &str) -> Result<[Impairment; 2], LabError> {
        let (li, d) = self.impaired_end(node, iface)?;
        let m = self
            .models
            .as_deref()
            .ok_or_else(|| LabError::NotImpaired {
                node: node.into(),
                iface: iface.into(),
            })?;
        let dirs = m.read(li);
        Ok([dirs[d].clone(), dirs[1 - d].clone()])
    }

    /// Change the impairment of the link with the end `node:iface` while it
    /// runs: `sends` for what `node:iface` sends, `receives` for what it
    /// receives (`None`: left as it is). Returns once the engine has taken
    /// the change, so that frames sent after it meet the new model. Its
    /// counters go on counting.
    pub fn set_impairment(
        &self,
        node: &str,
        iface: &str,
        sends: Option<&Impairment>,
        receives: Option<&Impairment>,
    ) -> Result<(), LabError> {
        let (li, d) = self.impaired_end(node, iface)?;
        let engine_err = |source| LabError::Engine {
            link: format!("{node}:{iface}"),
            source,
        };
        if let (Some(at), Some(m)) = (self.impaired[li].netem, self.models.as_deref()) {
            // Each direction is the qdisc of the end that sends it; the
            // model page follows, for `impairment_model` and `netrig link`.
            let dirs = if d == 0 {
                [sends, receives]
            } else {
                [receives, sends]
            };
            for (dir, imp) in dirs.iter().enumerate() {
                let Some(imp) = imp else { continue };
                let (ni, idx) = at[dir];
                let mut nl = self.node_netlink(ni)?;
                nl.request(
                    crate::netem::change_msg(idx, imp),
                    format!("changing the netem qdisc of {node}:{iface}'s link"),
                )
                .map_err(|source| LabError::Netlink {
                    node: self.nodes[ni].name.clone(),
                    source,
                })?;
            }
            m.write(li, dirs).map_err(engine_err)?;
            return Ok(());
        }
        let (Some(m), Some(e)) = (self.models.as_deref(), self.impaired[li].engine.as_ref()) else {
            return Err(LabError::NotImpaired {
                node: node.into(),
                iface: iface.into(),
            });
        };
        let dirs = if d == 0 {
            [sends, receives]
        } else {
            [receives, sends]
        };
        let gen = m.write(li, dirs).map_err(engine_err)?;
        e.take_model(m, li, gen).map_err(engine_err)
    }

    /// The wake pipe of each impaired link's engine, for a holder to publish.
    pub fn impair_wake_fds(&self) -> Vec<i32> {
        self.impaired
            .iter()
            .map(|l| l.engine.as_ref().map_or(-1, |e| e.wake_fd()))
            .collect()
    }

    /// A netlink socket of node `ni`'s namespace, for the methods that take
    /// `&self` (the node's own socket needs `&mut`).
    fn node_netlink(&self, ni: usize) -> Result<Netlink, LabError> {
        let node = &self.nodes[ni];
        ns::in_netns(self.home.as_fd(), node.fd.as_fd(), Netlink::open)
            .and_then(|r| r)
            .map_err(|source| LabError::Netlink {
                node: node.name.clone(),
                source: source.into(),
            })
    }

    /// Index of the impaired link with the end `node:iface`, and which end.
    fn impaired_end(&self, node: &str, iface: &str) -> Result<(usize, usize), LabError> {
        crate::impair::find_end(self.impaired.iter().map(|l| &l.ends), node, iface).ok_or_else(
            || LabError::NotImpaired {
                node: node.into(),
                iface: iface.into(),
            },
        )
    }

    /// What the impaired link with the end `node:iface` did, per direction:
    /// `[what node:iface sent, what it received]`, with the link's engine and
    /// seed.
    pub fn impairment_stats(
        &self,
        node: &str,
        iface: &str,
    ) -> Result<(ImpairInfo, [DirStats; 2]), LabError> {
        for (li, l) in self.impaired.iter().enumerate() {
            if let Some(d) = l.ends.iter().position(|(n, i)| n == node && i == iface) {
                if let Some(at) = l.netem {
                    let read = |(ni, idx): (usize, i32)| {
                        let mut nl = self.node_netlink(ni)?;
                        crate::netem::stats(&mut nl, idx).map_err(|source| LabError::Netlink {
                            node: self.nodes[ni].name.clone(),
                            source,
                        })
                    };
                    return Ok((l.info.clone(), [read(at[d])?, read(at[1 - d])?]));
                }
                let c = self
                    .counters
                    .as_deref()
                    .ok_or_else(|| LabError::NotImpaired {
                        node: node.into(),
                        iface: iface.into(),
                    })?;
                return Ok((l.info.clone(), [c.read(li, d), c.read(li, 1 - d)]));
            }
        }
        Err(LabError::NotImpaired {
            node: node.into(),
            iface: iface.into(),
        })
    }

    /// Restart the decisions of the impaired link with the end `node:iface`
    /// from `seed` (the link's own seed when `None`): the frames sent after
    /// this returns meet the same decisions as on a link just built with that
    /// seed, which is what replaying a run needs. Returns the seed used.
    pub fn reseed_impairment(
        &mut self,
        node: &str,
        iface: &str,
        seed: Option<u64>,
    ) -> Result<u64, LabError> {
        let link = self
            .impaired
            .iter_mut()
            .find(|l| l.ends.iter().any(|(n, i)| n == node && i == iface))
            .ok_or_else(|| LabError::NotImpaired {
                node: node.into(),
                iface: iface.into(),
            })?;
        if link.netem.is_some() {
            return Err(LabError::Engine {
                link: format!("{node}:{iface}"),
                source: std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "a netem link's decisions cannot be replayed (netrig's engine: engine = \"userspace\")",
                ),
            });
        }
        let seed = seed.unwrap_or(link.info.seed);
        if let Some(e) = &link.engine {
            e.reseed(seed).map_err(|source| LabError::Engine {
                link: format!("{node}:{iface}"),
                source,
            })?;
        }
        link.info.seed = seed;
        Ok(seed)
    }

    /// Interface index of `iface` on `node` (indexes are assigned by the lab).
    pub fn ifindex(&self, node: &str, iface: &str) -> Result<i32, LabError> {
        self.iface_index(self.node_pos(node)?, iface)
    }
}

/// A seed for a link that names none: random, below 2^63 so that it can be
/// written back as a TOML integer to replay the run.
fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: filling our own buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
    let x = if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    };
    x >> 1
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Engines first: their threads hold the TAPs.
        for l in &mut self.impaired {
            l.engine.take();
        }
        for &pgid in &self.groups {
            // SAFETY: signalling process groups this lab started.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

/// An IPv6 address answers neighbour solicitations only once its interface
/// has joined the address's solicited-node group, which the kernel does from
/// a work queue after the address is added; until then a solicitation for
/// it is dropped and the asker retries a second later. Returns the first
/// of `addrs` (none tentative) still waiting, as (interface index, state).
fn unjoined_solicited_node(
    nl: &mut Netlink,
    addrs: &[AddrInfo],
) -> Result<Option<(String, String)>, NetlinkError> {
    let v6 = libc::AF_INET6 as u8;
    let groups: std::collections::HashSet<(i32, std::net::IpAddr)> = nl
        .dump(Msg::new(RTM_GETMULTICAST, 0).header(&ifaddrmsg(v6, 0, 0, 0, 0)))?
        .iter()
        .filter_map(|p| {
            let ifa = IfAddrMsg::decode(p)?;
            attrs(&p[IfAddrMsg::SIZE..])
                .find(|(t, _)| *t == IFA_MULTICAST)
                .and_then(|(_, v)| ip_from(libc::AF_INET6 as u8, v))
                .map(|ip| (ifa.index, ip))
        })
        .collect();
    for a in addrs {
        let std::net::IpAddr::V6(ip) = a.addr else {
            continue;
        };
        let o = ip.octets();
        let group = std::net::Ipv6Addr::new(
            0xff02,
            0,
            0,
            0,
            0,
            1,
            0xff00 | u16::from(o[13]),
            u16::from_be_bytes([o[14], o[15]]),
        );
        if !groups.contains(&(a.index, std::net::IpAddr::V6(group))) {
            return Ok(Some((
                format!("index {}", a.index),
                format!("{ip} has not joined its solicited-node group {group} yet"),
            )));
        }
    }
    Ok(None)
}

/// One datagram per interface to the IPv6 all-nodes group (ff02::1, discard
/// port) scoped to that interface: it goes through the interface's queue like
/// any packet, and the peer's stack drops it quietly (no socket, no reply to
/// multicast). A UDP socket rather than AF_PACKET because closing a packet
/// socket waits for an RCU grace period (~10 ms each). Interfaces without
/// IPv6 fall back to a raw frame. Returns the interfaces whose send was refused.
fn send_proof_frames(targets: &[(i32, Vec<u8>)]) -> std::io::Result<Vec<i32>> {
    let mut refused = Vec::new();
    let mut raw = Vec::new();
    let udp = std::net::UdpSocket::bind("[::]:0");
    for (index, mac) in targets {
        let sent = udp.as_ref().is_ok_and(|u| {
            let dst = std::net::SocketAddrV6::new(
                std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
                9,
                0,
                *index as u32,
            );
            u.send_to(b"netrig-ready", dst).is_ok()
        });
        if !sent {
            raw.push((*index, mac.clone()));
        }
    }
    if !raw.is_empty() {
        refused.extend(send_raw_frames(&raw)?);
    }
    Ok(refused)
}

/// The fallback: a frame to the IEEE "nearest bridge" group address (which
/// bridges never forward) with the local experimental ethertype.
fn send_raw_frames(targets: &[(i32, Vec<u8>)]) -> std::io::Result<Vec<i32>> {
    const DST: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];
    const ETHERTYPE: u16 = 0x88b5;
    // SAFETY: a packet socket we own and close on return.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just created and is owned here.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let mut refused = Vec::new();
    for (index, mac) in targets {
        let mut frame = [0u8; 60];
        frame[..6].copy_from_slice(&DST);
        if mac.len() == 6 {
            frame[6..12].copy_from_slice(mac);
        }
        frame[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
        frame[14..26].copy_from_slice(b"netrig-ready");
        // SAFETY: zeroed sockaddr_ll filled with valid values.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = *index;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&DST);
        // SAFETY: frame and address outlive the call.
        let n = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            refused.push(*index);
        }
    }
    Ok(refused)
}

fn addr_msg(a: &IpNet, index: i32, dad: bool) -> Msg {
    let fam = family(&a.addr);
    let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
        .header(&ifaddrmsg(fam, a.prefix, 0, 0, index));
    let bytes = ip_bytes(&a.addr);
    m.attr(IFA_LOCAL, &bytes);
    m.attr(IFA_ADDRESS, &bytes);
    if !dad && !a.is_ipv4() {
        m.attr_u32(IFA_FLAGS, IFA_F_NODAD);
    }
    m
}

/// A veth pair: `a` in the namespace whose socket sends this, `b` placed in the
/// namespace `b_ns` at creation.
fn veth_msg(a: &Iface, a_idx: i32, master: Option<i32>, b: &Iface, b_idx: i32, b_ns: RawFd) -> Msg {
    let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
        .header(&ifinfomsg(0, a_idx, IFF_UP, IFF_UP));
    m.attr_str(IFLA_IFNAME, &a.name);
    if let Some(mac) = a.mac {
        m.attr(IFLA_ADDRESS, &mac);
    }
    if let Some(mtu) = a.mtu {
        m.attr_u32(IFLA_MTU, mtu);
    }
    if let Some(master) = master {
        m.attr_u32(IFLA_MASTER, master as u32);
    }
    m.nest(IFLA_LINKINFO);
    m.attr_str(IFLA_INFO_KIND, "veth");
    m.nest(IFLA_INFO_DATA);
    m.nest(VETH_INFO_PEER);
    // The peer cannot be opened while veth is still pairing it (veth_open
    // answers ENOTCONN), so it is brought up in the configure phase.
    m.raw(&ifinfomsg(0, b_idx, 0, 0));
    m.attr_str(IFLA_IFNAME, &b.name);
    m.attr_u32(IFLA_NET_NS_FD, b_ns as u32);
    if let Some(mac) = b.mac {
        m.attr(IFLA_ADDRESS, &mac);
    }
    if let Some(mtu) = b.mtu {
        m.attr_u32(IFLA_MTU, mtu);
    }
    m.end_nest().end_nest().end_nest();
    m
}
