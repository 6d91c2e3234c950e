//! `ping`: ICMP echo from a node.

use super::{StepCx, StepDef, StrOrList};
use crate::expect::Check;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Ping {
    pub from: Option<String>,
    pub to: Vec<IpAddr>,
    pub count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    from: Option<String>,
    to: StrOrList,
    count: Option<u32>,
}

impl StepDef for Ping {
    const KEYWORD: &'static str = "ping";
    const VALUE: &'static str = "`{ from, to = addr or [addrs], count }`";
    const SUMMARY: &'static str = "ICMP echo from a node";
    const CHECKS: &'static [Check] = &[Check::Reachable];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Ping, String)> {
        let p: Raw = cx.raw(value)?;
        let from = cx.node(p.from, "ping")?;
        let index = cx.index;
        let list = p.to.into_vec();
        let mut to = Vec::new();
        for a in &list {
            match a.parse::<IpAddr>() {
                Ok(ip) if crate::net::is_test_address(ip) || ip.is_loopback() => to.push(ip),
                Ok(ip) => {
                    return cx.err_help(
                        format!("step {index}: ping target {ip} is outside the test prefixes"),
                        format!("labs use only {}", crate::net::TEST_PREFIXES.join(", ")),
                    )
                }
                Err(_) => return cx.err(format!("step {index}: malformed address `{a}`")),
            }
        }
        if to.is_empty() {
            return cx.err(format!("step {index}: ping has no targets"));
        }
        let name = format!("ping {}", list.join(" "));
        let count = p.count.unwrap_or(2).max(1);
        Some((Ping { from, to, count }, name))
    }
}
