//! `expect.packets` of a step that sends frames (`send`, `replay`): the
//! captures it needs open before the first frame leaves, drained while the
//! step sends, and closed when the path has settled (crate::observe, as a
//! traffic step); then judged (crate::verdicts::packets).

use super::Ctx;
use crate::observe::{FrameWant, Plan, Watch};
use crate::verdicts::packets::judge_packets;
use crate::verdicts::{broken, Observation, Problem, StepOut};
use netrig_spec::scenario::Step;
use netrig_wire::frame::Frame;
use std::time::Instant;

/// What a step's sending did: how many frames left, its summary line, and
/// every different frame sent (as the wire carries it) with how many times.
pub(super) struct Sent {
    pub count: u64,
    pub summary: String,
    pub frames: Vec<(Frame, u64)>,
}

/// Run `send` with `step`'s `expect.packets` observed, and judge them; a
/// step without them just sends.
pub(super) fn send_and_judge(
    cx: &mut Ctx,
    step: &Step,
    send: impl FnOnce(&mut Ctx) -> Result<Sent, Problem>,
) -> StepOut {
    let wants = match &step.expect.packets {
        Some(w) if !w.is_empty() => w.clone(),
        _ => return send(cx).map(|s| (s.summary, vec![])),
    };
    // The `at` paths first, then (for `only`) every other interface of
    // the topology: what "elsewhere" means.
    let mut paths: Vec<String> = Vec::new();
    for w in &wants {
        if !paths.contains(&w.at) {
            paths.push(w.at.clone());
        }
    }
    if wants.iter().any(|w| w.only) {
        let topo = &cx.lab()?.topo;
        for n in &topo.nodes {
            for i in topo.ifaces_of(&n.name) {
                let p = format!("{}:{}", n.name, i.name);
                if !paths.contains(&p) {
                    paths.push(p);
                }
            }
        }
    }
    let mut frames = Vec::new();
    for w in &wants {
        let pattern = w.parsed().map_err(|e| broken(format!("expect.packets: {e}")))?;
        let cap = paths.iter().position(|p| *p == w.at);
        frames.push(FrameWant {
            cap,
            pattern: pattern.shape(),
            min: w.bounds().map(|(lo, _)| lo),
        });
        if w.only {
            frames.push(FrameWant {
                cap: None,
                pattern: pattern.shape(),
                min: Some(0),
            });
        }
    }
    let plan = Plan {
        paths,
        groups: Vec::new(),
        received: Vec::new(),
        flow: None,
        frames,
        tagged: false,
    };
    let ring = cx.capture_ring.clone();
    let mut watch = Watch::start(cx.lab_mut()?, plan, &ring)?;
    let t_send = Instant::now();
    let sent = send(cx)?;
    let send_time = t_send.elapsed();
    let ending = watch.settle(cx.lab_mut()?, sent.count, send_time);
    let (captures, host) = watch.finish(cx.lab_mut()?)?;
    let obs = Observation {
        sent: sent.count,
        captures,
        host,
        ending,
    };
    let out = judge_packets(&wants, &sent.frames, &obs, sent.summary);
    if out.is_err() {
        cx.keep_step_pcaps(step, &obs.captures);
    }
    out
}
