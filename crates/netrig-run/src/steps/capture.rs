//! `capture`: capture on an interface until the case ends (kept as pcapng
//! by [`Ctx::teardown`] when the case does not pass, or always with `keep`).

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::capture::Capture;
use netrig_wire::CaptureOptions;

impl Exec for Capture {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        let at = &self.at;
        let cap = cx
            .in_node(Some(&at.node), || {
                netrig_wire::Capture::open(Some(&at.iface), CaptureOptions::default())
            })?
            .map_err(|err| broken(format!("capture on {at}: {err}")))?;
        cx.captures
            .push((format!("{}-{}", at.node, at.iface), cap, self.keep));
        Ok((String::new(), vec![]))
    }
}
