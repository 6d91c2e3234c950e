//! The results folder, `RESULTS/TAG/CASE/`, written so that nothing another
//! user planted there is followed.
//!
//! The root (`--results`) must be a directory that only we or root can
//! change, or a sticky one like /tmp where others cannot rename or replace
//! our entries: elsewhere anyone could swap a folder for a link while the run
//! writes. Each run claims its own `TAG` folder with `mkdir` (a folder that
//! exists is somebody's: refused for an explicit tag, skipped for a default
//! one); everything inside it is ours. Files directly in the root
//! (`.durations.json`, `latest`) are written as fresh files renamed into
//! place, which replaces a planted link instead of writing through it.

use netrig_lab::safefs::{self, SafeFsError};
use netrig_spec::names::{check_tag, NameError, TAG_RULE};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Why the results folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("invalid tag `{}`: {why} ({TAG_RULE})", tag.escape_debug())]
    BadTag { tag: String, why: NameError },
    #[error("tag `{tag}` is in use: {} exists (pick another --tag, or remove that folder)", path.display())]
    TagInUse { tag: String, path: PathBuf },
    #[error("results folder {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("results folder {} belongs to uid {owner}, who could redirect what netrig writes there; use a folder of your own", path.display())]
    Foreign { path: PathBuf, owner: u32 },
    #[error("results folder {} has mode {mode:04o}: other users could redirect what netrig writes there; use a folder only you can write (or a sticky one)", path.display())]
    Shared { path: PathBuf, mode: u32 },
    #[error("results folder: {0}")]
    Unsafe(#[from] SafeFsError),
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Create the results root if needed and check that no other user can
/// change its entries. The root itself may be a link of ours (or root's).
pub fn check_root(root: &Path) -> Result<(), ResultsError> {
    let me = safefs::euid();
    let trusted = |uid: u32| uid == me || uid == 0;
    if let Ok(md) = std::fs::symlink_metadata(root) {
        if md.file_type().is_symlink() && !trusted(md.uid()) {
            return Err(ResultsError::Foreign {
                path: root.to_path_buf(),
                owner: md.uid(),
            });
        }
    } else {
        std::fs::create_dir_all(root).map_err(io_at(root))?;
    }
    let md = std::fs::metadata(root).map_err(io_at(root))?;
    if !md.is_dir() {
        return Err(ResultsError::Io {
            path: root.to_path_buf(),
            source: std::io::Error::other("not a directory"),
        });
    }
    if !trusted(md.uid()) {
        return Err(ResultsError::Foreign {
            path: root.to_path_buf(),
            owner: md.uid(),
        });
    }
    let mode = md.mode() & 0o7777;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(ResultsError::Shared {
            path: root.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

fn valid(tag: &str) -> Result<(), ResultsError> {
    check_tag(tag).map_err(|why| ResultsError::BadTag {
        tag: tag.to_string(),
        why,
    })
}

/// Claim a new run folder `root/tag` and return the tag used. With `unique`
/// (a default, time-based tag) an existing folder makes it try `tag-2`,
/// `tag-3`, ...: two runs started in the same second get two folders.
/// Without, an existing folder is an error: it may be another run's.
pub fn claim_run_dir(root: &Path, tag: &str, unique: bool) -> Result<String, ResultsError> {
    valid(tag)?;
    check_root(root)?;
    for n in 1..=1000 {
        let t = if n == 1 {
            tag.to_string()
        } else {
            format!("{tag}-{n}")
        };
        valid(&t)?;
        let path = root.join(&t);
        match std::fs::DirBuilder::new().mode(0o755).create(&path) {
            Ok(()) => {
                safefs::verify_dir(&path, 0o022)?;
                return Ok(t);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && unique => continue,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ResultsError::TagInUse { tag: t, path })
            }
            Err(e) => return Err(io_at(&path)(e)),
        }
    }
    Err(ResultsError::TagInUse {
        tag: tag.to_string(),
        path: root.join(tag),
    })
}

/// The run folder `root/tag`, created if missing, verified (ours, not a
/// link, not writable by others) if not: for callers that reuse a tag on
/// purpose (the cargo test harness) and for a folder already claimed.
pub fn open_run_dir(root: &Path, tag: &str) -> Result<PathBuf, ResultsError> {
    valid(tag)?;
    check_root(root)?;
    let path = root.join(tag);
    safefs::ensure_dir(&path, 0o755, 0o022)?;
    Ok(path)
}

/// Make `dir` a new empty directory of ours, removing what was there: a link
/// or file is unlinked (never followed), a directory removed with its
/// contents (std's removal does not follow links inside either).
pub fn fresh_dir(dir: &Path) -> Result<(), ResultsError> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) if md.is_dir() => std::fs::remove_dir_all(dir).map_err(io_at(dir))?,
        Ok(_) => std::fs::remove_file(dir).map_err(io_at(dir))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(dir)(e)),
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(dir)
        .map_err(io_at(dir))?;
    safefs::verify_dir(dir, 0o022)?;
    Ok(())
}

/// Read a file of ours without following a link; `None` if it is missing,
/// not ours, or larger than `max` bytes.
pub fn read_own(path: &Path, max: u64) -> Option<String> {
    let f = safefs::open_file(path, false, false, 0).ok()?;
    let mut s = String::new();
    f.take(max + 1).read_to_string(&mut s).ok()?;
    (s.len() as u64 <= max).then_some(s)
}

/// Point `root/latest` at `tag`: a fresh link renamed over the old one.
pub fn set_latest(root: &Path, tag: &str) -> Result<(), ResultsError> {
    let latest = root.join("latest");
    let tmp = root.join(format!(".latest.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(tag, &tmp).map_err(io_at(&tmp))?;
    std::fs::rename(&tmp, &latest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_at(&latest)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("netrig-results-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).expect("scratch");
        p
    }

    #[test]
    fn tags_are_claimed_once() {
        let d = scratch("claim");
        assert_eq!(claim_run_dir(&d, "t", false).expect("first"), "t");
        assert!(matches!(
            claim_run_dir(&d, "t", false),
            Err(ResultsError::TagInUse { .. })
        ));
        assert_eq!(claim_run_dir(&d, "t", true).expect("unique"), "t-2");
        assert_eq!(claim_run_dir(&d, "t", true).expect("unique"), "t-3");
        for bad in ["..", "../x", "a/b", "", ".x"] {
            assert!(matches!(
                claim_run_dir(&d, bad, false),
                Err(ResultsError::BadTag { .. })
            ));
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn fresh_dir_unlinks_a_link_and_keeps_its_target() {
        let d = scratch("fresh");
        let target = d.join("target");
        std::fs::create_dir(&target).expect("target");
        std::fs::write(target.join("keep"), "x").expect("keep");
        std::os::unix::fs::symlink(&target, d.join("case")).expect("symlink");
        fresh_dir(&d.join("case")).expect("fresh");
        assert!(target.join("keep").exists());
        assert!(std::fs::symlink_metadata(d.join("case"))
            .expect("case")
            .is_dir());
        let _ = std::fs::remove_dir_all(&d);
    }
}
