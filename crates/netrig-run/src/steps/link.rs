//! `link`: set an interface up or down.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::link::Link;

impl Exec for Link {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        cx.lab_mut()?
            .set_link(&self.at.node, &self.at.iface, self.up)
            .map_err(|err| broken(err.to_string()))?;
        Ok((String::new(), vec![]))
    }
}
