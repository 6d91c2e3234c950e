use super::history::{self, Run};
use super::*;
use crate::result::ProcRecord;
use serde_json::json;

/// A strict little well-formedness check (balanced tags, quoted
/// attributes, no stray `<` or `&`): enough to catch an unescaped string
/// without an XML parser among the dependencies. xmllint checks the real
/// pages in crates/netrig/tests/run_html.rs.
pub(crate) fn well_formed(doc: &str) -> Result<(), String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = doc;
    let mut at = 0usize;
    while let Some(i) = rest.find(['<', '&']) {
        let here = &rest[i..];
        at += i;
        if here.starts_with('&') {
            let end = here
                .find(';')
                .filter(|&e| e < 12)
                .ok_or_else(|| format!("bare & at byte {at}: {}", &here[..here.len().min(40)]))?;
            let ent = &here[1..end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || ent
                    .strip_prefix('#')
                    .is_some_and(|n| n.parse::<u32>().is_ok());
            if !ok {
                return Err(format!("unknown entity &{ent}; at byte {at}"));
            }
            rest = &here[end + 1..];
            at += end + 1;
            continue;
        }
        let (skip, end) = if here.starts_with("<!--") {
            (0, here.find("-->").map(|e| e + 3))
        } else if here.starts_with("<![CDATA[") {
            (0, here.find("]]>").map(|e| e + 3))
        } else if here.starts_with("<!DOCTYPE") {
            (0, here.find('>').map(|e| e + 1))
        } else {
            (1, here.find('>').map(|e| e + 1))
        };
        let end = end.ok_or_else(|| format!("unclosed markup at byte {at}"))?;
        if skip == 1 {
            let tag = &here[1..end - 1];
            if tag.contains('<') {
                return Err(format!("stray < at byte {at}: {tag}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack
                    .pop()
                    .ok_or_else(|| format!("</{name}> closes nothing"))?;
                if open != name.trim() {
                    return Err(format!("<{open}> closed by </{name}> at byte {at}"));
                }
            } else {
                if tag.matches('"').count() % 2 != 0 {
                    return Err(format!("unbalanced quotes in <{tag}>"));
                }
                let name = tag.split([' ', '\n', '/']).next().unwrap_or("");
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
        }
        rest = &here[end..];
        at += end;
    }
    match stack.last() {
        Some(open) => Err(format!("<{open}> never closed")),
        None => Ok(()),
    }
}

const TOPO: &str = r#"
name = "pair"
[nodes.a]
[nodes.r]
forwarding = true
loopback = ["198.18.9.9/32"]
[nodes.b]
[[links]]
ends = ["a:eth0 192.0.2.1/24 2001:db8:1::1/64", "r:eth0 192.0.2.254/24"]
[[links]]
ends = ["r:eth1 198.51.100.1/24", "b:eth0 198.51.100.2/24 2001:db8:2::2/64"]
"#;

fn split_verdict(rejected: bool) -> serde_json::Value {
    json!({
        "name": "spread", "outcome": if rejected { "fail" } else { "pass" },
        "explanation": "4096 flows: r1:eth1 2100, r1:eth2 1996",
        "false_fail_bound": 1e-6,
        "details": { "kind": "split", "flows": 4096, "paths": [
            { "label": "r1:eth1", "weight": 1, "flows": 2100, "expected_share": 0.5,
              "observed_share": 0.5127, "accept_lo": 1950, "accept_hi": 2146, "rejected": rejected },
            { "label": "r1:eth2", "weight": 1, "flows": 1996, "expected_share": 0.5,
              "observed_share": 0.4873, "accept_lo": 1950, "accept_hi": 2146, "rejected": false }
        ]}
    })
}

/// A run with every state, a flaky case, verdicts of every kind and
/// strings that must be escaped.
pub(crate) fn sample() -> (RunReport, Extras) {
    let mut pass = CaseResult::new("pass", "suite/pass.toml", State::Pass, "");
    pass.duration_s = 0.42;
    pass.subtests = vec![
        SubResult {
            index: 1,
            name: "ping a -> b".into(),
            state: State::Pass,
            message: String::new(),
            duration_s: 0.1,
            started_s: Some(0.05),
            verdicts: vec![],
            failed_checks: vec![],
            failed_at: vec![],
        },
        SubResult {
            index: 2,
            name: "traffic".into(),
            state: State::Pass,
            message: String::new(),
            duration_s: 0.3,
            started_s: Some(0.15),
            verdicts: vec![
                split_verdict(false),
                json!({"name": "fib", "outcome": "pass", "explanation": "1.02 lookups per packet",
                       "false_fail_bound": 0.0,
                       "details": {"kind": "ratio", "numerator_label": "lookups", "numerator": 4180,
                                   "denominator_label": "packets", "denominator": 4096,
                                   "ratio": 1.0205, "bounds": {"min": 1.0, "max": 1.1}}}),
                json!({"name": "streams", "outcome": "pass", "explanation": "all arrived",
                       "false_fail_bound": 0.0,
                       "details": {"kind": "streams", "streams": 1, "sent": 4096, "arrivals": 4096,
                                   "received": 4096, "lost": 0, "duplicated": 0, "reordered": 3,
                                   "misrouted": 0, "unknown": 0,
                                   "limits": {"lost": 0, "duplicated": 0, "reordered": 5,
                                              "misrouted": 0, "unknown": 0}}}),
            ],
            failed_checks: vec![],
            failed_at: vec![],
        },
    ];
    let mut fail = CaseResult::new(
        "fail with <xml> & 'quotes' \"x\"",
        "suite/fail.toml",
        State::Fail,
        "step 1 failed: bad <thing> & \u{1}\u{fffd}",
    );
    fail.subtests = vec![SubResult {
        index: 1,
        name: "split <over> r1".into(),
        state: State::Fail,
        message: "FAIL split: r1:eth1 took 51%".into(),
        duration_s: 1.5,
        started_s: None,
        verdicts: vec![
            split_verdict(true),
            json!({"name": "aff", "outcome": "pass", "explanation": "every flow on one path",
                   "false_fail_bound": 0.0,
                   "details": {"kind": "affinity", "flows": 10, "observations": 20, "paths": 2,
                               "split_flows": 0, "empty_flows": 0, "offenders": []}}),
            json!({"something": "else <b>"}),
        ],
        failed_checks: vec!["split".into()],
        failed_at: vec![],
    }];
    fail.processes = vec![ProcRecord {
        name: "srv".into(),
        node: Some("b".into()),
        cmd: "nc -l 80 < /dev/null".into(),
        log: "srv.log".into(),
        exit: Some(1),
        signal: None,
        killed_at_end: false,
        started_s: Some(0.2),
        ended_s: Some(1.0),
        output_cut: None,
        core: None,
    }];
    let skip = CaseResult::new(
        "skip",
        "suite/skip.toml",
        State::Skip,
        "needs netrig-missing-tool",
    );
    let xfail = CaseResult::new(
        "xfail",
        "suite/xfail.toml",
        State::Xfail,
        "expected failure",
    );
    let mut flaky = CaseResult::new("flaky", "suite/flaky.toml", State::Pass, "");
    flaky.flaky = true;
    flaky.attempt = 2;
    let broken = CaseResult::new("broken", "suite/broken.sh", State::Broken, "no result");
    let timeout = CaseResult::new("slow", "suite/slow.toml", State::Timeout, "timed out");
    let report = RunReport {
        tag: "20260101-000000".into(),
        started: "2026-01-01T00:00:00Z".into(),
        duration_s: 3.5,
        mode: "root".into(),
        kernel: "6.1.0".into(),
        jobs: 2,
        version: "0.1.0".into(),
        cases: vec![pass, fail, skip, xfail, flaky, broken, timeout],
        ..RunReport::default()
    };
    let topo = netrig_spec::parse_topology("pair.toml", TOPO).expect("topology");
    let mut ex = Extras {
        topologies: vec![topo],
        cases: vec![CaseExtras::default(); 7],
    };
    ex.cases[0].topology = Some(0);
    ex.cases[1].topology = Some(0);
    ex.cases[1].log_tails = vec!["listening\n<oops> & \u{7}".into()];
    ex.cases[1].log_links = vec![Some("fail/srv.log".into())];
    ex.cases[1].files = vec![("cap r1 eth1.pcapng".into(), "fail/cap%20r1.pcapng".into())];
    ex.cases[2].topology_note = "no lab".into();
    (report, ex)
}

#[test]
fn the_page_is_well_formed_and_shows_everything() {
    let (r, ex) = sample();
    let html = page(&r, &ex);
    well_formed(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    for c in &r.cases {
        assert!(html.contains(&esc(&c.name)), "{} missing", c.name);
    }
    for a in [
        "192.0.2.1/24",
        "2001:db8:1::1/64",
        "192.0.2.254/24",
        "198.51.100.1/24",
        "198.51.100.2/24",
        "2001:db8:2::2/64",
        "198.18.9.9/32",
    ] {
        assert!(html.contains(a), "address {a} missing");
    }
    for want in [
        "fail with &lt;xml&gt; &amp; &#39;quotes&#39; &quot;x&quot;",
        "bad &lt;thing&gt; &amp; \u{fffd}\u{fffd}",
        "&lt;oops&gt; &amp; \u{fffd}",
        "href=\"fail/srv.log\"",
        "href=\"fail/cap%20r1.pcapng\"",
        "class=\"verdict s-fail failed-check\"",
        "the failed check",
        "class=\"accept\"",
        "class=\"expected\"",
        "class=\"observed\"",
        ">flaky</span>",
        "-j 2",
        "root mode",
        "kernel 6.1.0",
        "netrig 0.1.0",
        "reordered",
        "no lab",
        "data-state=\"timeout\"",
        "class=\"s-fail proc\"",
    ] {
        assert!(html.contains(want), "{want} missing from the page");
    }
    // No address fetched from anywhere: everything is inline.
    assert!(
        !html.contains("http://") || !html.replace("http://www.w3.org/", "").contains("http://")
    );
    assert!(!html.contains("https://"));
    assert!(
        !html.contains("NaN") && !html.contains("inf"),
        "bad numbers"
    );
}

#[test]
fn a_report_without_extras_still_renders() {
    let (r, _) = sample();
    let html = page(&r, &Extras::default());
    well_formed(&html).unwrap_or_else(|e| panic!("{e}"));
    let empty = page(&RunReport::default(), &Extras::default());
    well_formed(&empty).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_checker_catches_what_it_should() {
    assert!(well_formed("<p>a</p>").is_ok());
    assert!(well_formed("<p>a & b</p>").is_err());
    assert!(well_formed("<p><b>a</p></b>").is_err());
    assert!(well_formed("<p>a < b</p>").is_err());
    assert!(well_formed("<p a=\"x>y</p>").is_err());
}

#[test]
fn history_puts_the_case_that_changed_first() {
    let run = |tag: &str, states: &[(&str, State)]| Run {
        report: RunReport {
            tag: tag.into(),
            cases: states
                .iter()
                .map(|(n, s)| {
                    let mut c = CaseResult::new(n, "f", *s, "");
                    c.duration_s = 1.0;
                    c
                })
                .collect(),
            ..RunReport::default()
        },
        href: Some(format!("{tag}/report.html")),
    };
    let runs = vec![
        run("r1", &[("stable", State::Pass), ("wobbly", State::Pass)]),
        run("r2", &[("stable", State::Pass), ("wobbly", State::Fail)]),
        run(
            "r3",
            &[
                ("stable", State::Pass),
                ("wobbly", State::Pass),
                ("new <one>", State::Skip),
            ],
        ),
    ];
    let html = history::page(&runs);
    well_formed(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    let w = html.find("data-name=\"wobbly\"").expect("wobbly row");
    let st = html.find("data-name=\"stable\"").expect("stable row");
    assert!(w < st, "the changing case comes first");
    assert!(html.contains("title=\"r2: fail, 1.00 s\""), "{html}");
    assert!(html.contains("title=\"r1: not run\""), "{html}");
    assert!(html.contains("href=\"r3/report.html\""));
    assert!(html.contains("new &lt;one&gt;"));
}

#[test]
fn relative_links() {
    assert_eq!(
        relative_href(Path::new("/r/t"), Path::new("/r/t/case a/x.log")),
        "case%20a/x.log"
    );
    assert_eq!(
        relative_href(Path::new("/out"), Path::new("/r/t/c/x.pcapng")),
        "../r/t/c/x.pcapng"
    );
}
