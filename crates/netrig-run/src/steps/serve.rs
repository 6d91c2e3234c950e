//! `serve`: a probe server in a node until the case ends.

use super::{Ctx, Exec};
use crate::verdicts::{broken, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::serve::Serve;
use netrig_wire::ProbeServer;

impl Exec for Serve {
    fn exec(&self, cx: &mut Ctx, _step: &Step) -> StepOut {
        let addr = self.addr;
        let server = cx
            .in_node(Some(&self.node), || {
                ProbeServer::bind(addr, &self.name, self.tcp, self.udp)
            })?
            .map_err(|err| broken(format!("serve on {addr}: {err}")))?;
        cx.servers.push((self.name.clone(), server.spawn()));
        Ok((String::new(), vec![]))
    }
}
