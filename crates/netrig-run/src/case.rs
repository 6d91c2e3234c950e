//! The case process: what `netrig __case DIR` runs, freshly exec'd by the
//! runner so that it starts single-threaded.
//!
//! Order matters and is why this is a separate process at all:
//! 1. rootless: enter a user namespace (refused once a second thread exists);
//!    root: unshare a network namespace so that nothing a case does, even an
//!    executable without a lab, can touch the host's;
//! 2. unshare a PID namespace and fork the case supervisor as its PID 1 with
//!    `PR_SET_PDEATHSIG(SIGKILL)`: when the runner kills this process's group
//!    at the timeout, PID 1 dies and the kernel kills everything in the
//!    namespace, including daemons that double-forked or changed group;
//! 3. PID 1 builds the lab, runs the steps, writes `result.json`, exits.
//!
//! Progress goes to the runner over a pipe (fd `NETRIG_HEARTBEAT_FD`): a
//! `hb` line every 200 ms from a separate thread, `step N NAME` as steps
//! start. A case whose heartbeats stop is stuck (a process in the kernel);
//! one that keeps beating in the same step is slow.

use crate::discover::{CaseDef, CaseSource};
use crate::protocol::{exit, CaseEvent};
use crate::result::{CaseResult, FailedAt, ProcRecord, State, SubResult};
use crate::steps::Ctx;
use netrig_lab::{persist::LabState, BuildOptions, Lab, Mode};
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const HEARTBEAT_FD_ENV: &str = "NETRIG_HEARTBEAT_FD";
/// The file in a case folder that tells the case process what to run.
pub const SPEC_FILE: &str = "case.json";
pub const RESULT_FILE: &str = "result.json";
/// Folder of a case folder where its lab is published for `netrig exec`.
const STATE_DIR: &str = "state";
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(200);

/// What the runner hands a case process.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CaseSpec {
    pub def: CaseDef,
    pub mode: Mode,
    pub pause_on_fail: bool,
    /// The netrig binary, put first on PATH for executables (`netrig exec`).
    pub exe: PathBuf,
}

/// The runner's end of the progress pipe, shared by the heartbeat thread.
#[derive(Clone)]
struct Events(Option<Arc<Mutex<std::fs::File>>>);

impl Events {
    fn send(&self, event: CaseEvent) {
        if let Some(f) = &self.0 {
            if let Ok(mut f) = f.lock() {
                // One write per line: atomic on a pipe below PIPE_BUF.
                let _ = f.write_all(event.encode().as_bytes());
            }
        }
    }
}

/// The body of a Rust test run by [`crate::harness`]: it gets the lab (if
/// its test declared a topology) and the case folder.
pub type RustBody = fn(&mut RustCtx) -> Result<(), String>;

/// What a Rust test body works with.
pub struct RustCtx {
    pub lab: Option<Lab>,
    /// The case's results folder, for files the test wants kept.
    pub dir: PathBuf,
}

/// Entry point of the case process. Call first thing, while single-threaded.
/// Returns the process exit code (0 when a result was written).
pub fn case_main(dir: &Path) -> i32 {
    case_main_with(dir, &|_| None)
}

/// [`case_main`] for binaries that carry Rust tests: `resolve` maps a test
/// name to its body.
pub fn case_main_with(dir: &Path, resolve: &dyn Fn(&str) -> Option<RustBody>) -> i32 {
    let hb_fd: Option<RawFd> = std::env::var(HEARTBEAT_FD_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    if let Some(fd) = hb_fd {
        // Daemons must not inherit it, or the runner would never see EOF.
        // SAFETY: fcntl on a descriptor number the runner gave us.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let spec: CaseSpec = match std::fs::read_to_string(dir.join(SPEC_FILE))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "netrig case: reading {}: {e}",
                dir.join(SPEC_FILE).display()
            );
            return 2;
        }
    };
    let mut warnings = Vec::new();
    let isolated = match spec.mode {
        Mode::Rootless => netrig_lab::ns::enter_rootless(),
        // A lab only ever creates namespaces of its own and runs every step
        // in one of its nodes, so it needs no home of its own; a case without
        // a lab gets one, so that nothing it runs reaches the host's.
        Mode::Root if spec.def.has_lab => Ok(()),
        // SAFETY: unshare of the network namespace, single-threaded.
        Mode::Root => match unsafe { libc::unshare(libc::CLONE_NEWNET) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        },
    };
    if let Err(e) = isolated {
        let r = CaseResult::new(
            &spec.def.name,
            &source_str(&spec.def),
            State::Broken,
            format!("isolating the case: {e}"),
        );
        write_result(dir, &r);
        return 0;
    }
    // The case's own mounts: what tools create in /run/netns (`ip netns
    // add`) stays in the case and vanishes with it.
    if let Err(e) = private_mounts(spec.mode) {
        warnings.push(format!(
            "no private /run/netns ({e}): named namespaces a case makes reach the host"
        ));
    }
    // SAFETY: single-threaded; a new PID namespace for our next child.
    if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
        warnings.push(format!(
            "no PID namespace ({}): stray processes are ended by process group only",
            std::io::Error::last_os_error()
        ));
        return supervise(&spec, dir, hb_fd, warnings, resolve);
    }
    // SAFETY: plain syscalls in a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        warnings.push(format!("fork: {}", std::io::Error::last_os_error()));
        return supervise(&spec, dir, hb_fd, warnings, resolve);
    }
    if pid == 0 {
        // SAFETY: as above. (getppid() is 0 here: our parent lives outside
        // our PID namespace. Should it die before this prctl, we are still in
        // its process group, which the runner kills.)
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        }
        // Our host PID, for what the host reads (--pause-on-fail), before
        // /proc shows this namespace's PIDs only.
        let _ = HOST_PID.set(netrig_lab::persist::host_pid().unwrap_or(0));
        if let Err(e) = mount_proc() {
            warnings.push(format!("/proc shows the host's processes ({e})"));
        }
        terminate_on_sigterm();
        let code = supervise(&spec, dir, hb_fd, warnings, resolve);
        // SAFETY: leave without unwinding into the parent's state.
        unsafe { libc::_exit(code) };
    }
    // The intermediate: keep the heartbeat fd closed here so that EOF means
    // PID 1 is gone, and wait.
    if let Some(fd) = hb_fd {
        // SAFETY: closing our copy of the descriptor.
        unsafe { libc::close(fd) };
    }
    // The runner's SIGTERM at the timeout goes on to PID 1 (dying here would
    // SIGKILL the namespace before anyone's cleanup ran).
    TERM_TO.store(pid, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: installing an async-signal-safe handler (one atomic load, kill).
    unsafe {
        libc::signal(
            libc::SIGTERM,
            forward_term as *const () as libc::sighandler_t,
        );
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid
            || (r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
        {
            break;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        1
    }
}

/// The PID 1 the intermediate forwards SIGTERM to.
static TERM_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_term(_: libc::c_int) {
    let pid = TERM_TO.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe; the PID is our own child's.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

/// As PID 1 of the case: on SIGTERM (the runner's timeout) pass it to
/// every process of the case's PID namespace, so that scripts' cleanup
/// traps and daemons' shutdown run before the runner's SIGKILL. A handler,
/// not a blocked signal: the processes we start inherit a signal mask, but
/// their handlers are reset by exec.
fn terminate_on_sigterm() {
    extern "C" fn term_all(_: libc::c_int) {
        // SAFETY: kill is async-signal-safe; kill(-1) from PID 1 signals
        // every other process of this PID namespace, nothing outside it.
        unsafe { libc::kill(-1, libc::SIGTERM) };
    }
    // SAFETY: installing an async-signal-safe handler.
    unsafe {
        libc::signal(libc::SIGTERM, term_all as *const () as libc::sighandler_t);
    }
}

/// The supervisor's PID in the host's PID namespace.
static HOST_PID: std::sync::OnceLock<i32> = std::sync::OnceLock::new();

/// Enter a mount namespace of the case's own (mounts made on the host still
/// show, nothing made here goes back) with an empty /run/netns.
fn private_mounts(mode: Mode) -> std::io::Result<()> {
    let netns = Path::new("/run/netns");
    // Where iproute2 (and `netrig up`) would make it anyway.
    if mode == Mode::Root && !netns.exists() {
        std::fs::create_dir_all(netns)?;
    }
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // SAFETY: plain syscalls with static C strings, single-threaded.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            std::ptr::null(),
        ))?;
        // Rootless without a /run/netns: no named namespace can be made.
        if !netns.exists() {
            return Ok(());
        }
        check(libc::mount(
            c"tmpfs".as_ptr(),
            c"/run/netns".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            c"mode=0755".as_ptr().cast(),
        ))
    }
}

/// /proc of the case's PID namespace (called as its PID 1): `ps`, `pgrep`
/// and `pkill` in a step see the case's processes, not the host's.
fn mount_proc() -> std::io::Result<()> {
    // SAFETY: mount(2) with static C strings.
    let r = unsafe {
        libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    PROC_MOUNTED.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Whether this process mounted the case's /proc (see [`mount_proc`]).
static PROC_MOUNTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What every process of a case sees: NETRIG_CASE_DIR, and with a lab
/// NETRIG_LAB, NETRIG_STATE_DIR and NETRIG_NODES, the lab published so that
/// `netrig exec $NETRIG_LAB NODE -- cmd` reaches its nodes.
fn lab_env(
    spec: &CaseSpec,
    dir: &Path,
    ctx: &Ctx,
    topo_file: &str,
) -> Result<Vec<(String, String)>, String> {
    let lab_name = format!("case-{}", HOST_PID.get().copied().unwrap_or(0));
    // Absolute: processes run in another directory than ours.
    let dir_abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let state_dir = dir_abs.join(STATE_DIR);
    let mut env: Vec<(String, String)> =
        vec![("NETRIG_CASE_DIR".into(), dir_abs.display().to_string())];
    // This netrig first on PATH, so `netrig exec` reaches this lab.
    if let Some(bin_dir) = spec.exe.parent() {
        let path_var = std::env::var("PATH").unwrap_or_default();
        env.push(("PATH".into(), format!("{}:{path_var}", bin_dir.display())));
    }
    if let Some(lab) = &ctx.lab {
        publish(&state_dir, &lab_name, topo_file, ctx, spec.mode)
            .map_err(|e| format!("publishing the lab for `netrig exec`: {e}"))?;
        let nodes: Vec<&str> = lab.node_names().collect();
        env.push(("NETRIG_LAB".into(), lab_name));
        env.push(("NETRIG_STATE_DIR".into(), state_dir.display().to_string()));
        env.push(("NETRIG_NODES".into(), nodes.join(" ")));
    }
    Ok(env)
}

fn source_str(def: &CaseDef) -> String {
    def.source_path().display().to_string()
}

fn write_result(dir: &Path, r: &CaseResult) {
    let tmp = dir.join(".result.json.tmp");
    if let Ok(text) = serde_json::to_string_pretty(r) {
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join(RESULT_FILE));
        }
    }
}

/// PID 1 of the case: do the work and always write a result.
fn supervise(
    spec: &CaseSpec,
    dir: &Path,
    hb_fd: Option<RawFd>,
    warnings: Vec<String>,
    resolve: &dyn Fn(&str) -> Option<RustBody>,
) -> i32 {
    // SAFETY: the descriptor is ours from here on (the intermediate closed its copy).
    let events =
        Events(hb_fd.map(|fd| Arc::new(Mutex::new(unsafe { std::fs::File::from_raw_fd(fd) }))));
    let hb = events.clone();
    std::thread::spawn(move || loop {
        hb.send(CaseEvent::Heartbeat);
        std::thread::sleep(HEARTBEAT_EVERY);
    });
    let t0 = Instant::now();
    let mut r = match &spec.def.source {
        CaseSource::Scenario { file, case } => run_scenario(spec, file, case, dir, t0, &events),
        CaseSource::Rust { test, topology } => {
            run_rust(spec, test, topology.as_deref(), resolve, dir, &events)
        }
        CaseSource::Exec {
            path,
            topology,
            node,
        } => run_exec(
            spec,
            path,
            topology.as_deref(),
            node.as_deref(),
            dir,
            t0,
            &events,
        ),
    };
    r.warnings.splice(0..0, warnings);
    r.duration_s = t0.elapsed().as_secs_f64();
    write_result(dir, &r);
    events.send(CaseEvent::Done);
    0
}

/// Build a case's lab; an impairment no engine here provides is a skip with
/// its reason, anything else broken.
fn build(topo: &netrig_spec::Topology) -> Result<Lab, (State, String)> {
    let opts = BuildOptions::default();
    // Lab::build's readiness includes every link's qdisc being attached.
    Lab::build(topo, &opts).map_err(|e| match e {
        netrig_lab::LabError::EngineUnavailable { .. } => (State::Skip, e.to_string()),
        e => (
            State::Broken,
            format!("building the lab: {}", netrig_lab::persist::error_chain(&e)),
        ),
    })
}

fn run_scenario(
    spec: &CaseSpec,
    file: &Path,
    case: &str,
    dir: &Path,
    t0: Instant,
    events: &Events,
) -> CaseResult {
    let src = file.display().to_string();
    let broken = |msg: String| CaseResult::new(&spec.def.name, &src, State::Broken, msg);
    let sc = match netrig_spec::scenario::load_scenario_case(file, case) {
        Ok(s) => s,
        Err(e) => return broken(format!("loading the scenario: {e}")),
    };
    let Some(c) = sc.cases.iter().find(|c| c.name == case) else {
        return broken(format!("the scenario no longer has a case `{case}`"));
    };
    events.send(CaseEvent::Setup);
    let lab = match &sc.topology {
        Some(t) if !t.nodes.is_empty() => match build(t) {
            Ok(l) => Some(l),
            Err((state, why)) => {
                return CaseResult::new(&spec.def.name, &src, state, why);
            }
        },
        _ => None,
    };
    let mut ctx = Ctx::new(lab, dir.to_path_buf(), t0);
    let topo_file = sc
        .topology
        .as_ref()
        .map(|_| file.display().to_string())
        .unwrap_or_default();
    ctx.env = match lab_env(spec, dir, &ctx, &topo_file) {
        Ok(e) => e,
        Err(e) => return broken(e),
    };
    // Steps run in the scenario's folder, so its paths may be relative.
    ctx.workdir = std::path::absolute(file)
        .ok()
        .and_then(|f| f.parent().map(Path::to_path_buf));
    let mut subtests: Vec<SubResult> = Vec::new();
    let mut verdict: Option<(State, String)> = None;
    for step in &c.steps {
        if verdict.is_none() {
            verdict = ctx.dead_daemon().map(|why| (State::Fail, why));
        }
        if let Some((_, why)) = &verdict {
            subtests.push(SubResult {
                index: step.index,
                name: step.name.clone(),
                state: State::Skip,
                message: format!("not run: {why}"),
                duration_s: 0.0,
                started_s: None,
                verdicts: Vec::new(),
                failed_checks: Vec::new(),
                failed_at: Vec::new(),
            });
            continue;
        }
        let res = run_step(&mut ctx, step, events);
        if res.state == State::Skip {
            // A requirement found unmet at run time (e.g. tracepoints in a
            // rootless lab): the case is a skip with this reason.
            verdict = Some((
                State::Skip,
                format!("step {} `{}`: {}", step.index, step.name, res.message),
            ));
            subtests.push(res);
            continue;
        }
        if !res.state.ok() {
            let first = res.message.lines().next().unwrap_or("").to_string();
            verdict = Some((
                res.state,
                format!("step {} `{}` {}: {first}", step.index, step.name, res.state),
            ));
        } else if res.state == State::Xfail && verdict.is_none() {
            subtests.push(res);
            continue;
        }
        subtests.push(res);
    }
    if verdict.is_none() {
        verdict = ctx.dead_daemon().map(|why| (State::Fail, why));
    }
    // `[[on_fail]]` collects state of a case that did not pass (its verdict
    // stands); `[[finally]]` always runs and is judged like any step.
    let failed = verdict
        .as_ref()
        .is_some_and(|(s, _)| !s.ok() && *s != State::Skip);
    let on_fail = c.on_fail.iter().filter(|_| failed).map(|s| ("on_fail", s));
    for (phase, step) in on_fail.chain(c.finally.iter().map(|s| ("finally", s))) {
        let mut res = run_step(&mut ctx, step, events);
        res.name = format!("{phase}: {}", res.name);
        if !res.state.ok() && res.state != State::Skip && verdict.is_none() {
            let first = res.message.lines().next().unwrap_or("").to_string();
            verdict = Some((
                res.state,
                format!(
                    "{phase} step {} `{}` {}: {first}",
                    step.index, step.name, res.state
                ),
            ));
        }
        subtests.push(res);
    }
    finish(spec, &src, ctx, subtests, verdict, events)
}

/// Run one step and apply its `expect.fail`.
fn run_step(ctx: &mut Ctx, step: &netrig_spec::scenario::Step, events: &Events) -> SubResult {
    events.send(CaseEvent::Step {
        index: step.index,
        name: step.name.clone(),
    });
    let mut res = ctx.exec_step(step);
    // `expect.fail`: this step is known to fail; the case is xfail, but
    // only when it fails by the named checks (any, for `fail = true`). A
    // pass, a broken step or another check failing is a failure: an
    // xfail that holds for the wrong reason proves nothing.
    if let Some(f) = step.expect.fail.as_ref().filter(|f| f.expected()) {
        let want: Vec<&str> = f.checks().iter().map(|c| c.name()).collect();
        res.state = match res.state {
            State::Fail
                if want.is_empty()
                    || (!res.failed_checks.is_empty()
                        && res.failed_checks.iter().all(|c| want.contains(&c.as_str()))) =>
            {
                State::Xfail
            }
            State::Fail => {
                res.message = format!(
                    "expected to fail by {}, but failed by {}: {}",
                    want.join("+"),
                    if res.failed_checks.is_empty() {
                        "an unnamed check".to_string()
                    } else {
                        res.failed_checks.join("+")
                    },
                    res.message
                );
                State::Fail
            }
            State::Pass => {
                res.message = format!(
                    "passed although marked expect.fail{} {}",
                    if want.is_empty() {
                        String::new()
                    } else {
                        format!(" = {}", want.join("+"))
                    },
                    res.message
                );
                State::Fail
            }
            s => s,
        };
    }
    if !res.state.ok() && res.state != State::Skip {
        res.failed_at = failed_at(step, &res);
    }
    res
}

/// Where the scenario writes what made `res` fail: the `expect` key of
/// each failed check, `expect.fail` for a step that passed against it, or
/// the step itself (a default check, a step that could not run).
fn failed_at(step: &netrig_spec::scenario::Step, res: &SubResult) -> Vec<FailedAt> {
    let at = |l: &netrig_spec::scenario::Location, what: String| FailedAt {
        file: l.file.clone(),
        line: l.line,
        col: l.col,
        what,
    };
    let mut keys: Vec<&str> = res.failed_checks.iter().map(String::as_str).collect();
    if res.failed_checks.is_empty() && res.message.starts_with("passed although marked") {
        keys.push("fail");
    }
    let mut out: Vec<FailedAt> = keys
        .iter()
        .filter_map(|k| step.expect_key_at(k).map(|l| at(l, format!("expect.{k}"))))
        .collect();
    // A check with no key of its own (`exit` of `run`, `reachable` of
    // `ping`), or none named: the step.
    if out.len() < keys.len() || keys.is_empty() {
        out.push(at(&step.at, format!("step {}", step.index)));
    }
    out
}

fn finish(
    spec: &CaseSpec,
    src: &str,
    mut ctx: Ctx,
    subtests: Vec<SubResult>,
    verdict: Option<(State, String)>,
    events: &Events,
) -> CaseResult {
    let xfailed = subtests.iter().any(|s| s.state == State::Xfail);
    let (state, reason) = match verdict {
        Some((s, why)) => (s, why),
        None if xfailed => (
            State::Xfail,
            "a step marked expect.fail failed as expected".to_string(),
        ),
        None => (State::Pass, String::new()),
    };
    let mut r = CaseResult::new(&spec.def.name, src, state, reason);
    r.subtests = subtests;
    if let Some(lab) = &ctx.lab {
        r.impaired = lab
            .impaired_links()
            .iter()
            .map(|l| {
                format!(
                    "{}:{} <-> {}:{}: engine {} ({}), seed {}",
                    l.ends[0].0,
                    l.ends[0].1,
                    l.ends[1].0,
                    l.ends[1].1,
                    l.info.engine,
                    l.info.why,
                    l.info.seed
                )
            })
            .collect();
    }
    if !state.ok() && spec.pause_on_fail && ctx.lab.is_some() {
        pause(spec, &ctx, &mut r, events);
    }
    // The lab's published state (see lab_env) ends with the steps.
    let _ = std::fs::remove_dir_all(ctx.dir.join(STATE_DIR));
    ctx.teardown(!state.ok());
    r.processes = ctx
        .procs
        .iter()
        .chain(ctx.daemons.iter())
        .map(|p| p.rec.clone())
        .collect::<Vec<ProcRecord>>();
    r.warnings.append(&mut ctx.warnings);
    r
}

/// The host PID of `ns_pid`, a process of our PID namespace (read from the
/// host's /proc, which `pause` gives back first): the process in our
/// namespace whose NSpid ends with it.
fn host_pid_of(ns_pid: u32) -> Option<i32> {
    let ours = std::fs::read_link("/proc/self/ns/pid").ok()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        if std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()? != ours {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
        (nspid.split_whitespace().last()? == ns_pid.to_string()).then_some(pid)
    })
}

/// Make this process look like a persistent-lab holder to `netrig exec`: a
/// state file naming our PID and the descriptors of the node namespaces.
/// Nothing is mounted, so nothing outlives the case.
fn publish(
    state_dir: &Path,
    name: &str,
    file: &str,
    ctx: &Ctx,
    mode: Mode,
) -> Result<LabState, String> {
    let lab = ctx.lab.as_ref().ok_or("no lab")?;
    netrig_lab::persist::publish(state_dir, lab, name, file, mode)
        .map_err(|e| netrig_lab::persist::error_chain(&e))
}

/// `--pause-on-fail`: publish the lab, tell the runner, and wait to be killed.
fn pause(spec: &CaseSpec, ctx: &Ctx, r: &mut CaseResult, events: &Events) {
    // The host enters the paused lab through our host PID: give this
    // process the host's /proc back (steps and daemons keep their own view).
    if PROC_MOUNTED.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: umount2 of our own mount, static C string.
        unsafe { libc::umount2(c"/proc".as_ptr(), libc::MNT_DETACH) };
    }
    let name = format!(
        "failed-{}",
        std::process::id().max(netrig_lab::persist::host_pid().unwrap_or(0) as u32)
    );
    // Made and verified like `netrig up` does (root's /run/netrig/labs, or
    // the user's private one), so that `netrig exec` trusts it.
    let dir = match netrig_lab::persist::open_state_dir(true) {
        Ok(Some(d)) => d,
        Ok(None) => netrig_lab::persist::state_dir(),
        Err(e) => {
            r.warnings.push(format!(
                "cannot pause: {}",
                netrig_lab::persist::error_chain(&e)
            ));
            return;
        }
    };
    match publish(
        &dir,
        &name,
        &spec.def.source_path().display().to_string(),
        ctx,
        spec.mode,
    ) {
        Ok(st) => {
            // The result goes out first: the runner reports it while we wait.
            r.warnings.push(format!("paused as lab `{name}`"));
            if let Some(d) = ctx.dir.to_str() {
                write_result(Path::new(d), r);
            }
            let nodes: Vec<&str> = st.nodes.iter().map(|(n, _)| n.as_str()).collect();
            for d in &ctx.daemons {
                let Some(pid) = d.id().and_then(host_pid_of) else {
                    continue;
                };
                events.send(CaseEvent::PausedDaemon {
                    pid,
                    node: d.rec.node.clone(),
                    name: d.rec.name.clone(),
                });
            }
            events.send(CaseEvent::Paused {
                lab: name.clone(),
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
            });
            // The runner ends us (SIGKILL) once the user is done; the state
            // file goes with the runner's cleanup.
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Err(e) => r.warnings.push(format!("cannot pause: {e}")),
    }
}

fn run_exec(
    spec: &CaseSpec,
    path: &Path,
    topology: Option<&Path>,
    node: Option<&str>,
    dir: &Path,
    t0: Instant,
    events: &Events,
) -> CaseResult {
    let src = path.display().to_string();
    let broken = |msg: String| CaseResult::new(&spec.def.name, &src, State::Broken, msg);
    events.send(CaseEvent::Setup);
    let lab = match topology {
        None => None,
        Some(t) => match netrig_spec::load_topology(t) {
            Err(e) => return broken(format!("loading {}: {e}", t.display())),
            Ok(topo) => match build(&topo) {
                Ok(l) => Some(l),
                Err((state, why)) => {
                    return CaseResult::new(&spec.def.name, &src, state, why);
                }
            },
        },
    };
    let mut ctx = Ctx::new(lab, dir.to_path_buf(), t0);
    let node = node.map(str::to_string).or_else(|| {
        ctx.lab
            .as_ref()
            .and_then(|l| l.node_names().next().map(str::to_string))
    });
    let topo_file = topology
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    // As for scenario steps: Ctx::start adds NETRIG_NODE.
    ctx.env = match lab_env(spec, dir, &ctx, &topo_file) {
        Ok(e) => e,
        Err(e) => return broken(e),
    };
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // An executable runs in its own folder.
    ctx.workdir = abs.parent().map(Path::to_path_buf);
    events.send(CaseEvent::Step {
        index: 1,
        name: spec.def.name.clone(),
    });
    let prog = abs.display().to_string();
    let mut p = match ctx.start(node.as_deref(), "test", &prog, &[]) {
        Ok(p) => p,
        Err(e) => return broken(e),
    };
    let _ = p.wait_timeout(None);
    p.finish();
    let out = p.stdout();
    let rec = p.rec.clone();
    ctx.procs.push(p);
    let tap = crate::tapparse::parse_output(&out);
    let subtests: Vec<SubResult> = tap.tests.iter().map(|t| t.to_sub()).collect();
    let verdict = match (rec.exit, rec.signal) {
        // Exit 0 after printing a failure, a bail-out or fewer results than
        // planned is a failure: that is how any KTAP/TAP reader (kunit.py,
        // prove) reads the same output, and the reports must agree.
        (Some(0), _) => tap_failure(&tap).map(|why| (State::Fail, why)),
        // kselftest's KSFT_SKIP.
        (Some(exit::KSFT_SKIP), _) => Some((
            State::Skip,
            crate::tapparse::skip_reason(&tap, &out)
                .unwrap_or_else(|| "the test exited with 4 (skip)".into()),
        )),
        (Some(c), _) => Some((State::Fail, format!("exit status {c}"))),
        (None, Some(s)) => Some((State::Fail, crate::coredump::describe(s, rec.core.as_ref()))),
        _ => Some((State::Broken, "no exit status".into())),
    };
    let mut r = finish(spec, &src, ctx, subtests, verdict.clone(), events);
    match verdict {
        Some((State::Skip, why)) => {
            r.state = State::Skip;
            r.reason = why;
        }
        // An executable is judged by its exit status: an XFAIL or TODO
        // result it printed is its own business (kselftest counts it as a
        // pass), not an expected failure of the case.
        None if r.state == State::Xfail => {
            r.state = State::Pass;
            r.reason.clear();
        }
        _ => {}
    }
    r.output = crate::procs::tail(
        &format!("{}{}", out, rec.exit.map(|_| "").unwrap_or("")),
        20,
    );
    if !tap.tests.is_empty() || tap.plan.is_some() || tap.bail_out.is_some() {
        r.tap = Some(tap);
    }
    r
}

/// Why KTAP/TAP output says the executable failed although it exited 0.
fn tap_failure(tap: &crate::result::TapBlock) -> Option<String> {
    if let Some(why) = &tap.bail_out {
        return Some(format!("Bail out! {why}"));
    }
    if let Some(t) = tap
        .tests
        .iter()
        .find(|t| matches!(t.state, State::Fail | State::Broken | State::Timeout))
    {
        return Some(format!("test {} {} {}", t.index, t.name, t.state));
    }
    match tap.plan {
        Some(p) if p != tap.tests.len() => {
            Some(format!("planned {p} results, printed {}", tap.tests.len()))
        }
        _ if tap.cut_short() => Some("a nested level ended before its plan".into()),
        _ => None,
    }
}

fn run_rust(
    spec: &CaseSpec,
    test: &str,
    topology: Option<&str>,
    resolve: &dyn Fn(&str) -> Option<RustBody>,
    dir: &Path,
    events: &Events,
) -> CaseResult {
    let src = spec.def.source_path().display().to_string();
    let broken = |msg: String| CaseResult::new(&spec.def.name, &src, State::Broken, msg);
    let Some(body) = resolve(test) else {
        return broken(format!("no Rust test `{test}` in this binary"));
    };
    events.send(CaseEvent::Setup);
    let lab = match topology {
        None => None,
        Some(text) => match netrig_spec::parse_topology(test, text) {
            Err(e) => return broken(format!("topology of `{test}`: {e}")),
            Ok(t) => match build(&t) {
                Ok(l) => Some(l),
                Err((state, why)) => {
                    return CaseResult::new(&spec.def.name, &src, state, why);
                }
            },
        },
    };
    events.send(CaseEvent::Step {
        index: 1,
        name: test.to_string(),
    });
    let mut ctx = RustCtx {
        lab,
        dir: dir.to_path_buf(),
    };
    // A panic is a failure of the test, not of the harness.
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut ctx)));
    let (state, reason) = match out {
        Ok(Ok(())) => (State::Pass, String::new()),
        Ok(Err(e)) => (State::Fail, e),
        Err(p) => (
            State::Fail,
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .map(|m| format!("panicked: {m}"))
                .unwrap_or_else(|| "panicked".into()),
        ),
    };
    CaseResult::new(&spec.def.name, &src, state, reason)
}
