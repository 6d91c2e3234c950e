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
pub const IFLA_AF_SPEC: u16 = 26;
pub const IFLA_NET_NS_FD: u16 = 28;
pub const IFLA_INET6_CONF: u16 = 2;
pub const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
/// Index of `disable_ipv6` in IFLA_INET6_CONF's array of s32 (uapi ipv6.h).
pub const DEVCONF_DISABLE_IPV6: usize = 26;
pub const IN6_ADDR_GEN_MODE_NONE: u8 = 1;
pub const ARPHRD_ETHER: u16 = 1;
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

pub const NLA_F_NESTED: u16 = 1 << 15;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Writes a C struct's fields in declaration order (native endian): the
/// layout follows from the order, so no field is placed by a hand offset.
#[derive(Default)]
struct Put(Vec<u8>);

impl Put {
    fn u8(mut self, v: u8) -> Put {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Put {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Put {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Put {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
}

/// Reads a C struct's fields in declaration order; `None` past the end.
struct Take<'a>(&'a [u8]);

impl Take<'_> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes().map(u16::from_ne_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes().map(u32::from_ne_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.bytes().map(i32::from_ne_bytes)
    }
}

/// `struct nlmsghdr`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NlMsgHdr {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl NlMsgHdr {
    pub const SIZE: usize = 16;
    fn encode(&self) -> Vec<u8> {
        Put::default()
            .u32(self.len)
            .u16(self.ty)
            .u16(self.flags)
            .u32(self.seq)
            .u32(self.pid)
            .0
    }
    pub fn decode(b: &[u8]) -> Option<NlMsgHdr> {
        let mut t = Take(b);
        Some(NlMsgHdr {
            len: t.u32()?,
            ty: t.u16()?,
            flags: t.u16()?,
            seq: t.u32()?,
            pid: t.u32()?,
        })
    }
}

/// `struct ifinfomsg` (RTM_*LINK).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfInfoMsg {
    pub family: u8,
    pub link_type: u16,
    pub index: i32,
    pub flags: u32,
    pub change: u32,
}

impl IfInfoMsg {
    pub const SIZE: usize = 16;
    pub fn encode(&self) -> Vec<u8> {
        Put::default()
            .u8(self.family)
            .u8(0) // __ifi_pad
            .u16(self.link_type)
            .i32(self.index)
            .u32(self.flags)
            .u32(self.change)
            .0
    }
    pub fn decode(b: &[u8]) -> Option<IfInfoMsg> {
        let mut t = Take(b);
        let family = t.u8()?;
        t.u8()?;
        Some(IfInfoMsg {
            family,
            link_type: t.u16()?,
            index: t.i32()?,
            flags: t.u32()?,
            change: t.u32()?,
        })
    }
}

/// `struct ifaddrmsg` (RTM_*ADDR, RTM_GETMULTICAST).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfAddrMsg {
    pub family: u8,
    pub prefix_len: u8,
    pub flags: u8,
    pub scope: u8,
    pub index: i32,
}

impl IfAddrMsg {
    pub const SIZE: usize = 8;
    pub fn encode(&self) -> Vec<u8> {
        Put::default()
            .u8(self.family)
            .u8(self.prefix_len)
            .u8(self.flags)
            .u8(self.scope)
            .i32(self.index)
            .0
    }
    pub fn decode(b: &[u8]) -> Option<IfAddrMsg> {
        let mut t = Take(b);
        Some(IfAddrMsg {
            family: t.u8()?,
            prefix_len: t.u8()?,
            flags: t.u8()?,
            scope: t.u8()?,
            index: t.i32()?,
        })
    }
}

/// `struct rtmsg` (RTM_*ROUTE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtMsg {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    pub table: u8,
    pub protocol: u8,
    pub scope: u8,
    pub route_type: u8,
    pub flags: u32,
}

impl RtMsg {
    pub const SIZE: usize = 12;
    pub fn encode(&self) -> Vec<u8> {
        Put::default()
            .u8(self.family)
            .u8(self.dst_len)
            .u8(self.src_len)
            .u8(self.tos)
            .u8(self.table)
            .u8(self.protocol)
            .u8(self.scope)
            .u8(self.route_type)
            .u32(self.flags)
            .0
    }
    pub fn decode(b: &[u8]) -> Option<RtMsg> {
        let mut t = Take(b);
        Some(RtMsg {
            family: t.u8()?,
            dst_len: t.u8()?,
            src_len: t.u8()?,
            tos: t.u8()?,
            table: t.u8()?,
            protocol: t.u8()?,
            scope: t.u8()?,
            route_type: t.u8()?,
            flags: t.u32()?,
        })
    }
}

/// `struct rtnexthop`, one entry of RTA_MULTIPATH (`hops` is weight - 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtNexthop {
    pub len: u16,
    pub flags: u8,
    pub hops: u8,
    pub ifindex: i32,
}

impl RtNexthop {
    pub const SIZE: usize = 8;
    fn encode(&self) -> Vec<u8> {
        Put::default()
            .u16(self.len)
            .u8(self.flags)
            .u8(self.hops)
            .i32(self.ifindex)
            .0
    }
    fn decode(b: &[u8]) -> Option<RtNexthop> {
        let mut t = Take(b);
        Some(RtNexthop {
            len: t.u16()?,
            flags: t.u8()?,
            hops: t.u8()?,
            ifindex: t.i32()?,
        })
    }
}

/// `struct ndmsg` (RTM_*NEIGH).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NdMsg {
    pub family: u8,
    pub ifindex: i32,
    pub state: u16,
    pub flags: u8,
    pub ntype: u8,
}

impl NdMsg {
    pub const SIZE: usize = 12;
    pub fn decode(b: &[u8]) -> Option<NdMsg> {
        let mut t = Take(b);
        let family = t.u8()?;
        t.u8()?;
        t.u16()?;
        Some(NdMsg {
            family,
            ifindex: t.i32()?,
            state: t.u16()?,
            flags: t.u8()?,
            ntype: t.u8()?,
        })
    }
    pub fn encode(&self) -> Vec<u8> {
        Put::default()
            .u8(self.family)
            .u8(0) // ndm_pad1
            .u16(0) // ndm_pad2
            .i32(self.ifindex)
            .u16(self.state)
            .u8(self.flags)
            .u8(self.ntype)
            .0
    }
}

/// `struct tcmsg` (RTM_*QDISC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcMsg {
    pub family: u8,
    pub ifindex: i32,
    pub handle: u32,
    pub parent: u32,
    pub info: u32,
}

impl TcMsg {
    pub const SIZE: usize = 20;
    pub fn encode(&self) -> Vec<u8> {
        Put::default()
            .u8(self.family)
            .u8(0) // tcm__pad1
            .u16(0) // tcm__pad2
            .i32(self.ifindex)
            .u32(self.handle)
            .u32(self.parent)
            .u32(self.info)
            .0
    }
}

/// An attribute's payload as a u32 (`None` if it is too short).
pub fn nla_u32(v: &[u8]) -> Option<u32> {
    Take(v).u32()
}

/// An attribute's payload as an i32 (an ifindex).
pub fn nla_i32(v: &[u8]) -> Option<i32> {
    Take(v).i32()
}

/// `struct nlattr`'s header.
struct NlAttr {
    len: u16,
    ty: u16,
}

impl NlAttr {
    const SIZE: usize = 4;
    fn encode(&self) -> Vec<u8> {
        Put::default().u16(self.len).u16(self.ty).0
    }
    fn decode(b: &[u8]) -> Option<NlAttr> {
        let mut t = Take(b);
        Some(NlAttr {
            len: t.u16()?,
            ty: t.u16()?,
        })
    }
}

/// Append one attribute to `buf`, padded to 4 bytes: for payloads that
/// carry attributes after a struct (netem's TCA_OPTIONS), built before the
/// request that carries them.
pub fn put_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = (NlAttr::SIZE + data.len()) as u16;
    buf.extend_from_slice(&NlAttr { len, ty }.encode());
    buf.extend_from_slice(data);
    buf.resize(align4(buf.len()), 0);
}

/// One request under construction: header, family struct, attributes.
pub struct Msg {
    hdr: NlMsgHdr,
    /// Everything after the nlmsghdr.
    body: Vec<u8>,
    /// Where open nests start in `body`.
    nests: Vec<usize>,
}

impl Msg {
    pub fn new(ty: u16, flags: u16) -> Msg {
        Msg {
            hdr: NlMsgHdr {
                ty,
                flags: flags | NLM_F_REQUEST,
                ..NlMsgHdr::default()
            },
            body: Vec::new(),
            nests: Vec::new(),
        }
    }

    /// The family header (ifinfomsg, rtmsg, ...), padded to 4 bytes.
    pub fn header(mut self, bytes: &[u8]) -> Msg {
        self.raw(bytes);
        self
    }

    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Msg {
        let len = (NlAttr::SIZE + data.len()) as u16;
        self.body.extend_from_slice(&NlAttr { len, ty }.encode());
        self.raw(data)
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
        self.nests.push(self.body.len());
        self.attr(ty | NLA_F_NESTED, &[])
    }

    /// Raw bytes inside an open nest (e.g. a peer's ifinfomsg), padded.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Msg {
        self.body.extend_from_slice(bytes);
        self.body.resize(align4(self.body.len()), 0);
        self
    }

    /// Close the innermost nest (an attribute or an rtnexthop): both start
    /// with their length as a u16.
    pub fn end_nest(&mut self) -> &mut Msg {
        if let Some(start) = self.nests.pop() {
            let len = (self.body.len() - start) as u16;
            self.body[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// Start an rtnexthop inside RTA_MULTIPATH; closed by `end_nest`.
    pub fn nexthop(&mut self, hops: u8, ifindex: i32) -> &mut Msg {
        self.nests.push(self.body.len());
        let nh = RtNexthop {
            hops,
            ifindex,
            ..RtNexthop::default()
        };
        self.raw(&nh.encode())
    }

    /// Add flags to the header (NLM_F_ACK, NLM_F_DUMP).
    fn with_flags(mut self, flags: u16) -> Msg {
        self.hdr.flags |= flags;
        self
    }

    fn finish(self, seq: u32) -> Vec<u8> {
        let hdr = NlMsgHdr {
            len: (NlMsgHdr::SIZE + self.body.len()) as u32,
            seq,
            ..self.hdr
        };
        let mut out = hdr.encode();
        out.extend_from_slice(&self.body);
        out
    }
}

pub fn ifinfomsg(family: u8, index: i32, flags: u32, change: u32) -> Vec<u8> {
    IfInfoMsg {
        family,
        index,
        flags,
        change,
        ..IfInfoMsg::default()
    }
    .encode()
}

pub fn ifaddrmsg(family: u8, prefix_len: u8, flags: u8, scope: u8, index: i32) -> Vec<u8> {
    IfAddrMsg {
        family,
        prefix_len,
        flags,
        scope,
        index,
    }
    .encode()
}

pub fn rtmsg(
    family: u8,
    dst_len: u8,
    table: u8,
    protocol: u8,
    scope: u8,
    route_type: u8,
) -> Vec<u8> {
    RtMsg {
        family,
        dst_len,
        table,
        protocol,
        scope,
        route_type,
        ..RtMsg::default()
    }
    .encode()
}

pub fn ndmsg(family: u8, ifindex: i32, state: u16) -> Vec<u8> {
    NdMsg {
        family,
        ifindex,
        state,
        ..NdMsg::default()
    }
    .encode()
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
        let a = NlAttr::decode(data)?;
        let len = a.len as usize;
        if len < NlAttr::SIZE || len > data.len() {
            return None;
        }
        let payload = &data[NlAttr::SIZE..len];
        data = &data[align4(len).min(data.len())..];
        // Without NLA_F_NESTED and NLA_F_NET_BYTEORDER.
        Some((a.ty & 0x3fff, payload))
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
        &self.whole[NlMsgHdr::SIZE..]
    }
}

/// The messages in one datagram read from a netlink socket.
fn messages(mut buf: &[u8]) -> impl Iterator<Item = Received<'_>> {
    std::iter::from_fn(move || {
        let hdr = NlMsgHdr::decode(buf)?;
        let len = hdr.len as usize;
        if len < NlMsgHdr::SIZE || len > buf.len() {
            return None;
        }
        let whole = &buf[..len];
        buf = &buf[align4(len).min(buf.len())..];
        // struct nlmsgerr starts with the (negative) errno.
        let errno = (hdr.ty == NLMSG_ERROR)
            .then(|| Take(&whole[NlMsgHdr::SIZE..]).i32().map(|e| -e))
            .flatten();
        Some(Received {
            ty: hdr.ty,
            flags: hdr.flags,
            seq: hdr.seq,
            errno,
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
                buf.extend_from_slice(&msg.with_flags(NLM_F_ACK).finish(seq));
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
        let ty = msg.hdr.ty;
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
        let ty = msg.hdr.ty;
        self.send(&msg.with_flags(NLM_F_DUMP).finish(seq))?;
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
    let tlvs = b.get(NlMsgHdr::SIZE + 4 + NlMsgHdr::SIZE..)?;
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
    /// IFLA_LINK: for a veth, its peer's index (in the peer's namespace).
    pub link: Option<i32>,
    pub kind: Option<String>,
    /// The root qdisc's kind (`noqueue`, `noop` before activation, ...).
    pub qdisc: Option<String>,
    pub stats: LinkStats,
    /// ARPHRD_* hardware type (1: Ethernet).
    pub link_type: u16,
    /// Whether the kernel will give this interface an IPv6 link-local
    /// address: IPv6 enabled on it and an address generation mode other
    /// than `none`.
    pub makes_link_local: bool,
}

pub fn parse_link(p: &[u8]) -> Option<LinkInfo> {
    let ifi = IfInfoMsg::decode(p)?;
    let mut l = LinkInfo {
        index: ifi.index,
        name: String::new(),
        flags: ifi.flags,
        mtu: 0,
        mac: Vec::new(),
        master: None,
        link: None,
        kind: None,
        qdisc: None,
        stats: LinkStats::default(),
        link_type: ifi.link_type,
        makes_link_local: false,
    };
    for (ty, v) in attrs(&p[IfInfoMsg::SIZE..]) {
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
            IFLA_MTU => l.mtu = nla_u32(v)?,
            IFLA_ADDRESS => l.mac = v.to_vec(),
            IFLA_MASTER => l.master = Some(nla_i32(v)?),
            IFLA_LINK => l.link = Some(nla_i32(v)?),
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
            IFLA_AF_SPEC => {
                if let Some((_, inet6)) = attrs(v).find(|(t, _)| *t == libc::AF_INET6 as u16) {
                    let mut disabled = false;
                    let mut gen_none = false;
                    for (t, x) in attrs(inet6) {
                        match t {
                            IFLA_INET6_CONF => {
                                let at = DEVCONF_DISABLE_IPV6 * 4;
                                disabled = x
                                    .get(at..at + 4)
                                    .is_some_and(|b| b.iter().any(|&byte| byte != 0));
                            }
                            IFLA_INET6_ADDR_GEN_MODE => {
                                gen_none = x.first() == Some(&IN6_ADDR_GEN_MODE_NONE)
                            }
                            _ => {}
                        }
                    }
                    l.makes_link_local = !disabled && !gen_none;
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
    let ifa = IfAddrMsg::decode(p)?;
    // IFA_FLAGS, when present, holds all the flags (the header's u8 only some).
    let mut flags = u32::from(ifa.flags);
    let mut addr = None;
    let mut local = None;
    for (ty, v) in attrs(&p[IfAddrMsg::SIZE..]) {
        match ty {
            IFA_ADDRESS => addr = ip_from(ifa.family, v),
            IFA_LOCAL => local = ip_from(ifa.family, v),
            IFA_FLAGS => flags = nla_u32(v)?,
            _ => {}
        }
    }
    Some(AddrInfo {
        index: ifa.index,
        addr: local.or(addr)?,
        prefix: ifa.prefix_len,
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
    let rtm = RtMsg::decode(p)?;
    let family = rtm.family;
    let mut r = RouteInfo {
        family,
        dst: None,
        dst_len: rtm.dst_len,
        table: u32::from(rtm.table),
        protocol: rtm.protocol,
        rtype: rtm.route_type,
        hops: Vec::new(),
    };
    let mut gw = None;
    let mut oif = 0;
    for (ty, v) in attrs(&p[RtMsg::SIZE..]) {
        match ty {
            RTA_DST => r.dst = ip_from(family, v),
            RTA_GATEWAY => gw = ip_from(family, v),
            RTA_OIF => oif = nla_i32(v)?,
            RTA_TABLE => r.table = nla_u32(v)?,
            RTA_MULTIPATH => {
                let mut rest = v;
                while let Some(nh) = RtNexthop::decode(rest) {
                    let len = nh.len as usize;
                    if len < RtNexthop::SIZE || len > rest.len() {
                        break;
                    }
                    let gateway = attrs(&rest[RtNexthop::SIZE..len])
                        .find(|(t, _)| *t == RTA_GATEWAY)
                        .and_then(|(_, g)| ip_from(family, g));
                    r.hops.push(RouteHop {
                        gateway,
                        ifindex: nh.ifindex,
                        weight: u16::from(nh.hops) + 1,
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

#[cfg(test)]
mod header_tests {
    use super::*;

    /// Each header encodes to its C size and decodes back to itself.
    #[test]
    fn headers_round_trip_at_their_c_sizes() {
        assert_eq!(NlMsgHdr::SIZE, std::mem::size_of::<libc::nlmsghdr>());
        assert_eq!(NlAttr::SIZE, std::mem::size_of::<libc::nlattr>());
        let h = NlMsgHdr {
            len: 40,
            ty: RTM_NEWLINK,
            flags: 5,
            seq: 7,
            pid: 9,
        };
        assert_eq!(NlMsgHdr::decode(&h.encode()), Some(h));
        let i = IfInfoMsg {
            family: 10,
            link_type: 1,
            index: -3,
            flags: IFF_UP,
            change: 1,
        };
        assert_eq!(
            (i.encode().len(), IfInfoMsg::decode(&i.encode())),
            (IfInfoMsg::SIZE, Some(i))
        );
        let a = IfAddrMsg {
            family: 2,
            prefix_len: 24,
            flags: 1,
            scope: 0,
            index: 4,
        };
        assert_eq!(
            (a.encode().len(), IfAddrMsg::decode(&a.encode())),
            (IfAddrMsg::SIZE, Some(a))
        );
        let r = RtMsg {
            family: 2,
            dst_len: 24,
            table: 254,
            protocol: 4,
            route_type: 1,
            ..RtMsg::default()
        };
        assert_eq!(
            (r.encode().len(), RtMsg::decode(&r.encode())),
            (RtMsg::SIZE, Some(r))
        );
        let n = RtNexthop {
            len: 16,
            flags: 0,
            hops: 10,
            ifindex: 3,
        };
        assert_eq!(
            (n.encode().len(), RtNexthop::decode(&n.encode())),
            (RtNexthop::SIZE, Some(n))
        );
        let d = NdMsg {
            family: 2,
            ifindex: 5,
            state: NUD_PERMANENT,
            flags: 0,
            ntype: 0,
        };
        assert_eq!(
            (d.encode().len(), NdMsg::decode(&d.encode())),
            (NdMsg::SIZE, Some(d))
        );
        assert_eq!(TcMsg::default().encode().len(), TcMsg::SIZE);
        // Fields land where the kernel reads them: ifi_index after family,
        // pad and type.
        assert_eq!(&i.encode()[4..8], &(-3i32).to_ne_bytes());
        // A short buffer decodes to nothing, never to garbage.
        assert_eq!(IfInfoMsg::decode(&[0; 15]), None);
    }
}
