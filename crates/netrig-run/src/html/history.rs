//! Flakiness over time: the runs kept in a results folder side by side.
//! Per case, its state in each run and its duration trend; the cases that
//! change state most often come first.

use super::{badge, esc, head, secs, tail, STATES};
use crate::result::{RunReport, State};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A run as the history shows it: its report and where its own page is.
pub struct Run {
    pub report: RunReport,
    /// Link to the run's `report.html`, relative to the history page.
    pub href: Option<String>,
}

/// How bad a state is, for summing up repeats of a case in one run.
fn gravity(s: State) -> u8 {
    match s {
        State::Skip => 0,
        State::Pass => 1,
        State::Xfail => 2,
        State::Fail => 3,
        State::Broken => 4,
        State::Timeout => 5,
    }
}

/// One case in one run: its gravest state over repeats, mean duration.
#[derive(Clone, Copy)]
struct Point {
    state: State,
    duration: f64,
    flaky: bool,
}

/// Per case, a point per run (None where the run did not have it).
struct Row {
    name: String,
    points: Vec<Option<Point>>,
    changes: usize,
    bad: usize,
}

fn rows(runs: &[Run]) -> Vec<Row> {
    let mut m: BTreeMap<&str, Vec<Option<Point>>> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let mut per: BTreeMap<&str, (Point, usize)> = BTreeMap::new();
        for c in &run.report.cases {
            let e = per.entry(&c.name).or_insert((
                Point {
                    state: c.state,
                    duration: 0.0,
                    flaky: false,
                },
                0,
            ));
            if gravity(c.state) > gravity(e.0.state) {
                e.0.state = c.state;
            }
            e.0.duration += c.duration_s;
            e.0.flaky |= c.flaky;
            e.1 += 1;
        }
        for (name, (mut p, n)) in per {
            p.duration /= n as f64;
            m.entry(name).or_insert_with(|| vec![None; runs.len()])[i] = Some(p);
        }
    }
    let mut out: Vec<Row> = m
        .into_iter()
        .map(|(name, points)| {
            let seen: Vec<&Point> = points.iter().flatten().collect();
            let changes = seen.windows(2).filter(|w| w[0].state != w[1].state).count()
                + seen.iter().filter(|p| p.flaky).count();
            let bad = seen.iter().filter(|p| !p.state.ok()).count();
            Row {
                name: name.to_string(),
                points,
                changes,
                bad,
            }
        })
        .collect();
    out.sort_by(|a, b| (b.changes, b.bad, &a.name).cmp(&(a.changes, a.bad, &b.name)));
    out
}

fn sparkline(points: &[Option<Point>]) -> String {
    let (w, h) = (160.0, 26.0);
    let max = points
        .iter()
        .flatten()
        .map(|p| p.duration)
        .fold(0.0, f64::max)
        .max(1e-3);
    let n = points.len().max(2) - 1;
    let xy: Vec<(f64, f64, &Point)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.as_ref().map(|p| {
                (
                    3.0 + (w - 6.0) * i as f64 / n as f64,
                    h - 3.0 - (h - 6.0) * p.duration / max,
                    p,
                )
            })
        })
        .collect();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"spark\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\"><title>duration per run, up to {}</title>",
        secs(max)
    );
    let pts: Vec<String> = xy
        .iter()
        .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
        .collect();
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#607d8b\" stroke-width=\"1.5\"/>",
        pts.join(" ")
    );
    for (x, y, p) in &xy {
        let _ = write!(
            s,
            "<circle class=\"s-{}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" style=\"fill:var(--c)\"/>",
            p.state
        );
    }
    s.push_str("</svg>");
    s
}

/// The history page of `runs`, oldest first.
pub fn page(runs: &[Run]) -> String {
    let mut s = head("netrig history");
    let _ = writeln!(
        s,
        "<h1>netrig history</h1>\n<p class=\"meta\"><span>{} runs, oldest first</span><span>cases that change state most often come first</span></p>",
        runs.len()
    );
    s.push_str("<h2>Runs</h2>\n<table class=\"runs\"><thead><tr><th class=\"num\">#</th><th>run</th><th class=\"num\">cases</th>");
    for x in STATES {
        let _ = write!(s, "<th class=\"num\">{x}</th>");
    }
    s.push_str("<th class=\"num\">duration</th><th>mode</th><th>kernel</th></tr></thead><tbody>\n");
    for (i, run) in runs.iter().enumerate() {
        let r = &run.report;
        let tag = match &run.href {
            Some(h) => format!("<a href=\"{}\">{}</a>", esc(h), esc(&r.tag)),
            None => esc(&r.tag),
        };
        let _ = write!(
            s,
            "<tr><td class=\"num\">{}</td><td>{tag}</td><td class=\"num\">{}</td>",
            i + 1,
            r.cases.len()
        );
        for x in STATES {
            let _ = write!(
                s,
                "<td class=\"num\">{}</td>",
                r.cases.iter().filter(|c| c.state == x).count()
            );
        }
        let _ = writeln!(
            s,
            "<td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            secs(r.duration_s),
            esc(&r.mode),
            esc(&r.kernel)
        );
    }
    s.push_str("</tbody></table>\n");

    let rows = rows(runs);
    let last = |r: &Row| r.points.iter().flatten().last().map(|p| p.state);
    s.push_str("<div id=\"filter\"><span>last state:</span>");
    for x in STATES {
        let n = rows.iter().filter(|r| last(r) == Some(x)).count();
        let _ = write!(
            s,
            "<label class=\"s-{x}\"><input type=\"checkbox\" value=\"{x}\" checked=\"checked\"/> {x} ({n})</label>"
        );
    }
    s.push_str("<label><input type=\"checkbox\" value=\"flaky\"/> only cases that changed</label><input id=\"namefilter\" type=\"search\" placeholder=\"filter by name\"/></div>\n");
    s.push_str("<h2>Cases</h2>\n<table class=\"hist\"><thead><tr><th>case</th><th class=\"num\">changes</th><th>state per run</th><th>last</th><th>duration trend</th><th class=\"num\">last duration</th></tr></thead><tbody>\n");
    for r in &rows {
        let lst = last(r).unwrap_or(State::Skip);
        let _ = write!(
            s,
            "<tr data-state=\"{lst}\" data-flaky=\"{}\" data-name=\"{}\"{}><td>{}</td><td class=\"num\">{}</td><td class=\"cells\">",
            u8::from(r.changes > 0),
            esc(&r.name),
            if r.changes > 0 { " class=\"changed\"" } else { "" },
            esc(&r.name),
            r.changes
        );
        for (i, p) in r.points.iter().enumerate() {
            let tag = runs.get(i).map(|x| x.report.tag.as_str()).unwrap_or("");
            match p {
                Some(p) => {
                    let _ = write!(
                        s,
                        "<span class=\"cell s-{}\" title=\"{}: {}{}, {}\"></span>",
                        p.state,
                        esc(tag),
                        p.state,
                        if p.flaky { " (flaky)" } else { "" },
                        secs(p.duration)
                    );
                }
                None => {
                    let _ = write!(
                        s,
                        "<span class=\"cell none\" title=\"{}: not run\"></span>",
                        esc(tag)
                    );
                }
            }
        }
        let last_d = r
            .points
            .iter()
            .flatten()
            .last()
            .map(|p| secs(p.duration))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "</td><td>{}</td><td>{}</td><td class=\"num\">{last_d}</td></tr>",
            badge(lst),
            sparkline(&r.points)
        );
    }
    s.push_str("</tbody></table>\n");
    s.push_str(&tail());
    s
}

/// Errors reading a results folder for the history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} holds no run folder with a report.json")]
    Empty(String),
}

/// The run folders of a results folder that hold a `report.json`, oldest
/// first (tags sort by time), the last `keep` of them; `latest` (a link to
/// one of them) is left out. Unreadable reports are returned as warnings.
pub fn load_runs(
    results: &Path,
    keep: usize,
    out_dir: &Path,
) -> Result<(Vec<Run>, Vec<String>), HistoryError> {
    let rd = std::fs::read_dir(results).map_err(|source| HistoryError::Read {
        path: results.display().to_string(),
        source,
    })?;
    let mut dirs: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.join("report.json").is_file())
        .collect();
    dirs.sort();
    let skip = dirs.len().saturating_sub(keep.max(1));
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    for d in &dirs[skip..] {
        let file = d.join("report.json");
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<RunReport>(&t).map_err(|e| e.to_string()))
            .and_then(|r| r.check_schema().map(|()| r).map_err(|e| e.to_string()));
        match parsed {
            Ok(report) => {
                let html = d.join("report.html");
                runs.push(Run {
                    report,
                    href: html.is_file().then(|| super::relative_href(out_dir, &html)),
                });
            }
            Err(e) => warnings.push(format!("{}: {e}", file.display())),
        }
    }
    if runs.is_empty() {
        return Err(HistoryError::Empty(results.display().to_string()));
    }
    Ok((runs, warnings))
}
