//! Observing a traffic step: captures drained while the sender runs, an end
//! decided by accounting, and the host's own drop counters across the window.
//!
//! A verdict may only blame the system under test for what the harness could
//! see. So the captures are drained by a thread from before the first packet
//! is sent (a ring nobody drains fills up: TPACKET_V3 retires a block every
//! few milliseconds, however empty, and a busy machine makes the sender slow),
//! and the observation ends when every packet sent is accounted for, or else
//! when the path has *settled*:
//!
//! - every capture ring has handed over all it received (its own count),
//! - every captured interface's receive counter has been matched by the
//!   capture (nothing counted in is still queued before the tap),
//! - the host's per-CPU backlogs are empty (`/proc/net/softnet_stat`), and
//! - nothing of the flow arrived for a window that scales with the largest
//!   gap seen while the flow was arriving (so a descheduled softirq on a busy
//!   machine stretches it),
//!
//! or at a hard limit that scales with the send time. The host's drop
//! counters (per-CPU backlog drops, `tx_dropped` of the lab's veth ends whose
//! peer is up, ring drops) are read before and after, so that
//! [`crate::verdicts::judge_traffic`] can tell the machine's loss from the
//! system's.

use crate::verdicts::{broken, Ending, HostDrops, PathCapture, Problem};
use netrig_lab::{Lab, LinkStats};
use netrig_spec::expect::IfacePath;
use netrig_wire::frame::{Frame, FramePattern};
use netrig_wire::{Capture, CaptureOptions, Decoded, Match, Packet, RingStats, Softnet};
use std::collections::{BTreeMap, HashSet};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Ring geometry for verdict captures: many small blocks, so that a drainer
/// descheduled on a busy machine has 64 block timeouts (about 320 ms at low
/// rates) before the ring is full, and 8 MiB (some 55,000 small frames) at
/// high rates. `NETRIG_CAPTURE_RING=KIB` sets the size per capture (rounded
/// to 4 KiB pages, blocks of at most 128 KiB); an unusable value is an error.
pub fn verdict_ring() -> Result<CaptureOptions, String> {
    const BLOCK: usize = 128 << 10;
    let total = match std::env::var("NETRIG_CAPTURE_RING") {
        Err(_) => 64 * BLOCK,
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(kib @ 4..=1_048_576) => (kib << 10) / 4096 * 4096,
            _ => {
                return Err(format!(
                    "NETRIG_CAPTURE_RING={v}: expected the ring size in KiB, 4 to 1048576"
                ))
            }
        },
    };
    let block_size = total.min(BLOCK);
    Ok(CaptureOptions {
        block_size,
        block_count: total / block_size,
        ..CaptureOptions::default()
    })
}

/// Shortest and longest "nothing of the flow arrived" window.
const STILL_MIN: Duration = Duration::from_millis(20);
const STILL_MAX: Duration = Duration::from_secs(1);
/// Bounds of the wait for missing packets: ten times the send time, within these.
const WAIT_MIN: Duration = Duration::from_secs(2);
const WAIT_MAX: Duration = Duration::from_secs(20);
/// How often the drainer wakes without a packet, and the settle loop polls.
const TICK: Duration = Duration::from_millis(2);

/// What the step expects to see, for accounting.
pub(crate) struct Plan {
    /// `node:iface` per capture.
    pub paths: Vec<String>,
    /// Groups of capture indexes; each packet sent should cross one path of each.
    pub groups: Vec<Vec<usize>>,
    /// Lower bounds of packets of the flow per capture index.
    pub received: Vec<(usize, u64)>,
    /// The step's own packets (a traffic step's flow).
    pub flow: Option<Match>,
    /// Or frames by pattern (a `send` or `replay` step's `expect.packets`).
    pub frames: Vec<FrameWant>,
    /// Count distinct tag sequence numbers rather than packets.
    pub tagged: bool,
}

/// Frames an expectation looks for: on one capture (or on any), and how
/// many before the step is accounted for.
pub(crate) struct FrameWant {
    /// Capture index; `None`: every capture (what must not arrive elsewhere).
    pub cap: Option<usize>,
    pub pattern: FramePattern,
    /// At least this many; `None`: as many as were sent.
    pub min: Option<u64>,
}

#[derive(Clone, Default)]
struct CapProgress {
    /// Packets received (not sent) here.
    incoming: u64,
    /// Packets of the flow.
    matching: u64,
    ring: RingStats,
    /// Ring handed over everything it counted.
    ring_caught_up: bool,
}

struct Progress {
    caps: Vec<CapProgress>,
    /// Distinct sequence numbers (tagged) seen per group.
    group_seqs: Vec<HashSet<u64>>,
    /// Frames seen per [`Plan::frames`] entry.
    want_seen: Vec<u64>,
    /// Packets of the flow seen, over all captures.
    matching: u64,
    last_match: Option<Instant>,
    /// Longest wait between two arrivals of the flow.
    max_gap: Duration,
    error: Option<String>,
}

/// Each capture with the packets taken out of it.
type Drained = Vec<(Capture, Vec<Packet>)>;

/// Captures on a step's paths, drained by a thread until [`Watch::finish`].
pub(crate) struct Watch {
    plan: Arc<Plan>,
    progress: Arc<Mutex<Progress>>,
    stop: Arc<AtomicBool>,
    drainer: Option<JoinHandle<Drained>>,
    /// Interface and host counters from when the captures opened.
    host: HostWindow,
    /// The nodes the captures are in: the settle loop reads only their counters.
    capture_nodes: Vec<String>,
}

impl Watch {
    /// Open a capture on every path of `plan` (in its node) and start draining.
    pub fn start(lab: &mut Lab, plan: Plan, opts: &CaptureOptions) -> Result<Watch, Problem> {
        let mut caps = Vec::with_capacity(plan.paths.len());
        for p in &plan.paths {
            let at = IfacePath::parse(p).map_err(broken)?;
            let mut cap = lab
                .run_in(&at.node, || Capture::open(Some(&at.iface), opts.clone()))
                .map_err(|err| broken(err.to_string()))?
                .map_err(|err| broken(format!("capture on {p}: {err}")))?;
            cap.set_label(p.clone());
            caps.push(cap);
        }
        // After the captures: a packet counted before this is captured too,
        // so a capture can only lead these counters, never trail them.
        let host = HostWindow::open(lab)?;
        let mut capture_nodes: Vec<String> = plan
            .paths
            .iter()
            .filter_map(|p| IfacePath::parse(p).ok().map(|p| p.node))
            .collect();
        capture_nodes.sort();
        capture_nodes.dedup();
        let progress = Arc::new(Mutex::new(Progress {
            caps: vec![CapProgress::default(); caps.len()],
            group_seqs: vec![HashSet::new(); plan.groups.len()],
            want_seen: vec![0; plan.frames.len()],
            matching: 0,
            last_match: None,
            max_gap: Duration::ZERO,
            error: None,
        }));
        let plan = Arc::new(plan);
        let stop = Arc::new(AtomicBool::new(false));
        let drainer = {
            let (plan, progress, stop) = (plan.clone(), progress.clone(), stop.clone());
            std::thread::Builder::new()
                .name("netrig-drain".into())
                .spawn(move || drain_loop(caps, &plan, &progress, &stop))
                .map_err(|err| broken(format!("starting the capture thread: {err}")))?
        };
        Ok(Watch {
            plan,
            progress,
            stop,
            drainer: Some(drainer),
            host,
            capture_nodes,
        })
    }

    /// Wait until `sent` packets are accounted for or the path has settled
    /// (see the module docs), at most a bound scaled from `send_time`.
    pub fn settle(&mut self, lab: &mut Lab, sent: u64, send_time: Duration) -> Ending {
        let start = Instant::now();
        let limit = (send_time * 10).clamp(WAIT_MIN, WAIT_MAX);
        let mut quiet_since: Option<(Instant, u64)> = None;
        let mut links_still: Option<(Instant, u64)> = None;
        let mut accounted_at: Option<Instant> = None;
        loop {
            let p = self.snapshot();
            let backlog = Softnet::read().ok().and_then(|s| s.backlog());
            let links = links_of(lab, &self.capture_nodes).unwrap_or_default();
            let rings = p.caps.iter().all(|c| c.ring_caught_up);
            // A capture has caught up with its interface when it saw at
            // least what the interface counted in since it opened.
            let behind: Vec<&str> = self
                .plan
                .paths
                .iter()
                .zip(&p.caps)
                .filter(|(path, c)| {
                    let now = links.get(*path).map_or(0, |s| s.rx_packets);
                    let then = self.host.links.get(*path).map_or(0, |s| s.rx_packets);
                    c.incoming + c.ring.drops < now.saturating_sub(then)
                })
                .map(|(path, _)| path.as_str())
                .collect();
            // Where a capture can never catch up (a driver that counts
            // packets it drops before the tap), counters that stand still
            // say the same.
            let rx_total: u64 = links.values().map(|s| s.rx_packets).sum();
            let counters_still = match links_still {
                Some((t, n)) if n == rx_total => t.elapsed() >= still(&p),
                _ => {
                    links_still = Some((Instant::now(), rx_total));
                    false
                }
            };
            let caught_up = behind.is_empty() || counters_still;
            let quiet = rings && caught_up && backlog.unwrap_or(0) == 0;
            // Everything sent is here: end once the rings are handed over and
            // the host is quiet (a duplicate would still be in flight), or a
            // still window later on a host whose backlogs other work keeps busy.
            if rings && self.accounted(&p, sent) {
                let since = *accounted_at.get_or_insert_with(Instant::now);
                if quiet || since.elapsed() >= still(&p) {
                    return Ending::Accounted {
                        after: start.elapsed(),
                    };
                }
            }
            if quiet {
                match quiet_since {
                    Some((t, n)) if n == p.matching => {
                        let still = still(&p);
                        if t.elapsed() >= still {
                            return Ending::Settled {
                                after: start.elapsed(),
                                still,
                            };
                        }
                    }
                    _ => quiet_since = Some((Instant::now(), p.matching)),
                }
            } else {
                quiet_since = None;
            }
            if start.elapsed() >= limit {
                let mut why = Vec::new();
                if !rings {
                    why.push("a capture ring still held packets".to_string());
                }
                if !caught_up {
                    why.push(format!(
                        "the captures on {} trailed their interface counters",
                        behind.join(", ")
                    ));
                }
                if let Some(n) = backlog.filter(|n| *n > 0) {
                    why.push(format!("{n} packets waited in the host's per-CPU backlogs"));
                }
                if why.is_empty() {
                    why.push("packets of the flow kept arriving".to_string());
                }
                return Ending::Unsettled {
                    after: start.elapsed(),
                    why: why.join("; "),
                };
            }
            if let Some(e) = p.error {
                return Ending::Unsettled {
                    after: start.elapsed(),
                    why: e,
                };
            }
            std::thread::sleep(TICK);
        }
    }

    /// Stop draining; the captures' packets and ring counts, and the host's
    /// drops since [`Watch::start`].
    pub fn finish(mut self, lab: &mut Lab) -> Result<(Vec<PathCapture>, HostDrops), Problem> {
        let caps = self.stop_drainer()?;
        let host = self.host.close(lab)?;
        let captures = self
            .plan
            .paths
            .iter()
            .zip(caps)
            .map(|(path, (mut cap, packets))| PathCapture {
                path: path.clone(),
                packets,
                ring: cap.stats().unwrap_or_default(),
            })
            .collect();
        Ok((captures, host))
    }

    fn stop_drainer(&mut self) -> Result<Drained, Problem> {
        self.stop.store(true, Ordering::Release);
        let caps = match self.drainer.take() {
            Some(h) => h
                .join()
                .map_err(|_| broken("the capture thread panicked"))?,
            None => Vec::new(),
        };
        if let Some(e) = self.snapshot().error {
            return Err(broken(e));
        }
        Ok(caps)
    }

    fn snapshot(&self) -> Snapshot {
        let p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        Snapshot {
            caps: p.caps.clone(),
            group_seen: p.group_seqs.iter().map(|s| s.len() as u64).collect(),
            want_seen: p.want_seen.clone(),
            matching: p.matching,
            max_gap: p.max_gap,
            error: p.error.clone(),
        }
    }

    /// Every packet sent seen in every group (by tag, or by count), and
    /// every `received` bound met. Nothing to account means never accounted.
    fn accounted(&self, p: &Snapshot, sent: u64) -> bool {
        if !self.plan.frames.is_empty() {
            let mins: Vec<u64> = self
                .plan
                .frames
                .iter()
                .map(|w| w.min.unwrap_or(sent))
                .collect();
            // Only "none" or "at least 0": the path must settle.
            if mins.iter().all(|m| *m == 0) {
                return false;
            }
            return mins.iter().zip(&p.want_seen).all(|(m, seen)| seen >= m);
        }
        if self.plan.groups.is_empty() && self.plan.received.is_empty() {
            return false;
        }
        let groups = self.plan.groups.iter().enumerate().all(|(g, members)| {
            let seen = if self.plan.tagged {
                p.group_seen[g]
            } else {
                members.iter().map(|&i| p.caps[i].matching).sum()
            };
            seen >= sent
        });
        groups
            && self
                .plan
                .received
                .iter()
                .all(|&(i, min)| p.caps[i].matching >= min)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.drainer.take() {
            let _ = h.join();
        }
    }
}

struct Snapshot {
    caps: Vec<CapProgress>,
    group_seen: Vec<u64>,
    want_seen: Vec<u64>,
    matching: u64,
    max_gap: Duration,
    error: Option<String>,
}

/// The host's drop counters at the start of a window (a traffic step's, a
/// probe's, a ping's), for [`HostWindow::close`] to tell what the machine
/// itself dropped meanwhile.
pub(crate) struct HostWindow {
    links: BTreeMap<String, LinkStats>,
    softnet: Option<Softnet>,
}

impl HostWindow {
    pub fn open(lab: &mut Lab) -> Result<HostWindow, Problem> {
        Ok(HostWindow {
            links: lab_links(lab)?,
            softnet: Softnet::read().ok(),
        })
    }

    /// Packets the host received outside the lab's nodes since
    /// [`HostWindow::open`]: every packet received anywhere is counted in
    /// the per-CPU `processed` column; the lab's own are its interfaces'
    /// `rx_packets`. `None` where the host counters cannot be read.
    pub fn received_outside_lab(&self, lab: &mut Lab) -> Result<Option<u64>, Problem> {
        let (Some(then), Ok(now)) = (&self.softnet, Softnet::read()) else {
            return Ok(None);
        };
        let links_now = lab_links(lab)?;
        let lab_rx: u64 = links_now
            .iter()
            .map(|(p, s)| {
                s.rx_packets
                    .saturating_sub(self.links.get(p).map_or(0, |b| b.rx_packets))
            })
            .sum();
        Ok(Some(now.processed_since(then).saturating_sub(lab_rx)))
    }

    /// Per-CPU backlog drops, and `tx_dropped` of the lab's veth ends whose
    /// peer is up, since [`HostWindow::open`].
    pub fn close(&self, lab: &mut Lab) -> Result<HostDrops, Problem> {
        let softnet = Softnet::read().ok();
        let links_now = lab_links(lab)?;
        let mut host = HostDrops {
            backlog: match (&softnet, &self.softnet) {
                (Some(now), Some(then)) => Some(now.dropped_since(then)),
                _ => None,
            },
            cpus: softnet.as_ref().map_or(0, |s| s.cpus.len()),
            ..HostDrops::default()
        };
        for path in lab_veth_up(lab)? {
            host.veth_ends += 1;
            let now = links_now.get(&path).map_or(0, |s| s.tx_dropped);
            let then = self.links.get(&path).map_or(0, |s| s.tx_dropped);
            if now > then {
                host.veth.insert(path, now - then);
            }
        }
        Ok(host)
    }
}

/// The "nothing of the flow arrived" window: three times the longest gap
/// between arrivals seen so far, within [STILL_MIN, STILL_MAX].
fn still(p: &Snapshot) -> Duration {
    (p.max_gap * 3).clamp(STILL_MIN, STILL_MAX)
}

/// Counters of every interface of the lab (LAN switches included), by
/// `namespace:iface`.
fn lab_links(lab: &mut Lab) -> Result<BTreeMap<String, LinkStats>, Problem> {
    let mut out = BTreeMap::new();
    for (ns, links) in lab.all_links().map_err(|err| broken(err.to_string()))? {
        for l in links {
            out.insert(format!("{ns}:{}", l.name), l.stats);
        }
    }
    Ok(out)
}

/// Counters of every interface of `nodes`, by `node:iface`: one dump each.
fn links_of(lab: &mut Lab, nodes: &[String]) -> Result<BTreeMap<String, LinkStats>, Problem> {
    let mut out = BTreeMap::new();
    for n in nodes {
        for l in lab.links(n).map_err(|err| broken(err.to_string()))? {
            out.insert(format!("{n}:{}", l.name), l.stats);
        }
    }
    Ok(out)
}

/// The lab's veth ends that are up with carrier (so their peer is up too),
/// LAN switch ports included, and the TAP ends of impaired links: a TAP's
/// `tx_dropped` counts frames its engine did not read in time, a loss of
/// the host's; what the engine itself drops is the link's impairment.
fn lab_veth_up(lab: &mut Lab) -> Result<Vec<String>, Problem> {
    const IFF_UP: u32 = 0x1;
    const IFF_LOWER_UP: u32 = 0x1_0000;
    let mut out = Vec::new();
    for (ns, links) in lab.all_links().map_err(|err| broken(err.to_string()))? {
        for l in links {
            let up = l.flags & (IFF_UP | IFF_LOWER_UP) == IFF_UP | IFF_LOWER_UP;
            if up && matches!(l.kind.as_deref(), Some("veth" | "tun")) {
                out.push(format!("{ns}:{}", l.name));
            }
        }
    }
    Ok(out)
}

/// The drainer: take every ready block of every ring, account for the
/// flow's packets, and publish progress, until told to stop (then one last
/// pass, so what arrived before the stop is kept).
fn drain_loop(
    mut caps: Vec<Capture>,
    plan: &Plan,
    progress: &Mutex<Progress>,
    stop: &AtomicBool,
) -> Drained {
    let mut kept: Vec<Vec<Packet>> = caps.iter().map(|_| Vec::new()).collect();
    // Which groups each capture belongs to.
    let member_of: Vec<Vec<usize>> = (0..caps.len())
        .map(|i| {
            (0..plan.groups.len())
                .filter(|&g| plan.groups[g].contains(&i))
                .collect()
        })
        .collect();
    loop {
        let last_pass = stop.load(Ordering::Acquire);
        if !last_pass {
            wait_readable(&caps);
        }
        let mut p = progress.lock().unwrap_or_else(PoisonError::into_inner);
        let mut fresh = 0u64;
        for (i, cap) in caps.iter_mut().enumerate() {
            let start = kept[i].len();
            cap.drain(&mut |pkt| kept[i].push(pkt));
            let prog = &mut p.caps[i];
            let mut seqs = Vec::new();
            let mut want_add = vec![0u64; plan.frames.len()];
            for pkt in &kept[i][start..] {
                if !pkt.pkttype.is_outgoing() {
                    prog.incoming += 1;
                }
                if !plan.frames.is_empty() {
                    let f = Frame::decode(&pkt.data);
                    let mut hit = false;
                    for (k, w) in plan.frames.iter().enumerate() {
                        if w.cap.is_none_or(|c| c == i) && w.pattern.matches(&f) {
                            hit = true;
                            want_add[k] += 1;
                        }
                    }
                    if hit {
                        prog.matching += 1;
                        fresh += 1;
                    }
                    continue;
                }
                let Some(d) = Decoded::parse(&pkt.data) else {
                    continue;
                };
                if plan.flow.as_ref().is_some_and(|f| f.matches(&d)) {
                    prog.matching += 1;
                    fresh += 1;
                    if let (true, Some(t)) = (plan.tagged, d.tag) {
                        seqs.push(t.seq);
                    }
                }
            }
            match cap.pending() {
                Ok((pending, ring)) => {
                    prog.ring_caught_up = pending == 0;
                    prog.ring = ring;
                }
                Err(e) => p.error = Some(format!("reading the ring of {}: {e}", cap.label())),
            }
            for &g in &member_of[i] {
                p.group_seqs[g].extend(seqs.iter().copied());
            }
            for (seen, add) in p.want_seen.iter_mut().zip(want_add) {
                *seen += add;
            }
        }
        if fresh > 0 {
            let now = Instant::now();
            if let Some(last) = p.last_match {
                p.max_gap = p.max_gap.max(now - last);
            }
            p.last_match = Some(now);
            p.matching += fresh;
        }
        drop(p);
        if last_pass {
            break;
        }
    }
    caps.into_iter().zip(kept).collect()
}

/// Sleep until any ring has a block ready, or one tick.
fn wait_readable(caps: &[Capture]) {
    let mut fds: Vec<libc::pollfd> = caps
        .iter()
        .map(|c| libc::pollfd {
            fd: c.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        })
        .collect();
    // SAFETY: poll on descriptors the captures own, for one tick at most; an
    // error (EINTR) just ends this wait early.
    unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            TICK.as_millis() as i32,
        );
    }
}
