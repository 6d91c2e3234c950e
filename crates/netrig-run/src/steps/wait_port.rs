//! `wait_port`: poll the node's socket tables until the port is open.

use super::{Ctx, Exec, WAIT_DEFAULT};
use crate::verdicts::{fail, StepOut};
use netrig_spec::scenario::Step;
use netrig_spec::steps::wait_port::WaitPort;
use std::time::{Duration, Instant};

impl Exec for WaitPort {
    fn exec(&self, cx: &mut Ctx, step: &Step) -> StepOut {
        let (port, udp) = (self.port, self.udp);
        let limit = step.timeout.unwrap_or(WAIT_DEFAULT);
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_micros(500);
        loop {
            if cx.in_node(self.node.as_deref(), || listening(port, udp))? {
                return Ok((String::new(), vec![]));
            }
            if Instant::now() >= deadline {
                return Err(fail(format!(
                    "nothing {} port {port} after {limit:?}",
                    if udp { "bound UDP" } else { "listened on TCP" }
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// Is a TCP socket listening (or a UDP socket bound) on `port` in this
/// thread's namespace? Read from /proc/thread-self/net, which follows the
/// thread's namespace (unlike /proc/net, which follows the process leader's).
fn listening(port: u16, udp: bool) -> bool {
    let files: &[&str] = if udp {
        &["udp", "udp6"]
    } else {
        &["tcp", "tcp6"]
    };
    files.iter().any(|f| {
        std::fs::read_to_string(format!("/proc/thread-self/net/{f}"))
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    let mut cols = l.split_whitespace();
                    let local = cols.nth(1).unwrap_or("");
                    let state = cols.nth(1).unwrap_or("");
                    let p = local
                        .rsplit(':')
                        .next()
                        .and_then(|h| u16::from_str_radix(h, 16).ok());
                    // 0A is TCP_LISTEN; a bound UDP socket shows 07 (CLOSE).
                    p == Some(port) && (udp || state == "0A")
                })
            })
            .unwrap_or(false)
    })
}
