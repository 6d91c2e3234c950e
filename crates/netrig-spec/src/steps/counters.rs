//! `counters`: read an interface's counters, save them, or compare with a
//! saved set.

use super::{References, StepCx, StepDef};
use crate::expect::{Check, IfacePath, COUNTERS, IMPAIR_COUNTERS};
use serde::{Deserialize, Serialize};

/// `save` keeps the counters under a name; `since` makes the expectation
/// one about the difference to a saved set.
#[derive(Debug, Clone, Serialize)]
pub struct Counters {
    pub at: IfacePath,
    pub save: Option<String>,
    pub since: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: Option<String>,
    iface: String,
    save: Option<String>,
    since: Option<String>,
}

impl StepDef for Counters {
    const KEYWORD: &'static str = "counters";
    const VALUE: &'static str = "`{ node, iface, save = \"tag\", since = \"tag\" }` (on an impaired link's end also `impair_sent`, `impair_lost`, ...)";
    const SUMMARY: &'static str = "read interface counters (or their change since a saved set)";
    const CHECKS: &'static [Check] = &[Check::Min, Check::Max];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Counters, String)> {
        let c: Raw = cx.raw(value)?;
        let at = cx.lab_iface(c.node, &c.iface, "counters")?;
        // The interface's own counters, and on an end of an impaired link
        // what the link did with what this end sent.
        let impaired = cx.topo.is_some_and(|t| {
            t.links.iter().any(|l| {
                l.impair.is_some()
                    && l.ends
                        .iter()
                        .any(|e| e.node == at.node && e.name == at.iface)
            })
        });
        let known: Vec<&str> = COUNTERS
            .iter()
            .chain(if impaired { IMPAIR_COUNTERS } else { &[] })
            .copied()
            .collect();
        let e = cx.expect;
        if let Some(k) = e
            .min
            .iter()
            .chain(&e.max)
            .flat_map(|m| m.keys())
            .find(|k| !known.contains(&k.as_str()))
        {
            let index = cx.index;
            let help = if IMPAIR_COUNTERS.contains(&k.as_str()) {
                format!("{at} is not an end of an impaired link; its counters: {}", known.join(", "))
            } else {
                format!("counters: {}", known.join(", "))
            };
            return cx.err_help(format!("step {index}: unknown counter `{k}`"), help);
        }
        let name = format!("counters {at}");
        Some((
            Counters {
                at,
                save: c.save,
                since: c.since,
            },
            name,
        ))
    }

    fn check_references(&self, refs: &mut References, cx: &mut StepCx<'_>) {
        if let Some(x) = self
            .since
            .as_ref()
            .filter(|x| !refs.saved_counters.contains(x))
        {
            cx.err_help::<()>(
                format!(
                    "step {}: counters since `{x}`, which no earlier counters step saves",
                    cx.index
                ),
                "save them first: counters = { node, iface, save = \"before\" }",
            );
        }
        refs.saved_counters.extend(self.save.clone());
    }
}
