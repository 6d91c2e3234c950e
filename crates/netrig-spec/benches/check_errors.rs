//! `netrig check` on a file with many errors: parse and render (as the CLI
//! does) N and 4N bad routes, and print the time ratio. Linear work gives
//! about 4; locating each error by scanning the file from its start (as
//! before the line index) gave about 16. Exits 1 above 8, halfway.
//!
//! `cargo bench -p netrig-spec --bench check_errors`

use std::time::{Duration, Instant};

fn file(routes: usize) -> String {
    let mut s = String::from(
        "name = \"bad\"\n[nodes.a]\n[nodes.b]\n[[links]]\n\
         ends = [\"a:eth0 192.0.2.1/24\", \"b:eth0 192.0.2.2/24\"]\n",
    );
    for i in 0..routes {
        // Each gateway is on no connected subnet: one error per route.
        s.push_str(&format!(
            "[[routes]]\nnode = \"a\"\nto = \"198.18.{}.{}/32\"\nvia = \"203.0.113.{}\"\n",
            i / 256 % 256,
            i % 256,
            i % 250 + 1
        ));
    }
    s
}

/// Best of 3: parse `text` and render every error; the errors rendered.
fn check(text: &str) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let errs = match netrig_spec::parse_topology("bad.toml", text) {
            Ok(_) => panic!("the bench file must be invalid"),
            Err(e) => e,
        };
        let mut out = String::new();
        let _ = miette::GraphicalReportHandler::new().render_report(&mut out, &errs);
        best = best.min(t.elapsed());
        n = errs.errors.len();
        std::hint::black_box(out);
    }
    (best, n)
}

fn main() {
    // NETRIG_BENCH_ERRORS sets N (default 5000).
    let base = std::env::var("NETRIG_BENCH_ERRORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let (t1, n1) = check(&file(base));
    let (t4, n4) = check(&file(4 * base));
    assert_eq!((n1, n4), (base, 4 * base), "one error per route");
    let ratio = t4.as_secs_f64() / t1.as_secs_f64();
    println!(
        "check with {n1} errors: {:.1} ms; with {n4}: {:.1} ms; ratio {ratio:.2} (linear ~4, quadratic ~16)",
        t1.as_secs_f64() * 1e3,
        t4.as_secs_f64() * 1e3
    );
    if ratio > 8.0 {
        eprintln!("check time grows faster than the number of errors");
        std::process::exit(1);
    }
}
