//! What a case process tells the runner, and the exit codes netrig uses:
//! both defined once, here.
//!
//! A case writes one line per [`CaseEvent`] to the progress pipe; the runner
//! decodes them. Lines are short (below `PIPE_BUF`, so each write is atomic
//! even with the heartbeat thread writing too) and plain text, so that
//! `NETRIG_TRACE=1` shows them as they are.

/// One progress message from a case process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseEvent {
    /// Sent every [`crate::case::HEARTBEAT_EVERY`]: the case is alive.
    Heartbeat,
    /// The lab is being built.
    Setup,
    /// A step (or, for executables and Rust tests, the case body) starts.
    Step { index: usize, name: String },
    /// `--pause-on-fail`: a daemon of the paused case, with its PID on the
    /// host (to attach gdb or strace to); sent before `Paused`.
    PausedDaemon {
        pid: i32,
        node: Option<String>,
        name: String,
    },
    /// `--pause-on-fail`: the case failed and holds its lab for a person.
    Paused { lab: String, nodes: Vec<String> },
    /// The result is written.
    Done,
}

/// Longest line a case sends; longer step names are cut.
pub const MAX_LINE: usize = 400;

impl CaseEvent {
    /// The line for the pipe, newline included.
    pub fn encode(&self) -> String {
        let mut l = match self {
            CaseEvent::Heartbeat => "hb".to_string(),
            CaseEvent::Setup => "setup".to_string(),
            CaseEvent::Step { index, name } => format!("step {index} {}", name.replace('\n', " ")),
            CaseEvent::PausedDaemon { pid, node, name } => {
                format!("daemon {pid} {} {name}", node.as_deref().unwrap_or("-"))
            }
            CaseEvent::Paused { lab, nodes } => format!("paused {lab} {}", nodes.join(",")),
            CaseEvent::Done => "done".to_string(),
        };
        if l.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !l.is_char_boundary(cut) {
                cut -= 1;
            }
            l.truncate(cut);
        }
        l.push('\n');
        l
    }

    /// Read one line (without its newline); `None` for anything else.
    pub fn decode(line: &str) -> Option<CaseEvent> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        Some(match word {
            "hb" => CaseEvent::Heartbeat,
            "setup" => CaseEvent::Setup,
            "done" => CaseEvent::Done,
            "step" => {
                let (index, name) = rest.split_once(' ').unwrap_or((rest, ""));
                CaseEvent::Step {
                    index: index.parse().ok()?,
                    name: name.to_string(),
                }
            }
            "daemon" => {
                let mut parts = rest.splitn(3, ' ');
                let pid = parts.next()?.parse().ok()?;
                let node = parts.next().filter(|n| *n != "-").map(str::to_string);
                CaseEvent::PausedDaemon {
                    pid,
                    node,
                    name: parts.next()?.to_string(),
                }
            }
            "paused" => {
                let (lab, nodes) = rest.split_once(' ').unwrap_or((rest, ""));
                CaseEvent::Paused {
                    lab: lab.to_string(),
                    nodes: nodes
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                }
            }
            _ => return None,
        })
    }
}

/// Exit codes of `netrig` (and of a run): the graver news wins.
pub mod exit {
    /// Everything passed or was skipped.
    pub const PASS: u8 = 0;
    /// Some case failed (or, for `netrig ping`, nothing answered).
    pub const FAIL: u8 = 1;
    /// Bad input: nothing was created or run.
    pub const USAGE: u8 = 2;
    /// Some case was broken or timed out: the harness could not decide.
    pub const BROKEN: u8 = 3;
    /// An executable's "skipped" status (kselftest's KSFT_SKIP).
    pub const KSFT_SKIP: i32 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_survives_the_pipe() {
        for e in [
            CaseEvent::Heartbeat,
            CaseEvent::Setup,
            CaseEvent::Step {
                index: 3,
                name: "traffic h1 -> 198.18.0.1 udp sp=1024".into(),
            },
            CaseEvent::PausedDaemon {
                pid: 4242,
                node: Some("r1".into()),
                name: "bgpd main".into(),
            },
            CaseEvent::PausedDaemon {
                pid: 7,
                node: None,
                name: "d".into(),
            },
            CaseEvent::Paused {
                lab: "case-1".into(),
                nodes: vec!["h1".into(), "r1".into()],
            },
            CaseEvent::Done,
        ] {
            let line = e.encode();
            assert!(line.ends_with('\n'));
            assert_eq!(CaseEvent::decode(line.trim_end()), Some(e));
        }
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary_and_newlines_flattened() {
        let name = format!("{}\nsecond", "é".repeat(300));
        let line = CaseEvent::Step { index: 1, name }.encode();
        assert!(line.len() <= MAX_LINE + 1);
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn garbage_is_not_an_event() {
        assert_eq!(CaseEvent::decode("step x y"), None);
        assert_eq!(CaseEvent::decode("hello"), None);
    }
}
