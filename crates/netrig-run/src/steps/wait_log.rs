//! `wait_log`: poll a daemon's output until it contains the pattern.

use super::{Ctx, Exec, WAIT_DEFAULT};
use crate::verdicts::{broken, fail, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::wait_log::WaitLog;
use std::time::{Duration, Instant};

impl Exec for WaitLog {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let (daemon, pattern) = (&self.daemon, self.pattern.as_str());
        let limit = step.timeout.unwrap_or(WAIT_DEFAULT);
        let deadline = Instant::now() + limit;
        // `new`: watches set now see only what comes after.
        let fresh = match self.new {
            false => None,
            true => Some(
                cx.daemons
                    .iter()
                    .find(|d| &d.rec.name == daemon)
                    .ok_or_else(|| broken(format!("no daemon named `{daemon}` was started")))?
                    .watch_new_output(pattern),
            ),
        };
        let seen = |d: &crate::procs::Proc| match fresh {
            Some(w) => d.new_output_contains(w),
            None => d.output_contains(pattern),
        };
        loop {
            let d = cx
                .daemons
                .iter_mut()
                .find(|d| &d.rec.name == daemon)
                .ok_or_else(|| broken(format!("no daemon named `{daemon}` was started")))?;
            if seen(d) {
                return Ok((String::new(), vec![]));
            }
            if let Some(st) = d.try_wait() {
                // One last look: output may trail the exit.
                std::thread::sleep(Duration::from_millis(20));
                if seen(d) {
                    return Ok((String::new(), vec![]));
                }
                return Err(fail(format!(
                    "daemon `{daemon}` exited ({st}) without printing `{pattern}`"
                )));
            }
            if Instant::now() >= deadline {
                return Err(fail(format!(
                    "`{pattern}` not in the output of `{daemon}` after {limit:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
