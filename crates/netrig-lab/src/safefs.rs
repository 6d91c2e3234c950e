//! Files and directories in places other users may reach (/tmp, /run, a
//! results folder): created and opened so that nothing another user planted
//! is followed or trusted.
//!
//! The rule: a directory is used only if it is a real directory (not a
//! symbolic link), owned by us, and not writable by anyone else; a file is
//! opened with `O_NOFOLLOW` and used only if the opened descriptor is a
//! regular file we own. Ownership is compared with our effective uid *in the
//! current user namespace*, so that a rootless case (uid 0 in its user
//! namespace, mapped to the invoking user) sees its own files as its own.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a path was not used.
#[derive(Debug, thiserror::Error)]
pub enum SafeFsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is a symbolic link; refusing to follow it (another user may have planted it)", path.display())]
    Symlink { path: PathBuf },
    #[error("{} is not a {want}", path.display())]
    WrongType { path: PathBuf, want: &'static str },
    #[error("{} is owned by uid {owner}, not by uid {me}; refusing to use it", path.display())]
    Owner { path: PathBuf, owner: u32, me: u32 },
    #[error("{} has mode {mode:04o}, open to other users (netrig allows none of {forbid:04o} there); refusing to use it", path.display())]
    Mode {
        path: PathBuf,
        mode: u32,
        forbid: u32,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SafeFsError + '_ {
    move |source| SafeFsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Our effective uid in the current user namespace.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Our effective uid as the initial user namespace sees it: the invoking
/// user for a rootless process (uid 0 in its own user namespace).
pub fn host_euid() -> u32 {
    let me = euid();
    let Ok(map) = std::fs::read_to_string("/proc/self/uid_map") else {
        return me;
    };
    // Lines: inside-start outside-start count. Assumes the parent of our user
    // namespace is the initial one, which is how netrig creates them.
    for line in map.lines() {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [inside, outside, count] = f[..] {
            let me = u64::from(me);
            if me >= inside && me - inside < count {
                return u32::try_from(outside + (me - inside)).unwrap_or(u32::MAX);
            }
        }
    }
    me
}

/// Check that `path` is a real directory owned by us whose mode has none of
/// the bits in `forbid` (e.g. 0o022: nobody else may write; 0o077: private).
pub fn verify_dir(path: &Path, forbid: u32) -> Result<(), SafeFsError> {
    let md = std::fs::symlink_metadata(path).map_err(io_at(path))?;
    check_meta(path, &md, true, forbid)
}

fn check_meta(
    path: &Path,
    md: &std::fs::Metadata,
    dir: bool,
    forbid: u32,
) -> Result<(), SafeFsError> {
    let ft = md.file_type();
    if ft.is_symlink() {
        return Err(SafeFsError::Symlink {
            path: path.to_path_buf(),
        });
    }
    if (dir && !ft.is_dir()) || (!dir && !ft.is_file()) {
        return Err(SafeFsError::WrongType {
            path: path.to_path_buf(),
            want: if dir { "directory" } else { "regular file" },
        });
    }
    let me = euid();
    if md.uid() != me {
        return Err(SafeFsError::Owner {
            path: path.to_path_buf(),
            owner: md.uid(),
            me,
        });
    }
    let mode = md.mode() & 0o7777;
    if mode & forbid != 0 {
        return Err(SafeFsError::Mode {
            path: path.to_path_buf(),
            mode,
            forbid,
        });
    }
    Ok(())
}

/// Create the directory `path` with `mode` unless it exists (its parent must
/// exist), then verify it as [`verify_dir`] does. An existing directory is
/// never chmod'ed: one with a wider mode than `forbid` allows is refused.
pub fn ensure_dir(path: &Path, mode: u32, forbid: u32) -> Result<(), SafeFsError> {
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_at(path)(e)),
    }
    verify_dir(path, forbid)
}

/// Open `path` without following a symbolic link in its last component and
/// verify the opened file: a regular file owned by us. `create` makes it
/// with `mode` if absent (never changing the mode of an existing file).
pub fn open_file(path: &Path, write: bool, create: bool, mode: u32) -> Result<File, SafeFsError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .create(create)
        .truncate(false)
        .mode(mode)
        // O_NONBLOCK: a FIFO planted in our place must not hang the open.
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                SafeFsError::Symlink {
                    path: path.to_path_buf(),
                }
            } else {
                io_at(path)(e)
            }
        })?;
    let md = f.metadata().map_err(io_at(path))?;
    check_meta(path, &md, false, 0)?;
    Ok(f)
}

/// Write `data` to `path` atomically without following links: a fresh file
/// (`O_EXCL`, `mode`) next to it, renamed over it. A symbolic link planted at
/// `path` is replaced, never written through.
pub fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), SafeFsError> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_default();
    // A random suffix, not our PID: a holder is PID 1 of its own PID
    // namespace, so PIDs repeat between concurrent writers. O_EXCL still
    // guards against the rare collision, which just picks another name.
    let (tmp, mut f) = {
        let mut tries = 0;
        loop {
            let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", random_u64()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 8 => tries += 1,
                Err(e) => return Err(io_at(&tmp)(e)),
            }
        }
    };
    let written = f.write_all(data).map_err(io_at(&tmp));
    drop(f);
    let done = written.and_then(|()| std::fs::rename(&tmp, path).map_err(io_at(path)));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// 64 bits from the kernel's random pool (falling back to the clock and our
/// PID, which O_EXCL users tolerate).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom fills at most the 8 bytes of our buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), libc::GRND_NONBLOCK) };
    if n == 8 {
        return u64::from_ne_bytes(b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (u64::from(std::process::id()) << 32)
}

/// netrig's own directory for locks and state, created if needed:
/// `/run/netrig` (0755, root's) for root; for other users
/// `$XDG_RUNTIME_DIR/netrig` or else `/tmp/netrig-UID` (0700, theirs).
/// Decided by the uid the host sees, so that a rootless process (uid 0 in its
/// user namespace) uses the invoking user's directory, not root's.
pub fn netrig_dir() -> Result<PathBuf, SafeFsError> {
    let uid = host_euid();
    if uid == 0 {
        let d = PathBuf::from("/run/netrig");
        ensure_dir(&d, 0o755, 0o022)?;
        return Ok(d);
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
        let x = PathBuf::from(x);
        verify_dir(&x, 0o022)?;
        let d = x.join("netrig");
        ensure_dir(&d, 0o700, 0o077)?;
        return Ok(d);
    }
    // /tmp is anyone's: a directory someone else made under our name (or a
    // link to one) is refused, never used.
    let d = PathBuf::from(format!("/tmp/netrig-{uid}"));
    ensure_dir(&d, 0o700, 0o077)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("netrig-safefs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).expect("scratch");
        p
    }

    #[test]
    fn links_and_wide_modes_are_refused() {
        let d = scratch("links");
        std::fs::write(d.join("target"), "keep").expect("write");
        std::os::unix::fs::symlink(d.join("target"), d.join("link")).expect("symlink");
        assert!(matches!(
            open_file(&d.join("link"), true, true, 0o600),
            Err(SafeFsError::Symlink { .. })
        ));
        assert!(matches!(
            verify_dir(&d.join("link"), 0o022),
            Err(SafeFsError::Symlink { .. })
        ));
        std::os::unix::fs::symlink(&d, d.join("dirlink")).expect("symlink");
        assert!(matches!(
            ensure_dir(&d.join("dirlink"), 0o700, 0o077),
            Err(SafeFsError::Symlink { .. })
        ));
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(d.join("wide")).expect("mkdir");
        std::fs::set_permissions(d.join("wide"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        assert!(matches!(
            ensure_dir(&d.join("wide"), 0o700, 0o077),
            Err(SafeFsError::Mode { .. })
        ));
        // write_file replaces the link, never writes through it.
        write_file(&d.join("link"), b"new", 0o600).expect("write_file");
        assert_eq!(
            std::fs::read_to_string(d.join("target")).expect("read"),
            "keep"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("link")).expect("read"),
            "new"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn fifo_is_not_a_file() {
        let d = scratch("fifo");
        let p = d.join("fifo");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("cstr");
        // SAFETY: mkfifo on a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            open_file(&p, true, true, 0o600),
            Err(SafeFsError::WrongType { .. })
        ));
        let _ = std::fs::remove_dir_all(&d);
    }
}
