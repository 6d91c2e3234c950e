//! `impair`: change a running link's impairment.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::impair::Impair;

impl Exec for Impair {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        cx.lab_mut()?
            .set_impairment(
                &self.at.node,
                &self.at.iface,
                self.sends.as_ref(),
                self.receives.as_ref(),
            )
            .map_err(|err| broken(err.to_string()))?;
        Ok((String::new(), vec![]))
    }
}
