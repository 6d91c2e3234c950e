//! Reports: console lines in the kselftest spirit, KTAP v1, TAP 13, JUnit
//! XML and JSON. All are pure functions of a [`RunReport`], so partitions
//! merged later (`netrig report merge`) render exactly like one run.

use crate::result::{report_order, CaseResult, RunReport, State, SubResult, TapTest};
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
            if first.is_empty() {
                let _ = writeln!(s, "      {} {}", st.state, st.name);
            } else if !c.reason.contains(first) {
                let _ = writeln!(s, "      {} {}: {}", st.state, st.name, first);
            }
            // The line of the scenario that failed: the check's own key.
            for at in &st.failed_at {
                let _ = writeln!(s, "      at {at}");
            }
        }
        // Cores of processes that died (a daemon's death names its own).
        for p in &c.processes {
            let Some(core) = &p.core else { continue };
            let lines = [
                (&core.file, format!("core of `{}`: ", p.name)),
                (&core.debug, "debug: ".to_string()),
                (&core.note, format!("`{}`: ", p.name)),
            ];
            for (v, label) in lines {
                match v {
                    Some(v) if !c.reason.contains(v.as_str()) => {
                        let _ = writeln!(s, "      {label}{v}");
                    }
                    _ => {}
                }
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
    // Names, reasons and output come from files and programs.
    netrig_spec::names::printable(&s).into_owned()
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
    // The live lines above come in completion order; this list is in
    // report order, the same in every run.
    let bad: Vec<&CaseResult> = ordered(r).into_iter().filter(|c| !c.state.ok()).collect();
    if !bad.is_empty() {
        let _ = writeln!(s, "not ok:");
        for c in bad {
            let _ = writeln!(s, "  {:<9} {}", c.state.tag(), display_name(c));
        }
    }
    let flakes = r.flakes();
    if !flakes.is_empty() {
        let _ = writeln!(s, "flaky    {}", flakes.len());
        for (n, p, f) in flakes {
            let _ = writeln!(s, "  {n}: passed {p}, failed {f}");
        }
    }
    netrig_spec::names::printable(&s).into_owned()
}

/// The cases in report order (see [`RunReport::sort_cases`]): every format
/// numbers a case the same way in every run.
fn ordered(r: &RunReport) -> Vec<&CaseResult> {
    let mut v: Vec<&CaseResult> = r.cases.iter().collect();
    v.sort_by(|a, b| report_order(a, b));
    v
}

fn clean(s: &str) -> String {
    // `#` starts a directive in KTAP/TAP and newlines end a line; other
    // control characters (NUL, escape sequences) have no business in a
    // line-based text report that tools read.
    s.chars()
        .map(|c| match c {
            '#' => '_',
            '\n' | '\r' => ' ',
            '\t' => '\t',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
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

/// One KTAP result line and the level nested under it, as rendered.
struct Node {
    name: String,
    state: State,
    /// Directive reason (first line of the message).
    reason: String,
    /// Diagnostic lines before the result line.
    diag: Vec<String>,
    /// The plan of `children`; more than `children.len()` when the
    /// executable stopped early (kunit.py then reports a crash).
    plan: usize,
    children: Vec<Node>,
    bail_out: Option<String>,
}

impl Node {
    fn leaf(name: &str, index: usize, state: State, message: &str) -> Node {
        let name = clean(name).trim().to_string();
        Node {
            // kunit.py needs a name on every result line.
            name: if name.is_empty() {
                format!("test {index}")
            } else {
                name
            },
            state,
            reason: message.lines().next().unwrap_or("").to_string(),
            diag: if !state.ok() || state == State::Xfail {
                message.lines().map(clean).collect()
            } else {
                Vec::new()
            },
            plan: 0,
            children: Vec::new(),
            bail_out: None,
        }
    }

    fn from_tap(t: &TapTest) -> Node {
        let mut n = Node::leaf(&t.name, t.index, t.state, &t.message);
        if let Some(b) = &t.subtests {
            n.children = b.tests.iter().map(Node::from_tap).collect();
            n.plan = b.plan.unwrap_or(n.children.len());
            n.bail_out = b.bail_out.clone();
        }
        n
    }

    /// Would kunit.py count a failure below this node (it counts only
    /// leaves, plus a crash for a level that ends before its plan)?
    fn fails(&self) -> bool {
        if self.children.is_empty() && self.plan == 0 {
            !self.state.ok()
        } else {
            self.plan > self.children.len() || self.children.iter().any(Node::fails)
        }
    }

    /// Under a case that is xfail or skip as a whole, what failed below it
    /// is that expected failure or is moot: show it so, or kunit.py, which
    /// judges by leaves only, would fail a case netrig passes.
    fn relabel_failures(&mut self, to: State, why: &str) {
        if matches!(self.state, State::Fail | State::Broken | State::Timeout) {
            self.state = to;
            if self.reason.is_empty() {
                self.reason = clean(why.lines().next().unwrap_or(""));
            }
        }
        for c in &mut self.children {
            c.relabel_failures(to, why);
        }
    }

    fn render(&self, out: &mut String, number: usize, depth: usize) {
        let pad = " ".repeat(depth * 4);
        if !self.children.is_empty() || self.plan > 0 {
            let inner = " ".repeat((depth + 1) * 4);
            let _ = writeln!(out, "{inner}KTAP version 1");
            let _ = writeln!(out, "{inner}# Subtest: {}", self.name);
            let _ = writeln!(out, "{inner}1..{}", self.plan);
            for (i, c) in self.children.iter().enumerate() {
                c.render(out, i + 1, depth + 1);
            }
            if let Some(why) = &self.bail_out {
                let _ = writeln!(out, "{inner}# Bail out! {}", clean(why));
            }
        }
        for l in &self.diag {
            let _ = writeln!(out, "{pad}# {l}");
        }
        let _ = writeln!(
            out,
            "{pad}{} {number} {}{}",
            ktap_ok(self.state),
            self.name,
            directive(self.state, &self.reason)
        );
    }
}

/// A case as a KTAP test: its steps, or an executable's own results at
/// every depth, as the nested level.
fn case_node(c: &CaseResult) -> Node {
    let reason = if matches!(c.state, State::Pass | State::Fail) {
        ""
    } else {
        c.reason.as_str()
    };
    let mut n = Node::leaf(&display_name(c), 0, c.state, reason);
    n.diag = if c.state.ok() {
        Vec::new()
    } else {
        c.reason.lines().map(clean).collect()
    };
    match &c.tap {
        Some(b) => {
            n.children = b.tests.iter().map(Node::from_tap).collect();
            n.plan = b.plan.unwrap_or(n.children.len());
            n.bail_out = b.bail_out.clone();
        }
        None => {
            n.children = c
                .subtests
                .iter()
                .map(|t| Node::leaf(&t.name, t.index, t.state, &t.message))
                .collect();
            n.plan = n.children.len();
        }
    }
    if !c.state.ok() && !c.output.trim().is_empty() {
        n.diag
            .push(format!("output (last {KTAP_OUTPUT_LINES} lines at most):"));
        let out = crate::procs::tail(&c.output, KTAP_OUTPUT_LINES);
        n.diag
            .extend(out.lines().map(|l| format!("| {}", clean(l))));
    }
    if n.plan == 0 && n.children.is_empty() {
        return n;
    }
    match c.state {
        State::Xfail | State::Skip => {
            for ch in &mut n.children {
                ch.relabel_failures(c.state, &c.reason);
            }
        }
        // A failed case whose results all look fine to kunit.py (an xfail
        // case that passed, a timeout after its last step, an executable
        // that exited 1 after printing only `ok`s) gets one more result that
        // carries the verdict, so kunit.py fails it as netrig does.
        State::Fail | State::Broken | State::Timeout if !n.fails() => {
            n.plan = n.children.len() + 1;
            let mut v = Node::leaf("netrig verdict", 0, c.state, &c.reason);
            v.diag.clear();
            n.children.push(v);
        }
        _ => {}
    }
    n
}

/// How much of a failed case's output the KTAP report repeats.
const KTAP_OUTPUT_LINES: usize = 20;

/// KTAP version 1 (Documentation/dev-tools/ktap.rst), as the kernel's
/// `kunit.py parse` reads it: each case is a test whose steps, or an
/// executable's own results at every depth, are its subtests, each level
/// with `# Subtest:` and its plan. An executable's plan is kept as printed,
/// so one that crashed after 1 of 2 results is a crash to kunit.py.
///
/// States KTAP has no word for are mapped as the kernel's kselftest does:
/// skip is `ok # SKIP why`, xfail `ok # XFAIL why` (kselftest.h's
/// ksft_test_result_xfail, a pass to kunit.py), timeout `not ok # TIMEOUT
/// why` (kselftest's runner.sh), broken `not ok # ERROR why`, and an xfail
/// case that passed (xpass), a failure for netrig, is `not ok`. kunit.py
/// judges by leaf results only, so failures inside an xfail (or skipped)
/// case are shown as XFAIL (or SKIP), and a failed case with no failing
/// leaf gets a `netrig verdict` leaf that fails. kunit.py counts a run of
/// skips only as a failure; netrig passes it.
pub fn ktap(r: &RunReport) -> String {
    let mut out = String::from("KTAP version 1\n");
    let _ = writeln!(out, "1..{}", r.cases.len());
    for (i, c) in ordered(r).into_iter().enumerate() {
        case_node(c).render(&mut out, i + 1, 0);
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

/// TAP version 13, with a YAML diagnostics block for every case not passing:
/// its reason, failed steps or subtests, and the bounded tail of its output.
pub fn tap(r: &RunReport) -> String {
    let mut out = String::from("TAP version 13\n");
    let _ = writeln!(out, "1..{}", r.cases.len());
    for (i, c) in ordered(r).into_iter().enumerate() {
        let n = i + 1;
        let name = clean(&display_name(c));
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
            let failed: Vec<String> = c
                .subtests
                .iter()
                .filter(|t| !t.state.ok())
                .map(|t| format!("{} {}. {}: {}", t.state, t.index, t.name, t.message))
                .collect();
            if !failed.is_empty() {
                let _ = writeln!(out, "  failed: {}", yaml_str(&failed.join("\n")));
            }
            if !c.output.trim().is_empty() {
                let _ = writeln!(out, "  output: {}", yaml_str(&bounded_tail(&c.output)));
            }
            if let Some(d) = &c.dir {
                let _ = writeln!(out, "  logs: {}", yaml_str(d));
            }
            let _ = writeln!(out, "  ...");
        }
    }
    out
}

/// `s` as XML character data or attribute value: the one escaper of every
/// XML netrig writes (JUnit, SVG, the HTML report).
pub(crate) fn xml(s: &str) -> String {
    escape_xml(s, false)
}

/// `s` as an XML attribute value: readers turn a raw newline or tab in an
/// attribute into a space, so those are escaped too.
fn xml_attr(s: &str) -> String {
    escape_xml(s, true)
}

fn escape_xml(s: &str, attr: bool) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\n' if attr => o.push_str("&#10;"),
            '\t' if attr => o.push_str("&#9;"),
            // A raw CR would be read back as a newline.
            '\r' => o.push_str("&#13;"),
            c if xml_char(c) => o.push(c),
            // XML 1.0 has no way to carry these, not even escaped: a test
            // that prints them must not make the whole file unreadable.
            _ => o.push('\u{FFFD}'),
        }
    }
    o
}

/// Is `c` a Char of XML 1.0 (section 2.2)? Rust strings hold no surrogates.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Bounds for what a failure body carries of a case's output: the tail is
/// what explains a failure, and CI pages choke on megabytes.
const BODY_LINES: usize = 60;
const BODY_BYTES: usize = 16 * 1024;

/// The last `BODY_LINES` lines of `s`, at most `BODY_BYTES` bytes.
fn bounded_tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut t = lines[lines.len().saturating_sub(BODY_LINES)..].join("\n");
    if t.len() > BODY_BYTES {
        let mut cut = t.len() - BODY_BYTES;
        while !t.is_char_boundary(cut) {
            cut += 1;
        }
        t = format!("[...]{}", &t[cut..]);
    }
    t
}

/// What a CI page shows for a case that did not pass: the reason, each
/// failed step or subtest with its message (the failed check), and the tail
/// of the case's own output, bounded.
fn failure_body(reason: &str, subtests: &[SubResult], output: &str, dir: Option<&str>) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "{reason}");
    for t in subtests.iter().filter(|t| !t.state.ok()) {
        let _ = writeln!(b, "\n{} {}. {}:", t.state, t.index, t.name);
        for at in &t.failed_at {
            let _ = writeln!(b, "  at {at}");
        }
        for l in bounded_tail(&t.message).lines() {
            let _ = writeln!(b, "  {l}");
        }
    }
    if !output.trim().is_empty() {
        let _ = writeln!(
            b,
            "\n--- output (last {BODY_LINES} lines at most) ---\n{}",
            bounded_tail(output)
        );
    }
    if let Some(d) = dir {
        let _ = writeln!(b, "\nlogs: {d}");
    }
    b
}

/// The JUnit class of a case: its source file as a dotted path without the
/// extension (`suites/mpvip/ecmp.toml` is `suites.mpvip.ecmp`), so Jenkins,
/// which splits a classname at its last dot, shows package `suites.mpvip`,
/// class `ecmp` and the case name as the test. Dots inside a part would be
/// split too, so they become `_`.
fn classname(source: &str) -> String {
    let p = std::path::Path::new(source);
    let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
    let mut parts: Vec<String> = p
        .parent()
        .into_iter()
        .flat_map(|d| d.components())
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.extend(stem);
    let parts: Vec<String> = parts
        .iter()
        .map(|s| s.replace(['.', ' '], "_"))
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        "netrig".into()
    } else {
        parts.join(".")
    }
}

/// A case's name in reports: repeats are told apart.
fn display_name(c: &CaseResult) -> String {
    if c.repeat > 1 {
        format!("{} (repeat {})", c.name, c.repeat)
    } else {
        c.name.clone()
    }
}

/// JUnit XML as Jenkins (xunit's junit-10.xsd), GitLab and GitHub read it:
/// one `<testsuite>` per source file, named like the classname of its cases
/// (`folder.file`, see `classname`) with the path in `file`; fail is
/// `<failure>`, broken and timeout are `<error>`, skip and xfail are
/// `<skipped>`. Earlier attempts of a retried case are surefire's
/// `flakyFailure`/`flakyError` (passed at last) or `rerunFailure`/
/// `rerunError` (never passed). Text a test printed that XML 1.0 cannot
/// carry becomes U+FFFD. `timestamp` is
/// when the run started, ISO 8601 in UTC. Checked against tests/run_junit.xsd
/// and junit-10.xsd.
pub fn junit(r: &RunReport) -> String {
    let mut suites: Vec<(&str, Vec<&CaseResult>)> = Vec::new();
    for c in ordered(r) {
        match suites.iter_mut().find(|(s, _)| *s == c.source) {
            Some((_, v)) => v.push(c),
            None => suites.push((&c.source, vec![c])),
        }
    }
    suites.sort_by_key(|(src, _)| (classname(src), *src));
    let st = r.stats();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // No `skipped` here: junit-10.xsd allows it on <testsuite> only.
    let _ = writeln!(
        out,
        "<testsuites name=\"netrig\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        st.total,
        st.failed,
        st.broken + st.timedout,
        r.duration_s
    );
    for (src, cases) in suites {
        let count = |f: &dyn Fn(State) -> bool| cases.iter().filter(|c| f(c.state)).count();
        let time: f64 = cases.iter().map(|c| c.duration_s).sum();
        let class = classname(src);
        let stamp = if r.started.is_empty() {
            String::new()
        } else {
            format!(" timestamp=\"{}\"", xml_attr(&r.started))
        };
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\"{stamp} file=\"{}\">",
            xml_attr(&class),
            cases.len(),
            count(&|s| s == State::Fail),
            count(&|s| matches!(s, State::Broken | State::Timeout)),
            count(&|s| matches!(s, State::Skip | State::Xfail)),
            xml_attr(src)
        );
        for c in cases {
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\">",
                xml_attr(&display_name(c)),
                xml_attr(&class),
                c.duration_s
            );
            let first = c.reason.lines().next().unwrap_or("");
            let body = || failure_body(&c.reason, &c.subtests, &c.output, c.dir.as_deref());
            match c.state {
                State::Pass => {}
                State::Fail => {
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\" type=\"fail\">{}</failure>",
                        xml_attr(first),
                        xml(&body())
                    );
                }
                State::Broken | State::Timeout => {
                    let _ = writeln!(
                        out,
                        "      <error message=\"{}\" type=\"{}\">{}</error>",
                        xml_attr(first),
                        c.state,
                        xml(&body())
                    );
                }
                State::Skip | State::Xfail => {
                    let _ = writeln!(
                        out,
                        "      <skipped message=\"{}\"/>",
                        xml_attr(&format!("{}: {first}", c.state))
                    );
                }
            }
            for a in &c.retried {
                let prefix = if c.state == State::Pass {
                    "flaky"
                } else {
                    "rerun"
                };
                let kind = if a.state == State::Fail {
                    "Failure"
                } else {
                    "Error"
                };
                let first = a.reason.lines().next().unwrap_or("");
                let _ = writeln!(
                    out,
                    "      <{prefix}{kind} message=\"{}\" type=\"{}\">{}</{prefix}{kind}>",
                    xml_attr(&format!("attempt {}: {first}", a.attempt)),
                    a.state,
                    xml(&failure_body(&a.reason, &[], &a.output, a.dir.as_deref()))
                );
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
        // The merged run started when its earliest part did (ISO 8601 in
        // UTC sorts as text).
        if !r.started.is_empty() && (out.started.is_empty() || r.started < out.started) {
            out.started = r.started;
        }
        out.cases.extend(r.cases);
    }
    out.sort_cases();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classnames_are_dotted_paths_without_extensions() {
        assert_eq!(classname("suites/mpvip/ecmp.toml"), "suites.mpvip.ecmp");
        assert_eq!(classname("./a/v1.2/t.sh"), "a.v1_2.t");
        assert_eq!(classname("/abs/x.toml"), "abs.x");
        assert_eq!(classname(""), "netrig");
    }

    #[test]
    fn xml_keeps_only_what_xml_1_0_can_carry() {
        assert_eq!(
            xml("a\u{0}b\u{1b}c\u{FFFE}d\u{FFFF}e"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e"
        );
        assert_eq!(xml("x\ny\r\tz"), "x\ny&#13;\tz");
        assert_eq!(xml_attr("x\ny\tz"), "x&#10;y&#9;z");
        assert_eq!(xml("<&>\"'"), "&lt;&amp;&gt;&quot;&#39;");
        assert_eq!(xml("\u{10FFFF}\u{E000}"), "\u{10FFFF}\u{E000}");
    }

    fn sub(index: usize, name: &str, state: State) -> SubResult {
        TapTest {
            index,
            name: name.into(),
            state,
            message: String::new(),
            subtests: None,
        }
        .to_sub()
    }

    #[test]
    fn ktap_leaves_carry_the_case_verdict() {
        // xpass: steps passed, the case failed; kunit.py needs a failing leaf.
        let mut xpass =
            CaseResult::new("xpass", "s/x.toml", State::Fail, "passed, but marked xfail");
        xpass.subtests = vec![sub(1, "step", State::Pass)];
        // xfail: the failed step is the expected failure.
        let mut xfail = CaseResult::new("xfail", "s/y.toml", State::Xfail, "expected failure");
        xfail.subtests = vec![sub(1, "step", State::Fail)];
        // A crash after 1 of 2 planned results keeps its plan.
        let mut crash =
            CaseResult::new("crash.sh", "s/crash.sh", State::Fail, "killed by signal 11");
        crash.tap = Some(crate::result::TapBlock {
            plan: Some(2),
            tests: vec![TapTest {
                index: 1,
                name: "first".into(),
                state: State::Pass,
                message: String::new(),
                subtests: None,
            }],
            bail_out: None,
        });
        let r = RunReport {
            cases: vec![xpass, xfail, crash],
            ..RunReport::default()
        };
        let k = ktap(&r);
        let want = concat!(
            "KTAP version 1\n1..3\n",
            "    KTAP version 1\n    # Subtest: crash.sh\n    1..2\n    ok 1 first\n",
            "# killed by signal 11\nnot ok 1 crash.sh\n",
            "    KTAP version 1\n    # Subtest: xfail\n    1..1\n    ok 1 step # XFAIL expected failure\n",
            "ok 2 xfail # XFAIL expected failure\n",
            "    KTAP version 1\n    # Subtest: xpass\n    1..2\n    ok 1 step\n    not ok 2 netrig verdict\n",
            "# passed, but marked xfail\nnot ok 3 xpass\n",
        );
        assert!(k.starts_with(want), "{k}");
    }

    #[test]
    fn the_summary_lists_what_did_not_pass_by_name() {
        let mut cases: Vec<CaseResult> = ["zeta", "alpha", "mid"]
            .iter()
            .map(|n| CaseResult::new(n, "s.toml", State::Fail, "x"))
            .collect();
        cases[2].state = State::Timeout;
        cases.push(CaseResult::new("ok", "s.toml", State::Pass, ""));
        let s = summary(
            &RunReport {
                cases,
                ..RunReport::default()
            },
            1,
        );
        assert!(
            s.ends_with("not ok:\n  [FAIL]    alpha\n  [TIMEOUT] mid\n  [FAIL]    zeta\n"),
            "{s}"
        );
    }

    #[test]
    fn ktap_text_is_one_clean_line() {
        assert_eq!(
            clean("a#b\nc\u{0}d\u{1b}[1m\te"),
            "a_b c\u{FFFD}d\u{FFFD}[1m\te"
        );
    }

    #[test]
    fn failure_bodies_are_bounded() {
        let long: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let b = failure_body("why", &[], &long, None);
        assert!(b.contains("line 999") && !b.contains("line 900\n"), "{b}");
        let wide = "x".repeat(100_000);
        assert!(failure_body("why", &[], &wide, None).len() < BODY_BYTES + 200);
    }
}
