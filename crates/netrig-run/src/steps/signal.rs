//! `signal`: signal a daemon's process group; its exit is then expected.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::signal::{signal_name, Signal};

impl Exec for Signal {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        let i = cx
            .daemons
            .iter()
            .position(|d| d.rec.name == self.daemon)
            .ok_or_else(|| broken(format!("no daemon named `{}` was started", self.daemon)))?;
        if let Some(st) = cx.daemons[i].try_wait() {
            return Err(broken(format!(
                "daemon `{}` had already ended ({st}) before the signal",
                self.daemon
            )));
        }
        cx.may_exit.insert(self.daemon.clone());
        cx.daemons[i].signal_group(self.signal);
        Ok((
            format!("sent {} to {}", signal_name(self.signal), self.daemon),
            vec![],
        ))
    }
}
