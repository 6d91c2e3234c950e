//! `traffic`: packets sent from a node with netrig-wire, captured on the
//! interfaces the expectations name, and judged statistically.

use super::{StepCx, StepDef};
use crate::expect::Check;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Traffic {
    pub from: String,
    pub dev: String,
    /// Destination: an address, a range `a-b` or a prefix.
    pub to: String,
    #[serde(serialize_with = "super::display")]
    pub proto: netrig_flow::Proto,
    /// Flow notation, e.g. `sp=1024,dp=0-32768`.
    pub args: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    from: Option<String>,
    dev: Option<String>,
    to: String,
    udp: Option<String>,
    tcp: Option<String>,
}

impl StepDef for Traffic {
    const KEYWORD: &'static str = "traffic";
    const VALUE: &'static str = "`{ from, dev, to, udp/tcp = \"sp=1024,dp=0-4000\" }`";
    const SUMMARY: &'static str =
        "send flows and judge where they went (payload tags tell loss, duplication, reordering)";
    const CHECKS: &'static [Check] = &[
        Check::Split,
        Check::Affinity,
        Check::Received,
        Check::Streams,
        Check::Ratio,
    ];
    const IFACE_PATHS: bool = true;

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Traffic, String)> {
        let t: Raw = cx.raw(value)?;
        let index = cx.index;
        let (from, dev) = cx.sending_iface(t.from, t.dev, "traffic")?;
        let (proto, args) = match (t.udp, t.tcp) {
            (Some(a), None) => (netrig_flow::Proto::Udp, a),
            (None, Some(a)) => (netrig_flow::Proto::Tcp, a),
            _ => {
                return cx.err_help(
                    format!("step {index}: traffic needs exactly one of udp or tcp"),
                    "e.g. udp = \"sp=1024,dp=0-32768\"",
                )
            }
        };
        // What `netrig run` would parse, parsed here with the same code.
        let tagged = cx.expect.streams.is_some();
        if let Err((msg, help)) = flow_spec(cx.topo, &from, &dev, &t.to, proto, &args, tagged) {
            return cx.err_help(format!("step {index}: {msg}"), help);
        }
        let name = format!("traffic {from} -> {} {proto} {args}", t.to);
        Some((
            Traffic {
                from,
                dev,
                to: t.to,
                proto,
                args,
            },
            name,
        ))
    }
}

impl Traffic {
    /// The flow this step sends from the lab `topo` (what `netrig check`
    /// validated, built by the same code).
    pub fn flow(
        &self,
        topo: &crate::model::Topology,
        expect: &crate::expect::Expect,
    ) -> Result<netrig_flow::FlowSpec, String> {
        flow_spec(
            Some(topo),
            &self.from,
            &self.dev,
            &self.to,
            self.proto,
            &self.args,
            expect.streams.is_some(),
        )
        .map_err(|(msg, _)| msg)
    }
}

/// The flow a traffic step sends: the source is the sender's address of
/// the destination's family; a flow with a loss check (`expect.streams`,
/// `tagged`) and no tag is tagged as stream 1.
fn flow_spec(
    topo: Option<&crate::model::Topology>,
    from: &str,
    dev: &str,
    to: &str,
    proto: netrig_flow::Proto,
    args: &str,
    tagged: bool,
) -> Result<netrig_flow::FlowSpec, (String, &'static str)> {
    let dst: netrig_flow::IpRange = to.parse().map_err(|e| {
        (
            format!("malformed traffic destination `{to}`: {e}"),
            "an address, a range a-b or a prefix, e.g. to = \"198.18.0.0/24\"",
        )
    })?;
    let src = match topo {
        None => Some(dst.first()),
        Some(tp) => tp
            .ifaces_of(from)
            .find(|i| i.name == dev)
            .and_then(|i| i.addrs.iter().find(|a| a.addr.is_ipv6() == dst.is_v6()))
            .map(|a| a.addr),
    };
    let src = src.ok_or_else(|| {
        (
            format!(
                "{from}:{dev} has no {} address to send to `{to}` from",
                if dst.is_v6() { "IPv6" } else { "IPv4" }
            ),
            "give the sending interface an address of that family",
        )
    })?;
    netrig_flow::FlowSpec::new(netrig_flow::L4::default_for(proto), src, dst)
        .with_args(args)
        .map_err(|e| e.to_string())
        .and_then(|mut f| {
            if tagged && f.tag.is_none() {
                f.tag = Some(netrig_flow::TagSpec {
                    stream: 1,
                    ..netrig_flow::TagSpec::default()
                });
            }
            f.validate().map_err(|e| e.to_string())?;
            Ok(f)
        })
        .map_err(|e| {
            (
                format!("malformed flow {proto} = \"{args}\": {e}"),
                "keys: sp, dp, sa, da, c, pps, d, size, ttl, flags, seq, smac, dmac, tag; e.g. udp = \"sp=1024,dp=0-4095\"",
            )
        })
}
