//! Next-hop MAC resolution over rtnetlink, without subprocesses: a route
//! lookup (RTM_GETROUTE) names the next hop, the neighbour table
//! (RTM_GETNEIGH) gives its MAC, and if it is unknown the kernel is asked to
//! resolve it (RTM_NEWNEIGH with NTF_USE), which sends only ARP/NS.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{Result, WireError};
use crate::flow::MacAddr;
use crate::sys;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_VIA: u16 = 18;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
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

struct Netlink {
    fd: OwnedFd,
    seq: u32,
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

fn push_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// Iterate (type, payload) of the rtattrs in `b`.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let ty = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let data = &b[4..len];
        b = &b[((len + 3) & !3).min(b.len())..];
        Some((ty, data))
    })
}

impl Netlink {
    fn open() -> Result<Self> {
        let fd = sys::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW,
            libc::NETLINK_ROUTE,
            "socket(NETLINK_ROUTE)",
        )?;
        Ok(Netlink { fd, seq: 1 })
    }

    /// Send one request and collect its reply messages (type, body) until DONE,
    /// an ACK, or the first non-multipart answer.
    fn request(&mut self, ty: u16, flags: u16, body: &[u8]) -> Result<Vec<(u16, Vec<u8>)>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut msg = Vec::with_capacity(NLMSG_HDRLEN + body.len());
        msg.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: msg is a valid buffer; the kernel is the default destination.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if r < 0 {
            return Err(WireError::last_os("netlink send"));
        }
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is writable for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(WireError::io("netlink recv", e));
            }
            let mut b = &buf[..n as usize];
            while b.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
                let mty = u16::from_ne_bytes([b[4], b[5]]);
                let mseq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
                if len < NLMSG_HDRLEN || len > b.len() {
                    return Err(WireError::Netlink("truncated message".into()));
                }
                let payload = &b[NLMSG_HDRLEN..len];
                b = &b[((len + 3) & !3).min(b.len())..];
                if mseq != seq {
                    continue; // stale answer to an earlier request
                }
                match mty {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                            .unwrap_or(-libc::EIO);
                        if code == 0 {
                            return Ok(out); // ACK
                        }
                        return Err(WireError::Io {
                            op: "netlink request",
                            source: std::io::Error::from_raw_os_error(-code),
                        });
                    }
                    _ => {
                        out.push((mty, payload.to_vec()));
                        if !dump {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
}

/// Look up the route to `dst` (optionally forcing output interface `oif`),
/// as `ip route get` does.
pub fn route_get(dst: IpAddr, oif: Option<i32>) -> Result<RouteInfo> {
    let mut nl = Netlink::open()?;
    let mut body = vec![0u8; 12]; // struct rtmsg
    body[0] = family(dst);
    body[1] = if dst.is_ipv4() { 32 } else { 128 };
    push_attr(&mut body, RTA_DST, &ip_bytes(dst));
    if let Some(oif) = oif {
        push_attr(&mut body, RTA_OIF, &oif.to_ne_bytes());
    }
    let msgs = nl.request(RTM_GETROUTE, 0, &body).map_err(|e| match e {
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
    let (_, m) = msgs
        .into_iter()
        .find(|(t, _)| *t == RTM_NEWROUTE)
        .ok_or(WireError::NoRoute(dst))?;
    let mut info = RouteInfo {
        oif: 0,
        gateway: None,
        prefsrc: None,
    };
    for (ty, data) in attrs(m.get(12..).unwrap_or(&[])) {
        match ty {
            RTA_OIF if data.len() >= 4 => {
                info.oif = i32::from_ne_bytes([data[0], data[1], data[2], data[3]])
            }
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
    let mut nl = Netlink::open()?;
    let body = [0u8; 12]; // struct ndmsg, AF_UNSPEC
    let msgs = nl.request(RTM_GETNEIGH, NLM_F_DUMP, &body)?;
    let mut out = Vec::new();
    for (ty, m) in msgs {
        if ty != RTM_NEWNEIGH || m.len() < 12 {
            continue;
        }
        let idx = i32::from_ne_bytes([m[4], m[5], m[6], m[7]]);
        if ifindex.is_some_and(|i| i != idx) {
            continue;
        }
        let state = u16::from_ne_bytes([m[8], m[9]]);
        let (mut ip, mut mac) = (None, None);
        for (t, d) in attrs(&m[12..]) {
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
    let mut nl = Netlink::open()?;
    let mut body = vec![0u8; 12];
    body[0] = family(ip);
    body[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    body[10] = NTF_USE;
    push_attr(&mut body, NDA_DST, &ip_bytes(ip));
    nl.request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, &body)?;
    Ok(())
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
