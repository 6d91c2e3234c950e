//! `capture`: capture on an interface until the case ends.

use super::{StepCx, StepDef};
use crate::expect::IfacePath;
use serde::{Deserialize, Serialize};

/// The pcapng is kept when the case does not pass, or always with `keep`.
#[derive(Debug, Clone, Serialize)]
pub struct Capture {
    pub at: IfacePath,
    /// Keep the pcapng in the case folder even when the case passes.
    pub keep: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    iface: String,
    #[serde(default)]
    keep: bool,
}

impl StepDef for Capture {
    const KEYWORD: &'static str = "capture";
    const VALUE: &'static str = "`{ node, iface, keep = false }`";
    const SUMMARY: &'static str = "capture until the case ends (pcapng kept if it fails, or always with keep = true)";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Capture, String)> {
        let c: Raw = cx.raw(value)?;
        let at = cx.lab_iface(c.node, &c.iface, "capture")?;
        let name = format!("capture {at}");
        Some((Capture { at, keep: c.keep }, name))
    }
}
