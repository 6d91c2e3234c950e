//! `daemon`: a shell command left running until the case ends.

use super::{References, StepCx, StepDef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Daemon {
    pub node: Option<String>,
    pub cmd: String,
    /// Name of its log and of `wait_log` references.
    pub name: String,
    /// It may end on its own (a one-shot setup, say); otherwise its end
    /// while the case runs fails the case.
    pub may_exit: bool,
}

/// `daemon = "cmd"`, or `daemon = { cmd, may_exit }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Cmd(String),
    Table(RawTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    cmd: String,
    #[serde(default)]
    may_exit: bool,
}

impl StepDef for Daemon {
    const KEYWORD: &'static str = "daemon";
    const VALUE: &'static str =
        "shell command, or `{ cmd, may_exit }`; `name` names its log";
    const SUMMARY: &'static str =
        "start a process that runs until the case ends (its end before that fails the case unless `may_exit`)";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Daemon, String)> {
        let (cmd, may_exit) = match cx.raw(value)? {
            Raw::Cmd(c) => (c, false),
            Raw::Table(t) => (t.cmd, t.may_exit),
        };
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
        Some((
            Daemon {
                node,
                cmd,
                name,
                may_exit,
            },
            label,
        ))
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
