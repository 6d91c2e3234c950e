//! `signal`: send a signal to a daemon on purpose (a failover test kills a
//! router's daemon); its exit is then expected, not a failure of the case.

use super::{References, StepCx, StepDef};
use serde::{Deserialize, Serialize};

/// The signals a step may send, by name.
pub const SIGNALS: &[(&str, i32)] = &[
    ("TERM", libc::SIGTERM),
    ("KILL", libc::SIGKILL),
    ("INT", libc::SIGINT),
    ("HUP", libc::SIGHUP),
    ("QUIT", libc::SIGQUIT),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("STOP", libc::SIGSTOP),
    ("CONT", libc::SIGCONT),
    ("SEGV", libc::SIGSEGV),
    ("ABRT", libc::SIGABRT),
];

/// Signals a process may die by that no step sends, for reports.
const OTHER_SIGNALS: &[(&str, i32)] = &[
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("SYS", libc::SIGSYS),
];

/// `SIGSEGV` for 11, as reports show a signal number.
pub fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .chain(OTHER_SIGNALS)
        .find(|(_, v)| *v == n)
        .map(|(name, _)| format!("SIG{name}"))
        .unwrap_or_else(|| format!("signal {n}"))
}

#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    pub daemon: String,
    pub signal: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    daemon: String,
    signal: Option<String>,
}

impl StepDef for Signal {
    const KEYWORD: &'static str = "signal";
    const VALUE: &'static str = "`{ daemon, signal = \"TERM\" }` (TERM, KILL, INT, HUP, ...)";
    const SUMMARY: &'static str = "signal a daemon on purpose; its exit is then expected";

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Signal, String)> {
        let s: Raw = cx.raw(value)?;
        let name = s.signal.as_deref().unwrap_or("TERM");
        let bare = name.trim_start_matches("SIG");
        let Some((_, signal)) = SIGNALS.iter().find(|(n, _)| *n == bare) else {
            let known: Vec<_> = SIGNALS.iter().map(|(n, _)| *n).collect();
            return cx.err_help(
                format!("step {}: unknown signal `{name}`", cx.index),
                format!("signals: {}", known.join(", ")),
            );
        };
        let label = format!("signal {} SIG{bare}", s.daemon);
        Some((
            Signal {
                daemon: s.daemon,
                signal: *signal,
            },
            label,
        ))
    }

    fn check_references(&self, refs: &mut References, cx: &mut StepCx<'_>) {
        if !refs.daemons.contains(&self.daemon) {
            cx.err_help::<()>(
                format!(
                    "step {}: signal names daemon `{}`, which no earlier step starts",
                    cx.index, self.daemon
                ),
                "start it first with a daemon step (its name = \"...\")",
            );
        }
    }
}
