//! `send`: frames built from layers, sent out of a node's interface.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::send::SendFrames;
use netrig_wire::Sender;

impl Exec for SendFrames {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        // The frames `netrig check` validated, parsed by the same code.
        let spec = self.frames().map_err(broken)?;
        let (count, interval) = (self.count, self.interval);
        let stats = cx
            .lab()?
            .run_in(&self.from, || {
                Sender::open(&self.dev).and_then(|mut s| s.send_frame_spec(&spec, count, interval))
            })
            .map_err(|err| broken(err.to_string()))?
            .map_err(|err| broken(format!("sending on {}:{}: {err}", self.from, self.dev)))?;
        Ok((
            format!(
                "sent {} frames ({} bytes) in {:.1} ms",
                stats.sent,
                stats.bytes,
                stats.elapsed.as_secs_f64() * 1e3
            ),
            vec![],
        ))
    }
}
