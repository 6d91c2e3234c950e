//! `sleep`: wait a fixed time.

use super::{Ctx, Exec};
use crate::verdicts::StepOut;
use netrig_spec::scenario::Step;
use netrig_spec::steps::sleep::Sleep;

impl Exec for Sleep {
    fn exec(&self, _cx: &mut Ctx, _step: &Step) -> StepOut {
        std::thread::sleep(self.duration);
        Ok((String::new(), vec![]))
    }
}
