//! Thin, checked wrappers over the libc calls this crate needs. All sockets are
//! created in the calling thread's network namespace.

use std::ffi::CStr;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Result, WireError};
use crate::flow::MacAddr;

/// `htons` for the protocol fields of `sockaddr_ll`.
pub(crate) const fn be16(v: u16) -> u16 {
    v.to_be()
}

/// Create a socket, close-on-exec.
pub(crate) fn socket(domain: i32, ty: i32, proto: i32, op: &'static str) -> Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned on success.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(WireError::last_os(op));
    }
    // SAFETY: fd is a fresh, valid descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An AF_PACKET raw socket bound to no protocol yet (receives nothing until bound).
pub(crate) fn packet_socket() -> Result<OwnedFd> {
    socket(libc::AF_PACKET, libc::SOCK_RAW, 0, "socket(AF_PACKET)")
}

pub(crate) fn setsockopt<T>(
    fd: RawFd,
    level: i32,
    opt: i32,
    val: &T,
    op: &'static str,
) -> Result<()> {
    // SAFETY: val points to a live T of the size we pass.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (val as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(WireError::last_os(op));
    }
    Ok(())
}

/// `T` must be a plain C struct or integer (all-zero bytes valid).
pub(crate) fn getsockopt<T: Copy>(fd: RawFd, level: i32, opt: i32, op: &'static str) -> Result<T> {
    // SAFETY: callers only use C structs/integers for which zero is valid.
    let mut val: T = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: val is a writable T and len its size.
    let r = unsafe { libc::getsockopt(fd, level, opt, (&mut val as *mut T).cast(), &mut len) };
    if r < 0 {
        return Err(WireError::last_os(op));
    }
    Ok(val)
}

fn ifreq_for(name: &str) -> Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty()
        || bytes.len() >= libc::IFNAMSIZ
        || bytes.contains(&0)
        || bytes.contains(&b'/')
    {
        return Err(WireError::BadInterfaceName(name.to_string()));
    }
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(req)
}

fn ioctl(fd: RawFd, req: libc::c_ulong, ifr: &mut libc::ifreq) -> std::io::Result<()> {
    // SAFETY: ifr is a valid ifreq for these SIOCGIF* requests.
    if unsafe { libc::ioctl(fd, req as _, ifr as *mut libc::ifreq) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn no_such(name: &str, e: std::io::Error, op: &'static str) -> WireError {
    if e.raw_os_error() == Some(libc::ENODEV) {
        WireError::NoSuchInterface(name.to_string())
    } else {
        WireError::io(op, e)
    }
}

/// Interface index of `name` in the namespace `fd` belongs to.
pub(crate) fn ifindex(fd: &OwnedFd, name: &str) -> Result<i32> {
    let mut req = ifreq_for(name)?;
    ioctl(fd.as_raw_fd(), libc::SIOCGIFINDEX, &mut req)
        .map_err(|e| no_such(name, e, "SIOCGIFINDEX"))?;
    // SAFETY: the kernel filled the ifindex member.
    Ok(unsafe { req.ifr_ifru.ifru_ifindex })
}

/// Hardware address of `name`.
pub(crate) fn hwaddr(fd: &OwnedFd, name: &str) -> Result<MacAddr> {
    let mut req = ifreq_for(name)?;
    ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req)
        .map_err(|e| no_such(name, e, "SIOCGIFHWADDR"))?;
    // SAFETY: the kernel filled the hwaddr member.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut m = [0u8; 6];
    for (d, s) in m.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(MacAddr(m))
}

/// Name of interface `index`, or `None` if it no longer exists.
pub(crate) fn ifname(fd: &OwnedFd, index: i32) -> Option<String> {
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    req.ifr_ifru.ifru_ifindex = index;
    ioctl(fd.as_raw_fd(), libc::SIOCGIFNAME, &mut req).ok()?;
    // SAFETY: the kernel wrote a NUL-terminated name within IFNAMSIZ.
    let c = unsafe { CStr::from_ptr(req.ifr_name.as_ptr()) };
    Some(c.to_string_lossy().into_owned())
}

/// Bind an AF_PACKET socket to `ifindex` (0 = all) for `proto` (host order).
pub(crate) fn bind_packet(fd: &OwnedFd, ifindex: i32, proto: u16) -> Result<()> {
    let sll = sockaddr_ll(ifindex, proto);
    // SAFETY: sll is a valid sockaddr_ll of the size passed.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(WireError::last_os("bind(AF_PACKET)"));
    }
    Ok(())
}

pub(crate) fn sockaddr_ll(ifindex: i32, proto: u16) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = be16(proto);
    sll.sll_ifindex = ifindex;
    sll
}

/// poll() one fd for `events`, up to `timeout_ms` (-1 = forever). EINTR is a
/// timeout (the caller re-checks its deadline).
pub(crate) fn poll_fds(fds: &mut [libc::pollfd], timeout_ms: i32) -> Result<usize> {
    // SAFETY: fds is a valid slice of pollfd.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(0);
        }
        return Err(WireError::io("poll", e));
    }
    Ok(r as usize)
}
