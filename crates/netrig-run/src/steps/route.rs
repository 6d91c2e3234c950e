//! `route`: replace a route of a node.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::route::Route;

impl Exec for Route {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        cx.lab_mut()?
            .replace_route(&self.route)
            .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
        Ok((String::new(), vec![]))
    }
}
