//! `daemon`: a process left running until the case ends.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::daemon::Daemon;

impl Exec for Daemon {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        let p = cx
            .start_daemon(self.node.as_deref(), &self.name, "sh", &["-c", &self.cmd])
            .map_err(broken)?;
        cx.daemons.push(p);
        if self.may_exit {
            cx.may_exit.insert(self.name.clone());
        }
        Ok((String::new(), vec![]))
    }
}
