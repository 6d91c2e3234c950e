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
    pub netns_mounts: Vec<String>,
    pub created_unix: u64,
}

/// Where lab state lives: /run/netrig as root, the user's runtime dir otherwise.
pub fn state_dir() -> PathBuf {
    if let Ok(d) = std::env::var("NETRIG_STATE_DIR") {
        return PathBuf::from(d);
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        PathBuf::from("/run/netrig/labs")
    } else if let Ok(d) = std::env::var("XDG_RUNTIME_DIR") {
        PathBuf::from(d).join("netrig/labs")
    } else {
        PathBuf::from(format!("/tmp/netrig-{uid}/labs"))
    }
}

fn state_path(name: &str) -> PathBuf {
    state_dir().join(format!("{name}.json"))
}

fn proc_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22, counted after the parenthesised command name (which may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl LabState {
    pub fn holder_alive(&self) -> bool {
        proc_start_time(self.holder_pid) == Some(self.holder_start)
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

pub fn load(name: &str) -> Result<LabState, PersistError> {
    let p = state_path(name);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PersistError::NoSuchLab(name.to_string()))
        }
        Err(e) => return Err(io_err(format!("reading {}", p.display()))(e)),
    };
    serde_json::from_str(&text).map_err(|e| PersistError::Io {
        what: format!("parsing {}", p.display()),
        source: std::io::Error::other(e),
    })
}

/// Every lab with a state file, alive or not, by name.
pub fn list() -> Vec<LabState> {
    let mut out: Vec<LabState> = std::fs::read_dir(state_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e
                .file_name()
                .to_string_lossy()
                .strip_suffix(".json")?
                .to_string();
            load(&name).ok()
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn write_state(state: &LabState) -> Result<(), PersistError> {
    write_state_in(&state_dir(), state)
}

fn write_state_in(dir: &Path, state: &LabState) -> Result<(), PersistError> {
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let tmp = dir.join(format!(".{}.json.tmp", state.name));
    let text = serde_json::to_string_pretty(state).map_err(|e| PersistError::Io {
        what: "encoding lab state".into(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&tmp, text).map_err(io_err(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, dir.join(format!("{}.json", state.name)))
        .map_err(io_err("saving lab state"))
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
    if let Ok(old) = load(name) {
        if old.holder_alive() {
            return Err(PersistError::AlreadyUp(name.to_string()));
        }
        down(name)?;
    }
    std::fs::create_dir_all(state_dir())
        .map_err(io_err(format!("creating {}", state_dir().display())))?;
    let (rd, wr) = pipe()?;
    // SAFETY: fork from a single-threaded caller; the child only runs our code and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io_err("fork")(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(rd);
        let code = holder_start(topo, name, file, mode, opts, wr);
        // SAFETY: leave without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
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
) -> i32 {
    let mut report = std::fs::File::from(wr);
    // SAFETY: plain syscalls in a single-threaded child.
    unsafe { libc::setsid() };
    if mode == Mode::Rootless {
        if let Err(e) = ns::enter_rootless() {
            let _ = write!(report, "ERR {e}");
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
        return 1;
    }
    // SAFETY: single-threaded; the grandchild becomes PID 1 of the new namespace.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let _ = write!(report, "ERR fork: {}", std::io::Error::last_os_error());
        return 1;
    }
    if pid == 0 {
        let code = hold(topo, name, file, mode, opts, report);
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

/// The holder: PID 1 of the lab's PID namespace.
fn hold(
    topo: &Topology,
    name: &str,
    file: &str,
    mode: Mode,
    opts: &BuildOptions,
    mut report: std::fs::File,
) -> i32 {
    let sigs = block_signals();
    // A vanished `netrig up` must show up as a write error, not kill us.
    // SAFETY: setting our own signal disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let lab = match Lab::build(topo, opts) {
        Ok(l) => l,
        Err(e) => {
            let _ = write!(report, "ERR {}", error_chain(&e));
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
    // State first, mounts second: a holder killed in between leaves a state
    // file that `netrig down` uses to find and remove the mounts.
    if let Err(e) = write_state(&state) {
        let _ = write!(report, "ERR {e}");
        return 1;
    }
    if mode == Mode::Root {
        if let Err(e) = mount_netns(&state) {
            let _ = unmount_netns(&state);
            let _ = std::fs::remove_file(state_path(name));
            let _ = write!(report, "ERR {e}");
            return 1;
        }
    }
    // If whoever ran `netrig up` is gone, nobody will know this lab exists: undo.
    if write!(report, "OK").is_err() {
        let _ = unmount_netns(&state);
        let _ = std::fs::remove_file(state_path(name));
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
    let _ = unmount_netns(&state);
    let _ = std::fs::remove_file(state_path(name));
    drop(lab);
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
        netns_mounts: Vec::new(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    }
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

/// Our PID in the host's PID namespace (NSpid's first field).
fn host_pid() -> Option<i32> {
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

fn unmount_netns(state: &LabState) -> Result<(), PersistError> {
    for target in &state.netns_mounts {
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
    let state = match load(name) {
        Ok(s) => s,
        Err(PersistError::NoSuchLab(_)) => return Ok(DownReport::default()),
        Err(e) => return Err(e),
    };
    let mut report = DownReport {
        existed: true,
        ..Default::default()
    };
    if state.holder_alive() {
        report.holder_was_alive = true;
        // SAFETY: signalling the holder we verified by PID and start time.
        unsafe { libc::kill(state.holder_pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while state.holder_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if state.holder_alive() {
            // SAFETY: as above; the holder ignored SIGTERM for too long.
            unsafe { libc::kill(state.holder_pid, libc::SIGKILL) };
        }
    }
    report.mounts_removed = state
        .netns_mounts
        .iter()
        .filter(|m| Path::new(m).exists())
        .count();
    unmount_netns(&state)?;
    match std::fs::remove_file(state_path(name)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("removing lab state")(e)),
    }
    Ok(report)
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
    if for_processes {
        ns::remount_sys();
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
