//! A libtest-compatible harness: Rust tests that use labs, and scenario
//! suites, under `cargo test`, each in its own case process (same isolation,
//! timeouts and results folder as `netrig run`).
//!
//! In the user's crate:
//!
//! ```toml
//! [[test]]
//! name = "net"
//! harness = false
//! ```
//!
//! ```no_run
//! use netrig_run::harness::{Harness, Test};
//! use netrig_run::case::RustCtx;
//!
//! fn ping_peer(ctx: &mut RustCtx) -> Result<(), String> {
//!     let lab = ctx.lab.as_ref().ok_or("no lab")?;
//!     let r = lab
//!         .run_in("a", || netrig_wire::ping("192.0.2.2".parse().unwrap(), &Default::default()))
//!         .map_err(|e| e.to_string())?
//!         .map_err(|e| e.to_string())?;
//!     if r.received == 0 { return Err(format!("no reply: {r:?}")); }
//!     Ok(())
//! }
//!
//! fn main() {
//!     Harness::new()
//!         .test(Test::new("ping_peer", ping_peer).topology(r#"
//!             [nodes.a]
//!             [nodes.b]
//!             [[links]]
//!             ends = ["a:eth0 192.0.2.1/24", "b:eth0 192.0.2.2/24"]
//!         "#))
//!         .suite("tests/scenarios")
//!         .run()
//! }
//! ```
//!
//! `cargo test -- --list`, name filters, `--test-threads` and `--format`
//! work as with libtest. The binary re-executes itself for every case (as
//! `BIN __case DIR`), so `main` must call `run()` first thing, before any
//! thread exists.

use crate::case::{case_main_with, RustBody};
use crate::discover::{discover, CaseDef, CaseSource};
use crate::requires::Host;
use crate::result::State;
use crate::runner::{run_single, RunOptions};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use netrig_spec::scenario::{Requires, DEFAULT_TIMEOUT};
use std::path::PathBuf;
use std::time::Duration;

/// A Rust test: a function, and optionally the topology of its lab.
pub struct Test {
    name: String,
    body: RustBody,
    topology: Option<String>,
    timeout: Duration,
    requires: Requires,
}

impl Test {
    pub fn new(name: &str, body: RustBody) -> Test {
        Test {
            name: name.to_string(),
            body,
            topology: None,
            timeout: DEFAULT_TIMEOUT,
            requires: Requires::default(),
        }
    }
    /// Build this lab (topology TOML) before the body runs.
    pub fn topology(mut self, toml: &str) -> Test {
        self.topology = Some(toml.to_string());
        self
    }
    pub fn timeout(mut self, d: Duration) -> Test {
        self.timeout = d;
        self
    }
    pub fn requires(mut self, r: Requires) -> Test {
        self.requires = r;
        self
    }
}

#[derive(Default)]
pub struct Harness {
    tests: Vec<Test>,
    suites: Vec<PathBuf>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::default()
    }
    pub fn test(mut self, t: Test) -> Harness {
        self.tests.push(t);
        self
    }
    /// Also run the scenario files and executables under `path`.
    pub fn suite(mut self, path: impl Into<PathBuf>) -> Harness {
        self.suites.push(path.into());
        self
    }

    /// Run (or, as a case process, execute one case) and exit.
    pub fn run(self) -> ! {
        let argv: Vec<String> = std::env::args().collect();
        if argv.get(1).map(String::as_str) == Some("__case") {
            let dir = PathBuf::from(argv.get(2).cloned().unwrap_or_default());
            let bodies: Vec<(String, RustBody)> = self
                .tests
                .iter()
                .map(|t| (t.name.clone(), t.body))
                .collect();
            let resolve = |name: &str| bodies.iter().find(|(n, _)| n == name).map(|(_, b)| *b);
            std::process::exit(case_main_with(&dir, &resolve));
        }
        let args = Arguments::from_args();
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("netrig harness: cannot find this binary: {e}");
                std::process::exit(101);
            }
        };
        let results = std::env::var_os("NETRIG_RESULTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("target"))
                    .join("netrig-results")
            });
        let mode = netrig_lab::ns::wanted_mode();
        let opts = RunOptions {
            exe,
            jobs: 1,
            repeat: 1,
            retries: 0,
            fail_fast: false,
            pause_on_fail: false,
            results,
            tag: "cargo-test".into(),
            mode,
        };
        let mut defs: Vec<CaseDef> = self
            .tests
            .iter()
            .map(|t| CaseDef {
                name: t.name.clone(),
                source: CaseSource::Rust {
                    test: t.name.clone(),
                    topology: t.topology.clone(),
                },
                timeout: t.timeout,
                requires: t.requires.clone(),
                xfail: None,
                has_lab: t.topology.is_some(),
            })
            .collect();
        if !self.suites.is_empty() {
            match discover(&self.suites) {
                Ok(c) => defs.extend(c),
                Err(errs) => {
                    for e in errs {
                        eprintln!("netrig harness: {e}");
                    }
                    std::process::exit(101);
                }
            }
        }
        let trials = defs
            .into_iter()
            .map(|def| {
                let opts = opts.clone();
                Trial::ignorable_test(def.name.clone(), move || {
                    if let Some(why) = Host::probe(opts.mode).unmet(&def.requires) {
                        return Ok(Completion::ignored_with(why));
                    }
                    let r = run_single(&def, &opts);
                    match r.state {
                        State::Pass | State::Xfail => Ok(Completion::Completed),
                        State::Skip => Ok(Completion::ignored_with(r.reason)),
                        s => Err(Failed::from(format!(
                            "{s}: {}\n  logs: {}",
                            r.reason,
                            r.dir.unwrap_or_default()
                        ))),
                    }
                })
            })
            .collect();
        libtest_mimic::run(&args, trials).exit()
    }
}
