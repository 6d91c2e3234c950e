//! `run`: a shell command in a node, waited for.

use super::{StepCx, StepDef};
use crate::expect::Check;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub node: Option<String>,
    pub cmd: String,
}

impl StepDef for Run {
    const KEYWORD: &'static str = "run";
    const VALUE: &'static str = "shell command, in `node`";
    const SUMMARY: &'static str = "run a command and wait for it";
    const CHECKS: &'static [Check] = &[
        Check::Exit,
        Check::Stdout,
        Check::StdoutNot,
        Check::Stderr,
        Check::Json,
    ];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Run, String)> {
        let cmd: String = cx.raw(value)?;
        let node = cx.node(None, "run")?;
        let name = format!(
            "run{}: {cmd}",
            node.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
        );
        Some((Run { node, cmd }, name))
    }
}
