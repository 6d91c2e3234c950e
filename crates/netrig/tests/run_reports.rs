//! Report formats, checked by independent readers: a strict KTAP parser
//! written from Documentation/dev-tools/ktap.rst, xmllint against a JUnit
//! schema, and perl's `prove` for TAP.

mod run_common;
use run_common::*;
use std::path::Path;

/// A suite with every state: pass (with steps), fail, skip, xfail,
/// timeout, broken, and an executable that prints its own KTAP.
fn mixed_suite(s: &Scratch) {
    s.write("suite/pass.toml", &format!("name = \"pass\"\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n[[steps]]\nping = {{ from = \"a\", to = \"192.0.2.2\" }}\n"));
    s.write("suite/fail.toml", "name = \"fail with <xml> & 'quotes'\"\n[[steps]]\nrun = \"echo 'bad <thing>' >&2; exit 3\"\n");
    s.write("suite/skip.toml", "name = \"skip\"\nrequires = { commands = [\"netrig-missing-tool\"] }\n[[steps]]\nrun = \"true\"\n");
    s.write(
        "suite/xfail.toml",
        "name = \"xfail\"\nxfail = \"known bug\"\n[[steps]]\nrun = \"false\"\n",
    );
    s.write(
        "suite/slow.toml",
        "name = \"slow\"\ntimeout = \"500ms\"\n[[steps]]\nrun = \"sleep 30\"\n",
    );
    s.write(
        "suite/broken.toml",
        "name = \"broken\"\n[[steps]]\nsysctl = { key = \"net.netrig.missing\" }\n",
    );
    s.exec("suite/ktap.sh", "#!/bin/sh\necho 'KTAP version 1'\necho '1..3'\necho 'ok 1 first'\necho 'ok 2 second # SKIP not here'\necho 'ok 3 third'\n");
}

fn passing_suite(s: &Scratch) {
    s.write("ok/a.toml", "name = \"a\"\n[[steps]]\nrun = \"true\"\n");
    s.write("ok/b.toml", "name = \"b\"\nrequires = { commands = [\"netrig-missing-tool\"] }\n[[steps]]\nrun = \"true\"\n");
    s.exec(
        "ok/c.sh",
        "#!/bin/sh\necho 'TAP version 13'\necho '1..1'\necho 'ok 1 - inner'\n",
    );
}

fn report(s: &Scratch, suite: &str, format: &str) -> (i32, String) {
    let o = netrig(
        &["run", suite, "--results", "res", "--format", format],
        &s.0,
    );
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// A strict KTAP v1 parser.

#[derive(Debug, PartialEq)]
struct KtapTest {
    ok: bool,
    number: usize,
    name: String,
    directive: Option<String>,
    subtests: Vec<KtapTest>,
    /// Results the nested plan promised that never came (a crash).
    missing: usize,
}

const DIRECTIVES: &[&str] = &["SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"];

/// Parse one (sub)test block at `indent` spaces: version line, diagnostics
/// (`# Subtest: name`), plan, results numbered 1..=N, diagnostics and nested
/// blocks that must be closed by their parent's result line. A nested block
/// may end before its plan (the executable crashed), but only under a
/// `not ok` parent. Anything else is an error. Returns the results and plan.
fn parse_block(
    lines: &[&str],
    pos: &mut usize,
    indent: usize,
) -> Result<(Vec<KtapTest>, usize), String> {
    let pad = " ".repeat(indent);
    let at = |p: usize| {
        format!(
            "line {}: {:?}",
            p + 1,
            lines.get(p).copied().unwrap_or("<eof>")
        )
    };
    let line = |p: usize| lines.get(p).and_then(|l| l.strip_prefix(pad.as_str()));
    if line(*pos) != Some("KTAP version 1") {
        return Err(format!("expected `KTAP version 1` at {}", at(*pos)));
    }
    *pos += 1;
    while line(*pos).is_some_and(|l| l.starts_with("# ")) {
        *pos += 1;
    }
    let plan: usize = line(*pos)
        .and_then(|l| l.strip_prefix("1.."))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("expected a plan `1..N` at {}", at(*pos)))?;
    *pos += 1;
    let mut tests = Vec::new();
    let mut pending_sub: Option<(Vec<KtapTest>, usize)> = None;
    while tests.len() < plan {
        let Some(l) = line(*pos) else {
            if indent > 0 && pending_sub.is_none() && lines.get(*pos).is_some() {
                // The parent's line follows: this level stopped early.
                break;
            }
            return Err(format!(
                "plan says {plan} tests, found {} before {}",
                tests.len(),
                at(*pos)
            ));
        };
        if l.starts_with("    ") {
            if pending_sub.is_some() {
                return Err(format!(
                    "two subtest blocks without a result line at {}",
                    at(*pos)
                ));
            }
            pending_sub = Some(parse_block(lines, pos, indent + 4)?);
            continue;
        }
        if l.starts_with('#') {
            *pos += 1;
            continue;
        }
        let (ok, rest) = if let Some(r) = l.strip_prefix("not ok ") {
            (false, r)
        } else if let Some(r) = l.strip_prefix("ok ") {
            (true, r)
        } else {
            return Err(format!("not a KTAP line at {}", at(*pos)));
        };
        let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let number: usize = num
            .parse()
            .map_err(|_| format!("bad test number at {}", at(*pos)))?;
        if number != tests.len() + 1 {
            return Err(format!(
                "test number {number}, expected {} at {}",
                tests.len() + 1,
                at(*pos)
            ));
        }
        let (name, directive) = match rest.split_once(" # ") {
            None => (rest.to_string(), None),
            Some((n, d)) => {
                let word = d.split_whitespace().next().unwrap_or("");
                if !DIRECTIVES.contains(&word) {
                    return Err(format!("unknown directive `{word}` at {}", at(*pos)));
                }
                if n.contains('#') {
                    return Err(format!("`#` in a test name at {}", at(*pos)));
                }
                (n.to_string(), Some(d.to_string()))
            }
        };
        if name.is_empty() || name.contains('#') {
            return Err(format!("bad test name at {}", at(*pos)));
        }
        let (subtests, subplan) = pending_sub.take().unwrap_or_default();
        let missing = subplan.saturating_sub(subtests.len());
        if missing > 0 && ok {
            return Err(format!(
                "`ok` over a level that stopped before its plan at {}",
                at(*pos)
            ));
        }
        tests.push(KtapTest {
            ok,
            number,
            name,
            directive,
            subtests,
            missing,
        });
        *pos += 1;
    }
    if pending_sub.is_some() {
        return Err(format!("subtests without a parent result at {}", at(*pos)));
    }
    Ok((tests, plan))
}

fn parse_ktap(text: &str) -> Result<Vec<KtapTest>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut pos = 0;
    let (tests, _) = parse_block(&lines, &mut pos, 0)?;
    // After the last result only diagnostics may follow (e.g. totals).
    for (i, l) in lines.iter().enumerate().skip(pos) {
        if !l.starts_with('#') {
            return Err(format!("trailing line {}: {l:?}", i + 1));
        }
    }
    Ok(tests)
}

#[test]
fn the_ktap_parser_rejects_what_it_should() {
    assert!(parse_ktap("KTAP version 1\n1..1\nok 1 a\n").is_ok());
    assert!(parse_ktap("KTAP version 2\n1..1\nok 1 a\n").is_err());
    assert!(parse_ktap("KTAP version 1\n1..2\nok 1 a\n").is_err());
    assert!(parse_ktap("KTAP version 1\n1..1\nok 2 a\n").is_err());
    assert!(parse_ktap("KTAP version 1\n1..1\nok 1 a # MAYBE\n").is_err());
    assert!(parse_ktap("KTAP version 1\n1..1\nok 1 a\ngarbage\n").is_err());
    assert!(
        parse_ktap("KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n    ok 1 s\n").is_err()
    );
    let t = parse_ktap("KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n    ok 1 s\nok 1 p\n")
        .unwrap();
    assert_eq!(t[0].subtests.len(), 1);
    // A level cut short is a crash: only a `not ok` parent may close it.
    let short = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: p\n    1..2\n    ok 1 s\nnot ok 1 p\n";
    assert_eq!(parse_ktap(short).unwrap()[0].missing, 1);
    assert!(parse_ktap(&short.replace("not ok 1 p", "ok 1 p")).is_err());
}

#[test]
fn ktap_output_is_strict_ktap() {
    let s = Scratch::new("ktap");
    mixed_suite(&s);
    let (code, out) = report(&s, "suite", "ktap");
    assert_eq!(code, 3, "broken and timeout exit 3\n{out}");
    let tests = parse_ktap(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(tests.len(), 7, "{out}");
    let by = |n: &str| {
        tests
            .iter()
            .find(|t| t.name.starts_with(n))
            .unwrap_or_else(|| panic!("no {n}\n{out}"))
    };
    assert!(by("pass").ok && by("pass").directive.is_none());
    assert_eq!(by("pass").subtests.len(), 2);
    assert!(!by("fail").ok && by("fail").directive.is_none());
    assert!(
        by("skip").ok
            && by("skip")
                .directive
                .as_deref()
                .is_some_and(|d| d.starts_with("SKIP") && d.contains("netrig-missing-tool"))
    );
    assert!(
        by("xfail").ok
            && by("xfail")
                .directive
                .as_deref()
                .is_some_and(|d| d.starts_with("XFAIL"))
    );
    assert!(
        !by("slow").ok
            && by("slow")
                .directive
                .as_deref()
                .is_some_and(|d| d.starts_with("TIMEOUT"))
    );
    assert!(
        !by("broken").ok
            && by("broken")
                .directive
                .as_deref()
                .is_some_and(|d| d.starts_with("ERROR"))
    );
    let k = by("ktap.sh");
    assert_eq!(
        k.subtests
            .iter()
            .map(|t| (t.name.as_str(), t.directive.is_some()))
            .collect::<Vec<_>>(),
        [("first", false), ("second", true), ("third", false)]
    );
}

fn xmllint() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("xmllint"))
            .find(|x| x.is_file())
    });
    if found.is_none() {
        // CI installs it and sets NETRIG_REQUIRE_TOOLS so this never skips there.
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "xmllint is needed to validate JUnit output: apt-get install libxml2-utils"
        );
        eprintln!("SKIP: xmllint is not installed (apt-get install libxml2-utils)");
    }
    found
}

/// The Jenkins xunit plugin's junit-10.xsd (MIT, not vendored: .ci/run
/// downloads it at a pinned commit and names it in NETRIG_JUNIT10_XSD).
fn junit10_xsd() -> Option<std::path::PathBuf> {
    match std::env::var_os("NETRIG_JUNIT10_XSD").map(std::path::PathBuf::from) {
        Some(p) if p.is_file() => Some(p),
        other => {
            assert!(
                std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
                "NETRIG_JUNIT10_XSD must name jenkinsci/xunit-plugin's junit-10.xsd (got {other:?}); .ci/run downloads it"
            );
            eprintln!("SKIP: NETRIG_JUNIT10_XSD does not name junit-10.xsd; only netrig's own schema is checked");
            None
        }
    }
}

/// Run xmllint on `file`, with `xsd` if given; Ok or its complaint.
fn xmllint_check(xmllint: &Path, xsd: Option<&Path>, file: &Path) -> Result<(), String> {
    let mut cmd = std::process::Command::new(xmllint);
    cmd.arg("--noout");
    if let Some(x) = xsd {
        cmd.arg("--schema").arg(x);
    }
    let o = cmd.arg(file).output().expect("xmllint");
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// Check `out` against netrig's schema and, where available, junit-10.xsd.
fn validate_junit(s: &Scratch, xmllint: &Path, name: &str, out: &str) {
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_junit.xsd");
    let file = s.write(name, out);
    // Well-formed first: a schema error message is useless for a file the
    // parser cannot even read.
    xmllint_check(xmllint, None, &file).unwrap_or_else(|e| panic!("not well-formed: {e}\n{out}"));
    xmllint_check(xmllint, Some(&own), &file)
        .unwrap_or_else(|e| panic!("run_junit.xsd: {e}\n{out}"));
    if let Some(x) = junit10_xsd() {
        xmllint_check(xmllint, Some(&x), &file)
            .unwrap_or_else(|e| panic!("junit-10.xsd: {e}\n{out}"));
    }
}

#[test]
fn junit_validates_against_the_schema() {
    let Some(xmllint) = xmllint() else { return };
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_junit.xsd");
    let s = Scratch::new("junit");
    mixed_suite(&s);
    let (_, out) = report(&s, "suite", "junit");
    validate_junit(&s, &xmllint, "junit.xml", &out);
    assert!(
        out.contains("<testsuites name=\"netrig\" tests=\"7\" failures=\"1\" errors=\"2\" time="),
        "{out}"
    );
    assert!(
        out.contains("fail with &lt;xml&gt; &amp; &#39;quotes&#39;"),
        "{out}"
    );
    // suite.case grouping: the class is the file's dotted path, never a path.
    assert!(
        out.contains(
            "name=\"fail with &lt;xml&gt; &amp; &#39;quotes&#39;\" classname=\"suite.fail\""
        ),
        "{out}"
    );
    assert!(out.contains("classname=\"suite.ktap\""), "{out}");
    assert!(!out.contains("classname=\"suite/"), "{out}");
    // When the run started, not its tag.
    let stamp = out
        .split("timestamp=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no timestamp\n{out}"));
    let b = stamp.as_bytes();
    assert!(
        stamp.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[19] == b'Z',
        "timestamp {stamp:?} is not ISO 8601 UTC"
    );
    // The failure body carries the failed step's message, with what it printed.
    let failure = out
        .split("<failure ")
        .nth(1)
        .and_then(|f| f.split("</failure>").next())
        .unwrap_or_else(|| panic!("no failure\n{out}"));
    assert!(failure.contains("bad &lt;thing&gt;"), "{failure}");
    // The schema is strict enough to refuse a broken document.
    let bad = s.write(
        "bad.xml",
        &out.replacen("tests=\"7\"", "tests=\"seven\"", 1),
    );
    assert!(
        xmllint_check(&xmllint, Some(&xsd), &bad).is_err(),
        "the schema accepted tests=\"seven\""
    );
}

#[test]
fn junit_is_well_formed_whatever_a_test_prints() {
    let Some(xmllint) = xmllint() else { return };
    let s = Scratch::new("junit-bytes");
    // NUL, other C0 controls, U+FFFE and U+FFFF (noncharacters XML 1.0
    // excludes), a stray UTF-8 byte, `]]>`, then a failure: its output goes
    // into the failure body.
    s.exec(
        "bytes/noise.sh",
        "#!/bin/sh\nprintf 'a\\000b\\001c\\010d\\013e\\014f\\037g\\n'\nprintf 'h\\357\\277\\276i\\357\\277\\277j\\377k ]]> <x/> &amp;\\n'\necho 'last words'\nexit 1\n",
    );
    s.write(
        "bytes/step.toml",
        "name = \"step noise\"\n[[steps]]\nrun = \"printf 'p\\\\357\\\\277\\\\276q\\\\000r\\\\033[31ms'; exit 2\"\n",
    );
    let (code, out) = report(&s, "bytes", "junit");
    assert_eq!(code, 1, "{out}");
    validate_junit(&s, &xmllint, "junit.xml", &out);
    assert!(out.contains("last words"), "output tail missing\n{out}");
    // KTAP and TAP show what the failing executable printed too.
    for f in ["ktap", "tap"] {
        let o = netrig(&["report", "merge", "res/latest", "--format", f], &s.0);
        let r = String::from_utf8_lossy(&o.stdout);
        assert!(r.contains("last words"), "{f}: output tail missing\n{r}");
    }
    assert!(out.contains("h\u{FFFD}i\u{FFFD}j"), "{out}");
    assert!(out.contains("]]&gt; &lt;x/&gt; &amp;amp;"), "{out}");
}

#[test]
fn junit_shows_retries_as_flaky_and_rerun_elements() {
    let Some(xmllint) = xmllint() else { return };
    let s = Scratch::new("junit-retry");
    let marker = s.path("first-try-done");
    s.write(
        "retry/flaky.toml",
        &format!(
            "name = \"flaky\"\n[[steps]]\nrun = \"test -e {m} || {{ touch {m}; echo first try fails; exit 1; }}\"\n",
            m = marker.display()
        ),
    );
    s.write(
        "retry/always.toml",
        "name = \"always\"\n[[steps]]\nrun = \"echo nope; exit 1\"\n",
    );
    let o = netrig(
        &[
            "run",
            "retry",
            "--results",
            "res",
            "--format",
            "junit",
            "--retries",
            "1",
        ],
        &s.0,
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    validate_junit(&s, &xmllint, "junit.xml", &out);
    let case = |n: &str| {
        out.split("<testcase ")
            .find(|c| c.starts_with(&format!("name=\"{n}\"")))
            .unwrap_or_else(|| panic!("no {n}\n{out}"))
            .to_string()
    };
    let flaky = case("flaky");
    assert!(
        flaky.contains("<flakyFailure message=\"attempt 1: ") && !flaky.contains("<failure"),
        "{flaky}"
    );
    let always = case("always");
    assert!(
        always.contains("<failure ") && always.contains("<rerunFailure message=\"attempt 1: "),
        "{always}"
    );
}

fn prove(s: &Scratch, tap: &str) -> (bool, String) {
    let f = s.write("report.tap", tap);
    let o = std::process::Command::new("prove")
        .arg("-v")
        .arg("--exec")
        .arg("cat")
        .arg(&f)
        .output()
        .expect("prove");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn tap_is_read_by_prove() {
    let s = Scratch::new("tap");
    passing_suite(&s);
    let (code, out) = report(&s, "ok", "tap");
    assert_eq!(code, 0, "{out}");
    let (ok, p) = prove(&s, &out);
    assert!(
        ok && p.contains("All tests successful") && p.contains("Tests=3"),
        "{p}\n{out}"
    );

    mixed_suite(&s);
    let (_, out) = report(&s, "suite", "tap");
    let (ok, p) = prove(&s, &out);
    assert!(!ok, "prove passed a failing report:\n{p}");
    assert!(!p.contains("Parse errors"), "{p}\n{out}");
    // fail, timeout and broken fail; xfail is a TODO, skip is skipped.
    assert!(p.contains("Failed 3/7 subtests"), "{p}\n{out}");
    assert!(
        p.contains("TODO passed") || p.contains("todo") || p.contains("# TODO"),
        "{p}"
    );
}

// ---------------------------------------------------------------------------
// The kernel's own KTAP reader: tools/testing/kunit/kunit.py.

/// kunit.py from the kernel source, named by NETRIG_KUNIT_PY (the script or
/// its folder; .ci/run extracts it from Debian's linux-source package).
fn kunit_py() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("NETRIG_KUNIT_PY").map(std::path::PathBuf::from);
    let p = p.map(|p| if p.is_dir() { p.join("kunit.py") } else { p });
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match p {
        Some(p) if p.is_file() && python => Some(p),
        p => {
            assert!(
                std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
                "kunit.py and python3 are needed (NETRIG_KUNIT_PY={p:?}, python3 found: {python}); .ci/run installs them"
            );
            eprintln!("SKIP: set NETRIG_KUNIT_PY to the kernel's tools/testing/kunit (and install python3)");
            None
        }
    }
}

/// `kunit.py parse` of `ktap`: whether it passed, its console, and the
/// verdict it gives each top-level test, judged as kunit.py judges a run
/// (by its leaves: any FAIL or ERROR fails, else any PASS passes, else skip).
fn kunit_parse(
    kunit: &Path,
    s: &Scratch,
    ktap: &str,
) -> (
    bool,
    String,
    std::collections::BTreeMap<String, &'static str>,
) {
    let file = s.write("report.ktap", ktap);
    let json = s.path("kunit.json");
    let _ = std::fs::remove_file(&json);
    let o = std::process::Command::new("python3")
        .arg(kunit)
        .arg("parse")
        .arg(format!("--json={}", json.display()))
        .arg(&file)
        .output()
        .expect("running kunit.py");
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = std::fs::read(&json)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("kunit.py wrote no JSON\n{console}"));
    fn leaves(g: &serde_json::Value, out: &mut Vec<String>) {
        for c in g["test_cases"].as_array().into_iter().flatten() {
            out.push(c["status"].as_str().unwrap_or("?").to_string());
        }
        for sg in g["sub_groups"].as_array().into_iter().flatten() {
            leaves(sg, out);
        }
    }
    let verdict = |l: &[String]| {
        if l.iter().any(|s| s == "FAIL" || s == "ERROR") {
            "fail"
        } else if l.iter().any(|s| s == "PASS") {
            "pass"
        } else {
            "skip"
        }
    };
    let mut per = std::collections::BTreeMap::new();
    for c in v["test_cases"].as_array().into_iter().flatten() {
        let st = c["status"].as_str().unwrap_or("?").to_string();
        per.insert(
            c["name"].as_str().unwrap_or("?").to_string(),
            verdict(&[st]),
        );
    }
    for g in v["sub_groups"].as_array().into_iter().flatten() {
        let mut l = Vec::new();
        leaves(g, &mut l);
        per.insert(g["name"].as_str().unwrap_or("?").to_string(), verdict(&l));
    }
    (o.status.success(), console, per)
}

/// One case of every state, each in its own file: (file, netrig state).
fn every_state(s: &Scratch) -> Vec<(&'static str, &'static str)> {
    s.write(
        "all/pass.toml",
        "name = \"pass\"\n[[steps]]\nrun = \"true\"\n[[steps]]\nrun = \"echo fine\"\n",
    );
    s.write("all/fail.toml", "name = \"fail\"\n[[steps]]\nrun = \"true\"\n[[steps]]\nrun = \"echo 'bad thing' >&2; exit 3\"\n");
    s.write("all/skip.toml", "name = \"skip\"\nrequires = { commands = [\"netrig-missing-tool\"] }\n[[steps]]\nrun = \"true\"\n");
    s.write("all/xfail.toml", "name = \"xfail\"\nxfail = \"known bug\"\n[[steps]]\nrun = \"true\"\n[[steps]]\nrun = \"false\"\n");
    s.write(
        "all/xpass.toml",
        "name = \"xpass\"\nxfail = \"known bug\"\n[[steps]]\nrun = \"true\"\n",
    );
    s.write("all/timeout.toml", "name = \"timeout\"\ntimeout = \"500ms\"\n[[steps]]\nrun = \"true\"\n[[steps]]\nrun = \"sleep 30\"\n");
    s.write(
        "all/broken.toml",
        "name = \"broken\"\n[[steps]]\nsysctl = { key = \"net.netrig.missing\" }\n",
    );
    // Killed by SIGSEGV after 1 of its 2 planned results.
    s.exec(
        "all/crash.sh",
        "#!/bin/sh\necho 'KTAP version 1'\necho '1..2'\necho 'ok 1 first'\nkill -SEGV $$\n",
    );
    // kselftest.h's own lines: a nameless XFAIL, a SKIP with its reason.
    s.exec("all/kself.sh", "#!/bin/sh\necho 'TAP version 13'\necho '1..3'\necho 'ok 1 # XFAIL known'\necho 'ok 2 two # SKIP no netdevsim'\necho 'ok 3 three'\necho '# Totals: pass:1 fail:0 xfail:1 xpass:0 skip:1 error:0'\n");
    // Three levels, a failure at the bottom, exit 1.
    s.exec("all/deep.sh", "#!/bin/sh\nprintf 'KTAP version 1\\n1..1\\n  KTAP version 1\\n  # Subtest: outer\\n  1..2\\n    KTAP version 1\\n    # Subtest: inner\\n    1..2\\n    ok 1 deep\\n    not ok 2 deeper\\n  not ok 1 inner\\n  ok 2 side\\nnot ok 1 outer\\n'\nexit 1\n");
    // Only `ok`s, yet exit 1: netrig fails it, so must kunit.py.
    s.exec(
        "all/exit1.sh",
        "#!/bin/sh\necho 'KTAP version 1'\necho '1..1'\necho 'ok 1 looked fine'\nexit 1\n",
    );
    // Bail out! with exit 0.
    s.exec("all/bail.sh", "#!/bin/sh\necho 'TAP version 13'\necho '1..2'\necho 'ok 1 a'\necho 'Bail out! no device'\n");
    // kselftest's skip: exit 4.
    s.exec("all/skip4.sh", "#!/bin/sh\necho 'TAP version 13'\necho '1..1'\necho 'ok 1 probe # SKIP smcrouted not installed'\nexit 4\n");
    vec![
        ("pass.toml", "pass"),
        ("fail.toml", "fail"),
        ("skip.toml", "skip"),
        ("xfail.toml", "xfail"),
        ("xpass.toml", "fail"),
        ("timeout.toml", "timeout"),
        ("broken.toml", "broken"),
        ("crash.sh", "fail"),
        ("kself.sh", "pass"),
        ("deep.sh", "fail"),
        ("exit1.sh", "fail"),
        ("bail.sh", "fail"),
        ("skip4.sh", "skip"),
    ]
}

#[test]
fn ktap_gets_the_same_verdict_from_kunit_py() {
    let Some(kunit) = kunit_py() else { return };
    let s = Scratch::new("kunit");
    let states = every_state(&s);
    let green = |st: &str| matches!(st, "pass" | "skip" | "xfail");

    // Each state alone: kunit.py's exit status is netrig's. A run of skips
    // only is the exception: kunit.py fails it, netrig passes it, so a
    // passing case keeps the skips company.
    s.write(
        "pal/pal.toml",
        "name = \"pal\"\n[[steps]]\nrun = \"true\"\n",
    );
    let mut seen = Vec::new();
    for (i, (file, want)) in states.iter().enumerate() {
        let path = format!("all/{file}");
        let tag = format!("t{i}");
        let o = netrig(
            &[
                "run",
                &path,
                "pal",
                "--results",
                "res",
                "--tag",
                &tag,
                "--format",
                "ktap",
            ],
            &s.0,
        );
        let ktap = String::from_utf8_lossy(&o.stdout).into_owned();
        let report: serde_json::Value = std::fs::read(s.path(&format!("res/{tag}/report.json")))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| panic!("{file}: no report.json\n{}", text(&o)));
        let state = report["cases"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] != "pal"))
            .map(|c| c["state"].as_str().unwrap_or("?").to_string())
            .unwrap_or_default();
        assert_eq!(&state, want, "{file}: netrig's state\n{report:#}");
        parse_ktap(&ktap).unwrap_or_else(|e| panic!("{file}: {e}\n{ktap}"));
        let (kunit_ok, console, _) = kunit_parse(&kunit, &s, &ktap);
        let netrig_ok = o.status.code() == Some(0);
        assert_eq!(
            netrig_ok,
            green(want),
            "{file}: netrig's exit code\n{}",
            text(&o)
        );
        assert_eq!(
            kunit_ok,
            netrig_ok,
            "{file}: kunit.py passed={kunit_ok}, netrig exit {:?}\n{ktap}\n{console}",
            o.status.code()
        );
        seen.push(format!(
            "{file}: netrig {state} exit {:?}, kunit.py {}",
            o.status.code(),
            if kunit_ok { "pass" } else { "fail" }
        ));
    }
    eprintln!("{}", seen.join("\n"));

    // All together: per case, kunit.py's verdict matches netrig's state,
    // and the reasons made it through.
    let o = netrig(
        &[
            "run",
            "all",
            "--results",
            "res",
            "--tag",
            "all",
            "--format",
            "ktap",
        ],
        &s.0,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let ktap = String::from_utf8_lossy(&o.stdout).into_owned();
    let report: serde_json::Value = std::fs::read(s.path("res/all/report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("no report.json\n{}", text(&o)));
    let (kunit_ok, console, per) = kunit_parse(&kunit, &s, &ktap);
    assert!(!kunit_ok, "{console}");
    for c in report["cases"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("?");
        let state = c["state"].as_str().unwrap_or("?");
        let want = if green(state) {
            if state == "skip" {
                "skip"
            } else {
                "pass"
            }
        } else {
            "fail"
        };
        assert_eq!(
            per.get(name).copied(),
            Some(want),
            "{name} is {state} for netrig\n{ktap}\n{console}\n{per:?}"
        );
    }
    // Only the crash (a plan cut short) and the bail-out may upset kunit.py.
    for l in console.lines().filter(|l| l.contains("[ERROR]")) {
        assert!(
            l.contains("crash.sh") || l.contains("bail.sh"),
            "kunit.py complained: {l}\n{ktap}\n{console}"
        );
    }
    assert!(console.contains("missing expected subtest"), "{console}");
    // kselftest directives and reasons, passed through.
    for want in [
        "ok 1 test 1 # XFAIL known",
        "ok 2 two # SKIP no netdevsim",
        "# SKIP smcrouted not installed",
        "# Bail out! no device",
        "        not ok 2 deeper",
        "# Subtest: inner",
    ] {
        assert!(ktap.contains(want), "no {want:?} in\n{ktap}");
    }
    let t = parse_ktap(&ktap).unwrap_or_else(|e| panic!("{e}\n{ktap}"));
    let crash = t.iter().find(|t| t.name == "crash.sh").expect("crash.sh");
    assert_eq!((crash.ok, crash.missing), (false, 1), "{ktap}");
}

#[test]
fn every_report_lists_cases_by_name_whatever_order_they_finish_in() {
    let s = Scratch::new("order");
    // With three jobs, `c` finishes first and `a` last.
    s.write("o/a.toml", "name = \"a\"\n[[steps]]\nrun = \"sleep 0.8\"\n");
    s.write("o/b.toml", "name = \"b\"\n[[steps]]\nrun = \"sleep 0.4\"\n");
    s.write("o/c.toml", "name = \"c\"\n[[steps]]\nrun = \"true\"\n");
    let o = netrig(
        &[
            "run",
            "o",
            "-j",
            "3",
            "--repeat",
            "2",
            "--results",
            "res",
            "--tag",
            "t",
            "--format",
            "ktap",
        ],
        &s.0,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ktap = String::from_utf8_lossy(&o.stdout).into_owned();
    let results: Vec<&str> = ktap.lines().filter(|l| l.starts_with("ok ")).collect();
    assert_eq!(
        results,
        [
            "ok 1 a",
            "ok 2 a (repeat 2)",
            "ok 3 b",
            "ok 4 b (repeat 2)",
            "ok 5 c",
            "ok 6 c (repeat 2)"
        ],
        "{ktap}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path("res/t/report.json")).expect("report.json"))
            .expect("JSON");
    let order: Vec<(String, u64)> = json["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("?").to_string(),
                c["repeat"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = ["a", "b", "c"]
        .iter()
        .flat_map(|n| [(n.to_string(), 1), (n.to_string(), 2)])
        .collect();
    assert_eq!(order, want, "report.json");
    let junit = std::fs::read_to_string(s.path("res/t/junit.xml")).expect("junit.xml");
    let names: Vec<&str> = junit
        .split("<testcase name=\"")
        .skip(1)
        .filter_map(|t| t.split('"').next())
        .collect();
    assert_eq!(
        names,
        [
            "a",
            "a (repeat 2)",
            "b",
            "b (repeat 2)",
            "c",
            "c (repeat 2)"
        ],
        "{junit}"
    );
    let o = netrig(&["report", "merge", "res/t", "--format", "tap"], &s.0);
    let tap = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        tap.contains("ok 1 - a\n") && tap.contains("ok 5 - c\n"),
        "{tap}"
    );
}

/// The kernel's tools/testing/selftests/net/lib.sh, next to kunit.py in the
/// kernel tree NETRIG_KUNIT_PY points into (.ci/run extracts both).
fn kernel_net_lib_sh() -> Option<std::path::PathBuf> {
    let kunit = std::env::var_os("NETRIG_KUNIT_PY")?;
    let kunit = std::path::PathBuf::from(kunit);
    let s = kunit.to_string_lossy();
    let root = s.split("tools/testing/kunit").next()?;
    let lib = Path::new(root).join("tools/testing/selftests/net/lib.sh");
    lib.is_file().then_some(lib)
}

#[test]
fn kselftest_lib_sh_test_lines_become_subtests() {
    let s = Scratch::new("libsh");
    // The kernel's own lib.sh where we have it, else its printf, verbatim.
    let lib = match kernel_net_lib_sh() {
        Some(l) => format!("source {}\n", l.display()),
        None => {
            assert!(
                std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
                "tools/testing/selftests/net/lib.sh is not next to NETRIG_KUNIT_PY"
            );
            eprintln!("note: no kernel net/lib.sh; using a copy of its log_test format");
            concat!(
                "ksft_fail=1; ksft_xfail=2; ksft_skip=4; EXIT_STATUS=0\n",
                "log_test() { case $RET in 0) r=' OK ';; 2) r=XFAIL;; 4) r=SKIP;; *) r=FAIL; EXIT_STATUS=1;; esac\n",
                "  o=; [ $# -eq 2 ] && o=\"($2)\"\n",
                "  printf \"TEST: %-60s  [%s]\\n\" \"$1 $o\" \"$r\"; [ -n \"$retmsg\" ] && printf \"\\t%s\\n\" \"$retmsg\"\n",
                "  [ $RET = 4 ] && [ $EXIT_STATUS = 0 ] && EXIT_STATUS=4; return 0; }\n",
                "log_test_skip() { RET=$ksft_skip retmsg= log_test \"$@\"; }\n",
            )
            .to_string()
        }
    };
    s.exec(
        "ks/forwarding.sh",
        &format!(
            "#!/bin/bash\n{lib}echo 'INFO: setting up'\nRET=0; retmsg=\nlog_test \"ping\"\nRET=$ksft_fail; retmsg=\"ping failed\"; log_test \"mtu\" \"big\"\nRET=$ksft_xfail retmsg= log_test \"known issue\"\nlog_test_skip \"no ipv6\"\nexit $EXIT_STATUS\n"
        ),
    );
    // router.sh without smcrouted: one SKIP line, exit 4.
    s.exec(
        "ks/router.sh",
        &format!(
            "#!/bin/bash\n{lib}log_test_skip \"smcrouted not installed\"\nexit $EXIT_STATUS\n"
        ),
    );
    let (code, report, out) = run_json(&["ks", "--results", "res", "--tag", "t"], &s.0);
    assert_eq!(code, 1, "{out}");
    let fwd = case(&report, "forwarding.sh");
    assert_eq!(fwd["state"], "fail", "{out}");
    let subs: Vec<(String, String, String)> = fwd["subtests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("").to_string(),
                t["state"].as_str().unwrap_or("").to_string(),
                t["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = [
        ("ping", "pass", ""),
        ("mtu (big)", "fail", "ping failed"),
        ("known issue", "xfail", ""),
        ("no ipv6", "skip", ""),
    ];
    assert_eq!(
        subs,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
        "{out}"
    );
    let router = case(&report, "router.sh");
    assert_eq!(router["state"], "skip", "{out}");
    assert_eq!(router["reason"], "smcrouted not installed", "{out}");

    let ktap = std::fs::read_to_string(s.path("res/t/report.ktap")).expect("report.ktap");
    for want in [
        "    ok 1 ping\n",
        "    not ok 2 mtu (big)\n",
        "    ok 3 known issue # XFAIL\n",
        "    ok 4 no ipv6 # SKIP\n",
        "ok 2 router.sh # SKIP smcrouted not installed\n",
    ] {
        assert!(ktap.contains(want), "no {want:?} in\n{ktap}");
    }
    let junit = std::fs::read_to_string(s.path("res/t/junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("<skipped message=\"skip: smcrouted not installed\"/>"),
        "{junit}"
    );
    if let Some(kunit) = kunit_py() {
        let (ok, console, per) = kunit_parse(&kunit, &s, &ktap);
        assert!(!ok, "{console}");
        assert_eq!(per.get("forwarding.sh").copied(), Some("fail"), "{console}");
        assert_eq!(per.get("router.sh").copied(), Some("skip"), "{console}");
    }
    // The console gives the reason, not the `]` of `[SKIP]`.
    let o = netrig(&["run", "ks/router.sh", "--results", "res"], &s.0);
    let console = String::from_utf8_lossy(&o.stdout);
    assert!(
        console.contains("[SKIP]") && console.contains("      smcrouted not installed\n"),
        "{}",
        text(&o)
    );
}
