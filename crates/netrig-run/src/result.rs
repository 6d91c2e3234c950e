//! What a case reports and what a run collects. These types are the JSON
//! format of `result.json` and of run reports, so `netrig report merge` can
//! read back what any runner wrote.

use serde::{Deserialize, Serialize};

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
}

/// Everything known about one case run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseResult {
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
}

fn one() -> u32 {
    1
}

impl CaseResult {
    pub fn new(name: &str, source: &str, state: State, reason: impl Into<String>) -> Self {
        CaseResult {
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
        }
    }
}

/// A whole run: what `--format json` prints and `report.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RunReport {
    pub tag: String,
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

impl RunReport {
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
        let s = self.stats();
        if s.broken + s.timedout > 0 {
            3
        } else if s.failed > 0 {
            1
        } else {
            0
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
    fn flakes_are_cases_that_passed_and_failed() {
        let mut r = report(&[State::Pass, State::Fail, State::Pass]);
        for c in &mut r.cases {
            c.name = "same".into();
        }
        assert_eq!(r.flakes(), vec![("same".to_string(), 2, 1)]);
        assert!(report(&[State::Pass, State::Fail]).flakes().is_empty());
    }
}
