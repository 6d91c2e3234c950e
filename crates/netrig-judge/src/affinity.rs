//! Flow affinity: every flow must reach exactly one path or backend.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::Serialize;

use crate::{Details, Outcome, Verdict, MAX_LISTED};

/// One path and how many packets/connections of a flow reached it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathHits {
    /// The path or backend, as displayed.
    pub path: String,
    /// Packets or connections of the flow that reached it.
    pub hits: u64,
}

/// A flow that reached zero or several paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffinityOffender {
    /// The flow id, as displayed.
    pub flow: String,
    /// Where its packets went, in path order (empty if nowhere).
    pub paths: Vec<PathHits>,
}

/// Numbers of an affinity verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffinityReport {
    /// Distinct flows seen.
    pub flows: u64,
    /// Observations (packets or connections) over all flows.
    pub observations: u64,
    /// Distinct paths reached by any flow.
    pub paths: u64,
    /// Flows that reached two or more distinct paths.
    pub split_flows: u64,
    /// Flows with no observation at all.
    pub empty_flows: u64,
    /// The first offending flows in flow order, at most [`crate::MAX_LISTED`].
    pub offenders: Vec<AffinityOffender>,
}

/// Pass iff every flow reached exactly one distinct path.
///
/// `flows` yields, per flow id, the multiset of paths its packets or
/// connections reached; a flow id may appear several times and its entries are
/// merged, so packet-level `(flow, path)` pairs can be passed as
/// `pairs.map(|(f, p)| (f, [p]))`. A flow with an empty multiset counts as an
/// offender (it reached no path). Broken if there are no flows at all, since
/// then nothing was checked. Deterministic: `false_fail_bound = 0`.
///
/// ```
/// use netrig_judge::{judge_affinity, Outcome};
///
/// let packets = [(1, "h2"), (1, "h2"), (2, "h3"), (3, "h2"), (3, "h3")];
/// let v = judge_affinity("vip-affinity", packets.map(|(f, p)| (f, [p])));
/// assert_eq!(v.outcome, Outcome::Fail);
/// assert!(v.explanation.contains("flow 3: h2×1, h3×1"));
/// ```
pub fn judge_affinity<F, P, S, I>(name: &str, flows: I) -> Verdict
where
    I: IntoIterator<Item = (F, S)>,
    S: IntoIterator<Item = P>,
    F: Ord + Display,
    P: Ord + Display,
{
    // BTreeMaps so the listed offenders are the same on every run.
    let mut per_flow: BTreeMap<F, BTreeMap<P, u64>> = BTreeMap::new();
    let mut all_paths: BTreeMap<String, ()> = BTreeMap::new();
    let mut observations = 0u64;
    for (flow, paths) in flows {
        let entry = per_flow.entry(flow).or_default();
        for p in paths {
            observations = observations.saturating_add(1);
            let hits = entry.entry(p).or_insert(0);
            *hits = hits.saturating_add(1);
        }
    }
    let mut split_flows = 0u64;
    let mut empty_flows = 0u64;
    let mut offenders = Vec::new();
    for (flow, paths) in &per_flow {
        for p in paths.keys() {
            all_paths.insert(p.to_string(), ());
        }
        match paths.len() {
            1 => continue,
            0 => empty_flows += 1,
            _ => split_flows += 1,
        }
        if offenders.len() < MAX_LISTED {
            offenders.push(AffinityOffender {
                flow: flow.to_string(),
                paths: paths
                    .iter()
                    .map(|(p, &hits)| PathHits {
                        path: p.to_string(),
                        hits,
                    })
                    .collect(),
            });
        }
    }
    let report = AffinityReport {
        flows: per_flow.len() as u64,
        observations,
        paths: all_paths.len() as u64,
        split_flows,
        empty_flows,
        offenders,
    };
    let bad = split_flows + empty_flows;
    let (outcome, explanation) = if report.flows == 0 {
        (
            Outcome::Broken,
            "no flows observed, so affinity cannot be judged".to_string(),
        )
    } else if bad == 0 {
        (
            Outcome::Pass,
            format!(
                "all {} flows ({} observations) each reached exactly one path; {} distinct paths used",
                report.flows, observations, report.paths
            ),
        )
    } else {
        let listed = report
            .offenders
            .iter()
            .map(|o| {
                if o.paths.is_empty() {
                    format!("flow {}: no path", o.flow)
                } else {
                    let hits = o
                        .paths
                        .iter()
                        .map(|h| format!("{}×{}", h.path, h.hits))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("flow {}: {hits}", o.flow)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let more = bad.saturating_sub(report.offenders.len() as u64);
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        (
            Outcome::Fail,
            format!(
                "{bad} of {} flows did not reach exactly one path ({split_flows} reached several, \
                 {empty_flows} none; {observations} observations).\n{listed}{more}",
                report.flows
            ),
        )
    };
    Verdict {
        name: name.to_string(),
        outcome,
        explanation,
        false_fail_bound: 0.0,
        details: Details::Affinity(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flow_on_one_path_passes() {
        let obs = (0..100u32).map(|f| (f, vec![f % 3, f % 3, f % 3]));
        let v = judge_affinity("a", obs);
        assert_eq!(v.outcome, Outcome::Pass, "{v}");
        let Details::Affinity(r) = &v.details else {
            panic!("wrong details")
        };
        assert_eq!((r.flows, r.observations, r.paths), (100, 300, 3));
        assert!(v.explanation.contains("all 100 flows"));
    }

    #[test]
    fn split_flows_fail_and_are_listed_in_order() {
        // Flows 10..20 bounce between two backends; the rest are sticky.
        let obs = (0..50u32).map(|f| {
            let paths = if (10..20).contains(&f) {
                vec!["b1", "b2", "b1"]
            } else {
                vec!["b1"]
            };
            (f, paths)
        });
        let v = judge_affinity("a", obs);
        assert_eq!(v.outcome, Outcome::Fail);
        let Details::Affinity(r) = &v.details else {
            panic!("wrong details")
        };
        assert_eq!(r.split_flows, 10);
        assert_eq!(r.offenders.len(), MAX_LISTED);
        assert_eq!(r.offenders[0].flow, "10");
        assert_eq!(
            r.offenders[0].paths,
            vec![
                PathHits {
                    path: "b1".into(),
                    hits: 2
                },
                PathHits {
                    path: "b2".into(),
                    hits: 1
                }
            ]
        );
        assert!(v.explanation.contains("10 of 50 flows"), "{v}");
        assert!(v.explanation.contains("flow 10: b1×2, b2×1"), "{v}");
        assert!(v.explanation.contains("and 5 more"), "{v}");
    }

    #[test]
    fn repeated_flow_ids_are_merged() {
        let v = judge_affinity("a", [(7, ["x"]), (7, ["y"])]);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.explanation.contains("flow 7: x×1, y×1"));
    }

    #[test]
    fn empty_flow_is_an_offender_and_no_flows_is_broken() {
        let v = judge_affinity("a", [(1, vec!["x"]), (2, vec![])]);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.explanation.contains("flow 2: no path"), "{v}");
        let none: Vec<(u32, Vec<u32>)> = vec![];
        assert_eq!(judge_affinity("a", none).outcome, Outcome::Broken);
    }
}
