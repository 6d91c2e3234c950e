//! `offload`: set interface offloads and read them back.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_lab::tune::Offload as Feature;
use netrig_spec::scenario::Step;
use netrig_spec::steps::offload::Offload;

impl Exec for Offload {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        let (node, iface) = (&self.at.node, &self.at.iface);
        let lab = cx.lab()?;
        let mut now = Vec::new();
        for (what, want) in [
            (Feature::Gro, self.gro),
            (Feature::Tso, self.tso),
            (Feature::Gso, self.gso),
            (Feature::TxChecksum, self.tx_checksum),
        ] {
            let Some(on) = want else { continue };
            lab.set_offload(node, iface, what, on)
                .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
            // Read back: a driver may refuse a feature without an error.
            let got = lab
                .offload(node, iface, what)
                .map_err(|err| broken(netrig_lab::persist::error_chain(&err)))?;
            if got != on {
                return Err(broken(format!(
                    "{node}:{iface}: {what:?} stays {} after setting it {}",
                    if got { "on" } else { "off" },
                    if on { "on" } else { "off" }
                )));
            }
            now.push(format!("{what:?} {}", if got { "on" } else { "off" }));
        }
        Ok((now.join(", "), vec![]))
    }
}
