//! Distribution functions against reference values from scipy 1.17.1,
//! computed once; each literal carries the Python expression that produced it
//! (`from scipy.stats import binom, chi2, norm`).

use netrig_judge::dist::{binom_cdf, binom_pmf, binom_sf, chi2_sf, ln_gamma, norm_ppf};

/// Relative closeness; tail values are compared in relative terms because
/// that is what the verdicts depend on.
fn close(got: f64, want: f64, rel: f64) -> bool {
    if want == 0.0 {
        return got.abs() < 1e-300;
    }
    ((got - want) / want).abs() <= rel
}

macro_rules! check {
    ($got:expr, $want:expr, $rel:expr) => {{
        let (got, want) = ($got, $want);
        assert!(
            close(got, want, $rel),
            "{} = {got:e}, want {want:e} (rel {:e})",
            stringify!($got),
            ((got - want) / want).abs()
        );
    }};
}

const P11: f64 = 11.0 / 56.0;
const P1_257: f64 = 1.0 / 257.0;

#[test]
fn binom_cdf_matches_scipy() {
    // binom.cdf(3, 10, 0.5)
    check!(binom_cdf(3, 10, 0.5), 0.171875, 1e-14);
    // binom.cdf(350, 816, 0.5)
    check!(binom_cdf(350, 816, 0.5), 2.7640017709619595e-05, 1e-12);
    // binom.cdf(600, 3600, 11/56)
    check!(binom_cdf(600, 3600, P11), 2.547154870667083e-06, 1e-12);
    // binom.cdf(0, 1000, 0.01)
    check!(binom_cdf(0, 1000, 0.01), 4.3171247410658195e-05, 1e-12);
    // binom.cdf(50000, 100000, 0.5)
    check!(binom_cdf(50000, 100000, 0.5), 0.5012615631070978, 1e-12);
    // binom.cdf(700, 3600, 11/56)
    check!(binom_cdf(700, 3600, P11), 0.39175682114204924, 1e-12);
    // binom.cdf(10, 20, 0.3)
    check!(binom_cdf(10, 20, 0.3), 0.9828551835687416, 1e-14);
    // binom.cdf(800, 237816, 1/257)
    check!(
        binom_cdf(800, 237816, P1_257),
        1.3080420299242008e-05,
        1e-11
    );
    // binom.cdf(237000, 237816, 256/257)
    check!(
        binom_cdf(237000, 237816, 256.0 / 257.0),
        0.999886929074909,
        1e-12
    );
}

#[test]
fn binom_sf_matches_scipy() {
    // binom.sf(7, 10, 0.5)
    check!(binom_sf(7, 10, 0.5), 0.0546875, 1e-14);
    // binom.sf(480, 816, 0.5)
    check!(binom_sf(480, 816, 0.5), 1.7997604663197984e-07, 1e-12);
    // binom.sf(820, 3600, 11/56)
    check!(binom_sf(820, 3600, P11), 1.5046770738029135e-06, 1e-12);
    // binom.sf(998, 1000, 0.999)
    check!(binom_sf(998, 1000, 0.999), 0.7357589130301869, 1e-12);
    // binom.sf(1100, 231000, 1/257)
    check!(binom_sf(1100, 231000, P1_257), 3.635464544351402e-11, 1e-11);
    // binom.sf(49999, 100000, 0.5)
    check!(binom_sf(49999, 100000, 0.5), 0.5012615631070978, 1e-12);
    // binom.sf(900, 3600, 11/56)
    check!(binom_sf(900, 3600, P11), 1.8042550636342183e-15, 1e-11);
    // binom.sf(1200, 237816, 1/257)
    check!(
        binom_sf(1200, 237816, P1_257),
        2.1934520096273354e-18,
        1e-10
    );
}

#[test]
fn binom_pmf_matches_scipy() {
    // binom.pmf(5000, 10000, 0.5)
    check!(binom_pmf(5000, 10000, 0.5), 0.007978646139382158, 1e-13);
    // binom.pmf(0, 50, 0.2)
    check!(binom_pmf(0, 50, 0.2), 1.4272476927059599e-05, 1e-13);
    // binom.pmf(50, 50, 0.2)
    check!(binom_pmf(50, 50, 0.2), 1.1258999068426271e-35, 1e-13);
    // binom.pmf(123, 1000, 0.1)
    check!(binom_pmf(123, 1000, 0.1), 0.0024314597794958008, 1e-13);
}

#[test]
fn binom_edge_cases() {
    assert_eq!(binom_cdf(5, 5, 0.3), 1.0);
    assert_eq!(binom_sf(5, 5, 0.3), 0.0);
    assert_eq!(binom_sf(u64::MAX, 5, 0.3), 0.0);
    assert_eq!(binom_cdf(0, 10, 0.0), 1.0);
    assert_eq!(binom_sf(9, 10, 1.0), 1.0);
    assert_eq!(binom_pmf(11, 10, 0.5), 0.0);
    assert!(binom_cdf(1, 10, 1.5).is_nan());
    assert!(binom_sf(1, 10, -0.1).is_nan());
    assert!(binom_pmf(1, 10, f64::NAN).is_nan());
    // cdf + sf = 1 across the support, including the mean where the
    // implementation switches sides.
    for k in 0..=60 {
        let s = binom_cdf(k, 60, 0.37) + binom_sf(k, 60, 0.37);
        assert!((s - 1.0).abs() < 1e-14, "k={k}: {s}");
    }
}

#[test]
fn chi2_sf_matches_scipy() {
    // chi2.sf(3.84, 1)
    check!(chi2_sf(3.84, 1), 0.05004352124870519, 1e-12);
    // chi2.sf(100.0, 3)
    check!(chi2_sf(100.0, 3), 1.5541594313896026e-21, 1e-12);
    // chi2.sf(0.5, 5)
    check!(chi2_sf(0.5, 5), 0.9921232932326296, 1e-12);
    // chi2.sf(1000.0, 10)
    check!(chi2_sf(1000.0, 10), 1.870290720915977e-208, 1e-11);
    // chi2.sf(12.0, 7)
    check!(chi2_sf(12.0, 7), 0.10055886850835878, 1e-12);
    // chi2.sf(30.0, 1)
    check!(chi2_sf(30.0, 1), 4.3204630578274955e-08, 1e-12);
    assert_eq!(chi2_sf(0.0, 4), 1.0);
    assert!(chi2_sf(1.0, 0).is_nan());
}

#[test]
fn norm_ppf_matches_scipy() {
    // norm.ppf(0.975)
    check!(norm_ppf(0.975), 1.959963984540054, 1e-15);
    // norm.ppf(0.99)
    check!(norm_ppf(0.99), 2.3263478740408408, 1e-15);
    // norm.ppf(2.5e-07)
    check!(norm_ppf(2.5e-7), -5.026312836056685, 1e-15);
    // norm.ppf(1e-300)
    check!(norm_ppf(1e-300), -37.0470962993612, 1e-14);
    // norm.ppf(0.3)
    check!(norm_ppf(0.3), -0.5244005127080409, 1e-15);
    // norm.ppf(1e-10)
    check!(norm_ppf(1e-10), -6.361340902404056, 1e-15);
    assert_eq!(norm_ppf(0.5), 0.0);
    assert_eq!(norm_ppf(0.0), f64::NEG_INFINITY);
    assert_eq!(norm_ppf(1.0), f64::INFINITY);
    assert!(norm_ppf(1.5).is_nan());
}

#[test]
fn ln_gamma_small_integers() {
    // ln Γ(n) = ln (n-1)!
    let mut fact = 1.0f64;
    for n in 1..30u32 {
        if n > 1 {
            fact *= f64::from(n - 1);
        }
        let got = ln_gamma(f64::from(n));
        assert!(
            (got - fact.ln()).abs() < 1e-13 * fact.ln().abs().max(1.0),
            "n={n}"
        );
    }
    // ln Γ(1/2) = ln sqrt(π)
    assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
    assert!(ln_gamma(0.0).is_nan());
}
