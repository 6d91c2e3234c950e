//! `ping`: ICMP echo from a node; missing replies the host itself dropped
//! make the step broken, not failed.

use super::{Ctx, Exec};
use crate::observe::HostWindow;
use crate::tplock::TracepointLock;
use crate::verdicts::{broken, fail_by, host_explains, StepOut};
use netrig_spec::expect::Check;
use netrig_spec::scenario::Step;
use netrig_spec::steps::ping::Ping;
use netrig_wire::PingOptions;
use std::time::Duration;

impl Exec for Ping {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let e = &step.expect;
        let opts = PingOptions {
            count: self.count,
            interval: Duration::from_millis(10),
            // Positive pings wait past the kernel's 1 s ARP/ND retransmit,
            // as iputils would (-W 10): a first request lost while a lab
            // settles is retried by the neighbour layer, not a failure.
            timeout: Duration::from_millis(if e.reachable == Some(false) {
                300
            } else {
                2500
            }),
            deadline: Duration::from_secs(5),
            ..PingOptions::default()
        };
        let want = e.reachable.unwrap_or(true);
        let _lock = TracepointLock::shared();
        let window = match cx.lab.as_mut() {
            Some(lab) => Some(HostWindow::open(lab)?),
            None => None,
        };
        let mut msgs = Vec::new();
        for ip in &self.to {
            let r = cx
                .in_node(self.from.as_deref(), || netrig_wire::ping(*ip, &opts))?
                .map_err(|err| broken(format!("ping {ip}: {err}")))?;
            let got = r.received;
            msgs.push(format!("{ip}: {}/{} answered", got, r.sent));
            if want && got < r.sent {
                if let (Some(w), Some(lab)) = (&window, cx.lab.as_mut()) {
                    let host = w.close(lab)?;
                    let short = format!("ping {ip}: {got}/{} answered", r.sent);
                    if let Some(p) = host_explains(&host, &short) {
                        return Err(p);
                    }
                }
                return Err(fail_by(
                    Check::Reachable,
                    format!(
                        "ping {ip}: {got}/{} answered{}",
                        r.sent,
                        if r.errors.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", r.errors.join("; "))
                        }
                    ),
                ));
            }
            if !want && got > 0 {
                return Err(fail_by(
                    Check::Reachable,
                    format!("ping {ip}: {got}/{} answered, expected none", r.sent),
                ));
            }
        }
        Ok((msgs.join(", "), vec![]))
    }
}
