//! `retry`: run a command until it passes its expectations or the step's
//! time runs out; the failure reports the tries and the last try's output.

use super::run::{judge_output, start};
use super::{Ctx, Exec, WAIT_DEFAULT};
use crate::verdicts::{Problem, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::retry::Retry;
use std::time::Instant;

impl Exec for Retry {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let limit = step.timeout.unwrap_or(WAIT_DEFAULT);
        let t0 = Instant::now();
        let deadline = t0 + limit;
        let mut tries = 0u32;
        // The last try that ran to its end, and its failure.
        let mut last_failure: Option<(u32, Problem)> = None;
        loop {
            tries += 1;
            let mut p = start(cx, step, self.node.as_deref(), &self.cmd)?;
            // A try may use what is left of the step's time, not more.
            let left = deadline.saturating_duration_since(Instant::now());
            let status = p.wait_timeout(Some(left));
            p.finish();
            let judged = status.map(|_| judge_output(&self.cmd, &p, &step.expect));
            // Only the last try's process is kept (its log has the same name).
            let out_of_time = Instant::now() >= deadline;
            match judged {
                Some(Ok(())) => {
                    cx.procs.push(p);
                    return Ok((
                        format!(
                            "passed on try {tries} after {:.1} s",
                            t0.elapsed().as_secs_f64()
                        ),
                        vec![],
                    ));
                }
                Some(Err(problem)) => last_failure = Some((tries, problem)),
                // Cut by the deadline: the try before it tells more.
                None => {}
            }
            if out_of_time {
                cx.procs.push(p);
                let Some((n, Problem(state, msg, checks, v))) = last_failure else {
                    return Err(crate::verdicts::fail(format!(
                        "`{}` still running when the step's {limit:?} ran out; killed",
                        self.cmd
                    )));
                };
                return Err(Problem(
                    state,
                    format!("{tries} tries in {limit:?}; try {n}, the last to finish: {msg}"),
                    checks,
                    v,
                ));
            }
            // A daemon that died will not bring the awaited state: stop
            // waiting for it and say which.
            if let Some(why) = cx.dead_daemon() {
                cx.procs.push(p);
                return Err(crate::verdicts::fail(format!(
                    "{why}\n(gave up waiting after {tries} tries)"
                )));
            }
            let pause = self.every.min(deadline.saturating_duration_since(Instant::now()));
            std::thread::sleep(pause);
        }
    }
}
