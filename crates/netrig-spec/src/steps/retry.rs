//! `retry`: run a command again and again until its expectations hold (FRR
//! topotests' `run_and_expect`): wait for a route, a session, a state,
//! without a fixed sleep.

use super::{StepCx, StepDef};
use crate::expect::Check;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Retry {
    pub node: Option<String>,
    pub cmd: String,
    /// Pause between tries.
    pub every: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    cmd: String,
    every: Option<String>,
}

/// Pause between tries unless `every` says otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_millis(200);

impl StepDef for Retry {
    const KEYWORD: &'static str = "retry";
    const VALUE: &'static str = "`{ node, cmd, every = \"200ms\" }`; the step's `timeout` (default 10 s) bounds the tries";
    const SUMMARY: &'static str =
        "run a command until its expectations hold; reports the tries and the last output";
    /// What `run` checks, judged the same way on each try.
    const CHECKS: &'static [Check] = super::run::Run::CHECKS;

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Retry, String)> {
        let r: Raw = cx.raw(value)?;
        let node = cx.node(r.node, "retry")?;
        let every = match r.every.as_deref() {
            None => DEFAULT_EVERY,
            Some(e) => match crate::scenario::parse_duration(e) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    return cx.err_help(
                        format!("step {}: malformed interval every = `{e}`", cx.index),
                        "write e.g. every = \"200ms\"",
                    )
                }
            },
        };
        let name = format!(
            "retry{}: {}",
            node.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
            r.cmd
        );
        Some((
            Retry {
                node,
                cmd: r.cmd,
                every,
            },
            name,
        ))
    }
}
