//! ICMP/ICMPv6 echo without iputils. Uses unprivileged ICMP datagram sockets
//! when `net.ipv4.ping_group_range` allows (the kernel then owns the id and
//! checksum), and falls back to raw sockets.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{sendto, MsgFlags, SockaddrStorage};

use crate::checksum;
use crate::error::{Result, WireError};
use crate::sys;

/// Which socket kind to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PingMode {
    /// Datagram if permitted, else raw.
    #[default]
    Auto,
    /// SOCK_DGRAM/IPPROTO_ICMP(V6) only.
    Datagram,
    /// SOCK_RAW only (needs CAP_NET_RAW).
    Raw,
}

/// Options for [`ping`].
#[derive(Clone, Debug)]
pub struct PingOptions {
    pub count: u32,
    pub interval: Duration,
    /// How long to wait for replies after the last request.
    pub timeout: Duration,
    /// Hard limit for the whole run.
    pub deadline: Duration,
    /// ICMP payload bytes (iputils default 56).
    pub payload_size: usize,
    pub ttl: Option<u32>,
    /// Bind to this interface (SO_BINDTODEVICE).
    pub interface: Option<String>,
    pub mode: PingMode,
}

impl Default for PingOptions {
    fn default() -> Self {
        PingOptions {
            count: 3,
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
            payload_size: 56,
            ttl: None,
            interface: None,
            mode: PingMode::Auto,
        }
    }
}

/// The outcome of a ping run.
#[derive(Clone, Debug, PartialEq)]
pub struct PingResult {
    pub dest: IpAddr,
    pub sent: u32,
    pub received: u32,
    pub duplicates: u32,
    /// Round-trip time of each first reply, in arrival order: from just
    /// before the request was sent to the kernel's receive timestamp of the
    /// reply (SO_TIMESTAMPNS), so the time this thread takes to wake up on a
    /// busy machine does not count.
    pub rtts: Vec<Duration>,
    /// ICMP errors about our requests (raw mode), e.g. "destination unreachable from 192.0.2.1".
    pub errors: Vec<String>,
    /// The socket kind actually used.
    pub mode: PingMode,
    pub elapsed: Duration,
}

impl PingResult {
    /// Fraction of requests without a reply (0.0..=1.0).
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        1.0 - f64::from(self.received) / f64::from(self.sent)
    }
    pub fn rtt_min(&self) -> Option<Duration> {
        self.rtts.iter().min().copied()
    }
    pub fn rtt_max(&self) -> Option<Duration> {
        self.rtts.iter().max().copied()
    }
    pub fn rtt_avg(&self) -> Option<Duration> {
        if self.rtts.is_empty() {
            return None;
        }
        Some(self.rtts.iter().sum::<Duration>() / self.rtts.len() as u32)
    }
    /// True when every request was answered.
    pub fn all_answered(&self) -> bool {
        self.sent > 0 && self.received == self.sent
    }
}

impl std::fmt::Display for PingResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} transmitted, {} received, {:.0}% packet loss",
            self.dest,
            self.sent,
            self.received,
            self.loss() * 100.0
        )?;
        if let (Some(a), Some(b), Some(c)) = (self.rtt_min(), self.rtt_avg(), self.rtt_max()) {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            write!(
                f,
                ", rtt min/avg/max = {:.3}/{:.3}/{:.3} ms",
                ms(a),
                ms(b),
                ms(c)
            )?;
        }
        Ok(())
    }
}

fn open(dest: IpAddr, mode: PingMode) -> Result<(OwnedFd, PingMode)> {
    let (dom, proto) = match dest {
        IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP),
        IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6),
    };
    if mode != PingMode::Raw {
        match sys::socket(dom, libc::SOCK_DGRAM, proto, "socket(ICMP datagram)") {
            Ok(fd) => return Ok((fd, PingMode::Datagram)),
            Err(e) if mode == PingMode::Datagram => return Err(e),
            Err(_) => {} // not in ping_group_range: try raw
        }
    }
    Ok((
        sys::socket(dom, libc::SOCK_RAW, proto, "socket(ICMP raw)")?,
        PingMode::Raw,
    ))
}

/// Send `count` echo requests to `dest` and collect replies. Works in the
/// calling thread's network namespace; always bounded by `deadline`.
pub fn ping(dest: IpAddr, opts: &PingOptions) -> Result<PingResult> {
    let (fd, mode) = open(dest, opts.mode)?;
    let raw = fd.as_raw_fd();
    let v6 = dest.is_ipv6();
    if let Some(ifname) = &opts.interface {
        let mut name = ifname.as_bytes().to_vec();
        name.push(0);
        // SAFETY: name is a NUL-terminated buffer of the given length.
        let r = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                name.len() as u32,
            )
        };
        if r < 0 {
            return Err(WireError::last_os("SO_BINDTODEVICE"));
        }
    }
    if let Some(ttl) = opts.ttl {
        let (lvl, opt) = if v6 {
            (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS)
        } else {
            (libc::IPPROTO_IP, libc::IP_TTL)
        };
        sys::setsockopt(raw, lvl, opt, &(ttl as i32), "set TTL")?;
    }
    // Replies carry the kernel's receive time; where that is refused, RTTs
    // are taken when this thread reads the reply.
    let kernel_ts = sys::setsockopt(
        raw,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPNS,
        &1i32,
        "SO_TIMESTAMPNS",
    )
    .is_ok();
    // Identify our packets: raw sockets see every ICMP message of the namespace.
    let nonce = (sys_nanos() ^ u64::from(std::process::id()) << 20).to_be_bytes();
    let id = u16::from_be_bytes([nonce[6], nonce[7]]) ^ u16::from_be_bytes([nonce[2], nonce[3]]);
    let dst = SockaddrStorage::from(SocketAddr::new(dest, 0));

    let mut res = PingResult {
        dest,
        sent: 0,
        received: 0,
        duplicates: 0,
        rtts: Vec::new(),
        errors: Vec::new(),
        mode,
        elapsed: Duration::ZERO,
    };
    // Monotonic for the fallback, wall clock to compare with the kernel's
    // receive timestamps (which are wall clock).
    let mut sent_at: HashMap<u16, (Instant, std::time::SystemTime)> = HashMap::new();
    let mut answered: HashMap<u16, bool> = HashMap::new();
    let start = Instant::now();
    let deadline = start + opts.deadline;
    let mut next_send = start;
    let mut last_send = start;
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        if res.sent < opts.count && now >= next_send {
            let seq = res.sent as u16;
            let pkt = echo_request(v6, id, seq, &nonce, opts.payload_size);
            let wall = std::time::SystemTime::now();
            match sendto(raw, &pkt, &dst, MsgFlags::empty()) {
                Ok(_) => {}
                // Unreachable networks fail locally; count it as lost, as ping does.
                Err(e) => res.errors.push(format!("send: {e}")),
            }
            sent_at.insert(seq, (now, wall));
            res.sent += 1;
            last_send = now;
            next_send += opts.interval;
            continue;
        }
        if res.sent >= opts.count && (res.received >= res.sent || now >= last_send + opts.timeout) {
            break;
        }
        if now >= deadline {
            break;
        }
        let mut wake = deadline;
        if res.sent < opts.count {
            wake = wake.min(next_send);
        } else {
            wake = wake.min(last_send + opts.timeout);
        }
        let ms = wake
            .saturating_duration_since(now)
            .as_micros()
            .div_ceil(1000) as i32;
        let mut pfd = [libc::pollfd {
            fd: raw,
            events: libc::POLLIN,
            revents: 0,
        }];
        if sys::poll_fds(&mut pfd, ms.max(0))? == 0 {
            continue;
        }
        loop {
            let (n, rx_wall) = recv_stamped(raw, &mut buf, kernel_ts);
            if n < 0 {
                break; // EAGAIN (drained) or a queued ICMP error on a datagram socket
            }
            let t = Instant::now();
            let mut b = &buf[..n as usize];
            if mode == PingMode::Raw && !v6 {
                // IPv4 raw sockets deliver the IP header too.
                let ihl = usize::from(b.first().copied().unwrap_or(0) & 0x0f) * 4;
                b = b.get(ihl..).unwrap_or(&[]);
            }
            match parse_reply(b, v6, mode, id, &nonce) {
                Reply::Echo(seq) => {
                    if let Some((t0, w0)) = sent_at.get(&seq) {
                        if answered.insert(seq, true).is_some() {
                            res.duplicates += 1;
                        } else {
                            res.received += 1;
                            // A wall clock stepped back in between: the fallback.
                            let rtt = rx_wall
                                .and_then(|w| w.duration_since(*w0).ok())
                                .unwrap_or(t - *t0);
                            res.rtts.push(rtt);
                        }
                    }
                }
                Reply::Error(msg) => res.errors.push(msg),
                Reply::Other => {}
            }
        }
    }
    res.elapsed = start.elapsed();
    Ok(res)
}

/// `recv` that also returns the kernel's receive timestamp, when asked for
/// and given. Returns (`recv`'s result, timestamp).
fn recv_stamped(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
    want_ts: bool,
) -> (isize, Option<std::time::SystemTime>) {
    if !want_ts {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        return (n, None);
    }
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one cmsg holding a timespec, u64-aligned.
    let mut ctrl = [0u64; 8];
    // SAFETY: a zeroed msghdr pointing at our iovec and control buffer.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&ctrl);
    // SAFETY: msg and the buffers it points to outlive the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return (n, None);
    }
    let mut ts = None;
    // SAFETY: walking the control messages the kernel wrote into ctrl.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                ts = Some(std::time::UNIX_EPOCH + Duration::new(t.tv_sec as u64, t.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    (n, ts)
}

fn sys_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn echo_request(v6: bool, id: u16, seq: u16, nonce: &[u8; 8], payload: usize) -> Vec<u8> {
    let mut p = vec![0u8; 8 + payload.max(8)];
    p[0] = if v6 { 128 } else { 8 };
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    p[8..16].copy_from_slice(nonce);
    if !v6 {
        // ICMPv6 checksums are filled by the kernel; ICMPv4 raw ones are not
        // (datagram sockets recompute them anyway).
        let c = checksum::checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

enum Reply {
    Echo(u16),
    Error(String),
    Other,
}

fn parse_reply(b: &[u8], v6: bool, mode: PingMode, id: u16, nonce: &[u8; 8]) -> Reply {
    if b.len() < 8 {
        return Reply::Other;
    }
    let (reply_ty, unreach, exceeded) = if v6 { (129, 1, 3) } else { (0, 3, 11) };
    let rid = u16::from_be_bytes([b[4], b[5]]);
    let seq = u16::from_be_bytes([b[6], b[7]]);
    if b[0] == reply_ty {
        // Datagram sockets rewrite the id to their port and filter for us.
        let ours = b.get(8..16) == Some(&nonce[..]) && (mode == PingMode::Datagram || rid == id);
        return if ours { Reply::Echo(seq) } else { Reply::Other };
    }
    if b[0] == unreach || b[0] == exceeded {
        // The error quotes our request: find our nonce in it.
        if b.windows(8).any(|w| w == nonce) {
            let what = if b[0] == unreach {
                "destination unreachable"
            } else {
                "time exceeded"
            };
            return Reply::Error(format!("{what} (code {})", b[1]));
        }
    }
    Reply::Other
}
