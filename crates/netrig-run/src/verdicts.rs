//! Judging traffic and probe steps from what they observed.
//!
//! [`crate::observe`] does the I/O and hands over an [`Observation`]; this
//! module is pure: it sorts the captured packets into the step's own flows
//! and other traffic, decides whether missing packets are the system under
//! test's loss or the host's (then the step is Broken, never Fail), and
//! builds the verdicts. Probe steps share the split and affinity judging.

pub(crate) mod packets;

use crate::result::State;
use netrig_judge::{
    judge_affinity, judge_streams, Arrival, Outcome, SplitConfig, SplitTest, StreamLimits, Verdict,
};
use netrig_spec::expect::{Check, Expect, SplitExpect};
use netrig_wire::{Decoded, Match, Packet, RingStats};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

/// Why a step did not pass: the system's fault (Fail, with the checks that
/// failed, as `expect.fail` names them), the harness's (Broken), or a
/// requirement this machine does not meet (Skip). The verdicts judged on
/// the way are kept, so reports can show the numbers of a failure too.
pub(crate) struct Problem(pub State, pub String, pub Vec<Check>, pub Vec<Verdict>);

/// A failure not attributed to a named check (only `expect.fail = true`
/// accepts it).
pub(crate) fn fail(msg: impl Into<String>) -> Problem {
    Problem(State::Fail, msg.into(), Vec::new(), Vec::new())
}
/// A failure of the check `check` (an `expect` key).
pub(crate) fn fail_by(check: Check, msg: impl Into<String>) -> Problem {
    Problem(State::Fail, msg.into(), vec![check], Vec::new())
}
pub(crate) fn broken(msg: impl Into<String>) -> Problem {
    Problem(State::Broken, msg.into(), Vec::new(), Vec::new())
}
pub(crate) fn skip(msg: impl Into<String>) -> Problem {
    Problem(State::Skip, msg.into(), Vec::new(), Vec::new())
}

/// A step's message and verdicts, or why it did not pass.
pub(crate) type StepOut = Result<(String, Vec<Verdict>), Problem>;

/// Combine a step's summary, its verdicts (each with the check it stands
/// for) and plain failures into the step outcome. Every check is evaluated,
/// so a failure lists all the checks that failed, not just the first; the
/// failed ones come first, so a one-line view shows what failed.
pub(crate) fn judged(
    msg: String,
    verdicts: Vec<(Check, Verdict)>,
    failures: Vec<(Check, String)>,
) -> StepOut {
    let bad = |v: &Verdict| v.outcome != Outcome::Pass;
    let mut lines: Vec<String> = failures
        .iter()
        .map(|(c, m)| format!("FAIL {c}: {m}"))
        .collect();
    lines.extend(
        verdicts
            .iter()
            .filter(|(_, v)| bad(v))
            .map(|(_, v)| v.to_string()),
    );
    lines.push(msg);
    lines.extend(
        verdicts
            .iter()
            .filter(|(_, v)| !bad(v))
            .map(|(_, v)| v.to_string()),
    );
    let msg = lines.join("\n");
    if verdicts.iter().any(|(_, v)| v.outcome == Outcome::Broken) {
        let kept = verdicts.into_iter().map(|(_, v)| v).collect();
        return Err(Problem(State::Broken, msg, Vec::new(), kept));
    }
    let mut failed: Vec<Check> = failures.iter().map(|(c, _)| *c).collect();
    failed.extend(
        verdicts
            .iter()
            .filter(|(_, v)| v.outcome == Outcome::Fail)
            .map(|(c, _)| *c),
    );
    failed.dedup();
    let kept = verdicts.into_iter().map(|(_, v)| v).collect();
    if failed.is_empty() {
        Ok((msg, kept))
    } else {
        Err(Problem(State::Fail, msg, failed, kept))
    }
}

/// Flow (or probe source port) -> the paths (or servers) it was seen on.
pub(crate) type FlowPaths = BTreeMap<String, BTreeSet<String>>;

/// The split verdict over distinct flows per path: packets of a flow follow
/// one path, so flows, not packets, are the independent draws.
pub(crate) fn split_of_flows(
    name: &str,
    flows: &FlowPaths,
    s: &SplitExpect,
) -> Result<Verdict, Problem> {
    let counts: Vec<u64> = s
        .over
        .iter()
        .map(|p| flows.values().filter(|set| set.contains(p)).count() as u64)
        .collect();
    let mut cfg = SplitConfig::default();
    if let Some(a) = s.alpha {
        cfg.alpha = a;
    }
    if let Some(t) = s.tolerance {
        cfg.tolerance = t;
    }
    SplitTest::new(&s.weights, cfg)
        .and_then(|t| t.with_labels(s.over.iter().map(String::as_str)))
        .and_then(|t| t.judge(name, &counts))
        .map_err(|e| broken(format!("split check: {e}")))
}

/// The affinity verdict: every flow on exactly one path. With `over`, paths
/// outside it are left out (a traffic step's other captures); without it
/// every path counts (a probe's servers).
pub(crate) fn affinity_of_flows(name: &str, flows: &FlowPaths, over: Option<&[String]>) -> Verdict {
    judge_affinity(
        name,
        flows
            .iter()
            .map(|(f, set)| {
                let paths: Vec<String> = set
                    .iter()
                    .filter(|p| over.is_none_or(|o| o.contains(p)))
                    .cloned()
                    .collect();
                (f.clone(), paths)
            })
            .filter(|(_, paths)| !paths.is_empty()),
    )
}

/// What one capture of a traffic step saw.
#[derive(Debug, Clone)]
pub struct PathCapture {
    /// `node:iface`.
    pub path: String,
    pub packets: Vec<Packet>,
    /// The ring's own count of what reached it and what it dropped.
    pub ring: RingStats,
}

/// Drops across the traffic window that only the host can have caused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostDrops {
    /// Per-CPU backlog drops (`/proc/net/softnet_stat`), `None` if unreadable.
    pub backlog: Option<u64>,
    pub cpus: usize,
    /// `tx_dropped` of the lab's veth ends whose peer stayed up (a veth drops
    /// only when its peer's queue is full, the peer is down, or a frame is
    /// malformed; with the peer up that is the machine's doing), by path.
    pub veth: BTreeMap<String, u64>,
    /// How many veth ends were consulted.
    pub veth_ends: usize,
}

impl HostDrops {
    /// Packets the host threw away.
    pub fn total(&self) -> u64 {
        self.backlog.unwrap_or(0) + self.veth.values().sum::<u64>()
    }

    /// What was consulted and what it said, for the verdict line.
    pub fn consulted(&self, rings: &[PathCapture]) -> String {
        let backlog = match self.backlog {
            Some(n) => format!("per-CPU backlog {n} ({} CPUs)", self.cpus),
            None => "per-CPU backlog unreadable".to_string(),
        };
        let veth: u64 = self.veth.values().sum();
        let mut s = format!(
            "host drops consulted: {backlog}, veth tx_dropped {veth} ({} lab ends)",
            self.veth_ends
        );
        if !rings.is_empty() {
            let ring: u64 = rings.iter().map(|c| c.ring.drops).sum();
            s.push_str(&format!(", capture rings {ring} ({})", rings.len()));
        }
        s
    }
}

/// A shortfall that the host's own drops may explain (unanswered probes,
/// lost pings) is Broken, not the system under test's failure.
pub(crate) fn host_explains(host: &HostDrops, shortfall: &str) -> Option<Problem> {
    (host.total() > 0).then(|| {
        broken(format!(
            "{shortfall}, but the host itself dropped {} packets meanwhile, so this cannot be blamed on the system under test\n{}",
            host.total(),
            host.consulted(&[])
        ))
    })
}

/// Tracepoints count host-wide, so a ratio above its bound may be other
/// traffic's: when the host received at least as many packets outside the
/// lab during the window as the count exceeds the bound by, the verdict is
/// Broken, not Fail. Outside traffic can only add hits, so a ratio below its
/// bound stays a failure. The explanation says what was received outside.
pub(crate) fn attribute_ratio(mut v: Verdict, outside: Option<u64>) -> Verdict {
    let netrig_judge::Details::Ratio(r) = &v.details else {
        return v;
    };
    let Some(outside) = outside else {
        v.explanation
            .push_str("; packets received outside the lab unknown (softnet_stat unreadable)");
        return v;
    };
    v.explanation.push_str(&format!(
        "; the host received {outside} packets outside the lab during the window"
    ));
    if v.outcome == Outcome::Fail {
        if let (Some(ratio), Some(max)) = (r.ratio, r.bounds.max) {
            let allowed = (max * r.denominator as f64).floor() as u64;
            let excess = r.numerator.saturating_sub(allowed);
            if ratio > max && outside >= excess {
                v.outcome = Outcome::Broken;
                v.explanation.push_str(&format!(
                    ", enough for the {excess} hits above the bound: not blamed on the system under test"
                ));
            }
        }
    }
    v
}

/// How a traffic step's observation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// Every packet sent was seen where the checks look.
    Accounted { after: Duration },
    /// Some were not, and the path settled: rings handed over, the captures
    /// caught up with the interfaces' counters, the host backlog empty, and
    /// nothing of the flow arrived for `still`.
    Settled { after: Duration, still: Duration },
    /// The hard limit passed before the path settled; `why` says what moved.
    Unsettled { after: Duration, why: String },
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        match self {
            Ending::Accounted { after } => {
                write!(f, "every packet accounted for {:.1} ms after sending", ms(after))
            }
            Ending::Settled { after, still } => write!(
                f,
                "path settled {:.1} ms after sending (nothing of the flow for {:.0} ms, rings and counters caught up)",
                ms(after),
                ms(still)
            ),
            Ending::Unsettled { after, why } => write!(
                f,
                "path NOT settled {:.0} ms after sending ({why})",
                ms(after)
            ),
        }
    }
}

/// Everything a traffic step saw, for [`judge_traffic`].
#[derive(Debug, Clone)]
pub struct Observation {
    pub sent: u64,
    pub captures: Vec<PathCapture>,
    pub host: HostDrops,
    pub ending: Ending,
}

/// The captured packets sorted into the step's flow and the rest.
#[derive(Debug, Default)]
pub(crate) struct Classified {
    pub flows: FlowPaths,
    /// Packets of the flow per path.
    pub matching: BTreeMap<String, u64>,
    /// Other packets per path (link housekeeping excluded).
    pub other: BTreeMap<String, u64>,
    /// Tagged packets of the flow, with capture time and path.
    pub arrivals: Vec<(u64, Arrival<String>)>,
}

/// A flow's identity for split and affinity: the fields the sender varies,
/// read back from the captured frame.
fn flow_key(d: &Decoded) -> Option<String> {
    let (src, dst) = d.ips()?;
    let (sp, dp) = d.ports()?;
    Some(format!("{src}:{sp}->{dst}:{dp}"))
}

pub(crate) fn classify(captures: &[PathCapture], flow: &Match) -> Classified {
    let mut c = Classified::default();
    for cap in captures {
        c.matching.entry(cap.path.clone()).or_default();
        for pkt in &cap.packets {
            let Some(d) = Decoded::parse(&pkt.data) else {
                continue;
            };
            if !flow.matches(&d) {
                if !d.is_link_control() {
                    *c.other.entry(cap.path.clone()).or_default() += 1;
                }
                continue;
            }
            *c.matching.entry(cap.path.clone()).or_default() += 1;
            if let Some(key) = flow_key(&d) {
                c.flows.entry(key).or_default().insert(cap.path.clone());
            }
            if let Some(t) = d.tag {
                // Anycast: any path is a right place, so the intended place
                // is where it arrived.
                c.arrivals.push((
                    pkt.ts_ns,
                    Arrival {
                        stream: t.stream,
                        seq: t.seq,
                        at: cap.path.clone(),
                        intended: cap.path.clone(),
                    },
                ));
            }
        }
    }
    // Merged by capture time, so reordering is judged across paths.
    c.arrivals.sort_by_key(|(ts, _)| *ts);
    c
}

/// Paths an expectation groups: every packet sent should cross one of them.
fn groups(e: &Expect) -> Vec<(Check, &[String])> {
    let mut g: Vec<(Check, &[String])> = Vec::new();
    if let Some(s) = &e.split {
        g.push((Check::Split, &s.over));
    }
    if let Some(a) = &e.affinity {
        g.push((Check::Affinity, a));
    }
    if let Some(s) = &e.streams {
        g.push((Check::Streams, &s.over));
    }
    g
}

/// Every `node:iface` a traffic step's expectations look at, in order.
pub(crate) fn watched_paths(e: &Expect) -> Vec<String> {
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for (_, over) in groups(e) {
        paths.extend(over.iter().cloned());
    }
    paths.extend(e.received.iter().flat_map(|m| m.keys().cloned()));
    paths.into_iter().collect()
}

/// For each path group: its member indexes into `paths`.
pub(crate) fn group_indexes(e: &Expect, paths: &[String]) -> Vec<Vec<usize>> {
    groups(e)
        .into_iter()
        .map(|(_, over)| {
            over.iter()
                .filter_map(|p| paths.iter().position(|q| q == p))
                .collect()
        })
        .collect()
}

/// Packets sent that no group saw (the largest shortfall of any group), and
/// a description; counted by tag when the flow is tagged.
fn missing(e: &Expect, c: &Classified, sent: u64, tagged: bool) -> (u64, String) {
    let mut worst = (0u64, String::new());
    for (check, over) in groups(e) {
        let seen = if tagged {
            c.arrivals
                .iter()
                .filter(|(_, a)| over.contains(&a.at) && a.seq < sent)
                .map(|(_, a)| a.seq)
                .collect::<HashSet<u64>>()
                .len() as u64
        } else {
            over.iter()
                .map(|p| c.matching.get(p).copied().unwrap_or(0))
                .sum()
        };
        let short = sent.saturating_sub(seen);
        if short > worst.0 {
            worst = (
                short,
                format!(
                    "{short} of {sent} packets never reached {} ({check})",
                    over.join(", ")
                ),
            );
        }
    }
    for (p, min) in e.received.iter().flatten() {
        let got = c.matching.get(p).copied().unwrap_or(0);
        let short = min.saturating_sub(got);
        if short > worst.0 {
            worst = (
                short,
                format!("{p} saw {got} packets of the flow, {min} expected"),
            );
        }
    }
    worst
}

/// Judge a traffic step. `flow` picks the step's own packets; `stream` is
/// the tag's stream when the flow is tagged.
/// An observation whose capture rings overflowed proves nothing either way:
/// Broken, naming each ring's losses.
pub(crate) fn incomplete(obs: &Observation, summary: &str) -> Option<Problem> {
    let ring_drops: Vec<String> = obs
        .captures
        .iter()
        .filter(|p| p.ring.drops > 0)
        .map(|p| format!("capture on {} dropped {} packets", p.path, p.ring.drops))
        .collect();
    (!ring_drops.is_empty()).then(|| {
        broken(format!(
            "{}: observation incomplete (the capture ring overflowed; the machine is too busy or the ring too small)\n{summary}\n{}",
            ring_drops.join(", "),
            obs.host.consulted(&obs.captures)
        ))
    })
}

pub(crate) fn judge_traffic(
    name: &str,
    e: &Expect,
    flow: &Match,
    stream: Option<u32>,
    obs: &Observation,
    summary: String,
    extra: Vec<(Check, Verdict)>,
) -> StepOut {
    let c = classify(&obs.captures, flow);
    let consulted = obs.host.consulted(&obs.captures);
    if let Some(p) = incomplete(obs, &summary) {
        return Err(p);
    }
    let (short, what) = missing(e, &c, obs.sent, stream.is_some());
    if short > 0 && obs.host.total() > 0 {
        return Err(broken(format!(
            "{what}, but the host itself dropped {} packets during the step, so the loss cannot be blamed on the system under test\n{summary}\n{consulted}",
            obs.host.total()
        )));
    }
    if short > 0 {
        if let Ending::Unsettled { .. } = obs.ending {
            return Err(broken(format!(
                "{what}, and the {}: they may still be on their way\n{summary}\n{consulted}",
                obs.ending
            )));
        }
    }
    let mut msgs = vec![summary, format!("{}; {consulted}", obs.ending)];
    if !c.other.is_empty() {
        msgs.push(format!(
            "other traffic (not this step's flow, not judged): {}",
            c.other
                .iter()
                .map(|(p, n)| format!("{p} {n} packets"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut verdicts = Vec::new();
    let mut failures: Vec<(Check, String)> = Vec::new();
    if let Some(s) = &e.split {
        verdicts.push((Check::Split, split_of_flows(name, &c.flows, s)?));
    }
    if let Some(over) = &e.affinity {
        verdicts.push((
            Check::Affinity,
            affinity_of_flows(name, &c.flows, Some(over)),
        ));
    }
    if let Some(st) = &e.streams {
        let arrivals = c
            .arrivals
            .iter()
            .filter(|(_, a)| st.over.contains(&a.at))
            .map(|(_, a)| a.clone());
        let limits = StreamLimits {
            lost: st.lost.unwrap_or(0),
            duplicated: st.duplicated.unwrap_or(0),
            reordered: st.reordered.unwrap_or(u64::MAX),
            misrouted: st.misrouted.unwrap_or(u64::MAX),
            unknown: 0,
        };
        let v = judge_streams(name, &[(stream.unwrap_or(1), obs.sent)], arrivals, &limits)
            .map_err(|err| broken(format!("streams check: {err}")))?;
        verdicts.push((Check::Streams, v));
    }
    if let Some(rx) = &e.received {
        for (p, min) in rx {
            let got = c.matching.get(p).copied().unwrap_or(0);
            if got < *min {
                failures.push((
                    Check::Received,
                    format!("{p} received {got} packets of the flow, expected at least {min}"),
                ));
            }
            msgs.push(format!("{p}: {got} packets of the flow"));
        }
    }
    verdicts.extend(extra);
    judged(msgs.join("\n"), verdicts, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netrig_spec::scenario::StreamsExpect;
    use netrig_wire::{CsumStatus, FlowSpec, IpRange, MacAddr, PktType, Template};

    const SRC: &str = "192.0.2.2";
    const VIP: &str = "198.18.0.1";

    fn spec(args: &str) -> FlowSpec {
        let src: IpRange = SRC.parse().expect("src");
        let dst: IpRange = VIP.parse().expect("dst");
        FlowSpec::udp(src, dst).with_args(args).expect("flow")
    }

    fn pkt(frame: &[u8], ts: u64) -> Packet {
        Packet {
            ts_ns: ts,
            ifindex: 2,
            ifname: "eth1".into(),
            pkttype: PktType::Outgoing,
            orig_len: frame.len() as u32,
            csum: CsumStatus::Unknown,
            data: frame.to_vec(),
        }
    }

    /// The frames of `flow`, packet `i` going to path `route(i)`, except
    /// those `lose` says are lost.
    fn observe(
        flow: &FlowSpec,
        paths: &[&str],
        route: impl Fn(u64) -> usize,
        lose: impl Fn(u64) -> bool,
    ) -> Vec<PathCapture> {
        let mut caps: Vec<PathCapture> = paths
            .iter()
            .map(|p| PathCapture {
                path: p.to_string(),
                packets: Vec::new(),
                ring: RingStats::default(),
            })
            .collect();
        let mut t = Template::new(flow, MacAddr([2; 6]), MacAddr([4; 6])).expect("template");
        let mut points = flow.points();
        let n = flow.packet_budget().expect("bounded");
        for i in 0..n {
            t.set_point(&points.current());
            t.set_seq(i);
            if !lose(i) {
                caps[route(i)].packets.push(pkt(t.frame(), i));
            }
            points.advance();
        }
        caps
    }

    fn obs(captures: Vec<PathCapture>, sent: u64) -> Observation {
        Observation {
            sent,
            captures,
            host: HostDrops {
                backlog: Some(0),
                cpus: 2,
                ..HostDrops::default()
            },
            ending: Ending::Settled {
                after: Duration::from_millis(30),
                still: Duration::from_millis(20),
            },
        }
    }

    fn streams_over(paths: &[&str]) -> Expect {
        Expect {
            streams: Some(StreamsExpect {
                over: paths.iter().map(|p| p.to_string()).collect(),
                lost: None,
                duplicated: None,
                reordered: None,
                misrouted: None,
            }),
            ..Expect::default()
        }
    }

    fn split_over(paths: &[&str], weights: &[u32]) -> Expect {
        Expect {
            split: Some(SplitExpect {
                over: paths.iter().map(|p| p.to_string()).collect(),
                weights: weights.to_vec(),
                alpha: None,
                tolerance: None,
            }),
            ..Expect::default()
        }
    }

    fn judge(e: &Expect, f: &FlowSpec, o: &Observation) -> StepOut {
        let stream = f.tag.map(|t| t.stream);
        judge_traffic("t", e, &Match::of_flow(f), stream, o, "sent".into(), vec![])
    }

    fn state(out: &StepOut) -> State {
        match out {
            Ok(_) => State::Pass,
            Err(Problem(s, ..)) => *s,
        }
    }

    const PATHS: [&str; 2] = ["r1:eth1", "r1:eth2"];

    #[test]
    fn loss_the_host_does_not_explain_fails_the_system_under_test() {
        let f = spec("sp=1024,dp=0-999,tag=1");
        let o = obs(observe(&f, &PATHS, |i| (i % 2) as usize, |i| i == 7), 1000);
        let out = judge(&streams_over(&PATHS), &f, &o);
        match out {
            Err(Problem(State::Fail, msg, checks, _)) => {
                assert_eq!(checks, vec![Check::Streams]);
                assert!(
                    msg.lines().next().is_some_and(|l| l.contains("lost 1")),
                    "{msg}"
                );
                assert!(
                    msg.contains("host drops consulted: per-CPU backlog 0"),
                    "{msg}"
                );
            }
            other => panic!("expected a failure, got {:?}", state(&other)),
        }
    }

    #[test]
    fn loss_while_the_host_dropped_packets_is_broken_not_failed() {
        let f = spec("sp=1024,dp=0-999,tag=1");
        let mut o = obs(observe(&f, &PATHS, |i| (i % 2) as usize, |i| i < 30), 1000);
        o.host.backlog = Some(30);
        let out = judge(&streams_over(&PATHS), &f, &o);
        let Err(Problem(State::Broken, msg, ..)) = out else {
            panic!("expected broken, got {:?}", state(&out));
        };
        assert!(msg.contains("host itself dropped 30"), "{msg}");
    }

    #[test]
    fn a_ring_that_dropped_makes_the_step_broken_even_without_loss() {
        let f = spec("sp=1024,dp=0-999");
        let mut caps = observe(&f, &PATHS, |i| (i % 2) as usize, |_| false);
        caps[1].ring.drops = 12;
        let out = judge(&split_over(&PATHS, &[1, 1]), &f, &obs(caps, 1000));
        let Err(Problem(State::Broken, msg, ..)) = out else {
            panic!("expected broken, got {:?}", state(&out));
        };
        assert!(
            msg.starts_with("capture on r1:eth2 dropped 12 packets: observation incomplete"),
            "{msg}"
        );
    }

    #[test]
    fn loss_seen_before_the_path_settled_is_broken() {
        let f = spec("sp=1024,dp=0-999,tag=1");
        let mut o = obs(observe(&f, &PATHS, |i| (i % 2) as usize, |i| i > 900), 1000);
        o.ending = Ending::Unsettled {
            after: Duration::from_secs(2),
            why: "per-CPU backlog not empty".into(),
        };
        let out = judge(&streams_over(&PATHS), &f, &o);
        assert_eq!(state(&out), State::Broken);
        // Without loss an unsettled end changes nothing.
        let mut o = obs(observe(&f, &PATHS, |i| (i % 2) as usize, |_| false), 1000);
        o.ending = Ending::Unsettled {
            after: Duration::from_secs(2),
            why: "per-CPU backlog not empty".into(),
        };
        let out = judge(&streams_over(&PATHS), &f, &o);
        assert_eq!(state(&out), State::Pass);
    }

    #[test]
    fn foreign_traffic_on_a_measured_path_adds_no_flow() {
        let f = spec("sp=1024,dp=0-999");
        let mut caps = observe(&f, &PATHS, |i| (i % 2) as usize, |_| false);
        // A routing daemon's chatter, and replies, all on eth1.
        let bgp = spec("sp=179,dp=40000-40099");
        caps[0]
            .packets
            .extend(observe(&bgp, &PATHS, |_| 0, |_| false).remove(0).packets);
        let out = judge(&split_over(&PATHS, &[1, 1]), &f, &obs(caps, 1000));
        let Ok((msg, verdicts)) = out else {
            panic!("expected a pass");
        };
        assert!(
            verdicts[0].explanation.contains("n=1000 distinct flows"),
            "{}",
            verdicts[0]
        );
        assert!(msg.contains("r1:eth1 100 packets"), "{msg}");
    }

    #[test]
    fn a_skewed_split_fails_by_split_alone() {
        let f = spec("sp=1024,dp=0-3999");
        let caps = observe(&f, &PATHS, |i| usize::from(i % 4 == 0), |_| false);
        let out = judge(&split_over(&PATHS, &[1, 1]), &f, &obs(caps, 4000));
        let Err(Problem(State::Fail, msg, checks, kept)) = out else {
            panic!("expected a failure, got {:?}", state(&out));
        };
        assert_eq!(checks, vec![Check::Split]);
        // The failing verdict's numbers stay, for the reports to draw.
        assert!(
            kept.iter()
                .any(|v| !v.passed() && matches!(v.details, netrig_judge::Details::Split(_))),
            "{kept:?}"
        );
        assert!(msg.starts_with("FAIL t: n=4000"), "{msg}");
    }

    #[test]
    fn unanswered_probes_are_the_hosts_when_it_dropped_packets() {
        let mut host = HostDrops::default();
        assert!(host_explains(&host, "3 of 10 unanswered").is_none());
        host.veth.insert("h1:eth0".into(), 2);
        let Some(Problem(State::Broken, msg, _, _)) = host_explains(&host, "3 of 10 unanswered")
        else {
            panic!("expected broken");
        };
        assert!(
            msg.starts_with("3 of 10 unanswered, but the host itself dropped 2"),
            "{msg}"
        );
    }

    #[test]
    fn a_ratio_too_high_while_the_host_received_other_traffic_is_broken() {
        let bounds = netrig_judge::RatioBounds {
            min: Some(0.95),
            max: Some(1.05),
        };
        let judge = |hits| {
            netrig_judge::judge_ratio("t", ("hits", hits), ("tx", 8192), bounds).expect("ratio")
        };
        // 4096 extra lookups, 4100 foreign packets: could be theirs.
        assert_eq!(
            attribute_ratio(judge(12288), Some(4100)).outcome,
            Outcome::Broken
        );
        // Too few foreign packets to explain the excess: the system's.
        assert_eq!(
            attribute_ratio(judge(12288), Some(100)).outcome,
            Outcome::Fail
        );
        // Too few lookups: foreign traffic only adds, so it stays a failure.
        assert_eq!(
            attribute_ratio(judge(4096), Some(99999)).outcome,
            Outcome::Fail
        );
        let v = attribute_ratio(judge(8192), Some(3));
        assert!(v.passed());
        assert!(
            v.explanation.contains("received 3 packets outside the lab"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn affinity_over_flows_ignores_paths_outside_the_set() {
        let mut flows = FlowPaths::new();
        flows
            .entry("a".into())
            .or_default()
            .extend(["x".to_string(), "elsewhere".to_string()]);
        flows.entry("b".into()).or_default().insert("y".to_string());
        let over = ["x".to_string(), "y".to_string()];
        assert!(affinity_of_flows("t", &flows, Some(&over)).passed());
        assert!(!affinity_of_flows("t", &flows, None).passed());
    }
}
