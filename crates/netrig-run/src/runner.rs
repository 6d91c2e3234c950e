//! Scheduling cases onto worker threads, one case process each; the runner
//! alone owns timeouts and kills whole process trees.

use crate::case::{CaseSpec, HEARTBEAT_EVERY, HEARTBEAT_FD_ENV, RESULT_FILE, SPEC_FILE};
use crate::discover::CaseDef;
use crate::protocol::CaseEvent;
use crate::requires::Host;
use crate::result::{CaseResult, RunReport, State, SubResult};
use netrig_lab::Mode;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The binary that understands `__case DIR` (normally netrig itself).
    pub exe: PathBuf,
    pub jobs: usize,
    pub repeat: u32,
    pub retries: u32,
    pub fail_fast: bool,
    pub pause_on_fail: bool,
    /// Root of the results folders; the run goes to `<results>/<tag>/`.
    pub results: PathBuf,
    pub tag: String,
    pub mode: Mode,
}

/// Events the runner reports while it runs (for consoles and progress).
pub enum Event<'a> {
    Started { name: &'a str },
    Finished(&'a CaseResult),
}

/// Sortable, readable `YYYYmmdd-HHMMSS` in UTC, without a date crate.
pub fn default_tag() -> String {
    let (y, m, d, hh, mm, ss) = crate::result::utc_civil(crate::result::now_secs());
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// A case name as a folder name.
pub fn dir_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    if s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

const DURATIONS: &str = ".durations.json";

/// Largest `.durations.json` read (a few dozen bytes a case).
const DURATIONS_MAX: u64 = 16 << 20;

fn load_durations(results: &Path) -> BTreeMap<String, f64> {
    crate::results::read_own(&results.join(DURATIONS), DURATIONS_MAX)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

struct Job {
    def: CaseDef,
    repeat: u32,
}

/// Run `cases`; `on_event` is called on the calling thread as cases start and
/// end. Returns the report; also writes the results folder.
pub fn run(cases: Vec<CaseDef>, opts: &RunOptions, on_event: &mut dyn FnMut(Event)) -> RunReport {
    let t0 = Instant::now();
    let started = crate::result::now_iso8601_utc();
    let mut host = Host::probe(opts.mode);
    // Claimed before (`claim_run_dir`) or reused on purpose; either way
    // verified here, and nothing is written if it cannot be.
    let run_dir = match crate::results::open_run_dir(&opts.results, &opts.tag) {
        Ok(d) => d,
        Err(e) => return unrunnable(cases, opts, &host, &e.to_string(), t0, on_event),
    };
    let durations = load_durations(&opts.results);
    let mut results: Vec<CaseResult> = Vec::new();
    let mut queue: Vec<Job> = Vec::new();
    for def in cases {
        if let Some(why) = host.unmet(&def.requires) {
            for r in 1..=opts.repeat {
                let mut res = CaseResult::new(
                    &def.name,
                    &def.source_path().display().to_string(),
                    State::Skip,
                    why.clone(),
                );
                res.repeat = r;
                on_event(Event::Finished(&res));
                results.push(res);
            }
            continue;
        }
        for r in 1..=opts.repeat {
            queue.push(Job {
                def: def.clone(),
                repeat: r,
            });
        }
    }
    // Longest first, by what earlier runs measured; unknown cases first of
    // all, since they may be the long ones. Keeps the tail of a parallel run short.
    queue.sort_by(|a, b| {
        let da = durations.get(&a.def.name).copied().unwrap_or(f64::INFINITY);
        let db = durations.get(&b.def.name).copied().unwrap_or(f64::INFINITY);
        db.partial_cmp(&da).unwrap_or(std::cmp::Ordering::Equal)
    });
    let queue = Arc::new(Mutex::new(VecDeque::from(queue)));
    let stop = Arc::new(AtomicBool::new(false));
    let pause_lock = Arc::new(Mutex::new(()));
    let (tx, rx) = mpsc::channel::<Msg>();
    let jobs = opts.jobs.max(1);
    let mut workers = Vec::new();
    for _ in 0..jobs {
        let (queue, stop, tx, opts, run_dir, pause_lock) = (
            queue.clone(),
            stop.clone(),
            tx.clone(),
            opts.clone(),
            run_dir.clone(),
            pause_lock.clone(),
        );
        // Each worker spawns its case processes and lives until the queue is
        // empty: PR_SET_PDEATHSIG fires when the spawning *thread* exits.
        workers.push(std::thread::spawn(move || loop {
            let job = match queue.lock() {
                Ok(mut q) => q.pop_front(),
                Err(_) => None,
            };
            let Some(job) = job else { break };
            if stop.load(Ordering::SeqCst) {
                let mut r = CaseResult::new(
                    &job.def.name,
                    &job.def.source_path().display().to_string(),
                    State::Skip,
                    "not run: --fail-fast stopped the run",
                );
                r.repeat = job.repeat;
                let _ = tx.send(Msg::Done(Box::new(r)));
                continue;
            }
            let _ = tx.send(Msg::Started(job.def.name.clone()));
            let r = run_with_retries(&job, &opts, &run_dir, &pause_lock);
            if opts.fail_fast && !r.state.ok() {
                stop.store(true, Ordering::SeqCst);
            }
            let _ = tx.send(Msg::Done(Box::new(r)));
        }));
    }
    drop(tx);
    for msg in rx {
        match msg {
            Msg::Started(n) => on_event(Event::Started { name: &n }),
            Msg::Done(r) => {
                on_event(Event::Finished(&r));
                results.push(*r);
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
    let mut report = RunReport {
        tag: opts.tag.clone(),
        started,
        duration_s: t0.elapsed().as_secs_f64(),
        mode: opts.mode.to_string(),
        kernel: host.kernel.clone(),
        jobs,
        version: env!("CARGO_PKG_VERSION").into(),
        cases: results,
        ..RunReport::default()
    };
    report.sort_cases();
    save(&report, opts, &run_dir, durations);
    report
}

enum Msg {
    Started(String),
    Done(Box<CaseResult>),
}

/// Every case broken for `why` (the results folder cannot be used); nothing
/// is started and nothing written.
fn unrunnable(
    cases: Vec<CaseDef>,
    opts: &RunOptions,
    host: &Host,
    why: &str,
    t0: Instant,
    on_event: &mut dyn FnMut(Event),
) -> RunReport {
    let mut results = Vec::new();
    for def in cases {
        for r in 1..=opts.repeat {
            let mut res = CaseResult::new(
                &def.name,
                &def.source_path().display().to_string(),
                State::Broken,
                why,
            );
            res.repeat = r;
            on_event(Event::Finished(&res));
            results.push(res);
        }
    }
    RunReport {
        tag: opts.tag.clone(),
        started: crate::result::now_iso8601_utc(),
        duration_s: t0.elapsed().as_secs_f64(),
        mode: opts.mode.to_string(),
        kernel: host.kernel.clone(),
        jobs: opts.jobs.max(1),
        version: env!("CARGO_PKG_VERSION").into(),
        cases: results,
        ..RunReport::default()
    }
}

fn save(
    report: &RunReport,
    opts: &RunOptions,
    run_dir: &Path,
    mut durations: BTreeMap<String, f64>,
) {
    for c in &report.cases {
        if matches!(c.state, State::Pass | State::Fail | State::Xfail) {
            durations.insert(c.name.clone(), c.duration_s);
        }
    }
    // Fresh files renamed into place: a link planted at a name is replaced,
    // never written through.
    let write = |p: PathBuf, t: &str| netrig_lab::safefs::write_file(&p, t.as_bytes(), 0o644);
    if let Ok(t) = serde_json::to_string_pretty(&durations) {
        let _ = write(opts.results.join(DURATIONS), &t);
    }
    if let Ok(t) = serde_json::to_string_pretty(report) {
        let _ = write(run_dir.join("report.json"), &t);
    }
    let _ = write(run_dir.join("report.ktap"), &crate::report::ktap(report));
    let _ = write(run_dir.join("junit.xml"), &crate::report::junit(report));
    let _ = crate::results::set_latest(&opts.results, &opts.tag);
    let _ = crate::html::write_for_run(report, run_dir);
}

fn run_with_retries(
    job: &Job,
    opts: &RunOptions,
    run_dir: &Path,
    pause_lock: &Mutex<()>,
) -> CaseResult {
    let mut attempt = 1;
    let mut retried = Vec::new();
    loop {
        let mut dir = dir_name(&job.def.name);
        if job.repeat > 1 {
            dir.push_str(&format!(".rep{}", job.repeat));
        }
        if attempt > 1 {
            dir.push_str(&format!(".try{attempt}"));
        }
        let case_dir = run_dir.join(dir);
        let mut r = run_once(&job.def, opts, &case_dir, pause_lock);
        r.attempt = attempt;
        r.repeat = job.repeat;
        r.dir = Some(case_dir.display().to_string());
        apply_xfail(&job.def, &mut r);
        if r.state.ok() || attempt > opts.retries || r.state == State::Skip {
            r.flaky = attempt > 1 && r.state == State::Pass;
            r.retried = retried;
            return r;
        }
        retried.push(crate::result::Attempt {
            attempt,
            state: r.state,
            reason: r.reason,
            output: r.output,
            dir: r.dir,
        });
        attempt += 1;
    }
}

/// `xfail = "reason"`: a failure is expected; a pass is news (XPASS) and fails.
fn apply_xfail(def: &CaseDef, r: &mut CaseResult) {
    let Some(why) = &def.xfail else { return };
    match r.state {
        State::Fail => {
            r.reason = format!("expected failure ({why}): {}", r.reason);
            r.state = State::Xfail;
        }
        State::Pass => {
            r.reason = format!("passed, but marked xfail ({why}); remove the mark");
            r.state = State::Fail;
        }
        _ => {}
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors that we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned by nobody else.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// What the runner learned from a case's progress lines.
#[derive(Default)]
struct Progress {
    steps: Vec<String>,
    last_beat: Option<Instant>,
    paused: Option<(String, Vec<String>)>,
    /// Daemons of a paused case: (host PID, node, name).
    paused_daemons: Vec<(i32, Option<String>, String)>,
    done: bool,
}

impl Progress {
    fn line(&mut self, l: &str) {
        self.last_beat = Some(Instant::now());
        match CaseEvent::decode(l) {
            Some(CaseEvent::Step { index, name }) => self.steps.push(format!("{index} {name}")),
            Some(CaseEvent::PausedDaemon { pid, node, name }) => {
                self.paused_daemons.push((pid, node, name))
            }
            Some(CaseEvent::Paused { lab, nodes }) => self.paused = Some((lab, nodes)),
            Some(CaseEvent::Done) => self.done = true,
            Some(CaseEvent::Heartbeat | CaseEvent::Setup) | None => {}
        }
    }
}

/// Run one case now, on this thread, with retries and xfail applied, in
/// `<results>/<tag>/<case>/` (for harnesses that schedule cases themselves).
pub fn run_single(def: &CaseDef, opts: &RunOptions) -> CaseResult {
    let run_dir = match crate::results::open_run_dir(&opts.results, &opts.tag) {
        Ok(d) => d,
        Err(e) => {
            let src = def.source_path().display().to_string();
            return CaseResult::new(&def.name, &src, State::Broken, e.to_string());
        }
    };
    let job = Job {
        def: def.clone(),
        repeat: 1,
    };
    run_with_retries(&job, opts, &run_dir, &Mutex::new(()))
}

fn run_once(def: &CaseDef, opts: &RunOptions, dir: &Path, pause_lock: &Mutex<()>) -> CaseResult {
    let src = def.source_path().display().to_string();
    let broken = |msg: String| CaseResult::new(&def.name, &src, State::Broken, msg);
    if let Err(e) = crate::results::fresh_dir(dir) {
        return broken(format!("creating the case folder: {e}"));
    }
    let spec = CaseSpec {
        def: def.clone(),
        mode: opts.mode,
        pause_on_fail: opts.pause_on_fail,
        exe: opts.exe.clone(),
    };
    let write = serde_json::to_string(&spec)
        .map_err(|e| e.to_string())
        .and_then(|t| {
            netrig_lab::safefs::write_file(&dir.join(SPEC_FILE), t.as_bytes(), 0o644)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = write {
        return broken(format!("writing the case spec: {e}"));
    }
    let (rd, wr) = match pipe() {
        Ok(p) => p,
        Err(e) => return broken(format!("pipe: {e}")),
    };
    let log = match netrig_lab::safefs::open_file(&dir.join("case.log"), true, true, 0o644) {
        Ok(f) => f,
        Err(e) => return broken(format!("creating case.log: {e}")),
    };
    let log2 = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return broken(format!("case.log: {e}")),
    };
    let mut cmd = Command::new(&opts.exe);
    cmd.arg("__case")
        .arg(dir)
        .env(HEARTBEAT_FD_ENV, "3")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        // Its own group: Ctrl-C at the terminal reaches only the runner, and
        // the timeout kill reaches exactly this case.
        .process_group(0);
    let wfd = wr.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if wfd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // If the runner dies, so does the case (and with it its PID namespace).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    // NETRIG_TRACE=1: when each progress line arrives, for finding where a
    // case's time goes.
    let trace = std::env::var_os("NETRIG_TRACE").is_some();
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return broken(format!("starting {}: {e}", opts.exe.display())),
    };
    drop(wr);
    let pgid = child.id() as i32;
    let mut reader = std::io::BufReader::new(std::fs::File::from(rd));
    let mut prog = Progress::default();
    // None: no timeout (kselftest's `timeout=0`, `--timeout 0`).
    let mut deadline = start.checked_add(def.timeout);
    let mut timed_out = false;
    let mut buf = String::new();
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            timed_out = true;
            break;
        }
        let wait_ms = deadline.map_or(500, |d| (d - now).as_millis().min(500)) as i32;
        let mut pfd = libc::pollfd {
            fd: reader.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Lines already buffered need no poll.
        let ready = if !reader.buffer().is_empty() {
            1
        } else {
            // SAFETY: polling one descriptor we own.
            unsafe { libc::poll(&mut pfd, 1, wait_ms.max(1)) }
        };
        if ready <= 0 {
            continue;
        }
        buf.clear();
        match reader.read_line(&mut buf) {
            Ok(0) => break, // EOF: PID 1 (and the intermediate) are gone.
            Ok(_) => {
                if trace {
                    eprintln!(
                        "[{:>8.3} ms] {}: {}",
                        start.elapsed().as_secs_f64() * 1e3,
                        def.name,
                        buf.trim_end()
                    );
                }
                prog.line(buf.trim_end());
                if let Some((lab, nodes)) = prog.paused.take() {
                    let paused_at = Instant::now();
                    let daemons = std::mem::take(&mut prog.paused_daemons);
                    hold_paused(&def.name, &lab, &nodes, &daemons, dir, pause_lock);
                    // SAFETY: ending the case's process group.
                    unsafe { libc::kill(-pgid, libc::SIGKILL) };
                    // The name comes from the case: a name, never a path.
                    if netrig_spec::names::check_lab_name(&lab).is_ok() {
                        let _ = std::fs::remove_file(
                            netrig_lab::persist::state_dir().join(format!("{lab}.json")),
                        );
                    }
                    deadline = deadline.and_then(|d| d.checked_add(paused_at.elapsed()));
                }
            }
            Err(_) => break,
        }
    }
    if timed_out {
        // SIGTERM first: the case passes it to all its processes, so that
        // scripts' traps and daemons' shutdown run (kselftest's runner sends
        // SIGTERM too); then, after TERM_GRACE or once the case is gone,
        // SIGKILL: its PID 1 takes the PID namespace down with it
        // (PR_SET_PDEATHSIG), whatever the children did.
        // SAFETY: signalling the case's process group.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let grace_end = Instant::now() + crate::steps::TERM_GRACE;
        while Instant::now() < grace_end {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    if trace {
        eprintln!(
            "[{:>8.3} ms] {}: EOF",
            start.elapsed().as_secs_f64() * 1e3,
            def.name
        );
    }
    let status = child.wait();
    if trace {
        eprintln!(
            "[{:>8.3} ms] {}: reaped",
            start.elapsed().as_secs_f64() * 1e3,
            def.name
        );
    }
    // Drain what is left so that late "step" lines are not lost.
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    for l in rest.lines() {
        prog.line(l);
    }
    let elapsed = start.elapsed();
    // The case process writes result.json; one killed (at its timeout) or
    // dead before it could gets one from us, so every case folder has one.
    let mut ours = timed_out;
    let mut r = if timed_out {
        let mut r = timeout_result(def, &src, &prog, elapsed);
        let step = prog
            .steps
            .last()
            .and_then(|s| s.split(' ').next()?.parse().ok());
        r.output = output_so_far(dir, step);
        r
    } else {
        match crate::results::read_own(&dir.join(RESULT_FILE), 64 << 20)
            .and_then(|t| serde_json::from_str::<CaseResult>(&t).ok())
        {
            Some(r) => r,
            None => {
                let how = match status {
                    Ok(s) => format!("{s}"),
                    Err(e) => e.to_string(),
                };
                let log = std::fs::read_to_string(dir.join("case.log")).unwrap_or_default();
                let mut r = broken(format!(
                    "the case reported nothing (case process: {how}{})",
                    prog.steps
                        .last()
                        .map(|s| format!("; last step started: {s}"))
                        .unwrap_or_default()
                ));
                r.output = crate::procs::tail(&log, 10);
                ours = true;
                r
            }
        }
    };
    r.duration_s = elapsed.as_secs_f64();
    if ours {
        if let Ok(t) = serde_json::to_string_pretty(&r) {
            // A fresh file renamed into place, as the case's own would be.
            if let Err(e) =
                netrig_lab::safefs::write_file(&dir.join(RESULT_FILE), t.as_bytes(), 0o644)
            {
                r.warnings.push(format!("writing {RESULT_FILE}: {e}"));
            }
        }
    }
    r
}

/// Lines kept of a killed case's output.
const OUTPUT_TAIL: usize = 20;

/// What a killed case had printed: the tail of the log of the step it was in
/// (`NN-....log`), else of the process log written last (an executable's
/// `test.log`), without the log's timestamps; else the tail of the case
/// process's own log.
fn output_so_far(dir: &Path, step: Option<usize>) -> String {
    let logs: Vec<(std::time::SystemTime, PathBuf, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            (n.ends_with(".log") && n != "case.log")
                .then(|| Some((e.metadata().ok()?.modified().ok()?, e.path(), n)))
                .flatten()
        })
        .collect();
    let of_step = step.map(|i| format!("{i:02}-"));
    let newest = logs
        .iter()
        .filter(|(_, _, n)| of_step.as_ref().is_some_and(|p| n.starts_with(p.as_str())))
        .max()
        .or_else(|| logs.iter().max())
        .map(|(t, p, _)| (*t, p.clone()));
    if let Some((_, p)) = newest {
        let text = read_tail(&p);
        // `[  1.234567] out| text`: keep the text, as an executable's output
        // is kept when it ends on its own.
        let lines: String = text
            .lines()
            .filter_map(|l| {
                let rest = l.split_once("] ").map_or(l, |(_, r)| r);
                rest.strip_prefix("out| ")
                    .or_else(|| rest.strip_prefix("err| "))
                    .map(|t| format!("{t}\n"))
            })
            .collect();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let tail = crate::procs::tail(&lines, OUTPUT_TAIL);
        if !tail.is_empty() {
            return format!("({} so far)\n{tail}", name.unwrap_or_default());
        }
    }
    crate::procs::tail(&read_tail(&dir.join("case.log")), OUTPUT_TAIL)
}

/// The last 64 KiB of a log the case wrote (no link followed), lossily as
/// text: a test may print any bytes.
fn read_tail(p: &Path) -> String {
    use std::io::{Seek, SeekFrom};
    const MAX: u64 = 64 << 10;
    let Ok(mut f) = netrig_lab::safefs::open_file(p, false, false, 0) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut b = Vec::new();
    if f.seek(SeekFrom::Start(len.saturating_sub(MAX))).is_ok() {
        let _ = f.take(MAX).read_to_end(&mut b);
    }
    let s = String::from_utf8_lossy(&b);
    // A cut first line is no line.
    match (len > MAX, s.find('\n')) {
        (true, Some(i)) => s[i + 1..].to_string(),
        _ => s.into_owned(),
    }
}

fn timeout_result(def: &CaseDef, src: &str, prog: &Progress, elapsed: Duration) -> CaseResult {
    let beat_age = prog.last_beat.map(|t| t.elapsed());
    let stuck_after = HEARTBEAT_EVERY * 5;
    let diagnosis = match beat_age {
        None => "no heartbeat ever: stuck before the case started".to_string(),
        Some(a) if a > stuck_after => format!(
            "no heartbeat for {:.1}s: stuck (a process blocked in the kernel?)",
            a.as_secs_f64()
        ),
        Some(_) => "heartbeats until the end: alive but slow".to_string(),
    };
    let at = prog
        .steps
        .last()
        .map(|s| format!(" in step {s}"))
        .unwrap_or_else(|| " during setup".into());
    let mut r = CaseResult::new(
        &def.name,
        src,
        State::Timeout,
        format!(
            "timed out after {:.1}s{at}; {diagnosis}; killed with every process it started",
            elapsed.as_secs_f64()
        ),
    );
    let n = prog.steps.len();
    r.subtests = prog
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (idx, name) = s.split_once(' ').unwrap_or(("0", s));
            SubResult {
                index: idx.parse().unwrap_or(i + 1),
                name: name.to_string(),
                state: if i + 1 == n {
                    State::Timeout
                } else {
                    State::Pass
                },
                message: String::new(),
                duration_s: 0.0,
                started_s: None,
                verdicts: Vec::new(),
                failed_checks: Vec::new(),
                failed_at: Vec::new(),
            }
        })
        .collect();
    r
}

/// `--pause-on-fail`: show how to enter the failed lab and wait for Enter.
fn hold_paused(
    case: &str,
    lab: &str,
    nodes: &[String],
    daemons: &[(i32, Option<String>, String)],
    dir: &Path,
    lock: &Mutex<()>,
) {
    let _g = lock.lock();
    eprintln!(
        "\n*** {case} failed; its lab is kept up as `{lab}` (results: {})",
        dir.display()
    );
    for n in nodes {
        eprintln!("    netrig exec {lab} {n} -- ip -br addr");
    }
    if let Some(n) = nodes.first() {
        eprintln!("    netrig shell {lab} {n}");
    }
    // Host PIDs: gdb and strace attach from here as they are.
    for (pid, node, name) in daemons {
        let at = node
            .as_deref()
            .map(|n| format!(" in {n}"))
            .unwrap_or_default();
        eprintln!("    daemon {name}{at}: gdb -p {pid}   |   strace -f -p {pid}");
    }
    eprintln!("*** press Enter to tear it down and go on");
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_folder_names() {
        let t = default_tag();
        assert_eq!(t.len(), 15, "{t}");
        assert_eq!(&t[8..9], "-");
        assert!(t.starts_with("20"), "{t}");
        assert_eq!(dir_name("a/b[x=1]"), "a_b[x=1]");
        assert_eq!(dir_name(".hidden"), "_.hidden");
    }
}
