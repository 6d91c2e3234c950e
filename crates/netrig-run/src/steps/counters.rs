//! `counters`: read an interface's counters and check bounds on them (or
//! on their change since a saved set).

use super::{counter_map, Ctx, Exec};
use crate::result::State;
use crate::verdicts::{broken, Problem, StepOut};
use netrig_lab::LinkStats;
use netrig_spec::expect::Check;
use netrig_spec::scenario::Step;
use netrig_spec::steps::counters::Counters;

impl Exec for Counters {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let e = &step.expect;
        let now = cx
            .lab_mut()?
            .link_stats(&self.at.node, &self.at.iface)
            .map_err(|err| broken(err.to_string()))?;
        let base = match &self.since {
            None => LinkStats::default(),
            Some(s) => *cx
                .saved
                .get(s)
                .ok_or_else(|| broken(format!("no counters saved as `{s}`")))?,
        };
        if let Some(s) = &self.save {
            cx.saved.insert(s.clone(), now);
        }
        // Counter names were checked by `netrig check` (expect::COUNTERS).
        let vals = counter_map(&now, &base);
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
