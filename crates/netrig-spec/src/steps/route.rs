//! `route`: replace a route of a node (other weights for a variant, or a
//! nexthop removed).

use super::{StepCx, StepDef, StrOrList};
use crate::model::{Nexthop, Route as RouteSpec};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub route: RouteSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    to: String,
    via: Option<StrOrList>,
    weights: Option<Vec<u32>>,
    nexthops: Option<Vec<RawNexthop>>,
    metric: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNexthop {
    via: Option<String>,
    dev: Option<String>,
    weight: Option<u32>,
}

impl StepDef for Route {
    const KEYWORD: &'static str = "route";
    const VALUE: &'static str = "`{ node, to = \"prefix\", via = addr or [addrs], weights = [..] }` or `nexthops = [{ via, dev, weight }]`";
    const SUMMARY: &'static str = "replace a route of a node";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Route, String)> {
        let r: Raw = cx.raw(value)?;
        let index = cx.index;
        let node = cx.lab_node(r.node.clone(), "route")?;
        let dst = match crate::net::IpNet::parse(&r.to) {
            Ok(n) if !n.has_host_bits() && crate::net::is_test_prefix(&n) => n,
            Ok(n) if n.has_host_bits() => {
                return cx.err_help(
                    format!(
                        "step {index}: route destination `{}` has host bits set",
                        r.to
                    ),
                    format!("write the network, {}", n.network()),
                );
            }
            Ok(_) => {
                return cx.err_help(
                    format!(
                        "step {index}: route destination `{}` is outside the test prefixes",
                        r.to
                    ),
                    format!("labs use only {}", crate::net::TEST_PREFIXES.join(", ")),
                );
            }
            Err(_) => {
                return cx.err_help(
                    format!("step {index}: malformed prefix `{}`", r.to),
                    "write e.g. to = \"198.18.0.0/24\"",
                );
            }
        };
        // (via, dev, weight) in the given order.
        let mut hops: Vec<(Option<String>, Option<String>, u32)> = Vec::new();
        match (r.via, r.nexthops) {
            (Some(via), None) => {
                let list = via.into_vec();
                let weights = r.weights.unwrap_or_else(|| vec![1; list.len()]);
                if weights.len() != list.len() {
                    return cx.err_help(
                        format!(
                            "step {index}: route has {} gateways but {} weights",
                            list.len(),
                            weights.len()
                        ),
                        "give one weight per gateway, e.g. via = [\"198.51.100.2\", \"203.0.113.2\"], weights = [11, 45]",
                    );
                }
                hops.extend(
                    list.into_iter()
                        .zip(weights)
                        .map(|(v, w)| (Some(v), None, w)),
                );
            }
            (None, Some(nh)) if r.weights.is_none() => {
                hops.extend(
                    nh.into_iter()
                        .map(|h| (h.via, h.dev, h.weight.unwrap_or(1))),
                );
            }
            _ => {
                return cx.err_help(
                    format!("step {index}: a route needs either via (with optional weights) or nexthops"),
                    "e.g. via = [\"198.51.100.2\", \"203.0.113.2\"], weights = [11, 45], or nexthops = [{ via = \"198.51.100.2\", weight = 11 }]",
                );
            }
        }
        if hops.is_empty() {
            return cx.err(
                format!("step {index}: a route needs a nexthop"),
            );
        }
        let mut nexthops = Vec::new();
        for (via, dev, weight) in hops {
            if !(1..=256).contains(&weight) {
                return cx.err_help(
                    format!("step {index}: nexthop weight {weight} is outside 1..=256"),
                    "ip route accepts weights 1 to 256",
                );
            }
            let gateway = match via.as_deref().map(str::parse::<IpAddr>) {
                None => None,
                Some(Ok(ip))
                    if ip.is_ipv4() == dst.is_ipv4()
                        && (crate::net::is_test_address(ip) || crate::net::is_link_local(ip)) =>
                {
                    Some(ip)
                }
                Some(Ok(ip)) if ip.is_ipv4() != dst.is_ipv4() => {
                    return cx.err(
                        format!("step {index}: gateway {ip} is of another family than {dst}"),
                    );
                }
                Some(Ok(ip)) => {
                    return cx.err_help(
                        format!("step {index}: gateway {ip} is outside the test prefixes"),
                        format!("labs use only {}", crate::net::TEST_PREFIXES.join(", ")),
                    );
                }
                Some(Err(_)) => {
                    return cx.err(
                        format!(
                            "step {index}: malformed gateway `{}`",
                            via.unwrap_or_default()
                        ),
                    );
                }
            };
            if let Some(d) = &dev {
                cx.lab_iface(Some(node.clone()), d, "route")?;
            }
            if gateway.is_none() && dev.is_none() {
                return cx.err(
                    format!("step {index}: a nexthop needs via or dev"),
                );
            }
            nexthops.push(Nexthop {
                gateway,
                dev,
                // Checked above: 1..=256 fits.
                weight: weight as u16,
            });
        }
        let shown: Vec<String> = nexthops
            .iter()
            .map(|h| {
                let at = h
                    .gateway
                    .map(|g| g.to_string())
                    .or_else(|| h.dev.clone())
                    .unwrap_or_default();
                format!("{at} w{}", h.weight)
            })
            .collect();
        let name = format!("route {node} {dst} via {}", shown.join(", "));
        Some((
            Route {
                route: RouteSpec {
                    node,
                    dst,
                    nexthops,
                    metric: r.metric,
                },
            },
            name,
        ))
    }


}
