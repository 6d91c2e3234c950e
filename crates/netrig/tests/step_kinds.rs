//! Step kinds as a scenario author uses them: what each does to the lab,
//! and which check a failure is charged to.

mod run_common;
use run_common::*;

/// A `run` step's failure names the check that failed, so `expect.fail`
/// can say which failure is the expected one.
#[test]
fn run_failures_name_their_check() {
    let s = Scratch::new("runcheck");
    s.write(
        "exit.toml",
        "name = \"exit\"\n[[steps]]\nrun = \"exit 3\"\nexpect.fail = \"exit\"\n",
    );
    s.write(
        "other.toml",
        "name = \"other\"\n[[steps]]\nrun = \"exit 3\"\nexpect.fail = \"stdout\"\n",
    );
    s.write(
        "stdout.toml",
        "name = \"stdout\"\n[[steps]]\nrun = \"echo no\"\nexpect = { stdout = \"yes\", fail = \"stdout\" }\n",
    );
    let (code, report, out) = run_json(&["."], &s.0);
    assert_eq!(case(&report, "exit")["state"], "xfail", "{out}");
    assert_eq!(case(&report, "stdout")["state"], "xfail", "{out}");
    // Failing by another check than the one named is a real failure.
    let other = case(&report, "other");
    assert_eq!(other["state"], "fail", "{out}");
    assert!(other.to_string().contains("failed by exit"), "{other:#}");
    assert_eq!(code, 1, "{out}");
}

/// `neigh`: a permanent entry with a wrong MAC cuts the path, deleting it
/// lets ARP repair it (examples/basic/neigh.toml); the same scenario
/// expecting the poisoned path to work fails by `reachable`.
#[test]
fn neigh_poisons_and_repairs_a_path() {
    if !have_root() {
        return;
    }
    let example = workspace().join("examples/basic/neigh.toml");
    let s = Scratch::new("neigh");
    let (code, report, out) = run_json(
        &[example.to_str().expect("utf-8 path"), "--results", "res"],
        &s.0,
    );
    assert_eq!(case(&report, "neigh-poison")["state"], "pass", "{out}");
    assert_eq!(code, 0, "{out}");

    s.write("pair.toml", &format!("name = \"pair\"\n{PAIR}"));
    s.write(
        "wrong.toml",
        "name = \"wrong\"\ntopology = \"pair.toml\"\n[[steps]]\nneigh = { node = \"a\", dev = \"eth0\", addr = \"192.0.2.2\", mac = \"02:00:00:00:00:99\" }\n[[steps]]\nping = { from = \"a\", to = \"192.0.2.2\" }\n",
    );
    let (code, report, out) = run_json(&["wrong.toml", "--results", "res"], &s.0);
    let wrong = case(&report, "wrong");
    assert_eq!(wrong["state"], "fail", "{out}");
    assert!(wrong.to_string().contains("reachable"), "{wrong:#}");
    assert_eq!(code, 1, "{out}");
}

/// A daemon that dies while its case runs fails the case, named with its
/// signal; killed on purpose by a `signal` step (a failover test), or
/// declared `may_exit`, its end is no failure.
#[test]
fn a_daemon_dying_mid_case_fails_it() {
    let s = Scratch::new("daemondeath");
    s.write(
        "crash.toml",
        "name = \"crash\"\n[[steps]]\nname = \"bgpd\"\ndaemon = \"echo starting >&2; sleep 0.1; kill -SEGV $$\"\n[[steps]]\nsleep = \"1s\"\n[[steps]]\nrun = \"true\"\n",
    );
    s.write(
        "killed.toml",
        "name = \"killed\"\n[[steps]]\nname = \"bgpd\"\ndaemon = \"sleep 100\"\n[[steps]]\nsignal = { daemon = \"bgpd\", signal = \"KILL\" }\n[[steps]]\nsleep = \"200ms\"\n[[steps]]\nrun = \"true\"\n",
    );
    s.write(
        "oneshot.toml",
        "name = \"oneshot\"\n[[steps]]\nname = \"setup\"\ndaemon = { cmd = \"true\", may_exit = true }\n[[steps]]\nsleep = \"200ms\"\n",
    );
    let (code, report, out) = run_json(&[".", "--results", "res"], &s.0);
    let crash = case(&report, "crash");
    assert_eq!(crash["state"], "fail", "{out}");
    let why = crash["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("daemon `bgpd` was killed by SIGSEGV") && why.contains("starting"),
        "{crash:#}"
    );
    assert_eq!(case(&report, "killed")["state"], "pass", "{out}");
    assert_eq!(case(&report, "oneshot")["state"], "pass", "{out}");
    assert_eq!(code, 1, "{out}");
}

/// Teardown sends SIGTERM first, so a daemon's own cleanup runs.
#[test]
fn teardown_terminates_daemons_before_killing_them() {
    let s = Scratch::new("sigterm");
    let marker = s.path("cleaned-up");
    s.write(
        "term.toml",
        &format!(
            "name = \"term\"\n[[steps]]\nname = \"d\"\ndaemon = \"trap 'echo bye > {}; exit 0' TERM; while :; do sleep 0.02; done\"\n[[steps]]\nsleep = \"100ms\"\n",
            marker.display()
        ),
    );
    let (code, report, out) = run_json(&["term.toml", "--results", "res"], &s.0);
    assert_eq!(case(&report, "term")["state"], "pass", "{out}");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "bye\n",
        "the daemon's TERM trap did not run"
    );
}

/// Steps run in the scenario's folder with NETRIG_CASE_DIR, NETRIG_LAB and
/// NETRIG_NODE set, and `netrig exec $NETRIG_LAB` reaches the case's lab.
#[test]
fn steps_run_in_the_scenario_folder_with_the_lab_in_their_environment() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("stepenv");
    s.write("conf/r1.conf", "hello from conf\n");
    s.write(
        "env.toml",
        &format!(
            "name = \"env\"\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"cat conf/r1.conf {{scenario_dir}}/conf/r1.conf\"\nexpect.stdout = \"hello from conf\"\n[[steps]]\nnode = \"a\"\nrun = 'echo \"$NETRIG_NODE\" > \"$NETRIG_CASE_DIR/who\"; cat \"$NETRIG_CASE_DIR/who\"; netrig exec \"$NETRIG_LAB\" b -- ip -br addr show dev eth0'\nexpect.stdout = [\"a\", \"192.0.2.2/24\"]\n"
        ),
    );
    let (code, report, out) = run_json(&["env.toml", "--results", "res"], &s.0);
    assert_eq!(case(&report, "env")["state"], "pass", "{out}");
    assert_eq!(code, 0, "{out}");
}

/// `retry` passes on the try where its expectations first hold (here the
/// third: a counter file the command itself advances), and when they never
/// do, fails with the number of tries and the last output.
#[test]
fn retry_until_expectations_hold() {
    let s = Scratch::new("retry");
    s.write(
        "third.toml",
        "name = \"third\"\n[[steps]]\nretry = { cmd = 'n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; echo \"{\\\"tries\\\": $n, \\\"peers\\\": [1, 2]}\"', every = \"10ms\" }\nexpect.json = [{ path = \"/tries\", equals = 3 }, { path = \"/peers\", len = 2 }]\n",
    );
    s.write(
        "never.toml",
        "name = \"never\"\n[[steps]]\nretry = { cmd = \"echo still-down\", every = \"50ms\" }\ntimeout = \"300ms\"\nexpect.stdout = \"up\"\n",
    );
    let (code, report, out) = run_json(&[".", "--results", "res"], &s.0);
    let third = case(&report, "third");
    assert_eq!(third["state"], "pass", "{out}");
    assert!(
        third["subtests"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("passed on try 3")),
        "{third:#}"
    );
    assert_eq!(
        std::fs::read_to_string(s.path("n")).unwrap_or_default(),
        "3\n"
    );
    let never = case(&report, "never");
    assert_eq!(never["state"], "fail", "{out}");
    let msg = never["subtests"][0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(" tries in 300ms; try ")
            && msg.contains(", the last to finish: ")
            && msg.contains("stdout lacks `up`")
            && msg.contains("still-down"),
        "{never:#}"
    );
    assert_eq!(
        never["subtests"][0]["failed_checks"][0], "stdout",
        "{never:#}"
    );
    assert_eq!(code, 1, "{out}");
}

/// `[[on_fail]]` steps run only when the case failed (and leave its
/// verdict), `[[finally]]` steps always run, and a failing `finally` step
/// fails a case that passed.
#[test]
fn on_fail_and_finally_steps() {
    let s = Scratch::new("phases");
    s.write(
        "bad.toml",
        "name = \"bad\"\n[[steps]]\nrun = \"exit 1\"\n[[steps]]\nrun = \"echo not-reached > reached-bad\"\n[[on_fail]]\nrun = \"echo collected > collected-bad\"\n[[finally]]\nrun = \"echo done > done-bad\"\n",
    );
    s.write(
        "good.toml",
        "name = \"good\"\n[[steps]]\nrun = \"true\"\n[[on_fail]]\nrun = \"echo collected > collected-good\"\n[[finally]]\nrun = \"echo done > done-good\"\n",
    );
    s.write(
        "cleanup.toml",
        "name = \"cleanup\"\n[[steps]]\nrun = \"true\"\n[[finally]]\nname = \"nothing left\"\nrun = \"false\"\n",
    );
    let (code, report, out) = run_json(&[".", "--results", "res"], &s.0);
    let bad = case(&report, "bad");
    assert_eq!(bad["state"], "fail", "{out}");
    assert!(
        bad["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("step 1 ")),
        "{bad:#}"
    );
    assert!(
        s.path("collected-bad").exists() && s.path("done-bad").exists(),
        "{bad:#}"
    );
    assert!(!s.path("reached-bad").exists());
    let names: Vec<&str> = bad["subtests"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.iter().any(|n| n.starts_with("on_fail: ")),
        "{names:?}"
    );
    assert_eq!(case(&report, "good")["state"], "pass", "{out}");
    assert!(!s.path("collected-good").exists() && s.path("done-good").exists());
    let cleanup = case(&report, "cleanup");
    assert_eq!(cleanup["state"], "fail", "{out}");
    assert!(
        cleanup["reason"]
            .as_str()
            .is_some_and(|r| r.contains("finally step 2 `nothing left`")),
        "{cleanup:#}"
    );
    assert_eq!(code, 1, "{out}");
}

/// `--pause-on-fail` keeps the failed lab and prints, for each daemon, the
/// gdb and strace commands that attach to it from the host.
#[test]
fn pause_on_fail_shows_how_to_attach_to_each_daemon() {
    use std::io::{BufRead, Write};
    if !have_root() {
        return;
    }
    let s = Scratch::new("pausegdb");
    s.write(
        "p.toml",
        &format!("name = \"p\"\n{PAIR}\n[[steps]]\nname = \"bgpd\"\nnode = \"b\"\ndaemon = \"exec sleep 1000\"\n[[steps]]\nnode = \"a\"\nrun = \"false\"\n"),
    );
    let mut child = std::process::Command::new(NETRIG)
        .args(["run", "p.toml", "--pause-on-fail", "--results", "res"])
        .current_dir(&s.0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("netrig run");
    // Whatever happens below, the run is ended within 60 s (through its
    // Child handle, so never another process by a reused PID).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let done = l.contains("press Enter");
            if tx.send(l).is_err() || done {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        let done = l.contains("press Enter");
        seen.push(l);
        if done {
            break;
        }
    }
    let gdb: Option<i32> = seen.iter().find_map(|l| {
        l.strip_prefix("    daemon bgpd in b: gdb -p ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    });
    let comm = gdb.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok());
    let _ = child.stdin.take().map(|mut i| i.write_all(b"\n"));
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(comm.as_deref(), Some("sleep\n"), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l.contains(&format!("strace -f -p {}", gdb.unwrap_or(0)))),
        "{seen:#?}"
    );
    assert_eq!(status.code(), Some(1), "{seen:#?}");
}

/// A `counters` step on an end of an impaired link also reads what the link
/// did with what that end sent (here half lost, within bounds no correct
/// engine leaves but with probability ~1e-20); on another interface those
/// names are refused by `netrig check`.
#[test]
fn counters_read_what_an_impaired_link_did() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("impaircounters");
    let topo = "[nodes.a]\n[nodes.b]\n[[links]]\nends = [\"a:eth0 192.0.2.1/24 mac=02:00:00:00:00:0a\", \"b:eth0 192.0.2.2/24 mac=02:00:00:00:00:0b\"]\nimpair = { loss = \"50%\" }\n[[neighbors]]\nnode = \"a\"\ndev = \"eth0\"\naddr = \"192.0.2.2\"\nmac = \"02:00:00:00:00:0b\"\n";
    s.write(
        "lossy.toml",
        &format!("name = \"lossy\"\n{topo}\n[[steps]]\ncounters = {{ node = \"a\", iface = \"eth0\", save = \"before\" }}\n[[steps]]\ntraffic = {{ from = \"a\", to = \"192.0.2.2\", udp = \"sp=1000,dp=1-1000\" }}\n[[steps]]\ncounters = {{ node = \"a\", iface = \"eth0\", since = \"before\" }}\nexpect.min = {{ impair_sent = 1000, impair_lost = 350 }}\nexpect.max = {{ impair_lost = 650 }}\n"),
    );
    let (code, report, out) = run_json(&["lossy.toml", "--results", "res"], &s.0);
    assert_eq!(case(&report, "lossy")["state"], "pass", "{out}");
    assert_eq!(code, 0, "{out}");

    let plain = s.write(
        "plain.toml",
        &format!("name = \"plain\"\n{PAIR}\n[[steps]]\ncounters = {{ node = \"a\", iface = \"eth0\" }}\nexpect.min = {{ impair_lost = 1 }}\n"),
    );
    let o = netrig(&["check", plain.to_str().expect("utf-8")], &s.0);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("is not an end of an impaired link"),
        "{}",
        text(&o)
    );
}

/// `wait_log` with `new = true` waits for the next occurrence: a line the
/// daemon printed before the step does not count.
#[test]
fn wait_log_new_waits_for_the_next_occurrence() {
    let s = Scratch::new("waitnew");
    s.write(
        "once.toml",
        "name = \"once\"\n[[steps]]\nname = \"d\"\ndaemon = \"echo up; exec sleep 100\"\n[[steps]]\nwait_log = { daemon = \"d\", pattern = \"up\" }\n[[steps]]\nwait_log = { daemon = \"d\", pattern = \"up\", new = true }\ntimeout = \"300ms\"\n",
    );
    s.write(
        "ticks.toml",
        "name = \"ticks\"\n[[steps]]\nname = \"d\"\ndaemon = \"while :; do echo tick; sleep 0.05; done\"\n[[steps]]\nwait_log = { daemon = \"d\", pattern = \"tick\" }\n[[steps]]\nwait_log = { daemon = \"d\", pattern = \"tick\", new = true }\n",
    );
    let (code, report, out) = run_json(&[".", "--results", "res"], &s.0);
    let once = case(&report, "once");
    assert_eq!(once["state"], "fail", "{out}");
    assert!(
        once["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("step 3 ")),
        "{once:#}"
    );
    assert_eq!(case(&report, "ticks")["state"], "pass", "{out}");
    assert_eq!(code, 1, "{out}");
}

/// `wait_log` with `regex = true` waits for a line matching a regular
/// expression (FRR's `%ADJCHANGE ... Up`), not for the same words spread
/// over two lines; with `new = true` only for the next such line.
#[test]
fn wait_log_regex_matches_a_line() {
    let s = Scratch::new("waitre");
    let daemon = "daemon = \"echo 'neighbor 192.0.2.1 Down'; echo 'Up'; sleep 0.2; echo 'neighbor 192.0.2.1 Up'; exec sleep 100\"";
    s.write(
        "up.toml",
        &format!("name = \"up\"\n[[steps]]\nname = \"d\"\n{daemon}\n[[steps]]\nwait_log = {{ daemon = \"d\", pattern = '^neighbor \\S+ Up$', regex = true }}\ntimeout = \"5s\"\n"),
    );
    s.write(
        "again.toml",
        &format!("name = \"again\"\n[[steps]]\nname = \"d\"\n{daemon}\n[[steps]]\nwait_log = {{ daemon = \"d\", pattern = 'neighbor .* Up', regex = true }}\n[[steps]]\nwait_log = {{ daemon = \"d\", pattern = 'neighbor .* Up', regex = true, new = true }}\ntimeout = \"300ms\"\n"),
    );
    let (code, report, out) = run_json(&[".", "--results", "res"], &s.0);
    assert_eq!(case(&report, "up")["state"], "pass", "{out}");
    let again = case(&report, "again");
    assert_eq!(again["state"], "fail", "{out}");
    assert!(
        again["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("step 3 ")),
        "{again:#}"
    );
    assert_eq!(code, 1, "{out}");
    // A pattern that is not a regular expression is refused when read.
    s.write(
        "bad/bad.toml",
        "name = \"bad\"\n[[steps]]\nname = \"d\"\ndaemon = \"sleep 1\"\n[[steps]]\nwait_log = { daemon = \"d\", pattern = 'Up(', regex = true }\n",
    );
    let o = netrig(&["check", "bad/bad.toml"], &s.0);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad.toml:5:1"), "{}", text(&o));
}
