//! Verdicts and timelines drawn as inline SVG, from the verdict JSON that
//! netrig-judge serializes (`details.kind` = split, ratio, streams,
//! affinity). A verdict whose numbers are missing gets no drawing rather
//! than a wrong one.

use crate::graph::esc;
use crate::result::{ProcRecord, SubResult};
use serde_json::Value;
use std::fmt::Write;

const W: f64 = 860.0;
const LABEL_W: f64 = 120.0;
const TRACK_W: f64 = 300.0;

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn svg_open(h: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{W:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {W:.0} {h:.0}\" font-size=\"12\"><title>{}</title>",
        esc(title)
    )
}

/// A split verdict: per path, the observed share (dot) against the
/// expected share (tick) and the acceptance interval (band).
pub fn split(d: &Value) -> Option<String> {
    let n = d["flows"].as_u64()?;
    let paths = d["paths"].as_array()?;
    if paths.is_empty() {
        return None;
    }
    struct P {
        label: String,
        flows: u64,
        exp: f64,
        obs: f64,
        lo: f64,
        hi: f64,
        rejected: bool,
    }
    let nf = n.max(1) as f64;
    let ps: Vec<P> = paths
        .iter()
        .map(|p| {
            Some(P {
                label: p["label"].as_str().unwrap_or("?").to_string(),
                flows: p["flows"].as_u64()?,
                exp: p["expected_share"].as_f64()?,
                obs: p["observed_share"].as_f64()?,
                lo: p["accept_lo"].as_u64()? as f64 / nf,
                hi: p["accept_hi"].as_u64()? as f64 / nf,
                rejected: p["rejected"].as_bool().unwrap_or(false),
            })
        })
        .collect::<Option<_>>()?;
    // Shares up to a bit beyond the largest thing drawn.
    let top = ps
        .iter()
        .map(|p| p.obs.max(p.hi).max(p.exp))
        .fold(0.0, f64::max);
    // Round ticks: the scale is a whole number (at most 5) of round steps.
    let want = (top * 1.1).clamp(0.01, 1.0);
    let step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25]
        .into_iter()
        .find(|st| want / st <= 5.0)
        .unwrap_or(0.25);
    let ticks = (want / step).ceil().max(1.0) as usize;
    let scale = (step * ticks as f64).min(1.0);
    let x = |v: f64| LABEL_W + (v / scale).clamp(0.0, 1.0) * TRACK_W;
    let row = 30.0;
    let h = 26.0 + row * ps.len() as f64;
    let mut s = svg_open(
        h,
        "split: observed share per path against the expected share and its acceptance interval",
    );
    // Axis ticks.
    for k in 0..=ticks {
        let v = (step * k as f64).min(scale);
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"4\" y2=\"{1:.1}\" stroke=\"#e3e7eb\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\" fill=\"#888\" font-size=\"10\">{3}</text>",
            x(v),
            h - 16.0,
            h - 4.0,
            pct(v)
        );
    }
    for (i, p) in ps.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let mid = y + 9.0;
        let color = if p.rejected { "#c62828" } else { "#2e7d32" };
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LABEL_W - 8.0,
            mid + 4.0,
            esc(&p.label)
        );
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{TRACK_W:.1}\" height=\"4\" fill=\"#eceff1\"/>",
            LABEL_W,
            mid - 2.0
        );
        if n > 0 {
            let _ = write!(
                s,
                "<rect class=\"accept\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"18\" fill=\"#c8e6c9\" opacity=\"0.8\"><title>accepted: {} to {}</title></rect>",
                x(p.lo),
                y,
                (x(p.hi) - x(p.lo)).max(1.5),
                pct(p.lo),
                pct(p.hi)
            );
        }
        let _ = write!(
            s,
            "<line class=\"expected\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"#1d2329\" stroke-width=\"2\"><title>expected {3}</title></line>",
            x(p.exp),
            y - 2.0,
            y + 20.0,
            pct(p.exp)
        );
        let _ = write!(
            s,
            "<circle class=\"observed\" cx=\"{:.1}\" cy=\"{mid:.1}\" r=\"5.5\" fill=\"{color}\" stroke=\"#fff\" stroke-width=\"1.5\"><title>observed {} ({} flows)</title></circle>",
            x(p.obs),
            pct(p.obs),
            p.flows
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{} flows = {} <tspan fill=\"#555\">expected {}, accepts {}\u{2013}{}</tspan></text>",
            LABEL_W + TRACK_W + 12.0,
            mid + 4.0,
            p.flows,
            pct(p.obs),
            pct(p.exp),
            pct(p.lo),
            pct(p.hi)
        );
    }
    s.push_str("</svg>");
    Some(s)
}

/// A ratio verdict: the value on a line, the accepted range shaded.
pub fn ratio(d: &Value) -> Option<String> {
    let min = d["bounds"]["min"].as_f64();
    let max = d["bounds"]["max"].as_f64();
    let value = d["ratio"].as_f64();
    let top = [min, max, value]
        .iter()
        .flatten()
        .fold(0.0_f64, |a, b| a.max(b.abs()));
    let hi_end = if top > 0.0 { top * 1.3 } else { 1.0 };
    let lo_end = [min, value]
        .iter()
        .flatten()
        .fold(0.0_f64, |a, &b| a.min(b));
    let lo_end = if lo_end < 0.0 { lo_end * 1.3 } else { 0.0 };
    let x = |v: f64| LABEL_W + ((v - lo_end) / (hi_end - lo_end)).clamp(0.0, 1.0) * TRACK_W;
    let h = 46.0;
    let mut s = svg_open(h, "ratio: the value against its bounds");
    let label = format!(
        "{} / {}",
        d["numerator_label"].as_str().unwrap_or("numerator"),
        d["denominator_label"].as_str().unwrap_or("denominator")
    );
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"22\" text-anchor=\"end\">ratio</text><rect x=\"{LABEL_W:.1}\" y=\"16\" width=\"{TRACK_W:.1}\" height=\"4\" fill=\"#eceff1\"/>",
        LABEL_W - 8.0
    );
    let (a, b) = (min.unwrap_or(lo_end), max.unwrap_or(hi_end));
    let _ = write!(
        s,
        "<rect class=\"accept\" x=\"{:.1}\" y=\"9\" width=\"{:.1}\" height=\"18\" fill=\"#c8e6c9\" opacity=\"0.8\"><title>accepted: {}</title></rect>",
        x(a),
        (x(b) - x(a)).max(1.5),
        esc(&match (min, max) {
            (Some(a), Some(b)) => format!("{a} to {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, Some(b)) => format!("at most {b}"),
            (None, None) => "anything".into(),
        })
    );
    for (v, name) in [(min, "min"), (max, "max")] {
        if let Some(v) = v {
            let _ = write!(
                s,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"6\" y2=\"30\" stroke=\"#1d2329\" stroke-width=\"1.5\"/><text x=\"{0:.1}\" y=\"42\" text-anchor=\"middle\" fill=\"#555\" font-size=\"10\">{name} {v}</text>",
                x(v)
            );
        }
    }
    let num = d["numerator"].as_u64().unwrap_or(0);
    let den = d["denominator"].as_u64().unwrap_or(0);
    match value {
        Some(v) => {
            let inside = min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m);
            let color = if inside { "#2e7d32" } else { "#c62828" };
            let _ = write!(
                s,
                "<circle class=\"observed\" cx=\"{:.1}\" cy=\"18\" r=\"5.5\" fill=\"{color}\" stroke=\"#fff\" stroke-width=\"1.5\"/><text x=\"{:.1}\" y=\"22\" fill=\"{color}\">{v:.3} = {num} / {den} <tspan fill=\"#555\">({})</tspan></text>",
                x(v),
                LABEL_W + TRACK_W + 12.0,
                esc(&label)
            );
        }
        None => {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"22\" fill=\"#e65100\">no value: {num} / {den} ({})</text>",
                LABEL_W + TRACK_W + 12.0,
                esc(&label)
            );
        }
    }
    s.push_str("</svg>");
    Some(s)
}

/// Stream accounting as counts: sent and received, then what went wrong,
/// each bar against the packets sent.
pub fn streams(d: &Value) -> Option<String> {
    let sent = d["sent"].as_u64()?;
    let rows: Vec<(&str, u64, Option<u64>)> = vec![
        ("sent", sent, None),
        ("received", d["received"].as_u64()?, None),
        ("lost", d["lost"].as_u64()?, d["limits"]["lost"].as_u64()),
        (
            "duplicated",
            d["duplicated"].as_u64()?,
            d["limits"]["duplicated"].as_u64(),
        ),
        (
            "reordered",
            d["reordered"].as_u64()?,
            d["limits"]["reordered"].as_u64(),
        ),
        (
            "misrouted",
            d["misrouted"].as_u64().unwrap_or(0),
            d["limits"]["misrouted"].as_u64(),
        ),
        (
            "unknown",
            d["unknown"].as_u64().unwrap_or(0),
            d["limits"]["unknown"].as_u64(),
        ),
    ];
    let row = 20.0;
    let h = 8.0 + row * rows.len() as f64;
    let mut s = svg_open(
        h,
        "streams: packets sent, received, lost, duplicated and reordered",
    );
    let full = sent.max(1) as f64;
    for (i, (name, v, limit)) in rows.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        // u64::MAX is how the judge writes "not checked".
        let limit = limit.filter(|l| *l != u64::MAX);
        let unchecked = i >= 2 && limit.is_none();
        let bad = i >= 2 && !unchecked && *v > limit.unwrap_or(0);
        let color = match (i, bad) {
            (0 | 1, _) => "#78909c",
            (_, true) => "#c62828",
            _ => "#2e7d32",
        };
        let w = if *v == 0 {
            0.0
        } else {
            (*v as f64 / full * TRACK_W).clamp(2.0, TRACK_W)
        };
        let lim = match limit {
            Some(l) => format!(" (at most {l})"),
            None if unchecked => " (not checked)".into(),
            None => String::new(),
        };
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text><rect x=\"{LABEL_W:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"12\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\">{v}{}</text>",
            LABEL_W - 8.0,
            y + 11.0,
            y + 1.0,
            LABEL_W + w + 8.0,
            y + 11.0,
            if bad { "#c62828" } else { "#1d2329" },
            esc(&lim)
        );
    }
    s.push_str("</svg>");
    Some(s)
}

/// Affinity as counts, with the first offending flows.
pub fn affinity(d: &Value) -> Option<String> {
    let flows = d["flows"].as_u64()?;
    let mut s = format!(
        "<div class=\"mono\">{flows} flows, {} observations over {} paths: {} split, {} reached none</div>",
        d["observations"].as_u64().unwrap_or(0),
        d["paths"].as_u64().unwrap_or(0),
        d["split_flows"].as_u64().unwrap_or(0),
        d["empty_flows"].as_u64().unwrap_or(0)
    );
    if let Some(off) = d["offenders"].as_array().filter(|o| !o.is_empty()) {
        s.push_str("<ul class=\"mono\">");
        for o in off {
            let paths: Vec<String> = o["paths"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            format!(
                                "{}\u{00d7}{}",
                                p["path"].as_str().unwrap_or("?"),
                                p["hits"].as_u64().unwrap_or(0)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(
                s,
                "<li>flow {}: {}</li>",
                esc(o["flow"].as_str().unwrap_or("?")),
                esc(&paths.join(", "))
            );
        }
        s.push_str("</ul>");
    }
    Some(s)
}

/// The case's steps and processes on one time axis, from the start of the
/// case process. Steps recorded without a start (older reports) are laid
/// end to end after the last known one.
pub fn timeline(steps: &[SubResult], procs: &[ProcRecord], total: f64) -> String {
    struct Bar<'a> {
        label: String,
        title: &'a str,
        class: String,
        from: f64,
        len: f64,
        proc: bool,
    }
    let mut bars: Vec<Bar> = Vec::new();
    let mut at = 0.0_f64;
    for t in steps {
        let d = t.duration_s.max(0.0);
        let from = t.started_s.unwrap_or(at).max(0.0);
        at = from + d;
        bars.push(Bar {
            label: format!("{}. {}", t.index, t.name),
            title: &t.name,
            class: format!("s-{}", t.state),
            from,
            len: d,
            proc: false,
        });
    }
    for p in procs {
        let Some(from) = p.started_s else { continue };
        let to = p.ended_s.unwrap_or(total).max(from);
        bars.push(Bar {
            label: format!("\u{25b8} {}", p.name),
            title: &p.cmd,
            class: if p.exit.is_some_and(|e| e != 0) || (p.signal.is_some() && !p.killed_at_end) {
                "s-fail".into()
            } else {
                "s-skip".into()
            },
            from,
            len: to - from,
            proc: true,
        });
    }
    let end = bars.iter().map(|b| b.from + b.len).fold(total, f64::max);
    let span = end.max(1e-3);
    let row = 18.0;
    let label_w = 260.0;
    let track = W - label_w - 90.0;
    let h = 10.0 + row * bars.len() as f64 + 14.0;
    let mut s = svg_open(h, "timeline of the steps and processes");
    for (i, b) in bars.iter().enumerate() {
        let y = 6.0 + row * i as f64;
        let x0 = label_w + b.from / span * track;
        let w = (b.len / span * track).max(1.5);
        let mut name = b.label.clone();
        if name.chars().count() > 34 {
            name = name.chars().take(33).collect::<String>() + "\u{2026}";
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"{}>{}</text><rect class=\"{}{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{}\" rx=\"2\" style=\"fill:var(--c)\"><title>{} ({} from {})</title></rect><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\" font-size=\"10\">{}</text>",
            label_w - 8.0,
            y + 10.0,
            if b.proc { " fill=\"#555\"" } else { "" },
            esc(&name),
            b.class,
            if b.proc { " proc" } else { "" },
            if b.proc { y + 3.0 } else { y },
            if b.proc { 6 } else { 12 },
            esc(b.title),
            super::secs(b.len),
            super::secs(b.from),
            x0 + w + 5.0,
            y + 10.0,
            super::secs(b.len)
        );
    }
    let y = 6.0 + row * bars.len() as f64;
    let _ = write!(
        s,
        "<line x1=\"{label_w:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#999\"/><text x=\"{label_w:.1}\" y=\"{:.1}\" fill=\"#888\" font-size=\"10\">0</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#888\" font-size=\"10\" text-anchor=\"end\">{}</text>",
        label_w + track,
        y + 12.0,
        label_w + track,
        y + 12.0,
        super::secs(span)
    );
    s.push_str("</svg>");
    s
}
