//! Judging `expect.packets` of a `send` or `replay` step from what its
//! captures saw: counts of frames matching a pattern, "nothing elsewhere",
//! and transforms of every frame sent. A failure shows the closest captured
//! frame beside what was expected, field by field, as PTF's Mask
//! verification does.

use super::{broken, judged, Check, Ending, Observation, PathCapture, StepOut};
use netrig_spec::expect::PacketsExpect;
use netrig_wire::frame::{Frame, FramePattern, Row};
use std::collections::HashMap;

/// Judge `wants` over `obs`: its captures are the `at` paths of `wants`
/// and then the other interfaces (`only`). `sent` is every different frame
/// the step sent, as the wire carries it, with how many times.
pub(crate) fn judge_packets(
    wants: &[PacketsExpect],
    sent: &[(Frame, u64)],
    obs: &Observation,
    summary: String,
) -> StepOut {
    if let Some(p) = super::incomplete(obs, &summary) {
        return Err(p);
    }
    let consulted = obs.host.consulted(&obs.captures);
    let decoded: Vec<Vec<Frame>> = obs
        .captures
        .iter()
        .map(|c| c.packets.iter().map(|p| Frame::decode(&p.data)).collect())
        .collect();
    let at_paths: Vec<&str> = wants.iter().map(|w| w.at.as_str()).collect();
    let mut failures: Vec<(Check, String)> = Vec::new();
    let mut lines = vec![summary, format!("{}; {consulted}", obs.ending)];
    // Fewer frames than expected: the machine's drops or an unsettled
    // path may explain it; more, or the wrong ones, they cannot.
    let mut short = false;
    for w in wants {
        let pattern = match w.parsed() {
            Ok(p) => p,
            Err(e) => return Err(broken(format!("expect.packets at {}: {e}", w.at))),
        };
        let Some(ci) = obs.captures.iter().position(|c| c.path == w.at) else {
            return Err(broken(format!("no capture on {}", w.at)));
        };
        let shown = w.pattern.as_deref().or(w.each.as_deref()).unwrap_or("");
        match w.bounds() {
            Some((lo, hi)) => {
                let n = decoded[ci].iter().filter(|f| pattern.matches(f)).count() as u64;
                let want = match hi {
                    Some(h) if h == lo => format!("exactly {lo}"),
                    _ => format!("at least {lo}"),
                };
                if n < lo || hi.is_some_and(|h| n > h) {
                    short |= n < lo;
                    let mut m = format!("{}: {n} frames match `{shown}`, expected {want}", w.at);
                    if n < lo {
                        m.push_str(&closest(&pattern, &decoded, obs, ci, None));
                    }
                    failures.push((Check::Packets, m));
                } else {
                    lines.push(format!("{}: {n} frames match `{shown}` ({want})", w.at));
                }
            }
            None => match each(&pattern, sent, &decoded, obs, ci) {
                Ok(total) => lines.push(format!(
                    "{}: each of {total} frames sent arrived as `{shown}`",
                    w.at
                )),
                Err((missing, total, report)) => {
                    short = true;
                    failures.push((
                        Check::Packets,
                        format!(
                            "{}: {missing} of {total} frames sent did not arrive as `{shown}`{report}",
                            w.at
                        ),
                    ));
                }
            },
        }
        if w.only {
            let shape = pattern.shape();
            let mut leaks = Vec::new();
            let mut example = None;
            for (c, frames) in obs.captures.iter().zip(&decoded) {
                if at_paths.contains(&c.path.as_str()) {
                    continue;
                }
                // Received there: a frame an interface sends also shows
                // on it, and is received by its peer, where it counts.
                let n = c
                    .packets
                    .iter()
                    .zip(frames)
                    .filter(|(p, f)| !p.pkttype.is_outgoing() && shape.matches(f))
                    .inspect(|(p, _)| {
                        example.get_or_insert_with(|| {
                            format!("{}: {}", c.path, netrig_wire::summary(&p.data))
                        });
                    })
                    .count();
                if n > 0 {
                    leaks.push(format!("{} received {n}", c.path));
                }
            }
            if leaks.is_empty() {
                lines.push(format!(
                    "{}: no other interface of the lab received a frame matching `{shown}` ({} watched)",
                    w.at,
                    obs.captures.len() - at_paths_len(obs, &at_paths)
                ));
            } else {
                failures.push((
                    Check::Packets,
                    format!(
                        "only {}: frames matching `{shown}` arrived elsewhere: {}; e.g. {}",
                        at_paths.join(", "),
                        leaks.join(", "),
                        example.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    if short && !failures.is_empty() {
        if obs.host.total() > 0 {
            return Err(broken(format!(
                "{}, but the host itself dropped {} packets during the step, so the loss cannot be blamed on the system under test\n{}",
                failures[0].1,
                obs.host.total(),
                lines.join("\n")
            )));
        }
        if let Ending::Unsettled { .. } = obs.ending {
            return Err(broken(format!(
                "{}, and the {}: they may still be on their way\n{}",
                failures[0].1,
                obs.ending,
                lines.join("\n")
            )));
        }
    }
    judged(lines.join("\n"), Vec::new(), failures)
}

fn at_paths_len(obs: &Observation, at: &[&str]) -> usize {
    obs.captures
        .iter()
        .filter(|c| at.contains(&c.path.as_str()))
        .count()
}

/// Pair every frame sent with a frame captured at `ci` that has its
/// payload and matches the transform resolved against it. `Ok(total)`, or
/// how many found no such frame, of how many, and the report of the first.
fn each(
    pattern: &FramePattern,
    sent: &[(Frame, u64)],
    decoded: &[Vec<Frame>],
    obs: &Observation,
    ci: usize,
) -> Result<u64, (u64, u64, String)> {
    let here = &decoded[ci];
    let mut by_payload: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, f) in here.iter().enumerate() {
        by_payload.entry(f.payload()).or_default().push(i);
    }
    let mut used = vec![false; here.len()];
    let (mut total, mut missing) = (0u64, 0u64);
    let mut report = String::new();
    for (k, (frame, reps)) in sent.iter().enumerate() {
        total += reps;
        let want = match pattern.expected_for(frame) {
            Ok(w) => w,
            Err(e) => {
                missing += reps;
                if report.is_empty() {
                    report = format!("\nframe {} sent: {frame}\n{e}", k + 1);
                }
                continue;
            }
        };
        let same: &[usize] = by_payload.get(frame.payload()).map_or(&[], Vec::as_slice);
        for _ in 0..*reps {
            match same.iter().find(|&&i| !used[i] && want.matches(&here[i])) {
                Some(&i) => used[i] = true,
                None => {
                    missing += 1;
                    if report.is_empty() {
                        report = format!(
                            "\nframe {} sent: {}{}",
                            k + 1,
                            netrig_wire::summary(&frame.build()),
                            closest(&want, decoded, obs, ci, Some((frame.payload(), &used)))
                        );
                    }
                }
            }
        }
    }
    if missing == 0 {
        Ok(total)
    } else {
        Err((missing, total, report))
    }
}

/// The captured frame nearest to `pattern`, beside it field by field: at
/// capture `ci` (one with `payload` first, if given, and not yet paired),
/// else anywhere. Fewest differing layers first, then fewest fields;
/// frames that match are left out.
fn closest(
    pattern: &FramePattern,
    decoded: &[Vec<Frame>],
    obs: &Observation,
    ci: usize,
    payload: Option<(&[u8], &[bool])>,
) -> String {
    let score = |f: &Frame| {
        let rows = pattern.rows(f);
        let layers = rows
            .iter()
            .filter(|r| !r.ok && r.field.starts_with("layer "))
            .count();
        (layers, rows.iter().filter(|r| !r.ok).count())
    };
    // A frame that matches is not what is missing (it was counted, or
    // paired with another frame sent).
    let best_of = |cands: &mut dyn Iterator<Item = (usize, usize)>| {
        cands
            .map(|(c, i)| (score(&decoded[c][i]), (c, i)))
            .filter(|(s, _)| s.1 > 0)
            .min_by_key(|(s, _)| *s)
            .map(|(_, p)| p)
    };
    let (what, pick) = match payload {
        Some((pl, used)) => {
            let same = best_of(
                &mut (0..decoded[ci].len())
                    .filter(|&i| !used[i] && decoded[ci][i].payload() == pl)
                    .map(|i| (ci, i)),
            );
            match same {
                Some(p) => ("the frame with the same payload", Some(p)),
                None => (
                    "the closest frame (none with the same payload)",
                    best_of(&mut (0..decoded[ci].len()).map(|i| (ci, i))),
                ),
            }
        }
        None => (
            "the closest frame",
            best_of(&mut (0..decoded[ci].len()).map(|i| (ci, i))),
        ),
    };
    let pick = pick.map(|p| (p, "")).or_else(|| {
        best_of(&mut (0..decoded.len()).flat_map(|c| (0..decoded[c].len()).map(move |i| (c, i))))
            .map(|p| (p, " (nothing was captured there)"))
    });
    let Some(((c, i), note)) = pick else {
        return format!(
            "\nno other frame was captured on {} or elsewhere",
            obs.captures[ci].path
        );
    };
    let cap: &PathCapture = &obs.captures[c];
    let rows = pattern.rows(&decoded[c][i]);
    format!(
        "\n{what} captured on {}{note}: {}\n{}",
        cap.path,
        netrig_wire::summary(&cap.packets[i].data),
        table(&rows)
    )
}

/// Expected and observed side by side, the differing fields marked and
/// named on a last line.
pub(crate) fn table(rows: &[Row]) -> String {
    let w0 = rows.iter().map(|r| r.field.len()).max().unwrap_or(0).max(5);
    let w1 = rows
        .iter()
        .map(|r| r.expected.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let w2 = rows.iter().map(|r| r.observed.len()).max().unwrap_or(0);
    let mut s = format!("  {:w0$} | {:w1$} | observed\n", "field", "expected");
    for r in rows {
        let mark = if r.ok { "" } else { "  <- differs" };
        let line = format!(
            "  {:w0$} | {:w1$} | {:w2$}{mark}",
            r.field, r.expected, r.observed
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    let bad: Vec<&str> = rows
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.field.as_str())
        .collect();
    s.push_str(&format!("  mismatched: {}", bad.join(", ")));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdicts::HostDrops;
    use netrig_wire::frame::FrameSpec;
    use netrig_wire::{CsumStatus, Packet, PktType, RingStats};
    use std::time::Duration;

    fn frame(n: &str) -> Vec<u8> {
        FrameSpec::parse(n).expect("frame").frame(0).build()
    }

    fn cap(path: &str, frames: &[Vec<u8>], pkttype: PktType) -> PathCapture {
        PathCapture {
            path: path.into(),
            packets: frames
                .iter()
                .map(|d| Packet {
                    ts_ns: 0,
                    ifindex: 2,
                    ifname: "eth0".into(),
                    pkttype,
                    orig_len: d.len() as u32,
                    csum: CsumStatus::Unknown,
                    data: d.clone(),
                })
                .collect(),
            ring: RingStats::default(),
        }
    }

    fn obs(captures: Vec<PathCapture>) -> Observation {
        Observation {
            sent: 2,
            captures,
            host: HostDrops::default(),
            ending: Ending::Settled {
                after: Duration::from_millis(30),
                still: Duration::from_millis(20),
            },
        }
    }

    fn want(at: &str, m: &str, count: Option<u64>) -> PacketsExpect {
        PacketsExpect {
            at: at.into(),
            pattern: Some(m.into()),
            each: None,
            count,
            min: None,
            only: false,
        }
    }

    /// Every frame arrived, but a ring lost some: nothing is proven.
    #[test]
    fn a_ring_that_dropped_makes_the_step_broken() {
        let f = frame("eth() / ipv4(ttl=64) / udp(dport=9) / raw(text='a')");
        let mut c = cap("h2:eth0", &[f.clone(), f], PktType::Host);
        c.ring.drops = 3;
        let Err(p) = judge_packets(
            &[want("h2:eth0", "eth() / ipv4(ttl=64)", Some(2))],
            &[],
            &obs(vec![c]),
            "s".into(),
        ) else {
            panic!("must be broken")
        };
        assert_eq!(p.0, crate::result::State::Broken);
        assert!(
            p.1.starts_with("capture on h2:eth0 dropped 3 packets: observation incomplete"),
            "{}",
            p.1
        );
    }

    #[test]
    fn exact_count_and_the_closest_frame_side_by_side() {
        let f = frame("eth() / ipv4(ttl=64) / udp(dport=9) / raw(text='a')");
        let o = obs(vec![cap("h2:eth0", &[f.clone(), f], PktType::Host)]);
        let ok = judge_packets(
            &[want("h2:eth0", "eth() / ipv4(ttl=64)", Some(2))],
            &[],
            &o,
            "s".into(),
        );
        assert!(ok.is_ok());
        let Err(p) = judge_packets(
            &[want("h2:eth0", "eth() / ipv4(ttl=63)", Some(2))],
            &[],
            &o,
            "s".into(),
        ) else {
            panic!("must fail")
        };
        assert_eq!(p.2, vec![Check::Packets]);
        assert!(
            p.1.contains("ipv4.ttl | 63") && p.1.contains("mismatched: ipv4.ttl"),
            "{}",
            p.1
        );
        // Too many is a failure too.
        assert!(judge_packets(&[want("h2:eth0", "eth()", Some(1))], &[], &o, "s".into()).is_err());
    }

    #[test]
    fn each_pairs_by_payload_and_names_the_field() {
        let sent: Vec<(Frame, u64)> = ["a", "b"]
            .iter()
            .map(|p| {
                (
                    Frame::decode(&frame(&format!(
                        "eth() / ipv4(ttl=64) / udp() / raw(text='{p}')"
                    ))),
                    1,
                )
            })
            .collect();
        let out = |ttl: u8| {
            // Arrival order differs from the sending order: pairing is by payload.
            ["b", "a"]
                .iter()
                .map(|p| {
                    frame(&format!(
                        "eth(src=02:00:00:00:00:33) / ipv4(ttl={ttl}) / udp() / raw(text='{p}')"
                    ))
                })
                .collect::<Vec<_>>()
        };
        let w = PacketsExpect {
            each: Some("eth(src=*) / ipv4(ttl=-1) / udp() / raw()".into()),
            pattern: None,
            ..want("h2:eth0", "", None)
        };
        let o = obs(vec![cap("h2:eth0", &out(63), PktType::Host)]);
        assert!(judge_packets(std::slice::from_ref(&w), &sent, &o, "s".into()).is_ok());
        let o = obs(vec![cap("h2:eth0", &out(64), PktType::Host)]);
        let Err(p) = judge_packets(&[w], &sent, &o, "s".into()) else {
            panic!("must fail")
        };
        assert!(
            p.1.contains("2 of 2 frames sent") && p.1.contains("same payload"),
            "{}",
            p.1
        );
        assert!(p.1.contains("mismatched: ipv4.ttl"), "{}", p.1);
    }

    #[test]
    fn only_counts_what_other_interfaces_receive() {
        let f = frame("eth() / ipv4() / udp(dport=9)");
        let mut w = want("h2:eth0", "eth() / ipv4() / udp(dport=9)", Some(1));
        w.only = true;
        let quiet = obs(vec![
            cap("h2:eth0", std::slice::from_ref(&f), PktType::Host),
            cap("h1:eth0", std::slice::from_ref(&f), PktType::Outgoing),
        ]);
        assert!(judge_packets(std::slice::from_ref(&w), &[], &quiet, "s".into()).is_ok());
        let leak = obs(vec![
            cap("h2:eth0", std::slice::from_ref(&f), PktType::Host),
            cap("h3:eth0", std::slice::from_ref(&f), PktType::OtherHost),
        ]);
        let Err(p) = judge_packets(&[w], &[], &leak, "s".into()) else {
            panic!("must fail")
        };
        assert!(p.1.contains("h3:eth0 received 1"), "{}", p.1);
    }
}
