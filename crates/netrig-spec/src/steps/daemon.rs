//! `daemon`: a shell command left running until the case ends.

use super::{References, StepCx, StepDef};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Daemon {
    pub node: Option<String>,
    pub cmd: String,
    /// Name of its log and of `wait_log` references.
    pub name: String,
}

impl StepDef for Daemon {
    const KEYWORD: &'static str = "daemon";
    const VALUE: &'static str = "shell command left running; `name` names its log";
    const SUMMARY: &'static str = "start a process that runs until the case ends";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Daemon, String)> {
        let cmd: String = cx.raw(value)?;
        let node = cx.node(None, "daemon")?;
        let name = cx
            .name
            .clone()
            .unwrap_or_else(|| format!("daemon{}", cx.index));
        if name.contains('/') || name.starts_with('.') {
            return cx.err(format!(
                "daemon name `{name}` is used as a file name: no `/`, no leading `.`"
            ));
        }
        let label = format!("daemon {name}: {cmd}");
        Some((Daemon { node, cmd, name }, label))
    }

    /// Daemon names name their logs: unique.
    fn check_references(&self, refs: &mut References, cx: &mut StepCx<'_>) {
        if refs.daemons.contains(&self.name) {
            cx.err_help::<()>(
                format!(
                    "step {}: a daemon named `{}` was already started",
                    cx.index, self.name
                ),
                "give each daemon its own name = \"...\" (it names its log)",
            );
        }
        refs.daemons.push(self.name.clone());
    }
}
