//! A tracepoint counter with an ftrace filter, for `expect.ratio`.
//!
//! Tracepoints fire host-wide: `fib:fib_table_lookup` counts the lookups of
//! every namespace, including a lab's own servers (local delivery, ICMP
//! errors) and other labs. A filter such as `iif == 9` keeps the events of
//! one ingress interface, which within a lab (whose ifindexes are distinct)
//! means one router's forwarding lookups. netrig-wire's `TracepointCounter`
//! has no filter; this adds `PERF_EVENT_IOC_SET_FILTER` on top of its id and
//! CPU helpers (a candidate to move into netrig-wire's perf module).

use netrig_wire::perf::{online_cpus, tracepoint_id};
use netrig_wire::PerfError;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
const PERF_EVENT_IOC_RESET: libc::c_ulong = 0x2403;
/// `_IOW('$', 6, char *)` on 64-bit.
const PERF_EVENT_IOC_SET_FILTER: libc::c_ulong = 0x4008_2406;

/// The first 64 bytes of `struct perf_event_attr` (PERF_ATTR_SIZE_VER0).
#[repr(C)]
#[derive(Default)]
struct Attr {
    ty: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// A tracepoint counted on every online CPU, optionally filtered.
pub struct FilteredCounter {
    pub name: String,
    pub filter: Option<String>,
    fds: Vec<OwnedFd>,
}

impl FilteredCounter {
    /// Open `sys:event` on all CPUs, disabled, with `filter` (ftrace syntax).
    pub fn open(spec: &str, filter: Option<&str>) -> Result<Self, PerfError> {
        let id = tracepoint_id(spec)?;
        let cfilter = filter
            .map(|f| std::ffi::CString::new(f).map_err(|_| PerfError::BadName(f.to_string())))
            .transpose()?;
        let mut fds = Vec::new();
        for cpu in online_cpus()? {
            let attr = Attr {
                ty: PERF_TYPE_TRACEPOINT,
                size: std::mem::size_of::<Attr>() as u32,
                config: id,
                sample_period: 1,
                flags: 1, // disabled until enabled
                ..Default::default()
            };
            // SAFETY: a valid VER0 attribute block; system-wide on one CPU.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_perf_event_open,
                    &attr as *const Attr,
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
        Ok(FilteredCounter {
            name: spec.to_string(),
            filter: filter.map(str::to_string),
            fds,
        })
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

    /// Zero and start counting.
    pub fn start(&self) -> Result<(), PerfError> {
        self.ioctl_all(PERF_EVENT_IOC_DISABLE, "disabling")?;
        self.ioctl_all(PERF_EVENT_IOC_RESET, "resetting")?;
        self.ioctl_all(PERF_EVENT_IOC_ENABLE, "enabling")
    }

    /// Stop counting and return the hits, summed over CPUs.
    pub fn stop(&self) -> Result<u64, PerfError> {
        self.ioctl_all(PERF_EVENT_IOC_DISABLE, "disabling")?;
        let mut total = 0u64;
        for fd in &self.fds {
            let mut v = 0u64;
            // SAFETY: reading the 8-byte count (read_format 0).
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
}
