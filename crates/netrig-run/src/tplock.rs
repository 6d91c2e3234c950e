//! The tracepoint lock: serialises tracepoint counting windows against the
//! traffic of other cases and runs on the host.

use std::path::PathBuf;

/// Serialises tracepoint windows against the traffic of other cases.
///
/// Tracepoints count system-wide, not per namespace, so packets another case
/// forwards at the same moment would be counted as ours. Steps that send
/// traffic hold a shared lock; a counting window holds it exclusively. The
/// lock is advisory and best effort: if it cannot be opened safely, steps
/// proceed unlocked, and the ratio verdict's explanation says so.
///
/// The lock file lives in netrig's own directory (`/run/netrig` for root,
/// the user's private 0700 directory otherwise; see
/// [`netrig_lab::safefs::netrig_dir`]) and is 0600: a lock other users could
/// open would let them stall root's cases, and one in a directory they can
/// write could be a link they planted. Rootless cases decide by the uid the
/// host sees, so those of one user share one lock (and root's rootless cases
/// share root's); only those can exclude each other.
pub struct TracepointLock(Option<std::fs::File>);

/// Where the lock lives, created (the directory) and verified on the way.
fn lock_path() -> Option<PathBuf> {
    netrig_lab::safefs::netrig_dir()
        .ok()
        .map(|d| d.join("tracepoint.lock"))
}

impl TracepointLock {
    fn take(exclusive: bool) -> TracepointLock {
        match lock_path() {
            Some(path) => Self::take_at(&path, exclusive),
            None => TracepointLock(None),
        }
    }

    fn take_at(path: &std::path::Path, exclusive: bool) -> TracepointLock {
        use std::os::fd::AsRawFd;
        // Never chmod'ed: a file we do not own, or not a regular file, is
        // refused and we run unlocked.
        let Ok(f) = netrig_lab::safefs::open_file(path, true, true, 0o600) else {
            return TracepointLock(None);
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("netrig-tplock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).expect("scratch");
        p
    }

    #[test]
    fn a_fresh_lock_is_private_and_shared_locks_stack() {
        let d = scratch("fresh");
        let p = d.join("tracepoint.lock");
        let a = TracepointLock::take_at(&p, false);
        let b = TracepointLock::take_at(&p, false);
        assert!(a.held() && b.held());
        let mode = std::fs::metadata(&p).expect("lock").mode() & 0o777;
        assert_eq!(mode, 0o600, "the lock is nobody else's to take");
        drop((a, b));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// The attack of issue 9: the lock path is a link to a root-only file.
    /// The lock is not taken and the file keeps its mode and content.
    #[test]
    fn a_planted_link_is_not_followed() {
        let d = scratch("link");
        let victim = d.join("victim");
        std::fs::write(&victim, "secret").expect("victim");
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let p = d.join("tracepoint.lock");
        std::os::unix::fs::symlink(&victim, &p).expect("symlink");
        let l = TracepointLock::take_at(&p, true);
        assert!(!l.held(), "a link is never a lock");
        let md = std::fs::metadata(&victim).expect("victim");
        assert_eq!(md.mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "secret");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A lock file someone else owns (and could hold forever) is not used.
    #[test]
    fn a_lock_file_owned_by_another_user_is_refused() {
        let d = scratch("owner");
        let p = d.join("tracepoint.lock");
        std::fs::write(&p, "").expect("lock");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root to give the file away");
            let _ = std::fs::remove_dir_all(&d);
            return;
        }
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).expect("chown");
        let l = TracepointLock::take_at(&p, false);
        assert!(!l.held());
        let md = std::fs::metadata(&p).expect("lock");
        assert_eq!(
            (md.uid(), md.mode() & 0o7777),
            (65534, 0o666),
            "left as it was"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
