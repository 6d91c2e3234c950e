//! `wait_log`: wait until a daemon's output contains a string, or has a
//! line that matches a regular expression.

use super::{References, StepCx, StepDef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitLog {
    pub daemon: String,
    /// A substring, or with `regex = true` a regular expression that one
    /// line must match (`^` and `$` are that line's ends).
    pub pattern: String,
    #[serde(default)]
    pub regex: bool,
    /// Only output printed after the step starts counts: wait for the next
    /// occurrence (a session coming up again after a failover, say).
    #[serde(default)]
    pub new: bool,
}

impl StepDef for WaitLog {
    const KEYWORD: &'static str = "wait_log";
    const VALUE: &'static str = "`{ daemon, pattern, regex, new }` (`regex = true`: a line matches `pattern` as a regular expression; `new = true`: only output printed after the step starts)";
    const SUMMARY: &'static str = "wait until a daemon's output contains `pattern`";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(WaitLog, String)> {
        let w: WaitLog = cx.raw(value)?;
        if w.regex {
            if let Err(e) = line_regex(&w.pattern) {
                return cx.err_help(
                    format!("wait_log pattern is not a regular expression: {e}"),
                    "the syntax is Rust's regex crate's (docs.rs/regex), matched against one line at a time",
                );
            }
        }
        let name = format!(
            "wait_log {}: {}{}",
            w.daemon,
            w.pattern,
            if w.new { " (new)" } else { "" }
        );
        Some((w, name))
    }

    fn check_references(&self, refs: &mut References, cx: &mut StepCx<'_>) {
        if refs.daemons.contains(&self.daemon) {
            return;
        }
        cx.err_help::<()>(
            format!(
                "step {}: wait_log names daemon `{}`, which no earlier step starts",
                cx.index, self.daemon
            ),
            if refs.daemons.is_empty() {
                "start it first with a daemon step (its name = \"...\")".to_string()
            } else {
                format!("daemons started before: {}", refs.daemons.join(", "))
            },
        );
    }
}

/// The regular expression of a `wait_log` with `regex = true`, as the
/// runner matches it: per line, `^`/`$` at that line's ends, a bounded size.
pub fn line_regex(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .multi_line(true)
        .size_limit(1 << 20)
        .build()
}
