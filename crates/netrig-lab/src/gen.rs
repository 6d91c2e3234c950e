//! Topologies generated in code, for benchmarks and scale tests where writing
//! a file by hand would be absurd.

use netrig_spec::{Iface, IpNet, Link, Nexthop, Node, NodeKind, Route, Topology};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most links a chain can number: the /30s that fit in 198.18.0.0/15.
const MAX_LINKS: usize = 1 << 15;

/// A line of `routers` routers between two hosts:
/// `h0 - r1 - r2 - ... - rN - h1`, dual stack.
///
/// Link `i` (0-based, from h0's side) gets `198.18.0.0/15`'s `i`th /30 and
/// `2001:db8:0:i::/64` (the hex of `i` in the fourth group); its left end takes
/// `.1`/`::1`, its right end `.2`/`::2`. Only benchmarking and documentation
/// prefixes are used, as the design requires of every lab address.
///
/// Routing is end to end rather than full mesh: each host has a default route
/// in each family towards its router, and each router has a route to the far
/// host's subnet in each direction (4 routes per router; none where the subnet
/// is directly connected). So h0 and h1 reach each other, and every router can
/// answer h0 and h1 (TTL exceeded for traceroute), but routers cannot reach
/// each other's non-adjacent links. Full routes would need about N² routes,
/// a million at 1,000 routers, which would measure the FIB instead of the lab.
///
/// With more than 253 routers a packet from h0 needs more hops than a TTL can
/// give, so reachability can only be checked on shorter chains.
pub fn chain(routers: usize) -> Topology {
    let n_links = routers + 1;
    assert!(
        n_links <= MAX_LINKS,
        "a chain holds at most {} routers",
        MAX_LINKS - 1
    );
    let node = |name: String, router: bool| Node {
        name,
        kind: if router {
            NodeKind::Router
        } else {
            NodeKind::Host
        },
        forwarding: router,
        sysctls: Vec::new(),
        loopback: Vec::new(),
        mounts: Vec::new(),
    };
    let mut nodes = vec![node("h0".into(), false)];
    nodes.extend((1..=routers).map(|i| node(format!("r{i}"), true)));
    nodes.push(node("h1".into(), false));

    let v4 = |link: usize, host: u32| {
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + 4 * link as u32;
        IpNet::new(IpAddr::V4(Ipv4Addr::from(base + host)), 30)
    };
    let v6 = |link: usize, host: u16| {
        IpNet::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, link as u16, 0, 0, 0, host)),
            64,
        )
    };
    let end = |node: &str, name: &str, link: usize, host| Iface {
        node: node.to_string(),
        name: name.to_string(),
        addrs: vec![v4(link, host as u32), v6(link, host)],
        mac: None,
        mtu: None,
    };
    // Node k of the chain (0 = h0, routers + 1 = h1) and its interface names:
    // eth0 faces h0, eth1 faces h1; hosts have only eth0.
    let name_of = |k: usize| nodes[k].name.clone();
    let links: Vec<Link> = (0..n_links)
        .map(|i| {
            let left_if = if i == 0 { "eth0" } else { "eth1" };
            Link {
                ends: [
                    end(&name_of(i), left_if, i, 1),
                    end(&name_of(i + 1), "eth0", i, 2),
                ],
                impair: None,
            }
        })
        .collect();

    let route = |node: String, dst: IpNet, via: IpNet| Route {
        node,
        dst,
        nexthops: vec![Nexthop {
            gateway: Some(via.addr),
            dev: None,
            weight: 1,
        }],
        metric: None,
    };
    let default4 = IpNet::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let default6 = IpNet::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
    let last = n_links - 1;
    let mut routes = vec![
        route("h0".into(), default4, v4(0, 2)),
        route("h0".into(), default6, v6(0, 2)),
        route("h1".into(), default4, v4(last, 1)),
        route("h1".into(), default6, v6(last, 1)),
    ];
    for r in 1..=routers {
        // Router r sits between link r-1 (left) and link r (right).
        if r != routers {
            routes.push(route(name_of(r), v4(last, 0), v4(r, 2)));
            routes.push(route(name_of(r), v6(last, 0), v6(r, 2)));
        }
        if r != 1 {
            routes.push(route(name_of(r), v4(0, 0), v4(r - 1, 1)));
            routes.push(route(name_of(r), v6(0, 0), v6(r - 1, 1)));
        }
    }

    Topology {
        name: format!("chain{routers}"),
        dad: false,
        nodes,
        links,
        lans: Vec::new(),
        routes,
        neighbors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netrig_spec::net::{is_test_address, is_test_prefix};

    #[test]
    fn small_chain_is_wired_and_routed() {
        let t = chain(2);
        let names: Vec<_> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["h0", "r1", "r2", "h1"]);
        assert_eq!(t.links.len(), 3);
        let l1 = &t.links[1].ends;
        assert_eq!((l1[0].node.as_str(), l1[0].name.as_str()), ("r1", "eth1"));
        assert_eq!((l1[1].node.as_str(), l1[1].name.as_str()), ("r2", "eth0"));
        assert_eq!(l1[0].addrs[0].to_string(), "198.18.0.5/30");
        assert_eq!(l1[1].addrs[1].to_string(), "2001:db8:0:1::2/64");
        // 4 host defaults, and one route each way per family on each router
        // (r1 is connected to h0's subnet, r2 to h1's).
        assert_eq!(t.routes.len(), 4 + 2 * 2);
        let r1: Vec<_> = t.routes.iter().filter(|r| r.node == "r1").collect();
        assert_eq!(r1[0].dst.to_string(), "198.18.0.8/30");
        assert_eq!(r1[0].nexthops[0].gateway.unwrap().to_string(), "198.18.0.6");
    }

    #[test]
    fn every_address_is_a_test_address_and_every_gateway_is_on_link() {
        let t = chain(300);
        for l in &t.links {
            for e in &l.ends {
                assert!(
                    e.addrs.iter().all(|a| is_test_address(a.addr)),
                    "{a:?}",
                    a = e.addrs
                );
                assert!(e.addrs.iter().all(|a| a.has_host_bits()));
            }
        }
        for r in &t.routes {
            assert!(is_test_prefix(&r.dst));
            assert!(!r.dst.has_host_bits());
            let gw = r.nexthops[0].gateway.unwrap();
            assert!(
                t.ifaces_of(&r.node)
                    .any(|i| i.addrs.iter().any(|a| a.contains(gw))),
                "{} has no interface on the subnet of {gw}",
                r.node
            );
        }
        assert_eq!(t.routes.len(), 4 + 4 * 300 - 4);
    }
}
