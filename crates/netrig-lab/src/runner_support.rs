//! Helpers the runner needs from a built lab.

use crate::lab::{Lab, LabError};
use crate::netlink::{attrs, ifinfomsg, Msg, Netlink, RTM_GETLINK};
use crate::ns;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

const IFLA_QDISC: u16 = 6;

/// Wait until no interface of the lab still has the `noop` qdisc.
///
/// The kernel reports a veth operationally up (IFF_RUNNING) from linkwatch a
/// moment before linkwatch attaches its real qdisc; until then the `noop`
/// qdisc drops every packet, so the first ARP request of a test vanishes and
/// the neighbour stays incomplete for a second. Seen in ~40% of two-node
/// builds under `-j 2`; `Lab::build`'s readiness wait should include this.
pub fn wait_qdiscs(lab: &Lab, timeout: Duration) -> Result<(), LabError> {
    let home = ns::current_netns().map_err(|source| LabError::Namespace {
        node: "(home)".into(),
        source,
    })?;
    let start = Instant::now();
    let nodes: Vec<(String, std::os::fd::BorrowedFd<'_>)> = lab
        .node_names()
        .filter_map(|n| lab.netns(n).ok().map(|fd| (n.to_string(), fd)))
        .chain(lab.switch_netns().map(|(n, fd)| (n.to_string(), fd)))
        .collect();
    for (name, fd) in nodes {
        let enter_err = |source| LabError::Enter {
            node: name.clone(),
            source,
        };
        let mut nl = ns::in_netns(home.as_fd(), fd, Netlink::open)
            .map_err(enter_err)?
            .map_err(enter_err)?;
        let mut pause = Duration::from_micros(100);
        loop {
            let links = nl
                .dump(Msg::new(RTM_GETLINK, 0).header(&ifinfomsg(0, 0, 0, 0)))
                .map_err(|source| LabError::Netlink {
                    node: name.clone(),
                    source,
                })?;
            let noop = links.iter().filter(|p| p.len() >= 16).find_map(|p| {
                let up = u32::from_ne_bytes([p[8], p[9], p[10], p[11]]) & 1 != 0;
                attrs(&p[16..])
                    .find(|(t, _)| *t == IFLA_QDISC)
                    .filter(|(_, v)| up && v.starts_with(b"noop"))
                    .map(|_| ())
            });
            if noop.is_none() {
                break;
            }
            if start.elapsed() > timeout {
                return Err(LabError::NotReady {
                    node: name.clone(),
                    iface: "(some)".into(),
                    waited: start.elapsed(),
                    state: "qdisc still noop".into(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
    Ok(())
}
