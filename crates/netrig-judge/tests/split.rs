//! Weighted split verdicts: planner values against an independent scipy
//! implementation, the false-failure bound checked exactly (no Monte Carlo),
//! and the scenarios the rule must catch or accept.

use netrig_judge::dist::{binom_cdf, binom_sf, ln_gamma};
use netrig_judge::{
    flows_needed, judge_split, plan_split, Details, JudgeError, Outcome, Side, SplitConfig,
    SplitReport, SplitTest, Verdict,
};

fn report(v: &Verdict) -> &SplitReport {
    match &v.details {
        Details::Split(r) => r,
        other => panic!("not a split report: {other:?}"),
    }
}

fn test(weights: &[u32], config: SplitConfig) -> SplitTest {
    SplitTest::new(weights, config).expect("valid split config")
}

/// Binomial pmf through `ln Γ`, independent of the Loader code under test.
fn pmf_lgamma(k: u64, n: u64, p: f64) -> f64 {
    let (kf, nf) = (k as f64, n as f64);
    let lc = ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0);
    let lp = if k == 0 { 0.0 } else { kf * p.ln() };
    let lq = if k == n {
        0.0
    } else {
        (nf - kf) * (1.0 - p).ln()
    };
    (lc + lp + lq).exp()
}

/// Acceptance regions `(lo, hi)` per path at `n`, read from a verdict.
fn regions(t: &SplitTest, n: u64, k: usize) -> Vec<(u64, u64)> {
    let mut counts = vec![0; k];
    counts[0] = n;
    let v = t.judge("probe", &counts).expect("valid counts");
    report(&v)
        .paths
        .iter()
        .map(|p| (p.accept_lo, p.accept_hi))
        .collect()
}

// Reference values: an independent Python re-implementation of the rule with
// scipy (per path: lo = max{l: binom.cdf(l, n, p) <= a}, hi = min{u:
// binom.sf(u-1, n, p) <= a}, a = alpha/(2m); power = min over paths of
// binom.cdf(lo, n, p*(1-tol)) and binom.sf(hi-1, n, p*(1+tol)); flows_needed
// = 1 + the last n in [N/2, 2N) with power < 0.99).
#[test]
fn flows_needed_matches_scipy_reference() {
    let d = SplitConfig::default();
    assert_eq!(flows_needed(&[1, 1], &d), Ok(828));
    assert_eq!(flows_needed(&[2, 1], &d), Ok(1761));
    assert_eq!(flows_needed(&[11, 45], &d), Ok(3707));
    assert_eq!(flows_needed(&[45, 11], &d), Ok(3707));
    assert_eq!(flows_needed(&[1, 1, 1], &d), Ok(1868));

    let close = |got: f64, want: f64| ((got - want) / want).abs() < 1e-10;
    // power(828, [1,1]) -> (0.9907737006962808, path 0 low)
    let p = plan_split(&[1, 1], &d).expect("plan");
    assert!(close(p.power, 0.9907737006962808), "{}", p.power);
    assert_eq!((p.worst_path, p.worst_side), (0, Side::Low));
    // power(1761, [2,1]) -> (0.9903247657999281, path 1 high)
    let p = plan_split(&[2, 1], &d).expect("plan");
    assert!(close(p.power, 0.9903247657999281), "{}", p.power);
    assert_eq!((p.worst_path, p.worst_side), (1, Side::High));
    // power(3707, [11,45]) -> (0.9901244883885475, path 0 high)
    let p = plan_split(&[11, 45], &d).expect("plan");
    assert!(close(p.power, 0.9901244883885475), "{}", p.power);
    assert_eq!((p.worst_path, p.worst_side, p.tests), (0, Side::High, 1));
    // power(1868, [1,1,1]) -> (0.9904884179692154, path 0 high)
    let p = plan_split(&[1, 1, 1], &d).expect("plan");
    assert!(close(p.power, 0.9904884179692154), "{}", p.power);
    assert_eq!(p.tests, 3);

    // Critical values and exact size at N:
    // [1,1] n=828: lo=343, hi=485, size binom.cdf(343,828,.5)+binom.sf(484,828,.5)
    //   = 9.035576132428547e-07
    let t = test(&[1, 1], d);
    assert_eq!(regions(&t, 828, 2), vec![(344, 484), (344, 484)]);
    assert!(close(t.size(828), 9.035576132428547e-07));
    // [11,45] n=3707: lo=611, hi=850, size 8.512478287977867e-07
    let t = test(&[11, 45], d);
    assert_eq!(
        regions(&t, 3707, 2),
        vec![(612, 849), (3707 - 849, 3707 - 612)]
    );
    assert!(close(t.size(3707), 8.512478287977867e-07));
    // [1,1,1] n=1868, a=1e-6/6: lo=519, hi=729, per-path size 2.81461037668821e-07
    let t = test(&[1, 1, 1], d);
    assert_eq!(regions(&t, 1868, 3), vec![(520, 728); 3]);
    assert!(close(t.size(1868), 3.0 * 2.81461037668821e-07));
}

#[test]
fn power_stays_above_target_after_flows_needed() {
    // The power is a sawtooth in n; flows_needed must cover every larger n,
    // not just one lucky n. Checked exhaustively well past the planner's window.
    for w in [[1u32, 1], [2, 1]] {
        let t = test(&w, SplitConfig::default());
        let n0 = t.flows_needed();
        assert!(
            t.power(n0 - 1) < 0.99,
            "{w:?}: power just below N must miss"
        );
        for n in n0..2 * n0 {
            assert!(t.power(n) >= 0.99, "{w:?}: power({n}) = {}", t.power(n));
        }
    }
}

#[test]
fn per_path_rejection_probability_is_exactly_bounded() {
    // For each path the rejection region has H0 probability <= alpha/m,
    // computed here with an independent pmf over the whole support, and it is
    // maximal: one more value on either side would exceed the tail budget.
    let cases: &[(&[u32], f64)] = &[
        (&[1, 1], 1e-6),
        (&[11, 45], 1e-6),
        (&[1, 2, 3], 1e-6),
        (&[1, 256], 1e-3),
        (&[5, 7, 1, 3], 0.05),
    ];
    for &(w, alpha) in cases {
        let config = SplitConfig {
            alpha,
            ..SplitConfig::default()
        };
        let t = test(w, config);
        let k = w.len();
        let m = if k == 2 { 1.0 } else { k as f64 };
        let a = alpha / m / 2.0;
        let total: u32 = w.iter().sum();
        for n in [1u64, 10, 57, 400, t.flows_needed()] {
            let mut sum = 0.0;
            for (i, (lo, hi)) in regions(&t, n, k).into_iter().enumerate() {
                let p = f64::from(w[i]) / f64::from(total);
                let pmf = |j: u64| pmf_lgamma(j, n, p);
                let low: f64 = (0..lo).map(pmf).sum();
                let high: f64 = (hi + 1..=n).map(pmf).sum();
                let slack = 1.0 + 1e-9;
                assert!(
                    low <= a * slack,
                    "{w:?} n={n} path {i}: low tail {low:e} > {a:e}"
                );
                assert!(
                    high <= a * slack,
                    "{w:?} n={n} path {i}: high tail {high:e} > {a:e}"
                );
                assert!(low + high <= alpha / m * slack);
                // Maximal: accepting one value less on either side would not fit.
                if lo <= hi && lo < n {
                    assert!(
                        low + pmf(lo) > a / slack,
                        "{w:?} n={n} path {i}: lo not tight"
                    );
                }
                if hi >= lo && hi > 0 {
                    assert!(
                        high + pmf(hi) > a / slack,
                        "{w:?} n={n} path {i}: hi not tight"
                    );
                }
                sum += low + high;
            }
            // For k = 2 both paths are one test: count it once.
            let size = if k == 2 { sum / 2.0 } else { sum };
            assert!(size <= alpha * (1.0 + 1e-9), "{w:?} n={n}: size {size:e}");
            let rel = (size - t.size(n)).abs() / size.max(1e-300);
            assert!(rel < 1e-9, "{w:?} n={n}: size {size:e} vs {:e}", t.size(n));
        }
    }
}

#[test]
fn two_path_regions_are_mirror_images() {
    // x2 = n - x1, so both paths must reject exactly the same outcomes; this
    // is what lets k = 2 use the whole alpha for one test.
    let t = test(&[11, 45], SplitConfig::default());
    for n in [5u64, 100, 3707, 10_000] {
        let r = regions(&t, n, 2);
        assert_eq!((r[1].0, r[1].1), (n - r[0].1, n - r[0].0), "n={n}");
    }
}

/// Multinomial pmf through `ln Γ`.
fn multinomial(counts: &[u64], p: &[f64]) -> f64 {
    let n: u64 = counts.iter().sum();
    let mut l = ln_gamma(n as f64 + 1.0);
    for (&c, &pi) in counts.iter().zip(p) {
        l -= ln_gamma(c as f64 + 1.0);
        if c > 0 {
            l += c as f64 * pi.ln();
        }
    }
    l.exp()
}

#[test]
fn exact_false_failure_probability_by_enumeration() {
    // Enumerate every multinomial outcome, run the real decision on each, and
    // add up the probability of Fail. Loose alpha and power keep n small
    // enough to enumerate; the bound does not depend on them.
    let config = SplitConfig {
        alpha: 0.2,
        tolerance: 0.9,
        power: 0.5,
    };
    for w in [vec![1u32, 2, 3], vec![3, 5], vec![1, 1, 1]] {
        let t = test(&w, config);
        let total: u32 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|&x| f64::from(x) / f64::from(total)).collect();
        let n0 = t.flows_needed();
        for n in n0..n0 + 6 {
            let mut fail = 0.0;
            let mut mass = 0.0;
            let mut visit = |counts: &[u64]| {
                let pr = multinomial(counts, &p);
                mass += pr;
                let v = t.judge("enum", counts).expect("valid counts");
                assert_ne!(v.outcome, Outcome::Broken);
                if v.outcome == Outcome::Fail {
                    fail += pr;
                }
            };
            if w.len() == 2 {
                for x in 0..=n {
                    visit(&[x, n - x]);
                }
            } else {
                for x in 0..=n {
                    for y in 0..=n - x {
                        visit(&[x, y, n - x - y]);
                    }
                }
            }
            assert!((mass - 1.0).abs() < 1e-9, "{w:?} n={n}: mass {mass}");
            let size = t.size(n);
            assert!(
                fail <= size * (1.0 + 1e-9),
                "{w:?} n={n}: P(fail) {fail} > size {size}"
            );
            assert!(size <= config.alpha, "{w:?} n={n}: size {size}");
            if w.len() == 2 {
                // One test: the union bound is exact.
                assert!((fail - size).abs() < 1e-9, "{w:?} n={n}: {fail} vs {size}");
            }
        }
    }
}

#[test]
fn exact_false_failure_probability_at_default_alpha() {
    // k = 3 at the default alpha and n = flows_needed, too many outcomes to
    // judge one by one: P(Fail) = P(x0 rejected) + sum over accepted x0 of
    // P(x0) * P(x1 or x2 rejected | x0), with x1 | x0 ~ Bin(n - x0, p1/(p1+p2)).
    let w = [1u32, 2, 3];
    let t = test(&w, SplitConfig::default());
    let n = t.flows_needed();
    let r = regions(&t, n, 3);
    let p = [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0];
    let mut fail = binom_cdf(r[0].0 - 1, n, p[0]) + binom_sf(r[0].1, n, p[0]);
    let cond = p[1] / (p[1] + p[2]);
    for x0 in r[0].0..=r[0].1 {
        let rest = n - x0;
        // Accept iff x1 in A1 and rest - x1 in A2.
        let lo = r[1].0.max(rest.saturating_sub(r[2].1));
        let hi = r[1].1.min(rest.saturating_sub(r[2].0));
        let reject = if lo > hi {
            1.0
        } else {
            let below = if lo == 0 {
                0.0
            } else {
                binom_cdf(lo - 1, rest, cond)
            };
            below + binom_sf(hi, rest, cond)
        };
        fail += pmf_lgamma(x0, n, p[0]) * reject;
    }
    let size = t.size(n);
    assert!(
        fail <= size * (1.0 + 1e-9),
        "P(fail) {fail:e} > size {size:e}"
    );
    assert!(size <= 1e-6);
    // Negative dependence makes the union bound nearly tight here.
    assert!(fail > 0.5 * size, "P(fail) {fail:e} vs size {size:e}");
}

/// SplitMix64: a tiny deterministic generator for multinomial samples.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Hash `n` flows onto paths with probabilities proportional to `w`.
fn sample(w: &[u32], n: u64, seed: u64) -> Vec<u64> {
    let total: u32 = w.iter().sum();
    let mut rng = SplitMix(seed);
    let mut counts = vec![0u64; w.len()];
    for _ in 0..n {
        let mut u = rng.next_f64() * f64::from(total);
        let mut i = 0;
        while i + 1 < w.len() && u >= f64::from(w[i]) {
            u -= f64::from(w[i]);
            i += 1;
        }
        counts[i] += 1;
    }
    counts
}

#[test]
fn correct_multinomial_samples_pass() {
    for w in [vec![1u32, 1], vec![11, 45], vec![1, 2, 3, 4]] {
        let t = test(&w, SplitConfig::default());
        let n = t.flows_needed();
        for seed in 0..10 {
            let counts = sample(&w, n, seed);
            let v = t.judge("sample", &counts).expect("valid counts");
            assert_eq!(v.outcome, Outcome::Pass, "{w:?} seed {seed}: {v}");
            assert!(v.false_fail_bound <= 1e-6);
        }
    }
}

#[test]
fn ecmp_fair_split_passes() {
    let t = test(&[1, 1], SplitConfig::default());
    let n = 1000;
    let v = t.judge("ecmp", &[n / 2, n / 2]).expect("valid counts");
    assert_eq!(v.outcome, Outcome::Pass, "{v}");
    let r = report(&v);
    assert_eq!(r.p_value, 1.0);
    assert!(r.power >= 0.99);
    assert!(v
        .to_string()
        .starts_with("PASS ecmp: n=1000 distinct flows over 2 paths"));
}

#[test]
fn swapped_weights_fail() {
    // Configured 11:45 but the router applies 45:11.
    let t = test(&[11, 45], SplitConfig::default());
    let n = t.flows_needed();
    for seed in 0..5 {
        let v = t
            .judge("swapped", &sample(&[45, 11], n, seed))
            .expect("valid");
        assert_eq!(v.outcome, Outcome::Fail, "{v}");
    }
}

#[test]
fn l3_policy_all_flows_on_one_path_fails() {
    // An L3 hash over flows that differ only in ports puts them all on one path.
    for w in [vec![1u32, 1], vec![11, 45], vec![1, 1, 1, 1]] {
        let t = test(&w, SplitConfig::default());
        let n = t.flows_needed();
        for hot in 0..w.len() {
            let mut counts = vec![0; w.len()];
            counts[hot] = n;
            let v = t.judge("l3", &counts).expect("valid");
            assert_eq!(v.outcome, Outcome::Fail, "{w:?} hot={hot}: {v}");
        }
    }
}

#[test]
fn removed_nexthop_fails() {
    // Three equal nexthops configured, one silently missing: a path with an
    // expected share of 1/3 gets zero flows.
    let t = test(&[1, 1, 1], SplitConfig::default());
    let n = t.flows_needed();
    let counts = sample(&[1, 1], n, 7);
    let v = t
        .judge("removed", &[counts[0], counts[1], 0])
        .expect("valid");
    assert_eq!(v.outcome, Outcome::Fail, "{v}");
    let r = report(&v);
    assert!(r.paths[2].rejected);
    assert!(v.explanation.contains("path2 has 0 flows (-100.0%)"), "{v}");
}

#[test]
fn deviation_of_tolerance_fails_at_its_mean() {
    // A path getting exactly 25% more or less than its share, at the mean of
    // that alternative, is well inside the rejection region at N.
    for w in [vec![1u32, 1], vec![11, 45], vec![1, 2, 3]] {
        let t = test(&w, SplitConfig::default());
        let n = t.flows_needed();
        let total: u32 = w.iter().sum();
        for factor in [0.75, 1.25] {
            let x0 = (n as f64 * f64::from(w[0]) / f64::from(total) * factor).round() as u64;
            let rest = n - x0;
            let others: u32 = w[1..].iter().sum();
            let mut counts = vec![x0];
            let mut left = rest;
            for (j, &wj) in w[1..].iter().enumerate() {
                let c = if j + 2 == w.len() {
                    left
                } else {
                    rest * u64::from(wj) / u64::from(others)
                };
                left -= c;
                counts.push(c);
            }
            let v = t.judge("deviation", &counts).expect("valid");
            assert_eq!(v.outcome, Outcome::Fail, "{w:?} x{factor}: {v}");
        }
    }
}

#[test]
fn too_few_flows_is_broken_with_the_numbers() {
    let t = test(&[11, 45], SplitConfig::default());
    // Even an obviously wrong split is not a verdict without enough flows.
    let v = t.judge("small", &[100, 0]).expect("valid");
    assert_eq!(v.outcome, Outcome::Broken);
    assert!(
        v.explanation.contains(
            "need >= 3707 flows to decide at alpha=1.00e-6, power=0.99 (±25.0% share), got 100"
        ),
        "{v}"
    );
    assert!(v
        .explanation
        .contains("already outside the acceptance region"));
    assert_eq!(
        t.judge("none", &[0, 0]).expect("valid").outcome,
        Outcome::Broken
    );
    let v = t.judge("edge", &[728, 2978]).expect("valid");
    assert_eq!(v.outcome, Outcome::Broken, "3706 flows is one short");
    assert_eq!(
        t.judge("edge", &[728, 2979]).expect("valid").outcome,
        Outcome::Pass
    );
}

#[test]
fn report_numbers_and_json() {
    let t = test(&[11, 45], SplitConfig::default())
        .with_labels(["r1:eth1", "r1:eth2"])
        .expect("two labels");
    let v = t.judge("mp", &[900, 2807]).expect("valid");
    assert_eq!(v.outcome, Outcome::Fail);
    let r = report(&v);
    assert_eq!(r.flows, 3707);
    assert_eq!(r.flows_needed, 3707);
    assert_eq!(r.chi2_df, 1);
    assert!((r.paths[0].expected_share - 11.0 / 56.0).abs() < 1e-15);
    assert!((r.paths[0].observed_share - 900.0 / 3707.0).abs() < 1e-15);
    assert_eq!((r.paths[0].accept_lo, r.paths[0].accept_hi), (612, 849));
    assert!(r.p_value <= 1e-6 && r.paths[0].p_value == r.p_value);
    assert!(powers_consistent(r));
    let line = v.to_string();
    assert!(line.starts_with("FAIL mp: n=3707 distinct flows over 2 paths, weights 11:45"));
    assert!(
        line.contains("r1:eth1 has 900 flows (+23.6%), accepted 612..=849"),
        "{line}"
    );
    assert_eq!(line.lines().count(), 2);
    let json = serde_json::to_value(&v).expect("serializable");
    assert_eq!(json["outcome"], "fail");
    assert_eq!(json["details"]["kind"], "split");
    assert_eq!(json["details"]["paths"][0]["label"], "r1:eth1");
    assert_eq!(json["details"]["worst_side"], "high");
}

/// Per-path powers are consistent with the reported minimum.
fn powers_consistent(r: &SplitReport) -> bool {
    r.paths
        .iter()
        .all(|p| p.power_low >= r.power && p.power_high.is_none_or(|h| h >= r.power))
}

#[test]
fn bad_inputs_are_typed_errors() {
    let d = SplitConfig::default();
    assert_eq!(flows_needed(&[], &d), Err(JudgeError::TooFewPaths(0)));
    assert_eq!(flows_needed(&[3], &d), Err(JudgeError::TooFewPaths(1)));
    assert_eq!(
        flows_needed(&[1, 0], &d),
        Err(JudgeError::WeightOutOfRange {
            index: 1,
            weight: 0
        })
    );
    assert_eq!(
        flows_needed(&[257, 1], &d),
        Err(JudgeError::WeightOutOfRange {
            index: 0,
            weight: 257
        })
    );
    for alpha in [0.0, 1.0, -1.0, f64::NAN, 1e-40] {
        let c = SplitConfig { alpha, ..d };
        assert!(
            matches!(flows_needed(&[1, 1], &c), Err(JudgeError::Alpha(_))),
            "{alpha}"
        );
    }
    for tolerance in [0.0, 1.0, f64::NAN] {
        let c = SplitConfig { tolerance, ..d };
        assert!(matches!(
            flows_needed(&[1, 1], &c),
            Err(JudgeError::Tolerance(_))
        ));
    }
    for power in [0.0, 1.0, f64::INFINITY] {
        let c = SplitConfig { power, ..d };
        assert!(matches!(
            flows_needed(&[1, 1], &c),
            Err(JudgeError::Power(_))
        ));
    }
    assert_eq!(
        judge_split("x", &[1, 2, 3], &[1, 1], &d),
        Err(JudgeError::LengthMismatch {
            what: "counts",
            expected: 2,
            got: 3
        })
    );
    let t = test(&[1, 1], d);
    assert!(matches!(
        t.judge("x", &[1]),
        Err(JudgeError::LengthMismatch { .. })
    ));
    assert!(matches!(
        t.judge("x", &[u64::MAX, 1]),
        Err(JudgeError::CountOverflow)
    ));
    assert!(matches!(
        test(&[1, 1], d).with_labels(["a"]),
        Err(JudgeError::LengthMismatch { what: "labels", .. })
    ));
    let tiny = SplitConfig {
        tolerance: 0.001,
        ..d
    };
    assert!(matches!(
        flows_needed(&[1, 256], &tiny),
        Err(JudgeError::PlanTooLarge { .. })
    ));
}

#[test]
fn many_paths_and_extreme_weights_plan() {
    // Any k >= 2 and weights over the whole 1..=256 range.
    let d = SplitConfig::default();
    let t = test(&[1, 256], d);
    let n = t.flows_needed();
    assert!(n > 200_000 && n < 300_000, "{n}");
    assert!(t.power(n) >= 0.99 && t.size(n) <= 1e-6);
    let w: Vec<u32> = (1..=16).map(|i| i * 16).collect();
    let t = test(&w, d);
    let n = t.flows_needed();
    assert!(t.power(n) >= 0.99 && t.size(n) <= 1e-6);
    let v = t.judge("16", &sample(&w, n, 3)).expect("valid");
    assert_eq!(v.outcome, Outcome::Pass, "{v}");
}
