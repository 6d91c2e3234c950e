//! `traffic`: send a flow from a node, observe it on every capture its
//! expectations name (crate::observe), and judge it (crate::verdicts).

use super::{open_tracepoint, sum_counter, Ctx, Exec};
use crate::observe::{HostWindow, Plan, Watch};
use crate::tplock::TracepointLock;
use crate::verdicts::{
    attribute_ratio, broken, group_indexes, judge_traffic, judged, watched_paths, Observation,
    StepOut,
};
use netrig_judge::{judge_ratio, RatioBounds, Verdict};
use netrig_spec::expect::{Check, IfacePath};
use netrig_spec::scenario::Step;
use netrig_spec::steps::traffic::Traffic;
use netrig_wire::{Match, NoProgress, Sender};
use std::time::{Duration, Instant};

impl Exec for Traffic {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let e = &step.expect;
        let (from, dev) = (self.from.as_str(), self.dev.as_str());
        // The flow `netrig check` validated, built by the same code.
        let spec = self.flow(&cx.lab()?.topo, e).map_err(broken)?;

        // A tracepoint window: exclusive of other cases' traffic (see
        // TracepointLock), opened before anything is sent.
        let (lock, counter, ratio_base) = match &e.ratio {
            Some(r) => {
                let mut terms = Vec::new();
                if let Some(p) = &r.iif {
                    let p = IfacePath::parse(p).map_err(broken)?;
                    let idx = cx
                        .lab()?
                        .ifindex(&p.node, &p.iface)
                        .map_err(|err| broken(err.to_string()))?;
                    terms.push(format!("iif == {idx}"));
                }
                if let Some(t) = r.table {
                    terms.push(format!("tb_id == {t}"));
                }
                let filter = (!terms.is_empty()).then(|| terms.join(" && "));
                let c = open_tracepoint(&r.tracepoint, filter.as_deref())?;
                let lock = TracepointLock::exclusive();
                let counter = r.counter.as_deref().unwrap_or("tx_packets");
                let before = sum_counter(cx.lab_mut()?, &r.per, counter)?;
                (lock, Some(c), before)
            }
            None => (TracepointLock::shared(), None, 0),
        };
        // Every `node:iface` an expectation names gets a capture, drained
        // from before the first packet is sent until the path settles.
        let paths = watched_paths(e);
        let flow = Match::of_flow(&spec);
        let mut watch = if paths.is_empty() {
            None
        } else {
            let plan = Plan {
                groups: group_indexes(e, &paths),
                received: e
                    .received
                    .iter()
                    .flatten()
                    .filter_map(|(p, min)| Some((paths.iter().position(|q| q == p)?, *min)))
                    .collect(),
                flow: Some(flow.clone()),
                frames: Vec::new(),
                tagged: spec.tag.is_some(),
                paths,
            };
            let ring = cx.capture_ring.clone();
            Some(Watch::start(cx.lab_mut()?, plan, &ring)?)
        };
        let ratio_window = match &counter {
            Some(c) => {
                let w = HostWindow::open(cx.lab_mut()?)?;
                c.start()
                    .map_err(|err| broken(format!("starting {}: {err}", c.name())))?;
                Some(w)
            }
            None => None,
        };
        let t_send = Instant::now();
        let stats = cx
            .lab()?
            .run_in(from, || {
                Sender::open(dev).and_then(|mut s| s.send_flow(&spec, &mut NoProgress))
            })
            .map_err(|err| broken(err.to_string()))?
            .map_err(|err| broken(format!("sending: {err}")))?;
        let send_time = t_send.elapsed();
        let observed = match watch.as_mut() {
            Some(w) => Some(w.settle(cx.lab_mut()?, stats.sent, send_time)),
            None => None,
        };
        let summary = format!(
            "sent {} packets in {:.1} ms ({:.1} ms with neighbour resolution)",
            stats.sent,
            stats.elapsed.as_secs_f64() * 1e3,
            send_time.as_secs_f64() * 1e3,
        );
        let mut ratio = None;
        if let (Some(r), Some(c)) = (&e.ratio, &counter) {
            let name = r.counter.as_deref().unwrap_or("tx_packets");
            // Forwarding runs on after the sender returns (softirq, NAPI):
            // wait until the counters stand still before closing the window.
            let mut last = ratio_base;
            let mut still_since = Instant::now();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                std::thread::sleep(Duration::from_millis(20));
                let now = sum_counter(cx.lab_mut()?, &r.per, name)?;
                if now != last {
                    last = now;
                    still_since = Instant::now();
                } else if still_since.elapsed() >= Duration::from_millis(100)
                    || Instant::now() >= deadline
                {
                    break;
                }
            }
            let hits = c
                .stop()
                .map_err(|err| broken(format!("reading {}: {err}", c.name())))?;
            let outside = match &ratio_window {
                Some(w) => w.received_outside_lab(cx.lab_mut()?)?,
                None => None,
            };
            let exclusive = lock.held();
            let bounds = RatioBounds {
                min: r.min,
                max: r.max,
            };
            let mut v = judge_ratio(
                &step.name,
                (
                    &format!(
                        "{} hits{}{}",
                        r.tracepoint,
                        r.iif
                            .as_ref()
                            .map(|p| format!(" with iif {p}"))
                            .unwrap_or_default(),
                        r.table
                            .map(|t| format!(" in table {t}"))
                            .unwrap_or_default()
                    ),
                    hits,
                ),
                (&format!("{name} on {}", r.per.join("+")), last - ratio_base),
                bounds,
            )
            .map_err(|err| broken(format!("ratio check: {err}")))?;
            v.explanation.push_str(&format!(
                " (tracepoints fire host-wide; window {} other netrig traffic)",
                if exclusive {
                    "exclusive of"
                } else {
                    "NOT exclusive of"
                }
            ));
            ratio = Some(attribute_ratio(v, outside));
        }
        drop(lock);
        let ratio: Vec<(Check, Verdict)> = ratio.map(|v| (Check::Ratio, v)).into_iter().collect();
        match (watch, observed) {
            (Some(w), Some(ending)) => {
                let (captures, host) = w.finish(cx.lab_mut()?)?;
                let obs = Observation {
                    sent: stats.sent,
                    captures,
                    host,
                    ending,
                };
                let stream = spec.tag.map(|t| t.stream);
                let out = judge_traffic(&step.name, e, &flow, stream, &obs, summary, ratio);
                if out.is_err() {
                    cx.keep_step_pcaps(step, &obs.captures);
                }
                out
            }
            _ => judged(summary, ratio, Vec::new()),
        }
    }
}
