//! The HTML report, read by the tools people read it with: xmllint for
//! well-formedness (the page is polyglot XHTML) and a real headless
//! browser (Debian's chromium) for console errors and the rendered DOM.

mod run_common;
use run_common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every address of [`PAIR`], which the pass case's lab uses.
const PAIR_ADDRS: &[&str] = &[
    "192.0.2.1/24",
    "2001:db8:1::1/64",
    "192.0.2.2/24",
    "2001:db8:1::2/64",
];

const FAIL_NAME: &str = "fail with <xml> & 'quotes'";

/// A suite with passing, failing, skipped, xfail and flaky cases; the
/// flaky one fails its first attempt and passes its retry.
fn suite(s: &Scratch) -> Vec<&'static str> {
    s.write(
        "suite/pass.toml",
        &format!("name = \"pass\"\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"echo hello from a\"\n[[steps]]\nping = {{ from = \"a\", to = \"192.0.2.2\" }}\n"),
    );
    s.write(
        "suite/fail.toml",
        &format!(
            "name = \"{FAIL_NAME}\"\n[[steps]]\nrun = \"echo 'bad <thing> & more' >&2; exit 3\"\n"
        ),
    );
    s.write(
        "suite/skip.toml",
        "name = \"skip\"\nrequires = { commands = [\"netrig-missing-tool\"] }\n[[steps]]\nrun = \"true\"\n",
    );
    s.write(
        "suite/xfail.toml",
        "name = \"xfail\"\nxfail = \"known bug\"\n[[steps]]\nrun = \"false\"\n",
    );
    let mark = s.path("flaky.mark");
    s.write(
        "suite/flaky.toml",
        &format!(
            "name = \"flaky\"\n[[steps]]\nrun = \"if [ -e '{0}' ]; then exit 0; fi; touch '{0}'; exit 1\"\n",
            mark.display()
        ),
    );
    vec!["pass", FAIL_NAME, "skip", "xfail", "flaky"]
}

/// Run the suite as run `tag` under `res/`; returns the run folder.
fn run_suite(s: &Scratch, tag: &str) -> PathBuf {
    let o = netrig(
        &[
            "run",
            "suite",
            "--results",
            "res",
            "--tag",
            tag,
            "--retries",
            "1",
        ],
        &s.0,
    );
    assert_eq!(o.status.code(), Some(1), "one case fails:\n{}", text(&o));
    let out = text(&o);
    assert!(out.contains("flaky: passed on attempt 2"), "{out}");
    s.path(&format!("res/{tag}"))
}

fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|x| x.is_file())
    });
    if found.is_none() {
        // CI installs it and sets NETRIG_REQUIRE_TOOLS so this never skips there.
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "{name} is needed: apt-get install {package}"
        );
        eprintln!("SKIP: {name} is not installed (apt-get install {package})");
    }
    found
}

/// Text as it appears in the page's source (and in a DOM dump): `&`, `<`,
/// `>` escaped; quotes escaped in the source only.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn xml_wellformed(xmllint: &Path, file: &Path) {
    let o = Command::new(xmllint)
        .arg("--noout")
        .arg(file)
        .output()
        .expect("xmllint");
    assert!(
        o.status.success(),
        "{} is not well-formed: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every `href` of the page points at a file that exists.
fn links_resolve(page: &Path) {
    let html = std::fs::read_to_string(page).expect("page");
    let dir = page.parent().expect("folder");
    let mut n = 0;
    for part in html.split("href=\"").skip(1) {
        let href = &part[..part.find('"').expect("closing quote")];
        if href.starts_with('#') {
            continue;
        }
        // Undo url_segment's percent-encoding.
        let mut bytes = Vec::new();
        let b = href.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() + 1 {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
                bytes.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            } else {
                bytes.push(b[i]);
                i += 1;
            }
        }
        let rel = String::from_utf8(bytes)
            .expect("utf-8")
            .replace("&amp;", "&");
        assert!(
            dir.join(&rel).exists(),
            "{}: link {href} points nowhere",
            page.display()
        );
        n += 1;
    }
    assert!(n > 0, "no links to logs or captures in {}", page.display());
}

#[test]
fn every_run_writes_a_complete_well_formed_page() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("html-page");
    let names = suite(&s);
    let run = run_suite(&s, "t1");
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).expect("netrig run writes report.html");
    for n in &names {
        let want = html_text(n).replace('\'', "&#39;");
        assert!(html.contains(&want), "case {n} missing from the page");
    }
    for a in PAIR_ADDRS {
        assert!(html.contains(a), "address {a} missing from the page");
    }
    for want in [
        ">flaky</span>",
        "data-state=\"xfail\"",
        "data-state=\"skip\"",
        "data-state=\"fail\"",
        "bad &lt;thing&gt; &amp; more",
        "hello from a",
        "kernel ",
        "-j ",
    ] {
        assert!(html.contains(want), "{want} missing from the page");
    }
    // Self-contained: no script, style or image from elsewhere.
    assert!(!html.contains("src=\""), "nothing is loaded from anywhere");
    assert!(!html.contains("https://"));
    links_resolve(&page);

    // The same page from the JSON report, and from two halves of it merged
    // (as `--partition` shards would be), written elsewhere: links follow.
    let o = netrig(
        &["report", "html", "res/t1/report.json", "-o", "out/one.html"],
        &s.0,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    links_resolve(&s.path("out/one.html"));
    let full: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).expect("json"))
            .expect("json");
    let cases = full["cases"].as_array().expect("cases");
    let (a, b) = cases.split_at(cases.len() / 2);
    for (f, part) in [("a.json", a), ("b.json", b)] {
        let mut r = full.clone();
        r["cases"] = serde_json::Value::Array(part.to_vec());
        s.write(f, &r.to_string());
    }
    let o = netrig(
        &[
            "report",
            "html",
            "a.json",
            "b.json",
            "-o",
            "out/merged.html",
        ],
        &s.0,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let merged = std::fs::read_to_string(s.path("out/merged.html")).expect("merged page");
    for n in &names {
        assert!(merged.contains(&html_text(n).replace('\'', "&#39;")), "{n}");
    }
    for a in PAIR_ADDRS {
        assert!(
            merged.contains(a),
            "address {a} missing from the merged page"
        );
    }

    let Some(xmllint) = tool("xmllint", "libxml2-utils") else {
        return;
    };
    for p in [page, s.path("out/one.html"), s.path("out/merged.html")] {
        xml_wellformed(&xmllint, &p);
    }
}

/// What headless chromium made of a page: the DOM and the console lines.
struct Rendered {
    dom: String,
    console: Vec<String>,
}

fn chromium_render(chromium: &Path, s: &Scratch, page: &Path) -> Rendered {
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page path").display()
    );
    // `timeout` ends chromium (by its PID) should it hang.
    let o = Command::new("timeout")
        .args(["-k", "5", "120"])
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            s.path("chromium-profile").display()
        ))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("running chromium");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "chromium failed ({:?}):\n{stderr}",
        o.status.code()
    );
    Rendered {
        dom: String::from_utf8_lossy(&o.stdout).into_owned(),
        // Console messages are logged as `...:CONSOLE(line)] "message"`;
        // uncaught exceptions as `Uncaught ...`. The page logs nothing, so
        // any of them is a problem.
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_string)
            .collect(),
    }
}

#[test]
fn the_page_renders_in_headless_chromium_without_console_errors() {
    if !have_root() {
        return;
    }
    let Some(chromium) = tool("chromium", "chromium") else {
        return;
    };
    let s = Scratch::new("html-chromium");
    // The check itself catches a script error.
    let bad = s.write(
        "bad.html",
        "<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>",
    );
    let r = chromium_render(&chromium, &s, &bad);
    assert!(
        r.console.iter().any(|l| l.contains("undefinedFunction")),
        "chromium's console log was not seen: {:?}",
        r.console
    );

    let names = suite(&s);
    let run = run_suite(&s, "t1");
    let r = chromium_render(&chromium, &s, &run.join("report.html"));
    assert!(r.console.is_empty(), "console errors: {:#?}", r.console);
    // The filter script ran to its end.
    assert!(r.dom.contains("data-js=\"ready\""), "{}", r.dom);
    for n in &names {
        assert!(r.dom.contains(&html_text(n)), "case {n} not in the DOM");
    }
    for a in PAIR_ADDRS {
        assert!(r.dom.contains(a), "address {a} not in the DOM");
    }
    assert!(r.dom.contains("<svg"), "no drawing in the DOM");
}

#[test]
fn the_history_of_three_runs_shows_the_case_that_changed() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("html-history");
    let flag = s.path("broken.flag");
    s.write(
        "h/steady.toml",
        "name = \"steady\"\n[[steps]]\nrun = \"true\"\n",
    );
    s.write(
        "h/wobbly.toml",
        &format!(
            "name = \"wobbly\"\n[[steps]]\nrun = \"test ! -e '{}'\"\n",
            flag.display()
        ),
    );
    for (tag, broken) in [("run1", false), ("run2", true), ("run3", false)] {
        if broken {
            std::fs::write(&flag, "").expect("flag");
        } else {
            let _ = std::fs::remove_file(&flag);
        }
        let o = netrig(&["run", "h", "--results", "res", "--tag", tag], &s.0);
        assert_eq!(
            o.status.code(),
            Some(if broken { 1 } else { 0 }),
            "{}",
            text(&o)
        );
    }
    let o = netrig(&["report", "html", "res"], &s.0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let page = s.path("res/history.html");
    let html = std::fs::read_to_string(&page).expect("history.html");
    let wobbly = html.find("data-name=\"wobbly\"").expect("wobbly row");
    let steady = html.find("data-name=\"steady\"").expect("steady row");
    assert!(wobbly < steady, "the case that changed comes first");
    let row = &html[wobbly..steady];
    assert!(row.contains("class=\"changed\""), "{row}");
    assert!(
        row.contains("<td class=\"num\">2</td>"),
        "two changes: {row}"
    );
    for want in ["run1: pass", "run2: fail", "run3: pass"] {
        assert!(row.contains(want), "{want} missing: {row}");
    }
    let rest = &html[steady..];
    assert!(rest.contains("<td class=\"num\">0</td>"), "{rest}");
    links_resolve(&page);
    if let Some(xmllint) = tool("xmllint", "libxml2-utils") {
        xml_wellformed(&xmllint, &page);
    }
}
