//! A process of a case that dies by a core-dumping signal is reported the
//! way VPP's test framework reports a crash: the signal, "core dumped", the
//! core moved into the case's results folder, and the gdb command to open it.

mod run_common;
use run_common::*;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Where the kernel writes cores on this host; the test's file checks hold
/// for a relative pattern (the kernel's default `core`).
fn relative_core_pattern() -> Option<String> {
    let p = std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok()?;
    let p = p.trim_end().to_string();
    (!p.starts_with('|') && !p.starts_with('/')).then_some(p)
}

/// A daemon that SIGSEGVs mid-case fails it, naming the daemon, the signal,
/// "core dumped", the core (now in the results folder, not in the
/// scenario's) and a gdb line that opens it.
#[test]
fn a_crashing_daemon_leaves_a_core_to_debug() {
    let Some(pattern) = relative_core_pattern() else {
        eprintln!("skip: core_pattern is not a relative file name here");
        return;
    };
    let s = Scratch::new("cores");
    let crash = "echo starting >&2; sleep 0.2; kill -SEGV $$";
    s.write(
        "crash.toml",
        &format!("name = \"crash\"\n[[steps]]\nname = \"bgpd\"\ndaemon = \"{crash}\"\n[[steps]]\nsleep = \"2s\"\n"),
    );
    let mut cases = vec!["crash"];
    if have_root() {
        // Started in a node: through the node's own namespaces.
        s.write(
            "node.toml",
            &format!("name = \"node\"\n{PAIR}\n[[steps]]\nname = \"zebra\"\nnode = \"a\"\ndaemon = \"{crash}\"\n[[steps]]\nsleep = \"2s\"\n"),
        );
        cases.push("node");
    }
    // One at a time: with the pattern `core`, two crashes in one folder at
    // once replace each other's core (README, "Core files").
    let (code, report, out) = run_json(&[".", "--results", "res", "-j", "1"], &s.0);
    assert_eq!(code, 1, "{out}");
    for (name, daemon) in cases.iter().zip(["bgpd", "zebra"]) {
        let c = case(&report, name);
        assert_eq!(c["state"], "fail", "{out}");
        let why = c["reason"].as_str().unwrap_or_default();
        assert!(
            why.starts_with(&format!(
                "daemon `{daemon}` was killed by SIGSEGV (core dumped) while the case ran"
            )),
            "{why}\n{out}"
        );
        let dir = s.path(c["dir"].as_str().expect("case dir"));
        let core = dir.join(format!("{daemon}.core"));
        assert!(
            core.is_file(),
            "no {} (core_pattern `{pattern}`): {why}",
            core.display()
        );
        let rec = &c["processes"][0]["core"];
        assert_eq!(rec["dumped"], true, "{c:#}");
        let file = rec["file"].as_str().expect("core file");
        assert!(why.contains(&format!("\ncore: {file}")), "{why}");
        let gdb = format!("gdb {} {file}", rec["exe"].as_str().expect("exe"));
        assert_eq!(rec["debug"], gdb.as_str());
        assert!(why.contains(&format!("\ndebug: {gdb}")), "{why}");
        assert!(
            out.contains(&format!("debug: {gdb}")),
            "the console shows it: {out}"
        );
        // The line works: gdb opens the core with the program that dumped it.
        if Command::new("gdb").arg("--version").output().is_ok() {
            let o = Command::new("gdb")
                .args(["-batch", "-ex", "info program"])
                .args(gdb.split(' ').skip(1))
                .current_dir(&s.0)
                .output()
                .expect("gdb");
            let said = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(
                said.contains("terminated with signal SIGSEGV"),
                "{gdb}:\n{said}"
            );
        }
    }
    // The scenario's folder is left as it was (the core was moved out).
    let mut left = dir_names(s.0.to_str().expect("utf-8"));
    left.sort();
    let mut want = vec!["crash.toml", "res"];
    if have_root() {
        want.push("node.toml");
    }
    want.sort();
    assert_eq!(left, want);
}

/// A `run` step's process killed by SIGABRT with RLIMIT_CORE 0 (netrig
/// raises it for daemons only): the step says so, and no core appears.
#[test]
fn a_crash_without_a_core_limit_says_no_core() {
    let s = Scratch::new("nocore");
    s.write(
        "abort.toml",
        "name = \"abort\"\n[[steps]]\nrun = \"kill -ABRT $$\"\n",
    );
    let mut cmd = Command::new(NETRIG);
    cmd.args(["run", "--format", "json", ".", "--results", "res"])
        .current_dir(&s.0)
        .env_remove("CI");
    // SAFETY: setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_CORE, &mut l);
            l.rlim_cur = 0;
            libc::setrlimit(libc::RLIMIT_CORE, &l);
            Ok(())
        });
    }
    let o = cmd.output().expect("netrig");
    let out = text(&o);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let c = case(&report, "abort");
    assert_eq!(c["state"], "fail", "{out}");
    let msg = c["subtests"][0]["message"].as_str().unwrap_or_default();
    assert_eq!(
        msg, "`kill -ABRT $$`: killed by SIGABRT\nno core (core limit 0)",
        "{out}"
    );
    assert_eq!(c["processes"][0]["core"]["dumped"], false);
    assert!(
        out.contains("no core (core limit 0)"),
        "the console says it: {out}"
    );
    let mut left = dir_names(s.0.to_str().expect("utf-8"));
    left.sort();
    assert_eq!(left, ["abort.toml", "res"]);
}
