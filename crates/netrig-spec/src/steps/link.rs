//! `link`: bring an interface up or down.

use super::{StepCx, StepDef};
use crate::expect::IfacePath;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub at: IfacePath,
    pub up: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    iface: String,
    state: String,
}

impl StepDef for Link {
    const KEYWORD: &'static str = "link";
    const VALUE: &'static str = "`{ node, iface, state = \"up\"/\"down\" }`";
    const SUMMARY: &'static str = "bring an interface up or down (up: returns once both ends carry packets again)";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Link, String)> {
        let l: Raw = cx.raw(value)?;
        let at = cx.lab_iface(l.node, &l.iface, "link")?;
        let up = match l.state.as_str() {
            "up" => true,
            "down" => false,
            other => {
                return cx.err_help(
                    format!("step {}: link state `{other}`", cx.index),
                    "write state = \"up\" or \"down\"",
                )
            }
        };
        let name = format!("link {at} {}", l.state);
        Some((Link { at, up }, name))
    }
}
