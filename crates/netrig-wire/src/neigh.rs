//! Next-hop MAC resolution over rtnetlink, without subprocesses: a route
//! lookup (RTM_GETROUTE) names the next hop, the neighbour table
//! (RTM_GETNEIGH) gives its MAC, and if it is unknown the kernel is asked to
//! resolve it (RTM_NEWNEIGH with NTF_USE), which sends only ARP/NS.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netrig_lab::netlink::{
    ndmsg, rtmsg, Msg, Netlink, NetlinkError, NDA_DST, NDA_LLADDR, NLM_F_CREATE, RTA_DST,
    RTA_GATEWAY, RTA_OIF, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWNEIGH, RTM_NEWROUTE,
};

use crate::error::{Result, WireError};
use crate::flow::MacAddr;
use crate::sys;

const RTA_PREFSRC: u16 = 7;
const RTA_VIA: u16 = 18;
const NTF_USE: u8 = 0x01;
/// Neighbour states whose lladdr can be used.
const NUD_VALID: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80;
const NUD_FAILED: u16 = 0x20;

/// Result of a route lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// Output interface index.
    pub oif: i32,
    /// Gateway, if the destination is not on-link.
    pub gateway: Option<IpAddr>,
    /// Preferred source address.
    pub prefsrc: Option<IpAddr>,
}

impl RouteInfo {
    /// The neighbour a frame to `dst` must be addressed to.
    pub fn next_hop(&self, dst: IpAddr) -> IpAddr {
        self.gateway.unwrap_or(dst)
    }
}

/// A neighbour table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub ifindex: i32,
    pub ip: IpAddr,
    pub mac: Option<MacAddr>,
    /// NUD_* state bits.
    pub state: u16,
}

impl Neighbour {
    /// Whether `mac` can be used to send.
    pub fn usable(&self) -> bool {
        self.mac.is_some() && self.state & NUD_VALID != 0
    }
}

fn family(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    }
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn ip_from(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// The lab's rtnetlink client, opened in the calling thread's namespace.
fn netlink() -> Result<Netlink> {
    Netlink::open().map_err(|e| WireError::io("socket(NETLINK_ROUTE)", e))
}

/// The kernel's refusal as an I/O error with its errno, so callers can tell
/// "no route" from other failures.
fn nl_err(e: NetlinkError) -> WireError {
    match e {
        NetlinkError::Refused(r) => WireError::Io {
            op: "netlink request",
            source: std::io::Error::from_raw_os_error(r.errno),
        },
        NetlinkError::Io(source) => WireError::io("netlink", source),
    }
}

/// Look up the route to `dst` (optionally forcing output interface `oif`),
/// as `ip route get` does.
pub fn route_get(dst: IpAddr, oif: Option<i32>) -> Result<RouteInfo> {
    let mut nl = netlink()?;
    let prefix = if dst.is_ipv4() { 32 } else { 128 };
    let mut msg = Msg::new(RTM_GETROUTE, 0).header(&rtmsg(family(dst), prefix, 0, 0, 0, 0));
    msg.attr(RTA_DST, &ip_bytes(dst));
    if let Some(oif) = oif {
        msg.attr(RTA_OIF, &oif.to_ne_bytes());
    }
    let reply = nl.get(msg).map_err(nl_err).map_err(|e| match e {
        WireError::Io { source, .. }
            if matches!(
                source.raw_os_error(),
                Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH)
            ) =>
        {
            WireError::NoRoute(dst)
        }
        e => e,
    })?;
    let (_, m) = Some(reply)
        .filter(|(t, _)| *t == RTM_NEWROUTE)
        .ok_or(WireError::NoRoute(dst))?;
    let mut info = RouteInfo {
        oif: 0,
        gateway: None,
        prefsrc: None,
    };
    let attrs = m.get(netrig_lab::netlink::RtMsg::SIZE..).unwrap_or(&[]);
    for (ty, data) in netrig_lab::netlink::attrs(attrs) {
        match ty {
            RTA_OIF => info.oif = netrig_lab::netlink::nla_i32(data).unwrap_or(0),
            RTA_GATEWAY => info.gateway = ip_from(data),
            // RTA_VIA: u16 family + address (IPv4 route via IPv6 gateway).
            RTA_VIA if data.len() > 2 => info.gateway = ip_from(&data[2..]),
            RTA_PREFSRC => info.prefsrc = ip_from(data),
            _ => {}
        }
    }
    if info.oif == 0 {
        return Err(WireError::NoRoute(dst));
    }
    Ok(info)
}

/// Dump the neighbour table (both families), optionally for one interface.
pub fn neighbours(ifindex: Option<i32>) -> Result<Vec<Neighbour>> {
    let mut nl = netlink()?;
    let msgs = nl
        .dump(Msg::new(RTM_GETNEIGH, 0).header(&ndmsg(0, 0, 0)))
        .map_err(nl_err)?;
    let mut out = Vec::new();
    for m in msgs {
        let Some(nd) = netrig_lab::netlink::NdMsg::decode(&m) else {
            continue;
        };
        if ifindex.is_some_and(|i| i != nd.ifindex) {
            continue;
        }
        let (idx, state) = (nd.ifindex, nd.state);
        let (mut ip, mut mac) = (None, None);
        for (t, d) in netrig_lab::netlink::attrs(&m[netrig_lab::netlink::NdMsg::SIZE..]) {
            match t {
                NDA_DST => ip = ip_from(d),
                NDA_LLADDR if d.len() == 6 => {
                    let mut a = [0u8; 6];
                    a.copy_from_slice(d);
                    mac = Some(MacAddr(a));
                }
                _ => {}
            }
        }
        if let Some(ip) = ip {
            out.push(Neighbour {
                ifindex: idx,
                ip,
                mac,
                state,
            });
        }
    }
    Ok(out)
}

/// Ask the kernel to start resolving `ip` on `ifindex` (NTF_USE), creating
/// the entry if needed. Only ARP/NS goes on the wire.
pub fn neighbour_trigger(ifindex: i32, ip: IpAddr) -> Result<()> {
    let mut nl = netlink()?;
    let mut hdr = ndmsg(family(ip), ifindex, 0);
    hdr[10] = NTF_USE;
    let mut msg = Msg::new(RTM_NEWNEIGH, NLM_F_CREATE).header(&hdr);
    msg.attr(NDA_DST, &ip_bytes(ip));
    nl.request(msg, format!("resolving {ip}")).map_err(nl_err)
}

/// MAC of the next hop towards `dst` out of `ifindex`, resolving it if needed
/// and waiting up to `timeout`.
///
/// Only ARP/NS go on the wire. Caveat: the kernel sends no IPv6 NS for a
/// resolution without a triggering packet while the interface's link-local
/// address is still tentative (DAD running), so IPv6 resolution then waits
/// for DAD to finish; labs should wait for DAD or disable it.
pub fn resolve_mac(ifindex: i32, ifname: &str, dst: IpAddr, timeout: Duration) -> Result<MacAddr> {
    let hop = route_get(dst, Some(ifindex))?.next_hop(dst);
    let unresolved = || WireError::Unresolved {
        hop,
        dst,
        ifname: ifname.to_string(),
    };
    let find = || -> Result<Option<Neighbour>> {
        Ok(neighbours(Some(ifindex))?.into_iter().find(|n| n.ip == hop))
    };
    if let Some(n) = find()? {
        if n.usable() {
            return n.mac.ok_or_else(unresolved);
        }
    }
    neighbour_trigger(ifindex, hop)?;
    let deadline = Instant::now() + timeout;
    let mut nap = Duration::from_micros(200);
    loop {
        if let Some(n) = find()? {
            if n.usable() {
                return n.mac.ok_or_else(unresolved);
            }
            if n.state & NUD_FAILED != 0 {
                return Err(unresolved());
            }
        }
        if Instant::now() >= deadline {
            return Err(unresolved());
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// The name of interface `ifindex` in the calling thread's namespace.
pub fn ifname_of(ifindex: i32) -> Option<String> {
    // Any socket serves SIOCGIFNAME; a UDP one needs no privilege.
    let fd = sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0, "socket").ok()?;
    sys::ifname(&fd, ifindex)
}
