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

/// A point-to-point veth pair.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub ends: [Iface; 2],
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
