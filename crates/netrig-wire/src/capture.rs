//! Capture on a TPACKET_V3 RX ring, with bounded stop conditions and ring
//! drop statistics. Several captures (on several nodes) can be drained
//! together by [`CaptureSet`] so that negative checks share one quiet window.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Result, WireError};
use crate::sys;

const ETH_P_ALL: u16 = 0x0003;

/// Which packets a capture keeps, by direction relative to the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Received and sent.
    #[default]
    Both,
    /// Received only (host, broadcast, multicast, other-host).
    In,
    /// Sent by this host (including forwarded).
    Out,
}

/// Options for [`Capture::open`].
#[derive(Clone, Debug)]
pub struct CaptureOptions {
    /// Ring block size in bytes (multiple of the page size).
    pub block_size: usize,
    pub block_count: usize,
    /// How long the kernel holds a partly filled block before handing it over;
    /// also the delivery latency. Milliseconds.
    pub block_timeout_ms: u32,
    pub direction: Direction,
    /// Bytes kept per packet (the rest is counted in `orig_len`).
    pub snaplen: usize,
    pub promisc: bool,
    /// Label for reports and pcapng `if_description`, e.g. "h1:eth0".
    pub label: Option<String>,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            block_size: 1 << 20,
            block_count: 8,
            block_timeout_ms: 5,
            direction: Direction::Both,
            snaplen: 65535,
            promisc: false,
            label: None,
        }
    }
}

/// When a capture stops. `max` always bounds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopWhen {
    /// Stop after this many packets (over all captures of a set).
    pub count: Option<u64>,
    /// Stop after no packet arrived for this long (on any capture of a set).
    pub quiet: Option<Duration>,
    /// Hard limit.
    pub max: Duration,
}

impl StopWhen {
    /// Stop after `n` packets, or after `max`.
    pub fn count(n: u64, max: Duration) -> Self {
        StopWhen {
            count: Some(n),
            quiet: None,
            max,
        }
    }
    /// Stop after a quiet window, or after `max`.
    pub fn quiet(window: Duration, max: Duration) -> Self {
        StopWhen {
            count: None,
            quiet: Some(window),
            max,
        }
    }
    /// Stop after exactly `d`.
    pub fn duration(d: Duration) -> Self {
        StopWhen {
            count: None,
            quiet: None,
            max: d,
        }
    }
}

/// Direction of a captured packet, from `sll_pkttype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PktType {
    Host,
    Broadcast,
    Multicast,
    OtherHost,
    Outgoing,
    Other(u8),
}

impl PktType {
    fn from_raw(v: u8) -> Self {
        match v {
            libc::PACKET_HOST => PktType::Host,
            libc::PACKET_BROADCAST => PktType::Broadcast,
            libc::PACKET_MULTICAST => PktType::Multicast,
            libc::PACKET_OTHERHOST => PktType::OtherHost,
            libc::PACKET_OUTGOING => PktType::Outgoing,
            o => PktType::Other(o),
        }
    }
    /// True for packets this host sent.
    pub fn is_outgoing(&self) -> bool {
        *self == PktType::Outgoing
    }
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Wall-clock nanoseconds since the Unix epoch (kernel receive time).
    pub ts_ns: u64,
    pub ifindex: i32,
    /// Interface name in the capture's namespace.
    pub ifname: String,
    pub pkttype: PktType,
    /// Length on the wire (may exceed `data.len()` with a snaplen).
    pub orig_len: u32,
    /// What the kernel says about the transport checksum (tp_status).
    pub csum: CsumStatus,
    pub data: Vec<u8>,
}

/// The kernel's word on a captured packet's transport checksum. Packets sent
/// from a veth-connected namespace often carry a *partial* checksum (offload:
/// the pseudo-header sum only), which is correct by contract, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsumStatus {
    /// TP_STATUS_CSUMNOTREADY: left for offload; the field holds a partial sum.
    Partial,
    /// TP_STATUS_CSUM_VALID: verified by the receive path.
    Verified,
    /// Nothing said: check it ourselves.
    Unknown,
}

impl CsumStatus {
    fn from_status(status: u32) -> Self {
        const CSUMNOTREADY: u32 = 1 << 3;
        const CSUM_VALID: u32 = 1 << 7;
        if status & CSUMNOTREADY != 0 {
            CsumStatus::Partial
        } else if status & CSUM_VALID != 0 {
            CsumStatus::Verified
        } else {
            CsumStatus::Unknown
        }
    }
}

/// Cumulative ring statistics from PACKET_STATISTICS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Packets that reached the socket (delivered + dropped).
    pub packets: u64,
    /// Packets dropped because the ring was full.
    pub drops: u64,
    /// Times the ring was frozen (all blocks owned by user space).
    pub freeze_q_cnt: u64,
}

/// A TPACKET_V3 receive ring on one interface (or all) of the namespace it
/// was opened in.
pub struct Capture {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    cur: usize,
    opts: CaptureOptions,
    ifname: Option<String>,
    ifindex: i32,
    names: HashMap<i32, String>,
    stats: RingStats,
    /// Packets taken out of the ring so far, whatever the direction filter
    /// kept: with [`RingStats`] this tells whether the ring still holds some.
    handed: u64,
}

// The ring mapping is owned by this value only.
unsafe impl Send for Capture {}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("ifname", &self.ifname)
            .field("label", &self.opts.label)
            .finish()
    }
}

impl Capture {
    /// Open a ring on `ifname` (`None`: every interface) in the calling
    /// thread's namespace. Packets are queued from this moment on.
    pub fn open(ifname: Option<&str>, opts: CaptureOptions) -> Result<Self> {
        let page = 4096;
        if opts.block_size < page || opts.block_size % page != 0 || opts.block_count == 0 {
            return Err(WireError::InvalidOption(format!(
                "block_size {} must be a positive multiple of {page}, block_count {} positive",
                opts.block_size, opts.block_count
            )));
        }
        // Protocol 0 until bound: no packet from another interface sneaks in
        // between socket() and bind().
        let fd = sys::packet_socket()?;
        let raw = fd.as_raw_fd();
        let ifindex = match ifname {
            Some(n) => sys::ifindex(&fd, n)?,
            None => 0,
        };
        sys::setsockopt(
            raw,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(libc::tpacket_versions::TPACKET_V3 as i32),
            "PACKET_VERSION",
        )?;
        let frame = 2048u32;
        let req = libc::tpacket_req3 {
            tp_block_size: opts.block_size as u32,
            tp_block_nr: opts.block_count as u32,
            tp_frame_size: frame,
            tp_frame_nr: (opts.block_size / frame as usize * opts.block_count) as u32,
            tp_retire_blk_tov: opts.block_timeout_ms.max(1),
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sys::setsockopt(
            raw,
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req,
            "PACKET_RX_RING",
        )?;
        let map_len = opts.block_size * opts.block_count;
        // SAFETY: mapping the ring just configured on this socket.
        let map = unsafe {
            libc::mmap(
                ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                raw,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(WireError::last_os("mmap(PACKET_RX_RING)"));
        }
        let mut cap = Capture {
            fd,
            map: map.cast(),
            map_len,
            block_size: opts.block_size,
            block_count: opts.block_count,
            cur: 0,
            opts,
            ifname: ifname.map(str::to_string),
            ifindex,
            names: HashMap::new(),
            stats: RingStats::default(),
            handed: 0,
        };
        if cap.opts.direction == Direction::In {
            // Cheaper than filtering in user space; ignore if unsupported.
            let _ = sys::setsockopt(
                raw,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &1i32,
                "PACKET_IGNORE_OUTGOING",
            );
        }
        if cap.opts.promisc && ifindex != 0 {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            sys::setsockopt(
                raw,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "PACKET_ADD_MEMBERSHIP",
            )?;
        }
        sys::bind_packet(&cap.fd, ifindex, ETH_P_ALL)?;
        if let Some(n) = ifname {
            cap.names.insert(ifindex, n.to_string());
        }
        Ok(cap)
    }

    /// The interface name given to `open` (`None` for all interfaces).
    pub fn ifname(&self) -> Option<&str> {
        self.ifname.as_deref()
    }

    /// Interface index (0 when capturing on all interfaces).
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The label for reports: the option, else the interface name, else "any".
    pub fn label(&self) -> String {
        self.opts
            .label
            .clone()
            .or_else(|| self.ifname.clone())
            .unwrap_or_else(|| "any".to_string())
    }

    /// Set the report label (e.g. "h1:eth0").
    pub fn set_label(&mut self, label: impl Into<String>) {
        self.opts.label = Some(label.into());
    }

    /// Snap length in use.
    pub fn snaplen(&self) -> usize {
        self.opts.snaplen
    }

    fn block(&self, i: usize) -> *mut libc::tpacket_block_desc {
        // SAFETY (for callers): i < block_count keeps us inside the mapping.
        unsafe { self.map.add(i * self.block_size).cast() }
    }

    fn block_ready(&self, i: usize) -> bool {
        let b = self.block(i);
        // SAFETY: reading the status word the kernel publishes.
        let st = unsafe { ptr::read_volatile(ptr::addr_of!((*b).hdr.bh1.block_status)) };
        fence(Ordering::Acquire);
        st & libc::TP_STATUS_USER != 0
    }

    /// Hand every ready block's packets to `f`; returns how many were seen.
    /// Does not block.
    pub fn drain(&mut self, f: &mut dyn FnMut(Packet)) -> usize {
        let mut seen = 0;
        while self.block_ready(self.cur) {
            let b = self.block(self.cur);
            // SAFETY: the block is owned by user space until we set it back to
            // TP_STATUS_KERNEL; all offsets come from the kernel and stay
            // inside the block.
            unsafe {
                let h = ptr::addr_of!((*b).hdr.bh1);
                let n = (*h).num_pkts;
                self.handed += u64::from(n);
                let mut p = b.cast::<u8>().add((*h).offset_to_first_pkt as usize);
                for _ in 0..n {
                    let ph = p.cast::<libc::tpacket3_hdr>();
                    let sll = p
                        .add((std::mem::size_of::<libc::tpacket3_hdr>() + 15) & !15)
                        .cast::<libc::sockaddr_ll>();
                    let pkttype = PktType::from_raw((*sll).sll_pkttype);
                    let keep = match self.opts.direction {
                        Direction::Both => true,
                        Direction::In => !pkttype.is_outgoing(),
                        Direction::Out => pkttype.is_outgoing(),
                    };
                    if keep {
                        let snap = ((*ph).tp_snaplen as usize).min(self.opts.snaplen);
                        let mut data =
                            std::slice::from_raw_parts(p.add((*ph).tp_mac as usize), snap).to_vec();
                        let mut orig_len = (*ph).tp_len;
                        // The receive path moves an 802.1Q tag out of the
                        // frame into metadata: put it back where it was on
                        // the wire, as tcpdump does.
                        let status = (*ph).tp_status;
                        if status & libc::TP_STATUS_VLAN_VALID != 0 && data.len() >= 12 {
                            let hv1 = &(*ph).hv1;
                            let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                                hv1.tp_vlan_tpid
                            } else {
                                0x8100
                            };
                            let mut tag = [0u8; 4];
                            tag[..2].copy_from_slice(&tpid.to_be_bytes());
                            tag[2..].copy_from_slice(&(hv1.tp_vlan_tci as u16).to_be_bytes());
                            data.splice(12..12, tag);
                            orig_len += 4;
                        }
                        let ifindex = (*sll).sll_ifindex;
                        let ifname = self.name_of(ifindex);
                        f(Packet {
                            ts_ns: u64::from((*ph).tp_sec) * 1_000_000_000
                                + u64::from((*ph).tp_nsec),
                            ifindex,
                            ifname,
                            pkttype,
                            orig_len,
                            csum: CsumStatus::from_status(status),
                            data,
                        });
                        seen += 1;
                    }
                    p = p.add((*ph).tp_next_offset as usize);
                }
                fence(Ordering::Release);
                ptr::write_volatile(
                    ptr::addr_of_mut!((*b).hdr.bh1.block_status),
                    libc::TP_STATUS_KERNEL,
                );
            }
            self.cur = (self.cur + 1) % self.block_count;
        }
        seen
    }

    fn name_of(&mut self, ifindex: i32) -> String {
        if let Some(n) = self.names.get(&ifindex) {
            return n.clone();
        }
        let n = sys::ifname(&self.fd, ifindex).unwrap_or_else(|| format!("if{ifindex}"));
        self.names.insert(ifindex, n.clone());
        n
    }

    /// Block until the ring may have a packet for [`Capture::drain`], or
    /// `timeout` passes (an interrupting signal also ends the wait, so a
    /// caller can check a stop flag). Returns whether the socket is readable.
    pub fn wait(&self, timeout: Duration) -> Result<bool> {
        if self.block_ready(self.cur) {
            return Ok(true);
        }
        let mut fds = [libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        }];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        Ok(sys::poll_fds(&mut fds, ms)? > 0)
    }

    /// Collect packets until `stop` says so.
    pub fn collect(&mut self, stop: StopWhen) -> Result<Vec<Packet>> {
        Ok(collect_many(&mut [self], stop)?.pop().unwrap_or_default())
    }

    /// Packets the ring counted but has not handed over yet (they wait in a
    /// block the kernel has not retired), with the ring statistics read for
    /// it. Zero means the capture holds nothing back.
    pub fn pending(&mut self) -> Result<(u64, RingStats)> {
        let st = self.stats()?;
        Ok((st.packets.saturating_sub(st.drops + self.handed), st))
    }

    /// Cumulative ring statistics (the kernel resets its counters on read,
    /// so we accumulate).
    pub fn stats(&mut self) -> Result<RingStats> {
        let s: libc::tpacket_stats_v3 = sys::getsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            "PACKET_STATISTICS",
        )?;
        self.stats.packets += u64::from(s.tp_packets);
        self.stats.drops += u64::from(s.tp_drops);
        self.stats.freeze_q_cnt += u64::from(s.tp_freeze_q_cnt);
        Ok(self.stats)
    }
}

impl AsRawFd for Capture {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if !self.map.is_null() {
            // SAFETY: unmapping our own ring once.
            unsafe {
                libc::munmap(self.map.cast(), self.map_len);
            }
        }
    }
}

/// Several captures drained together, possibly in different namespaces
/// (each socket keeps its own), with one shared stop condition.
#[derive(Debug, Default)]
pub struct CaptureSet {
    caps: Vec<Capture>,
}

impl CaptureSet {
    pub fn new() -> Self {
        CaptureSet { caps: Vec::new() }
    }

    /// Add a capture; results come back in the same order.
    pub fn push(&mut self, c: Capture) -> usize {
        self.caps.push(c);
        self.caps.len() - 1
    }

    /// The captures, in insertion order.
    pub fn captures_mut(&mut self) -> &mut [Capture] {
        &mut self.caps
    }

    /// Take the captures back.
    pub fn into_inner(self) -> Vec<Capture> {
        self.caps
    }

    /// Collect from all captures until `stop`: the count is over all
    /// captures, and the quiet window is shared (it restarts when any
    /// capture sees a packet), so "nothing elsewhere" costs one window total.
    pub fn collect(&mut self, stop: StopWhen) -> Result<Vec<Vec<Packet>>> {
        let mut refs: Vec<&mut Capture> = self.caps.iter_mut().collect();
        collect_many(&mut refs, stop)
    }
}

/// Drain `caps` together until `stop` (see [`CaptureSet::collect`]).
pub fn collect_many(caps: &mut [&mut Capture], stop: StopWhen) -> Result<Vec<Vec<Packet>>> {
    let start = Instant::now();
    let mut out: Vec<Vec<Packet>> = caps.iter().map(|_| Vec::new()).collect();
    let mut total = 0u64;
    // The ring hands packets over up to one block timeout late; a quiet
    // window shorter than that would stop before they show up.
    let latency = caps
        .iter()
        .map(|c| Duration::from_millis(u64::from(c.opts.block_timeout_ms)))
        .max()
        .unwrap_or_default();
    let quiet = stop.quiet.map(|q| q.max(latency * 2));
    let mut last = Instant::now();
    loop {
        for (i, c) in caps.iter_mut().enumerate() {
            let sink = &mut out[i];
            let n = c.drain(&mut |p| sink.push(p));
            if n > 0 {
                total += n as u64;
                last = Instant::now();
            }
        }
        let now = Instant::now();
        if stop.count.is_some_and(|n| total >= n) {
            break;
        }
        if quiet.is_some_and(|q| now.duration_since(last) >= q) {
            break;
        }
        let end = start + stop.max;
        if now >= end {
            break;
        }
        let mut wake = end;
        if let Some(q) = quiet {
            wake = wake.min(last + q);
        }
        let ms = wake
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 1000) as i32;
        let mut fds: Vec<libc::pollfd> = caps
            .iter()
            .map(|c| libc::pollfd {
                fd: c.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            })
            .collect();
        sys::poll_fds(&mut fds, ms)?;
    }
    // Packets beyond the count that arrived in the same block are kept:
    // they were on the wire and a check may want them.
    Ok(out)
}
