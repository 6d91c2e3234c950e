//! `neigh`: set a permanent neighbour entry (ARP/ND) in a node, or delete
//! one: a stale or poisoned entry, as a test wants it.

use super::{StepCx, StepDef};
use crate::expect::IfacePath;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Neigh {
    /// The node and the interface the entry is on.
    pub at: IfacePath,
    pub addr: IpAddr,
    /// `None`: delete the entry.
    pub mac: Option<[u8; 6]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    dev: String,
    addr: String,
    mac: Option<String>,
}

impl StepDef for Neigh {
    const KEYWORD: &'static str = "neigh";
    const VALUE: &'static str = "`{ node, dev, addr, mac }` (no mac: delete the entry)";
    const SUMMARY: &'static str = "set a permanent neighbour entry, or delete one";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Neigh, String)> {
        let n: Raw = cx.raw(value)?;
        let index = cx.index;
        let at = cx.lab_iface(n.node, &n.dev, "neigh")?;
        let addr = match n.addr.parse::<IpAddr>() {
            Ok(ip) if crate::net::is_test_address(ip) || crate::net::is_link_local(ip) => ip,
            Ok(ip) => {
                return cx.err_help(
                    format!("step {index}: neighbour {ip} is outside the test prefixes"),
                    format!("labs use only {}", crate::net::TEST_PREFIXES.join(", ")),
                )
            }
            Err(_) => return cx.err(format!("step {index}: malformed address `{}`", n.addr)),
        };
        let mac = match n.mac.as_deref().map(crate::net::parse_mac) {
            None => None,
            Some(Some(m)) if m != [0; 6] && m[0] & 1 == 0 => Some(m),
            Some(_) => {
                return cx.err_help(
                    format!(
                        "step {index}: `{}` is not a unicast MAC address",
                        n.mac.unwrap_or_default()
                    ),
                    "write six hex bytes, e.g. mac = \"02:00:00:00:00:01\"",
                )
            }
        };
        let name = match &mac {
            Some(m) => format!("neigh {at} {addr} lladdr {}", crate::net::format_mac(m)),
            None => format!("neigh {at} {addr} delete"),
        };
        Some((Neigh { at, addr, mac }, name))
    }
}
