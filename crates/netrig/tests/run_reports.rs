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
        "name = \"broken\"\n[[steps]]\nwait_log = { daemon = \"nobody\", pattern = \"x\" }\n",
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
}

const DIRECTIVES: &[&str] = &["SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"];

/// Parse one (sub)test block at `indent` spaces: version line, plan,
/// results numbered 1..=N, diagnostics (`#`) and nested blocks that must be
/// closed by their parent's result line. Anything else is an error.
fn parse_block(lines: &[&str], pos: &mut usize, indent: usize) -> Result<Vec<KtapTest>, String> {
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
    let plan: usize = line(*pos)
        .and_then(|l| l.strip_prefix("1.."))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("expected a plan `1..N` at {}", at(*pos)))?;
    *pos += 1;
    let mut tests = Vec::new();
    let mut pending_sub: Option<Vec<KtapTest>> = None;
    while tests.len() < plan {
        let Some(l) = line(*pos) else {
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
        tests.push(KtapTest {
            ok,
            number,
            name,
            directive,
            subtests: pending_sub.take().unwrap_or_default(),
        });
        *pos += 1;
    }
    if pending_sub.is_some() {
        return Err(format!("subtests without a parent result at {}", at(*pos)));
    }
    Ok(tests)
}

fn parse_ktap(text: &str) -> Result<Vec<KtapTest>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut pos = 0;
    let tests = parse_block(&lines, &mut pos, 0)?;
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
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("xmllint"))
            .find(|x| x.is_file())
    })
}

#[test]
fn junit_validates_against_the_schema() {
    let Some(xmllint) = xmllint() else {
        // CI installs it and sets NETRIG_REQUIRE_TOOLS so this never skips there.
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "xmllint is needed to validate JUnit output: apt-get install libxml2-utils"
        );
        eprintln!("SKIP: xmllint is not installed (apt-get install libxml2-utils)");
        return;
    };
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_junit.xsd");
    let s = Scratch::new("junit");
    mixed_suite(&s);
    let (_, out) = report(&s, "suite", "junit");
    let file = s.write("junit.xml", &out);
    let o = std::process::Command::new(&xmllint)
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .expect("xmllint");
    assert!(
        o.status.success(),
        "xmllint: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("tests=\"7\" failures=\"1\" errors=\"2\" skipped=\"2\""),
        "{out}"
    );
    assert!(
        out.contains("fail with &lt;xml&gt; &amp; &apos;quotes&apos;"),
        "{out}"
    );
    // The schema is strict enough to refuse a broken document.
    let bad = s.write(
        "bad.xml",
        &out.replacen("tests=\"7\"", "tests=\"seven\"", 1),
    );
    let o = std::process::Command::new(&xmllint)
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&bad)
        .output()
        .expect("xmllint");
    assert!(!o.status.success(), "the schema accepted tests=\"seven\"");
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
