//! Link impairment: netrig's own engine, for kernels without netem.
//!
//! An impaired link is two TAP devices, one in each end's namespace with the
//! name, MAC, MTU and addresses the veth end would have had, and a thread of
//! the process that holds the lab moving frames between their descriptors.
//! What a TAP's end transmits is read from its descriptor; written to the
//! other descriptor, it is what the other end receives.
//!
//! Each direction applies its [`Impairment`] in this order: loss (random or
//! Gilbert-Elliott), the queue limit (tail drop), duplication, corruption,
//! rate (serialisation: a frame leaves after the ones before it, at the
//! link's rate), then delay with jitter (a reordered frame skips the delay).
//! Jitter may reorder frames, as netem's does.
//!
//! # Reproducible
//!
//! Each direction has its own PCG generator seeded from the link's seed, and
//! draws exactly [`DRAWS`] numbers per frame whatever happens to the frame,
//! so frame *n* of a direction gets the same decisions for the same seed,
//! whatever the timing (a tail drop, which depends on timing, consumes its
//! draws too). The same seed and the same frame sequence give the same
//! losses, duplicates, corruptions and delays.
//!
//! # Timing
//!
//! Frames are held in a binary heap keyed by release time; the thread sleeps
//! in `ppoll` until the earliest release or a new frame, so a frame never
//! leaves before its time, and leaves after it by the thread's wakeup
//! latency. The thread asks for `SCHED_FIFO` (lowest real-time priority)
//! so that busy processes beside a lab do not stretch the delays it applies;
//! where that is refused (rootless), it runs as an ordinary thread and says so
//! in [`ImpairInfo::realtime`].

use netrig_spec::{Distribution, Impairment, Loss};
use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, BinaryHeap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Random numbers drawn per frame, used or not (see the module docs).
pub const DRAWS: usize = 8;
/// Counters per direction, in [`DirStats`] order.
pub const COUNTERS: usize = 9;
const ETH_HLEN: usize = 14;

/// What one direction of an impaired link did, since the lab was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirStats {
    /// Frames the sending end transmitted into the link.
    pub sent: u64,
    /// Frames handed to the receiving end (duplicates included).
    pub delivered: u64,
    /// Frames dropped by the loss model.
    pub dropped_loss: u64,
    /// Frames dropped because `limit` frames were already held (tail drop).
    pub dropped_queue: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Frames delivered while a frame that entered before them was still held.
    pub reordered: u64,
    /// Frames with a bit flipped.
    pub corrupted: u64,
    /// Frames held for a delay above zero.
    pub delayed: u64,
    /// Frames the receiving TAP refused (its interface down, for example).
    pub write_errors: u64,
}

impl DirStats {
    fn from_words(w: [u64; COUNTERS]) -> DirStats {
        DirStats {
            sent: w[0],
            delivered: w[1],
            dropped_loss: w[2],
            dropped_queue: w[3],
            duplicated: w[4],
            reordered: w[5],
            corrupted: w[6],
            delayed: w[7],
            write_errors: w[8],
        }
    }

    /// Frames that entered and have not left or been dropped yet.
    pub fn held(&self) -> u64 {
        (self.sent + self.duplicated)
            .saturating_sub(self.delivered + self.write_errors)
            .saturating_sub(self.dropped_loss + self.dropped_queue)
    }
}

impl std::fmt::Display for DirStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {} delivered {} lost {} queue-dropped {} duplicated {} reordered {} corrupted {} delayed {}",
            self.sent,
            self.delivered,
            self.dropped_loss,
            self.dropped_queue,
            self.duplicated,
            self.reordered,
            self.corrupted,
            self.delayed
        )?;
        if self.write_errors > 0 {
            write!(f, " write-errors {}", self.write_errors)?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Counter {
    Sent = 0,
    Delivered,
    Loss,
    Queue,
    Duplicated,
    Reordered,
    Corrupted,
    Delayed,
    WriteErrors,
}

/// The counters of every impaired link of a lab, in a shared memory file so
/// that another process (`netrig link` on a persistent lab) can read them
/// through `/proc/<holder>/fd/<n>` without asking the holder.
pub struct CounterPage {
    fd: OwnedFd,
    ptr: *mut u64,
    words: usize,
}

// SAFETY: the mapping is only accessed with volatile word reads and writes,
// each counter written by one thread only.
unsafe impl Send for CounterPage {}
unsafe impl Sync for CounterPage {}

impl CounterPage {
    /// Counters for `links` links.
    pub fn new(links: usize) -> io::Result<CounterPage> {
        let words = (links * 2 * COUNTERS).max(1);
        // SAFETY: a fresh memory file we own.
        let fd = unsafe { libc::memfd_create(c"netrig-impair".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sizing our own file.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), (words * 8) as libc::off_t) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Self::map(fd, words, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// Map another process's counters read-only (`path` is
    /// `/proc/<pid>/fd/<n>`), for `links` links.
    pub fn open(path: &std::path::Path, links: usize) -> io::Result<CounterPage> {
        let f = std::fs::File::open(path)?;
        let words = (links * 2 * COUNTERS).max(1);
        if f.metadata()?.len() < (words * 8) as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "counter file is smaller than its links need",
            ));
        }
        Self::map(f.into(), words, libc::PROT_READ)
    }

    fn map(fd: OwnedFd, words: usize, prot: libc::c_int) -> io::Result<CounterPage> {
        // SAFETY: mapping a file of at least `words * 8` bytes, shared.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                words * 8,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(CounterPage {
            fd,
            ptr: ptr.cast(),
            words,
        })
    }

    /// The descriptor, for a holder to publish.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn slot(&self, link: usize, dir: usize, c: usize) -> Option<*mut u64> {
        let i = (link * 2 + dir) * COUNTERS + c;
        // SAFETY: bounds checked against the mapping's length.
        (i < self.words).then(|| unsafe { self.ptr.add(i) })
    }

    fn add(&self, link: usize, dir: usize, c: Counter, n: u64) {
        if let Some(p) = self.slot(link, dir, c as usize) {
            // SAFETY: an aligned word of our mapping; one writer per counter.
            unsafe { p.write_volatile(p.read_volatile() + n) };
        }
    }

    /// The counters of one direction (`dir` 0: what the link's first end sends).
    pub fn read(&self, link: usize, dir: usize) -> DirStats {
        let mut w = [0u64; COUNTERS];
        for (c, v) in w.iter_mut().enumerate() {
            if let Some(p) = self.slot(link, dir, c) {
                // SAFETY: an aligned word of our mapping.
                *v = unsafe { p.read_volatile() };
            }
        }
        DirStats::from_words(w)
    }
}

impl Drop for CounterPage {
    fn drop(&mut self) {
        // SAFETY: unmapping what `map` mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.words * 8) };
    }
}

/// Words of one direction's model in a [`ModelPage`].
const MODEL_WORDS: usize = 16;
/// Words of one link in a [`ModelPage`]: generation, taken generation, then
/// both directions' models.
const LINK_MODEL_WORDS: usize = 2 + 2 * MODEL_WORDS;

/// Encode a direction's model as words (f64 by their bits).
fn encode_model(imp: &Impairment) -> [u64; MODEL_WORDS] {
    let mut w = [0u64; MODEL_WORDS];
    w[0] = imp.delay.as_nanos() as u64;
    w[1] = imp.jitter.as_nanos() as u64;
    w[2] = matches!(imp.distribution, Distribution::Normal) as u64;
    match imp.loss {
        Loss::None => {}
        Loss::Random(p) => {
            w[3] = 1;
            w[4] = p.to_bits();
        }
        Loss::Gilbert {
            p,
            r,
            loss_good,
            loss_bad,
        } => {
            w[3] = 2;
            w[4] = p.to_bits();
            w[5] = r.to_bits();
            w[6] = loss_good.to_bits();
            w[7] = loss_bad.to_bits();
        }
    }
    w[8] = imp.duplicate.to_bits();
    w[9] = imp.reorder.to_bits();
    w[10] = imp.corrupt.to_bits();
    // A rate is at least 1 bit/s (netrig_flow::parse_rate): 0 is "none".
    w[11] = imp.rate.unwrap_or(0);
    w[12] = imp.limit as u64;
    w
}

fn decode_model(w: &[u64; MODEL_WORDS]) -> Impairment {
    let f = f64::from_bits;
    Impairment {
        delay: Duration::from_nanos(w[0]),
        jitter: Duration::from_nanos(w[1]),
        distribution: if w[2] == 1 {
            Distribution::Normal
        } else {
            Distribution::Uniform
        },
        loss: match w[3] {
            1 => Loss::Random(f(w[4])),
            2 => Loss::Gilbert {
                p: f(w[4]),
                r: f(w[5]),
                loss_good: f(w[6]),
                loss_bad: f(w[7]),
            },
            _ => Loss::None,
        },
        duplicate: f(w[8]),
        reorder: f(w[9]),
        corrupt: f(w[10]),
        rate: (w[11] > 0).then_some(w[11]),
        limit: w[12].min(u32::MAX as u64) as u32,
    }
}

/// The current model of every impaired link of a lab, in a shared memory
/// file like the counters: a lab's own steps and `netrig link --set` (another
/// process, through `/proc/<holder>/fd/<n>`) write a new model there, wake
/// the link's engine through its wake pipe, and wait until the engine says
/// it took it. Per link: a generation (odd while a writer is mid-way, a
/// seqlock), the generation the engine took last, and both directions'
/// models. Writers take an exclusive `flock` on the file.
pub struct ModelPage {
    map: CounterPage,
}

impl ModelPage {
    /// Models for `links` links, all unimpaired until set.
    pub fn new(links: usize) -> io::Result<ModelPage> {
        let words = (links * LINK_MODEL_WORDS).max(1);
        // SAFETY: a fresh memory file we own.
        let fd = unsafe { libc::memfd_create(c"netrig-impair-model".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sizing our own file.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), (words * 8) as libc::off_t) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let map = CounterPage::map(fd, words, libc::PROT_READ | libc::PROT_WRITE)?;
        Ok(ModelPage { map })
    }

    /// Map another process's models (`/proc/<pid>/fd/<n>`) for `links`
    /// links, writable to change them.
    pub fn open(path: &std::path::Path, links: usize) -> io::Result<ModelPage> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        let words = (links * LINK_MODEL_WORDS).max(1);
        if f.metadata()?.len() < (words * 8) as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "model file is smaller than its links need",
            ));
        }
        let map = CounterPage::map(f.into(), words, libc::PROT_READ | libc::PROT_WRITE)?;
        Ok(ModelPage { map })
    }

    /// The descriptor, for a holder to publish.
    pub fn raw_fd(&self) -> RawFd {
        self.map.raw_fd()
    }

    fn word(&self, link: usize, i: usize) -> Option<&AtomicU64> {
        let i = link * LINK_MODEL_WORDS + i;
        // SAFETY: bounds checked; an aligned word of a shared mapping that
        // lives as long as self, only accessed atomically.
        (i < self.map.words).then(|| unsafe { &*(self.map.ptr.add(i) as *const AtomicU64) })
    }

    fn generation(&self, link: usize) -> u64 {
        self.word(link, 0).map_or(0, |w| w.load(Ordering::Acquire))
    }

    /// Both directions' current models, or `None` while a writer is mid-way.
    fn try_read(&self, link: usize) -> Option<(u64, [Impairment; 2])> {
        let g = self.generation(link);
        if g % 2 == 1 {
            return None;
        }
        let dirs = [0, 1].map(|d| {
            let mut w = [0u64; MODEL_WORDS];
            for (k, v) in w.iter_mut().enumerate() {
                *v = self
                    .word(link, 2 + d * MODEL_WORDS + k)
                    .map_or(0, |x| x.load(Ordering::Relaxed));
            }
            decode_model(&w)
        });
        std::sync::atomic::fence(Ordering::Acquire);
        (self.generation(link) == g).then_some((g, dirs))
    }

    /// Both directions' current models (direction 0: what the link's first
    /// end sends).
    pub fn read(&self, link: usize) -> [Impairment; 2] {
        loop {
            if let Some((_, dirs)) = self.try_read(link) {
                return dirs;
            }
            std::hint::spin_loop();
        }
    }

    /// Replace the models of the directions given (`None`: left as it is);
    /// returns the new generation, for [`ModelPage::wait_taken`].
    pub fn write(&self, link: usize, dirs: [Option<&Impairment>; 2]) -> io::Result<u64> {
        let fd = self.map.raw_fd();
        // SAFETY: locking our own descriptor; released below or when it closes.
        if unsafe { libc::flock(fd, libc::LOCK_EX) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let Some(gen) = self.word(link, 0) else {
            // SAFETY: as above.
            unsafe { libc::flock(fd, libc::LOCK_UN) };
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no such impaired link",
            ));
        };
        let g = gen.load(Ordering::Relaxed);
        gen.store(g + 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        for (d, imp) in dirs.iter().enumerate() {
            let Some(imp) = imp else { continue };
            for (k, v) in encode_model(imp).iter().enumerate() {
                if let Some(w) = self.word(link, 2 + d * MODEL_WORDS + k) {
                    w.store(*v, Ordering::Relaxed);
                }
            }
        }
        gen.store(g + 2, Ordering::Release);
        // SAFETY: as above.
        unsafe { libc::flock(fd, libc::LOCK_UN) };
        Ok(g + 2)
    }

    fn taken(&self, link: usize) -> u64 {
        self.word(link, 1).map_or(0, |w| w.load(Ordering::Acquire))
    }

    fn set_taken(&self, link: usize, g: u64) {
        if let Some(w) = self.word(link, 1) {
            w.store(g, Ordering::Release);
        }
    }

    /// Wait until the link's engine has taken generation `gen` (or a later
    /// one): the frames it reads after that meet the new model.
    pub fn wait_taken(&self, link: usize, gen: u64, within: Duration) -> io::Result<()> {
        let start = Instant::now();
        while self.taken(link) < gen {
            if start.elapsed() > within {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the impairment engine did not take the new model within {within:?}"),
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }
}

/// Wake an engine through its wake pipe: `fd` is its write end, or (from
/// another process) the read end reopened for writing.
pub fn wake(fd: RawFd) {
    let one = [1u8];
    // SAFETY: writing one byte from our buffer; a full pipe already wakes.
    unsafe { libc::write(fd, one.as_ptr().cast(), 1) };
}

/// Tell the engine of link `link` of another process about a new model
/// (`wake_path`: `/proc/<pid>/fd/<n>` of its wake pipe), after
/// [`ModelPage::write`], and wait until it took it.
pub fn wake_remote(
    page: &ModelPage,
    link: usize,
    gen: u64,
    wake_path: &std::path::Path,
) -> io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(wake_path)?;
    wake(f.as_raw_fd());
    page.wait_taken(link, gen, Duration::from_secs(5))
}

/// The decisions for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub lost: bool,
    pub duplicate: bool,
    /// A random number that picks the bit to flip, if the frame is corrupted.
    pub corrupt: Option<u64>,
    /// The frame skips the delay.
    pub reorder: bool,
    /// Delay of the frame and of its duplicate, in nanoseconds.
    pub delay_ns: [u64; 2],
}

/// The random part of a direction: seeded generator and loss state.
pub struct Decider {
    imp: Impairment,
    rng: Pcg64Mcg,
    /// Gilbert-Elliott: in the bad state.
    bad: bool,
}

/// A uniform number in [0, 1) from 53 random bits.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl Decider {
    /// Direction `dir` (0 or 1) of a link seeded with `seed`: the two
    /// directions draw from distinct streams.
    pub fn new(imp: &Impairment, seed: u64, dir: usize) -> Decider {
        Decider {
            imp: imp.clone(),
            rng: Pcg64Mcg::seed_from_u64(seed.wrapping_mul(2).wrapping_add(dir as u64 & 1)),
            bad: false,
        }
    }

    /// Go on with another model; a Gilbert-Elliott chain starts again in
    /// the good state.
    pub fn set_model(&mut self, imp: &Impairment) {
        self.imp = imp.clone();
        self.bad = false;
    }

    pub fn decide(&mut self) -> Decision {
        let mut u = [0u64; DRAWS];
        for x in &mut u {
            *x = self.rng.next_u64();
        }
        let imp = &self.imp;
        let lost = match imp.loss {
            Loss::None => false,
            Loss::Random(p) => unit(u[0]) < p,
            Loss::Gilbert {
                p,
                r,
                loss_good,
                loss_bad,
            } => {
                // As netem: step the chain, then lose in the new state.
                self.bad = if self.bad {
                    unit(u[1]) >= r
                } else {
                    unit(u[1]) < p
                };
                unit(u[0]) < if self.bad { loss_bad } else { loss_good }
            }
        };
        let duplicate = unit(u[2]) < imp.duplicate;
        let corrupt = (unit(u[3]) < imp.corrupt).then_some(u[4]);
        let reorder = unit(u[5]) < imp.reorder;
        let base = imp.delay.as_nanos() as f64;
        let j = imp.jitter.as_nanos() as f64;
        let spread: [f64; 2] = match imp.distribution {
            Distribution::Uniform => [2.0 * unit(u[6]) - 1.0, 2.0 * unit(u[7]) - 1.0],
            Distribution::Normal => {
                // Box-Muller: two independent standard normals from two uniforms.
                let radius = (-2.0 * (1.0 - unit(u[6])).ln()).sqrt();
                let angle = std::f64::consts::TAU * unit(u[7]);
                [radius * angle.cos(), radius * angle.sin()]
            }
        };
        let delay_ns = spread.map(|s| (base + j * s).max(0.0).round() as u64);
        Decision {
            lost,
            duplicate,
            corrupt,
            reorder,
            delay_ns,
        }
    }
}

/// Flip one bit after the Ethernet header, picked by `pick`.
pub fn corrupt_frame(frame: &mut [u8], pick: u64) -> bool {
    let payload_bits = frame.len().saturating_sub(ETH_HLEN) as u64 * 8;
    if payload_bits == 0 {
        return false;
    }
    let bit = pick % payload_bits;
    frame[ETH_HLEN + (bit / 8) as usize] ^= 1 << (bit % 8);
    true
}

/// A frame waiting for its release time.
struct Held {
    release: u64,
    /// Entry order across the link: ties and the reorder count use it.
    seq: u64,
    dir: usize,
    frame: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        (self.release, self.seq) == (o.release, o.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    // Reversed: BinaryHeap is a max-heap, the earliest release must come first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.release, o.seq).cmp(&(self.release, self.seq))
    }
}

/// One direction's state in the engine.
struct Dir {
    decider: Decider,
    imp: Impairment,
    /// When the serialiser is free again (ns since the engine started).
    tx_free: u64,
    /// Entry numbers of the frames held (a frame and its duplicate share one).
    held: BTreeSet<(u64, u8)>,
}

/// What the engine reports about a link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImpairInfo {
    /// `"userspace"`.
    pub engine: String,
    /// Why not kernel netem.
    pub why: String,
    pub seed: u64,
    /// Whether the engine thread got real-time scheduling.
    pub realtime: bool,
}

/// A running engine thread for one link; stopped and joined when dropped.
pub(crate) struct EngineThread {
    stop: Arc<AtomicBool>,
    /// The wake pipe: the engine polls the read end; a write wakes it. A
    /// pipe rather than an eventfd because another process can reopen it
    /// through `/proc/<pid>/fd/<n>` (`netrig link --set`).
    wake: OwnedFd,
    wake_read: RawFd,
    thread: Option<std::thread::JoinHandle<()>>,
    pub(crate) realtime: bool,
    /// A new seed for the engine to take, and how many it has taken.
    reseed: Arc<(Mutex<Option<u64>>, AtomicU64)>,
}

impl EngineThread {
    fn poke(&self) {
        wake(self.wake.as_raw_fd());
    }

    /// The wake pipe's read end, for a holder to publish.
    pub(crate) fn wake_fd(&self) -> RawFd {
        self.wake_read
    }

    /// Wake the engine after a [`ModelPage::write`] of generation `gen`
    /// and wait until it took it.
    pub(crate) fn take_model(&self, page: &ModelPage, link: usize, gen: u64) -> io::Result<()> {
        self.poke();
        page.wait_taken(link, gen, Duration::from_secs(5))
    }

    /// Restart both directions' decisions from `seed`, as if the link had
    /// just been built with it; returns once the engine has taken it, so
    /// that the next frame sent gets the first decision of the new stream.
    pub(crate) fn reseed(&self, seed: u64) -> io::Result<()> {
        let before = self.reseed.1.load(Ordering::SeqCst);
        *self.reseed.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(seed);
        self.poke();
        let start = Instant::now();
        while self.reseed.1.load(Ordering::SeqCst) == before {
            if start.elapsed() > Duration::from_secs(5) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the impairment engine did not take the new seed within 5 s",
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.poke();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Open a TAP device named `name` in the calling thread's network namespace.
/// It exists while the descriptor is open.
pub(crate) fn open_tap(name: &str) -> io::Result<OwnedFd> {
    let path = c"/dev/net/tun";
    // SAFETY: opening a device node; the descriptor is owned below.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a zeroed ifreq with its name and flags set.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *d = *s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes the ifreq we pass.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn now_ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Start the thread that carries one link: `taps[i]` is the TAP of end `i`,
/// `imps[i]` what end `i` sends goes through, `link` its index in `counters`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn(
    taps: [OwnedFd; 2],
    imps: &[Impairment; 2],
    seed: u64,
    counters: Arc<CounterPage>,
    models: Arc<ModelPage>,
    link: usize,
    name: String,
) -> io::Result<EngineThread> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just created, owned here (the read end by the engine thread).
    let (wake_rd, wake) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let wake_raw = wake_rd.as_raw_fd();
    // The model the engine starts with is on the page, where readers see it.
    let gen = models.write(link, [Some(&imps[0]), Some(&imps[1])])?;
    models.set_taken(link, gen);
    let stop = Arc::new(AtomicBool::new(false));
    let dirs = [0, 1].map(|d| Dir {
        decider: Decider::new(&imps[d], seed, d),
        imp: imps[d].clone(),
        tx_free: 0,
        held: BTreeSet::new(),
    });
    let (rt_tx, rt_rx) = std::sync::mpsc::channel();
    let stop2 = stop.clone();
    let reseed = Arc::new((Mutex::new(None), AtomicU64::new(0)));
    let reseed2 = reseed.clone();
    let thread = std::thread::Builder::new()
        .name(format!("impair {name}"))
        .spawn(move || {
            let param = libc::sched_param { sched_priority: 1 };
            // SAFETY: changing this thread's own scheduling policy.
            let rt = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0;
            let _ = rt_tx.send(rt);
            Engine {
                taps,
                dirs,
                heap: BinaryHeap::new(),
                counters,
                models,
                model_gen: gen,
                link,
                epoch: Instant::now(),
                seq: 0,
                reseed: reseed2,
            }
            .run(&stop2, wake_rd)
        })?;
    let realtime = rt_rx.recv().unwrap_or(false);
    Ok(EngineThread {
        stop,
        wake,
        wake_read: wake_raw,
        thread: Some(thread),
        realtime,
        reseed,
    })
}

struct Engine {
    taps: [OwnedFd; 2],
    dirs: [Dir; 2],
    heap: BinaryHeap<Held>,
    counters: Arc<CounterPage>,
    models: Arc<ModelPage>,
    /// The generation of the model in force.
    model_gen: u64,
    link: usize,
    epoch: Instant,
    seq: u64,
    reseed: Arc<(Mutex<Option<u64>>, AtomicU64)>,
}

/// Frames read from one TAP before looking at the other and the heap.
const READ_BATCH: usize = 64;

impl Engine {
    fn run(mut self, stop: &AtomicBool, wake_fd: OwnedFd) {
        let wake = wake_fd.as_raw_fd();
        let mut buf = vec![0u8; 65536 + ETH_HLEN + 64];
        while !stop.load(Ordering::SeqCst) {
            self.take_model();
            let new_seed = self.reseed.0.lock().map(|mut s| s.take()).unwrap_or(None);
            if let Some(seed) = new_seed {
                for (d, dir) in self.dirs.iter_mut().enumerate() {
                    dir.decider = Decider::new(&dir.imp, seed, d);
                }
                self.reseed.1.fetch_add(1, Ordering::SeqCst);
            }
            let now = now_ns(self.epoch);
            self.release_due(now);
            let timeout = self.heap.peek().map(|h| h.release.saturating_sub(now));
            let mut pfd = [
                libc::pollfd {
                    fd: self.taps[0].as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.taps[1].as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: wake,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ts = timeout.map(|ns| libc::timespec {
                tv_sec: (ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            });
            // SAFETY: three valid pollfds; the timespec outlives the call.
            let n = unsafe {
                libc::ppoll(
                    pfd.as_mut_ptr(),
                    3,
                    ts.as_ref().map_or(std::ptr::null(), |t| t as *const _),
                    std::ptr::null(),
                )
            };
            if n <= 0 {
                continue;
            }
            if pfd[2].revents & libc::POLLIN != 0 {
                let mut v = [0u8; 64];
                // SAFETY: draining the wake pipe into our buffer.
                while unsafe { libc::read(wake, v.as_mut_ptr().cast(), v.len()) } > 0 {}
                self.take_model();
            }
            for (d, p) in pfd[..2].iter().enumerate() {
                if p.revents & libc::POLLIN == 0 {
                    continue;
                }
                for _ in 0..READ_BATCH {
                    // SAFETY: buf is writable for its length.
                    let r = unsafe {
                        libc::read(self.taps[d].as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                    };
                    if r <= 0 {
                        break;
                    }
                    let now = now_ns(self.epoch);
                    self.on_frame(d, now, &mut buf[..r as usize]);
                }
            }
        }
    }

    /// Take a new model from the page if one was written. The generators
    /// go on where they were (decisions stay a function of the seed, the
    /// frames and where the change fell); counters go on counting; frames
    /// already held leave at the time they were given.
    fn take_model(&mut self) {
        if self.models.generation(self.link) == self.model_gen {
            return;
        }
        let Some((g, imps)) = self.models.try_read(self.link) else {
            // A writer is mid-way: its wake comes once it is done.
            return;
        };
        for (dir, imp) in self.dirs.iter_mut().zip(imps) {
            if dir.imp != imp {
                dir.decider.set_model(&imp);
                dir.imp = imp;
            }
        }
        self.model_gen = g;
        self.models.set_taken(self.link, g);
    }

    fn count(&self, dir: usize, c: Counter) {
        self.counters.add(self.link, dir, c, 1);
    }

    fn on_frame(&mut self, d: usize, now: u64, frame: &mut [u8]) {
        self.count(d, Counter::Sent);
        let dec = self.dirs[d].decider.decide();
        if dec.lost {
            self.count(d, Counter::Loss);
            return;
        }
        let dir = &self.dirs[d];
        if dir.held.len() >= dir.imp.limit as usize {
            self.count(d, Counter::Queue);
            return;
        }
        let seq = self.seq;
        self.seq += 1;
        let copies = if dec.duplicate {
            self.count(d, Counter::Duplicated);
            2
        } else {
            1
        };
        let original: Option<Vec<u8>> = dec.duplicate.then(|| frame.to_vec());
        if let Some(pick) = dec.corrupt {
            if corrupt_frame(frame, pick) {
                self.count(d, Counter::Corrupted);
            }
        }
        for copy in 0..copies {
            let bytes: &[u8] = if copy == 0 {
                frame
            } else {
                original.as_deref().unwrap_or(frame)
            };
            let dir = &mut self.dirs[d];
            let sent_at = match dir.imp.rate {
                Some(rate) => {
                    let start = dir.tx_free.max(now);
                    let ser = (bytes.len() as u128 * 8 * 1_000_000_000 / rate as u128) as u64;
                    dir.tx_free = start + ser;
                    dir.tx_free
                }
                None => now,
            };
            let delay = if dec.reorder { 0 } else { dec.delay_ns[copy] };
            let release = sent_at + delay;
            if delay > 0 {
                self.count(d, Counter::Delayed);
            }
            let dir = &mut self.dirs[d];
            if release <= now && dir.held.is_empty() {
                // Nothing ahead of it and nothing to wait for: straight through.
                self.write(d, bytes);
                continue;
            }
            dir.held.insert((seq, copy as u8));
            self.heap.push(Held {
                release,
                seq: seq * 2 + copy as u64,
                dir: d,
                frame: bytes.to_vec(),
            });
        }
        if self.heap.peek().is_some_and(|h| h.release <= now) {
            self.release_due(now);
        }
    }

    fn release_due(&mut self, now: u64) {
        while self.heap.peek().is_some_and(|h| h.release <= now) {
            let Some(h) = self.heap.pop() else { break };
            let entry = h.seq / 2;
            let dir = &mut self.dirs[h.dir];
            dir.held.remove(&(entry, (h.seq % 2) as u8));
            if dir.held.first().is_some_and(|(first, _)| *first < entry) {
                self.count(h.dir, Counter::Reordered);
            }
            self.write(h.dir, &h.frame);
        }
    }

    fn write(&self, d: usize, frame: &[u8]) {
        let out = self.taps[1 - d].as_raw_fd();
        // SAFETY: writing a frame we hold to the other end's TAP.
        let n = unsafe { libc::write(out, frame.as_ptr().cast(), frame.len()) };
        if n == frame.len() as isize {
            self.count(d, Counter::Delivered);
        } else {
            self.count(d, Counter::WriteErrors);
        }
    }
}

/// Whether the kernel has netem, asked in the namespace `nl` belongs to (a
/// lab's, never the host's) by creating a netem qdisc on its loopback and
/// deleting it again. `Err` holds the reason it has not.
pub(crate) fn probe_netem(nl: &mut crate::netlink::Netlink) -> Result<(), String> {
    use crate::netem::{qdisc_msg, RTM_DELQDISC, TC_H_ROOT};
    use crate::netlink::*;
    // The request netrig would send for an unimpaired netem link, on lo.
    let m = qdisc_msg(1, &Impairment::default(), None, false);
    match nl.request(m, "creating a netem qdisc on lo") {
        Ok(()) => {
            let tcmsg = TcMsg {
                ifindex: 1,
                handle: 0x1_0000,
                parent: TC_H_ROOT,
                ..TcMsg::default()
            }
            .encode();
            let d = Msg::new(RTM_DELQDISC, 0).header(&tcmsg);
            let _ = nl.request(d, "deleting the netem probe");
            Ok(())
        }
        Err(NetlinkError::Refused(e)) if e.errno == libc::ENOENT => {
            Err("this kernel has no netem (sch_netem): the qdisc kind is unknown".into())
        }
        Err(e) => Err(format!("netem cannot be used here: {e}")),
    }
}

/// Which of `links` (each given by its two `(node, iface)` ends) has the end
/// `node:iface`, and which end it is: for a lab and for a persistent lab's
/// state alike.
pub fn find_end<'a>(
    links: impl IntoIterator<Item = &'a [(String, String); 2]>,
    node: &str,
    iface: &str,
) -> Option<(usize, usize)> {
    links.into_iter().enumerate().find_map(|(li, ends)| {
        ends.iter()
            .position(|(n, i)| n == node && i == iface)
            .map(|d| (li, d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp(f: impl FnOnce(&mut Impairment)) -> Impairment {
        let mut i = Impairment::default();
        f(&mut i);
        i
    }

    #[test]
    fn same_seed_same_decisions_other_seed_others() {
        let i = imp(|i| {
            i.loss = Loss::Random(0.3);
            i.duplicate = 0.1;
            i.delay = Duration::from_millis(20);
            i.jitter = Duration::from_millis(5);
        });
        let run = |seed| {
            let mut d = Decider::new(&i, seed, 0);
            (0..1000).map(|_| d.decide()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        // The two directions draw from different streams.
        let mut a = Decider::new(&i, 42, 0);
        let mut b = Decider::new(&i, 42, 1);
        assert_ne!(
            (0..100).map(|_| a.decide()).collect::<Vec<_>>(),
            (0..100).map(|_| b.decide()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn delays_stay_within_uniform_jitter() {
        let i = imp(|i| {
            i.delay = Duration::from_millis(20);
            i.jitter = Duration::from_millis(5);
        });
        let mut d = Decider::new(&i, 1, 0);
        let all: Vec<u64> = (0..10_000).map(|_| d.decide().delay_ns[0]).collect();
        assert!(all.iter().all(|&n| (15_000_000..=25_000_000).contains(&n)));
        let mean = all.iter().sum::<u64>() as f64 / all.len() as f64;
        // Standard error 2.9ms/sqrt(10000) = 29us: 10 of them.
        assert!((mean - 20e6).abs() < 290e3, "{mean}");
    }

    #[test]
    fn gilbert_loses_its_stationary_share_in_bursts() {
        let i = imp(|i| {
            i.loss = Loss::Gilbert {
                p: 0.01,
                r: 0.25,
                loss_good: 0.0,
                loss_bad: 1.0,
            }
        });
        let mut d = Decider::new(&i, 7, 0);
        let lost: Vec<bool> = (0..200_000).map(|_| d.decide().lost).collect();
        let share = lost.iter().filter(|&&l| l).count() as f64 / lost.len() as f64;
        // p / (p + r) = 3.85%.
        assert!((share - 0.01 / 0.26).abs() < 0.005, "{share}");
        // Mean burst length 1/r = 4.
        let bursts = lost.windows(2).filter(|w| w[1] && !w[0]).count() as f64;
        let mean_burst = lost.iter().filter(|&&l| l).count() as f64 / bursts;
        assert!((mean_burst - 4.0).abs() < 0.3, "{mean_burst}");
    }

    /// Two datagram socket pairs stand in for the TAPs: what the test writes
    /// to `test_side[0]` is "sent" by end 0, what the engine delivers to end
    /// 1 is read from `test_side[1]`.
    fn pairs() -> ([OwnedFd; 2], [OwnedFd; 2]) {
        let mk = || {
            let mut fds = [0; 2];
            // SAFETY: socketpair fills two descriptors we then own.
            let r = unsafe {
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    0,
                    fds.as_mut_ptr(),
                )
            };
            assert_eq!(r, 0);
            // SAFETY: just created, owned here.
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
        };
        let (a_test, a_engine) = mk();
        let (b_test, b_engine) = mk();
        ([a_engine, b_engine], [a_test, b_test])
    }

    #[test]
    fn the_queue_limit_drops_the_tail_and_the_rate_paces_the_rest() {
        let (engine_side, test_side) = pairs();
        // 125-byte frames at 10 kbit/s: 100 ms each, so the 50 frames written
        // at once find the serialiser busy; 5 fit under the limit.
        let i = imp(|i| {
            i.rate = Some(10_000);
            i.limit = 5;
        });
        let counters = Arc::new(CounterPage::new(1).expect("counters"));
        let engine = spawn(
            engine_side,
            &[i.clone(), i],
            1,
            counters.clone(),
            Arc::new(ModelPage::new(1).expect("models")),
            0,
            "test".into(),
        )
        .expect("engine");
        let t0 = Instant::now();
        for k in 0..50u8 {
            let frame = [k; 125];
            // SAFETY: writing a buffer we own to our socket.
            let n = unsafe {
                libc::write(test_side[0].as_raw_fd(), frame.as_ptr().cast(), frame.len())
            };
            assert_eq!(n, 125);
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.len() < 5 && t0.elapsed() < Duration::from_secs(5) {
            // SAFETY: reading into our buffer.
            let n =
                unsafe { libc::read(test_side[1].as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                got.push((buf[0], t0.elapsed()));
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let s = counters.read(0, 0);
        drop(engine);
        assert_eq!((s.sent, s.dropped_queue, s.delivered), (50, 45, 5), "{s}");
        // The head of the queue is kept, in order, one frame per 100 ms.
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert!(got[4].1 >= Duration::from_millis(500), "{got:?}");
    }

    #[test]
    fn corruption_flips_one_payload_bit() {
        let mut f = vec![0u8; 60];
        for pick in [0u64, 7, 8, 1000, u64::MAX] {
            let mut g = f.clone();
            assert!(corrupt_frame(&mut g, pick));
            assert_eq!(g[..ETH_HLEN], f[..ETH_HLEN]);
            let flipped: u32 = g.iter().zip(&f).map(|(a, b)| (a ^ b).count_ones()).sum();
            assert_eq!(flipped, 1);
        }
        f.truncate(ETH_HLEN);
        assert!(!corrupt_frame(&mut f, 3));
    }
}
