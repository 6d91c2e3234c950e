//! The tracepoint lock: serialises tracepoint counting windows against the
//! traffic of other cases and runs on the host.

use std::path::PathBuf;

/// Serialises tracepoint windows against the traffic of other cases.
///
/// Tracepoints count system-wide, not per namespace, so packets another case
/// forwards at the same moment would be counted as ours. Steps that send
/// traffic hold a shared lock; a counting window holds it exclusively. The
/// lock is a file under the temp dir, advisory and best effort: if it cannot
/// be opened (permissions), steps proceed unlocked, and the ratio verdict's
/// explanation says so.
pub struct TracepointLock(Option<std::fs::File>);

/// Where the lock lives; the same for every netrig process on the host.
fn lock_path() -> PathBuf {
    std::env::temp_dir().join("netrig-tracepoint.lock")
}

impl TracepointLock {
    fn take(exclusive: bool) -> TracepointLock {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = lock_path();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .open(&path)
            .or_else(|_| std::fs::File::open(&path));
        let Ok(f) = f else {
            return TracepointLock(None);
        };
        // Let rootless cases (other uids) share it; the umask may have cut 0o666.
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o666));
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a descriptor we own; released when it closes.
            let r = unsafe { libc::flock(f.as_raw_fd(), op) };
            if r == 0 {
                return TracepointLock(Some(f));
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return TracepointLock(None);
            }
        }
    }

    pub fn shared() -> TracepointLock {
        Self::take(false)
    }

    pub fn exclusive() -> TracepointLock {
        Self::take(true)
    }

    pub fn held(&self) -> bool {
        self.0.is_some()
    }
}
