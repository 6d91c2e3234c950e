//! `send`: frames built from layers (the notation of
//! [`netrig_flow::frame`]) sent out of a node's interface.

use super::{StepCx, StepDef};
use crate::expect::Check;
use netrig_flow::frame::{FrameSpec, Layer};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Most frames one step sends.
pub const MAX_COUNT: u64 = 1_000_000;
/// Longest a paced step may send for.
pub const MAX_SPAN: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize)]
pub struct SendFrames {
    pub from: String,
    pub dev: String,
    /// The frame notation, e.g. `eth() / dot1q(vid=10) / ipv4(...) / udp()`.
    pub frame: String,
    /// Frames to send: one of each combination of the ranges unless given
    /// (then the combinations repeat or stop short).
    pub count: u64,
    /// Pause between frames; none: as fast as the socket takes them.
    pub interval: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    from: Option<String>,
    dev: Option<String>,
    frame: String,
    count: Option<u64>,
    interval: Option<String>,
}

const HELP: &str = "layers eth, dot1q, dot1ad, arp, mpls, ipv4, ipv6, hbh, routing, frag6, dstopts, \
icmp, icmpv6, udp, tcp, vxlan, gre, raw, joined by `/`, e.g. \
frame = \"eth() / ipv4(dst=198.51.100.2) / udp(dport=9) / raw(text='hi')\"";

impl StepDef for SendFrames {
    const KEYWORD: &'static str = "send";
    const VALUE: &'static str =
        "`{ from, dev, frame = \"eth() / dot1q(vid=10) / ipv4(dst=..) / udp(sport=1-9)\", count, interval }`";
    const SUMMARY: &'static str =
        "send frames built from layers (VLAN, ARP, MPLS, IPv4/IPv6 and extension headers, ICMP/ND, UDP, TCP, VXLAN, GRE, payload), and check what arrives where";
    const CHECKS: &'static [Check] = &[Check::Packets];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(SendFrames, String)> {
        let r: Raw = cx.raw(value)?;
        let index = cx.index;
        let (from, dev) = cx.sending_iface(r.from, r.dev, "send")?;
        let spec = match FrameSpec::parse(&r.frame) {
            Ok(s) => s,
            Err(e) => {
                return cx.err_in_value(
                    &r.frame,
                    e.span.clone(),
                    format!("step {index}: malformed frame: {e}"),
                    HELP,
                )
            }
        };
        let combos = spec.combinations();
        let count = match r.count {
            Some(0) => return cx.err(format!("step {index}: send count must be at least 1")),
            Some(c) => c,
            None => u64::try_from(combos).unwrap_or(u64::MAX),
        };
        if count > MAX_COUNT {
            return cx.err_help(
                format!("step {index}: send would send {count} frames, more than {MAX_COUNT}"),
                "set a smaller count, or narrow the ranges",
            );
        }
        let interval = match &r.interval {
            None => None,
            Some(t) => match crate::scenario::parse_duration(t) {
                Some(d) => Some(d),
                None => {
                    return cx.err_help(
                        format!("step {index}: malformed interval `{t}`"),
                        "write e.g. interval = \"10ms\"",
                    )
                }
            },
        };
        if let Some(d) = interval {
            if d.saturating_mul(u32::try_from(count).unwrap_or(u32::MAX)) > MAX_SPAN {
                return cx.err(format!(
                    "step {index}: {count} frames {} apart take longer than {}s",
                    t_ms(d),
                    MAX_SPAN.as_secs()
                ));
            }
        }
        // What the kernel would refuse: a frame longer than the interface's
        // MTU (plus the Ethernet header, and a tag's 4 bytes when tagged).
        let len = spec.frame(0).build().len();
        let mtu = cx
            .topo
            .and_then(|tp| tp.ifaces_of(&from).find(|i| i.name == dev))
            .and_then(|i| i.mtu)
            .unwrap_or(1500) as usize;
        let tagged = matches!(
            spec.layers.get(1).map(|l| &l.base),
            Some(Layer::Dot1q(_) | Layer::Dot1ad(_))
        );
        let max = mtu + 14 + if tagged { 4 } else { 0 };
        if len > max {
            return cx.err(format!(
                "step {index}: the frame is {len} bytes, more than {from}:{dev} sends (MTU {mtu}: {max} bytes)"
            ));
        }
        let distinct = combos.min(u128::from(count));
        crate::expect::check_each(cx, count, (0..distinct).map(|i| spec.frame(i)))?;
        let name = format!("send {from}:{dev} {}", r.frame);
        Some((
            SendFrames {
                from,
                dev,
                frame: r.frame,
                count,
                interval,
            },
            name,
        ))
    }
}

fn t_ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

impl SendFrames {
    /// The frames this step sends, parsed by the code that checked them.
    pub fn frames(&self) -> Result<FrameSpec, String> {
        FrameSpec::parse(&self.frame).map_err(|e| format!("malformed frame: {e}"))
    }
}
