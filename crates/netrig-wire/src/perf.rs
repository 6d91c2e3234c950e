//! Kernel tracepoint hit counts through `perf_event_open`, e.g.
//! `fib:fib_table_lookup` or `fib6:fib6_table_lookup`.
//!
//! Tracepoints are not per network namespace: a counter opened here counts
//! system-wide, one event per online CPU (pid -1), so what it reports during a
//! window includes every namespace's activity. Keep windows short and the host
//! quiet, or compare against a baseline window.
//!
//! Where counting is impossible (no CAP_PERFMON/CAP_SYS_ADMIN, as in rootless
//! labs; tracefs absent; tracepoint unknown to this kernel),
//! [`PerfError::skip_reason`] says so, so callers can report a SKIP with the
//! reason instead of a pass or a failure.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

/// Where tracefs usually lives (the first is the modern mount point).
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IO('$', 0)`, `_IO('$', 1)`, `_IO('$', 3)`.
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
const PERF_EVENT_IOC_RESET: libc::c_ulong = 0x2403;
/// `_IOW('$', 6, char *)` on 64-bit.
const PERF_EVENT_IOC_SET_FILTER: libc::c_ulong = 0x4008_2406;

/// Why a tracepoint could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    #[error("invalid tracepoint `{0}` (expected subsystem:event, e.g. fib:fib_table_lookup)")]
    BadName(String),
    #[error("tracepoint `{0}` does not exist in this kernel")]
    Unknown(String),
    #[error("tracefs is not available: {0}")]
    NoTracefs(String),
    #[error("not permitted to count tracepoints: {0}")]
    NotPermitted(String),
    #[error("perf events are not supported by this kernel: {0}")]
    Unsupported(String),
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
}

impl PerfError {
    /// The reason to report a SKIP for errors that mean "cannot count here"
    /// (permissions, kernel support) rather than a user mistake or a fault.
    pub fn skip_reason(&self) -> Option<String> {
        match self {
            PerfError::NoTracefs(_) | PerfError::NotPermitted(_) | PerfError::Unsupported(_) => {
                Some(self.to_string())
            }
            _ => None,
        }
    }
}

/// The leading 64 bytes of `struct perf_event_attr` (PERF_ATTR_SIZE_VER0):
/// everything a counting tracepoint needs. The kernel accepts the short
/// size and zero-fills the rest.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    ty: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// Bit 0 `disabled`; the other flag bits stay 0 (kernel and user counted).
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// Split `sys:name` and check both parts are plain identifiers (they become
/// path components under tracefs).
fn split_name(spec: &str) -> Result<(&str, &str), PerfError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    match spec.split_once(':') {
        Some((sys, name)) if ok(sys) && ok(name) => Ok((sys, name)),
        _ => Err(PerfError::BadName(spec.to_string())),
    }
}

/// Read a tracepoint id from tracefs if it is mounted at a usual place.
/// `Ok(None)` if no tracefs is mounted there.
fn id_from_mounted(sys: &str, name: &str) -> Result<Option<u64>, PerfError> {
    for root in TRACEFS_ROOTS {
        let events = PathBuf::from(root).join("events");
        if !events.is_dir() {
            continue;
        }
        let p = events.join(sys).join(name).join("id");
        return match fs::read_to_string(&p) {
            Ok(s) => s.trim().parse().map(Some).map_err(|_| PerfError::Io {
                op: format!("parsing {}", p.display()),
                source: io::Error::from(io::ErrorKind::InvalidData),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(PerfError::Unknown(format!("{sys}:{name}")))
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(PerfError::NotPermitted(
                format!("reading {}: {e}", p.display()),
            )),
            Err(e) => Err(PerfError::Io {
                op: format!("reading {}", p.display()),
                source: e,
            }),
        };
    }
    Ok(None)
}

/// Mount tracefs in a private mount namespace of a short-lived child process
/// and read the id there, so that nothing is mounted on the host.
///
/// A child process rather than a thread: a process that has joined a lab's
/// PID namespace (`netrig` CLI commands) can no longer create threads, and a
/// forked child may only make async-signal-safe calls, which is all it does.
fn id_from_private_mount(sys: &str, name: &str) -> Result<u64, PerfError> {
    use std::ffi::CString;
    let path = CString::new(format!("/sys/kernel/tracing/events/{sys}/{name}/id"))
        .map_err(|_| PerfError::BadName(format!("{sys}:{name}")))?;
    let mut pipe = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(PerfError::Io {
            op: "pipe2".into(),
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: both fds are fresh and owned here.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    // SAFETY: the child only calls async-signal-safe functions, then _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(PerfError::Io {
            op: "fork".into(),
            source: io::Error::last_os_error(),
        });
    }
    if pid == 0 {
        // Child. Reply: stage byte (0 ok), then errno (i32) or the file's bytes.
        unsafe {
            let w = wr.as_raw_fd();
            let fail = |stage: u8| -> ! {
                let e = *libc::__errno_location();
                let mut b = [0u8; 5];
                b[0] = stage;
                b[1..].copy_from_slice(&e.to_ne_bytes());
                libc::write(w, b.as_ptr().cast(), 5);
                libc::_exit(1)
            };
            if libc::unshare(libc::CLONE_NEWNS) < 0 {
                fail(1);
            }
            // Keep our mount off the host: no propagation out of this namespace.
            if libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) < 0
            {
                fail(2);
            }
            if libc::mount(
                c"nodev".as_ptr(),
                c"/sys/kernel/tracing".as_ptr(),
                c"tracefs".as_ptr(),
                0,
                std::ptr::null(),
            ) < 0
            {
                fail(3);
            }
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
            if fd < 0 {
                fail(4);
            }
            let mut b = [0u8; 33];
            let n = libc::read(fd, b.as_mut_ptr().add(1).cast(), 32);
            if n < 0 {
                fail(5);
            }
            libc::write(w, b.as_ptr().cast(), 1 + n as usize);
            libc::_exit(0)
        }
    }
    drop(wr);
    let mut reply = Vec::new();
    let read = io::Read::read_to_end(&mut fs::File::from(rd), &mut reply);
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    read.map_err(|source| PerfError::Io {
        op: "reading from the tracefs helper".into(),
        source,
    })?;
    let errno = || {
        let e = reply
            .get(1..5)
            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        io::Error::from_raw_os_error(e)
    };
    match reply.first() {
        Some(0) => {
            let text = String::from_utf8_lossy(&reply[1..]);
            text.trim().parse().map_err(|_| PerfError::Io {
                op: format!("parsing the id of {sys}:{name}"),
                source: io::Error::from(io::ErrorKind::InvalidData),
            })
        }
        Some(4) if errno().raw_os_error() == Some(libc::ENOENT) => {
            Err(PerfError::Unknown(format!("{sys}:{name}")))
        }
        Some(1) => Err(PerfError::NoTracefs(format!(
            "not mounted, and cannot mount it privately (unshare: {})",
            errno()
        ))),
        Some(2 | 3) => Err(PerfError::NoTracefs(format!(
            "not mounted, and mounting it privately failed: {}",
            errno()
        ))),
        Some(_) => Err(PerfError::Io {
            op: format!("reading the id of {sys}:{name}"),
            source: errno(),
        }),
        None => Err(PerfError::NoTracefs(
            "the tracefs helper process failed".into(),
        )),
    }
}

/// The numeric id of tracepoint `sys:name` (the perf `config` value).
pub fn tracepoint_id(spec: &str) -> Result<u64, PerfError> {
    let (sys, name) = split_name(spec)?;
    match id_from_mounted(sys, name)? {
        Some(id) => Ok(id),
        None => id_from_private_mount(sys, name),
    }
}

/// Online CPU numbers from `/sys/devices/system/cpu/online` (`0-3,6`).
pub fn online_cpus() -> Result<Vec<i32>, PerfError> {
    let p = "/sys/devices/system/cpu/online";
    let s = fs::read_to_string(p).map_err(|source| PerfError::Io {
        op: format!("reading {p}"),
        source,
    })?;
    parse_cpu_list(s.trim()).ok_or_else(|| PerfError::Io {
        op: format!("parsing {p}"),
        source: io::Error::from(io::ErrorKind::InvalidData),
    })
}

fn parse_cpu_list(s: &str) -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<i32>().ok()?..=b.parse::<i32>().ok()?),
            None => out.push(part.parse().ok()?),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A tracepoint counted on every online CPU. Created disabled.
#[derive(Debug)]
pub struct TracepointCounter {
    name: String,
    filter: Option<String>,
    fds: Vec<OwnedFd>,
}

impl TracepointCounter {
    /// Open `sys:name` on all online CPUs, disabled and at zero.
    pub fn open(spec: &str) -> Result<Self, PerfError> {
        Self::open_filtered(spec, None)
    }

    /// Like [`open`](Self::open), keeping only events that match an ftrace
    /// `filter` such as `iif == 10 && tb_id == 254`. Tracepoints fire
    /// host-wide, so within a lab (whose interface indexes are unique) a
    /// filter on the ingress interface counts one router's lookups only.
    pub fn open_filtered(spec: &str, filter: Option<&str>) -> Result<Self, PerfError> {
        let id = tracepoint_id(spec)?;
        let cfilter = filter
            .map(|f| std::ffi::CString::new(f).map_err(|_| PerfError::BadName(f.to_string())))
            .transpose()?;
        let mut fds = Vec::new();
        for cpu in online_cpus()? {
            let attr = PerfEventAttr {
                ty: PERF_TYPE_TRACEPOINT,
                size: std::mem::size_of::<PerfEventAttr>() as u32,
                config: id,
                sample_period: 1,
                flags: 1, // disabled until enable()
                ..Default::default()
            };
            // SAFETY: attr is a valid, fully initialised VER0 attribute block.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_perf_event_open,
                    &attr as *const PerfEventAttr,
                    -1 as libc::pid_t,
                    cpu,
                    -1 as libc::c_int,
                    PERF_FLAG_FD_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = io::Error::last_os_error();
                let why = format!("perf_event_open({spec}, cpu {cpu}): {e}");
                return Err(match e.raw_os_error() {
                    Some(libc::EACCES) | Some(libc::EPERM) => PerfError::NotPermitted(why),
                    Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => PerfError::Unsupported(why),
                    Some(libc::ENOENT) => PerfError::Unknown(spec.to_string()),
                    _ => PerfError::Io { op: why, source: e },
                });
            }
            // SAFETY: a fresh descriptor we own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            if let Some(f) = &cfilter {
                // SAFETY: a perf fd and a NUL-terminated filter string.
                if unsafe {
                    libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_SET_FILTER as _, f.as_ptr())
                } < 0
                {
                    return Err(PerfError::Io {
                        op: format!("setting filter `{}` on {spec}", f.to_string_lossy()),
                        source: io::Error::last_os_error(),
                    });
                }
            }
            fds.push(fd);
        }
        Ok(TracepointCounter {
            name: spec.to_string(),
            filter: filter.map(str::to_string),
            fds,
        })
    }

    /// The ftrace filter, if any.
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// Zero and start counting.
    pub fn start(&self) -> Result<(), PerfError> {
        self.disable()?;
        self.reset()?;
        self.enable()
    }

    /// Stop counting and return the hits, summed over CPUs.
    pub fn stop(&self) -> Result<u64, PerfError> {
        self.disable()?;
        self.read()
    }

    /// The `sys:name` this counts.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn ioctl_all(&self, req: libc::c_ulong, op: &str) -> Result<(), PerfError> {
        for fd in &self.fds {
            // SAFETY: a perf event fd and an argument-less perf ioctl.
            if unsafe { libc::ioctl(fd.as_raw_fd(), req as _, 0) } < 0 {
                return Err(PerfError::Io {
                    op: format!("{op} {}", self.name),
                    source: io::Error::last_os_error(),
                });
            }
        }
        Ok(())
    }

    /// Zero the counts.
    pub fn reset(&self) -> Result<(), PerfError> {
        self.ioctl_all(PERF_EVENT_IOC_RESET, "resetting")
    }

    /// Start counting.
    pub fn enable(&self) -> Result<(), PerfError> {
        self.ioctl_all(PERF_EVENT_IOC_ENABLE, "enabling")
    }

    /// Stop counting (the count is kept).
    pub fn disable(&self) -> Result<(), PerfError> {
        self.ioctl_all(PERF_EVENT_IOC_DISABLE, "disabling")
    }

    /// Hits so far, summed over CPUs.
    pub fn read(&self) -> Result<u64, PerfError> {
        let mut total = 0u64;
        for fd in &self.fds {
            let mut v = 0u64;
            // SAFETY: reading 8 bytes into a u64 (read_format 0: just the value).
            let n = unsafe { libc::read(fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
            if n != 8 {
                return Err(PerfError::Io {
                    op: format!("reading {}", self.name),
                    source: io::Error::last_os_error(),
                });
            }
            total = total.saturating_add(v);
        }
        Ok(total)
    }

    /// Reset, count while `f` runs, stop, and return `f`'s result with the count.
    pub fn count_during<T>(&self, f: impl FnOnce() -> T) -> Result<(T, u64), PerfError> {
        self.disable()?;
        self.reset()?;
        self.enable()?;
        let r = f();
        self.disable()?;
        Ok((r, self.read()?))
    }
}

/// Count each tracepoint of `specs` during one shared window of `window`.
/// Each entry is the count or the error for that tracepoint (check
/// [`PerfError::skip_reason`]).
pub fn count_tracepoints(
    specs: &[&str],
    window: Duration,
) -> Vec<(String, Result<u64, PerfError>)> {
    let opened: Vec<(String, Result<TracepointCounter, PerfError>)> = specs
        .iter()
        .map(|s| (s.to_string(), TracepointCounter::open(s)))
        .collect();
    for c in opened.iter().filter_map(|(_, c)| c.as_ref().ok()) {
        // An enable failure shows up again at read time; keep the others going.
        let _ = c.reset().and_then(|_| c.enable());
    }
    std::thread::sleep(window);
    opened
        .into_iter()
        .map(|(n, c)| {
            let r = c.and_then(|c| {
                c.disable()?;
                c.read()
            });
            (n, r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_cpu_lists() {
        assert!(split_name("fib:fib_table_lookup").is_ok());
        for bad in ["fib", ":x", "fib:", "../x:y", "a:b/c", "a:b:c"] {
            assert!(
                matches!(split_name(bad), Err(PerfError::BadName(_))),
                "{bad}"
            );
        }
        assert_eq!(parse_cpu_list("0-3,6"), Some(vec![0, 1, 2, 3, 6]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list(""), None);
    }

    #[test]
    fn skip_reasons_only_for_environment() {
        assert!(PerfError::NotPermitted("x".into()).skip_reason().is_some());
        assert!(PerfError::Unknown("a:b".into()).skip_reason().is_none());
        assert!(PerfError::BadName("a".into()).skip_reason().is_none());
    }
}
