//! A node's own filesystem view: a mount namespace per node that declares
//! `files` or `tmpfs`, held by a descriptor like its network namespace, and
//! joined by every process started in the node (steps, daemons, `netrig
//! exec`), so that they all see the same private /etc/frr or /run/frr for
//! the life of the lab, and other nodes and the host never see it.
//!
//! The namespace is made by a short-lived child: the lab may have threads
//! (impairment engines), and a thread that shares its filesystem context
//! cannot unshare its mounts. Between fork and exit the child makes only raw
//! syscalls on data prepared beforehand, as a child of a threaded process
//! must. Copies of `files` are written into a tmpfs staged on a directory no
//! target covers, bind-mounted onto their targets, and the staging mount is
//! detached: the copies then live exactly as long as the namespace, so a
//! lab leaves nothing on disk however it ends.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use netrig_spec::files::{read_tree, TreeEntry};
use netrig_spec::NodeMount;

/// Where the copies are written before they are bound onto their targets:
/// the first of these that exists and has no target on or under it.
const STAGING: &[&str] = &["/mnt", "/media", "/srv", "/opt", "/tmp", "/var/tmp"];

/// One syscall the child makes, its arguments ready.
enum Op {
    Mount {
        source: CString,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    Umount(CString),
    Mkdir(CString, u32),
    Write {
        path: CString,
        mode: u32,
        data: Vec<u8>,
    },
    Chown(CString, u32, u32),
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))
}

/// The syscalls that build a view, each with what it does for error messages.
fn plan(mounts: &[NodeMount], rootless: bool) -> io::Result<Vec<(Op, String)>> {
    let staging = STAGING
        .iter()
        .map(Path::new)
        .find(|s| {
            s.is_dir()
                && !mounts
                    .iter()
                    .any(|m| m.target.starts_with(s) || s.starts_with(&m.target))
        })
        .ok_or_else(|| io::Error::other("no directory to stage the node's files on"))?;
    let mut ops = vec![(
        Op::Mount {
            source: CString::from(c"tmpfs"),
            target: cstr(staging)?,
            fstype: Some(CString::from(c"tmpfs")),
            flags: 0,
            data: Some(CString::from(c"mode=0700")),
        },
        format!("mounting a tmpfs to stage files on {}", staging.display()),
    )];
    for (i, m) in mounts.iter().enumerate() {
        let target = std::fs::metadata(&m.target).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "{} ({e}): a node's files and tmpfs cover paths that exist on this machine",
                    m.target.display()
                ),
            )
        })?;
        // A user namespace maps only our own ids: there, what is made is ours.
        let owner = (!rootless).then(|| (target.uid(), target.gid()));
        let shown = m.target.display();
        let Some(source) = &m.source else {
            if !target.is_dir() {
                return Err(io::Error::other(format!(
                    "{shown} is not a directory: tmpfs covers directories"
                )));
            }
            let mut data = format!("mode={:o}", target.mode() & 0o7777);
            if let Some((u, g)) = owner {
                data.push_str(&format!(",uid={u},gid={g}"));
            }
            ops.push((
                Op::Mount {
                    source: CString::from(c"tmpfs"),
                    target: cstr(&m.target)?,
                    fstype: Some(CString::from(c"tmpfs")),
                    flags: (libc::MS_NOSUID | libc::MS_NODEV) as libc::c_ulong,
                    data: Some(CString::new(data)?),
                },
                format!("mounting an empty tmpfs on {shown}"),
            ));
            continue;
        };
        let tree = read_tree(source)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", source.display())))?;
        let root_is_dir = matches!(tree.first(), Some(TreeEntry::Dir { .. }));
        if root_is_dir != target.is_dir() {
            return Err(io::Error::other(format!(
                "{} is a {} but {shown} is not",
                source.display(),
                if root_is_dir { "directory" } else { "file" }
            )));
        }
        let stage = staging.join(i.to_string());
        for entry in tree {
            let (path, op) = match entry {
                TreeEntry::Dir { rel, mode } => {
                    let p = stage.join(rel);
                    (p.clone(), Op::Mkdir(cstr(&p)?, mode))
                }
                TreeEntry::File { rel, mode, data } => {
                    let p = if rel.as_os_str().is_empty() {
                        stage.clone()
                    } else {
                        stage.join(rel)
                    };
                    let path = cstr(&p)?;
                    (p, Op::Write { path, mode, data })
                }
            };
            ops.push((op, format!("copying into {}", path.display())));
            if let Some((u, g)) = owner {
                ops.push((
                    Op::Chown(cstr(&path)?, u, g),
                    format!("giving {} the owner of {shown}", path.display()),
                ));
            }
        }
        ops.push((
            Op::Mount {
                source: cstr(&stage)?,
                target: cstr(&m.target)?,
                fstype: None,
                flags: (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
                data: None,
            },
            format!("binding {} onto {shown}", source.display()),
        ));
    }
    ops.push((
        Op::Umount(cstr(staging)?),
        format!("detaching the staging tmpfs from {}", staging.display()),
    ));
    Ok(ops)
}

/// Make one op; `Err(errno)` on failure. Raw syscalls only (runs after fork).
fn apply(op: &Op) -> Result<(), i32> {
    // SAFETY: syscalls on NUL-terminated strings and a buffer owned by `op`.
    let r = unsafe {
        match op {
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
                *flags,
                data.as_ref()
                    .map_or(std::ptr::null(), |d| d.as_ptr().cast()),
            ),
            Op::Umount(t) => libc::umount2(t.as_ptr(), libc::MNT_DETACH),
            Op::Mkdir(p, mode) => {
                // mkdir's mode is masked by the umask; chmod sets it as written.
                if libc::mkdir(p.as_ptr(), 0o700) < 0 {
                    -1
                } else {
                    libc::chmod(p.as_ptr(), *mode)
                }
            }
            Op::Write { path, mode, data } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o600,
                );
                if fd < 0 {
                    -1
                } else {
                    let mut rest: &[u8] = data;
                    let mut r = 0;
                    while !rest.is_empty() {
                        let n = libc::write(fd, rest.as_ptr().cast(), rest.len());
                        if n <= 0 {
                            r = -1;
                            break;
                        }
                        rest = &rest[n as usize..];
                    }
                    if r == 0 {
                        r = libc::fchmod(fd, *mode);
                    }
                    let e = *libc::__errno_location();
                    libc::close(fd);
                    *libc::__errno_location() = e;
                    r
                }
            }
            Op::Chown(p, u, g) => libc::lchown(p.as_ptr(), *u, *g),
        }
    };
    if r < 0 {
        // SAFETY: reading this thread's errno.
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(())
    }
}

/// Create the view of a node whose network namespace is `netns` (so that its
/// /sys shows the node's interfaces) and return its mount namespace.
pub(crate) fn create(
    netns: BorrowedFd<'_>,
    mounts: &[NodeMount],
    rootless: bool,
) -> io::Result<OwnedFd> {
    let ops = plan(mounts, rootless)?;
    let mut pair = [0 as libc::c_int; 2];
    // SAFETY: socketpair into an array of two descriptors.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    } < 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: we own both descriptors from here on.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
    let net = netns.as_raw_fd();
    // SAFETY: the child makes raw syscalls only and leaves by _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: raw syscalls; the report is (index of the failed op, errno),
        // or (i32::MAX, 0) with the namespace's descriptor attached.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            libc::close(ours.as_raw_fd());
            let sock = theirs.as_raw_fd();
            let fail = |index: i32| -> ! {
                let report = [index, *libc::__errno_location()];
                libc::send(sock, report.as_ptr().cast(), 8, 0);
                libc::_exit(1)
            };
            if libc::setns(net, libc::CLONE_NEWNET) < 0 {
                fail(-1);
            }
            if libc::unshare(libc::CLONE_NEWNS) < 0 {
                fail(-2);
            }
            // Slave: mounts made on the host still show; nothing goes back.
            if libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            ) < 0
            {
                fail(-3);
            }
            // /sys of the node's namespace, best effort as in `remount_sys`.
            libc::umount2(c"/sys".as_ptr(), libc::MNT_DETACH);
            libc::mount(
                c"sysfs".as_ptr(),
                c"/sys".as_ptr(),
                c"sysfs".as_ptr(),
                0,
                std::ptr::null(),
            );
            for (i, (op, _)) in ops.iter().enumerate() {
                if apply(op).is_err() {
                    fail(i as i32);
                }
            }
            // Our own namespace by /proc/self (a PID from fork may name
            // another process where /proc is of another PID namespace).
            let ns = libc::open(
                c"/proc/self/ns/mnt".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if ns < 0 {
                fail(-4);
            }
            send_fd(sock, ns);
            libc::_exit(0);
        }
    }
    drop(theirs);
    let result = recv_report(ours.as_raw_fd()).and_then(|(report, fd)| match (report, fd) {
        (Some([i32::MAX, _]), Some(fd)) => Ok(fd),
        (Some([i, errno]), _) if i != i32::MAX => {
            let what = match i {
                -1 => "entering the node's network namespace",
                -2 => "making a mount namespace",
                -3 => "making mounts private",
                -4 => "opening the view's namespace",
                i => ops.get(i as usize).map_or("?", |(_, what)| what.as_str()),
            };
            let e = io::Error::from_raw_os_error(errno);
            Err(io::Error::new(e.kind(), format!("{what}: {e}")))
        }
        _ => Err(io::Error::other("the process making the view died")),
    });
    let mut st = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut st, 0) };
    result
}

/// Space for one descriptor in a control message (CMSG_SPACE of an int).
const CMSG_BUF: usize = 24;

/// Send the success report with `fd` attached. Raw syscalls only.
unsafe fn send_fd(sock: libc::c_int, fd: libc::c_int) {
    let report = [i32::MAX, 0];
    let mut iov = libc::iovec {
        iov_base: report.as_ptr() as *mut libc::c_void,
        iov_len: 8,
    };
    let mut buf = [0u64; CMSG_BUF / 8];
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf.as_mut_ptr().cast();
    msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
    let c = libc::CMSG_FIRSTHDR(&msg);
    (*c).cmsg_level = libc::SOL_SOCKET;
    (*c).cmsg_type = libc::SCM_RIGHTS;
    (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>(), fd);
    libc::sendmsg(sock, &msg, 0);
}

/// The child's report, and the descriptor it sent with it, if any.
/// No report (`None`): the child died before it could send one.
fn recv_report(sock: libc::c_int) -> io::Result<(Option<[i32; 2]>, Option<OwnedFd>)> {
    let mut report = [0i32; 2];
    let mut iov = libc::iovec {
        iov_base: report.as_mut_ptr().cast(),
        iov_len: 8,
    };
    let mut buf = [0u64; CMSG_BUF / 8];
    // SAFETY: recvmsg into buffers that outlive the call; a descriptor in the
    // control message is ours from then on.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.as_mut_ptr().cast();
        msg.msg_controllen = CMSG_BUF;
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        let fd = (!c.is_null()
            && (*c).cmsg_level == libc::SOL_SOCKET
            && (*c).cmsg_type == libc::SCM_RIGHTS)
            .then(|| {
                OwnedFd::from_raw_fd(std::ptr::read_unaligned(
                    libc::CMSG_DATA(c).cast::<libc::c_int>(),
                ))
            });
        Ok(((n == 8).then_some(report), fd))
    }
}

/// Join `view` and keep the working directory: setns(CLONE_NEWNS) moves it to
/// the namespace's root. Raw syscalls only, so it may run between fork and
/// exec; the caller must not share its filesystem context (one thread, or a
/// forked child).
pub fn join(view: libc::c_int) -> io::Result<()> {
    // SAFETY: raw syscalls on descriptors we open and close here.
    unsafe {
        let cwd = libc::open(
            c".".as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        let r = libc::setns(view, libc::CLONE_NEWNS);
        let e = io::Error::last_os_error();
        if cwd >= 0 {
            libc::fchdir(cwd);
            libc::close(cwd);
        }
        if r < 0 {
            return Err(e);
        }
    }
    Ok(())
}
