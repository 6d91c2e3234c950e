//! Persistent labs: `netrig up` starts a holder process that builds the lab and
//! keeps it until `netrig down`.
//!
//! The holder is PID 1 of its own PID namespace, so every process later started
//! in the lab with `netrig exec` lives in that PID namespace and dies with the
//! holder. In root mode the node namespaces are also bind-mounted at
//! `/run/netns/<lab>-<node>` so that `ip netns` and friends see them; those
//! mounts are the one thing that outlives a killed holder, and `netrig down`
//! removes them.

use crate::lab::{BuildOptions, Lab, LabError};
use crate::ns::{self, Mode};
use crate::safefs::{self, SafeFsError};
use netrig_spec::names::{check_lab_name, NameError, LAB_NAME_RULE};
use netrig_spec::Topology;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NETNS_RUN_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("lab `{0}` is already up (netrig down {0} first, or pick another --name)")]
    AlreadyUp(String),
    /// Another `netrig up` holds the name's claim and is building the lab.
    #[error("lab `{0}` is being created by another `netrig up` right now (wait for it to finish, then `netrig down {0}`, or pick another --name)")]
    Busy(String),
    #[error("no lab named `{0}` (netrig ls lists them)")]
    NoSuchLab(String),
    #[error("lab `{name}` is not running: its holder (pid {pid}) is gone; `netrig down {name}` cleans up")]
    HolderGone { name: String, pid: i32 },
    #[error("lab `{lab}` has no node `{node}` (its nodes: {known})")]
    NoSuchNode {
        lab: String,
        node: String,
        known: String,
    },
    #[error("building the lab failed: {0}")]
    Build(String),
    #[error("lab `{lab}` has no impaired link with the end `{end}` (impaired ends: {known})")]
    NotImpaired {
        lab: String,
        end: String,
        known: String,
    },
    #[error("invalid lab name `{}`: {why} ({LAB_NAME_RULE})", name.escape_debug())]
    BadName { name: String, why: NameError },
    /// The state directory or a state file is not netrig's own.
    #[error("lab state: {0}")]
    Unsafe(#[from] SafeFsError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PersistError {
    let what = what.into();
    move |source| PersistError::Io { what, source }
}

/// What `netrig up` leaves on disk so that other commands can find the lab.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub name: String,
    pub file: String,
    pub mode: Mode,
    pub holder_pid: i32,
    /// Start time of the holder (clock ticks since boot), to tell it from a
    /// later process that reuses its PID.
    pub holder_start: u64,
    /// Node name and the descriptor number that holds its namespace in the holder.
    pub nodes: Vec<(String, i32)>,
    /// Node name and the descriptor of its own mount namespace in the
    /// holder, for nodes that see files of their own.
    #[serde(default)]
    pub views: Vec<(String, i32)>,
    pub netns_mounts: Vec<String>,
    pub created_unix: u64,
    /// Impaired links and where the holder keeps their counters.
    #[serde(default)]
    pub impair: Option<ImpairState>,
}

/// The impaired links of a persistent lab.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImpairState {
    /// Descriptor of the holder's counter file ([`crate::impair::CounterPage`]).
    pub counters_fd: i32,
    /// Descriptor of the holder's model file ([`crate::impair::ModelPage`]).
    #[serde(default = "no_fd")]
    pub models_fd: i32,
    pub links: Vec<ImpairStateLink>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImpairStateLink {
    pub ends: [(String, String); 2],
    pub info: crate::impair::ImpairInfo,
    /// Descriptor of the read end of its engine's wake pipe.
    #[serde(default = "no_fd")]
    pub wake_fd: i32,
}

/// A descriptor a state file written before it existed does not have.
fn no_fd() -> i32 {
    -1
}

/// Where lab state lives: /run/netrig/labs as root, the user's runtime dir
/// (or /tmp/netrig-UID) otherwise, `NETRIG_STATE_DIR` when set. Decided by
/// the uid the host sees, so that a rootless holder (uid 0 in its user
/// namespace) uses its user's directory, not root's. Only a path: see
/// [`open_state_dir`] for the checks before it is used.
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NETRIG_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let uid = safefs::host_euid();
    if uid == 0 {
        PathBuf::from("/run/netrig/labs")
    } else if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        PathBuf::from(d).join("netrig/labs")
    } else {
        PathBuf::from(format!("/tmp/netrig-{uid}/labs"))
    }
}

/// The state directory, verified: a real directory (no link) of ours that no
/// other user can write, under a parent of the same kind (a directory
/// squatted in /tmp, or a link planted there, is refused). With `create` it
/// is made (0700 for users, 0755 for root) if missing; without, a missing
/// one is `None`.
pub fn open_state_dir(create: bool) -> Result<Option<PathBuf>, PersistError> {
    let dir = state_dir();
    let explicit = std::env::var_os("NETRIG_STATE_DIR").is_some_and(|d| !d.is_empty());
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if explicit {
        // Chosen by the caller (the runner: a folder in the case's results).
        if create {
            safefs::ensure_dir(&dir, 0o700, 0o022)?;
        } else if !exists(&dir) {
            return Ok(None);
        }
        safefs::verify_dir(&dir, 0o022)?;
        return Ok(Some(dir));
    }
    let forbid = if safefs::host_euid() == 0 {
        0o022
    } else {
        0o077
    };
    if !create {
        // Verified even when only reading: a squatted directory is refused
        // with the reason, not read (nor taken for "no labs").
        if let Some(base) = dir.parent().filter(|b| exists(b)) {
            safefs::verify_dir(base, forbid)?;
        }
        if !exists(&dir) {
            return Ok(None);
        }
        safefs::verify_dir(&dir, forbid)?;
        return Ok(Some(dir));
    }
    // netrig's own directory first (created and verified), then labs/ in it.
    let base = safefs::netrig_dir()?;
    let labs = base.join("labs");
    safefs::ensure_dir(&labs, 0o755 & !forbid, forbid)?;
    Ok(Some(labs))
}

fn state_file(dir: &Path, name: &str) -> Result<PathBuf, PersistError> {
    check_lab_name(name).map_err(|why| PersistError::BadName {
        name: name.to_string(),
        why,
    })?;
    Ok(dir.join(format!("{name}.json")))
}

fn proc_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22, counted after the parenthesised command name (which may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Is `pid` a running process of ours (real and effective uid equal to our
/// effective uid) that is PID 1 of a PID namespace of its own, as every
/// holder is? A PID and start time from a state file are not enough to
/// signal a process.
fn holder_like(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let me = safefs::euid().to_string();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    };
    let uid_ok = field("Uid:").is_some_and(|u| u.len() >= 2 && u[0] == me && u[1] == me);
    let pid1 = field("NSpid:").is_some_and(|p| p.last().is_some_and(|l| l == "1"));
    // A zombie has ended: its lab is gone even before it is reaped.
    let running = field("State:").is_some_and(|st| st.first().is_some_and(|x| x != "Z"));
    uid_ok && pid1 && running
}

impl LabState {
    /// The holder runs: the recorded PID is alive with the recorded start
    /// time (not a later process reusing the PID), is ours, and is PID 1 of
    /// its own PID namespace.
    pub fn holder_alive(&self) -> bool {
        self.holder_pid > 0
            && proc_start_time(self.holder_pid) == Some(self.holder_start)
            && holder_like(self.holder_pid)
    }

    /// The namespace mounts this lab may have: `/run/netns/<lab>-<node>` for
    /// its own nodes, whatever else the state file lists.
    fn own_mounts(&self) -> Vec<String> {
        if check_lab_name(&self.name).is_err() {
            return Vec::new();
        }
        self.netns_mounts
            .iter()
            .filter(|m| {
                self.nodes.iter().any(|(n, _)| {
                    check_lab_name(n).is_ok() && **m == format!("{NETNS_RUN_DIR}/{}-{n}", self.name)
                })
            })
            .cloned()
            .collect()
    }

    pub fn node_fd(&self, node: &str) -> Result<i32, PersistError> {
        self.nodes
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, fd)| *fd)
            .ok_or_else(|| PersistError::NoSuchNode {
                lab: self.name.clone(),
                node: node.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Largest state file read; real ones are a few hundred bytes.
const STATE_MAX: u64 = 1 << 20;

pub fn load(name: &str) -> Result<LabState, PersistError> {
    check_lab_name(name).map_err(|why| PersistError::BadName {
        name: name.to_string(),
        why,
    })?;
    let Some(dir) = open_state_dir(false)? else {
        return Err(PersistError::NoSuchLab(name.to_string()));
    };
    load_in(&dir, name)
}

fn load_in(dir: &Path, name: &str) -> Result<LabState, PersistError> {
    let p = state_file(dir, name)?;
    // Not through links, and only a regular file of ours.
    let f = match safefs::open_file(&p, false, false, 0) {
        Ok(f) => f,
        Err(SafeFsError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(PersistError::NoSuchLab(name.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    let mut text = String::new();
    f.take(STATE_MAX)
        .read_to_string(&mut text)
        .map_err(io_err(format!("reading {}", p.display())))?;
    let state: LabState = serde_json::from_str(&text).map_err(|e| PersistError::Io {
        what: format!("parsing {}", p.display()),
        source: std::io::Error::other(e),
    })?;
    if state.name != name {
        return Err(PersistError::Io {
            what: format!(
                "{} describes lab `{}`",
                p.display(),
                state.name.escape_debug()
            ),
            source: std::io::Error::from(std::io::ErrorKind::InvalidData),
        });
    }
    Ok(state)
}

/// Every lab with a state file, alive or not, by name. Files that are not
/// netrig's own (bad names, links, other owners) are left out.
pub fn list() -> Result<Vec<LabState>, PersistError> {
    let Some(dir) = open_state_dir(false)? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<LabState> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".json")?.to_string();
            load_in(&dir, &name).ok()
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn write_state(state: &LabState) -> Result<(), PersistError> {
    let dir = open_state_dir(true)?.unwrap_or_else(state_dir);
    write_state_in(&dir, state)
}

fn write_state_in(dir: &Path, state: &LabState) -> Result<(), PersistError> {
    // Verified (made 0700 if missing); a root state dir stays 0755.
    safefs::ensure_dir(dir, 0o700, 0o022)?;
    let path = state_file(dir, &state.name)?;
    let text = serde_json::to_string_pretty(state).map_err(|e| PersistError::Io {
        what: "encoding lab state".into(),
        source: std::io::Error::other(e),
    })?;
    // A fresh file renamed into place: a link planted at the name is replaced.
    safefs::write_file(&path, text.as_bytes(), 0o644)?;
    Ok(())
}

fn remove_state(name: &str) -> Result<(), PersistError> {
    let Some(dir) = open_state_dir(false)? else {
        return Ok(());
    };
    remove_state_in(&dir, name)
}

fn remove_state_in(dir: &Path, name: &str) -> Result<(), PersistError> {
    match std::fs::remove_file(state_file(dir, name)?) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("removing lab state")(e)),
    }
}

/// The exclusive claim on a lab name: an `flock` on `<name>.lock` in the
/// (verified, private) state directory. `netrig up` takes it before anything
/// is built and its holder keeps it (inherited across fork) for the lab's
/// whole life, so a second `up` of the name is refused instead of building a
/// lab that collides with the first, and `down` cleans a dead lab's leftovers
/// only while it holds the claim itself. The last owner unlinks the file
/// while still holding it; a claimer that locked a file unlinked meanwhile
/// sees the mismatch and tries again, so two claims never coexist.
struct Claim {
    file: std::fs::File,
    path: PathBuf,
}

impl Claim {
    /// `Ok(None)` when another process holds the claim.
    fn try_take(dir: &Path, name: &str) -> Result<Option<Claim>, PersistError> {
        use std::os::unix::fs::MetadataExt;
        check_lab_name(name).map_err(|why| PersistError::BadName {
            name: name.to_string(),
            why,
        })?;
        let path = dir.join(format!("{name}.lock"));
        // A few rounds at most: each retry means a claim was released and
        // its file unlinked between our open and our lock.
        for _ in 0..16 {
            let file = safefs::open_file(&path, true, true, 0o600)?;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    return Ok(None);
                }
                return Err(io_err(format!("locking {}", path.display()))(e));
            }
            let held = file
                .metadata()
                .map_err(io_err(format!("reading {}", path.display())))?;
            match std::fs::symlink_metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(Some(Claim { file, path }))
                }
                _ => continue,
            }
        }
        Err(PersistError::Busy(name.to_string()))
    }

    /// Give the name back: unlink the lock file while still holding it.
    fn release(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), PersistError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io_err("pipe")(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// Build `topo` as a persistent lab called `name`, held by a new holder process.
/// Returns once the lab is ready (or failed). Call from a single-threaded process.
pub fn up(
    topo: &Topology,
    name: &str,
    file: &str,
    mode: Mode,
    opts: &BuildOptions,
) -> Result<LabState, PersistError> {
    check_lab_name(name).map_err(|why| PersistError::BadName {
        name: name.to_string(),
        why,
    })?;
    // Made (and verified) here, before the holder exists to need it.
    let dir = open_state_dir(true)?.unwrap_or_else(state_dir);
    // The name is ours from here until the holder ends; nothing is built or
    // removed before this.
    let Some(claim) = Claim::try_take(&dir, name)? else {
        return Err(match load_in(&dir, name) {
            Ok(old) if old.holder_alive() => PersistError::AlreadyUp(name.to_string()),
            _ => PersistError::Busy(name.to_string()),
        });
    };
    match load_in(&dir, name) {
        Ok(old) if old.holder_alive() => {
            drop(claim.file);
            return Err(PersistError::AlreadyUp(name.to_string()));
        }
        // A dead lab's leftovers: ours to remove, since we hold the claim.
        Ok(old) => {
            if let Err(e) = unmount_netns(&old).and_then(|()| remove_state_in(&dir, name)) {
                drop(claim.file);
                return Err(e);
            }
        }
        Err(PersistError::NoSuchLab(_)) => {}
        Err(e) => {
            drop(claim.file);
            return Err(e);
        }
    }
    let (rd, wr) = pipe()?;
    // SAFETY: fork from a single-threaded caller; the child only runs our code and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io_err("fork")(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(rd);
        let code = holder_start(topo, name, file, mode, opts, wr, claim);
        // SAFETY: leave without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    // The holder has the claim now (a copy of the same locked file); closing
    // ours neither unlocks nor unlinks it.
    drop(claim.file);
    drop(wr);
    let mut reply = String::new();
    let mut f = std::fs::File::from(rd);
    let _ = f.read_to_string(&mut reply);
    // Reap the intermediate process (the holder itself is reparented).
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match reply.strip_prefix("OK") {
        Some(_) => load(name),
        None => Err(PersistError::Build(
            reply
                .strip_prefix("ERR ")
                .unwrap_or("the holder exited without a word")
                .trim()
                .to_string(),
        )),
    }
}

/// In the forked child: new session, rootless user namespace if asked, new PID
/// namespace, then fork the holder as its PID 1.
fn holder_start(
    topo: &Topology,
    name: &str,
    file: &str,
    mode: Mode,
    opts: &BuildOptions,
    wr: OwnedFd,
    claim: Claim,
) -> i32 {
    let mut report = std::fs::File::from(wr);
    // SAFETY: plain syscalls in a single-threaded child.
    unsafe { libc::setsid() };
    if mode == Mode::Rootless {
        if let Err(e) = ns::enter_rootless() {
            let _ = write!(report, "ERR {e}");
            claim.release();
            return 1;
        }
    }
    // SAFETY: as above.
    if unsafe { libc::unshare(libc::CLONE_NEWPID) } < 0 {
        let _ = write!(
            report,
            "ERR new PID namespace: {}",
            std::io::Error::last_os_error()
        );
        claim.release();
        return 1;
    }
    // SAFETY: single-threaded; the grandchild becomes PID 1 of the new namespace.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let _ = write!(report, "ERR fork: {}", std::io::Error::last_os_error());
        claim.release();
        return 1;
    }
    if pid == 0 {
        let code = hold(topo, name, file, mode, opts, report, claim);
        // SAFETY: see above.
        unsafe { libc::_exit(code) };
    }
    0
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: building and applying a signal mask for this single thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// The holder: PID 1 of the lab's PID namespace. It holds the name's claim
/// until it has removed everything it made, so that no other `up` of the
/// name starts before that.
fn hold(
    topo: &Topology,
    name: &str,
    file: &str,
    mode: Mode,
    opts: &BuildOptions,
    mut report: std::fs::File,
    claim: Claim,
) -> i32 {
    let sigs = block_signals();
    // A vanished `netrig up` must show up as a write error, not kill us.
    // SAFETY: setting our own signal disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let lab = match Lab::build(topo, opts) {
        Ok(l) => l,
        Err(e) => {
            let _ = write!(report, "ERR {}", error_chain(&e));
            claim.release();
            return 1;
        }
    };
    let mut state = describe(&lab, name, file, mode);
    if mode == Mode::Root {
        state.netns_mounts = state
            .nodes
            .iter()
            .map(|(n, _)| format!("{NETNS_RUN_DIR}/{name}-{n}"))
            .collect();
    }
    // Undo what this holder made, then give the name back.
    let undo = |claim: Claim| {
        let _ = unmount_netns(&state);
        let _ = remove_state(name);
        claim.release();
    };
    // State first, mounts second: a holder killed in between leaves a state
    // file that `netrig down` uses to find and remove the mounts.
    if let Err(e) = write_state(&state) {
        let _ = write!(report, "ERR {e}");
        claim.release();
        return 1;
    }
    if mode == Mode::Root {
        if let Err(e) = mount_netns(&state) {
            let _ = write!(report, "ERR {e}");
            undo(claim);
            return 1;
        }
    }
    // If whoever ran `netrig up` is gone, nobody will know this lab exists: undo.
    if write!(report, "OK").is_err() {
        undo(claim);
        return 1;
    }
    drop(report);
    detach_stdio();
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: waiting for one of the blocked signals.
        unsafe { libc::sigwait(&sigs, &mut sig) };
        if [libc::SIGTERM, libc::SIGINT, libc::SIGHUP].contains(&sig) {
            break;
        }
    }
    drop(lab);
    undo(claim);
    0
}

/// The state that lets `netrig exec` find `lab` through this process: our
/// PID as the host sees it, its start time, and the descriptor of each node.
pub fn describe(lab: &Lab, name: &str, file: &str, mode: Mode) -> LabState {
    // SAFETY: getpid has no preconditions. Inside our own PID namespace it
    // says 1, so prefer the PID the host (and other commands) see.
    let holder_pid = host_pid().unwrap_or_else(|| unsafe { libc::getpid() });
    LabState {
        name: name.to_string(),
        file: file.to_string(),
        mode,
        holder_pid,
        holder_start: proc_start_time(holder_pid).unwrap_or(0),
        nodes: lab
            .node_names()
            .filter_map(|n| lab.netns(n).ok().map(|fd| (n.to_string(), fd.as_raw_fd())))
            .collect(),
        views: lab
            .node_names()
            .filter_map(|n| match lab.view(n) {
                Ok(Some(fd)) => Some((n.to_string(), fd.as_raw_fd())),
                _ => None,
            })
            .collect(),
        netns_mounts: Vec::new(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        impair: lab.impair_counters().map(|c| ImpairState {
            counters_fd: c.raw_fd(),
            models_fd: lab.impair_models().map_or(-1, |m| m.raw_fd()),
            links: lab
                .impaired_links()
                .iter()
                .zip(lab.impair_wake_fds())
                .map(|(l, wake_fd)| ImpairStateLink {
                    ends: l.ends.clone(),
                    info: l.info.clone(),
                    wake_fd,
                })
                .collect(),
        }),
    }
}

/// The impaired link of a persistent lab with the end `node:iface`: the
/// lab's impaired links, its index and which end, once its holder is known
/// to be alive.
fn impaired_end<'a>(
    state: &'a LabState,
    node: &str,
    iface: &str,
) -> Result<(&'a ImpairState, usize, usize), PersistError> {
    let not_impaired = || {
        let known: Vec<String> = state
            .impair
            .iter()
            .flat_map(|i| &i.links)
            .flat_map(|l| l.ends.iter().map(|(n, i)| format!("{n}:{i}")))
            .collect();
        PersistError::NotImpaired {
            lab: state.name.clone(),
            end: format!("{node}:{iface}"),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        }
    };
    let imp = state.impair.as_ref().ok_or_else(not_impaired)?;
    let (li, d) = crate::impair::find_end(imp.links.iter().map(|l| &l.ends), node, iface)
        .ok_or_else(not_impaired)?;
    if !state.holder_alive() {
        return Err(PersistError::HolderGone {
            name: state.name.clone(),
            pid: state.holder_pid,
        });
    }
    Ok((imp, li, d))
}

/// What the impaired link with the end `node:iface` of a persistent lab did,
/// read from its holder's counters: `[what node:iface sent, what it
/// received]`.
pub fn impairment_stats(
    state: &LabState,
    node: &str,
    iface: &str,
) -> Result<(crate::impair::ImpairInfo, [crate::impair::DirStats; 2]), PersistError> {
    let (imp, li, d) = impaired_end(state, node, iface)?;
    let link = &imp.links[li];
    if link.info.engine == "netem" {
        // The qdisc of each end counts what that end sends.
        let read = |(n, i): &(String, String)| {
            in_node_netns(state, n, |nl| {
                let idx = ifindex_of(nl, i)?;
                crate::netem::stats(nl, idx)
            })
        };
        let ends = &link.ends;
        return Ok((link.info.clone(), [read(&ends[d])?, read(&ends[1 - d])?]));
    }
    let path = PathBuf::from(format!("/proc/{}/fd/{}", state.holder_pid, imp.counters_fd));
    let page = crate::impair::CounterPage::open(&path, imp.links.len()).map_err(io_err(
        format!("reading the counters of lab `{}`", state.name),
    ))?;
    Ok((
        imp.links[li].info.clone(),
        [page.read(li, d), page.read(li, 1 - d)],
    ))
}

/// Run `f` with a netlink socket of node `node` of a persistent lab, from a
/// thread of its own (setns moves only that thread), as root.
fn in_node_netns<T: Send>(
    state: &LabState,
    node: &str,
    f: impl FnOnce(&mut crate::netlink::Netlink) -> Result<T, crate::netlink::NetlinkError> + Send,
) -> Result<T, PersistError> {
    let what = format!(
        "reading the netem qdiscs of node `{node}` of lab `{}`",
        state.name
    );
    if state.mode == Mode::Rootless {
        // Joining a user namespace needs a single-threaded process.
        return Err(PersistError::Build(format!(
            "{what}: a rootless lab's netem links are read from inside the lab only"
        )));
    }
    let fd = state.node_fd(node)?;
    let netns = std::fs::File::open(format!("/proc/{}/fd/{fd}", state.holder_pid))
        .map_err(io_err(what.clone()))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns on a descriptor we opened; this thread only, and
            // it ends right after.
            if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
                return Err(io_err(what.clone())(std::io::Error::last_os_error()));
            }
            let mut nl = crate::netlink::Netlink::open().map_err(io_err(what.clone()))?;
            f(&mut nl).map_err(|e| PersistError::Build(format!("{what}: {e}")))
        })
        .join()
        .unwrap_or_else(|_| Err(PersistError::Build(format!("{what}: the thread panicked"))))
    })
}

/// The index of interface `name` of `nl`'s namespace.
fn ifindex_of(
    nl: &mut crate::netlink::Netlink,
    name: &str,
) -> Result<i32, crate::netlink::NetlinkError> {
    nl.links()?
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.index)
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("no interface {name}")).into()
        })
}

fn model_page(
    state: &LabState,
    imp: &ImpairState,
) -> Result<crate::impair::ModelPage, PersistError> {
    if imp.models_fd < 0 {
        return Err(PersistError::Build(format!(
            "lab `{}` was brought up by a netrig that cannot change impairments at run time",
            state.name
        )));
    }
    let path = PathBuf::from(format!("/proc/{}/fd/{}", state.holder_pid, imp.models_fd));
    crate::impair::ModelPage::open(&path, imp.links.len()).map_err(io_err(format!(
        "opening the impairment models of lab `{}`",
        state.name
    )))
}

/// The current model of the impaired link with the end `node:iface` of a
/// persistent lab: `[what node:iface sends, what it receives]`.
pub fn impairment_model(
    state: &LabState,
    node: &str,
    iface: &str,
) -> Result<[netrig_spec::Impairment; 2], PersistError> {
    let (imp, li, d) = impaired_end(state, node, iface)?;
    let dirs = model_page(state, imp)?.read(li);
    Ok([dirs[d].clone(), dirs[1 - d].clone()])
}

/// Change the impairment of the link with the end `node:iface` of a
/// persistent lab, as [`Lab::set_impairment`] does in the lab's own
/// process: the model goes on the holder's model page, the engine is woken
/// through its wake pipe, and this returns once the engine took it.
pub fn set_impairment(
    state: &LabState,
    node: &str,
    iface: &str,
    sends: Option<&netrig_spec::Impairment>,
    receives: Option<&netrig_spec::Impairment>,
) -> Result<(), PersistError> {
    let (imp, li, d) = impaired_end(state, node, iface)?;
    let page = model_page(state, imp)?;
    let dirs = if d == 0 {
        [sends, receives]
    } else {
        [receives, sends]
    };
    let what = format!(
        "changing the impairment of {node}:{iface} in lab `{}`",
        state.name
    );
    if imp.links[li].info.engine == "netem" {
        // No engine to wake: change each direction's qdisc, at the end
        // that sends it, then record the model for `netrig link` to show.
        for (dir, m) in dirs.iter().enumerate() {
            let Some(m) = m else { continue };
            let (n, i) = &imp.links[li].ends[dir];
            in_node_netns(state, n, |nl| {
                let idx = ifindex_of(nl, i)?;
                nl.request(crate::netem::change_msg(idx, m), what.clone())
            })?;
        }
        page.write(li, dirs).map_err(io_err(what))?;
        return Ok(());
    }
    let gen = page.write(li, dirs).map_err(io_err(what.clone()))?;
    let wake = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        state.holder_pid, imp.links[li].wake_fd
    ));
    crate::impair::wake_remote(&page, li, gen, &wake).map_err(io_err(what))
}

/// Record `lab`, held by this process, under `name` in `dir` so that
/// `netrig exec` run with `NETRIG_STATE_DIR=dir` can enter it. Nothing is
/// mounted: the lab still ends with this process.
pub fn publish(
    dir: &Path,
    lab: &Lab,
    name: &str,
    file: &str,
    mode: Mode,
) -> Result<LabState, PersistError> {
    let state = describe(lab, name, file, mode);
    write_state_in(dir, &state)?;
    Ok(state)
}

/// Our PID in the host's PID namespace (NSpid's first field: the PID as
/// the mounted /proc's namespace sees it).
pub fn host_pid() -> Option<i32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: replacing our own standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Make /run/netns a shared mount point, as iproute2 does, then bind each node.
fn mount_netns(state: &LabState) -> Result<(), PersistError> {
    use std::ffi::CString;
    std::fs::create_dir_all(NETNS_RUN_DIR).map_err(io_err(format!("creating {NETNS_RUN_DIR}")))?;
    let dir = CString::new(NETNS_RUN_DIR).map_err(|e| io_err("path")(std::io::Error::other(e)))?;
    let none = CString::new("none").map_err(|e| io_err("path")(std::io::Error::other(e)))?;
    // SAFETY: mount(2) with valid C strings.
    unsafe {
        if libc::mount(
            none.as_ptr(),
            dir.as_ptr(),
            none.as_ptr(),
            libc::MS_SHARED | libc::MS_REC,
            std::ptr::null(),
        ) < 0
        {
            if libc::mount(
                dir.as_ptr(),
                dir.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ) < 0
            {
                return Err(io_err(format!("bind-mounting {NETNS_RUN_DIR}"))(
                    std::io::Error::last_os_error(),
                ));
            }
            libc::mount(
                none.as_ptr(),
                dir.as_ptr(),
                none.as_ptr(),
                libc::MS_SHARED | libc::MS_REC,
                std::ptr::null(),
            );
        }
    }
    for ((_, fd), target) in state.nodes.iter().zip(&state.netns_mounts) {
        if Path::new(target).exists() {
            return Err(PersistError::Io {
                what: format!("{target} already exists (a namespace of that name is in use)"),
                source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            });
        }
        std::fs::File::create(target).map_err(io_err(format!("creating {target}")))?;
        let src = CString::new(format!("/proc/self/fd/{fd}"))
            .map_err(|e| io_err("path")(std::io::Error::other(e)))?;
        let dst =
            CString::new(target.as_str()).map_err(|e| io_err("path")(std::io::Error::other(e)))?;
        // SAFETY: bind mount of a namespace file onto the placeholder we created.
        if unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        } < 0
        {
            let e = std::io::Error::last_os_error();
            let _ = std::fs::remove_file(target);
            return Err(io_err(format!("bind-mounting {target}"))(e));
        }
    }
    Ok(())
}

/// Only the lab's own `/run/netns/<lab>-<node>` entries are touched.
fn unmount_netns(state: &LabState) -> Result<(), PersistError> {
    for target in &state.own_mounts() {
        if let Ok(c) = std::ffi::CString::new(target.as_str()) {
            // SAFETY: detaching a mount we made; failure (not mounted) is fine.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        match std::fs::remove_file(target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("removing {target}"))(e)),
        }
    }
    Ok(())
}

/// What `down` did.
#[derive(Debug, Default)]
pub struct DownReport {
    pub existed: bool,
    pub holder_was_alive: bool,
    pub mounts_removed: usize,
}

/// Stop a lab: end its holder (and with it every process in the lab), remove
/// its mounts and state. Idempotent: a lab that does not exist is not an error.
pub fn down(name: &str) -> Result<DownReport, PersistError> {
    check_lab_name(name).map_err(|why| PersistError::BadName {
        name: name.to_string(),
        why,
    })?;
    let Some(dir) = open_state_dir(false)? else {
        return Ok(DownReport::default());
    };
    let state = match load_in(&dir, name) {
        Ok(s) => Some(s),
        Err(PersistError::NoSuchLab(_)) => None,
        Err(e) => return Err(e),
    };
    let mut report = DownReport {
        existed: state.is_some(),
        ..Default::default()
    };
    // A live holder removes its own mounts and state, then gives back the
    // claim; the pidfd wait returns once it has exited.
    if let Some(s) = &state {
        report.holder_was_alive = stop_holder(s);
    }
    // Leftovers (of a killed holder) are removed only under the claim, so
    // that a lab another `up` is creating under this name is never touched.
    let Some(claim) = Claim::try_take(&dir, name)? else {
        if report.holder_was_alive || state.is_none() {
            // Ours is gone (or there was none); the claim is a new lab's.
            return Ok(report);
        }
        return Err(PersistError::Busy(name.to_string()));
    };
    let result = (|| {
        match load_in(&dir, name) {
            // A holder that runs without the claim is not one of ours to clean after.
            Ok(left) if !left.holder_alive() => {
                report.existed = true;
                report.mounts_removed = left
                    .own_mounts()
                    .iter()
                    .filter(|m| Path::new(m).exists())
                    .count();
                unmount_netns(&left)?;
                remove_state_in(&dir, name)?;
            }
            Ok(_) | Err(PersistError::NoSuchLab(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    })();
    claim.release();
    result.map(|()| report)
}

/// End the holder of `state`, if it is one: SIGTERM, then SIGKILL after 3 s.
/// Through a pidfd, so that the process checked is the process signalled,
/// and its exit (as a zombie too) is seen at once. Returns whether a holder
/// was running.
fn stop_holder(state: &LabState) -> bool {
    let pid = state.holder_pid;
    if pid <= 0 {
        return false;
    }
    // SAFETY: pidfd_open returns a new descriptor (or -1) and has no other effect.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let Ok(raw) = i32::try_from(raw) else {
        return false;
    };
    if raw < 0 {
        // Without pidfds (kernels before 5.3): by PID, checked just before.
        if !state.holder_alive() {
            return false;
        }
        // SAFETY: signalling the holder verified by PID, start time and owner.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while state.holder_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if state.holder_alive() {
            // SAFETY: as above; the holder ignored SIGTERM for too long.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        return true;
    }
    // SAFETY: a descriptor just returned to us, owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
    // Checked after opening: from here the pidfd names this very process.
    if !state.holder_alive() {
        return false;
    }
    let signal = |sig: i32| {
        // SAFETY: pidfd_send_signal on our pidfd, without a siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        }
    };
    let exited = |ms: i32| {
        let mut p = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polling one descriptor we own; readable once the process exits.
        unsafe { libc::poll(&mut p, 1, ms) > 0 }
    };
    signal(libc::SIGTERM);
    if !exited(3000) {
        signal(libc::SIGKILL);
        exited(1000);
    }
    true
}

/// Enter a node of a running lab on this (single-threaded) process: its user
/// namespace when rootless, its PID namespace for children, its network
/// namespace, and a private mount namespace with the node's own /sys.
pub fn enter(state: &LabState, node: &str) -> Result<(), PersistError> {
    enter_with(state, node, true)
}

/// Like [`enter`], but only the user (when rootless) and network namespaces:
/// for commands that start no processes and want threads afterwards (a
/// process that joined another PID namespace may not create threads).
pub fn enter_net(state: &LabState, node: &str) -> Result<(), PersistError> {
    enter_with(state, node, false)
}

fn enter_with(state: &LabState, node: &str, for_processes: bool) -> Result<(), PersistError> {
    let fd = state.node_fd(node)?;
    if !state.holder_alive() {
        return Err(PersistError::HolderGone {
            name: state.name.clone(),
            pid: state.holder_pid,
        });
    }
    let pid = state.holder_pid;
    if state.mode == Mode::Rootless {
        ns::join_userns(pid).map_err(io_err(format!(
            "joining the user namespace of lab `{}`",
            state.name
        )))?;
    }
    let open = |p: String| std::fs::File::open(&p).map_err(io_err(format!("opening {p}")));
    let netns = open(format!("/proc/{pid}/fd/{fd}"))?;
    if for_processes {
        let pidns = open(format!("/proc/{pid}/ns/pid"))?;
        // SAFETY: setns on a descriptor we just opened; affects our children only.
        if unsafe { libc::setns(pidns.as_raw_fd(), libc::CLONE_NEWPID) } < 0 {
            return Err(io_err("entering the lab's PID namespace")(
                std::io::Error::last_os_error(),
            ));
        }
    }
    // SAFETY: setns on a descriptor we just opened; affects this thread only.
    if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io_err(format!("entering node `{node}`"))(
            std::io::Error::last_os_error(),
        ));
    }
    if !for_processes {
        return Ok(());
    }
    // The node's own view (its files, tmpfs and /sys), as its steps see it.
    match state.views.iter().find(|(n, _)| n == node) {
        Some((_, fd)) => {
            let view = open(format!("/proc/{pid}/fd/{fd}"))?;
            crate::view::join(view.as_raw_fd())
                .map_err(io_err(format!("entering the files of node `{node}`")))?;
        }
        None => {
            ns::remount_sys();
        }
    }
    Ok(())
}

/// Build a lab that lives exactly as long as this call: until SIGINT, SIGTERM
/// or SIGHUP. Nothing is mounted, so nothing outlives the process.
pub fn hold_foreground(
    topo: &Topology,
    opts: &BuildOptions,
    on_ready: impl FnOnce(&Lab),
) -> Result<(), LabError> {
    let sigs = block_signals();
    let lab = Lab::build(topo, opts)?;
    on_ready(&lab);
    let mut sig: libc::c_int = 0;
    // SAFETY: waiting for one of the blocked signals.
    unsafe { libc::sigwait(&sigs, &mut sig) };
    drop(lab);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: i32, start: u64, mounts: &[&str]) -> LabState {
        LabState {
            name: "lab".into(),
            file: String::new(),
            mode: Mode::Root,
            holder_pid: pid,
            holder_start: start,
            nodes: vec![("a".into(), 3), ("b".into(), 4)],
            views: Vec::new(),
            netns_mounts: mounts.iter().map(|m| m.to_string()).collect(),
            created_unix: 0,
            impair: None,
        }
    }

    /// A state file may list anything; only the lab's own netns entries count.
    #[test]
    fn only_the_labs_own_netns_mounts_are_touched() {
        let s = state(
            0,
            0,
            &[
                "/etc/passwd",
                "/run/netns/lab-a",
                "/run/netns/other-a",
                "/run/netns/lab-a/../../../etc/shadow",
                "/run/netns/lab-b",
            ],
        );
        assert_eq!(s.own_mounts(), ["/run/netns/lab-a", "/run/netns/lab-b"]);
        let mut bad = s.clone();
        bad.name = "../x".into();
        assert!(bad.own_mounts().is_empty());
    }

    /// A holder that has died but is not reaped yet (a zombie) is gone: its
    /// lab is. Root only (a PID namespace); the holder is played by a
    /// grandchild that is PID 1 of a new PID namespace, and its parent
    /// never reaps it.
    #[test]
    fn a_zombie_holder_is_gone() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let (rd, wr) = pipe().expect("pipe");
        // SAFETY: the child makes raw syscalls only and never returns.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            // SAFETY: as above.
            unsafe {
                if libc::unshare(libc::CLONE_NEWPID) < 0 {
                    libc::_exit(1);
                }
                let g = libc::fork();
                if g == 0 {
                    loop {
                        libc::pause();
                    }
                }
                libc::write(wr.as_raw_fd(), (&g as *const i32).cast(), 4);
                loop {
                    libc::pause();
                }
            }
        }
        drop(wr);
        let mut b = [0u8; 4];
        std::fs::File::from(rd)
            .read_exact(&mut b)
            .expect("holder pid");
        let g = i32::from_ne_bytes(b);
        let st = state(g, proc_start_time(g).expect("start time"), &[]);
        let alive_before = st.holder_alive();
        // SAFETY: signalling the grandchild we just made.
        unsafe { libc::kill(g, libc::SIGKILL) };
        let zombie = || {
            std::fs::read_to_string(format!("/proc/{g}/status")).is_ok_and(|s| {
                s.lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'))
            })
        };
        let t = Instant::now();
        while !zombie() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(2));
        }
        let was_zombie = zombie();
        let alive_after = st.holder_alive();
        // SAFETY: ending and reaping our own child; the zombie goes to init.
        unsafe {
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, std::ptr::null_mut(), 0);
        }
        assert!(
            alive_before,
            "a live PID 1 of its own namespace is a holder"
        );
        assert!(was_zombie);
        assert!(!alive_after, "a zombie is not a running holder");
    }

    /// A live process with the right PID and start time is still not a
    /// holder unless it is PID 1 of its own PID namespace (this test is not).
    #[test]
    fn a_pid_and_start_time_do_not_make_a_holder() {
        let me = std::process::id() as i32;
        let start = proc_start_time(me).expect("our start time");
        assert!(!state(me, start, &[]).holder_alive());
        assert!(!state(me, start + 1, &[]).holder_alive());
    }
}
