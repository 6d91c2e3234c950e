//! `counters`: read an interface's counters and check bounds on them (or
//! on their change since a saved set).

use super::{counter_map, Ctx, Exec};
use crate::result::State;
use crate::verdicts::{broken, Problem, StepOut};
use netrig_lab::LinkStats;
use std::collections::BTreeMap;
use netrig_spec::expect::Check;
use netrig_spec::scenario::Step;
use netrig_spec::steps::counters::Counters;

impl Exec for Counters {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let e = &step.expect;
        let lab = cx.lab_mut()?;
        let stats = lab
            .link_stats(&self.at.node, &self.at.iface)
            .map_err(|err| broken(err.to_string()))?;
        let mut now = counter_map(&stats, &LinkStats::default());
        // On an end of an impaired link: what the link did with what this
        // end sent.
        if let Ok((info, [sent, _])) = lab.impairment_stats(&self.at.node, &self.at.iface) {
            // netem does not count these (netrig-lab's netem.rs): they read
            // 0 on a netem link, so a bound on one cannot be judged there.
            const NOT_COUNTED_BY_NETEM: [&str; 5] = [
                "impair_queue_dropped",
                "impair_duplicated",
                "impair_reordered",
                "impair_corrupted",
                "impair_delayed",
            ];
            let bounded = e.min.iter().chain(e.max.iter()).flat_map(|m| m.keys());
            if info.engine == "netem" {
                if let Some(k) = bounded
                    .into_iter()
                    .find(|k| NOT_COUNTED_BY_NETEM.contains(&k.as_str()))
                {
                    return Err(broken(format!(
                        "{}: {k} is not counted by netem, the engine of this link \
                         (engine = \"userspace\" counts it)",
                        self.at
                    )));
                }
            }
            now.extend([
                ("impair_sent", sent.sent),
                ("impair_delivered", sent.delivered),
                ("impair_lost", sent.dropped_loss),
                ("impair_queue_dropped", sent.dropped_queue),
                ("impair_duplicated", sent.duplicated),
                ("impair_reordered", sent.reordered),
                ("impair_corrupted", sent.corrupted),
                ("impair_delayed", sent.delayed),
            ]);
        }
        let base = match &self.since {
            None => BTreeMap::new(),
            Some(s) => cx
                .saved
                .get(s)
                .cloned()
                .ok_or_else(|| broken(format!("no counters saved as `{s}`")))?,
        };
        if let Some(s) = &self.save {
            cx.saved.insert(s.clone(), now.clone());
        }
        // Counter names were checked by `netrig check` (expect::COUNTERS,
        // IMPAIR_COUNTERS).
        let vals: BTreeMap<&str, u64> = now
            .iter()
            .map(|(k, v)| (*k, v.saturating_sub(base.get(k).copied().unwrap_or(0))))
            .collect();
        let mut bad = Vec::new();
        let mut which = Vec::new();
        for (k, min) in e.min.iter().flatten() {
            if let Some(v) = vals.get(k.as_str()).filter(|v| *v < min) {
                bad.push(format!("{k} = {v} < {min}"));
                which.push(Check::Min);
            }
        }
        for (k, max) in e.max.iter().flatten() {
            if let Some(v) = vals.get(k.as_str()).filter(|v| *v > max) {
                bad.push(format!("{k} = {v} > {max}"));
                which.push(Check::Max);
            }
        }
        let shown = format!(
            "rx_packets={} tx_packets={}",
            vals["rx_packets"], vals["tx_packets"]
        );
        if bad.is_empty() {
            return Ok((shown, vec![]));
        }
        which.dedup();
        Err(Problem(
            State::Fail,
            format!("{}: {}", self.at, bad.join(", ")),
            which,
            Vec::new(),
        ))
    }
}
