//! `impair`: change a running link's impairment (or clear it) mid-case.
//! The table is a link's `impair` table (the same keys, checked by the same
//! code), plus which link: `link = "node:iface"` gives both directions as
//! the table says (keys left out: unimpaired, so `{ link = ".." }` alone
//! clears the link), `from = "node:iface"` only what that end sends, the
//! other direction left as it is.

use super::{StepCx, StepDef};
use crate::expect::IfacePath;
use crate::impair::RawImpair;
use crate::model::Impairment;
use serde::Serialize;
use toml::Spanned;

#[derive(Debug, Clone, Serialize)]
pub struct Impair {
    /// The end named by `link` or `from`.
    pub at: IfacePath,
    /// What `at` sends from now on (`None`: as it was).
    pub sends: Option<Impairment>,
    /// What `at` receives from now on (`None`: as it was).
    pub receives: Option<Impairment>,
}

impl StepDef for Impair {
    const KEYWORD: &'static str = "impair";
    const VALUE: &'static str = "`{ link = \"node:iface\", delay, loss, ... }` (a link's `impair` keys; none: unimpaired) or `{ from = \"node:iface\", ... }` (only what that end sends)";
    const SUMMARY: &'static str = "change an impaired link's impairment while the case runs (its counters go on)";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Impair, String)> {
        let index = cx.index;
        let help = "e.g. impair = { link = \"r1:eth1\", delay = \"50ms\", loss = \"10%\" }";
        let toml::Value::Table(mut t) = value else {
            return cx.err_help(format!("step {index}: impair takes a table"), help);
        };
        let (which, from) = match (t.remove("link"), t.remove("from")) {
            (Some(l), None) => (l, false),
            (None, Some(f)) => (f, true),
            (Some(_), Some(_)) => {
                return cx.err_help(
                    format!("step {index}: impair takes `link` or `from`, not both"),
                    "`link`: both directions; `from`: only what that end sends",
                )
            }
            (None, None) => {
                return cx.err_help(format!("step {index}: impair needs `link` or `from`"), help)
            }
        };
        let key = if from { "from" } else { "link" };
        let toml::Value::String(which) = which else {
            return cx.err_help(format!("step {index}: `{key}` takes \"node:iface\""), help);
        };
        let at = match IfacePath::parse(&which) {
            Ok(at) => at,
            Err(e) => return cx.err_help(format!("step {index}: {key}: {e}"), help),
        };
        let Some(topo) = cx.topo else {
            return cx.err(format!("step {index}: impair needs a lab"));
        };
        let link = topo.links.iter().find(|l| {
            l.ends
                .iter()
                .any(|e| e.node == at.node && e.name == at.iface)
        });
        let impaired: Vec<String> = topo
            .links
            .iter()
            .filter(|l| l.impair.is_some())
            .flat_map(|l| l.ends.iter().map(|e| format!("{}:{}", e.node, e.name)))
            .collect();
        let link = match link {
            Some(l) if l.impair.is_some() => l,
            Some(_) => {
                return cx.err_help(
                    format!("step {index}: {at} is an end of a link without impairment"),
                    "a link is impaired at run time by its engine: give it one in the topology, e.g. impair = { engine = \"userspace\" } (passes everything until changed)",
                )
            }
            None => {
                return cx.err_help(
                    format!("step {index}: {at} is not an end of an impaired link"),
                    if impaired.is_empty() {
                        "this lab has no impaired link; links on a LAN cannot be impaired".to_string()
                    } else {
                        format!("impaired ends: {}", impaired.join(", "))
                    },
                )
            }
        };
        let end = usize::from(!(link.ends[0].node == at.node && link.ends[0].name == at.iface));
        let span = cx.span.clone();
        let checker = &mut *cx.checker;
        let at_key = |k: &str| checker.find_in_step(&span, k);
        let raw = match RawImpair::from_table(&t, &at_key) {
            Ok(r) => r,
            Err((where_, msg)) => {
                cx.checker
                    .err_help(where_, format!("step {index}: {msg}"), help);
                return None;
            }
        };
        let change = cx.checker.check_impair_change(
            &Spanned::new(span, raw),
            &link.ends,
            from.then_some(end),
        )?;
        let [mut sends, mut receives] = change;
        if end == 1 {
            std::mem::swap(&mut sends, &mut receives);
        }
        let show = |i: &Option<Impairment>| i.as_ref().map_or("as it was".to_string(), |i| i.to_string());
        let name = format!(
            "impair {at}: sends {}, receives {}",
            show(&sends),
            show(&receives)
        );
        Some((
            Impair {
                at,
                sends,
                receives,
            },
            name,
        ))
    }
}
