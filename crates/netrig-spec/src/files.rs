//! Reading the files a user names (topologies, scenarios), bounded: only
//! regular files, at most [`MAX_SPEC_BYTES`], so that `topology =
//! "/dev/zero"` is an error rather than a read until memory runs out, and a
//! FIFO is refused rather than waited on forever.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest topology or scenario file netrig reads.
pub const MAX_SPEC_BYTES: u64 = 16 << 20;

/// The text of a regular file of at most [`MAX_SPEC_BYTES`].
pub fn read_spec_file(path: &Path) -> std::io::Result<String> {
    let bytes = read_bounded(path, MAX_SPEC_BYTES, "a topology or scenario file")?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The bytes of a regular file of at most `max` bytes (`what` names the kind
/// of file in the error).
pub fn read_bounded(path: &Path, max: u64, what: &str) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO must not wait for a writer; the type is
    // checked on the open descriptor, so a swap after a stat cannot fool it.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the {max} {what} may have",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "more than the {max} bytes {what} may have"
        )));
    }
    Ok(bytes)
}

/// Most a node's `files` may copy, in bytes and in entries: configuration,
/// not data sets, as every byte is held in memory and copied per lab.
pub const MAX_TREE_BYTES: u64 = 16 << 20;
pub const MAX_TREE_ENTRIES: usize = 4096;

/// One entry of a tree read by [`read_tree`]; `rel` is empty for its root.
#[derive(Debug, Clone)]
pub enum TreeEntry {
    Dir {
        rel: PathBuf,
        mode: u32,
    },
    File {
        rel: PathBuf,
        mode: u32,
        data: Vec<u8>,
    },
}

/// A file, or a directory with everything under it (parents before their
/// children), read whole. Only regular files and directories: a symlink,
/// device or socket inside is an error, not something the node sees through.
pub fn read_tree(path: &Path) -> std::io::Result<Vec<TreeEntry>> {
    let mut out = Vec::new();
    let mut bytes = 0;
    walk(path, PathBuf::new(), &mut out, &mut bytes, true)?;
    Ok(out)
}

/// What [`read_tree`] would refuse, found from metadata alone: a file is
/// checked each time it is parsed, and read only when a lab is built.
pub fn check_tree(path: &Path) -> std::io::Result<()> {
    walk(path, PathBuf::new(), &mut Vec::new(), &mut 0, false)
}

fn walk(
    path: &Path,
    rel: PathBuf,
    out: &mut Vec<TreeEntry>,
    bytes: &mut u64,
    with_data: bool,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if out.len() >= MAX_TREE_ENTRIES {
        return Err(std::io::Error::other(format!(
            "more than {MAX_TREE_ENTRIES} files and directories"
        )));
    }
    // The root may be a symlink (to a shared config, say); what is under it not.
    let meta = if rel.as_os_str().is_empty() {
        std::fs::metadata(path)?
    } else {
        std::fs::symlink_metadata(path)?
    };
    let mode = meta.permissions().mode() & 0o7777;
    if meta.is_dir() {
        out.push(TreeEntry::Dir {
            rel: rel.clone(),
            mode,
        });
        let mut names: Vec<_> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            walk(&path.join(&name), rel.join(&name), out, bytes, with_data)?;
        }
        Ok(())
    } else if meta.is_file() {
        *bytes += meta.len();
        if *bytes > MAX_TREE_BYTES {
            return Err(std::io::Error::other(format!(
                "more than {MAX_TREE_BYTES} bytes in all"
            )));
        }
        let data = if with_data {
            std::fs::read(path)?
        } else {
            Vec::new()
        };
        out.push(TreeEntry::File { rel, mode, data });
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{} is not a regular file or directory",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused() {
        for p in ["/dev/zero", "/dev/null", "/"] {
            let e = read_spec_file(Path::new(p)).expect_err(p);
            assert!(
                e.to_string().contains("not a regular file") || e.raw_os_error().is_some(),
                "{p}: {e}"
            );
        }
    }

    #[test]
    fn a_fifo_is_refused_without_waiting() {
        let dir = std::env::temp_dir().join(format!("netrig-fifo-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let fifo = dir.join("f.toml");
        let c = std::ffi::CString::new(fifo.display().to_string()).expect("path");
        // SAFETY: mkfifo with a valid C string.
        let made = unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0;
        if made {
            let e = read_spec_file(&fifo).expect_err("fifo");
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(made, "mkfifo failed");
    }

    #[test]
    fn a_regular_file_reads() {
        let p = std::env::temp_dir().join(format!("netrig-spec-{}.toml", std::process::id()));
        std::fs::write(&p, "name = \"x\"\n").expect("write");
        let t = read_spec_file(&p);
        let _ = std::fs::remove_file(&p);
        assert_eq!(t.expect("read"), "name = \"x\"\n");
    }
}
