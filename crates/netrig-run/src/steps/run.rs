//! `run`: a shell command in a node, waited for and judged by its exit
//! status and output.

use super::{Ctx, Exec};
use crate::procs::tail;
use crate::result::State;
use crate::verdicts::{broken, fail, Problem, StepOut};
use netrig_spec::expect::Check;
use netrig_spec::scenario::Step;
use netrig_spec::steps::run::Run;

impl Exec for Run {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let (cmd, e) = (&self.cmd, &step.expect);
        // The log is named after the step: `03-client_py.log` for a matrix client.
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
        let mut p = cx
            .start(self.node.as_deref(), &name, "sh", &["-c", cmd], &[], None)
            .map_err(broken)?;
        let status = p.wait_timeout(step.timeout);
        let timed_out = status.is_none();
        p.finish();
        let (out, err) = (p.stdout(), p.stderr());
        let rec = p.rec.clone();
        cx.procs.push(p);
        if timed_out {
            return Err(fail(format!(
                "`{cmd}` still running after its step timeout {:?}; killed",
                step.timeout.unwrap_or_default()
            )));
        }
        let want = e.exit.unwrap_or(0);
        let mut problems = Vec::new();
        let mut checks = Vec::new();
        match (rec.exit, rec.signal) {
            (Some(c), _) if c == want => {}
            (Some(c), _) => problems.push((Check::Exit, format!("exit status {c}, expected {want}"))),
            (None, Some(s)) => problems.push((Check::Exit, format!("killed by signal {s}"))),
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
        if problems.is_empty() {
            return Ok((String::new(), vec![]));
        }
        let shown: Vec<&str> = problems.iter().map(|(_, m)| m.as_str()).collect();
        let mut msg = format!("`{cmd}`: {}", shown.join("; "));
        let t = tail(&err, 5);
        if !t.is_empty() {
            msg.push_str(&format!("\nstderr:\n{t}"));
        }
        let t = tail(&out, 5);
        if !t.is_empty() {
            msg.push_str(&format!("\nstdout:\n{t}"));
        }
        for (c, _) in problems {
            if !checks.contains(&c) {
                checks.push(c);
            }
        }
        Err(Problem(State::Fail, msg, checks, Vec::new()))
    }
}
