//! `run`: a shell command in a node, waited for and judged by its exit
//! status and output (also `retry`'s judge).

use super::{Ctx, Exec};
use crate::procs::{tail, Proc};
use crate::result::State;
use crate::verdicts::{broken, fail, Problem, StepOut};
use netrig_spec::expect::{Check, Expect, JsonExpect};
use netrig_spec::scenario::Step;
use netrig_spec::steps::run::Run;

impl Exec for Run {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let mut p = start(cx, step, self.node.as_deref(), &self.cmd)?;
        let status = p.wait_timeout(step.timeout);
        p.finish();
        let judged = match status {
            None => Err(fail(format!(
                "`{}` still running after its step timeout {:?}; killed",
                self.cmd,
                step.timeout.unwrap_or_default()
            ))),
            Some(_) => judge_output(&self.cmd, &p, &step.expect),
        };
        cx.procs.push(p);
        judged.map(|()| (String::new(), vec![]))
    }
}

/// Start `sh -c cmd` for a step, its log named after the step
/// (`03-client_py.log` for a matrix client).
pub(super) fn start(
    cx: &mut Ctx,
    step: &Step,
    node: Option<&str>,
    cmd: &str,
) -> Result<Proc, Problem> {
    let slug: String = step
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = format!("{:02}-{slug}", step.index);
    cx.start(node, &name, "sh", &["-c", cmd])
        .map_err(broken)
}

/// Judge a finished command by `expect`: exit status (default 0), stdout
/// and stderr substrings, JSON fields. A failure names every check that
/// failed and shows the output's tail.
pub(super) fn judge_output(cmd: &str, p: &Proc, e: &Expect) -> Result<(), Problem> {
    let (out, err) = (p.stdout(), p.stderr());
    let want = e.exit.unwrap_or(0);
    let mut problems = Vec::new();
    // Lines about a core, after the problems.
    let mut core = String::new();
    match (p.rec.exit, p.rec.signal) {
        (Some(c), _) if c == want => {}
        (Some(c), _) => problems.push((Check::Exit, format!("exit status {c}, expected {want}"))),
        (None, Some(s)) => {
            let how = crate::coredump::describe(s, p.rec.core.as_ref());
            let (first, more) = how.split_once('\n').unwrap_or((&how, ""));
            core = more.to_string();
            problems.push((Check::Exit, first.to_string()));
        }
        _ => problems.push((Check::Exit, "no exit status".to_string())),
    }
    for s in &e.stdout {
        if !out.contains(s.as_str()) {
            problems.push((Check::Stdout, format!("stdout lacks `{s}`")));
        }
    }
    for s in &e.stdout_not {
        if out.contains(s.as_str()) {
            problems.push((Check::StdoutNot, format!("stdout contains `{s}`")));
        }
    }
    for s in &e.stderr {
        if !err.contains(s.as_str()) {
            problems.push((Check::Stderr, format!("stderr lacks `{s}`")));
        }
    }
    if let Some(checks) = &e.json {
        match serde_json::from_str::<serde_json::Value>(&out) {
            Err(why) => problems.push((Check::Json, format!("stdout is not JSON: {why}"))),
            Ok(doc) => problems.extend(
                checks
                    .iter()
                    .filter_map(|j| json_problem(&doc, j))
                    .map(|m| (Check::Json, m)),
            ),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = problems.iter().map(|(_, m)| m.as_str()).collect();
    let mut msg = format!("`{cmd}`: {}", shown.join("; "));
    if !core.is_empty() {
        msg.push_str(&format!("\n{core}"));
    }
    let t = tail(&err, 5);
    if !t.is_empty() {
        msg.push_str(&format!("\nstderr:\n{t}"));
    }
    let t = tail(&out, 5);
    if !t.is_empty() {
        msg.push_str(&format!("\nstdout:\n{t}"));
    }
    let mut checks: Vec<Check> = Vec::new();
    for (c, _) in problems {
        if !checks.contains(&c) {
            checks.push(c);
        }
    }
    Err(Problem(State::Fail, msg, checks, Vec::new()))
}

/// What is wrong with the value at `j.path` of `doc`, if anything.
fn json_problem(doc: &serde_json::Value, j: &JsonExpect) -> Option<String> {
    use serde_json::Value;
    let at = &j.path;
    let Some(v) = doc.pointer(at) else {
        return Some(format!("json {at}: no such path"));
    };
    if let Some(want) = &j.equals {
        let want = toml_to_json(want);
        return (v != &want).then(|| format!("json {at} is {v}, expected {want}"));
    }
    if let Some(n) = j.len {
        let len = match v {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::String(s) => s.chars().count(),
            other => return Some(format!("json {at} is {other}, which has no length")),
        };
        return (len as u64 != n).then(|| format!("json {at} has length {len}, expected {n}"));
    }
    if let Some(want) = &j.contains {
        let want = toml_to_json(want);
        let found = match (v, &want) {
            (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
            (Value::Array(a), w) => a.contains(w),
            (Value::Object(o), Value::String(k)) => o.contains_key(k),
            _ => false,
        };
        return (!found).then(|| format!("json {at} ({v}) does not contain {want}"));
    }
    let Some(x) = v.as_f64() else {
        return Some(format!("json {at} is {v}, not a number"));
    };
    match (j.min, j.max) {
        (Some(lo), _) if x < lo => Some(format!("json {at} is {x}, below {lo}")),
        (_, Some(hi)) if x > hi => Some(format!("json {at} is {x}, above {hi}")),
        _ => None,
    }
}

/// A TOML value as the JSON value it stands for (integers stay integers, so
/// `equals = 2` matches JSON `2`).
fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(doc: &str, toml_check: &str) -> Option<String> {
        let doc: serde_json::Value = serde_json::from_str(doc).expect("json");
        let j: JsonExpect = toml::from_str(toml_check).expect("toml");
        json_problem(&doc, &j)
    }

    #[test]
    fn json_checks_by_pointer() {
        let doc = r#"{"routes": {"198.18.0.0/24": [{"nexthops": [{"ip": "192.0.2.2"}, {"ip": "192.0.2.3"}]}]},
                      "peer": {"state": "Established", "uptime": 12}}"#;
        assert_eq!(check(doc, "path = \"/routes/198.18.0.0~124/0/nexthops\"\nlen = 2"), None);
        assert!(check(doc, "path = \"/routes/198.18.0.0~124/0/nexthops\"\nlen = 3")
            .is_some_and(|m| m.contains("length 2, expected 3")));
        assert_eq!(check(doc, "path = \"/peer/state\"\nequals = \"Established\""), None);
        assert!(check(doc, "path = \"/peer/state\"\nequals = \"Idle\"").is_some());
        assert_eq!(check(doc, "path = \"/peer/uptime\"\nequals = 12"), None);
        assert_eq!(check(doc, "path = \"/peer/uptime\"\nmin = 10\nmax = 20"), None);
        assert!(check(doc, "path = \"/peer/uptime\"\nmin = 13").is_some());
        assert_eq!(check(doc, "path = \"/peer\"\ncontains = \"state\""), None);
        assert_eq!(check(doc, "path = \"/peer/state\"\ncontains = \"Establ\""), None);
        assert!(check(doc, "path = \"/nope\"\nlen = 1").is_some_and(|m| m.contains("no such path")));
    }
}
