//! `replay`: send a capture file's frames out of an interface, at the file's
//! timing or back to back, with the MACs the step asks for.

use super::watch_frames::{send_and_judge, Sent};
use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::replay::{MacChoice, Replay, Timing};
use netrig_wire::frame::Frame;
use netrig_wire::{MacAddr, Sender};
use std::time::{Duration, Instant};

impl Exec for Replay {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        send_and_judge(cx, step, |cx| replay(self, cx, super::send::wants_each(step)))
    }
}

/// Send the frames; with `each`, also say which frames left.
fn replay(r: &Replay, cx: &mut Ctx, each: bool) -> Result<Sent, crate::verdicts::Problem> {
    let src = mac(cx, &r.src_mac)?;
    let dst = mac(cx, &r.dst_mac)?;
    let limit = r
        .count
        .map_or(r.frames.len(), |c| c.min(r.frames.len() as u64) as usize);
    let frames: Vec<Vec<u8>> = r.frames[..limit]
        .iter()
        .map(|f| {
            let mut d = f.data.clone();
            if let Some(m) = dst {
                d[0..6].copy_from_slice(&m.0);
            }
            if let Some(m) = src {
                d[6..12].copy_from_slice(&m.0);
            }
            d
        })
        .collect();
    let at = &r.at;
    let (sent, bytes, elapsed) = cx
        .in_node(Some(&at.node), || {
            let mut s = Sender::open(&at.iface)?;
            let start = Instant::now();
            let (mut sent, mut bytes) = (0u64, 0u64);
            match r.timing {
                Timing::Fast => {
                    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                    // Bounded by `duration` in batches, so a large file
                    // stops close to it.
                    for chunk in refs.chunks(64) {
                        if r.duration.is_some_and(|d| start.elapsed() >= d) {
                            break;
                        }
                        let st = s.send_frames(chunk)?;
                        sent += st.sent;
                        bytes += st.bytes;
                    }
                }
                Timing::Original { speed } => {
                    for (f, data) in r.frames.iter().zip(&frames) {
                        let due = Duration::from_nanos(
                            (f.t_ns.max(0) as f64 / speed).min(u64::MAX as f64) as u64,
                        );
                        if r.duration.is_some_and(|d| due >= d) {
                            break;
                        }
                        // Late frames (a busy host) leave at once: the
                        // gaps after them keep the file's schedule.
                        if let Some(wait) = due.checked_sub(start.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        let st = s.send_frames(&[data.as_slice()])?;
                        sent += st.sent;
                        bytes += st.bytes;
                    }
                }
            }
            Ok::<_, netrig_wire::WireError>((sent, bytes, start.elapsed()))
        })?
        .map_err(|err| broken(format!("replaying {}: {err}", r.file.display())))?;
    let frames = if each {
        frames
            .iter()
            .take(usize::try_from(sent).unwrap_or(usize::MAX))
            .map(|f| (Frame::decode(f), 1))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Sent {
        count: sent,
        summary: format!(
            "sent {sent} of {} frames ({bytes} bytes) in {:.1} ms",
            r.frames.len(),
            elapsed.as_secs_f64() * 1e3
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
