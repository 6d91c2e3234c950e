//! `sysfs`: write and read back (or only read) a network device attribute.

use super::{Ctx, Exec};
use crate::verdicts::{broken, fail_by, StepOut};
use netrig_spec::expect::Check;
use netrig_spec::scenario::Step;
use netrig_spec::steps::sysfs::Sysfs;

impl Exec for Sysfs {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let (node, path) = (&self.node, &self.path);
        let lab = cx.lab()?;
        if let Some(v) = &self.value {
            lab.write_sysfs(node, path, v)
                .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
        }
        let now = lab
            .read_sysfs(node, path)
            .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
        let now = now.trim().to_string();
        if let Some(want) = &step.expect.value {
            if &now != want {
                return Err(fail_by(
                    Check::Value,
                    format!("/sys/{path} is `{now}`, expected `{want}`"),
                ));
            }
        }
        Ok((format!("/sys/{path} = {now}"), vec![]))
    }
}
