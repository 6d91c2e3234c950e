//! The HTML report: one self-contained page per run (`report.html` in the
//! run's folder, or `netrig report html REPORT.json`), and a history page
//! across the runs of a results folder (`netrig report html RESULTS_DIR`).
//!
//! Rendering is pure: [`page`] and [`history::page`] take reports and
//! [`Extras`] (what only the files on disk know: topologies, log tails, the
//! case folders' files) and return a string. [`gather`] does the reading.
//!
//! The page is polyglot XHTML: well-formed XML that browsers read as HTML,
//! so `xmllint --noout` checks it strictly. It needs no network: styles,
//! the small filter script and every drawing (inline SVG) are in the file;
//! links to logs and captures are relative to where the page is written.

mod charts;
pub mod history;

use crate::graph::{self, esc};
use crate::result::{CaseResult, RunReport, State, SubResult};
use netrig_spec::Topology;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// What a case's folder and sources add to its result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseExtras {
    /// Index into [`Extras::topologies`].
    pub topology: Option<usize>,
    /// Why there is no drawing (no lab, or its file could not be read).
    pub topology_note: String,
    /// Files of the case folder (captures, logs): link text and relative href.
    pub files: Vec<(String, String)>,
    /// Last lines of each process's log, parallel to `processes`.
    pub log_tails: Vec<String>,
    /// Relative href of each process's log, parallel to `processes`.
    pub log_links: Vec<Option<String>>,
}

/// Everything beyond the report that the page shows.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Distinct topologies (cases of one scenario file share theirs).
    pub topologies: Vec<Topology>,
    /// Parallel to `report.cases`; missing entries mean nothing extra.
    pub cases: Vec<CaseExtras>,
}

/// Lines of a process log the page shows.
const TAIL_LINES: usize = 40;
/// Bytes read from the end of a log to find them.
const TAIL_BYTES: u64 = 16 * 1024;
/// Files listed per case folder.
const MAX_FILES: usize = 60;

fn tail_of(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let from = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    // A cut line at the start of the window is dropped.
    let text = if from > 0 {
        text.split_once('\n').map(|x| x.1).unwrap_or("")
    } else {
        &text
    };
    Some(crate::procs::tail(text, TAIL_LINES))
}

fn absolute(p: &Path) -> PathBuf {
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    // Lexically normalized: `..` of a folder that does not exist yet (the
    // output's) cannot be canonicalized.
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// `to` relative to the folder `from`, as a URL path (`/` separated, each
/// segment percent-encoded where a browser would misread it).
pub fn relative_href(from: &Path, to: &Path) -> String {
    let (from, to) = (absolute(from), absolute(to));
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| url_segment(&c.as_os_str().to_string_lossy())),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn url_segment(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~=,+@".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

#[derive(serde::Deserialize)]
struct SpecDef {
    def: crate::discover::CaseDef,
}

/// The topology a case used: from its folder's `case.json` (what the runner
/// handed the case process), else from its source file.
fn topology_of(c: &CaseResult) -> Result<Option<Topology>, String> {
    use crate::discover::CaseSource;
    let spec = c
        .dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(Path::new(d).join(crate::case::SPEC_FILE)).ok())
        .and_then(|t| serde_json::from_str::<SpecDef>(&t).ok());
    let err = |e: netrig_spec::LoadError| e.to_string();
    match spec.map(|s| s.def.source) {
        Some(CaseSource::Scenario { file, case }) => {
            netrig_spec::scenario::load_scenario_case(&file, &case)
                .map(|s| s.topology)
                .map_err(err)
        }
        Some(CaseSource::Exec { topology, .. }) => match topology {
            Some(t) => netrig_spec::load_topology(&t).map(Some).map_err(err),
            None => Ok(None),
        },
        Some(CaseSource::Rust { topology, .. }) => match topology {
            Some(t) => netrig_spec::parse_topology(&c.name, &t)
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Ok(None),
        },
        // A skipped case has no folder: its source tells.
        None if c.source.ends_with(".toml") => {
            netrig_spec::scenario::load_scenario_case(Path::new(&c.source), &c.name)
                .map(|s| s.topology)
                .map_err(err)
        }
        None => Err("its case folder is gone".into()),
    }
}

fn files_of(dir: &Path, out_dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => found.push(p),
                _ => {}
            }
        }
    }
    found.sort();
    found.truncate(MAX_FILES);
    found
        .into_iter()
        .map(|p| {
            let label = p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            (label, relative_href(out_dir, &p))
        })
        .collect()
}

/// Read what the page shows beyond the report: each case's topology, its
/// folder's files and its processes' log tails. `out_dir` is where the page
/// will be written (links are relative to it). Nothing here fails: what
/// cannot be read is noted on the page instead.
pub fn gather(report: &RunReport, out_dir: &Path) -> Extras {
    let mut ex = Extras::default();
    let mut drawn: BTreeMap<String, usize> = BTreeMap::new();
    for c in &report.cases {
        let mut ce = CaseExtras::default();
        match topology_of(c) {
            Ok(Some(t)) => {
                // Identical drawings are kept once.
                let key = graph::svg(&t);
                let next = ex.topologies.len();
                let i = *drawn.entry(key).or_insert(next);
                if i == next {
                    ex.topologies.push(t);
                }
                ce.topology = Some(i);
            }
            Ok(None) => ce.topology_note = "no lab: the case ran in a namespace of its own".into(),
            Err(e) => ce.topology_note = format!("topology not drawn: {e}"),
        }
        if let Some(d) = &c.dir {
            let dir = Path::new(d);
            ce.files = files_of(dir, out_dir);
            for p in &c.processes {
                let log = dir.join(&p.log);
                ce.log_tails.push(tail_of(&log).unwrap_or_default());
                ce.log_links
                    .push(log.is_file().then(|| relative_href(out_dir, &log)));
            }
        }
        ex.cases.push(ce);
    }
    ex
}

/// Render and write `report.html` into a run's folder (what `netrig run`
/// does after every run).
pub fn write_for_run(report: &RunReport, run_dir: &Path) -> std::io::Result<()> {
    let ex = gather(report, run_dir);
    // As every results file: a fresh file renamed into place, so a link
    // planted at the name is replaced, never written through.
    netrig_lab::safefs::write_file(
        &run_dir.join("report.html"),
        page(report, &ex).as_bytes(),
        0o644,
    )
    .map_err(std::io::Error::other)
}

pub(crate) const STATES: [State; 6] = [
    State::Fail,
    State::Broken,
    State::Timeout,
    State::Xfail,
    State::Skip,
    State::Pass,
];

pub(crate) const CSS: &str = r#"
:root{--pass:#2e7d32;--fail:#c62828;--broken:#e65100;--timeout:#8e24aa;--skip:#78909c;--xfail:#5c6bc0;--line:#d9dee3;--bg:#f7f8fa;--ink:#1d2329}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg);margin:0;padding:18px 26px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px}h3{font-size:14px;margin:14px 0 6px}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12.5px}
pre{background:#fff;border:1px solid var(--line);border-radius:4px;padding:8px 10px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-all;margin:4px 0}
a{color:#1565c0}
.meta{color:#555;margin:2px 0 12px}.meta span{margin-right:16px}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}
.tile{background:#fff;border:1px solid var(--line);border-left:6px solid var(--c,#999);border-radius:5px;padding:6px 14px;min-width:92px}
.tile b{display:block;font-size:22px}.tile small{color:#555;text-transform:uppercase;letter-spacing:.04em}
.badge{display:inline-block;min-width:64px;text-align:center;color:#fff;background:var(--c,#999);border-radius:3px;padding:0 6px;font-size:12px;font-weight:600;text-transform:uppercase}
.s-pass{--c:var(--pass)}.s-fail{--c:var(--fail)}.s-broken{--c:var(--broken)}.s-timeout{--c:var(--timeout)}.s-skip{--c:var(--skip)}.s-xfail{--c:var(--xfail)}
.flaky{display:inline-block;border:1px solid #b26a00;color:#b26a00;border-radius:3px;padding:0 5px;font-size:11.5px;font-weight:600;margin-left:6px}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line)}
th,td{text-align:left;padding:4px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
#filter{display:none;gap:6px;flex-wrap:wrap;align-items:center;margin:10px 0}
html[data-js] #filter{display:flex}
#filter label{background:#fff;border:1px solid var(--line);border-radius:14px;padding:2px 10px;cursor:pointer}
#filter input[type=search]{padding:3px 8px;border:1px solid var(--line);border-radius:4px;min-width:220px}
section.case{background:#fff;border:1px solid var(--line);border-left:5px solid var(--c);border-radius:5px;margin:10px 0}
section.case>details>summary{padding:8px 12px;cursor:pointer;list-style-position:inside}
section.case .name{font-weight:600;margin-left:6px}
section.case .dur{color:#555;margin-left:10px}
section.case .src{color:#777;float:right;font-size:12px;margin-top:2px}
section.case .body{padding:0 14px 12px}
.steps td.msg{max-width:760px}
.steps tr.bad>td{background:#fff4f4}
.chip{display:inline-block;background:var(--fail);color:#fff;border-radius:3px;padding:0 5px;font-size:11.5px;margin-right:4px}
.verdict{border:1px solid var(--line);border-left:4px solid var(--c);border-radius:4px;padding:6px 10px;margin:6px 0;background:#fcfcfd}
.verdict.failed-check{border-color:var(--fail);border-width:2px 2px 2px 6px;background:#fff6f6}
.verdict .why{white-space:pre-wrap}
.verdict .bound{color:#666;font-size:12px}
svg text{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace}
.topo{overflow:auto;background:#fff;border:1px solid var(--line);border-radius:4px;padding:4px;margin:6px 0}
.note{color:#666;font-style:italic}
.hist td.cells{white-space:nowrap}
.cell{display:inline-block;width:14px;height:14px;margin-right:2px;border-radius:2px;background:var(--c)}
.cell.none{background:#eceff1}
footer{margin-top:30px;color:#777;font-size:12px}
"#;

/// The filter script. Wrapped in CDATA so the page stays well-formed XML;
/// it avoids `<` and `&` all the same.
pub(crate) const JS: &str = r#"
//<![CDATA[
(function () {
  var root = document.documentElement;
  var boxes = Array.prototype.slice.call(document.querySelectorAll('#filter input[type=checkbox]'));
  var text = document.getElementById('namefilter');
  function apply() {
    var on = {};
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    var q = text ? text.value.toLowerCase() : '';
    var onlyFlaky = on.flaky === true;
    document.querySelectorAll('[data-state]').forEach(function (e) {
      var show = on[e.getAttribute('data-state')] === true;
      if (onlyFlaky) { show = show ? e.getAttribute('data-flaky') === '1' : false; }
      if (q) { show = show ? (e.getAttribute('data-name') || '').toLowerCase().indexOf(q) !== -1 : false; }
      e.hidden = !show;
    });
  }
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  // A link to a case (#case-N) opens it.
  function reveal() {
    var t = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    var d = t ? t.querySelector('details') : null;
    if (d) { d.open = true; }
  }
  window.addEventListener('hashchange', reveal);
  reveal();
  if (text) { text.addEventListener('input', apply); }
  apply();
  root.setAttribute('data-js', 'ready');
})();
//]]>
"#;

pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<meta name=\"generator\" content=\"netrig {}\"/>\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

pub(crate) fn tail() -> String {
    format!("<script>{JS}</script>\n</body>\n</html>\n")
}

pub(crate) fn badge(s: State) -> String {
    format!("<span class=\"badge s-{s}\">{s}</span>")
}

pub(crate) fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.0} ms", s * 1e3)
    }
}

fn case_title(c: &CaseResult) -> String {
    if c.repeat > 1 {
        format!("{} (repeat {})", c.name, c.repeat)
    } else {
        c.name.clone()
    }
}

/// One page for one run (or a merge of partitions).
pub fn page(r: &RunReport, ex: &Extras) -> String {
    let st = r.stats();
    let mut s = head(&format!("netrig run {}", r.tag));
    let _ = writeln!(s, "<h1>netrig run <code>{}</code></h1>", esc(&r.tag));
    let mut meta = Vec::new();
    meta.push(format!("{} cases in {}", st.total, secs(r.duration_s)));
    if r.jobs > 0 {
        meta.push(format!("-j {}", r.jobs));
    }
    if !r.mode.is_empty() {
        meta.push(format!("{} mode", r.mode));
    }
    if !r.kernel.is_empty() {
        meta.push(format!("kernel {}", r.kernel));
    }
    if !r.version.is_empty() {
        meta.push(format!("netrig {}", r.version));
    }
    s.push_str("<p class=\"meta\">");
    for m in meta {
        let _ = write!(s, "<span>{}</span>", esc(&m));
    }
    s.push_str("</p>\n<div class=\"tiles\">");
    let count = |x: State| r.cases.iter().filter(|c| c.state == x).count();
    for x in STATES {
        let _ = write!(
            s,
            "<div class=\"tile s-{x}\"><b>{}</b><small>{x}</small></div>",
            count(x)
        );
    }
    let _ = writeln!(
        s,
        "<div class=\"tile\" style=\"--c:#b26a00\"><b>{}</b><small>flaky</small></div></div>",
        st.flaky
    );

    // Filters (shown only when the script runs).
    s.push_str("<div id=\"filter\"><span>show:</span>");
    for x in STATES {
        let _ = write!(
            s,
            "<label class=\"s-{x}\"><input type=\"checkbox\" value=\"{x}\" checked=\"checked\"/> {x} ({})</label>",
            count(x)
        );
    }
    s.push_str("<label><input type=\"checkbox\" value=\"flaky\"/> only flaky</label><input id=\"namefilter\" type=\"search\" placeholder=\"filter by name\"/></div>\n");

    s.push_str("<h2>Cases</h2>\n");
    let none = CaseExtras::default();
    // What needs a look first: failures, then the rest, by name.
    let rank = |x: State| STATES.iter().position(|y| *y == x).unwrap_or(0);
    let mut order: Vec<usize> = (0..r.cases.len()).collect();
    order.sort_by_key(|&i| {
        let c = &r.cases[i];
        (rank(c.state), !c.flaky, c.name.as_str(), c.repeat)
    });
    for i in order {
        let c = &r.cases[i];
        let ce = ex.cases.get(i).unwrap_or(&none);
        case_section(&mut s, i, c, ce, ex);
    }

    let _ = writeln!(
        s,
        "<footer>written by netrig {}; a single file: open it from disk, nothing is fetched.</footer>",
        env!("CARGO_PKG_VERSION")
    );
    s.push_str(&tail());
    s
}

fn flaky_mark(c: &CaseResult) -> String {
    if c.flaky {
        format!(
            "<span class=\"flaky\" title=\"failed at first, passed on attempt {}\">flaky</span>",
            c.attempt
        )
    } else if c.attempt > 1 {
        format!("<span class=\"flaky\">attempt {}</span>", c.attempt)
    } else {
        String::new()
    }
}

fn case_section(s: &mut String, i: usize, c: &CaseResult, ce: &CaseExtras, ex: &Extras) {
    let open = if c.state.ok() && !c.flaky {
        ""
    } else {
        " open=\"open\""
    };
    let _ = writeln!(
        s,
        "<section class=\"case s-{}\" id=\"case-{i}\" data-state=\"{}\" data-flaky=\"{}\" data-name=\"{}\"><details{open}><summary>{}<span class=\"name\">{}</span>{}<span class=\"dur\">{}</span><code class=\"src\">{}</code></summary>\n<div class=\"body\">",
        c.state,
        c.state,
        u8::from(c.flaky),
        esc(&c.name),
        badge(c.state),
        esc(&case_title(c)),
        flaky_mark(c),
        secs(c.duration_s),
        esc(&c.source)
    );
    if !c.reason.is_empty() {
        let _ = writeln!(s, "<pre class=\"reason\">{}</pre>", esc(&c.reason));
    }
    if !c.subtests.is_empty() {
        steps(s, c);
    }
    if !c.subtests.is_empty() || c.processes.iter().any(|p| p.started_s.is_some()) {
        let _ = writeln!(
            s,
            "<h3>Timeline</h3>{}",
            charts::timeline(&c.subtests, &c.processes, c.duration_s)
        );
    }
    if !c.processes.is_empty() {
        s.push_str("<h3>Processes</h3>\n<table><thead><tr><th>process</th><th>node</th><th>command</th><th>ended</th><th>log</th></tr></thead><tbody>\n");
        for (k, p) in c.processes.iter().enumerate() {
            let ended = match (p.exit, p.signal, p.killed_at_end) {
                (_, _, true) => "killed at the end".to_string(),
                (Some(e), _, _) => format!("exit {e}"),
                (None, Some(sig), _) => format!("signal {sig}"),
                (None, None, _) => "?".to_string(),
            };
            let mut log = match ce.log_links.get(k).and_then(|l| l.as_ref()) {
                Some(href) => format!("<a href=\"{}\">{}</a>", esc(href), esc(&p.log)),
                None => esc(&p.log),
            };
            if let Some(n) = p.output_cut {
                let _ = write!(log, " (cut: {n} bytes of output)");
            }
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{log}</td></tr>",
                esc(&p.name),
                esc(p.node.as_deref().unwrap_or("")),
                esc(&p.cmd),
                esc(&ended)
            );
            if let Some(t) = ce.log_tails.get(k).filter(|t| !t.trim().is_empty()) {
                let _ = writeln!(
                    s,
                    "<tr><td colspan=\"5\"><details><summary>last lines of {}</summary><pre>{}</pre></details></td></tr>",
                    esc(&p.log),
                    esc(t)
                );
            }
        }
        s.push_str("</tbody></table>\n");
    }
    if !c.output.is_empty() {
        let _ = writeln!(
            s,
            "<details open=\"open\"><summary>output</summary><pre>{}</pre></details>",
            esc(&c.output)
        );
    }
    if !c.warnings.is_empty() {
        s.push_str("<h3>Warnings</h3><ul>");
        for w in &c.warnings {
            let _ = write!(s, "<li>{}</li>", esc(w));
        }
        s.push_str("</ul>\n");
    }
    if !ce.files.is_empty() {
        s.push_str("<h3>Files</h3><ul class=\"mono\">");
        for (label, href) in &ce.files {
            let _ = write!(s, "<li><a href=\"{}\">{}</a></li>", esc(href), esc(label));
        }
        s.push_str("</ul>\n");
    } else if let Some(d) = &c.dir {
        let _ = writeln!(s, "<p>folder <code>{}</code></p>", esc(d));
    }
    match ce
        .topology
        .and_then(|t| ex.topologies.get(t).map(|x| (t, x)))
    {
        Some((t, topo)) => {
            let _ = writeln!(
                s,
                "<details open=\"open\" data-topology=\"{t}\"><summary>topology <code>{}</code></summary><div class=\"topo\">{}</div></details>",
                esc(&topo.name),
                graph::svg(topo)
            );
        }
        None if !ce.topology_note.is_empty() => {
            let _ = writeln!(s, "<p class=\"note\">{}</p>", esc(&ce.topology_note));
        }
        None => {}
    }
    s.push_str("</div></details></section>\n");
}

fn steps(s: &mut String, c: &CaseResult) {
    s.push_str("<h3>Steps</h3>\n<table class=\"steps\"><thead><tr><th class=\"num\">#</th><th>step</th><th>state</th><th class=\"num\">duration</th><th>result</th></tr></thead><tbody>\n");
    for t in &c.subtests {
        let bad = !t.state.ok();
        let _ = write!(
            s,
            "<tr{}><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"msg\">",
            if bad { " class=\"bad\"" } else { "" },
            t.index,
            esc(&t.name),
            badge(t.state),
            secs(t.duration_s)
        );
        for f in &t.failed_checks {
            let _ = write!(s, "<span class=\"chip\">failed: {}</span>", esc(f));
        }
        if !t.message.is_empty() {
            let _ = write!(s, "<pre>{}</pre>", esc(&t.message));
        }
        s.push_str("</td></tr>\n");
        // Verdicts get the table's whole width, for their drawings.
        if !t.verdicts.is_empty() {
            let _ = write!(
                s,
                "<tr class=\"verdicts{}\"><td></td><td colspan=\"4\">",
                if bad { " bad" } else { "" }
            );
            verdicts(s, t);
            s.push_str("</td></tr>\n");
        }
    }
    s.push_str("</tbody></table>\n");
}

fn verdicts(s: &mut String, t: &SubResult) {
    for v in &t.verdicts {
        let outcome = v["outcome"].as_str().unwrap_or("");
        let kind = v["details"]["kind"].as_str().unwrap_or("");
        let state = match outcome {
            "pass" => "pass",
            "fail" => "fail",
            "broken" => "broken",
            _ => "skip",
        };
        let failed_check = !kind.is_empty() && t.failed_checks.iter().any(|f| f == kind);
        let _ = write!(
            s,
            "<div class=\"verdict s-{state}{}\">",
            if failed_check { " failed-check" } else { "" }
        );
        let name = v["name"].as_str().unwrap_or("");
        let _ = write!(
            s,
            "<div><b>{}</b> <span class=\"mono\">{}</span> {}",
            esc(&outcome.to_uppercase()),
            esc(kind),
            esc(name)
        );
        if failed_check {
            s.push_str(" <span class=\"chip\">the failed check</span>");
        }
        if let Some(b) = v["false_fail_bound"].as_f64().filter(|b| *b > 0.0) {
            let _ = write!(
                s,
                " <span class=\"bound\">(fails a correct system with probability \u{2264} {b:.1e})</span>"
            );
        }
        s.push_str("</div>");
        if let Some(e) = v["explanation"].as_str() {
            let _ = write!(s, "<div class=\"why\">{}</div>", esc(e));
        }
        let d = &v["details"];
        let chart = match kind {
            "split" => charts::split(d),
            "ratio" => charts::ratio(d),
            "streams" => charts::streams(d),
            "affinity" => charts::affinity(d),
            _ => None,
        };
        match chart {
            Some(c) => s.push_str(&c),
            None if v.get("explanation").is_none() => {
                // Not a netrig-judge verdict: show it as it is.
                let _ = write!(s, "<pre>{}</pre>", esc(&v.to_string()));
            }
            None => {}
        }
        s.push_str("</div>\n");
    }
}

#[cfg(test)]
mod tests;
