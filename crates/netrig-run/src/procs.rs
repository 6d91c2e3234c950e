//! Processes a case starts: output captured to a timestamped per-process log
//! and kept in memory for expectations; each in its own process group so that
//! a finished `run` takes its background children with it.

use crate::result::ProcRecord;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Proc {
    pub rec: ProcRecord,
    child: Child,
    out: Arc<Mutex<Capture>>,
    err: Arc<Mutex<Capture>>,
    log: Arc<Mutex<Log>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    t0: Instant,
    /// What a core it dumps is found by ([`crate::coredump`]).
    cwd: PathBuf,
    dir: PathBuf,
    started: std::time::SystemTime,
    core_limit: Option<u64>,
    /// Whether its core was looked for yet (it is moved once).
    core_done: bool,
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

/// Largest log file of one process: what comes after is counted, not
/// logged, and the cut is said in the log and in the result
/// ([`ProcRecord::output_cut`]).
pub const LOG_MAX: u64 = 16 << 20;
/// Longest line logged: the rest of a longer line is dropped (and the cut
/// said on the line), so a line without end costs bounded memory and time.
pub const LINE_MAX: usize = 64 << 10;
/// Output kept in memory per stream for expectations and `wait_log`: the
/// first and the last this many bytes.
pub const CAPTURE_HEAD: usize = 8 << 20;
pub const CAPTURE_TAIL: usize = 8 << 20;

/// What a stream printed, in bounded memory: its first [`CAPTURE_HEAD`]
/// bytes and its last [`CAPTURE_TAIL`], and how much in all.
#[derive(Default)]
struct Capture {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    total: u64,
    watches: Vec<Watch>,
}

/// What `wait_log` looks for: a substring anywhere, or a regular expression
/// one line matches.
#[derive(Clone, Debug)]
pub enum Pattern {
    Substring(String),
    Line(regex::bytes::Regex),
}

impl Pattern {
    fn same(&self, other: &Pattern) -> bool {
        match (self, other) {
            (Pattern::Substring(a), Pattern::Substring(b)) => a == b,
            (Pattern::Line(a), Pattern::Line(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }

    /// In a whole text (the regex is multi-line: `^`/`$` at line ends).
    fn found_in(&self, text: &str) -> bool {
        match self {
            Pattern::Substring(p) => text.contains(p.as_str()),
            Pattern::Line(re) => re.is_match(text.as_bytes()),
        }
    }

    /// Bytes of the stream a match may need from before a read: the
    /// pattern's length less one, or for a line regex the unfinished line.
    fn carry_len(&self) -> usize {
        match self {
            Pattern::Substring(p) => p.len().saturating_sub(1),
            Pattern::Line(_) => LINE_MAX,
        }
    }
}

/// A pattern looked for in a stream as it arrives (`wait_log`): every byte
/// is searched once (a line regex: every line, once finished), including
/// those the capture then leaves out, so a long wait costs time linear in
/// the output.
struct Watch {
    pat: Pattern,
    /// What a match may span from before the next read: the stream's last
    /// bytes (a substring), or its unfinished line (a line regex).
    carry: Vec<u8>,
    found: bool,
    /// Looks at all the output (`false`: only what came after it was set).
    whole: bool,
}

impl Watch {
    fn feed(&mut self, b: &[u8]) {
        if self.found {
            return;
        }
        match &self.pat {
            Pattern::Substring(p) => {
                let pat = p.as_bytes();
                let keep = pat.len().saturating_sub(1);
                let mut seam = std::mem::take(&mut self.carry);
                seam.extend_from_slice(&b[..b.len().min(keep)]);
                if memchr::memmem::find(&seam, pat).is_some()
                    || memchr::memmem::find(b, pat).is_some()
                {
                    self.found = true;
                    return;
                }
                if b.len() >= keep {
                    seam.clear();
                    seam.extend_from_slice(&b[b.len() - keep..]);
                } else {
                    let drop = seam.len().saturating_sub(keep);
                    seam.drain(..drop);
                }
                self.carry = seam;
            }
            Pattern::Line(re) => {
                // The unfinished line joins this read's first; each line is
                // tried as it stands (a daemon's last line may never end).
                let mut text = std::mem::take(&mut self.carry);
                text.extend_from_slice(b);
                if text.split(|&c| c == b'\n').any(|line| re.is_match(line)) {
                    self.found = true;
                    return;
                }
                let start = memchr::memrchr(b'\n', &text).map_or(0, |i| i + 1);
                let start = start.max(text.len().saturating_sub(LINE_MAX));
                text.drain(..start);
                self.carry = text;
            }
        }
    }
}

impl Capture {
    /// Has the stream printed `pat`? The first question about a pattern
    /// searches what is kept; from then on it is searched as output comes.
    fn contains(&mut self, pat: &Pattern) -> bool {
        if let Some(w) = self.watches.iter().find(|w| w.whole && w.pat.same(pat)) {
            return w.found;
        }
        let found = pat.found_in(&self.text());
        let keep = pat.carry_len();
        let mut carry: Vec<u8> = self.tail.iter().rev().take(keep).rev().copied().collect();
        if carry.len() < keep {
            let h = &self.head[self.head.len().saturating_sub(keep - carry.len())..];
            carry.splice(0..0, h.iter().copied());
        }
        if let Pattern::Line(_) = pat {
            // Only the unfinished line is carried.
            let start = memchr::memrchr(b'\n', &carry).map_or(0, |i| i + 1);
            carry.drain(..start);
        }
        self.watches.push(Watch {
            pat: pat.clone(),
            carry,
            found,
            whole: true,
        });
        found
    }

    /// Start looking for `pat` in what the stream prints from now on.
    fn watch_new(&mut self, pat: &Pattern) -> usize {
        self.watches.push(Watch {
            pat: pat.clone(),
            carry: Vec::new(),
            found: false,
            whole: false,
        });
        self.watches.len() - 1
    }

    fn push(&mut self, mut b: &[u8]) {
        for w in &mut self.watches {
            w.feed(b);
        }
        self.total += b.len() as u64;
        let room = CAPTURE_HEAD - self.head.len();
        let n = room.min(b.len());
        self.head.extend_from_slice(&b[..n]);
        b = &b[n..];
        if b.len() >= CAPTURE_TAIL {
            b = &b[b.len() - CAPTURE_TAIL..];
            self.tail.clear();
        }
        let over = (self.tail.len() + b.len()).saturating_sub(CAPTURE_TAIL);
        self.tail.drain(..over);
        self.tail.extend(b);
    }

    fn text(&self) -> String {
        let dropped = self.total - self.head.len() as u64 - self.tail.len() as u64;
        let mut b = self.head.clone();
        if dropped > 0 {
            b.extend_from_slice(
                format!(
                    "\n[netrig: output cut: {dropped} of {} bytes left out here]\n",
                    self.total
                )
                .as_bytes(),
            );
        }
        let (x, y) = self.tail.as_slices();
        b.extend_from_slice(x);
        b.extend_from_slice(y);
        String::from_utf8_lossy(&b).into_owned()
    }
}

/// A process's log, shared by its stdout and stderr readers: whole lines,
/// each with a timestamp, up to [`LOG_MAX`] bytes.
struct Log {
    file: std::fs::File,
    t0: Instant,
    written: u64,
    /// Output bytes read from the process, both streams.
    seen: u64,
    cut: bool,
}

impl Log {
    fn line(&mut self, tag: &str, line: &[u8], note: Option<&str>) {
        if self.cut {
            return;
        }
        let mut rec = format!("[{:>10.6}] {tag}| ", self.t0.elapsed().as_secs_f64()).into_bytes();
        rec.extend_from_slice(line);
        if let Some(n) = note {
            rec.extend_from_slice(n.as_bytes());
        }
        rec.push(b'\n');
        if self.written + rec.len() as u64 > LOG_MAX {
            self.cut = true;
            let _ = writeln!(
                self.file,
                "[{:>10.6}] ---| [netrig: output cut after {} bytes: this log is capped at {LOG_MAX} bytes; the rest is counted, not logged]",
                self.t0.elapsed().as_secs_f64(),
                self.seen
            );
            return;
        }
        self.written += rec.len() as u64;
        let _ = self.file.write_all(&rec);
    }
}

/// Read `src` to its end: every byte into `buf` (bounded, see [`Capture`]),
/// every line into the log (cut at [`LINE_MAX`]). Linear in the output and
/// bounded in memory however long its lines are.
fn reader(
    mut src: impl Read + Send + 'static,
    buf: Arc<Mutex<Capture>>,
    log: Arc<Mutex<Log>>,
    tag: &'static str,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = vec![0u8; 64 << 10];
        // The line being read, up to LINE_MAX; `cut` once it went past.
        let mut partial: Vec<u8> = Vec::new();
        let mut cut = false;
        let emit = |line: &[u8], note: Option<&str>| {
            if let Ok(mut l) = log.lock() {
                l.line(tag, line, note);
            }
        };
        loop {
            let n = match src.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let data = &chunk[..n];
            if let Ok(mut b) = buf.lock() {
                b.push(data);
            }
            if let Ok(mut l) = log.lock() {
                l.seen += n as u64;
            }
            // Each byte is looked at once: the search starts in the new data.
            let mut rest = data;
            loop {
                let nl = memchr::memchr(b'\n', rest);
                let seg = &rest[..nl.unwrap_or(rest.len())];
                if !cut {
                    let room = LINE_MAX - partial.len();
                    if seg.len() <= room {
                        partial.extend_from_slice(seg);
                    } else {
                        partial.extend_from_slice(&seg[..room]);
                        emit(
                            &partial,
                            Some(&format!(" [netrig: line cut after {LINE_MAX} bytes]")),
                        );
                        partial.clear();
                        cut = true;
                    }
                }
                let Some(i) = nl else { break };
                // The line ended.
                if !cut {
                    emit(&partial, None);
                }
                partial.clear();
                cut = false;
                rest = &rest[i + 1..];
            }
        }
        if !partial.is_empty() && !cut {
            emit(&partial, None);
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
        let mut file = std::fs::File::create(dir.join(&log_name))?;
        let _ = writeln!(
            file,
            "[{:>10.6}] ---| {}{shown}",
            t0.elapsed().as_secs_f64(),
            node.map(|n| format!("{n}: ")).unwrap_or_default()
        );
        let log = Arc::new(Mutex::new(Log {
            file,
            t0,
            written: 0,
            seen: 0,
            cut: false,
        }));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let cwd = match cmd.get_current_dir() {
            Some(d) => d.to_path_buf(),
            None => std::env::current_dir()?,
        };
        let started = std::time::SystemTime::now();
        let mut child = spawn(&mut cmd)?;
        // Read after exec (spawn returns then): the limit it runs with.
        let core_limit = crate::coredump::core_limit(child.id());
        let out = Arc::new(Mutex::new(Capture::default()));
        let err = Arc::new(Mutex::new(Capture::default()));
        let mut readers = Vec::new();
        if let Some(o) = child.stdout.take() {
            readers.push(reader(o, out.clone(), log.clone(), "out"));
        }
        if let Some(e) = child.stderr.take() {
            readers.push(reader(e, err.clone(), log.clone(), "err"));
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
                output_cut: None,
                core: None,
            },
            child,
            out,
            err,
            log,
            readers,
            status: None,
            t0,
            cwd,
            dir: dir.to_path_buf(),
            started,
            core_limit,
            core_done: false,
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

    /// Its PID (in the case's PID namespace), unless it is known to have
    /// ended.
    pub fn id(&self) -> Option<u32> {
        self.status.is_none().then(|| self.child.id())
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
        self.collect_core();
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
        if let Ok(mut l) = self.log.lock() {
            if l.cut {
                // The whole count, now that the readers are done.
                let seen = l.seen;
                self.rec.output_cut = Some(seen);
                let _ = writeln!(
                    l.file,
                    "[{:>10.6}] ---| [netrig: {seen} bytes of output in all]",
                    self.t0.elapsed().as_secs_f64(),
                );
            }
        }
    }

    /// Once it has died by a core-dumping signal: find its core (moved into
    /// the case folder) and record it in [`ProcRecord::core`].
    pub fn collect_core(&mut self) -> Option<&crate::result::CoreInfo> {
        if !self.core_done {
            let st = self.try_wait()?;
            self.core_done = true;
            if let Some(sig) = st.signal() {
                let name = self.rec.name.clone();
                self.rec.core = crate::coredump::collect(&crate::coredump::Death {
                    pid: self.child.id(),
                    sig,
                    dumped: st.core_dumped(),
                    limit: self.core_limit,
                    cwd: &self.cwd,
                    started: self.started,
                    results: &self.dir,
                    name: &name,
                });
            }
        }
        self.rec.core.as_ref()
    }

    /// What the process printed on stdout: all of it, or (past
    /// [`CAPTURE_HEAD`] + [`CAPTURE_TAIL`] bytes) its start and end with the
    /// cut said between them.
    pub fn stdout(&self) -> String {
        self.out.lock().map(|b| b.text()).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().map(|b| b.text()).unwrap_or_default()
    }

    /// Has the process printed `pat` on stdout or stderr, however much it
    /// printed? Cheap to ask again and again (see [`Watch`]).
    pub fn output_contains(&self, pat: &Pattern) -> bool {
        [&self.out, &self.err]
            .iter()
            .any(|c| c.lock().is_ok_and(|mut c| c.contains(pat)))
    }

    /// Start looking for `pat` in what the process prints from now on, on
    /// stdout and stderr; ask with [`Proc::new_output_contains`].
    pub fn watch_new_output(&self, pat: &Pattern) -> [Option<usize>; 2] {
        [&self.out, &self.err].map(|c| c.lock().ok().map(|mut c| c.watch_new(pat)))
    }

    /// Has the process printed what [`Proc::watch_new_output`] looks for
    /// since it was asked?
    pub fn new_output_contains(&self, watch: [Option<usize>; 2]) -> bool {
        [&self.out, &self.err].iter().zip(watch).any(|(c, i)| {
            i.is_some_and(|i| {
                c.lock()
                    .is_ok_and(|c| c.watches.get(i).is_some_and(|w| w.found))
            })
        })
    }
}

/// Longest line [`tail`] quotes.
const TAIL_LINE_MAX: usize = 1000;

/// The last `n` lines of `s`, for failure messages; a line longer than
/// [`TAIL_LINE_MAX`] bytes is cut, with the cut said.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().rev().take(n).collect();
    let out: Vec<String> = lines
        .into_iter()
        .rev()
        .map(|l| {
            if l.len() <= TAIL_LINE_MAX {
                return l.to_string();
            }
            let mut end = TAIL_LINE_MAX;
            while !l.is_char_boundary(end) {
                end -= 1;
            }
            format!(
                "{} [netrig: line cut after {end} of {} bytes]",
                &l[..end],
                l.len()
            )
        })
        .collect();
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(p: &str) -> Pattern {
        Pattern::Substring(p.to_string())
    }

    fn line(re: &str) -> Pattern {
        Pattern::Line(netrig_spec::steps::wait_log::line_regex(re).expect("regex"))
    }

    /// A line regex matches one line, wherever reads cut it, and never
    /// across lines; asked after the fact it searches what is kept, and a
    /// watch set later sees only what comes after.
    #[test]
    fn line_regexes_match_one_line() {
        let mut c = Capture::default();
        let up = line(r"^%ADJCHANGE: neighbor \S+ Up$");
        assert!(!c.contains(&up));
        c.push(b"%ADJCHANGE: neighbor 198.51.100.2 Do");
        c.push(b"wn\n%ADJCHANGE: neigh");
        assert!(!c.contains(&up));
        // Parts on two lines do not make a match.
        assert!(!c.contains(&line("Down.*neigh")));
        c.push(b"bor 203.0.113.2 Up\nmore\n");
        assert!(c.contains(&up));
        assert!(c.contains(&line(r"^more$")));
        let new = c.watch_new(&line("Up$"));
        assert!(!c.watches[new].found, "output from before the watch counts");
        c.push(b"peer Up");
        assert!(c.watches[new].found, "an unfinished last line is tried too");
    }

    /// A pattern split across reads, asked for before and after it arrives,
    /// is found; so is one that arrived only after the capture stopped
    /// keeping the middle.
    #[test]
    fn watches_see_every_byte_once() {
        let mut c = Capture::default();
        assert!(!c.contains(&sub("ready")));
        c.push(b"xxre");
        assert!(!c.contains(&sub("ready")));
        c.push(b"a");
        c.push(b"dyxx");
        assert!(c.contains(&sub("ready")));
        // Asked first after the fact: searched in what is kept.
        assert!(c.contains(&sub("xrea")));
        assert!(!c.contains(&sub("never")));
        // Past the capture: the middle is left out, the watch still sees it.
        let big = vec![b'y'; CAPTURE_HEAD];
        c.push(&big);
        c.push(b"mid-marker");
        c.push(&vec![b'z'; CAPTURE_TAIL]);
        assert!(!c.contains(&sub("never")));
        assert!(!c.text().contains("mid-marker"), "the middle is left out");
        let mut w = Capture::default();
        assert!(!w.contains(&sub("mid-marker")));
        w.push(&big);
        w.push(&big);
        w.push(b"mid-mar");
        w.push(b"ker");
        w.push(&vec![b'z'; 2 * CAPTURE_TAIL]);
        assert!(w.contains(&sub("mid-marker")));
    }

    #[test]
    fn the_capture_keeps_head_and_tail_and_says_the_cut() {
        let mut c = Capture::default();
        c.push(b"start|");
        for _ in 0..3 {
            c.push(&vec![b'm'; CAPTURE_HEAD]);
        }
        c.push(b"|end");
        let t = c.text();
        assert!(t.starts_with("start|"));
        assert!(t.ends_with("mm|end"));
        assert!(t.len() < CAPTURE_HEAD + CAPTURE_TAIL + 200, "{}", t.len());
        let dropped = c.total - (CAPTURE_HEAD + CAPTURE_TAIL) as u64;
        assert!(
            t.contains(&format!(
                "[netrig: output cut: {dropped} of {} bytes left out here]",
                c.total
            )),
            "the cut is said"
        );
        // Small output is kept whole, with no note.
        let mut s = Capture::default();
        s.push(b"a\nb");
        assert_eq!(s.text(), "a\nb");
    }

    #[test]
    fn tail_cuts_long_lines() {
        let long = "é".repeat(TAIL_LINE_MAX);
        let t = tail(&format!("one\n{long}\nthree"), 2);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(&format!(
            "[netrig: line cut after {TAIL_LINE_MAX} of {} bytes]",
            long.len()
        )));
        assert!(lines[0].len() < TAIL_LINE_MAX + 100);
        assert_eq!(lines[1], "three");
        assert_eq!(tail("a\nb\nc", 5), "a\nb\nc");
    }
}
