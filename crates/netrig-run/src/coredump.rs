//! Core files of processes a case started, reported the way VPP's test
//! framework reports a crash: which signal, whether the kernel dumped a
//! core, where the core is now, and the gdb command that opens it.
//!
//! netrig never changes `kernel.core_pattern` (it is global to the host); it
//! reads it and looks where the kernel wrote. A relative pattern (`core`, the
//! kernel's default) puts the core in the process's working directory, the
//! scenario's folder: netrig moves it into the case's results folder, so the
//! source tree stays clean and the core outlives the next crash. `%p` and
//! the `.PID` that `core_uses_pid` appends are the PID in the process's own
//! PID namespace, the case's (core(5)), which is what netrig knows. An
//! absolute pattern is looked up and left where it is; a pipe (`|program`)
//! hands the core to that program, and the report says so.

use crate::result::CoreInfo;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";
const CORE_USES_PID: &str = "/proc/sys/kernel/core_uses_pid";

/// Signals whose default action dumps core (signal(7)).
pub fn dumps_core(sig: i32) -> bool {
    [
        libc::SIGQUIT,
        libc::SIGILL,
        libc::SIGTRAP,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGSEGV,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGSYS,
    ]
    .contains(&sig)
}

/// A process's soft RLIMIT_CORE (`None`: unlimited or unknown).
pub fn core_limit(pid: u32) -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit reading one limit into a local struct.
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_CORE,
            std::ptr::null(),
            &mut lim,
        )
    };
    (r == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// Raise this process's RLIMIT_CORE as far as it goes: unlimited where
/// allowed (root), else the soft limit up to the hard one. For a daemon,
/// between fork and exec: async-signal-safe.
pub fn raise_core_limit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit/setrlimit on this process, local structs.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) == 0 {
            return;
        }
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_CORE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_CORE, &lim);
        }
    }
}

/// What netrig knows of a process that died by `sig`.
pub struct Death<'a> {
    /// Its PID in the case's PID namespace.
    pub pid: u32,
    pub sig: i32,
    /// WCOREDUMP: the kernel says it wrote a core.
    pub dumped: bool,
    /// Its soft RLIMIT_CORE when it started (`None`: unlimited or unknown).
    pub limit: Option<u64>,
    /// Where it started, where a relative core pattern puts the core.
    pub cwd: &'a Path,
    pub started: SystemTime,
    /// The case's results folder and the name to give the core there.
    pub results: &'a Path,
    pub name: &'a str,
}

/// Find the core of a process that died by a core-dumping signal, move it
/// into the results folder when it lies in the process's folder, and say
/// how to open it. `None` for a signal that dumps no core.
pub fn collect(d: &Death) -> Option<CoreInfo> {
    if !dumps_core(d.sig) {
        return None;
    }
    let mut info = CoreInfo {
        dumped: d.dumped,
        ..CoreInfo::default()
    };
    if !d.dumped {
        info.note = Some(match d.limit {
            Some(0) => "no core (core limit 0)".to_string(),
            _ => "no core: the kernel wrote none (a process that changed user is not dumpable; its folder may not be writable)".to_string(),
        });
        return Some(info);
    }
    let pattern = match std::fs::read_to_string(CORE_PATTERN) {
        Ok(p) => p.trim_end_matches('\n').to_string(),
        Err(e) => {
            info.note = Some(format!(
                "core dumped, but {CORE_PATTERN} is unreadable: {e}"
            ));
            return Some(info);
        }
    };
    let uses_pid = std::fs::read_to_string(CORE_USES_PID).is_ok_and(|v| v.trim() != "0");
    locate(d, info, &pattern, uses_pid)
}

/// [`collect`] for a dumped core, given the host's core_pattern and
/// core_uses_pid.
fn locate(d: &Death, mut info: CoreInfo, pattern: &str, uses_pid: bool) -> Option<CoreInfo> {
    if let Some(prog) = pattern.strip_prefix('|') {
        let prog = prog.split_whitespace().next().unwrap_or("").to_string();
        if prog.ends_with("systemd-coredump") {
            info.note = Some(format!(
                "core_pattern pipes cores to `{prog}`: `coredumpctl list` shows them (by host PID); the debug line opens the newest"
            ));
            info.debug = Some("coredumpctl gdb".into());
        } else {
            info.note = Some(format!(
                "core_pattern pipes cores to `{prog}`; it has the core, netrig does not"
            ));
        }
        return Some(info);
    }
    let Some((dir, name)) = expected_path(pattern, uses_pid, d) else {
        info.note = Some(format!(
            "core dumped, but core_pattern `{pattern}` names a folder netrig cannot work out"
        ));
        return Some(info);
    };
    // With -j, cases of one folder crash side by side: take only a core
    // whose process had this case's environment.
    let marker = format!(
        "NETRIG_CASE_DIR={}",
        std::path::absolute(d.results)
            .unwrap_or_else(|_| d.results.to_path_buf())
            .display()
    );
    let Some(found) = find_core(&dir, &name, d.started, &marker) else {
        info.note = Some(format!(
            "core dumped, but no core matching `{}` in {} (core_pattern `{pattern}`; a relative pattern is relative to the folder the process was in when it crashed)",
            name.as_str(),
            dir.display()
        ));
        return Some(info);
    };
    let notes = read_notes(&found).unwrap_or_default();
    info.exe = notes.exe;
    let path = if Path::new(&pattern).is_absolute() {
        found
    } else {
        // The scenario's folder is the user's source tree: take it out.
        let to = d.results.join(format!("{}.core", d.name));
        match move_file(&found, &to) {
            Ok(()) => to,
            Err(e) => {
                info.note = Some(format!(
                    "could not move the core into the results folder: {e}"
                ));
                found
            }
        }
    };
    let shown = path.display().to_string();
    info.debug = Some(match &info.exe {
        Some(exe) => format!("gdb {exe} {shown}"),
        None => format!("gdb -c {shown}"),
    });
    info.file = Some(shown);
    Some(info)
}

/// The folder a core goes to and a regex its file name matches, from the
/// pattern's specifiers (core(5)): those netrig knows are filled in, the
/// rest match anything. `None` when the folder itself has unknowns.
fn expected_path(pattern: &str, uses_pid: bool, d: &Death) -> Option<(PathBuf, regex::Regex)> {
    let mut re = String::from("^");
    let mut folder: Option<String> = None;
    let mut has_pid = false;
    let mut unknown_in_folder = false;
    let mut chars = pattern.chars().peekable();
    let mut part = String::new();
    let mut part_re = String::new();
    let mut wild_in_part = false;
    while let Some(c) = chars.next() {
        let (lit, wild) = match c {
            '/' => {
                // Everything so far is folder.
                let f = folder.get_or_insert_with(String::new);
                f.push_str(&part);
                f.push('/');
                unknown_in_folder |= wild_in_part;
                wild_in_part = false;
                part.clear();
                part_re.clear();
                continue;
            }
            '%' => match chars.next() {
                Some('%') => (Some("%".to_string()), false),
                Some('p') => {
                    has_pid = true;
                    (Some(d.pid.to_string()), false)
                }
                Some('s') => (Some(d.sig.to_string()), false),
                // %P %i %I %u %g %d %e %E %t %h %c %C %f %F: unknown here.
                Some(_) => (None, true),
                None => (None, false),
            },
            c => (Some(c.to_string()), false),
        };
        if let Some(l) = lit {
            part_re.push_str(&regex::escape(&l));
            part.push_str(&l);
        }
        if wild {
            wild_in_part = true;
            part_re.push_str(".*");
            part.push('*');
        }
    }
    if unknown_in_folder {
        return None;
    }
    re.push_str(&part_re);
    if uses_pid && !has_pid {
        re.push_str(&regex::escape(&format!(".{}", d.pid)));
    }
    re.push('$');
    let dir = match folder {
        None => d.cwd.to_path_buf(),
        Some(f) if f.starts_with('/') => PathBuf::from(f),
        Some(f) => d.cwd.join(f),
    };
    Some((dir, regex::Regex::new(&re).ok()?))
}

/// The newest ELF core in `dir` whose name matches and which was written
/// since the process started.
fn find_core(dir: &Path, name: &regex::Regex, since: SystemTime, marker: &str) -> Option<PathBuf> {
    // File times have coarser ticks than the clock: allow a little.
    let since = since
        .checked_sub(std::time::Duration::from_secs(1))
        .unwrap_or(since);
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let Some(n) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.is_match(&n) {
            continue;
        }
        let Ok(md) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let Ok(m) = md.modified() else { continue };
        if !md.is_file() || m < since || !is_core(&e.path()) {
            continue;
        }
        if read_notes(&e.path()).is_some_and(|n| n.env_has(&e.path(), marker) == Some(false)) {
            continue;
        }
        if best.as_ref().is_none_or(|(t, _)| m > *t) {
            best = Some((m, e.path()));
        }
    }
    best.map(|(_, p)| p)
}

fn is_core(path: &Path) -> bool {
    let mut h = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut h))
        .is_ok()
        && h[..4] == *b"\x7fELF"
        && u16::from_ne_bytes([h[16], h[17]]) == 4 // ET_CORE
}

/// Rename, or copy and remove across filesystems.
fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            std::fs::copy(from, to)?;
            std::fs::remove_file(from)
        }
        r => r,
    }
}

/// What a core's notes say about the process that dumped it.
#[derive(Debug, Default, PartialEq)]
pub struct CoreNotes {
    /// The executable: the mapped file holding the program's entry point.
    pub exe: Option<String>,
    /// Its PID as seen in its own PID namespace.
    pub pid: Option<i32>,
    /// AT_EXECFN: where the program's file name lies, at the top of the
    /// stack just after the environment strings.
    execfn: Option<u64>,
    /// Memory the core holds: (address, file offset, size).
    loads: Vec<(u64, u64, u64)>,
}

impl CoreNotes {
    /// Whether the process's environment holds `var` (`NAME=value`), read
    /// from the strings just below AT_EXECFN; `None` where the core does not
    /// hold them.
    pub fn env_has(&self, path: &Path, var: &str) -> Option<bool> {
        use std::io::{Seek, SeekFrom};
        /// Environments larger than this are not searched.
        const ENV_MAX: u64 = 256 << 10;
        let fname = self.execfn?;
        let &(addr, off, _) = self
            .loads
            .iter()
            .find(|(a, _, n)| (*a..a.saturating_add(*n)).contains(&fname))?;
        let from = fname.saturating_sub(ENV_MAX).max(addr);
        let mut buf = vec![0u8; (fname - from) as usize];
        let mut f = std::fs::File::open(path).ok()?;
        f.seek(SeekFrom::Start(off + (from - addr))).ok()?;
        f.read_exact(&mut buf).ok()?;
        let mut needle = vec![0u8];
        needle.extend_from_slice(var.as_bytes());
        needle.push(0);
        Some(memchr::memmem::find(&buf, &needle).is_some())
    }
}

const PT_NOTE: u32 = 4;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_FILE: u32 = 0x4649_4c45;
const PT_LOAD: u32 = 1;
const AT_ENTRY: u64 = 9;
const AT_EXECFN: u64 = 31;
/// Largest note segment read (a core of thousands of threads stays far below).
const NOTES_MAX: u64 = 64 << 20;

/// Read the notes of a 64-bit ELF core of this host's byte order: the
/// executable (AT_ENTRY from the auxiliary vector, found among the mapped
/// files of NT_FILE, which are absolute paths) and the PID (NT_PRPSINFO).
/// `None` for anything else.
pub fn read_notes(path: &Path) -> Option<CoreNotes> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh).ok()?;
    let native = if cfg!(target_endian = "little") { 1 } else { 2 };
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != native || u16_at(&eh, 16)? != 4 {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(&eh, 32)?, u16_at(&eh, 54)?, u16_at(&eh, 56)?);
    let size = f.metadata().ok()?.size();
    let mut notes = CoreNotes::default();
    let (mut entry, mut files) = (None, Vec::new());
    for i in 0..u64::from(phnum) {
        let mut ph = [0u8; 56];
        f.seek(SeekFrom::Start(phoff + i * u64::from(phentsize)))
            .ok()?;
        f.read_exact(&mut ph).ok()?;
        match u32_at(&ph, 0)? {
            PT_NOTE => {}
            PT_LOAD => {
                // p_vaddr, p_offset, p_filesz (what the core holds of it).
                notes
                    .loads
                    .push((u64_at(&ph, 16)?, u64_at(&ph, 8)?, u64_at(&ph, 32)?));
                continue;
            }
            _ => continue,
        }
        let (off, len) = (u64_at(&ph, 8)?, u64_at(&ph, 32)?);
        if len > NOTES_MAX || off.checked_add(len)? > size {
            return None;
        }
        let mut seg = vec![0u8; len as usize];
        f.seek(SeekFrom::Start(off)).ok()?;
        f.read_exact(&mut seg).ok()?;
        let mut at = 0usize;
        while at + 12 <= seg.len() {
            let (namesz, descsz, typ) = (
                u32_at(&seg, at)? as usize,
                u32_at(&seg, at + 4)? as usize,
                u32_at(&seg, at + 8)?,
            );
            let desc_at = at + 12 + namesz.div_ceil(4) * 4;
            let desc = seg.get(desc_at..desc_at.checked_add(descsz)?)?;
            at = desc_at + descsz.div_ceil(4) * 4;
            match typ {
                // 64-bit elf_prpsinfo: pr_pid after state, flag, uid, gid.
                NT_PRPSINFO => notes.pid = i32_at(desc, 24),
                NT_AUXV => {
                    let aux = |key| {
                        desc.chunks_exact(16)
                            .find(|kv| u64_at(kv, 0) == Some(key))
                            .and_then(|kv| u64_at(kv, 8))
                    };
                    entry = aux(AT_ENTRY);
                    notes.execfn = aux(AT_EXECFN);
                }
                NT_FILE => files = mapped_files(desc).unwrap_or_default(),
                _ => {}
            }
        }
    }
    notes.exe = entry.and_then(|e| {
        files
            .into_iter()
            .find(|(lo, hi, _)| (*lo..*hi).contains(&e))
            .map(|(_, _, name)| name)
    });
    Some(notes)
}

/// NT_FILE: a count, the page size, (start, end, offset) per mapping, then
/// the mappings' file names, NUL-terminated.
fn mapped_files(d: &[u8]) -> Option<Vec<(u64, u64, String)>> {
    let n = usize::try_from(u64_at(d, 0)?).ok()?;
    let names_at = 16usize.checked_add(n.checked_mul(24)?)?;
    let mut names = d.get(names_at..)?.split(|&b| b == 0);
    (0..n)
        .map(|k| {
            let base = 16 + k * 24;
            let name = String::from_utf8_lossy(names.next()?).into_owned();
            Some((u64_at(d, base)?, u64_at(d, base + 8)?, name))
        })
        .collect()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// How a process ended by `sig`, for failure messages: `killed by SIGSEGV
/// (core dumped)`, then lines with the core and the command that opens it.
pub fn describe(sig: i32, core: Option<&CoreInfo>) -> String {
    let name = netrig_spec::steps::signal::signal_name(sig);
    let Some(c) = core else {
        return format!("killed by {name}");
    };
    let mut s = format!(
        "killed by {name}{}",
        if c.dumped { " (core dumped)" } else { "" }
    );
    if let Some(f) = &c.file {
        s.push_str(&format!("\ncore: {f}"));
    }
    if let Some(n) = &c.note {
        s.push_str(&format!("\n{n}"));
    }
    if let Some(g) = &c.debug {
        s.push_str(&format!("\ndebug: {g}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn death<'a>(cwd: &'a Path) -> Death<'a> {
        Death {
            pid: 42,
            sig: libc::SIGSEGV,
            dumped: true,
            limit: None,
            cwd,
            started: SystemTime::now(),
            results: cwd,
            name: "d",
        }
    }

    #[test]
    fn patterns_become_a_folder_and_a_name() {
        let cwd = Path::new("/scen");
        let d = death(cwd);
        let (dir, re) = expected_path("core", false, &d).expect("relative");
        assert_eq!(dir, cwd);
        assert!(re.is_match("core") && !re.is_match("core.42") && !re.is_match("xcore"));
        // core_uses_pid appends the PID unless the pattern has %p.
        let (_, re) = expected_path("core", true, &d).expect("uses pid");
        assert!(re.is_match("core.42") && !re.is_match("core"));
        let (dir, re) = expected_path("/var/crash/core.%e.%p.%s.%%", true, &d).expect("abs");
        assert_eq!(dir, Path::new("/var/crash/"));
        assert!(re.is_match("core.bgpd.42.11.%"), "{re}");
        assert!(!re.is_match("core.bgpd.43.11.%"));
        let (dir, _) = expected_path("cores/core", false, &d).expect("relative folder");
        assert_eq!(dir, Path::new("/scen/cores/"));
        assert!(expected_path("/var/crash/%h/core", false, &d).is_none());
    }

    /// A core is taken only by the case whose environment its process had:
    /// another case's core in the same folder is left alone.
    #[test]
    fn a_core_is_taken_by_its_own_case_only() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let pattern = std::fs::read_to_string(CORE_PATTERN).unwrap_or_default();
        if pattern.trim() != "core" {
            eprintln!("skip: core_pattern is `{}`, not `core`", pattern.trim());
            return;
        }
        let base = std::env::temp_dir().join(format!("netrig-core-unit-{}", std::process::id()));
        let (src, ours, theirs) = (base.join("src"), base.join("ours"), base.join("theirs"));
        for d in [&src, &ours, &theirs] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let started = SystemTime::now();
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "kill -SEGV $$"])
            .current_dir(&src)
            .env("NETRIG_CASE_DIR", &theirs);
        // SAFETY: setrlimit between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                raise_core_limit();
                Ok(())
            })
        };
        let mut child = cmd.spawn().expect("sh");
        let st = child.wait().expect("wait");
        assert_eq!(st.signal(), Some(libc::SIGSEGV));
        if !st.core_dumped() {
            eprintln!("skip: no core dumped here");
            let _ = std::fs::remove_dir_all(&base);
            return;
        }
        let mut d = death(&src);
        d.pid = child.id();
        d.started = started;
        d.results = &ours;
        let c = collect(&d).expect("a core signal");
        assert!(c.file.is_none(), "took another case's core: {c:?}");
        assert!(src.join("core").is_file(), "it is left where it is");
        d.results = &theirs;
        let c = collect(&d).expect("a core signal");
        let moved = theirs.join("d.core");
        assert_eq!(c.file.as_deref(), moved.to_str());
        assert!(moved.is_file() && !src.join("core").exists());
        assert_eq!(
            c.exe.as_deref().map(|e| e.ends_with("sh")),
            Some(true),
            "{c:?}"
        );
        let _ = std::fs::remove_dir_all(&base);
    }

    /// A pipe is named, not pretended to be a file; an absolute pattern is
    /// found where it says and left there.
    #[test]
    fn pipes_are_named_and_absolute_cores_stay() {
        let base = std::env::temp_dir().join(format!("netrig-core-abs-{}", std::process::id()));
        std::fs::create_dir_all(&base).expect("mkdir");
        let d = death(Path::new("/nonexistent"));
        let info = || CoreInfo {
            dumped: true,
            ..CoreInfo::default()
        };
        let c = locate(
            &d,
            info(),
            "|/usr/lib/systemd/systemd-coredump %P %u %g",
            false,
        )
        .expect("info");
        assert_eq!(c.debug.as_deref(), Some("coredumpctl gdb"));
        assert!(c.file.is_none() && c.note.is_some_and(|n| n.contains("systemd-coredump")));
        let c = locate(&d, info(), "|/usr/share/apport/apport %p", false).expect("info");
        assert!(c.file.is_none() && c.debug.is_none(), "{c:?}");
        // An ELF core header is all a core needs to be taken for one.
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[16..18].copy_from_slice(&4u16.to_ne_bytes());
        std::fs::write(base.join("core.d.42"), &elf).expect("write");
        std::fs::write(base.join("core.d.43"), &elf).expect("write");
        let pattern = format!("{}/core.%e.%p", base.display());
        let c = locate(&d, info(), &pattern, true).expect("info");
        let want = base.join("core.d.42");
        assert_eq!(c.file.as_deref(), want.to_str(), "{c:?}");
        assert_eq!(c.debug, Some(format!("gdb -c {}", want.display())));
        assert!(want.is_file(), "an absolute pattern's core stays");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn only_core_signals_dump() {
        assert!(dumps_core(libc::SIGSEGV) && dumps_core(libc::SIGABRT));
        assert!(!dumps_core(libc::SIGKILL) && !dumps_core(libc::SIGTERM));
    }

    #[test]
    fn a_refused_core_says_why() {
        let mut d = death(Path::new("/nonexistent"));
        d.dumped = false;
        d.limit = Some(0);
        let c = collect(&d).expect("a core signal");
        assert_eq!(c.note.as_deref(), Some("no core (core limit 0)"));
        assert_eq!(
            describe(libc::SIGSEGV, Some(&c)),
            "killed by SIGSEGV\nno core (core limit 0)"
        );
        d.sig = libc::SIGKILL;
        assert!(collect(&d).is_none());
    }
}
