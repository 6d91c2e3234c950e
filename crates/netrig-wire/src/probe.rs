//! TCP/UDP probe pair: a server that answers every connection or datagram
//! with its node name, and a client that opens many connections from
//! distinct source ports and records who answered. Used to observe load
//! balancing and ECMP decisions per flow.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::socket::{self as sock, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};

use crate::error::{Result, WireError};
use crate::flow::PortRange;
use crate::sys;

/// Transport of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeProto {
    Tcp,
    Udp,
}

/// What a server saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    pub tcp_connections: u64,
    pub udp_datagrams: u64,
    /// Peer address of each connection/datagram, in order.
    pub peers: Vec<(ProbeProto, SocketAddr)>,
}

/// Sockets bound in the calling thread's namespace, answering with `name`.
#[derive(Debug)]
pub struct ProbeServer {
    name: String,
    tcp: Option<TcpListener>,
    udp: Option<UdpSocket>,
}

/// Peers recorded per server run at most (memory bound for long runs).
const MAX_PEERS: usize = 1 << 20;

impl ProbeServer {
    /// Bind TCP and/or UDP on `addr` (`[::]:port` serves IPv4 too).
    pub fn bind(addr: SocketAddr, name: &str, tcp: bool, udp: bool) -> Result<Self> {
        if !tcp && !udp {
            return Err(WireError::InvalidOption(
                "probe server needs tcp or udp".into(),
            ));
        }
        let tcp = tcp
            .then(|| TcpListener::bind(addr))
            .transpose()
            .map_err(|e| WireError::io("bind tcp probe server", e))?;
        let udp = udp
            .then(|| UdpSocket::bind(addr))
            .transpose()
            .map_err(|e| WireError::io("bind udp probe server", e))?;
        for r in [
            tcp.as_ref().map(|t| t.set_nonblocking(true)),
            udp.as_ref().map(|u| u.set_nonblocking(true)),
        ]
        .into_iter()
        .flatten()
        {
            r.map_err(|e| WireError::io("set_nonblocking", e))?;
        }
        Ok(ProbeServer {
            name: name.to_string(),
            tcp,
            udp,
        })
    }

    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|t| t.local_addr().ok())
    }
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|u| u.local_addr().ok())
    }

    /// Serve until `stop` is set (checked every 50 ms) or `max` elapses.
    pub fn serve(&self, stop: &AtomicBool, max: Option<Duration>) -> Result<ServeStats> {
        let start = Instant::now();
        let mut st = ServeStats::default();
        let reply = format!("{}\n", self.name);
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) && max.is_none_or(|m| start.elapsed() < m) {
            let mut fds: Vec<libc::pollfd> = [
                self.tcp.as_ref().map(|t| t.as_raw_fd()),
                self.udp.as_ref().map(|u| u.as_raw_fd()),
            ]
            .into_iter()
            .flatten()
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
            if sys::poll_fds(&mut fds, 50)? == 0 {
                continue;
            }
            if let Some(l) = &self.tcp {
                while let Ok((mut s, peer)) = l.accept() {
                    // A slow or vanished client must not stall the server.
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                    let _ = s.write_all(reply.as_bytes());
                    let _ = s.shutdown(std::net::Shutdown::Write);
                    st.tcp_connections += 1;
                    if st.peers.len() < MAX_PEERS {
                        st.peers.push((ProbeProto::Tcp, peer));
                    }
                }
            }
            if let Some(u) = &self.udp {
                while let Ok((_, peer)) = u.recv_from(&mut buf) {
                    let _ = u.send_to(reply.trim_end().as_bytes(), peer);
                    st.udp_datagrams += 1;
                    if st.peers.len() < MAX_PEERS {
                        st.peers.push((ProbeProto::Udp, peer));
                    }
                }
            }
        }
        Ok(st)
    }

    /// Serve on a background thread (the sockets keep their namespace).
    pub fn spawn(self) -> ProbeServerHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || self.serve(&s2, None));
        ProbeServerHandle {
            stop,
            thread: Some(thread),
        }
    }
}

/// A running server; stopping (or dropping) ends it.
#[derive(Debug)]
pub struct ProbeServerHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<ServeStats>>>,
}

impl ProbeServerHandle {
    /// Stop and return what the server saw.
    pub fn stop(mut self) -> Result<ServeStats> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(WireError::InvalidOption(
                "probe server thread panicked".into(),
            )),
            None => Ok(ServeStats::default()),
        }
    }
}

impl Drop for ProbeServerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Options for [`probe_client`].
#[derive(Clone, Debug)]
pub struct ProbeClientOptions {
    pub target: SocketAddr,
    pub proto: ProbeProto,
    pub count: u32,
    pub src_ip: Option<IpAddr>,
    /// Source port of probe i is `start + i`; `None` lets the kernel choose.
    pub src_ports: Option<PortRange>,
    /// Per-probe limit (connect + answer).
    pub timeout: Duration,
}

impl ProbeClientOptions {
    pub fn new(target: SocketAddr, proto: ProbeProto, count: u32) -> Self {
        ProbeClientOptions {
            target,
            proto,
            count,
            src_ip: None,
            src_ports: None,
            timeout: Duration::from_secs(1),
        }
    }
}

/// How one probe ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeOutcome {
    /// The server answered with this name.
    Answered(String),
    /// TCP RST to our SYN, or ICMP port unreachable for UDP.
    Refused,
    /// TCP RST after the connection was established.
    Reset,
    Timeout,
    /// Anything else (e.g. host unreachable, address in use).
    Error(String),
}

/// One probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRecord {
    pub src_port: u16,
    pub outcome: ProbeOutcome,
    pub elapsed: Duration,
}

/// All probes of a client run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    pub records: Vec<ProbeRecord>,
}

impl ProbeReport {
    /// Answers per server name.
    pub fn by_name(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for r in &self.records {
            if let ProbeOutcome::Answered(n) = &r.outcome {
                *m.entry(n.clone()).or_insert(0) += 1;
            }
        }
        m
    }
    fn count(&self, f: impl Fn(&ProbeOutcome) -> bool) -> u64 {
        self.records.iter().filter(|r| f(&r.outcome)).count() as u64
    }
    pub fn answered(&self) -> u64 {
        self.count(|o| matches!(o, ProbeOutcome::Answered(_)))
    }
    pub fn refused(&self) -> u64 {
        self.count(|o| *o == ProbeOutcome::Refused)
    }
    pub fn resets(&self) -> u64 {
        self.count(|o| *o == ProbeOutcome::Reset)
    }
    pub fn timeouts(&self) -> u64 {
        self.count(|o| *o == ProbeOutcome::Timeout)
    }
    pub fn errors(&self) -> u64 {
        self.count(|o| matches!(o, ProbeOutcome::Error(_)))
    }
}

impl std::fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} probes:", self.records.len())?;
        for (n, c) in self.by_name() {
            write!(f, " {n}={c}")?;
        }
        write!(
            f,
            ", refused {}, reset {}, timeout {}, error {}",
            self.refused(),
            self.resets(),
            self.timeouts(),
            self.errors()
        )
    }
}

/// Run `count` probes one after another in the calling thread's namespace.
pub fn probe_client(opts: &ProbeClientOptions) -> Result<ProbeReport> {
    if let Some(r) = opts.src_ports {
        if r.len() < opts.count {
            return Err(WireError::InvalidOption(format!(
                "source ports {r} fewer than {} probes",
                opts.count
            )));
        }
    }
    let mut rep = ProbeReport::default();
    for i in 0..opts.count {
        let port = opts.src_ports.map_or(0, |r| r.start + i as u16);
        let src_ip = opts.src_ip.unwrap_or(if opts.target.is_ipv6() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        });
        let src = SocketAddr::new(src_ip, port);
        let t = Instant::now();
        let (src_port, outcome) = match opts.proto {
            ProbeProto::Tcp => tcp_probe(src, opts.target, opts.timeout),
            ProbeProto::Udp => udp_probe(src, opts.target, opts.timeout),
        };
        rep.records.push(ProbeRecord {
            src_port: src_port.unwrap_or(port),
            outcome,
            elapsed: t.elapsed(),
        });
    }
    Ok(rep)
}

fn classify(e: &std::io::Error) -> ProbeOutcome {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => ProbeOutcome::Refused,
        Some(libc::ECONNRESET) => ProbeOutcome::Reset,
        Some(libc::EAGAIN) | Some(libc::ETIMEDOUT) => ProbeOutcome::Timeout,
        _ if e.kind() == std::io::ErrorKind::TimedOut
            || e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            ProbeOutcome::Timeout
        }
        _ => ProbeOutcome::Error(e.to_string()),
    }
}

fn answer(bytes: &[u8]) -> ProbeOutcome {
    let s = String::from_utf8_lossy(bytes);
    ProbeOutcome::Answered(s.trim().to_string())
}

fn tcp_probe(src: SocketAddr, dst: SocketAddr, timeout: Duration) -> (Option<u16>, ProbeOutcome) {
    let io = |e: nix::Error| std::io::Error::from(e);
    let fam = if dst.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fd: OwnedFd = match sock::socket(
        fam,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    ) {
        Ok(fd) => fd,
        Err(e) => return (None, classify(&io(e))),
    };
    // Explicit source ports must be reusable across quick successive runs.
    let _ = sock::setsockopt(&fd, sockopt::ReuseAddr, &true);
    if let Err(e) = sock::bind(fd.as_raw_fd(), &SockaddrStorage::from(src)) {
        return (None, ProbeOutcome::Error(format!("bind {src}: {e}")));
    }
    let local_port = || {
        sock::getsockname::<SockaddrStorage>(fd.as_raw_fd())
            .ok()
            .and_then(|a| {
                a.as_sockaddr_in()
                    .map(|s| s.port())
                    .or_else(|| a.as_sockaddr_in6().map(|s| s.port()))
            })
    };
    let deadline = Instant::now() + timeout;
    match sock::connect(fd.as_raw_fd(), &SockaddrStorage::from(dst)) {
        Ok(()) => {}
        Err(nix::Error::EINPROGRESS) => {
            let ms = deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as i32;
            let mut p = [libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            }];
            match sys::poll_fds(&mut p, ms.max(1)) {
                Ok(0) => return (local_port(), ProbeOutcome::Timeout),
                Ok(_) => {}
                Err(e) => return (local_port(), ProbeOutcome::Error(e.to_string())),
            }
            match sock::getsockopt(&fd, sockopt::SocketError) {
                Ok(0) => {}
                Ok(errno) => {
                    return (
                        local_port(),
                        classify(&std::io::Error::from_raw_os_error(errno)),
                    )
                }
                Err(e) => return (local_port(), classify(&io(e))),
            }
        }
        Err(e) => return (local_port(), classify(&io(e))),
    }
    let port = local_port();
    let mut s = TcpStream::from(fd);
    let _ = s.set_nonblocking(false);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (port, ProbeOutcome::Timeout);
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > 1024 {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (port, classify(&e)),
        }
    }
    (port, answer(&got))
}

fn udp_probe(src: SocketAddr, dst: SocketAddr, timeout: Duration) -> (Option<u16>, ProbeOutcome) {
    let u = match UdpSocket::bind(src) {
        Ok(u) => u,
        Err(e) => return (None, ProbeOutcome::Error(format!("bind {src}: {e}"))),
    };
    let port = u.local_addr().ok().map(|a| a.port());
    // Connected, so ICMP port unreachable comes back as ECONNREFUSED.
    if let Err(e) = u.connect(dst).and_then(|_| u.send(b"netrig-probe")) {
        return (port, classify(&e));
    }
    let _ = u.set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
    let mut buf = [0u8; 1024];
    match u.recv(&mut buf) {
        Ok(n) => (port, answer(&buf[..n])),
        Err(e) => (port, classify(&e)),
    }
}
