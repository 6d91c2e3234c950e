//! Namespaces: create anonymous network namespaces held by file descriptors,
//! enter them per thread, and enter an unprivileged user namespace for rootless
//! mode.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Whether labs are built as real root or inside a user namespace we own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Root,
    Rootless,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Root => "root",
            Mode::Rootless => "rootless",
        })
    }
}

/// Open the calling thread's current network namespace.
pub fn current_netns() -> io::Result<OwnedFd> {
    Ok(File::open("/proc/thread-self/ns/net")?.into())
}

pub fn setns(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns on a namespace descriptor affects only this thread's netns.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Create a fresh network namespace, run `inside` in it on this thread, and
/// return to `home`. The namespace lives as long as the returned descriptor (or
/// anything `inside` opened there, such as a netlink socket).
pub fn with_new_netns<T>(
    home: BorrowedFd<'_>,
    inside: impl FnOnce() -> io::Result<T>,
) -> io::Result<(OwnedFd, T)> {
    // SAFETY: unshare(CLONE_NEWNET) changes only the calling thread's netns.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = current_netns().and_then(|fd| inside().map(|t| (fd, t)));
    // Always go home, even when the work inside failed.
    setns(home)?;
    result
}

/// Runs `f` with this thread inside `ns`, then returns to `home`.
pub fn in_netns<T>(
    home: BorrowedFd<'_>,
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> T,
) -> io::Result<T> {
    struct Back<'a>(BorrowedFd<'a>);
    impl Drop for Back<'_> {
        fn drop(&mut self) {
            // If this fails the thread is stranded in a lab namespace; abort
            // rather than let later work touch the wrong namespace.
            if setns(self.0).is_err() {
                std::process::abort();
            }
        }
    }
    setns(ns)?;
    let _back = Back(home);
    Ok(f())
}

/// Decide the mode: root when we have it, unless `NETRIG_ROOTLESS=1` asks for
/// the rootless path (useful to test it as root).
pub fn wanted_mode() -> Mode {
    let forced = std::env::var("NETRIG_ROOTLESS").is_ok_and(|v| v == "1");
    // SAFETY: geteuid has no preconditions.
    if forced || unsafe { libc::geteuid() } != 0 {
        Mode::Rootless
    } else {
        Mode::Root
    }
}

/// Are we already inside a user namespace other than the initial one?
fn in_child_userns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            let f: Vec<&str> = m.split_whitespace().collect();
            !(f.len() == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
        })
        .unwrap_or(false)
}

/// Enter a new user namespace where we are root, mapping our own uid and gid,
/// and a new (empty) network namespace owned by it.
/// Must run while the process has a single thread (the kernel refuses
/// CLONE_NEWUSER otherwise), so call it first thing in `main`.
pub fn enter_rootless() -> io::Result<()> {
    if in_child_userns() {
        return Ok(());
    }
    // SAFETY: getters without preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // A network namespace of our own comes with it: labs return to their home
    // namespace between steps, and the host's is not ours to enter from here.
    // SAFETY: unshare of a user namespace; fails cleanly if multithreaded.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("cannot create a user namespace for rootless mode: {e} (are unprivileged user namespaces enabled? see /proc/sys/user/max_user_namespaces)"),
        ));
    }
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

/// Join the user namespace of another process (a rootless lab's holder).
/// Single-threaded callers only, like `enter_rootless`.
pub fn join_userns(pid: i32) -> io::Result<()> {
    let f = File::open(format!("/proc/{pid}/ns/user"))?;
    let mine = std::fs::metadata("/proc/self/ns/user")?;
    let theirs = f.metadata()?;
    use std::os::unix::fs::MetadataExt;
    if mine.ino() == theirs.ino() && mine.dev() == theirs.dev() {
        return Ok(());
    }
    // SAFETY: setns on a user namespace descriptor we just opened.
    if unsafe { libc::setns(f.as_fd().as_raw_fd(), libc::CLONE_NEWUSER) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Give the calling process a private mount namespace whose /sys shows the
/// devices of its current network namespace, as `ip netns exec` does, so that
/// tools reading /sys/class/net see the node's interfaces. Best effort: if the
/// kernel refuses (no permission for sysfs), the process keeps the host's /sys.
/// Uses raw syscalls only, so it may run between fork and exec.
pub fn remount_sys() -> bool {
    // SAFETY: plain syscalls on static C strings; they affect only this process.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) < 0 {
            return false;
        }
        // Slave, not private: mounts made on the host still show up here,
        // and nothing made here propagates back.
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            std::ptr::null(),
        );
        let sys = c"/sys".as_ptr();
        libc::umount2(sys, libc::MNT_DETACH);
        libc::mount(
            c"sysfs".as_ptr(),
            sys,
            c"sysfs".as_ptr(),
            0,
            std::ptr::null(),
        ) == 0
    }
}
