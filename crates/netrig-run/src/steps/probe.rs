//! `probe`: connections (or datagrams) to a service, counted per server
//! that answered; split and affinity are judged over server names.

use super::{Ctx, Exec};
use crate::observe::HostWindow;
use crate::tplock::TracepointLock;
use crate::verdicts::{
    affinity_of_flows, broken, host_explains, judged, split_of_flows, FlowPaths, StepOut,
};
use netrig_spec::expect::Check;
use netrig_spec::scenario::Step;
use netrig_spec::steps::probe::Probe;
use netrig_wire::{probe_client, PortRange, ProbeClientOptions, ProbeOutcome, ProbeProto};

impl Exec for Probe {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let e = &step.expect;
        let (from, to, udp, count, src_port, rounds) = (
            self.from.as_str(),
            self.to,
            self.udp,
            self.count,
            self.src_port,
            self.rounds,
        );
        let mut opts = ProbeClientOptions::new(
            to,
            if udp {
                ProbeProto::Udp
            } else {
                ProbeProto::Tcp
            },
            count,
        );
        if let Some(p) = src_port {
            let end = u16::try_from(u32::from(p) + count - 1)
                .map_err(|_| broken("source ports run past 65535"))?;
            opts.src_ports = PortRange::new(p, end);
        }
        let _lock = TracepointLock::shared();
        let window = HostWindow::open(cx.lab_mut()?)?;
        // Round r probes the same source ports again: each port is one flow,
        // so every round must reach the same server (affinity).
        let mut reports = Vec::new();
        for _ in 0..rounds {
            let rep = cx
                .in_node(Some(from), || probe_client(&opts))?
                .map_err(|err| broken(format!("probe {to}: {err}")))?;
            reports.push(rep);
        }
        let host = window.close(cx.lab_mut()?)?;
        let mut all = netrig_wire::ProbeReport::default();
        for r in &reports {
            all.records.extend(r.records.iter().cloned());
        }
        let summary = if rounds > 1 {
            format!("{rounds} rounds, {all}")
        } else {
            all.to_string()
        };
        let summary = format!("{summary}\n{}", host.consulted(&[]));
        let mut failures: Vec<(Check, String)> = Vec::new();
        let want = e.answered.unwrap_or(u64::from(count) * u64::from(rounds));
        if all.answered() < want {
            let short = format!("{} answered, expected at least {want}", all.answered());
            if let Some(p) = host_explains(&host, &short) {
                return Err(p);
            }
            failures.push((Check::Answered, short));
        }
        if let Some(max) = e.resets {
            if all.resets() > max {
                failures.push((
                    Check::Resets,
                    format!(
                        "{} connections reset after being established, at most {max} allowed",
                        all.resets()
                    ),
                ));
            }
        }
        // Flow (source port) -> servers that answered it, over all rounds.
        let mut flows = FlowPaths::new();
        for r in &all.records {
            let slot = flows.entry(format!("sport {}", r.src_port)).or_default();
            if let ProbeOutcome::Answered(n) = &r.outcome {
                slot.insert(n.clone());
            }
        }
        let mut verdicts = Vec::new();
        if let Some(s) = &e.split {
            // Distinct flows per server: with rounds, a flow counts once.
            verdicts.push((Check::Split, split_of_flows(&step.name, &flows, s)?));
        }
        if let Some(over) = &e.affinity {
            // A server outside `over` counts as a path of its own, so an
            // answer from elsewhere breaks affinity.
            let v = affinity_of_flows(&step.name, &flows, None);
            let strays: Vec<&String> = flows
                .values()
                .flatten()
                .filter(|n| !over.contains(n))
                .collect();
            if !strays.is_empty() {
                failures.push((
                    Check::Affinity,
                    format!(
                        "answers from servers outside {}: {}",
                        over.join(", "),
                        strays
                            .iter()
                            .take(netrig_judge::MAX_LISTED)
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            verdicts.push((Check::Affinity, v));
        }
        judged(summary, verdicts, failures)
    }
}
