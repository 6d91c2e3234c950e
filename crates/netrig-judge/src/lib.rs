//! Verdicts with known error rates.
//!
//! `netrig-judge` turns observations (flow counts, packet tags, counters) into
//! a [`Verdict`]: [`Outcome::Pass`], [`Outcome::Fail`] or [`Outcome::Broken`]
//! ("cannot decide"), a one- or two-line explanation a person can check by
//! hand, and the numbers behind it as serializable fields. It is pure: no I/O,
//! no syscalls, no randomness, so every verdict can be recomputed from its
//! inputs.
//!
//! # Verdicts
//!
//! * [`judge_split`] / [`SplitTest`]: is traffic split over `k >= 2` paths in
//!   proportion to the configured weights? Statistical, with a proven bound on
//!   the false-failure probability and a computed power (see below).
//! * [`judge_affinity`]: did every flow stay on exactly one path or backend?
//! * [`judge_streams`]: loss, duplication, reordering and misrouting counted
//!   from packet tags, each with a limit.
//! * [`judge_ratio`]: the ratio of two counters within bounds (for example
//!   FIB lookups per received packet `>= 0.95`).
//!
//! Only the split test is statistical; the others are deterministic checks a
//! correct system never fails, and report `false_fail_bound = 0`.
//!
//! # The statistical model for weighted splits
//!
//! The kernel picks a nexthop by hashing a flow's header fields, so *all
//! packets of one flow follow one path*: packets are not independent draws and
//! counting them only inflates apparent precision. We therefore count
//! **distinct flows** per path. The hash itself is deterministic; what we model
//! is a *good* hash applied to distinct flows, which behaves like independent
//! draws: with `n` flows and weights `w_1..w_k`, the per-path counts are
//! multinomial with `p_i = w_i / Σw`. Consequences worth knowing:
//!
//! * The model is about the flow population, not the packet count: `n` is the
//!   number of distinct 5-tuples (or whatever the hash policy covers) that were
//!   seen, and flows must differ in fields the policy hashes (an L3 policy over
//!   flows that differ only in ports puts all of them on one path, which is
//!   exactly what the test should catch).
//! * A fixed set of flows with a fixed hash seed gives the same counts on every
//!   run; the error rates below are over the choice of flows/seed, which is
//!   what "a correct system" means here.
//!
//! The decision rule, its false-failure bound and its power are documented on
//! [`SplitTest`]. In short: each path's count is tested with an exact two-sided
//! binomial test at level `alpha / m` (Bonferroni over `m = k` paths, or
//! `m = 1` when `k = 2` because both paths then give the same test), so
//! `P(Fail | system correct) <= alpha`; the number of flows is chosen so that a
//! path receiving `tolerance` (default 25%) more or less than its share is
//! caught with probability at least `power` (default 0.99). With fewer flows
//! the verdict is Broken, never a coin-flip Pass.
//!
//! # Example
//!
//! ```
//! use netrig_judge::{Outcome, SplitConfig, SplitTest};
//!
//! // Two nexthops with weights 11 and 45, default alpha 1e-6, ±25%, power 0.99.
//! let test = SplitTest::new(&[11, 45], SplitConfig::default())?
//!     .with_labels(["r1:eth1", "r1:eth2"])?;
//! let n = test.flows_needed(); // send at least this many distinct flows
//! assert!(n > 1000 && n < 10_000);
//!
//! // A fair outcome passes...
//! let fair = [n * 11 / 56, n - n * 11 / 56];
//! let v = test.judge("multipath-v4", &fair)?;
//! assert_eq!(v.outcome, Outcome::Pass);
//! println!("{v}");
//!
//! // ...swapped weights fail, and too few flows cannot be decided.
//! let swapped = [n * 45 / 56, n - n * 45 / 56];
//! assert_eq!(test.judge("multipath-v4", &swapped)?.outcome, Outcome::Fail);
//! assert_eq!(test.judge("multipath-v4", &[20, 80])?.outcome, Outcome::Broken);
//! # Ok::<(), netrig_judge::JudgeError>(())
//! ```

use std::fmt;

use serde::Serialize;

mod affinity;
pub mod dist;
mod ratio;
mod split;
mod streams;

pub use affinity::{judge_affinity, AffinityOffender, AffinityReport, PathHits};
pub use ratio::{judge_ratio, RatioBounds, RatioReport};
pub use split::{
    flows_needed, judge_split, plan_split, PathReport, Side, SplitConfig, SplitPlan, SplitReport,
    SplitTest, MAX_PLANNED_FLOWS, MAX_WEIGHT, MIN_ALPHA,
};
pub use streams::{
    judge_streams, Arrival, StreamExamples, StreamLimits, StreamReport, StreamStats,
};

/// How many offending items (flows, packets) an explanation lists by name.
pub const MAX_LISTED: usize = 5;

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check held.
    Pass,
    /// The check did not hold.
    Fail,
    /// The check cannot decide (too little data, nothing observed, a zero
    /// denominator). Not a pass: a case that cannot be judged is broken.
    Broken,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Broken => "BROKEN",
        })
    }
}

/// A verdict: outcome, name, human explanation and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Name given by the caller (for example the step or case name).
    pub name: String,
    /// Pass, Fail or Broken.
    pub outcome: Outcome,
    /// One or two lines: inputs, what was checked, and the numbers that led
    /// to the outcome.
    pub explanation: String,
    /// Upper bound on the probability that a correct system gets
    /// [`Outcome::Fail`] from this rule (0 for deterministic checks).
    pub false_fail_bound: f64,
    /// The numbers, per kind of check.
    pub details: Details,
}

impl Verdict {
    /// True if the outcome is [`Outcome::Pass`].
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.outcome, self.name, self.explanation)
    }
}

/// Check-specific numbers of a [`Verdict`], for JSON reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Details {
    /// From [`judge_split`] / [`SplitTest::judge`].
    Split(SplitReport),
    /// From [`judge_affinity`].
    Affinity(AffinityReport),
    /// From [`judge_streams`].
    Streams(StreamReport),
    /// From [`judge_ratio`].
    Ratio(RatioReport),
}

/// Bad input to a verdict function (a caller bug, not a test outcome).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JudgeError {
    /// A split needs at least two paths.
    #[error("a split needs at least 2 paths, got {0}")]
    TooFewPaths(usize),
    /// A weight outside `1..=256` (the kernel's nexthop weight range).
    #[error("weight {weight} of path {index} is outside 1..={max}", max = MAX_WEIGHT)]
    WeightOutOfRange {
        /// Index of the path.
        index: usize,
        /// The offending weight.
        weight: u32,
    },
    /// Two inputs that must have one entry per path differ in length.
    #[error("{what}: expected {expected} entries (one per path), got {got}")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// Number of paths.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// `alpha` outside `[MIN_ALPHA, 1)`.
    #[error("alpha must be in (0, 1) and at least {MIN_ALPHA:e}, got {0}")]
    Alpha(f64),
    /// `tolerance` outside `(0, 1)`.
    #[error("tolerance must be in (0, 1), got {0}")]
    Tolerance(f64),
    /// `power` outside `(0, 1)`.
    #[error("power must be in (0, 1), got {0}")]
    Power(f64),
    /// The plan would need more flows than [`MAX_PLANNED_FLOWS`].
    #[error(
        "deciding needs more than {limit} flows (alpha={alpha:e}, power={power}, \
         tolerance={tolerance}); relax one of them"
    )]
    PlanTooLarge {
        /// The limit that was exceeded.
        limit: u64,
        /// Requested alpha.
        alpha: f64,
        /// Requested power.
        power: f64,
        /// Requested tolerance.
        tolerance: f64,
    },
    /// A sum of counts does not fit in `u64`.
    #[error("the counts add up to more than u64::MAX")]
    CountOverflow,
    /// A stream id appears more than once in the sent list.
    #[error("stream {0} is listed more than once in the sent counts")]
    DuplicateStream(u32),
    /// Ratio bounds are NaN, negative-width or both absent.
    #[error("invalid ratio bounds: {0}")]
    RatioBounds(String),
}

/// `x` as a percentage with one decimal, for explanations.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A probability in compact scientific or fixed form, for explanations.
pub(crate) fn prob(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if x < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_display_and_serde() {
        assert_eq!(Outcome::Broken.to_string(), "BROKEN");
        assert_eq!(
            serde_json::to_string(&Outcome::Fail).unwrap_or_default(),
            "\"fail\""
        );
    }

    #[test]
    fn prob_formatting() {
        assert_eq!(prob(0.0), "0");
        assert_eq!(prob(0.5), "0.5000");
        assert_eq!(prob(1e-7), "1.00e-7");
    }
}
