//! `probe`: connections (or datagrams) from a node to a service; answers are
//! counted per server name.

use super::{StepCx, StepDef};
use crate::expect::Check;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub from: String,
    pub to: SocketAddr,
    pub udp: bool,
    pub count: u32,
    /// First source port; probe `i` uses `src_port + i`.
    pub src_port: Option<u16>,
    /// How many times each source port is probed (>= 2 makes affinity
    /// checkable: one flow, several connections).
    pub rounds: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    from: Option<String>,
    to: String,
    #[serde(default)]
    udp: bool,
    count: Option<u32>,
    src_port: Option<u16>,
    rounds: Option<u32>,
}

impl StepDef for Probe {
    const KEYWORD: &'static str = "probe";
    const VALUE: &'static str = "`{ from, to = \"addr:port\", udp, count, src_port, rounds }`";
    const SUMMARY: &'static str = "probe a service; `split` and `affinity` are over server names";
    const CHECKS: &'static [Check] = &[
        Check::Split,
        Check::Answered,
        Check::Resets,
        Check::Affinity,
    ];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Probe, String)> {
        let p: Raw = cx.raw(value)?;
        let index = cx.index;
        let from = cx.lab_node(p.from, "probe")?;
        let Ok(to) = p.to.parse::<SocketAddr>() else {
            return cx.err_help(
                format!("step {index}: malformed address `{}`", p.to),
                "write e.g. \"198.18.0.1:7000\"",
            );
        };
        let count = p.count.unwrap_or(1).max(1);
        let rounds = p.rounds.unwrap_or(1).max(1);
        if let Some(sp) = p.src_port {
            if u32::from(sp) + count - 1 > u32::from(u16::MAX) {
                return cx.err_help(
                    format!("step {index}: source ports {sp}+{count} run past 65535"),
                    "lower src_port or count",
                );
            }
        }
        let name = if rounds > 1 {
            format!("probe {from} -> {to} x{count} x{rounds} rounds")
        } else {
            format!("probe {from} -> {to} x{count}")
        };
        Some((
            Probe {
                from,
                to,
                udp: p.udp,
                count,
                src_port: p.src_port,
                rounds,
            },
            name,
        ))
    }
}
