//! Weighted split over `k >= 2` paths: per-path exact binomial tests with a
//! Bonferroni bound, and a sample-size planner with exact binomial power.

use serde::Serialize;

use crate::dist::{cdf_pq, ge_pq, norm_ppf};
use crate::{pct, prob, Details, JudgeError, Outcome, Verdict};

/// Largest nexthop weight the kernel accepts (`ip route ... weight 1..256`).
pub const MAX_WEIGHT: u32 = 256;

/// Smallest accepted `alpha`. Below it the tail probabilities approach the
/// floating-point underflow range, and no practical suite needs it.
pub const MIN_ALPHA: f64 = 1e-30;

/// Largest sample size the planner will propose; asking for more means the
/// configuration is unrealistic for a test (relax tolerance, alpha or power).
pub const MAX_PLANNED_FLOWS: u64 = 100_000_000;

/// Configuration of a split test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitConfig {
    /// Upper bound on the probability that a correct system fails (default `1e-6`).
    pub alpha: f64,
    /// Relative deviation of a path's share to detect (default `0.25`: a path
    /// getting 25% more or less than `w_i / Σw` of the flows).
    pub tolerance: f64,
    /// Probability of failing when some path deviates by `tolerance` or more
    /// (default `0.99`).
    pub power: f64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            alpha: 1e-6,
            tolerance: 0.25,
            power: 0.99,
        }
    }
}

/// Direction of a deviation from the expected share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The path gets `1 - tolerance` times its share.
    Low,
    /// The path gets `1 + tolerance` times its share.
    High,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Low => "low",
            Side::High => "high",
        }
    }
}

/// Sample-size plan for a split test: how many distinct flows to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitPlan {
    /// Path weights.
    pub weights: Vec<u32>,
    /// Configuration the plan was made for.
    pub config: SplitConfig,
    /// Number of binomial tests the alpha is divided over (`k`, or 1 if `k = 2`).
    pub tests: u32,
    /// Level of each tail of each test: `alpha / (2 * tests)`.
    pub tail_alpha: f64,
    /// Smallest `N` such that the rule, run on any `n >= N` flows, catches a
    /// `tolerance` deviation on any path with probability `>= power`.
    pub flows_needed: u64,
    /// Power at `flows_needed` (exact binomial, worst path and side).
    pub power: f64,
    /// Path with the lowest power at `flows_needed`.
    pub worst_path: usize,
    /// Direction of the hardest-to-detect deviation.
    pub worst_side: Side,
}

/// Per-path numbers of a split verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathReport {
    /// Label (given with [`SplitTest::with_labels`], else `path<i>`).
    pub label: String,
    /// Configured weight.
    pub weight: u32,
    /// Distinct flows observed on this path.
    pub flows: u64,
    /// `w_i / Σw`.
    pub expected_share: f64,
    /// `flows / n` (0 when `n = 0`).
    pub observed_share: f64,
    /// `n * expected_share`.
    pub expected_flows: f64,
    /// `observed_share / expected_share - 1` (0 when `n = 0`).
    pub relative_deviation: f64,
    /// Smallest count the test accepts (the acceptance region is
    /// `accept_lo..=accept_hi`; anything outside fails).
    pub accept_lo: u64,
    /// Largest count the test accepts.
    pub accept_hi: u64,
    /// Unadjusted two-sided (equal-tail) exact binomial p-value:
    /// `min(1, 2 min(P(X <= x), P(X >= x)))`.
    pub p_value: f64,
    /// Count outside the acceptance region.
    pub rejected: bool,
    /// Probability that this path's test rejects if the path gets
    /// `(1 + tolerance)` times its share (`None` when that exceeds 1).
    pub power_high: Option<f64>,
    /// Probability that this path's test rejects if the path gets
    /// `(1 - tolerance)` times its share.
    pub power_low: f64,
}

/// Numbers of a split verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitReport {
    /// Total distinct flows `n`.
    pub flows: u64,
    /// Configuration.
    pub config: SplitConfig,
    /// Number of binomial tests alpha is divided over.
    pub tests: u32,
    /// Level of each tail: `alpha / (2 * tests)`.
    pub tail_alpha: f64,
    /// Flows needed for the configured power (see [`SplitPlan`]).
    pub flows_needed: u64,
    /// Exact probability that the rule fails a correct system at this `n`,
    /// bounded by the union bound: `Σ_i P_H0(path i rejects) <= alpha`.
    pub size: f64,
    /// Power at this `n` against a `tolerance` deviation (exact binomial,
    /// worst path and side).
    pub power: f64,
    /// Path with the lowest power.
    pub worst_path: usize,
    /// Direction with the lowest power.
    pub worst_side: Side,
    /// Bonferroni-adjusted p-value `min(1, tests * min_i p_i)`; the rule
    /// fails iff it is `<= alpha` (and `n >= flows_needed`).
    pub p_value: f64,
    /// Pearson chi-squared statistic; informational, not used to decide.
    pub chi2: f64,
    /// Its degrees of freedom, `k - 1`.
    pub chi2_df: u32,
    /// `P(χ²_df > chi2)`; informational.
    pub chi2_p_value: f64,
    /// Per-path numbers.
    pub paths: Vec<PathReport>,
}

/// Probabilities of one path under the null and the two alternatives.
#[derive(Debug, Clone, Copy)]
struct PathModel {
    p: f64,
    q: f64,
    /// `(1 + tol) p` and its complement, if below 1.
    high: Option<(f64, f64)>,
    /// `(1 - tol) p` and its complement.
    low: (f64, f64),
}

/// Critical values of one path at one `n`: reject iff `x <= lo` or `x >= hi`.
/// `lo = -1` means no lower rejection region, `hi = n + 1` no upper one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Crit {
    lo: i64,
    hi: i64,
}

/// Critical values computed for some `n`, reused as a starting point.
#[derive(Debug, Clone)]
struct Hint {
    n: u64,
    crits: Vec<Crit>,
}

#[derive(Debug, Clone, Copy)]
struct PowerAt {
    power: f64,
    worst_path: usize,
    worst_side: Side,
}

/// A configured split test: weights, configuration, labels and its plan.
///
/// # Decision rule
///
/// Let `n = Σ x_i` be the number of distinct flows and `p_i = w_i / Σw`. Under
/// the model (see the crate docs) `x ~ Multinomial(n, p)`, so each count alone
/// is `X_i ~ Bin(n, p_i)`. Let `m = k` (or `m = 1` when `k = 2`, see below)
/// and `a = alpha / (2m)`. For each path:
///
/// * `lo_i` is the largest `l` with `P(X_i <= l) <= a` (none if `P(X_i = 0) > a`),
/// * `hi_i` is the smallest `u` with `P(X_i >= u) <= a`,
///
/// computed exactly (binomial pmf sums, see [`crate::dist`]). The verdict is
///
/// * **Broken** if `n < flows_needed` (not enough flows to reach the power),
/// * **Fail** if some `x_i <= lo_i` or `x_i >= hi_i`,
/// * **Pass** otherwise.
///
/// Equivalently: fail iff the Bonferroni-adjusted p-value
/// `m * min_i 2 min(P(X_i <= x_i), P(X_i >= x_i))` is `<= alpha`.
///
/// # Why `P(Fail | correct) <= alpha`
///
/// By construction `P(X_i <= lo_i) <= a` and `P(X_i >= hi_i) <= a`, so path
/// `i` rejects with probability at most `2a = alpha / m`, whatever `n` is.
/// The union bound needs no independence (multinomial counts are negatively
/// correlated): `P(any path rejects) <= Σ_i P(path i rejects) <= k * alpha / m`.
/// For `k >= 3`, `m = k` gives `alpha`. For `k = 2`, `x_2 = n - x_1` and path 2's
/// region is the mirror image of path 1's (`lo_2 = n - hi_1`, `hi_2 = n - lo_1`;
/// the code derives it that way rather than recomputing it), so "some path
/// rejects" is the single event "path 1 rejects", of probability
/// `<= 2a = alpha` with `m = 1`. Returning Broken never increases the
/// false-failure probability. The exact size `Σ_i P(path i rejects)` is
/// reported as [`SplitReport::size`] and [`Verdict::false_fail_bound`].
///
/// # Power and `flows_needed`
///
/// Suppose the split is wrong so that some path `i` gets `(1 ± tolerance) p_i`
/// of the flows (or worse). The rule fails at least whenever path `i`'s own
/// test rejects, and that probability is computed exactly for the binomial:
/// `P(X ≥ hi_i)` under `Bin(n, (1+tol) p_i)` and `P(X <= lo_i)` under
/// `Bin(n, (1-tol) p_i)`. It does not depend on how the other paths share the
/// rest, and it only grows for larger deviations (binomial tails are monotone
/// in `p`), so the minimum over paths and sides is a lower bound on the power
/// against every alternative with a deviation `>= tolerance`.
///
/// Because counts are integers the power is a sawtooth in `n`, not monotone.
/// [`SplitTest::flows_needed`] is the smallest `N` such that the power is
/// `>= power` at *every* `n >= N`, not just at `N`: the planner finds a
/// crossing by bisection, then checks every `n` exactly over a window of
/// `4 / (tolerance · min p_i) + 64` flows past the last dip. Why that window
/// suffices: a critical value steps up about once every `1 / p_i` flows, each
/// step costs at most one pmf term of power, and the power gained between
/// steps is about `tolerance` times that, so dips stop reaching below the
/// target after about `1 / tolerance` steps, i.e. `1 / (tolerance · p_i)`
/// flows. Exhaustive scans up to `3N` over a range of weights and configs
/// found the last dip within `1.7 / (tolerance · min p_i)` flows of the first
/// crossing; the tests re-check `[N, 2N)` for some of them.
#[derive(Debug, Clone)]
pub struct SplitTest {
    weights: Vec<u32>,
    config: SplitConfig,
    labels: Vec<String>,
    paths: Vec<PathModel>,
    tests: u32,
    tail_alpha: f64,
    plan: SplitPlan,
}

impl SplitTest {
    /// Validate the inputs and plan the sample size.
    ///
    /// Errors: fewer than 2 weights, a weight outside `1..=256`, `alpha`
    /// outside `[MIN_ALPHA, 1)`, `tolerance` or `power` outside `(0, 1)`, or a
    /// plan above [`MAX_PLANNED_FLOWS`].
    pub fn new(weights: &[u32], config: SplitConfig) -> Result<Self, JudgeError> {
        validate(weights, &config)?;
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let tot = total as f64;
        let tol = config.tolerance;
        let paths = weights
            .iter()
            .map(|&w| {
                let w = f64::from(w);
                // Compute p and q from integers so q keeps full precision for
                // heavy paths (1 - p would lose bits when p is near 1).
                let p = w / tot;
                let q = (tot - w) / tot;
                let ph = p * (1.0 + tol);
                let high = (ph < 1.0).then(|| (ph, (tot - w * (1.0 + tol)) / tot));
                let low = (p * (1.0 - tol), (tot - w * (1.0 - tol)) / tot);
                PathModel { p, q, high, low }
            })
            .collect::<Vec<_>>();
        // For two paths both per-path tests are the same event (x2 = n - x1),
        // so splitting alpha between them would only waste power.
        let tests = if weights.len() == 2 {
            1
        } else {
            u32::try_from(weights.len()).unwrap_or(u32::MAX)
        };
        let tail_alpha = config.alpha / f64::from(tests) / 2.0;
        let labels = (0..weights.len()).map(|i| format!("path{i}")).collect();
        let mut test = SplitTest {
            weights: weights.to_vec(),
            config,
            labels,
            paths,
            tests,
            tail_alpha,
            plan: SplitPlan {
                weights: weights.to_vec(),
                config,
                tests,
                tail_alpha,
                flows_needed: 0,
                power: 0.0,
                worst_path: 0,
                worst_side: Side::Low,
            },
        };
        test.plan = test.make_plan()?;
        Ok(test)
    }

    /// Name the paths in explanations and reports (one label per weight).
    pub fn with_labels<I, S>(mut self, labels: I) -> Result<Self, JudgeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let labels: Vec<String> = labels.into_iter().map(Into::into).collect();
        if labels.len() != self.weights.len() {
            return Err(JudgeError::LengthMismatch {
                what: "labels",
                expected: self.weights.len(),
                got: labels.len(),
            });
        }
        self.labels = labels;
        Ok(self)
    }

    /// The sample-size plan.
    pub fn plan(&self) -> &SplitPlan {
        &self.plan
    }

    /// Minimum number of distinct flows to decide (see [`SplitPlan::flows_needed`]).
    pub fn flows_needed(&self) -> u64 {
        self.plan.flows_needed
    }

    /// Power of the rule with `n` flows against a `tolerance` deviation
    /// (exact binomial, worst path and side).
    pub fn power(&self, n: u64) -> f64 {
        self.power_at(n, &mut None).power
    }

    /// Upper bound on `P(Fail | correct)` with `n` flows: the exact sum of the
    /// per-path rejection probabilities (`<= alpha`).
    pub fn size(&self, n: u64) -> f64 {
        let crits = self.crits(n, &mut None);
        self.size_of(n, &crits)
    }

    /// Judge observed per-path counts of distinct flows (same order as the
    /// weights).
    pub fn judge(&self, name: &str, counts: &[u64]) -> Result<Verdict, JudgeError> {
        let k = self.weights.len();
        if counts.len() != k {
            return Err(JudgeError::LengthMismatch {
                what: "counts",
                expected: k,
                got: counts.len(),
            });
        }
        let n = counts
            .iter()
            .try_fold(0u64, |acc, &c| acc.checked_add(c))
            .ok_or(JudgeError::CountOverflow)?;
        let crits = self.crits(n, &mut None);
        let nf = n as f64;
        let mut paths = Vec::with_capacity(k);
        let mut chi2 = 0.0;
        for (i, (&x, c)) in counts.iter().zip(&crits).enumerate() {
            let pm = &self.paths[i];
            let xi = x as i64;
            let rejected = n > 0 && (xi <= c.lo || xi >= c.hi);
            let two_sided = if n == 0 {
                1.0
            } else {
                (2.0 * cdf_pq(x, n, pm.p, pm.q).min(ge_pq(x, n, pm.p, pm.q))).min(1.0)
            };
            let expected = nf * pm.p;
            if n > 0 {
                chi2 += (nf * pm.p - x as f64).powi(2) / expected;
            }
            let observed_share = if n == 0 { 0.0 } else { x as f64 / nf };
            paths.push(PathReport {
                label: self.labels[i].clone(),
                weight: self.weights[i],
                flows: x,
                expected_share: pm.p,
                observed_share,
                expected_flows: expected,
                relative_deviation: if n == 0 {
                    0.0
                } else {
                    observed_share / pm.p - 1.0
                },
                accept_lo: (c.lo + 1).max(0) as u64,
                accept_hi: (c.hi - 1).max(0) as u64,
                p_value: two_sided,
                rejected,
                power_high: pm.high.map(|(ph, qh)| high_power(c, n, ph, qh)),
                power_low: low_power(c, n, pm.low.0, pm.low.1),
            });
        }
        let pw = self.power_from(n, &crits);
        let size = self.size_of(n, &crits);
        let min_p = paths.iter().map(|p| p.p_value).fold(1.0, f64::min);
        let p_value = (f64::from(self.tests) * min_p).min(1.0);
        let chi2_df = u32::try_from(k - 1).unwrap_or(u32::MAX);
        let report = SplitReport {
            flows: n,
            config: self.config,
            tests: self.tests,
            tail_alpha: self.tail_alpha,
            flows_needed: self.plan.flows_needed,
            size,
            power: pw.power,
            worst_path: pw.worst_path,
            worst_side: pw.worst_side,
            p_value,
            chi2,
            chi2_df,
            chi2_p_value: if n == 0 {
                1.0
            } else {
                crate::dist::chi2_sf(chi2, chi2_df)
            },
            paths,
        };
        let outcome = if n == 0 || n < self.plan.flows_needed {
            Outcome::Broken
        } else if report.paths.iter().any(|p| p.rejected) {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        let explanation = self.explain(outcome, &report);
        Ok(Verdict {
            name: name.to_string(),
            outcome,
            explanation,
            false_fail_bound: size,
            details: Details::Split(report),
        })
    }

    fn explain(&self, outcome: Outcome, r: &SplitReport) -> String {
        let c = &self.config;
        let weights = join(self.weights.iter().map(|w| w.to_string()), ":");
        let shares = |f: fn(&PathReport) -> f64| join(r.paths.iter().map(|p| pct(f(p))), "/");
        let first = format!(
            "n={} distinct flows over {} paths, weights {}: observed {} vs expected {}",
            r.flows,
            r.paths.len(),
            weights,
            shares(|p| p.observed_share),
            shares(|p| p.expected_share),
        );
        let rule = format!(
            "rule: two-sided exact binomial test per path at level alpha/m={} (m={}), so \
             P(false fail)<={} <= alpha; power {} against a ±{} share deviation (exact binomial, \
             worst {} {}); needs >= {} flows",
            prob(c.alpha / f64::from(r.tests)),
            r.tests,
            prob(r.size),
            prob(r.power),
            pct(c.tolerance),
            self.labels[r.worst_path],
            r.worst_side.name(),
            r.flows_needed,
        );
        match outcome {
            Outcome::Broken => {
                let mut s = format!(
                    "{first}.\nneed >= {} flows to decide at alpha={}, power={} (±{} share), got {} \
                     (power {} at this n)",
                    r.flows_needed,
                    prob(c.alpha),
                    c.power,
                    pct(c.tolerance),
                    r.flows,
                    prob(r.power),
                );
                if r.paths.iter().any(|p| p.rejected) {
                    s.push_str(" (counts already outside the acceptance region)");
                }
                s
            }
            Outcome::Fail => {
                let bad = join(
                    r.paths.iter().filter(|p| p.rejected).map(|p| {
                        format!(
                            "{} has {} flows ({:+.1}%), accepted {}..={}, p={}",
                            p.label,
                            p.flows,
                            100.0 * p.relative_deviation,
                            p.accept_lo,
                            p.accept_hi,
                            prob(p.p_value)
                        )
                    }),
                    "; ",
                );
                format!(
                    "{first}; {bad}; adjusted p={} <= alpha={}.\n{rule}",
                    prob(r.p_value),
                    prob(c.alpha)
                )
            }
            Outcome::Pass => {
                let ranges = join(
                    r.paths
                        .iter()
                        .map(|p| format!("{} {}..={}", p.flows, p.accept_lo, p.accept_hi)),
                    ", ",
                );
                format!(
                    "{first}; all within acceptance ({ranges}), adjusted p={} > alpha={}.\n{rule}",
                    prob(r.p_value),
                    prob(c.alpha)
                )
            }
        }
    }

    /// Critical values of every path at `n`. `hint` carries the values of a
    /// previous call so that a scan over consecutive `n` costs one probe per
    /// bound instead of a search.
    fn crits(&self, n: u64, hint: &mut Option<Hint>) -> Vec<Crit> {
        let a = self.tail_alpha;
        let ni = n as i64;
        let k = self.paths.len();
        // With two paths only path 0 is tested; path 1 is its mirror image.
        let tested = if k == 2 { 1 } else { k };
        let mut out = Vec::with_capacity(k);
        for i in 0..tested {
            let pm = &self.paths[i];
            let low_ok = |l: i64| l < 0 || cdf_pq(l as u64, n, pm.p, pm.q) <= a;
            let high_ok = |u: i64| u > ni || ge_pq(u as u64, n, pm.p, pm.q) <= a;
            let prev = hint
                .as_ref()
                .and_then(|h| h.crits.get(i).map(|c| (h.n, *c)));
            let crit = match prev {
                // From n-1 to n each bound moves up by at most one: adding a
                // trial makes X stochastically larger (so no bound moves
                // down), and by at most one (X_n <= X_{n-1} + 1).
                Some((pn, c)) if pn + 1 == n => Crit {
                    lo: if low_ok(c.lo + 1) { c.lo + 1 } else { c.lo },
                    hi: if high_ok(c.hi) { c.hi } else { c.hi + 1 },
                },
                _ => {
                    let (glo, ghi) = match prev {
                        Some((_, c)) => (c.lo, c.hi - 1),
                        None => {
                            let z = -norm_ppf(a);
                            let mean = n as f64 * pm.p;
                            let sd = (mean * pm.q).sqrt();
                            (
                                (mean - z * sd).floor() as i64,
                                (mean + z * sd).ceil() as i64,
                            )
                        }
                    };
                    // Largest l with P(X <= l) <= a; l = -1 (empty region)
                    // always qualifies.
                    let lo = last_true(-1, ni, glo, low_ok);
                    // Smallest u with P(X >= u) <= a: one past the last u
                    // that does not qualify (u = 0 never does, P = 1 > a).
                    let hi = last_true(0, ni + 1, ghi, |u| !high_ok(u)) + 1;
                    Crit { lo, hi }
                }
            };
            out.push(crit);
        }
        if k == 2 {
            let c0 = out[0];
            out.push(Crit {
                lo: ni - c0.hi,
                hi: ni - c0.lo,
            });
        }
        *hint = Some(Hint {
            n,
            crits: out.clone(),
        });
        out
    }

    fn size_of(&self, n: u64, crits: &[Crit]) -> f64 {
        let tested = if self.paths.len() == 2 {
            1
        } else {
            crits.len()
        };
        crits
            .iter()
            .zip(&self.paths)
            .take(tested)
            .map(|(c, pm)| {
                let low = if c.lo >= 0 {
                    cdf_pq(c.lo as u64, n, pm.p, pm.q)
                } else {
                    0.0
                };
                low + high_power(c, n, pm.p, pm.q)
            })
            .sum()
    }

    fn power_from(&self, n: u64, crits: &[Crit]) -> PowerAt {
        let mut best = PowerAt {
            power: f64::INFINITY,
            worst_path: 0,
            worst_side: Side::Low,
        };
        for (i, (c, pm)) in crits.iter().zip(&self.paths).enumerate() {
            let mut consider = |power: f64, side: Side| {
                if power < best.power {
                    best = PowerAt {
                        power,
                        worst_path: i,
                        worst_side: side,
                    };
                }
            };
            consider(low_power(c, n, pm.low.0, pm.low.1), Side::Low);
            if let Some((ph, qh)) = pm.high {
                consider(high_power(c, n, ph, qh), Side::High);
            }
        }
        best
    }

    fn power_at(&self, n: u64, hint: &mut Option<Hint>) -> PowerAt {
        if n == 0 {
            return PowerAt {
                power: 0.0,
                worst_path: 0,
                worst_side: Side::Low,
            };
        }
        let crits = self.crits(n, hint);
        self.power_from(n, &crits)
    }

    fn make_plan(&self) -> Result<SplitPlan, JudgeError> {
        let c = &self.config;
        let target = c.power;
        let too_large = || JudgeError::PlanTooLarge {
            limit: MAX_PLANNED_FLOWS,
            alpha: c.alpha,
            power: c.power,
            tolerance: c.tolerance,
        };
        // Normal approximation as a starting point only; every decision below
        // uses exact binomial probabilities.
        let za = -norm_ppf(self.tail_alpha);
        let zb = norm_ppf(target);
        let mut guess = 1.0f64;
        for pm in &self.paths {
            let alts = [Some(pm.low), pm.high];
            for (pa, qa) in alts.into_iter().flatten() {
                let d = (pa - pm.p).abs();
                let root = (za * (pm.p * pm.q).sqrt() + zb.max(0.0) * (pa * qa).sqrt()) / d;
                guess = guess.max(root * root);
            }
        }
        let guess = (guess.ceil() as u64).clamp(1, MAX_PLANNED_FLOWS);
        // Upper bracket: doubling until the power is reached.
        let mut hi = guess;
        while self.power_at(hi, &mut None).power < target {
            if hi >= MAX_PLANNED_FLOWS {
                return Err(too_large());
            }
            hi = (hi * 2).min(MAX_PLANNED_FLOWS);
        }
        // Bisection for a crossing: power(lo) < target <= power(hi), with
        // power(0) = 0 by convention.
        let mut lo = 0u64;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.power_at(mid, &mut None).power >= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        // Exhaustive scan past the crossing: any dip below target moves the
        // answer above the dip and restarts the window.
        let p_min = self.paths.iter().map(|p| p.p).fold(1.0, f64::min);
        let window = (4.0 / (c.tolerance * p_min)).ceil() as u64 + 64;
        let mut last_fail = lo;
        let mut hint = None;
        let mut n = hi;
        while n <= last_fail + window {
            if self.power_at(n, &mut hint).power < target {
                last_fail = n;
                if n >= MAX_PLANNED_FLOWS {
                    return Err(too_large());
                }
            }
            n += 1;
        }
        let flows_needed = last_fail + 1;
        let pw = self.power_at(flows_needed, &mut None);
        Ok(SplitPlan {
            weights: self.weights.clone(),
            config: *c,
            tests: self.tests,
            tail_alpha: self.tail_alpha,
            flows_needed,
            power: pw.power,
            worst_path: pw.worst_path,
            worst_side: pw.worst_side,
        })
    }
}

/// `P(X >= hi)` under `Bin(n, p)`.
fn high_power(c: &Crit, n: u64, p: f64, q: f64) -> f64 {
    if c.hi > n as i64 {
        0.0
    } else {
        ge_pq(c.hi.max(0) as u64, n, p, q)
    }
}

/// `P(X <= lo)` under `Bin(n, p)`.
fn low_power(c: &Crit, n: u64, p: f64, q: f64) -> f64 {
    if c.lo < 0 {
        0.0
    } else {
        cdf_pq(c.lo as u64, n, p, q)
    }
}

/// Largest `x` in `[min, max]` with `pred(x)`, for a predicate that is true up
/// to some point and false after, with `pred(min)` true. Gallops from `guess`
/// so that a good guess costs only a few evaluations.
fn last_true(min: i64, max: i64, guess: i64, pred: impl Fn(i64) -> bool) -> i64 {
    let g = guess.clamp(min, max);
    let (mut lo, mut hi); // invariant: pred(lo) true, pred(hi) false or hi = max + 1
    if pred(g) {
        lo = g;
        let mut step = 1;
        loop {
            let probe = lo.saturating_add(step);
            if probe > max {
                hi = max + 1;
                break;
            }
            if pred(probe) {
                lo = probe;
                step *= 2;
            } else {
                hi = probe;
                break;
            }
        }
    } else {
        hi = g;
        let mut step = 1;
        loop {
            let probe = hi.saturating_sub(step);
            if probe <= min {
                lo = min;
                break;
            }
            if pred(probe) {
                lo = probe;
                break;
            }
            hi = probe;
            step *= 2;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

fn join(items: impl Iterator<Item = String>, sep: &str) -> String {
    items.collect::<Vec<_>>().join(sep)
}

fn validate(weights: &[u32], config: &SplitConfig) -> Result<(), JudgeError> {
    if weights.len() < 2 {
        return Err(JudgeError::TooFewPaths(weights.len()));
    }
    if let Some((index, &weight)) = weights
        .iter()
        .enumerate()
        .find(|(_, &w)| !(1..=MAX_WEIGHT).contains(&w))
    {
        return Err(JudgeError::WeightOutOfRange { index, weight });
    }
    // `!(x < y)` style comparisons reject NaN too.
    let in_open_unit = |x: f64| x > 0.0 && x < 1.0;
    if !(in_open_unit(config.alpha) && config.alpha >= MIN_ALPHA) {
        return Err(JudgeError::Alpha(config.alpha));
    }
    if !in_open_unit(config.tolerance) {
        return Err(JudgeError::Tolerance(config.tolerance));
    }
    if !in_open_unit(config.power) {
        return Err(JudgeError::Power(config.power));
    }
    Ok(())
}

/// Plan the sample size for a split test (see [`SplitTest`]).
pub fn plan_split(weights: &[u32], config: &SplitConfig) -> Result<SplitPlan, JudgeError> {
    Ok(SplitTest::new(weights, *config)?.plan)
}

/// Minimum number of distinct flows to decide a split test with these weights
/// at the configured alpha, tolerance and power (see [`SplitTest`]).
pub fn flows_needed(weights: &[u32], config: &SplitConfig) -> Result<u64, JudgeError> {
    Ok(plan_split(weights, config)?.flows_needed)
}

/// Judge per-path counts of distinct flows against weights (see [`SplitTest`]
/// for the rule). Builds the plan on each call; keep a [`SplitTest`] to judge
/// several samples with the same weights.
pub fn judge_split(
    name: &str,
    counts: &[u64],
    weights: &[u32],
    config: &SplitConfig,
) -> Result<Verdict, JudgeError> {
    if counts.len() != weights.len() {
        return Err(JudgeError::LengthMismatch {
            what: "counts",
            expected: weights.len(),
            got: counts.len(),
        });
    }
    SplitTest::new(weights, *config)?.judge(name, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_true_finds_the_boundary_from_any_guess() {
        for boundary in [-1i64, 0, 1, 7, 99, 100] {
            for guess in [-5i64, -1, 0, 3, 50, 99, 100, 500] {
                let got = last_true(-1, 100, guess, |x| x <= boundary);
                assert_eq!(got, boundary, "boundary {boundary} guess {guess}");
            }
        }
    }

    #[test]
    fn stepped_critical_values_equal_searched_ones() {
        // The planner's scan steps the bounds by at most one per flow; that
        // must agree with a fresh search at every n.
        for w in [vec![1u32, 1], vec![11, 45], vec![1, 2, 3]] {
            let t = SplitTest::new(&w, SplitConfig::default()).expect("valid");
            let mut hint = None;
            for n in 1..600 {
                let stepped = t.crits(n, &mut hint);
                let fresh = t.crits(n, &mut None);
                assert_eq!(stepped, fresh, "{w:?} n={n}");
            }
        }
    }
}
