//! `wait_log`: wait until a daemon's output contains a string.

use super::{References, StepCx, StepDef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitLog {
    pub daemon: String,
    pub pattern: String,
    /// Only output printed after the step starts counts: wait for the next
    /// occurrence (a session coming up again after a failover, say).
    #[serde(default)]
    pub new: bool,
}

impl StepDef for WaitLog {
    const KEYWORD: &'static str = "wait_log";
    const VALUE: &'static str = "`{ daemon, pattern, new }` (`new = true`: only output printed after the step starts)";
    const SUMMARY: &'static str = "wait until a daemon's output contains `pattern`";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(WaitLog, String)> {
        let w: WaitLog = cx.raw(value)?;
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
