//! Frame generator on AF_PACKET: batched `sendmmsg` (default) or a TPACKET_V2
//! TX ring, optional qdisc bypass, token-bucket pacing, and hard bounds.

use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;
use std::time::{Duration, Instant};

use crate::error::{Result, WireError};
use crate::flow::{FlowSpec, MacAddr};
use crate::neigh;
use crate::sys;
use crate::template::Template;

/// How frames are handed to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TxMode {
    /// `sendmmsg` with one message per frame.
    #[default]
    Sendmmsg,
    /// PACKET_TX_RING with TPACKET_V2 frames, flushed by `send(NULL)`.
    /// (V3 TX needs fixed frames and is known-broken in some user libraries.)
    TxRing,
}

/// Options for [`Sender::open_with`].
#[derive(Clone, Debug)]
pub struct SenderOptions {
    /// Skip the egress qdisc (fast), when it is one the kernel puts there by
    /// itself ([`DEFAULT_QDISCS`]). A qdisc someone configured (a netem
    /// link's impairment, a shaper under test) is never skipped.
    pub qdisc_bypass: bool,
    /// Frames per system call (and TX ring size).
    pub batch: usize,
    pub mode: TxMode,
    /// How long to wait for neighbour resolution of the destination.
    pub resolve_timeout: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        SenderOptions {
            qdisc_bypass: true,
            batch: 64,
            mode: TxMode::Sendmmsg,
            resolve_timeout: Duration::from_secs(3),
        }
    }
}

/// What a send did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Frames accepted by the kernel.
    pub sent: u64,
    pub bytes: u64,
    /// From the first to the last send call.
    pub elapsed: Duration,
    /// Times the kernel pushed back (ENOBUFS/EAGAIN) and we retried.
    pub retries: u64,
    /// Set when a progress callback asked to stop.
    pub cancelled: bool,
}

impl SendStats {
    /// Achieved packets per second.
    pub fn pps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.sent as f64 / s
        } else {
            0.0
        }
    }
}

/// Called after every batch; return `ControlFlow::Break(())` to stop early.
pub trait Progress {
    fn update(&mut self, stats: &SendStats) -> ControlFlow<()>;
}

/// A progress sink that never stops the send.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&mut self, _: &SendStats) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl<F: FnMut(&SendStats) -> ControlFlow<()>> Progress for F {
    fn update(&mut self, stats: &SendStats) -> ControlFlow<()> {
        self(stats)
    }
}

/// An AF_PACKET socket bound to one interface of the namespace it was opened in.
pub struct Sender {
    fd: OwnedFd,
    ifindex: i32,
    ifname: String,
    mac: MacAddr,
    opts: SenderOptions,
    ring: Option<TxRing>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("ifname", &self.ifname)
            .field("ifindex", &self.ifindex)
            .field("mac", &self.mac)
            .field("opts", &self.opts)
            .finish()
    }
}

impl Sender {
    /// Open with default options on `ifname` in the calling thread's namespace.
    pub fn open(ifname: &str) -> Result<Self> {
        Self::open_with(ifname, SenderOptions::default())
    }

    /// Open with explicit options.
    pub fn open_with(ifname: &str, opts: SenderOptions) -> Result<Self> {
        if opts.batch == 0 || opts.batch > 4096 {
            return Err(WireError::InvalidOption(format!(
                "batch {} not in 1..=4096",
                opts.batch
            )));
        }
        let fd = sys::packet_socket()?;
        let ifindex = sys::ifindex(&fd, ifname)?;
        let mac = sys::hwaddr(&fd, ifname)?;
        let mut opts = opts;
        // A configured qdisc is part of the path being tested (a netem
        // link's impairment, a tbf the system under test set up): bypassing
        // it would send the frames past it and blame the system for it.
        if opts.qdisc_bypass
            && !root_qdisc(ifindex)?.is_some_and(|q| DEFAULT_QDISCS.contains(&q.as_str()))
        {
            opts.qdisc_bypass = false;
        }
        if opts.qdisc_bypass {
            sys::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &1i32,
                "PACKET_QDISC_BYPASS",
            )?;
        }
        let ring = match opts.mode {
            TxMode::Sendmmsg => None,
            TxMode::TxRing => Some(TxRing::new(&fd, opts.batch)?),
        };
        // Protocol 0: this socket never receives, so it cannot fill up.
        sys::bind_packet(&fd, ifindex, 0)?;
        Ok(Sender {
            fd,
            ifindex,
            ifname: ifname.to_string(),
            mac,
            opts,
            ring,
        })
    }

    /// Whether frames skip the interface's egress qdisc.
    pub fn bypasses_qdisc(&self) -> bool {
        self.opts.qdisc_bypass
    }

    /// Interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Interface index (in the socket's namespace).
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The interface's MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Resolve the destination MAC for `spec` the way `send_flow` does.
    /// Must run in the socket's namespace (the netlink socket is opened here).
    pub fn resolve_dst_mac(&self, spec: &FlowSpec) -> Result<MacAddr> {
        match spec.dst_mac {
            Some(m) => Ok(m),
            None => neigh::resolve_mac(
                self.ifindex,
                &self.ifname,
                spec.dst_ip.first(),
                self.opts.resolve_timeout,
            ),
        }
    }

    /// Send the flow described by `spec`, bounded by its count and duration.
    pub fn send_flow(&mut self, spec: &FlowSpec, progress: &mut dyn Progress) -> Result<SendStats> {
        spec.validate()?;
        let dst_mac = self.resolve_dst_mac(spec)?;
        let src_mac = spec.src_mac.unwrap_or(self.mac);
        let mut tpl = Template::new(spec, src_mac, dst_mac)?;
        let budget = spec.packet_budget();
        let deadline_after = spec.duration;
        let flen = tpl.len();
        if let Some(r) = &self.ring {
            if flen > r.max_frame() {
                return Err(WireError::FrameTooLarge {
                    len: flen,
                    max: r.max_frame(),
                });
            }
        }

        let batch = self.opts.batch;
        let mut buf = vec![0u8; batch * flen];
        let mut cursor = spec.points();
        let mut pacer = spec.rate_pps.map(|r| Pacer::new(r, batch));
        let mut st = SendStats::default();
        let start = Instant::now();
        let mut seq: u64 = 0;
        let proto = u16::from_be_bytes([tpl.frame()[12], tpl.frame()[13]]);
        let dest = sys::sockaddr_ll(self.ifindex, proto);

        loop {
            let remaining = budget.map_or(u64::MAX, |b| b - st.sent);
            if remaining == 0 {
                break;
            }
            if let Some(d) = deadline_after {
                if start.elapsed() >= d {
                    break;
                }
            }
            let mut n = remaining.min(batch as u64) as usize;
            if let Some(p) = pacer.as_mut() {
                let allowed = p.allowance(st.sent);
                if allowed == 0 {
                    p.wait(st.sent, deadline_after.map(|d| start + d));
                    continue;
                }
                n = n.min(allowed as usize);
            }
            for slot in buf.chunks_exact_mut(flen).take(n) {
                tpl.set_point(&cursor.current());
                tpl.set_seq(seq);
                slot.copy_from_slice(tpl.frame());
                cursor.advance();
                seq += 1;
            }
            match self.ring.as_mut() {
                Some(ring) => ring.send(&self.fd, &buf[..n * flen], flen, &mut st.retries)?,
                None => send_batch(&self.fd, &dest, &mut buf[..n * flen], flen, &mut st.retries)?,
            }
            st.sent += n as u64;
            st.bytes += (n * flen) as u64;
            st.elapsed = start.elapsed();
            if progress.update(&st).is_break() {
                st.cancelled = true;
                break;
            }
        }
        st.elapsed = start.elapsed();
        Ok(st)
    }

    /// Send `count` frames of `spec` (its combinations in order, repeating),
    /// `interval` apart or as fast as the socket takes them. The outer
    /// Ethernet source is this interface's MAC unless the spec gives one.
    pub fn send_frame_spec(
        &mut self,
        spec: &crate::frame::FrameSpec,
        count: u64,
        interval: Option<Duration>,
    ) -> Result<SendStats> {
        let spec = spec.with_source_mac(self.mac);
        let start = Instant::now();
        let mut st = SendStats::default();
        // Unpaced frames go in batches so the loop costs one syscall per batch.
        let batch = if interval.is_some() { 1 } else { 64 };
        let mut i: u64 = 0;
        while i < count {
            let n = (count - i).min(batch);
            let frames: Vec<Vec<u8>> = (i..i + n)
                .map(|k| spec.frame(u128::from(k)).build())
                .collect();
            let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let s = self.send_frames(&refs)?;
            st.sent += s.sent;
            st.bytes += s.bytes;
            st.retries += s.retries;
            i += n;
            if let Some(d) = interval {
                if i < count {
                    // Paced from the start, so sleeps do not add up drift.
                    let due = start + d.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
            }
        }
        st.elapsed = start.elapsed();
        Ok(st)
    }

    /// Send ready-made frames once each (e.g. replaying a capture).
    pub fn send_frames(&mut self, frames: &[&[u8]]) -> Result<SendStats> {
        let start = Instant::now();
        let mut st = SendStats::default();
        for f in frames {
            let dest = sys::sockaddr_ll(
                self.ifindex,
                if f.len() >= 14 {
                    u16::from_be_bytes([f[12], f[13]])
                } else {
                    0
                },
            );
            let mut owned = f.to_vec();
            let len = owned.len();
            send_batch(&self.fd, &dest, &mut owned, len, &mut st.retries)?;
            st.sent += 1;
            st.bytes += len as u64;
        }
        st.elapsed = start.elapsed();
        Ok(st)
    }
}

/// Errors on which the kernel asks us to try again later.
fn transient(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR)
    )
}

/// Give up if the kernel refuses for this long without progress.
const STALL_LIMIT: Duration = Duration::from_secs(5);

fn send_batch(
    fd: &OwnedFd,
    dest: &libc::sockaddr_ll,
    buf: &mut [u8],
    flen: usize,
    retries: &mut u64,
) -> Result<()> {
    let n = buf.len() / flen;
    let mut iov: Vec<libc::iovec> = buf
        .chunks_exact_mut(flen)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: flen,
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            // SAFETY: mmsghdr is plain old data; all-zero is valid.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_name = (dest as *const libc::sockaddr_ll).cast_mut().cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    let mut off = 0;
    let mut stalled_since: Option<Instant> = None;
    while off < n {
        // SAFETY: msgs[off..] are valid headers pointing into live buffers.
        let r = unsafe {
            libc::sendmmsg(
                fd.as_raw_fd(),
                msgs[off..].as_mut_ptr(),
                (n - off) as u32,
                0,
            )
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if !transient(&e) {
                return Err(WireError::io("sendmmsg", e));
            }
            *retries += 1;
            let since = *stalled_since.get_or_insert_with(Instant::now);
            if since.elapsed() > STALL_LIMIT {
                return Err(WireError::io("sendmmsg (stalled)", e));
            }
            std::thread::yield_now();
            continue;
        }
        stalled_since = None;
        off += r as usize;
    }
    Ok(())
}

/// Batch-aware token bucket: tokens accrue at `rate`, capped at `burst`, so a
/// late sender does not catch up with a flood.
struct Pacer {
    rate: f64,
    start: Instant,
    burst: u64,
}

impl Pacer {
    fn new(rate: u64, batch: usize) -> Self {
        // Up to 10 ms of tokens may be made up after a late wake-up (sleeps
        // overshoot by tens of microseconds on a busy machine); with only
        // 1 ms the sender fell ~15% short of the asked rate.
        let burst = (rate / 100).clamp(1, 4 * batch as u64);
        Pacer {
            rate: rate as f64,
            start: Instant::now(),
            burst,
        }
    }

    fn due(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * self.rate) as u64 + 1
    }

    /// Packets that may be sent now, given `sent` so far.
    fn allowance(&mut self, sent: u64) -> u64 {
        let due = self.due();
        if due > sent + self.burst {
            // Drop surplus tokens: move the origin so exactly `burst` are due.
            let shift = (due - sent - self.burst) as f64 / self.rate;
            self.start += Duration::from_secs_f64(shift);
            return self.burst;
        }
        due.saturating_sub(sent)
    }

    /// Sleep until the next token (not past `limit`).
    fn wait(&self, sent: u64, limit: Option<Instant>) {
        let at = self.start + Duration::from_secs_f64(sent as f64 / self.rate);
        let at = limit.map_or(at, |l| at.min(l));
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
    }
}

/// A TPACKET_V2 transmit ring of `frames` slots.
struct TxRing {
    map: *mut u8,
    map_len: usize,
    frame_size: usize,
    frames: usize,
    next: usize,
}

// The mapping is owned exclusively by its Sender.
unsafe impl Send for TxRing {}

/// Start of frame data inside a V2 slot: TPACKET_ALIGN(sizeof(tpacket2_hdr)).
const V2_DATA_OFF: usize = 32;

impl TxRing {
    fn new(fd: &OwnedFd, frames: usize) -> Result<Self> {
        let frame_size = 2048usize; // fits 1514-byte frames plus the header
        let page = 4096usize;
        let frames = frames.div_ceil(page / frame_size) * (page / frame_size);
        sys::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(libc::tpacket_versions::TPACKET_V2 as i32),
            "PACKET_VERSION",
        )?;
        let req = libc::tpacket_req {
            tp_block_size: page as u32,
            tp_block_nr: (frames * frame_size / page) as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: frames as u32,
        };
        sys::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_TX_RING,
            &req,
            "PACKET_TX_RING",
        )?;
        let map_len = frames * frame_size;
        // SAFETY: mapping the ring we just configured on fd.
        let map = unsafe {
            libc::mmap(
                ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(WireError::last_os("mmap(PACKET_TX_RING)"));
        }
        Ok(TxRing {
            map: map.cast(),
            map_len,
            frame_size,
            frames,
            next: 0,
        })
    }

    fn max_frame(&self) -> usize {
        self.frame_size - V2_DATA_OFF
    }

    fn hdr(&self, i: usize) -> *mut libc::tpacket2_hdr {
        // SAFETY (for callers): i < frames, so the slot lies in the mapping.
        unsafe { self.map.add(i * self.frame_size).cast() }
    }

    fn status(&self, i: usize) -> u32 {
        // SAFETY: slot i is inside the mapping; the kernel updates status concurrently.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.hdr(i)).tp_status)) }
    }

    fn send(&mut self, fd: &OwnedFd, buf: &[u8], flen: usize, retries: &mut u64) -> Result<()> {
        for chunk in buf
            .chunks_exact(flen)
            .collect::<Vec<_>>()
            .chunks(self.frames)
        {
            for f in chunk {
                let i = self.next;
                let mut waited = Instant::now();
                while self.status(i) != libc::TP_STATUS_AVAILABLE {
                    if self.status(i) & libc::TP_STATUS_WRONG_FORMAT != 0 {
                        return Err(WireError::io(
                            "PACKET_TX_RING",
                            std::io::Error::from_raw_os_error(libc::EINVAL),
                        ));
                    }
                    self.flush(fd, retries)?;
                    if waited.elapsed() > STALL_LIMIT {
                        return Err(WireError::io(
                            "PACKET_TX_RING (stalled)",
                            std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
                        ));
                    }
                    if self.status(i) != libc::TP_STATUS_AVAILABLE {
                        std::thread::yield_now();
                    } else {
                        waited = Instant::now();
                    }
                }
                let h = self.hdr(i);
                // SAFETY: the slot is ours (AVAILABLE); data fits (checked by caller).
                unsafe {
                    ptr::copy_nonoverlapping(f.as_ptr(), h.cast::<u8>().add(V2_DATA_OFF), f.len());
                    ptr::addr_of_mut!((*h).tp_len).write_volatile(f.len() as u32);
                    std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
                    ptr::addr_of_mut!((*h).tp_status).write_volatile(libc::TP_STATUS_SEND_REQUEST);
                }
                self.next = (self.next + 1) % self.frames;
            }
            self.flush(fd, retries)?;
        }
        Ok(())
    }

    /// Blocking send(NULL): the kernel transmits every pending slot.
    fn flush(&self, fd: &OwnedFd, retries: &mut u64) -> Result<()> {
        let start = Instant::now();
        loop {
            // SAFETY: a NULL/0 send only kicks the ring.
            let r = unsafe { libc::send(fd.as_raw_fd(), ptr::null(), 0, 0) };
            if r >= 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if !transient(&e) || start.elapsed() > STALL_LIMIT {
                return Err(WireError::io("send(PACKET_TX_RING)", e));
            }
            *retries += 1;
            std::thread::yield_now();
        }
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping once.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
    }
}

/// The kind of interface `ifindex`'s root qdisc, in this thread's network
/// namespace.
/// Root qdiscs the kernel attaches by itself (noqueue on veth, the
/// namespace's default on devices with a queue): nothing to honour, so the
/// sender may skip them.
pub const DEFAULT_QDISCS: &[&str] = &["noqueue", "pfifo_fast", "fq_codel", "mq"];

fn root_qdisc(ifindex: i32) -> Result<Option<String>> {
    use netrig_lab::netlink::{ifinfomsg, parse_link, Msg, Netlink, RTM_GETLINK};
    let netlink =
        |e: String| WireError::Netlink(format!("reading the qdisc of interface {ifindex}: {e}"));
    let mut nl = Netlink::open().map_err(|e| netlink(e.to_string()))?;
    let (_, p) = nl
        .get(Msg::new(RTM_GETLINK, 0).header(&ifinfomsg(0, ifindex, 0, 0)))
        .map_err(|e| netlink(e.to_string()))?;
    Ok(parse_link(&p).and_then(|l| l.qdisc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_caps_burst_and_paces() {
        let mut p = Pacer::new(1000, 64);
        assert_eq!(p.burst, 10, "10 ms of tokens at 1000 pps");
        assert_eq!(p.allowance(0), 1);
        assert_eq!(p.allowance(1), 0);
        let mut p = Pacer::new(1_000_000, 64);
        std::thread::sleep(Duration::from_millis(5));
        // 5000 tokens accrued but the bucket holds four batches.
        assert_eq!(p.allowance(0), 256);
        assert!(p.allowance(0) <= 256);
    }
}
