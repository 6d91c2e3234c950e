//! `offload`: turn interface offloads on or off.

use super::{StepCx, StepDef};
use crate::expect::IfacePath;
use serde::{Deserialize, Serialize};

/// `None`: leave as is.
#[derive(Debug, Clone, Serialize)]
pub struct Offload {
    pub at: IfacePath,
    pub gro: Option<bool>,
    pub tso: Option<bool>,
    pub gso: Option<bool>,
    pub tx_checksum: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    iface: String,
    gro: Option<bool>,
    tso: Option<bool>,
    gso: Option<bool>,
    tx_checksum: Option<bool>,
}

impl StepDef for Offload {
    const KEYWORD: &'static str = "offload";
    const VALUE: &'static str =
        "`{ node, iface, gro, tso, gso, tx_checksum }` (booleans; absent ones untouched)";
    const SUMMARY: &'static str = "turn interface offloads on or off";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Offload, String)> {
        let o: Raw = cx.raw(value)?;
        let at = cx.lab_iface(o.node, &o.iface, "offload")?;
        let parts: Vec<String> = [
            ("gro", o.gro),
            ("tso", o.tso),
            ("gso", o.gso),
            ("tx_checksum", o.tx_checksum),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {}", if v { "on" } else { "off" })))
        .collect();
        if parts.is_empty() {
            return cx.err_help(
                format!("step {}: offload changes nothing", cx.index),
                "set at least one of gro, tso, gso, tx_checksum = true/false",
            );
        }
        let name = format!("offload {at} {}", parts.join(", "));
        Some((
            Offload {
                at,
                gro: o.gro,
                tso: o.tso,
                gso: o.gso,
                tx_checksum: o.tx_checksum,
            },
            name,
        ))
    }
}
