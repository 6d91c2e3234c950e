//! `wait_log`: poll a daemon's output until it contains the pattern (or a
//! line matches it, with `regex = true`).

use super::{Ctx, Exec, WAIT_DEFAULT};
use crate::procs::Pattern;
use crate::verdicts::{broken, fail, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::wait_log::WaitLog;
use std::time::{Duration, Instant};

impl Exec for WaitLog {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let (daemon, pattern) = (&self.daemon, self.pattern.as_str());
        let wanted = if self.regex {
            // Checked when the file was read; an error here is netrig's.
            let re = netrig_spec::steps::wait_log::line_regex(pattern)
                .map_err(|e| broken(format!("pattern `{pattern}`: {e}")))?;
            Pattern::Line(re)
        } else {
            Pattern::Substring(pattern.to_string())
        };
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
                    .watch_new_output(&wanted),
            ),
        };
        let seen = |d: &crate::procs::Proc| match fresh {
            Some(w) => d.new_output_contains(w),
            None => d.output_contains(&wanted),
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
