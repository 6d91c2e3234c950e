//! Reports: console lines in the kselftest spirit, KTAP v1, TAP 13, JUnit
//! XML and JSON. All are pure functions of a [`RunReport`], so partitions
//! merged later (`netrig report merge`) render exactly like one run.

use crate::result::{CaseResult, RunReport, State, SubResult};
use std::fmt::Write;

/// `TEST: name [ OK ]`, then indented reason lines for anything not passing.
pub fn console_line(c: &CaseResult) -> String {
    let mut name = c.name.clone();
    if c.repeat > 1 {
        name.push_str(&format!(" (repeat {})", c.repeat));
    }
    let mut s = format!(
        "TEST: {name:<60} {:<9} {:>7.2}s",
        c.state.tag(),
        c.duration_s
    );
    if c.flaky {
        s.push_str(&format!("  (flaky: passed on attempt {})", c.attempt));
    } else if c.attempt > 1 {
        s.push_str(&format!("  (attempt {})", c.attempt));
    }
    s.push('\n');
    if c.state != State::Pass && !c.reason.is_empty() {
        for l in c.reason.lines() {
            let _ = writeln!(s, "      {l}");
        }
    }
    if matches!(c.state, State::Fail | State::Broken | State::Timeout) {
        for st in c.subtests.iter().filter(|t| !t.state.ok()) {
            let first = st.message.lines().next().unwrap_or("");
            if !c.reason.contains(first) || first.is_empty() {
                let _ = writeln!(s, "      {} {}: {}", st.state, st.name, first);
            }
        }
        if c.state == State::Broken {
            for l in c.output.lines() {
                let _ = writeln!(s, "      | {l}");
            }
        }
        if let Some(d) = &c.dir {
            let _ = writeln!(s, "      logs: {d}");
        }
    }
    s
}

/// The LTP-style summary block, plus flakes.
pub fn summary(r: &RunReport, jobs: usize) -> String {
    let st = r.stats();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nSummary: {} cases in {:.2}s (-j {jobs}, {} mode)",
        st.total, r.duration_s, r.mode
    );
    let _ = writeln!(s, "passed   {}", st.passed);
    let _ = writeln!(s, "failed   {}", st.failed);
    let _ = writeln!(s, "broken   {}", st.broken);
    let _ = writeln!(s, "skipped  {}", st.skipped);
    let _ = writeln!(s, "xfail    {}", st.xfailed);
    let _ = writeln!(s, "timeout  {}", st.timedout);
    let flakes = r.flakes();
    if !flakes.is_empty() {
        let _ = writeln!(s, "flaky    {}", flakes.len());
        for (n, p, f) in flakes {
            let _ = writeln!(s, "  {n}: passed {p}, failed {f}");
        }
    }
    s
}

fn clean(s: &str) -> String {
    // `#` starts a directive in KTAP/TAP and newlines end a line.
    s.replace('#', "_").replace(['\n', '\r'], " ")
}

fn directive(state: State, reason: &str) -> String {
    let r = clean(reason);
    let r = r.trim();
    let with = |d: &str| {
        if r.is_empty() {
            format!(" # {d}")
        } else {
            format!(" # {d} {r}")
        }
    };
    match state {
        State::Pass | State::Fail => String::new(),
        State::Skip => with("SKIP"),
        State::Xfail => with("XFAIL"),
        State::Timeout => with("TIMEOUT"),
        State::Broken => with("ERROR"),
    }
}

fn ktap_ok(state: State) -> &'static str {
    match state {
        State::Pass | State::Skip | State::Xfail => "ok",
        _ => "not ok",
    }
}

fn ktap_subtests(out: &mut String, subs: &[SubResult]) {
    if subs.is_empty() {
        return;
    }
    let _ = writeln!(out, "    KTAP version 1");
    let _ = writeln!(out, "    1..{}", subs.len());
    for (i, t) in subs.iter().enumerate() {
        for l in t
            .message
            .lines()
            .filter(|_| !t.state.ok() || t.state == State::Xfail)
        {
            let _ = writeln!(out, "    # {}", clean(l));
        }
        let reason = if matches!(t.state, State::Fail | State::Pass) {
            ""
        } else {
            t.message.lines().next().unwrap_or("")
        };
        let _ = writeln!(
            out,
            "    {} {} {}{}",
            ktap_ok(t.state),
            i + 1,
            clean(&t.name),
            directive(t.state, reason)
        );
    }
}

/// KTAP version 1 (Documentation/dev-tools/ktap.rst): steps and an
/// executable's own results become indented subtests of their case.
pub fn ktap(r: &RunReport) -> String {
    let mut out = String::from("KTAP version 1\n");
    let _ = writeln!(out, "1..{}", r.cases.len());
    for (i, c) in r.cases.iter().enumerate() {
        ktap_subtests(&mut out, &c.subtests);
        if !c.state.ok() {
            for l in c.reason.lines() {
                let _ = writeln!(out, "# {}", clean(l));
            }
        }
        let reason = if matches!(c.state, State::Fail | State::Pass) {
            ""
        } else {
            c.reason.lines().next().unwrap_or("")
        };
        let _ = writeln!(
            out,
            "{} {} {}{}",
            ktap_ok(c.state),
            i + 1,
            clean(&c.name),
            directive(c.state, reason)
        );
    }
    let st = r.stats();
    let _ = writeln!(
        out,
        "# Totals: pass:{} fail:{} xfail:{} xpass:0 skip:{} error:{}",
        st.passed,
        st.failed,
        st.xfailed,
        st.skipped,
        st.broken + st.timedout
    );
    out
}

fn yaml_str(s: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// TAP version 13, with a YAML diagnostics block for every case not passing.
pub fn tap(r: &RunReport) -> String {
    let mut out = String::from("TAP version 13\n");
    let _ = writeln!(out, "1..{}", r.cases.len());
    for (i, c) in r.cases.iter().enumerate() {
        let n = i + 1;
        let name = clean(&c.name);
        let first = clean(c.reason.lines().next().unwrap_or(""));
        let line = match c.state {
            State::Pass => format!("ok {n} - {name}"),
            State::Skip => format!("ok {n} - {name} # SKIP {first}"),
            // TAP's TODO is an expected failure: not ok, yet not counted against us.
            State::Xfail => format!("not ok {n} - {name} # TODO xfail: {first}"),
            State::Fail | State::Broken | State::Timeout => format!("not ok {n} - {name}"),
        };
        let _ = writeln!(out, "{}", line.trim_end());
        if matches!(c.state, State::Fail | State::Broken | State::Timeout) {
            let _ = writeln!(out, "  ---");
            let _ = writeln!(out, "  state: {}", c.state);
            let _ = writeln!(out, "  message: {}", yaml_str(&c.reason));
            let _ = writeln!(out, "  duration_s: {:.3}", c.duration_s);
            if let Some(d) = &c.dir {
                let _ = writeln!(out, "  logs: {}", yaml_str(d));
            }
            let _ = writeln!(out, "  ...");
        }
    }
    out
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML as Jenkins, GitLab and GitHub read it: one `<testsuite>` per
/// source file; fail is `<failure>`, broken and timeout are `<error>`, skip
/// and xfail are `<skipped>`. Validated against tests/junit.xsd.
pub fn junit(r: &RunReport) -> String {
    let mut suites: Vec<(&str, Vec<&CaseResult>)> = Vec::new();
    for c in &r.cases {
        match suites.iter_mut().find(|(s, _)| *s == c.source) {
            Some((_, v)) => v.push(c),
            None => suites.push((&c.source, vec![c])),
        }
    }
    let st = r.stats();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"netrig\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        st.total,
        st.failed,
        st.broken + st.timedout,
        st.skipped + st.xfailed,
        r.duration_s
    );
    for (src, cases) in suites {
        let count = |f: &dyn Fn(State) -> bool| cases.iter().filter(|c| f(c.state)).count();
        let time: f64 = cases.iter().map(|c| c.duration_s).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\" timestamp=\"{}\">",
            xml(src),
            cases.len(),
            count(&|s| s == State::Fail),
            count(&|s| matches!(s, State::Broken | State::Timeout)),
            count(&|s| matches!(s, State::Skip | State::Xfail)),
            xml(&r.tag)
        );
        for c in cases {
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\">",
                xml(&c.name),
                xml(src),
                c.duration_s
            );
            let first = c.reason.lines().next().unwrap_or("");
            match c.state {
                State::Pass => {}
                State::Fail => {
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\" type=\"fail\">{}</failure>",
                        xml(first),
                        xml(&c.reason)
                    );
                }
                State::Broken | State::Timeout => {
                    let _ = writeln!(
                        out,
                        "      <error message=\"{}\" type=\"{}\">{}</error>",
                        xml(first),
                        c.state,
                        xml(&c.reason)
                    );
                }
                State::Skip | State::Xfail => {
                    let _ = writeln!(
                        out,
                        "      <skipped message=\"{}\"/>",
                        xml(&format!("{}: {first}", c.state))
                    );
                }
            }
            let mut sysout = String::new();
            for t in &c.subtests {
                let _ = writeln!(
                    sysout,
                    "{} {}. {}{}",
                    t.state,
                    t.index,
                    t.name,
                    if t.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", t.message)
                    }
                );
            }
            if c.attempt > 1 {
                let _ = writeln!(
                    sysout,
                    "attempt {}{}",
                    c.attempt,
                    if c.flaky { " (flaky)" } else { "" }
                );
            }
            if let Some(d) = &c.dir {
                let _ = writeln!(sysout, "logs: {d}");
            }
            if !sysout.is_empty() {
                let _ = writeln!(out, "      <system-out>{}</system-out>", xml(&sysout));
            }
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Output formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ktap,
    Tap,
    Junit,
    Json,
}

pub fn render(r: &RunReport, f: Format) -> String {
    match f {
        Format::Ktap => ktap(r),
        Format::Tap => tap(r),
        Format::Junit => junit(r),
        Format::Json => serde_json::to_string_pretty(r)
            .map(|s| s + "\n")
            .unwrap_or_default(),
    }
}

/// Combine reports (e.g. of `--partition` shards) into one.
pub fn merge(reports: Vec<RunReport>) -> RunReport {
    let mut out = RunReport {
        tag: "merged".into(),
        ..RunReport::default()
    };
    for r in reports {
        out.duration_s = out.duration_s.max(r.duration_s);
        if out.mode.is_empty() {
            out.mode = r.mode;
        }
        if out.kernel.is_empty() {
            out.kernel = r.kernel;
        }
        out.cases.extend(r.cases);
    }
    out.cases
        .sort_by(|a, b| (a.name.as_str(), a.repeat).cmp(&(b.name.as_str(), b.repeat)));
    out
}
