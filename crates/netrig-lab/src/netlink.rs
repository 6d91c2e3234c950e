//! A small synchronous rtnetlink client.
//!
//! Why our own: the typed crates change their API every few weeks and pull in an
//! async runtime by default; what a lab needs is a dozen message shapes, sent in
//! batches (many requests per `send`, one ACK each) so that a large topology costs
//! a few syscalls per namespace rather than one process per step.
//!
//! A socket belongs to the network namespace of the thread that opened it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWNEIGH: u16 = 28;
pub const RTM_DELNEIGH: u16 = 29;
pub const RTM_GETNEIGH: u16 = 30;
pub const RTM_GETMULTICAST: u16 = 58;
pub const IFA_MULTICAST: u16 = 7;

pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_LINK: u16 = 5;
pub const IFLA_QDISC: u16 = 6;
pub const IFLA_MASTER: u16 = 10;
pub const IFLA_OPERSTATE: u16 = 16;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_STATS64: u16 = 23;
pub const IFLA_NET_NS_FD: u16 = 28;
pub const IFLA_INFO_KIND: u16 = 1;
pub const IFLA_INFO_DATA: u16 = 2;
pub const VETH_INFO_PEER: u16 = 1;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_FLAGS: u16 = 8;
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_TENTATIVE: u32 = 0x40;

pub const RTA_DST: u16 = 1;
pub const RTA_OIF: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;
pub const RTA_PRIORITY: u16 = 6;
pub const RTA_MULTIPATH: u16 = 9;
pub const RTA_TABLE: u16 = 15;
pub const RTN_UNICAST: u8 = 1;
pub const RT_TABLE_MAIN: u8 = 254;
pub const RTPROT_STATIC: u8 = 4;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_LINK: u8 = 253;

pub const NDA_DST: u16 = 1;
pub const NDA_LLADDR: u16 = 2;
pub const NUD_PERMANENT: u16 = 0x80;

pub const IFF_UP: u32 = 0x1;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_LOWER_UP: u32 = 0x10000;

const NLA_F_NESTED: u16 = 1 << 15;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One request under construction: header, family struct, attributes.
pub struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    pub fn new(ty: u16, flags: u16) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    /// The family header (ifinfomsg, rtmsg, ...), padded to 4 bytes.
    pub fn header(mut self, bytes: &[u8]) -> Msg {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Msg {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Msg {
        self.attr(ty, &v.to_ne_bytes())
    }

    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Msg {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(ty, &v)
    }

    pub fn nest(&mut self, ty: u16) -> &mut Msg {
        self.nests.push(self.buf.len());
        self.attr(ty | NLA_F_NESTED, &[])
    }

    /// Raw bytes inside an open nest (e.g. a peer's ifinfomsg or an rtnexthop).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Msg {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn end_nest(&mut self) -> &mut Msg {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// Start an rtnexthop inside RTA_MULTIPATH; closed by `end_nest`.
    pub fn nexthop(&mut self, hops: u8, ifindex: i32) -> &mut Msg {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0, 0, hops]);
        self.buf.extend_from_slice(&ifindex.to_ne_bytes());
        self
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

pub fn ifinfomsg(family: u8, index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = family;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

pub fn ifaddrmsg(family: u8, prefix: u8, flags: u8, scope: u8, index: i32) -> [u8; 8] {
    let mut b = [family, prefix, flags, scope, 0, 0, 0, 0];
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b
}

pub fn rtmsg(family: u8, dst_len: u8, table: u8, protocol: u8, scope: u8, rtype: u8) -> [u8; 12] {
    [
        family, dst_len, 0, 0, table, protocol, scope, rtype, 0, 0, 0, 0,
    ]
}

pub fn ndmsg(family: u8, ifindex: i32, state: u16) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[0] = family;
    b[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    b[8..10].copy_from_slice(&state.to_ne_bytes());
    b
}

/// The kernel refused a request.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}{}", io::Error::from_raw_os_error(*.errno), .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct NlError {
    pub what: String,
    pub errno: i32,
    /// The kernel's extended ACK message, when it gave one.
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error(transparent)]
    Refused(#[from] NlError),
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
}

pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    rbuf: Vec<u8>,
}

/// Attributes of one message, as (type, payload) pairs.
pub fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let ty = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if len < 4 || len > data.len() {
            return None;
        }
        let payload = &data[4..len];
        data = &data[align4(len).min(data.len())..];
        Some((ty, payload))
    })
}

/// One received netlink message: header fields, the whole message (header
/// included) and the errno of an NLMSG_ERROR (0 for an ACK).
struct Received<'a> {
    ty: u16,
    flags: u16,
    seq: u32,
    whole: &'a [u8],
    errno: Option<i32>,
}

impl Received<'_> {
    fn payload(&self) -> &[u8] {
        &self.whole[16..]
    }
}

/// The messages in one datagram read from a netlink socket.
fn messages(mut buf: &[u8]) -> impl Iterator<Item = Received<'_>> {
    std::iter::from_fn(move || {
        if buf.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            return None;
        }
        let whole = &buf[..len];
        buf = &buf[align4(len).min(buf.len())..];
        let ty = u16::from_ne_bytes([whole[4], whole[5]]);
        Some(Received {
            ty,
            flags: u16::from_ne_bytes([whole[6], whole[7]]),
            seq: u32::from_ne_bytes([whole[8], whole[9], whole[10], whole[11]]),
            errno: (ty == NLMSG_ERROR && len >= 20)
                .then(|| -i32::from_ne_bytes([whole[16], whole[17], whole[18], whole[19]])),
            whole,
        })
    })
}

impl Netlink {
    /// Open a NETLINK_ROUTE socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket syscalls on a descriptor we own.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let one: libc::c_int = 1;
            for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    SOL_NETLINK,
                    opt,
                    &one as *const _ as *const libc::c_void,
                    4,
                );
            }
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            if libc::bind(
                fd.as_raw_fd(),
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(Netlink {
                fd,
                seq: 1,
                rbuf: vec![0u8; 1 << 16],
            })
        }
    }

    fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: the buffer outlives the call; the kernel address is zeroed.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                0,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn recv(&mut self) -> io::Result<usize> {
        loop {
            // SAFETY: rbuf is a valid writable buffer of its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.rbuf.as_mut_ptr() as *mut libc::c_void,
                    self.rbuf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(n as usize);
        }
    }

    /// Send requests in as few syscalls as the socket allows and wait for every
    /// ACK. Each request carries a description used in its error.
    pub fn batch(&mut self, reqs: Vec<(Msg, String)>) -> Result<(), NetlinkError> {
        const CHUNK: usize = 32 * 1024;
        let mut reqs = reqs.into_iter().peekable();
        while reqs.peek().is_some() {
            let mut buf = Vec::with_capacity(CHUNK);
            let mut pending: Vec<(u32, String)> = Vec::new();
            while let Some((msg, what)) = reqs.next_if(|_| buf.len() < CHUNK) {
                let seq = self.next_seq();
                let mut m = msg;
                let flags = u16::from_ne_bytes([m.buf[6], m.buf[7]]) | NLM_F_ACK;
                m.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
                buf.extend_from_slice(&m.finish(seq));
                pending.push((seq, what));
            }
            self.send(&buf)?;
            let mut first_err: Option<NlError> = None;
            let mut acked = 0;
            while acked < pending.len() {
                let n = self.recv()?;
                for m in messages(&self.rbuf[..n]) {
                    let Some(errno) = m.errno else { continue };
                    acked += 1;
                    if errno != 0 && first_err.is_none() {
                        let what = pending
                            .iter()
                            .find(|(s, _)| *s == m.seq)
                            .map(|(_, w)| w.clone())
                            .unwrap_or_else(|| format!("request {}", m.seq));
                        first_err = Some(NlError {
                            what,
                            errno,
                            detail: ext_ack_msg(m.whole, m.flags),
                        });
                    }
                }
            }
            if let Some(e) = first_err {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// One request, one ACK.
    pub fn request(&mut self, msg: Msg, what: impl Into<String>) -> Result<(), NetlinkError> {
        self.batch(vec![(msg, what.into())])
    }

    /// A request answered by one message (such as RTM_GETROUTE for one
    /// destination): returns that message's type and payload.
    pub fn get(&mut self, msg: Msg) -> Result<(u16, Vec<u8>), NetlinkError> {
        let seq = self.next_seq();
        let ty = u16::from_ne_bytes([msg.buf[4], msg.buf[5]]);
        self.send(&msg.finish(seq))?;
        loop {
            let n = self.recv()?;
            // A late answer to an earlier request has another sequence number.
            if let Some(m) = messages(&self.rbuf[..n]).find(|m| m.seq == seq) {
                if let Some(errno) = m.errno {
                    return Err(NlError {
                        what: format!("request (message type {ty})"),
                        errno,
                        detail: ext_ack_msg(m.whole, m.flags),
                    }
                    .into());
                }
                return Ok((m.ty, m.payload().to_vec()));
            }
        }
    }

    /// Every interface of this socket's namespace, with its counters: the one
    /// RTM_GETLINK dump the lab, the runner and the CLI share.
    pub fn links(&mut self) -> Result<Vec<LinkInfo>, NetlinkError> {
        let msgs = self.dump(Msg::new(RTM_GETLINK, 0).header(&ifinfomsg(0, 0, 0, 0)))?;
        Ok(msgs.iter().filter_map(|p| parse_link(p)).collect())
    }

    /// A dump request; returns each reply message's payload (after the nlmsghdr).
    pub fn dump(&mut self, msg: Msg) -> Result<Vec<Vec<u8>>, NetlinkError> {
        let seq = self.next_seq();
        let mut m = msg;
        let flags = u16::from_ne_bytes([m.buf[6], m.buf[7]]) | NLM_F_DUMP;
        m.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        let ty = u16::from_ne_bytes([m.buf[4], m.buf[5]]);
        self.send(&m.finish(seq))?;
        let mut out = Vec::new();
        loop {
            let n = self.recv()?;
            for m in messages(&self.rbuf[..n]) {
                match (m.ty, m.errno) {
                    (NLMSG_DONE, _) => return Ok(out),
                    (_, Some(errno)) if errno != 0 => {
                        return Err(NlError {
                            what: format!("dump (message type {ty})"),
                            errno,
                            detail: None,
                        }
                        .into())
                    }
                    (NLMSG_ERROR, _) => {}
                    _ => out.push(m.payload().to_vec()),
                }
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }
}

fn ext_ack_msg(b: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    // With NETLINK_CAP_ACK the error carries only the failed request's header,
    // so the TLVs start after nlmsghdr + errno + nlmsghdr.
    let tlvs = b.get(16 + 4 + 16..)?;
    attrs(tlvs)
        .find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
        .map(|(_, v)| {
            String::from_utf8_lossy(v)
                .trim_end_matches('\0')
                .to_string()
        })
}

/// Interface counters from IFLA_STATS64.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub multicast: u64,
}

/// One interface as the kernel reports it.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub index: i32,
    pub name: String,
    pub flags: u32,
    pub mtu: u32,
    pub mac: Vec<u8>,
    pub master: Option<i32>,
    pub kind: Option<String>,
    /// The root qdisc's kind (`noqueue`, `noop` before activation, ...).
    pub qdisc: Option<String>,
    pub stats: LinkStats,
}

pub fn parse_link(p: &[u8]) -> Option<LinkInfo> {
    if p.len() < 16 {
        return None;
    }
    let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
    let flags = u32::from_ne_bytes([p[8], p[9], p[10], p[11]]);
    let mut l = LinkInfo {
        index,
        name: String::new(),
        flags,
        mtu: 0,
        mac: Vec::new(),
        master: None,
        kind: None,
        qdisc: None,
        stats: LinkStats::default(),
    };
    for (ty, v) in attrs(&p[16..]) {
        match ty {
            IFLA_IFNAME => {
                l.name = String::from_utf8_lossy(v)
                    .trim_end_matches('\0')
                    .to_string()
            }
            IFLA_QDISC => {
                l.qdisc = Some(
                    String::from_utf8_lossy(v)
                        .trim_end_matches('\0')
                        .to_string(),
                )
            }
            IFLA_MTU if v.len() >= 4 => l.mtu = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            IFLA_ADDRESS => l.mac = v.to_vec(),
            IFLA_MASTER if v.len() >= 4 => {
                l.master = Some(i32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
            }
            IFLA_LINKINFO => {
                for (t, k) in attrs(v) {
                    if t == IFLA_INFO_KIND {
                        l.kind = Some(
                            String::from_utf8_lossy(k)
                                .trim_end_matches('\0')
                                .to_string(),
                        );
                    }
                }
            }
            IFLA_STATS64 if v.len() >= 72 => {
                let f =
                    |i: usize| u64::from_ne_bytes(v[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
                l.stats = LinkStats {
                    rx_packets: f(0),
                    tx_packets: f(1),
                    rx_bytes: f(2),
                    tx_bytes: f(3),
                    rx_errors: f(4),
                    tx_errors: f(5),
                    rx_dropped: f(6),
                    tx_dropped: f(7),
                    multicast: f(8),
                };
            }
            _ => {}
        }
    }
    Some(l)
}

/// One address as the kernel reports it.
#[derive(Debug, Clone)]
pub struct AddrInfo {
    pub index: i32,
    pub addr: std::net::IpAddr,
    pub prefix: u8,
    pub flags: u32,
}

pub fn parse_addr(p: &[u8]) -> Option<AddrInfo> {
    if p.len() < 8 {
        return None;
    }
    let family = p[0];
    let prefix = p[1];
    let mut flags = p[2] as u32;
    let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
    let mut addr = None;
    let mut local = None;
    for (ty, v) in attrs(&p[8..]) {
        match ty {
            IFA_ADDRESS => addr = ip_from(family, v),
            IFA_LOCAL => local = ip_from(family, v),
            IFA_FLAGS if v.len() >= 4 => flags = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            _ => {}
        }
    }
    Some(AddrInfo {
        index,
        addr: local.or(addr)?,
        prefix,
        flags,
    })
}

pub fn ip_from(family: u8, v: &[u8]) -> Option<std::net::IpAddr> {
    match (family as i32, v.len()) {
        (libc::AF_INET, 4) => Some(std::net::IpAddr::from([v[0], v[1], v[2], v[3]])),
        (libc::AF_INET6, 16) => {
            let a: [u8; 16] = v.try_into().ok()?;
            Some(std::net::IpAddr::from(a))
        }
        _ => None,
    }
}

/// One nexthop of a route as the kernel reports it (weight as `ip route` shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHop {
    pub gateway: Option<std::net::IpAddr>,
    pub ifindex: i32,
    pub weight: u16,
}

#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub family: u8,
    pub dst: Option<std::net::IpAddr>,
    pub dst_len: u8,
    pub table: u32,
    pub protocol: u8,
    pub rtype: u8,
    pub hops: Vec<RouteHop>,
}

pub fn parse_route(p: &[u8]) -> Option<RouteInfo> {
    if p.len() < 12 {
        return None;
    }
    let family = p[0];
    let mut r = RouteInfo {
        family,
        dst: None,
        dst_len: p[1],
        table: p[4] as u32,
        protocol: p[5],
        rtype: p[7],
        hops: Vec::new(),
    };
    let mut gw = None;
    let mut oif = 0;
    for (ty, v) in attrs(&p[12..]) {
        match ty {
            RTA_DST => r.dst = ip_from(family, v),
            RTA_GATEWAY => gw = ip_from(family, v),
            RTA_OIF if v.len() >= 4 => oif = i32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            RTA_TABLE if v.len() >= 4 => r.table = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            RTA_MULTIPATH => {
                let mut rest = v;
                while rest.len() >= 8 {
                    let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
                    if len < 8 || len > rest.len() {
                        break;
                    }
                    let hops = rest[3];
                    let ifindex = i32::from_ne_bytes([rest[4], rest[5], rest[6], rest[7]]);
                    let gateway = attrs(&rest[8..len])
                        .find(|(t, _)| *t == RTA_GATEWAY)
                        .and_then(|(_, g)| ip_from(family, g));
                    r.hops.push(RouteHop {
                        gateway,
                        ifindex,
                        weight: hops as u16 + 1,
                    });
                    rest = &rest[align4(len).min(rest.len())..];
                }
            }
            _ => {}
        }
    }
    if r.hops.is_empty() {
        r.hops.push(RouteHop {
            gateway: gw,
            ifindex: oif,
            weight: 1,
        });
    }
    Some(r)
}
