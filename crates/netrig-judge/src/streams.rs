//! Stream accounting from packet tags: loss, duplication, reordering,
//! misrouting.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;

use serde::Serialize;

use crate::{Details, JudgeError, Outcome, Verdict, MAX_LISTED};

/// One tagged packet as received: its stream and sequence number (from the
/// tag), where it arrived, and where the tag says it should have arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival<L> {
    /// Stream id from the tag.
    pub stream: u32,
    /// Sequence number from the tag (`0..sent` for a valid packet).
    pub seq: u64,
    /// Where it was captured (interface, node, backend...).
    pub at: L,
    /// Intended destination from the tag.
    pub intended: L,
}

/// Largest acceptable count per category (default 0 each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamLimits {
    /// Sent packets that arrived nowhere.
    pub lost: u64,
    /// Extra copies of packets (arrivals beyond the first, anywhere).
    pub duplicated: u64,
    /// First arrivals whose seq is lower than the highest seq already seen in
    /// the same stream.
    pub reordered: u64,
    /// Arrivals at a place other than the intended destination.
    pub misrouted: u64,
    /// Arrivals whose stream was not sent or whose seq is out of range.
    pub unknown: u64,
}

/// Per-stream numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// Stream id.
    pub stream: u32,
    /// Packets sent (seqs `0..sent`).
    pub sent: u64,
    /// Arrivals with a valid seq, including duplicates.
    pub arrivals: u64,
    /// Distinct seqs that arrived somewhere.
    pub received: u64,
    /// `sent - received`.
    pub lost: u64,
    /// `arrivals - received`.
    pub duplicated: u64,
    /// Out-of-order first arrivals.
    pub reordered: u64,
    /// Arrivals at the wrong place.
    pub misrouted: u64,
}

/// First few examples of each category, as `s<stream>#<seq>` (plus places for
/// misrouting).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamExamples {
    /// Lost packets, in stream then seq order.
    pub lost: Vec<String>,
    /// Duplicated packets, in arrival order.
    pub duplicated: Vec<String>,
    /// Reordered packets, in arrival order.
    pub reordered: Vec<String>,
    /// Misrouted packets, in arrival order.
    pub misrouted: Vec<String>,
    /// Unknown packets, in arrival order.
    pub unknown: Vec<String>,
}

/// Numbers of a stream-accounting verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamReport {
    /// Number of streams sent.
    pub streams: u64,
    /// Packets sent over all streams.
    pub sent: u64,
    /// All arrivals, including unknown ones.
    pub arrivals: u64,
    /// Distinct valid packets that arrived somewhere.
    pub received: u64,
    /// Totals per category.
    pub lost: u64,
    /// Total duplicates.
    pub duplicated: u64,
    /// Total reordered.
    pub reordered: u64,
    /// Total misrouted.
    pub misrouted: u64,
    /// Total unknown.
    pub unknown: u64,
    /// The limits checked.
    pub limits: StreamLimits,
    /// Per stream, in the order of the sent list.
    pub per_stream: Vec<StreamStats>,
    /// First few examples per category.
    pub examples: StreamExamples,
}

struct State {
    stats: StreamStats,
    seen: HashSet<u64>,
    max_seq: Option<u64>,
}

fn push_example(list: &mut Vec<String>, item: impl FnOnce() -> String) {
    if list.len() < MAX_LISTED {
        list.push(item());
    }
}

/// Account for tagged streams and check each category against its limit.
///
/// `sent` lists `(stream id, packets sent)`; seqs `0..sent` are expected.
/// `arrivals` are the received tags in arrival order. Categories:
///
/// * **lost**: a sent `(stream, seq)` that arrived nowhere (a misrouted
///   packet is not lost; it is counted as misrouted),
/// * **duplicated**: arrivals of a `(stream, seq)` beyond its first, anywhere,
/// * **reordered**: first arrivals with a seq lower than the highest seq seen
///   so far in that stream (in the given order; duplicates are not counted
///   again),
/// * **misrouted**: arrivals where `at != intended`,
/// * **unknown**: arrivals whose stream was not sent or whose seq is
///   `>= sent`; they are counted here only.
///
/// Pass iff every category is within its limit; Broken if nothing was sent.
/// Errors if a stream id is listed twice or the sent counts overflow `u64`.
/// Deterministic: `false_fail_bound = 0`.
///
/// ```
/// use netrig_judge::{judge_streams, Arrival, Outcome, StreamLimits};
///
/// let arr = |seq, at| Arrival { stream: 1, seq, at, intended: "h2" };
/// let arrivals = [arr(0, "h2"), arr(2, "h2"), arr(1, "h2"), arr(2, "h3")];
/// let v = judge_streams("udp", &[(1, 4)], arrivals, &StreamLimits::default())?;
/// assert_eq!(v.outcome, Outcome::Fail); // seq 3 lost, 1 reordered, 2 duplicated+misrouted
/// # Ok::<(), netrig_judge::JudgeError>(())
/// ```
pub fn judge_streams<L, I>(
    name: &str,
    sent: &[(u32, u64)],
    arrivals: I,
    limits: &StreamLimits,
) -> Result<Verdict, JudgeError>
where
    I: IntoIterator<Item = Arrival<L>>,
    L: PartialEq + Display,
{
    let mut index: HashMap<u32, usize> = HashMap::with_capacity(sent.len());
    let mut states = Vec::with_capacity(sent.len());
    let mut total_sent = 0u64;
    for &(stream, count) in sent {
        if index.insert(stream, states.len()).is_some() {
            return Err(JudgeError::DuplicateStream(stream));
        }
        total_sent = total_sent
            .checked_add(count)
            .ok_or(JudgeError::CountOverflow)?;
        states.push(State {
            stats: StreamStats {
                stream,
                sent: count,
                ..StreamStats::default()
            },
            seen: HashSet::new(),
            max_seq: None,
        });
    }
    let mut ex = StreamExamples::default();
    let mut total_arrivals = 0u64;
    let mut unknown = 0u64;
    for a in arrivals {
        total_arrivals += 1;
        // Built only when an example is recorded.
        let tag = || format!("s{}#{}", a.stream, a.seq);
        let Some(st) = index
            .get(&a.stream)
            .map(|&i| &mut states[i])
            .filter(|st| a.seq < st.stats.sent)
        else {
            unknown += 1;
            push_example(&mut ex.unknown, || format!("{} at {}", tag(), a.at));
            continue;
        };
        st.stats.arrivals += 1;
        if a.at != a.intended {
            st.stats.misrouted += 1;
            push_example(&mut ex.misrouted, || {
                format!("{} at {} (for {})", tag(), a.at, a.intended)
            });
        }
        if !st.seen.insert(a.seq) {
            st.stats.duplicated += 1;
            push_example(&mut ex.duplicated, || format!("{} at {}", tag(), a.at));
            continue;
        }
        match st.max_seq {
            Some(max) if a.seq < max => {
                st.stats.reordered += 1;
                push_example(&mut ex.reordered, || format!("{} after #{max}", tag()));
            }
            _ => st.max_seq = Some(a.seq),
        }
    }
    for st in &mut states {
        let s = &mut st.stats;
        s.received = st.seen.len() as u64;
        s.lost = s.sent - s.received;
        if s.lost > 0 && ex.lost.len() < MAX_LISTED {
            // Walk the sorted received seqs to name the first gaps.
            let mut got: Vec<u64> = st.seen.iter().copied().collect();
            got.sort_unstable();
            let mut next = 0u64;
            for seq in got.into_iter().chain(std::iter::once(s.sent)) {
                while next < seq && ex.lost.len() < MAX_LISTED {
                    ex.lost.push(format!("s{}#{next}", s.stream));
                    next += 1;
                }
                if ex.lost.len() >= MAX_LISTED {
                    break;
                }
                next = seq + 1;
            }
        }
    }
    let per_stream: Vec<StreamStats> = states.into_iter().map(|s| s.stats).collect();
    let sum = |f: fn(&StreamStats) -> u64| per_stream.iter().map(f).sum::<u64>();
    let report = StreamReport {
        streams: per_stream.len() as u64,
        sent: total_sent,
        arrivals: total_arrivals,
        received: sum(|s| s.received),
        lost: sum(|s| s.lost),
        duplicated: sum(|s| s.duplicated),
        reordered: sum(|s| s.reordered),
        misrouted: sum(|s| s.misrouted),
        unknown,
        limits: *limits,
        per_stream,
        examples: ex,
    };
    let cats: [(&str, u64, u64, &Vec<String>); 5] = [
        ("lost", report.lost, limits.lost, &report.examples.lost),
        (
            "duplicated",
            report.duplicated,
            limits.duplicated,
            &report.examples.duplicated,
        ),
        (
            "reordered",
            report.reordered,
            limits.reordered,
            &report.examples.reordered,
        ),
        (
            "misrouted",
            report.misrouted,
            limits.misrouted,
            &report.examples.misrouted,
        ),
        (
            "unknown",
            report.unknown,
            limits.unknown,
            &report.examples.unknown,
        ),
    ];
    let summary = cats
        .iter()
        .map(|(what, n, lim, _)| {
            // u64::MAX is how callers say "not checked".
            if *lim == u64::MAX {
                format!("{what} {n} (unchecked)")
            } else {
                format!("{what} {n} (limit {lim})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let first = format!(
        "sent {} packets in {} streams, {} arrivals, {} distinct received: {summary}",
        report.sent, report.streams, report.arrivals, report.received
    );
    let over: Vec<String> = cats
        .iter()
        .filter(|(_, n, lim, _)| n > lim)
        .map(|(what, _, _, ex)| format!("{what}: {}", ex.join(", ")))
        .collect();
    let (outcome, explanation) = if report.sent == 0 {
        (
            Outcome::Broken,
            format!("{first}; nothing was sent, so nothing can be judged"),
        )
    } else if over.is_empty() {
        (Outcome::Pass, first)
    } else {
        (Outcome::Fail, format!("{first}.\n{}", over.join("; ")))
    };
    Ok(Verdict {
        name: name.to_string(),
        outcome,
        explanation,
        false_fail_bound: 0.0,
        details: Details::Streams(report),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(
        stream: u32,
        seq: u64,
        at: &'static str,
        intended: &'static str,
    ) -> Arrival<&'static str> {
        Arrival {
            stream,
            seq,
            at,
            intended,
        }
    }

    fn report(v: &Verdict) -> &StreamReport {
        match &v.details {
            Details::Streams(r) => r,
            other => panic!("wrong details {other:?}"),
        }
    }

    #[test]
    fn clean_streams_pass() {
        let arrivals: Vec<_> = (0..3u32)
            .flat_map(|s| (0..100u64).map(move |q| arr(s, q, "h2", "h2")))
            .collect();
        let v = judge_streams(
            "s",
            &[(0, 100), (1, 100), (2, 100)],
            arrivals,
            &StreamLimits::default(),
        )
        .expect("valid input");
        assert_eq!(v.outcome, Outcome::Pass, "{v}");
        let r = report(&v);
        assert_eq!((r.sent, r.arrivals, r.received), (300, 300, 300));
        assert_eq!(
            r.lost + r.duplicated + r.reordered + r.misrouted + r.unknown,
            0
        );
    }

    #[test]
    fn every_category_is_counted() {
        let arrivals = vec![
            arr(0, 0, "h2", "h2"),
            arr(0, 3, "h2", "h2"),
            arr(0, 1, "h2", "h2"), // reordered (max 3)
            arr(0, 3, "h2", "h2"), // duplicate, not reordered again
            arr(0, 5, "h3", "h2"), // misrouted
            arr(0, 9, "h2", "h2"), // unknown: seq >= sent
            arr(7, 0, "h2", "h2"), // unknown: stream not sent
            arr(1, 0, "h2", "h2"),
        ];
        let v = judge_streams("s", &[(0, 6), (1, 2)], arrivals, &StreamLimits::default())
            .expect("valid input");
        assert_eq!(v.outcome, Outcome::Fail);
        let r = report(&v);
        assert_eq!(r.arrivals, 8);
        assert_eq!(r.unknown, 2);
        assert_eq!(r.duplicated, 1);
        assert_eq!(r.reordered, 1);
        assert_eq!(r.misrouted, 1);
        // Stream 0 misses 2 and 4, stream 1 misses 1.
        assert_eq!(r.lost, 3);
        assert_eq!(r.examples.lost, vec!["s0#2", "s0#4", "s1#1"]);
        assert_eq!(r.examples.reordered, vec!["s0#1 after #3"]);
        assert_eq!(r.examples.misrouted, vec!["s0#5 at h3 (for h2)"]);
        assert_eq!(r.per_stream[0].received, 4);
        assert!(v.explanation.contains("lost 3 (limit 0)"), "{v}");
        assert!(v.explanation.contains("lost: s0#2, s0#4, s1#1"), "{v}");
    }

    #[test]
    fn limits_allow_some() {
        let arrivals = vec![arr(0, 1, "a", "a"), arr(0, 0, "a", "a")];
        let limits = StreamLimits {
            lost: 1,
            reordered: 1,
            ..StreamLimits::default()
        };
        let v = judge_streams("s", &[(0, 3)], arrivals.clone(), &limits).expect("valid");
        assert_eq!(v.outcome, Outcome::Pass, "{v}");
        let v = judge_streams("s", &[(0, 4)], arrivals, &limits).expect("valid");
        assert_eq!(v.outcome, Outcome::Fail, "{v}");
    }

    #[test]
    fn nothing_sent_is_broken_and_bad_input_errors() {
        let none: Vec<Arrival<u32>> = vec![];
        let v = judge_streams("s", &[], none.clone(), &StreamLimits::default()).expect("valid");
        assert_eq!(v.outcome, Outcome::Broken);
        assert_eq!(
            judge_streams(
                "s",
                &[(1, 1), (1, 2)],
                none.clone(),
                &StreamLimits::default()
            ),
            Err(JudgeError::DuplicateStream(1))
        );
        assert_eq!(
            judge_streams(
                "s",
                &[(1, u64::MAX), (2, 1)],
                none,
                &StreamLimits::default()
            ),
            Err(JudgeError::CountOverflow)
        );
    }

    #[test]
    fn total_loss_lists_first_seqs() {
        let none: Vec<Arrival<u32>> = vec![];
        let v =
            judge_streams("s", &[(4, 1_000_000)], none, &StreamLimits::default()).expect("valid");
        let r = report(&v);
        assert_eq!(r.lost, 1_000_000);
        assert_eq!(
            r.examples.lost,
            vec!["s4#0", "s4#1", "s4#2", "s4#3", "s4#4"]
        );
    }
}
