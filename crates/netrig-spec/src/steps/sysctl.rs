//! `sysctl`: set or read a network namespace sysctl in a node.

use super::{value_string, StepCx, StepDef};
use crate::expect::Check;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Sysctl {
    pub node: Option<String>,
    pub key: String,
    /// `None`: only read.
    pub value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    key: String,
    value: Option<toml::Value>,
}

impl StepDef for Sysctl {
    const KEYWORD: &'static str = "sysctl";
    const VALUE: &'static str = "`{ node, key, value }` (no value: read)";
    const SUMMARY: &'static str = "set or read a network namespace sysctl";
    const CHECKS: &'static [Check] = &[Check::Value];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Sysctl, String)> {
        let s: Raw = cx.raw(value)?;
        let node = cx.node(s.node, "sysctl")?;
        // The topology rule: a step must not change (or read) the host.
        if !crate::nsonly::is_netns_sysctl(&s.key) {
            return cx.err_help(
                format!(
                    "step {}: sysctl `{}` is not a network namespace sysctl",
                    cx.index,
                    s.key.escape_debug()
                ),
                crate::nsonly::SYSCTL_RULE,
            );
        }
        let value = s.value.map(value_string);
        let name = match &value {
            Some(v) => format!("sysctl {}={v}", s.key),
            None => format!("sysctl {}", s.key),
        };
        Some((
            Sysctl {
                node,
                key: s.key,
                value,
            },
            name,
        ))
    }
}
