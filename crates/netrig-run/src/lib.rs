//! netrig-run: the runner. Scenario files and executables become cases; each
//! case runs in its own freshly exec'd process, lab and PID namespace; the
//! runner alone owns timeouts and kills whole process trees; results come out
//! as console lines, KTAP, TAP, JUnit, JSON, an HTML page and a results
//! folder.
//!
//! # Flow
//!
//! [`discover`] walks suite folders: `*.toml` files with steps, a matrix or a
//! `topology =` reference are scenarios (expanded by `netrig_spec::scenario`
//! into one case per variant x matrix point); bare topologies are skipped;
//! executable files are cases of their own. [`runner::run`] checks
//! requirements (unmet ones are skips with the reason, no process started),
//! orders cases longest-first by the durations earlier runs remembered,
//! and gives each to a worker thread, which re-executes the netrig binary as
//! `netrig __case DIR` ([`case::case_main`]).
//!
//! # Process model (see ARCHITECTURE.md)
//!
//! ```text
//! runner (threads) ── spawn, own process group, PDEATHSIG ──► case process
//!      ▲   heartbeat pipe (fd 3): "hb", "step N NAME", "done"      │ rootless: user ns
//!      │                                                           │ root: new net ns
//!      │                                                           ▼ unshare(PID), fork
//!      └──────────────── result.json ◄──────────── PID 1: lab, steps, processes
//! ```
//!
//! On timeout the runner SIGKILLs the case's process group; PID 1 follows by
//! PDEATHSIG and the kernel ends every process of its PID namespace. A case
//! that writes no `result.json` is broken; heartbeats tell a stuck case (none
//! for a second) from a slow one in the timeout message.
//!
//! # Steps and expectations
//!
//! Step kinds are defined in `netrig_spec::steps` and each runs in the module
//! of the same name under [`steps`], implementing `Exec`: `Ok((message,
//! verdicts))` or a `Fail` (with the checks that failed) / `Broken` / `Skip`
//! problem. Statistical expectations go
//! through netrig-judge (`expect.split` -> `judge_split` over distinct flows
//! per path, `expect.affinity` -> `judge_affinity`), and their verdicts are
//! kept in the step's result, so the JSON report carries the numbers and the
//! false-failure bound.
//!
//! Traffic steps are split in two: [`observe`] does the I/O (captures
//! drained by a thread while the sender runs, the end decided by accounting
//! for every packet sent or by a settled path, the host's own drop counters
//! read across the window) and returns a typed [`verdicts::Observation`];
//! [`verdicts`] judges it without I/O. Only packets of the step's own flow
//! count; loss that the host explains (backlog or veth drops), a capture
//! ring that overflowed, or loss seen before the path settled make the step
//! Broken, never Fail: the harness does not blame the system under test for
//! what it failed to see.
//!
//! # Executables
//!
//! Any executable file under a suite folder is a case. Its lab is a sibling
//! `<stem>.toml` topology or `# netrig: topology=PATH node=NAME timeout=30s
//! requires=root xfail=REASON` in its first lines; without one it runs in an
//! empty network namespace. Inside, `NETRIG_LAB`, `NETRIG_NODE`,
//! `NETRIG_NODES` and `NETRIG_STATE_DIR` make `netrig exec $NETRIG_LAB h2 --
//! cmd` work (the case process poses as the lab's holder; nothing is
//! mounted). Exit 0 passes, 4 skips (kselftest), anything else fails; KTAP/TAP
//! result lines it prints become subtests.

//!
//! # Rust tests
//!
//! [`harness`] runs Rust test functions (with a lab built from a topology
//! string) and scenario suites under `cargo test` through libtest-mimic,
//! each case in its own case process like `netrig run` does.

pub mod case;
pub mod coredump;
pub mod discover;
pub mod graph;
pub mod harness;
pub mod html;
pub mod observe;
pub mod procs;
pub mod protocol;
pub mod report;
pub mod requires;
pub mod result;
pub mod results;
pub mod runner;
pub mod steps;
pub mod tapparse;
pub mod tplock;
pub mod verdicts;

pub use discover::{discover, CaseDef, CaseSource, DiscoverError};
pub use report::Format;
pub use result::{CaseResult, RunReport, State, Stats, SubResult};
pub use runner::{run, Event, RunOptions};
