//! `send`: frames built from layers, sent out of a node's interface, with
//! what arrives where checked by `expect.packets`.

use super::watch_frames::{send_and_judge, Sent};
use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::send::SendFrames;
use netrig_wire::frame::Frame;
use netrig_wire::Sender;

impl Exec for SendFrames {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        // The frames `netrig check` validated, parsed by the same code.
        let spec = self.frames().map_err(broken)?;
        let (count, interval) = (self.count, self.interval);
        send_and_judge(cx, step, |cx| {
            let (stats, mac) = cx
                .lab()?
                .run_in(&self.from, || {
                    Sender::open(&self.dev).and_then(|mut s| {
                        s.send_frame_spec(&spec, count, interval)
                            .map(|st| (st, s.mac()))
                    })
                })
                .map_err(|err| broken(err.to_string()))?
                .map_err(|err| broken(format!("sending on {}:{}: {err}", self.from, self.dev)))?;
            // What left, frame by frame, for `each` (at most MAX_EACH): the
            // combinations in order, repeated or cut short by `count`.
            let wire = spec.with_source_mac(mac);
            let combos = wire.combinations().max(1);
            let distinct = if wants_each(step) {
                combos.min(u128::from(stats.sent))
            } else {
                0
            };
            let frames = (0..distinct)
                .map(|i| {
                    let reps = u128::from(stats.sent) / combos
                        + u128::from(i < u128::from(stats.sent) % combos);
                    (
                        Frame::decode(&wire.frame(i).build()),
                        u64::try_from(reps).unwrap_or(u64::MAX),
                    )
                })
                .collect();
            Ok(Sent {
                count: stats.sent,
                summary: format!(
                    "sent {} frames ({} bytes) in {:.1} ms",
                    stats.sent,
                    stats.bytes,
                    stats.elapsed.as_secs_f64() * 1e3
                ),
                frames,
            })
        })
    }
}

/// Whether the step has an `each` expectation (which needs the frames sent).
pub(super) fn wants_each(step: &Step) -> bool {
    step.expect
        .packets
        .iter()
        .flatten()
        .any(|p| p.each.is_some())
}
