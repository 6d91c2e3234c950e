//! What a case reports and what a run collects. These types are the JSON
//! format of `result.json` and of run reports, so `netrig report merge` can
//! read back what any runner wrote. Each document names its format and
//! version in `schema` ([`RESULT_SCHEMA`], [`REPORT_SCHEMA`]); the JSON
//! Schemas and their rules are in docs/json-report.md.

use serde::{Deserialize, Serialize};

/// The format of a `result.json` (and of each case in a report). Adding a
/// field keeps the number; renaming or removing one, or changing what one
/// means, takes the next (docs/json-report.md).
pub const RESULT_SCHEMA: &str = "netrig.result/1";
/// The format of `report.json` and `--format json`.
pub const REPORT_SCHEMA: &str = "netrig.report/1";

fn result_schema() -> String {
    RESULT_SCHEMA.into()
}

fn report_schema() -> String {
    REPORT_SCHEMA.into()
}

/// A document written by a netrig whose format this one does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is in format `{found}`; this netrig reads `{expected}` (and files without a `schema`, from before it existed)")]
pub struct SchemaError {
    pub what: String,
    pub found: String,
    pub expected: &'static str,
}

/// Result state of a case or a subtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pass,
    Fail,
    /// Setup or harness error: the case could not be judged.
    Broken,
    /// Unmet requirement (or not run), with the reason.
    Skip,
    /// Failed as the scenario said it would.
    Xfail,
    /// Killed by the runner at its timeout.
    Timeout,
}

impl State {
    /// The console tag, in the kselftest style.
    pub fn tag(self) -> &'static str {
        match self {
            State::Pass => "[ OK ]",
            State::Fail => "[FAIL]",
            State::Broken => "[BROKEN]",
            State::Skip => "[SKIP]",
            State::Xfail => "[XFAIL]",
            State::Timeout => "[TIMEOUT]",
        }
    }
    /// Does this state leave the run green?
    pub fn ok(self) -> bool {
        matches!(self, State::Pass | State::Skip | State::Xfail)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Pass => "pass",
            State::Fail => "fail",
            State::Broken => "broken",
            State::Skip => "skip",
            State::Xfail => "xfail",
            State::Timeout => "timeout",
        })
    }
}

/// A step of a scenario, or a subtest an executable printed as KTAP/TAP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubResult {
    pub index: usize,
    pub name: String,
    pub state: State,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub duration_s: f64,
    /// When it started, in seconds since the case process started (steps
    /// only), for the report's timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_s: Option<f64>,
    /// Verdicts (netrig-judge) behind this result, as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<serde_json::Value>,
    /// Which checks failed (`split`, `streams`, `exit`, ...), as
    /// `expect.fail` names them: an expected failure must be one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<String>,
    /// Where the scenario writes what failed: each failed check's `expect`
    /// key, or the step itself for a check it makes by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_at: Vec<FailedAt>,
}

/// A place in a scenario file that a failure points at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailedAt {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// `expect.split`, or `step 3` for the step itself.
    pub what: String,
}

impl std::fmt::Display for FailedAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{} {}", self.file, self.line, self.col, self.what)
    }
}

/// A process a case started (run, daemon, matrix client/server, executable).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcRecord {
    pub name: String,
    #[serde(default)]
    pub node: Option<String>,
    pub cmd: String,
    /// Log file, relative to the case folder.
    pub log: String,
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    /// Still running when the case ended (daemons), then killed.
    #[serde(default)]
    pub killed_at_end: bool,
    /// Started and ended, in seconds since the case process started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_s: Option<f64>,
    /// Set when the process printed more than its log holds
    /// ([`crate::procs::LOG_MAX`]): how many bytes it printed in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cut: Option<u64>,
    /// Set when it died by a signal that dumps core (SIGSEGV, SIGABRT, ...):
    /// whether a core was written, where it is, how to open it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<CoreInfo>,
}

/// The core of a process that died by a core-dumping signal
/// ([`crate::coredump`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CoreInfo {
    /// The kernel says it wrote a core (WCOREDUMP).
    pub dumped: bool,
    /// Where the core is now: in the case folder when it was written in the
    /// process's folder, else where core_pattern put it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The executable that dumped it, read from the core's notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// The command that opens it (`gdb EXE CORE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<String>,
    /// Why there is no file, or where the core went instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Everything known about one case run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseResult {
    /// [`RESULT_SCHEMA`]; files from before it existed read as that.
    #[serde(default = "result_schema")]
    pub schema: String,
    pub name: String,
    /// Scenario file or executable.
    pub source: String,
    pub state: State,
    /// Why (skip reason, failure summary, timeout diagnosis); empty on pass.
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub duration_s: f64,
    #[serde(default)]
    pub subtests: Vec<SubResult>,
    #[serde(default)]
    pub processes: Vec<ProcRecord>,
    /// Cleanup problems and other remarks that do not change the state.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// 1-based attempt (retries) and repetition (`--repeat`).
    #[serde(default = "one")]
    pub attempt: u32,
    #[serde(default = "one")]
    pub repeat: u32,
    /// Failed at first, passed on a retry.
    #[serde(default)]
    pub flaky: bool,
    /// The results folder of this case, if any.
    #[serde(default)]
    pub dir: Option<String>,
    /// Lines of interest from the logs, for reports (bounded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// Earlier attempts that did not pass (`--retries`), oldest first, so
    /// reports can say what a flaky or still-failing case did before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retried: Vec<Attempt>,
    /// An executable's own KTAP/TAP at every depth (`subtests` holds its
    /// top level), for the KTAP report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<TapBlock>,
    /// The lab's impaired links, each with its engine and the seed its
    /// decisions came from (drawn when the topology gives none), so that a
    /// failure can be replayed with `seed = N`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impaired: Vec<String>,
}

/// What an executable printed as KTAP/TAP, whole: the plan and the results
/// of one level, each with its own nested level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TapBlock {
    /// `1..N` as printed: a crash shows as fewer results than this.
    #[serde(default)]
    pub plan: Option<usize>,
    #[serde(default)]
    pub tests: Vec<TapTest>,
    /// The reason of a `Bail out!` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bail_out: Option<String>,
}

impl TapBlock {
    /// Did this block, at any depth, end before its plan or bail out?
    pub fn cut_short(&self) -> bool {
        self.bail_out.is_some()
            || self.plan.is_some_and(|p| p > self.tests.len())
            || self
                .tests
                .iter()
                .any(|t| t.subtests.as_ref().is_some_and(TapBlock::cut_short))
    }
}

/// One result line of a [`TapBlock`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TapTest {
    pub index: usize,
    /// Empty when the line had none (kselftest's `ok 3 # XFAIL why`).
    #[serde(default)]
    pub name: String,
    pub state: State,
    /// The directive's reason (`# SKIP no ipv6` gives `no ipv6`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtests: Option<TapBlock>,
}

impl TapTest {
    pub fn to_sub(&self) -> SubResult {
        SubResult {
            index: self.index,
            name: self.name.clone(),
            state: self.state,
            message: self.message.clone(),
            duration_s: 0.0,
            started_s: None,
            verdicts: Vec::new(),
            failed_checks: Vec::new(),
            failed_at: Vec::new(),
        }
    }
}

/// One earlier attempt of a retried case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub attempt: u32,
    pub state: State,
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    #[serde(default)]
    pub dir: Option<String>,
}

fn one() -> u32 {
    1
}

impl CaseResult {
    pub fn new(name: &str, source: &str, state: State, reason: impl Into<String>) -> Self {
        CaseResult {
            schema: result_schema(),
            name: name.to_string(),
            source: source.to_string(),
            state,
            reason: reason.into(),
            duration_s: 0.0,
            subtests: Vec::new(),
            processes: Vec::new(),
            warnings: Vec::new(),
            attempt: 1,
            repeat: 1,
            flaky: false,
            dir: None,
            output: String::new(),
            retried: Vec::new(),
            tap: None,
            impaired: Vec::new(),
        }
    }
}

/// A whole run: what `--format json` prints and `report.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    /// [`REPORT_SCHEMA`]; files from before it existed read as that.
    #[serde(default = "report_schema")]
    pub schema: String,
    pub tag: String,
    /// When the run started, UTC, ISO 8601 (`2026-12-02T04:48:35Z`); empty
    /// in reports written before this field existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub started: String,
    #[serde(default)]
    pub duration_s: f64,
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub kernel: String,
    /// Cases run at once (`-j`); 0 where unknown (older reports, merges).
    #[serde(default)]
    pub jobs: usize,
    /// The netrig version that ran it; empty where unknown.
    #[serde(default)]
    pub version: String,
    pub cases: Vec<CaseResult>,
}

impl Default for RunReport {
    fn default() -> Self {
        RunReport {
            schema: report_schema(),
            tag: String::new(),
            started: String::new(),
            duration_s: 0.0,
            mode: String::new(),
            kernel: String::new(),
            jobs: 0,
            version: String::new(),
            cases: Vec::new(),
        }
    }
}

/// Counts per state, for summaries.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub broken: usize,
    pub skipped: usize,
    pub xfailed: usize,
    pub timedout: usize,
    pub flaky: usize,
}

/// `secs` after the Unix epoch as UTC (year, month, day, hour, minute,
/// second), without a date crate (Howard Hinnant's civil-from-days).
pub fn utc_civil(secs: u64) -> (i64, i64, i64, u64, u64, u64) {
    let (days, rem) = (secs / 86400, secs % 86400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `secs` after the Unix epoch as an ISO 8601 UTC date-time,
/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso8601_utc(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = utc_civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn now_iso8601_utc() -> String {
    iso8601_utc(now_secs())
}

/// Report order: by name, then repeat, then source.
pub fn report_order(a: &CaseResult, b: &CaseResult) -> std::cmp::Ordering {
    (a.name.as_str(), a.repeat, a.source.as_str()).cmp(&(
        b.name.as_str(),
        b.repeat,
        b.source.as_str(),
    ))
}

impl RunReport {
    /// Refuse a report (or a case in it) of a format this netrig does not
    /// read, rather than misread it.
    pub fn check_schema(&self) -> Result<(), SchemaError> {
        if self.schema != REPORT_SCHEMA {
            return Err(SchemaError {
                what: "the report".into(),
                found: self.schema.clone(),
                expected: REPORT_SCHEMA,
            });
        }
        match self.cases.iter().find(|c| c.schema != RESULT_SCHEMA) {
            Some(c) => Err(SchemaError {
                what: format!("case `{}`", c.name),
                found: c.schema.clone(),
                expected: RESULT_SCHEMA,
            }),
            None => Ok(()),
        }
    }

    /// Cases in report order: by name, then repeat, then source, whatever
    /// order they finished in, so a case keeps its number from run to run.
    pub fn sort_cases(&mut self) {
        self.cases.sort_by(report_order);
    }

    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for c in &self.cases {
            s.total += 1;
            match c.state {
                State::Pass => s.passed += 1,
                State::Fail => s.failed += 1,
                State::Broken => s.broken += 1,
                State::Skip => s.skipped += 1,
                State::Xfail => s.xfailed += 1,
                State::Timeout => s.timedout += 1,
            }
            if c.flaky {
                s.flaky += 1;
            }
        }
        s
    }

    /// Exit code (ARCHITECTURE.md): 0 all passed or skipped, 1 some
    /// failed, 3 broken or timed out (the graver news wins).
    pub fn exit_code(&self) -> u8 {
        use crate::protocol::exit;
        let s = self.stats();
        if s.broken + s.timedout > 0 {
            exit::BROKEN
        } else if s.failed > 0 {
            exit::FAIL
        } else {
            exit::PASS
        }
    }

    /// Cases (by name) that both passed and failed across repeats: flakes.
    pub fn flakes(&self) -> Vec<(String, usize, usize)> {
        let mut m: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
        for c in &self.cases {
            let e = m.entry(&c.name).or_default();
            match c.state {
                State::Pass => e.0 += 1,
                State::Fail | State::Broken | State::Timeout => e.1 += 1,
                _ => {}
            }
        }
        let mut out: Vec<_> = m
            .into_iter()
            .filter(|(_, (p, f))| *p > 0 && *f > 0)
            .map(|(n, (p, f))| (n.to_string(), p, f))
            .collect();
        out.extend(
            self.cases
                .iter()
                .filter(|c| c.flaky)
                .map(|c| (c.name.clone(), 1, c.attempt as usize - 1)),
        );
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(states: &[State]) -> RunReport {
        RunReport {
            cases: states
                .iter()
                .enumerate()
                .map(|(i, s)| CaseResult::new(&format!("c{i}"), "f", *s, ""))
                .collect(),
            ..RunReport::default()
        }
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(
            report(&[State::Pass, State::Skip, State::Xfail]).exit_code(),
            0
        );
        assert_eq!(report(&[State::Pass, State::Fail]).exit_code(), 1);
        assert_eq!(report(&[State::Fail, State::Timeout]).exit_code(), 3);
        assert_eq!(report(&[State::Broken]).exit_code(), 3);
        assert_eq!(report(&[]).exit_code(), 0);
    }

    #[test]
    fn documents_name_their_format_and_old_ones_read_as_version_1() {
        let r = report(&[State::Pass]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["schema"], REPORT_SCHEMA);
        assert_eq!(v["cases"][0]["schema"], RESULT_SCHEMA);
        let old: RunReport = serde_json::from_str(
            r#"{"tag":"t","cases":[{"name":"a","source":"f","state":"pass"}]}"#,
        )
        .unwrap();
        assert_eq!(old.check_schema(), Ok(()));
        let mut newer = r.clone();
        newer.schema = "netrig.report/2".into();
        assert!(newer
            .check_schema()
            .unwrap_err()
            .to_string()
            .contains("netrig.report/2"));
        let mut newer = r;
        newer.cases[0].schema = "netrig.result/2".into();
        assert!(newer
            .check_schema()
            .unwrap_err()
            .to_string()
            .contains("case `c0`"));
    }

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(1_796_186_915), "2026-12-02T04:48:35Z");
    }

    #[test]
    fn flakes_are_cases_that_passed_and_failed() {
        let mut r = report(&[State::Pass, State::Fail, State::Pass]);
        for c in &mut r.cases {
            c.name = "same".into();
        }
        assert_eq!(r.flakes(), vec![("same".to_string(), 2, 1)]);
        assert!(report(&[State::Pass, State::Fail]).flakes().is_empty());
    }
}
