//! `serve`: a probe server answering with its name until the case ends.

use super::{StepCx, StepDef};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Serve {
    pub node: String,
    pub addr: SocketAddr,
    pub name: String,
    pub tcp: bool,
    pub udp: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    addr: String,
    name: Option<String>,
    tcp: Option<bool>,
    udp: Option<bool>,
}

impl StepDef for Serve {
    const KEYWORD: &'static str = "serve";
    const VALUE: &'static str = "`{ node, addr = \"0.0.0.0:7000\", name, tcp, udp }`";
    const SUMMARY: &'static str = "a probe server that answers with its name";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Serve, String)> {
        let s: Raw = cx.raw(value)?;
        let node = cx.lab_node(s.node, "serve")?;
        let Ok(addr) = s.addr.parse::<SocketAddr>() else {
            return cx.err_help(
                format!("step {}: malformed address `{}`", cx.index, s.addr),
                "write e.g. \"[::]:7000\" or \"198.18.0.1:7000\"",
            );
        };
        let name = s.name.unwrap_or_else(|| node.clone());
        let (tcp, udp) = (s.tcp.unwrap_or(true), s.udp.unwrap_or(false));
        let label = format!("serve {name} on {node} {addr}");
        Some((
            Serve {
                node,
                addr,
                name,
                tcp,
                udp,
            },
            label,
        ))
    }
}
