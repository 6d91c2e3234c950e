//! `wait_port`: wait until something listens on a port in a node.

use super::{StepCx, StepDef};
use serde::{Deserialize, Serialize};

/// Wait until something listens on a TCP port (or binds a UDP port).
#[derive(Debug, Clone, Serialize)]
pub struct WaitPort {
    pub node: Option<String>,
    pub port: u16,
    pub udp: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    port: u16,
    #[serde(default)]
    udp: bool,
}

impl StepDef for WaitPort {
    const KEYWORD: &'static str = "wait_port";
    const VALUE: &'static str = "`{ node, port, udp }`";
    const SUMMARY: &'static str = "wait until a TCP port listens (or a UDP port is bound)";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(WaitPort, String)> {
        let w: Raw = cx.raw(value)?;
        let node = cx.node(w.node, "wait_port")?;
        let name = format!("wait_port {}{}", if w.udp { "udp/" } else { "" }, w.port);
        Some((
            WaitPort {
                node,
                port: w.port,
                udp: w.udp,
            },
            name,
        ))
    }
}
