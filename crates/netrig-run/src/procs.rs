//! Processes a case starts: output captured to a timestamped per-process log
//! and kept in memory for expectations; each in its own process group so that
//! a finished `run` takes its background children with it.

use crate::result::ProcRecord;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Proc {
    pub rec: ProcRecord,
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    t0: Instant,
}

/// A shell command in the case's own namespace (no lab): own process group,
/// killed if the case dies.
pub fn host_command(program: &str) -> Command {
    let mut c = Command::new(program);
    c.process_group(0);
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    c
}

fn reader(
    mut src: impl Read + Send + 'static,
    buf: Arc<Mutex<Vec<u8>>>,
    log: Arc<Mutex<std::fs::File>>,
    t0: Instant,
    tag: &'static str,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        let mut partial: Vec<u8> = Vec::new();
        let emit = |line: &[u8], log: &Arc<Mutex<std::fs::File>>| {
            if let Ok(mut f) = log.lock() {
                let _ = write!(f, "[{:>10.6}] {tag}| ", t0.elapsed().as_secs_f64());
                let _ = f.write_all(line);
                let _ = f.write_all(b"\n");
            }
        };
        loop {
            let n = match src.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Ok(mut b) = buf.lock() {
                // Bound memory for chatty daemons; the log keeps everything.
                if b.len() < 16 << 20 {
                    b.extend_from_slice(&chunk[..n]);
                }
            }
            partial.extend_from_slice(&chunk[..n]);
            while let Some(i) = partial.iter().position(|&c| c == b'\n') {
                emit(&partial[..i], &log);
                partial.drain(..=i);
            }
        }
        if !partial.is_empty() {
            emit(&partial, &log);
        }
    })
}

impl Proc {
    /// Spawn `cmd` (already set up to enter its node) with captured output.
    pub fn spawn(
        mut cmd: Command,
        spawn: impl FnOnce(&mut Command) -> std::io::Result<Child>,
        name: &str,
        node: Option<&str>,
        shown: &str,
        dir: &Path,
        t0: Instant,
    ) -> std::io::Result<Proc> {
        let log_name = format!("{name}.log");
        let log = Arc::new(Mutex::new(std::fs::File::create(dir.join(&log_name))?));
        if let Ok(mut f) = log.lock() {
            let _ = writeln!(
                f,
                "[{:>10.6}] ---| {}{shown}",
                t0.elapsed().as_secs_f64(),
                node.map(|n| format!("{n}: ")).unwrap_or_default()
            );
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut cmd)?;
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(o) = child.stdout.take() {
            readers.push(reader(o, out.clone(), log.clone(), t0, "out"));
        }
        if let Some(e) = child.stderr.take() {
            readers.push(reader(e, err.clone(), log.clone(), t0, "err"));
        }
        Ok(Proc {
            rec: ProcRecord {
                name: name.to_string(),
                node: node.map(str::to_string),
                cmd: shown.to_string(),
                log: log_name,
                exit: None,
                signal: None,
                killed_at_end: false,
                started_s: Some(t0.elapsed().as_secs_f64()),
                ended_s: None,
            },
            child,
            out,
            err,
            readers,
            status: None,
            t0,
        })
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Wait for exit, at most `limit`; `None` if still running then.
    pub fn wait_timeout(&mut self, limit: Option<Duration>) -> Option<ExitStatus> {
        let Some(limit) = limit else {
            self.status = self.child.wait().ok();
            return self.status;
        };
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_micros(200);
        loop {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// End the whole process group and collect the status.
    pub fn kill(&mut self) {
        self.killpg();
        self.status = self.child.wait().ok();
    }

    fn killpg(&self) {
        self.signal_group(libc::SIGKILL);
    }

    /// Send `signal` to the process group this Proc leads.
    pub fn signal_group(&self, signal: i32) {
        // SAFETY: signalling the process group this Proc leads.
        unsafe { libc::kill(-(self.child.id() as i32), signal) };
    }

    /// Record the exit status; stop stragglers of the group (so pipes close)
    /// and collect the output, waiting a bounded time for the readers.
    pub fn finish(&mut self) {
        if self.try_wait().is_none() {
            self.rec.killed_at_end = true;
            self.kill();
        } else {
            self.killpg();
        }
        self.rec.ended_s = Some(self.t0.elapsed().as_secs_f64());
        if let Some(s) = self.status {
            self.rec.exit = s.code();
            self.rec.signal = s.signal();
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        for r in std::mem::take(&mut self.readers) {
            // Readers end within microseconds of the exit; back off from
            // short naps so a quick `run` step stays quick.
            let mut nap = Duration::from_micros(20);
            while !r.is_finished() && Instant::now() < deadline {
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(5));
            }
            if r.is_finished() {
                let _ = r.join();
            }
        }
    }

    pub fn stdout(&self) -> String {
        self.out
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        self.err
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// The last `n` lines of `s`, for failure messages.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
