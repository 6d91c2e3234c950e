//! `replay`: send a capture file's frames out of an interface, at the file's
//! timing or back to back, with the MACs the step asks for.

use super::watch_frames::{send_and_judge, Sent};
use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::replay::{MacChoice, Replay, Timing};
use netrig_wire::frame::Frame;
use netrig_wire::replay::rewrite_macs;
use netrig_wire::{MacAddr, NoProgress, Pace, ReplayOptions, Sender};

impl Exec for Replay {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        send_and_judge(cx, step, |cx| replay(self, cx, super::send::wants_each(step)))
    }
}

/// Send the frames; with `each`, also say which frames left.
fn replay(r: &Replay, cx: &mut Ctx, each: bool) -> Result<Sent, crate::verdicts::Problem> {
    let opts = ReplayOptions {
        pace: match r.timing {
            Timing::Original { speed } => Pace::Recorded { speed },
            Timing::Fast => Pace::Fast,
        },
        count: r.count,
        duration: r.duration,
        src_mac: mac(cx, &r.src_mac)?,
        dst_mac: mac(cx, &r.dst_mac)?,
    };
    let at = &r.at;
    let st = cx
        .in_node(Some(&at.node), || {
            Sender::open(&at.iface)?.replay(
                r.frames.iter().map(|f| (f.t_ns, f.data.as_slice())),
                &opts,
                &mut NoProgress,
            )
        })?
        .map_err(|err| broken(format!("replaying {}: {err}", r.file.display())))?;
    let frames = if each {
        r.frames
            .iter()
            .take(usize::try_from(st.sent).unwrap_or(usize::MAX))
            .map(|f| (Frame::decode(&rewrite_macs(&f.data, &opts)), 1))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Sent {
        count: st.sent,
        summary: format!(
            "sent {} of {} frames ({} bytes) in {:.1} ms",
            st.sent,
            r.frames.len(),
            st.bytes,
            st.elapsed.as_secs_f64() * 1e3
        ),
        frames,
    })
}

/// The address a MAC choice stands for, read from the lab when it names an
/// interface (`None`: keep the file's).
fn mac(cx: &Ctx, choice: &MacChoice) -> Result<Option<MacAddr>, crate::verdicts::Problem> {
    match choice {
        MacChoice::Keep => Ok(None),
        MacChoice::Mac(m) => Ok(Some(*m)),
        MacChoice::Iface(p) => {
            // A packet socket bound to the interface reads its address.
            let m = cx
                .in_node(Some(&p.node), || Sender::open(&p.iface).map(|s| s.mac()))?
                .map_err(|err| broken(format!("reading the MAC of {p}: {err}")))?;
            Ok(Some(m))
        }
    }
}
