//! `sysctl`: set and read back (or only read) a sysctl in a node.

use super::{Ctx, Exec};
use crate::verdicts::{broken, fail_by, StepOut};
use netrig_lab::Lab;
use netrig_spec::expect::Check;
use netrig_spec::scenario::Step;
use netrig_spec::steps::sysctl::Sysctl;

impl Exec for Sysctl {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let key = &self.key;
        let read = |lab: &Lab, n: &str| lab.sysctl_get(n, key).map_err(|e| broken(e.to_string()));
        let now = match (&self.node, &self.value) {
            (Some(n), Some(v)) => {
                let lab = cx.lab()?;
                lab.sysctl_set(n, key, v)
                    .map_err(|e| broken(e.to_string()))?;
                read(lab, n)?
            }
            (Some(n), None) => read(cx.lab()?, n)?,
            // No topology: the case's own (empty) namespace.
            (None, v) => {
                let path = format!("/proc/sys/{}", key.replace('.', "/"));
                if let Some(v) = v {
                    std::fs::write(&path, v).map_err(|err| broken(format!("{key}={v}: {err}")))?;
                }
                std::fs::read_to_string(&path)
                    .map(|s| s.trim().to_string())
                    .map_err(|err| broken(format!("{key}: {err}")))?
            }
        };
        if let Some(want) = &step.expect.value {
            if &now != want {
                return Err(fail_by(
                    Check::Value,
                    format!("{key} is `{now}`, expected `{want}`"),
                ));
            }
        }
        Ok((format!("{key} = {now}"), vec![]))
    }
}
