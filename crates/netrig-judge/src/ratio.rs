//! Ratio of two counters within bounds.

use serde::Serialize;

use crate::{Details, JudgeError, Outcome, Verdict};

/// Inclusive bounds on a ratio; `None` means unbounded on that side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioBounds {
    /// Smallest accepted ratio.
    pub min: Option<f64>,
    /// Largest accepted ratio.
    pub max: Option<f64>,
}

impl RatioBounds {
    /// `ratio >= min`.
    pub fn at_least(min: f64) -> Self {
        RatioBounds {
            min: Some(min),
            max: None,
        }
    }

    /// `ratio <= max`.
    pub fn at_most(max: f64) -> Self {
        RatioBounds {
            min: None,
            max: Some(max),
        }
    }

    /// `min <= ratio <= max`.
    pub fn within(min: f64, max: f64) -> Self {
        RatioBounds {
            min: Some(min),
            max: Some(max),
        }
    }

    fn validate(&self) -> Result<(), JudgeError> {
        let bad = |what: &str| Err(JudgeError::RatioBounds(what.to_string()));
        if self.min.is_some_and(f64::is_nan) || self.max.is_some_and(f64::is_nan) {
            return bad("bound is NaN");
        }
        match (self.min, self.max) {
            (None, None) => bad("no bound given"),
            (Some(lo), Some(hi)) if lo > hi => bad(&format!("min {lo} > max {hi}")),
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("within [{lo}, {hi}]"),
            (Some(lo), None) => format!(">= {lo}"),
            (None, Some(hi)) => format!("<= {hi}"),
            (None, None) => "unbounded".to_string(),
        }
    }
}

/// Numbers of a ratio verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioReport {
    /// What the numerator counts.
    pub numerator_label: String,
    /// Numerator value.
    pub numerator: u64,
    /// What the denominator counts.
    pub denominator_label: String,
    /// Denominator value.
    pub denominator: u64,
    /// `numerator / denominator`, `None` if the denominator is 0.
    pub ratio: Option<f64>,
    /// The bounds.
    pub bounds: RatioBounds,
}

/// Pass iff `numerator / denominator` lies within `bounds` (inclusive).
///
/// Broken if the denominator is 0 (nothing to compare against). Counters are
/// taken as exact, so the check is deterministic (`false_fail_bound = 0`); the
/// ratio is computed in `f64`, exact enough for counts below `2^53`.
///
/// ```
/// use netrig_judge::{judge_ratio, Outcome, RatioBounds};
///
/// let v = judge_ratio(
///     "fib-lookups",
///     ("fib:fib_table_lookup events", 65_535),
///     ("packets received", 65_535),
///     RatioBounds::at_least(0.95),
/// )?;
/// assert_eq!(v.outcome, Outcome::Pass);
/// # Ok::<(), netrig_judge::JudgeError>(())
/// ```
pub fn judge_ratio(
    name: &str,
    numerator: (&str, u64),
    denominator: (&str, u64),
    bounds: RatioBounds,
) -> Result<Verdict, JudgeError> {
    bounds.validate()?;
    let (nl, nv) = numerator;
    let (dl, dv) = denominator;
    let ratio = (dv != 0).then(|| nv as f64 / dv as f64);
    let (outcome, explanation) = match ratio {
        None => (
            Outcome::Broken,
            format!("{nl} / {dl} = {nv}/0: the denominator is zero, so the ratio cannot be judged"),
        ),
        Some(r) => {
            let ok = bounds.min.is_none_or(|lo| r >= lo) && bounds.max.is_none_or(|hi| r <= hi);
            let outcome = if ok { Outcome::Pass } else { Outcome::Fail };
            let verb = if ok { "is" } else { "is not" };
            (
                outcome,
                format!(
                    "{nl} / {dl} = {nv}/{dv} = {r:.4}, which {verb} {}",
                    bounds.describe()
                ),
            )
        }
    };
    Ok(Verdict {
        name: name.to_string(),
        outcome,
        explanation,
        false_fail_bound: 0.0,
        details: Details::Ratio(RatioReport {
            numerator_label: nl.to_string(),
            numerator: nv,
            denominator_label: dl.to_string(),
            denominator: dv,
            ratio,
            bounds,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bound() {
        let v = judge_ratio(
            "r",
            ("lookups", 10_020),
            ("packets", 65_535),
            RatioBounds::at_least(0.95),
        )
        .expect("valid bounds");
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            v.explanation
                .contains("10020/65535 = 0.1529, which is not >= 0.95"),
            "{v}"
        );
        let v = judge_ratio(
            "r",
            ("lookups", 62_259),
            ("packets", 65_535),
            RatioBounds::at_least(0.95),
        )
        .expect("valid bounds");
        // 62259/65535 = 0.95001..., just inside.
        assert_eq!(v.outcome, Outcome::Pass, "{v}");
    }

    #[test]
    fn interval_is_inclusive() {
        let b = RatioBounds::within(0.5, 2.0);
        for (n, d, want) in [
            (1, 2, Outcome::Pass),
            (2, 1, Outcome::Pass),
            (3, 1, Outcome::Fail),
            (1, 3, Outcome::Fail),
        ] {
            let v = judge_ratio("r", ("a", n), ("b", d), b).expect("valid bounds");
            assert_eq!(v.outcome, want, "{v}");
        }
        let v = judge_ratio("r", ("a", 5), ("b", 1), RatioBounds::at_most(4.0)).expect("valid");
        assert_eq!(v.outcome, Outcome::Fail);
    }

    #[test]
    fn zero_denominator_is_broken() {
        let v = judge_ratio("r", ("a", 5), ("b", 0), RatioBounds::at_least(0.95)).expect("valid");
        assert_eq!(v.outcome, Outcome::Broken);
        let Details::Ratio(r) = &v.details else {
            panic!("wrong details")
        };
        assert_eq!(r.ratio, None);
    }

    #[test]
    fn bad_bounds_are_errors() {
        for b in [
            RatioBounds {
                min: None,
                max: None,
            },
            RatioBounds::within(2.0, 1.0),
            RatioBounds::at_least(f64::NAN),
            RatioBounds::at_most(f64::NAN),
        ] {
            assert!(matches!(
                judge_ratio("r", ("a", 1), ("b", 1), b),
                Err(JudgeError::RatioBounds(_))
            ));
        }
    }
}
