//! `sysfs`: write or read a network device's sysfs attribute as a node
//! sees it.

use super::{value_string, StepCx, StepDef};
use crate::expect::Check;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Sysfs {
    pub node: String,
    /// Relative to /sys, e.g. `class/net/eth0/gro_flush_timeout`.
    pub path: String,
    /// `None`: only read.
    pub value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    path: String,
    value: Option<toml::Value>,
}

impl StepDef for Sysfs {
    const KEYWORD: &'static str = "sysfs";
    const VALUE: &'static str =
        "`{ node, path = \"class/net/eth0/gro_flush_timeout\", value }` (no value: read)";
    const SUMMARY: &'static str = "write or read a network device's sysfs attribute";
    const CHECKS: &'static [Check] = &[Check::Value];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Sysfs, String)> {
        let f: Raw = cx.raw(value)?;
        let index = cx.index;
        let node = cx.lab_node(f.node, "sysfs")?;
        let path = f.path.trim_start_matches("/sys/").to_string();
        // Only the node's own network devices: the rest of /sys is the host's.
        if let Err(why) = crate::nsonly::check_netdev_sysfs(&path) {
            let shown = f.path.escape_debug();
            let msg = match why {
                crate::nsonly::SysfsRefusal::Malformed => {
                    format!("step {index}: malformed sysfs path `{shown}`")
                }
                _ => format!(
                    "step {index}: sysfs path `{shown}` is not a network device file: {why}"
                ),
            };
            return cx.err_help(msg, crate::nsonly::SYSFS_RULE);
        }
        let value = f.value.map(value_string);
        let name = match &value {
            Some(v) => format!("sysfs {node} {path}={v}"),
            None => format!("sysfs {node} {path}"),
        };
        Some((Sysfs { node, path, value }, name))
    }
}
