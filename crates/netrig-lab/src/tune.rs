//! Per-interface knobs that live outside rtnetlink: offloads (ethtool ioctls)
//! and sysfs attributes such as `gro_flush_timeout`.
//!
//! sysfs shows the devices of the network namespace that mounted it, so the
//! host's /sys cannot reach a node's interfaces. `write_sysfs` forks a short
//! child that enters the node, mounts a private sysfs in its own mount
//! namespace, writes, and exits: nothing is mounted anywhere else.

use crate::lab::{Lab, LabError};
use std::os::fd::AsRawFd;

const SIOCETHTOOL: libc::c_ulong = 0x8946;

/// Offloads that change how packets reach the stack (and so what a test sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offload {
    /// Generic receive offload: batches packets of a flow before the stack.
    Gro,
    /// TCP segmentation offload on transmit.
    Tso,
    /// Generic segmentation offload on transmit.
    Gso,
    /// Transmit checksum offload (captures then see partial checksums).
    TxChecksum,
}

impl Offload {
    fn cmds(self) -> (u32, u32) {
        // (get, set) from linux/ethtool.h
        match self {
            Offload::Gro => (0x2b, 0x2c),
            Offload::Tso => (0x1e, 0x1f),
            Offload::Gso => (0x23, 0x24),
            Offload::TxChecksum => (0x16, 0x17),
        }
    }
}

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: *mut EthtoolValue,
    _pad: [u8; 16],
}

fn ethtool(iface: &str, cmd: u32, data: u32) -> std::io::Result<u32> {
    let sock =
        std::net::UdpSocket::bind("0.0.0.0:0").or_else(|_| std::net::UdpSocket::bind("[::]:0"))?;
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: &mut value,
        _pad: [0; 16],
    };
    let bytes = iface.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: SIOCETHTOOL reads and writes `value` through the pointer in `req`,
    // both of which outlive the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(value.data)
}

impl Lab {
    /// Turn an offload on or off on `node`'s `iface`.
    pub fn set_offload(
        &self,
        node: &str,
        iface: &str,
        offload: Offload,
        on: bool,
    ) -> Result<(), LabError> {
        let (_, set) = offload.cmds();
        self.run_in(node, || ethtool(iface, set, on as u32))?
            .map(|_| ())
            .map_err(|source| LabError::Tune {
                node: node.to_string(),
                what: format!(
                    "setting {offload:?} {} on {iface}",
                    if on { "on" } else { "off" }
                ),
                source,
            })
    }

    pub fn offload(&self, node: &str, iface: &str, offload: Offload) -> Result<bool, LabError> {
        let (get, _) = offload.cmds();
        self.run_in(node, || ethtool(iface, get, 0))?
            .map(|v| v != 0)
            .map_err(|source| LabError::Tune {
                node: node.to_string(),
                what: format!("reading {offload:?} on {iface}"),
                source,
            })
    }

    /// Write `value` to `/sys/<path>` as seen from inside `node`, e.g.
    /// `class/net/eth0/gro_flush_timeout`.
    pub fn write_sysfs(&self, node: &str, path: &str, value: &str) -> Result<(), LabError> {
        self.sysfs(node, path, Some(value)).map(|_| ())
    }

    pub fn read_sysfs(&self, node: &str, path: &str) -> Result<String, LabError> {
        self.sysfs(node, path, None)
    }

    fn sysfs(&self, node: &str, path: &str, value: Option<&str>) -> Result<String, LabError> {
        let tune_err = |source: std::io::Error| LabError::Tune {
            node: node.to_string(),
            what: format!("/sys/{path}"),
            source,
        };
        // Only the node's network devices: the rest of /sys is the host's.
        if let Err(why) = netrig_spec::nsonly::check_netdev_sysfs(path) {
            return Err(tune_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                why.to_string(),
            )));
        }
        let ns = self.netns(node)?.as_raw_fd();
        let mut fds = [0; 2];
        // SAFETY: a pipe for the child's answer.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(tune_err(std::io::Error::last_os_error()));
        }
        // The child mounts the node's sysfs over /sys in a mount namespace
        // of its own: no directory in /tmp (which another user could plant,
        // and which parallel cases, all PID 1 in their namespaces, shared).
        let file = std::ffi::CString::new(format!("/sys/{path}"))
            .map_err(|e| tune_err(std::io::Error::other(e)))?;
        let value = value.map(|v| v.as_bytes().to_vec());
        // SAFETY: the child only makes raw syscalls on data prepared before the
        // fork and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(tune_err(std::io::Error::last_os_error()));
        }
        if pid == 0 {
            unsafe {
                libc::close(fds[0]);
                let fail = |fd: i32| -> ! {
                    let e = *libc::__errno_location();
                    libc::write(fd, e.to_ne_bytes().as_ptr() as *const _, 4);
                    libc::_exit(1)
                };
                if libc::setns(ns, libc::CLONE_NEWNET) < 0 || libc::unshare(libc::CLONE_NEWNS) < 0 {
                    fail(fds[1]);
                }
                let none = c"none".as_ptr();
                // Private first, or the unmount below would reach the host's /sys.
                if libc::mount(
                    none,
                    c"/".as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) < 0
                {
                    fail(fds[1]);
                }
                let sys = c"/sys".as_ptr();
                // May fail (a locked mount in a user namespace): sysfs then
                // goes on top, which shows the same.
                libc::umount2(sys, libc::MNT_DETACH);
                if libc::mount(
                    c"sysfs".as_ptr(),
                    sys,
                    c"sysfs".as_ptr(),
                    0,
                    std::ptr::null(),
                ) < 0
                {
                    fail(fds[1]);
                }
                // Attributes are regular files; a link at the end is not one.
                let flags = libc::O_NOFOLLOW
                    | libc::O_CLOEXEC
                    | if value.is_some() {
                        libc::O_WRONLY
                    } else {
                        libc::O_RDONLY
                    };
                let fd = libc::open(file.as_ptr(), flags);
                let mut ok = fd >= 0;
                let mut out = [0u8; 256];
                let mut n: isize = 0;
                if ok {
                    match &value {
                        Some(v) => {
                            ok =
                                libc::write(fd, v.as_ptr() as *const _, v.len()) == v.len() as isize
                        }
                        None => {
                            n = libc::read(fd, out.as_mut_ptr() as *mut _, out.len());
                            ok = n >= 0;
                        }
                    }
                }
                let err = *libc::__errno_location();
                if !ok {
                    *libc::__errno_location() = err;
                    fail(fds[1]);
                }
                libc::write(fds[1], [0u8; 4].as_ptr() as *const _, 4);
                libc::write(fds[1], out.as_ptr() as *const _, n.max(0) as usize);
                libc::_exit(0);
            }
        }
        // SAFETY: closing our copy of the write end, then reading the answer.
        unsafe { libc::close(fds[1]) };
        let mut reader = std::fs::File::from(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0])
        });
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut reader, &mut buf);
        let mut status = 0;
        // SAFETY: reaping our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        match buf.get(..4) {
            Some(code) if code == [0, 0, 0, 0] => {
                Ok(String::from_utf8_lossy(&buf[4..]).trim_end().to_string())
            }
            Some(code) => Err(tune_err(std::io::Error::from_raw_os_error(
                i32::from_ne_bytes([code[0], code[1], code[2], code[3]]),
            ))),
            None => Err(tune_err(std::io::Error::other("the sysfs helper died"))),
        }
    }
}
