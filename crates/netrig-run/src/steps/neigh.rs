//! `neigh`: set or delete a neighbour entry over netlink.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::neigh::Neigh;

impl Exec for Neigh {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        cx.lab_mut()?
            .set_neighbor(&self.at.node, &self.at.iface, self.addr, self.mac)
            .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
        Ok((String::new(), vec![]))
    }
}
