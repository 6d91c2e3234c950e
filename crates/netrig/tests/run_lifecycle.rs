//! Lifecycle of `netrig run`: timeouts kill whole process trees, skips carry
//! their reason, variant and matrix names, partitions, bad input.

mod run_common;
use run_common::*;

#[test]
fn hanging_cases_are_killed_with_every_process_and_others_survive() {
    let s = Scratch::new("hang");
    // A daemon plus a hanging step, in a lab.
    s.write(
        "suite/hang.toml",
        &format!(
            "name = \"hang\"\ntimeout = \"1500ms\"\n{PAIR}\n[[steps]]\nnode = \"b\"\ndaemon = \"exec sh -c 'while sleep 0.05; do echo tick; done # 987651'\"\n[[steps]]\nnode = \"a\"\nrun = \"echo reached-the-hang; sleep 987652\"\n"
        ),
    );
    // An executable whose grandchild escapes its process group and session.
    s.exec(
        "suite/escape.sh",
        "#!/bin/sh\n# netrig: timeout=1500ms\necho escaping now\nsetsid sh -c 'sleep 987653' &\nsleep 987654\n",
    );
    for i in 0..3 {
        s.write(
            &format!("suite/quick{i}.toml"),
            &format!("name = \"quick{i}\"\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"echo fine\"\nexpect.stdout = \"fine\"\n"),
        );
    }
    let t = std::time::Instant::now();
    let (code, rep, out) = run_json(&["suite", "-j", "2", "--results", "res"], &s.0);
    assert!(
        t.elapsed().as_secs_f64() < 10.0,
        "took {:?}\n{out}",
        t.elapsed()
    );
    assert_eq!(code, 3, "timeouts exit 3\n{out}");
    for name in ["hang", "escape.sh"] {
        let c = case(&rep, name);
        assert_eq!(c["state"], "timeout", "{name}: {c:#}");
        let reason = c["reason"].as_str().unwrap_or("");
        assert!(reason.contains("killed with every process"), "{reason}");
        assert!(
            reason.contains("alive but slow"),
            "heartbeat diagnosis: {reason}"
        );
    }
    assert!(case(&rep, "hang")["reason"]
        .as_str()
        .unwrap_or("")
        .contains("in step 2"));
    for i in 0..3 {
        let c = case(&rep, &format!("quick{i}"));
        assert_eq!(c["state"], "pass", "{c:#}");
    }
    // A killed case still has its result.json, written by the runner: the
    // timeout, the step it reached and what it had printed by then.
    for (name, step, printed) in [
        (
            "hang",
            "run a: echo reached-the-hang; sleep 987652",
            "reached-the-hang",
        ),
        ("escape.sh", "escape.sh", "escaping now"),
    ] {
        let f = s.path(&format!("res/latest/{name}/result.json"));
        let r: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}\n{out}", f.display())),
        )
        .expect("json");
        assert_eq!(r["state"], "timeout", "{r:#}");
        assert_eq!(r["reason"], case(&rep, name)["reason"], "{r:#}");
        let last = r["subtests"]
            .as_array()
            .and_then(|a| a.last())
            .unwrap_or_else(|| panic!("no step in {r:#}"));
        assert_eq!(last["state"], "timeout", "{r:#}");
        assert_eq!(last["name"], step, "{r:#}");
        // The step it hung in, not the daemon that kept talking meanwhile.
        let output = r["output"].as_str().unwrap_or("");
        assert!(output.contains(printed), "{name}: output {output:?}");
        assert!(!output.contains("tick"), "{name}: output {output:?}");
        assert!(r["duration_s"].as_f64().unwrap_or(0.0) >= 1.5, "{r:#}");
    }
    // Nothing the hanging cases started may outlive them.
    let left = procs_with("98765");
    assert!(left.is_empty(), "leftover processes: {left:?}");
    // Results of the others are on disk, complete.
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.path("res/latest/quick1/result.json")).expect("result.json"),
    )
    .expect("json");
    assert_eq!(r["state"], "pass");
}

#[test]
fn unmet_requirements_skip_with_their_reason() {
    let s = Scratch::new("skip");
    s.write(
        "suite/cmd.toml",
        &format!("name = \"needs-cmd\"\nrequires = {{ commands = [\"netrig-no-such-command\"] }}\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n"),
    );
    s.write(
        "suite/kernel.toml",
        &format!("name = \"needs-kernel\"\nrequires = {{ kernel = \"99.1\" }}\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n"),
    );
    s.write(
        "suite/kconfig.toml",
        &format!("name = \"needs-kconfig\"\nrequires = {{ kconfig = [\"CONFIG_NETRIG_NOT_A_REAL_OPTION\"] }}\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n"),
    );
    s.exec(
        "suite/ksft_skip.sh",
        "#!/bin/sh\necho 'SKIP: no widget here'\nexit 4\n",
    );
    let o = netrig(&["run", "suite", "--results", "res"], &s.0);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "skips alone exit 0\n{out}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    for (name, why) in [
        (
            "needs-cmd",
            "requires command `netrig-no-such-command`, not found on PATH",
        ),
        ("needs-kernel", "requires kernel >= 99.1"),
        ("needs-kconfig", "CONFIG_NETRIG_NOT_A_REAL_OPTION"),
        ("ksft_skip.sh", "no widget here"),
    ] {
        let line = stdout
            .lines()
            .position(|l| l.starts_with(&format!("TEST: {name} ")))
            .unwrap_or_else(|| panic!("no line for {name}\n{out}"));
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(lines[line].contains("[SKIP]"), "{}", lines[line]);
        assert!(
            lines[line + 1].contains(why),
            "{name}: {}\n{out}",
            lines[line + 1]
        );
    }
    assert!(stdout.contains("skipped  4"), "{out}");
}

#[test]
fn variants_expand_with_readable_names() {
    let s = Scratch::new("variants");
    s.write(
        "v.toml",
        &format!("name = \"fam\"\nvariants = {{ family = [\"ipv4\", \"ipv6\"], weights = [[1,1],[2,1]] }}\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"echo {{family}} {{weights}}\"\nexpect.stdout = \"{{family}} {{weights}}\"\n"),
    );
    let o = netrig(&["list", "v.toml"], &s.0);
    let names: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(
        names,
        [
            "fam[family=ipv4,weights=1:1]",
            "fam[family=ipv4,weights=2:1]",
            "fam[family=ipv6,weights=1:1]",
            "fam[family=ipv6,weights=2:1]"
        ],
        "{}",
        text(&o)
    );
    let (code, rep, out) = run_json(&["v.toml", "--results", "res"], &s.0);
    assert_eq!(code, 0, "{out}");
    assert_eq!(rep["cases"].as_array().map(|a| a.len()), Some(4));
    // The substituted command really ran: its output is in the step log.
    let log = std::fs::read_to_string(
        s.path("res/latest/fam[family=ipv6,weights=2:1]/01-run_a__echo_ipv6_2_1.log"),
    )
    .unwrap_or_else(|e| panic!("log: {e}\n{out}"));
    assert!(log.contains("out| ipv6 2:1"), "{log}");
}

#[test]
fn matrix_runs_every_pair_and_reports_the_failing_one() {
    let s = Scratch::new("matrix");
    s.write(
        "m.toml",
        &format!(
            "name = \"m\"\n{PAIR}\n[matrix]\nclient_node = \"a\"\nserver_node = \"b\"\nclients = {{ plain = \"true\", picky = \"echo picky; test {{server}} = good\" }}\nservers = {{ good = \"echo serving good; exec sleep 1000\", bad = \"echo serving bad; exec sleep 1000\" }}\n"
        ),
    );
    let (code, rep, out) = run_json(&["m.toml", "--results", "res"], &s.0);
    assert_eq!(code, 1, "one failing pair exits 1\n{out}");
    let states: Vec<(String, String)> = rep["cases"]
        .as_array()
        .map(|a| {
            let mut v: Vec<_> = a
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_string(),
                        c["state"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default();
    assert_eq!(
        states,
        [
            ("m[picky_x_bad]".to_string(), "fail".to_string()),
            ("m[picky_x_good]".to_string(), "pass".to_string()),
            ("m[plain_x_bad]".to_string(), "pass".to_string()),
            ("m[plain_x_good]".to_string(), "pass".to_string()),
        ],
        "{out}"
    );
    // Both sides' exit status and logs are kept.
    let bad = case(&rep, "m[picky_x_bad]");
    let procs = bad["processes"].as_array().cloned().unwrap_or_default();
    let server = procs
        .iter()
        .find(|p| p["name"] == "server")
        .expect("server record");
    let client = procs
        .iter()
        .find(|p| p["name"].as_str().is_some_and(|n| n.contains("client")))
        .expect("client record");
    assert_eq!(client["exit"], 1, "{bad:#}");
    assert_eq!(server["killed_at_end"], true, "{bad:#}");
    // Teardown's SIGTERM ends it (SIGKILL only after the grace period).
    assert_eq!(server["signal"], 15, "{bad:#}");
    let dir = s.path("res/latest/m[picky_x_bad]");
    let slog = std::fs::read_to_string(dir.join("server.log")).expect("server.log");
    assert!(slog.contains("serving bad"), "{slog}");
    let clog = std::fs::read_to_string(dir.join(client["log"].as_str().unwrap_or("")))
        .expect("client log");
    assert!(clog.contains("picky"), "{clog}");
}

#[test]
fn partitions_cover_every_case_exactly_once() {
    let s = Scratch::new("partition");
    for i in 0..7 {
        s.write(
            &format!("suite/t{i}.toml"),
            &format!("name = \"t{i}\"\n[[steps]]\nrun = \"true\"\n"),
        );
    }
    s.write(
        "suite/v.toml",
        "name = \"v\"\nvariants = { n = [1, 2, 3, 4, 5] }\n[[steps]]\nrun = \"test {n} -gt 0\"\n",
    );
    s.exec("suite/x.sh", "#!/bin/sh\nexit 0\n");
    let list = |extra: &[&str]| -> Vec<String> {
        let mut a = vec!["list", "suite"];
        a.extend_from_slice(extra);
        let o = netrig(&a, &s.0);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    let mut all = list(&[]);
    all.sort();
    assert_eq!(all.len(), 13);
    for n in [1usize, 2, 3, 5, 13, 20] {
        let mut union = Vec::new();
        for k in 1..=n {
            let part = list(&["--partition", &format!("{k}/{n}")]);
            assert!(
                part.len() <= all.len().div_ceil(n),
                "shard {k}/{n} too big: {part:?}"
            );
            union.extend(part);
        }
        union.sort();
        assert_eq!(union, all, "partitions of {n}");
    }
    // Shards run separately merge into the full report.
    let mut files = Vec::new();
    for k in 1..=3 {
        let f = format!("shard{k}.json");
        let o = netrig(
            &[
                "run",
                "suite",
                "--partition",
                &format!("{k}/3"),
                "--results",
                "res",
                "--tag",
                &format!("s{k}"),
                "--format",
                "json",
                "-o",
                &f,
            ],
            &s.0,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        files.push(f);
    }
    let mut a = vec!["report", "merge", "--format", "json"];
    a.extend(files.iter().map(String::as_str));
    let o = netrig(&a, &s.0);
    let merged: serde_json::Value = serde_json::from_slice(&o.stdout).expect("merged json");
    let mut names: Vec<String> = merged["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names, all);
    assert!(
        netrig(&["run", "suite", "--partition", "4/3"], &s.0)
            .status
            .code()
            == Some(2)
    );
}

#[test]
fn bad_input_exits_2_with_location_and_runs_nothing() {
    let s = Scratch::new("bad");
    s.write(
        "suite/typo.toml",
        &format!("name = \"typo\"\n{PAIR}\n[[steps]]\nnode = \"a\"\nrnu = \"true\"\n"),
    );
    s.write(
        "suite/node.toml",
        &format!("name = \"node\"\n{PAIR}\n[[steps]]\nnode = \"zz\"\nrun = \"true\"\n"),
    );
    let o = netrig(&["run", "suite", "--results", "res"], &s.0);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("typo.toml:10:1"), "{out}");
    assert!(out.contains("unknown node `zz`"), "{out}");
    assert!(
        !s.path("res").exists(),
        "nothing may be created on bad input"
    );
    let o = netrig(&["run", "no-such-suite"], &s.0);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn retries_mark_flaky_cases_and_xfail_is_honoured() {
    let s = Scratch::new("retry");
    // Fails on the first attempt, passes on the second (state kept in a file).
    let marker = s.path("seen");
    s.write(
        "suite/flaky.toml",
        &format!("name = \"flaky\"\n[[steps]]\nrun = \"if [ -e {m} ]; then exit 0; else touch {m}; exit 1; fi\"\n", m = marker.display()),
    );
    s.write(
        "suite/known.toml",
        "name = \"known\"\nxfail = \"bug 42\"\n[[steps]]\nrun = \"false\"\n",
    );
    let (code, rep, out) = run_json(&["suite", "--retries", "2", "--results", "res"], &s.0);
    assert_eq!(code, 0, "{out}");
    let f = case(&rep, "flaky");
    assert_eq!(
        (
            f["state"].as_str(),
            f["attempt"].as_u64(),
            f["flaky"].as_bool()
        ),
        (Some("pass"), Some(2), Some(true)),
        "{f:#}"
    );
    let k = case(&rep, "known");
    assert_eq!(k["state"], "xfail", "{k:#}");
    assert!(k["reason"].as_str().unwrap_or("").contains("bug 42"));
}

#[test]
fn fail_fast_stops_scheduling_after_the_first_failure() {
    let s = Scratch::new("failfast");
    s.write(
        "suite/a_fails.toml",
        "name = \"a-fails\"\n[[steps]]\nrun = \"exit 1\"\n",
    );
    for i in 0..4 {
        s.write(
            &format!("suite/b{i}.toml"),
            &format!("name = \"b{i}\"\n[[steps]]\nrun = \"true\"\n"),
        );
    }
    let (code, rep, out) = run_json(
        &["suite", "-j", "1", "--fail-fast", "--results", "res"],
        &s.0,
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(case(&rep, "a-fails")["state"], "fail");
    for i in 0..4 {
        let c = case(&rep, &format!("b{i}"));
        assert_eq!(c["state"], "skip", "{c:#}");
        assert!(c["reason"].as_str().unwrap_or("").contains("--fail-fast"));
    }
}

#[test]
fn killing_the_runner_takes_every_case_process_with_it() {
    let s = Scratch::new("kill9");
    s.write(
        "suite/hang.toml",
        &format!("name = \"hang\"\ntimeout = \"60s\"\n{PAIR}\n[[steps]]\nnode = \"b\"\ndaemon = \"exec sleep 987661\"\n[[steps]]\nnode = \"a\"\nrun = \"setsid sleep 987662 & sleep 987663\"\n"),
    );
    let mut child = std::process::Command::new(NETRIG)
        .args(["run", "suite", "--results", "res"])
        .current_dir(&s.0)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("netrig run");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while procs_with("98766").len() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        procs_with("98766").len(),
        4,
        "the case did not start: {:?}",
        procs_with("98766")
    );
    let _ = child.kill(); // SIGKILL: no cleanup code of ours runs
    let _ = child.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !procs_with("98766").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        procs_with("98766").is_empty(),
        "left behind: {:?}",
        procs_with("98766")
    );
}

/// kselftest's per-directory `settings` file sets the timeout of the
/// executables beside it; `--timeout` and `--timeout-multiplier` override it;
/// a settings file netrig cannot honour is bad input with its location.
#[test]
fn kselftest_settings_timeouts_and_their_command_line_overrides() {
    let s = Scratch::new("settings");
    s.write("suite/net/settings", "# as in the kernel tree\ntimeout=1\n");
    s.exec(
        "suite/net/slow.sh",
        "#!/bin/sh\necho slow test started\nsleep 3\necho slow test done\n",
    );
    // A file's own header is more specific than its directory's settings.
    s.exec(
        "suite/net/own.sh",
        "#!/bin/sh\n# netrig: timeout=20s\nsleep 3\n",
    );
    // Settings reach only their own directory.
    s.exec("suite/other/quick.sh", "#!/bin/sh\ntrue\n");
    let o = netrig(&["list", "suite"], &s.0);
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    let timeout_of = |listed: &str, name: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_else(|| panic!("{name} not listed:\n{listed}"))
    };
    assert_eq!(timeout_of(&listed, "slow.sh"), "1s", "{}", text(&o));
    assert_eq!(timeout_of(&listed, "own.sh"), "20s", "{}", text(&o));
    assert_eq!(timeout_of(&listed, "quick.sh"), "60s", "{}", text(&o));

    let (code, rep, out) = run_json(&["suite/net", "--results", "res", "--tag", "a"], &s.0);
    assert_eq!(code, 3, "{out}");
    assert_eq!(case(&rep, "slow.sh")["state"], "timeout", "{out}");
    assert_eq!(case(&rep, "own.sh")["state"], "pass", "{out}");
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.path("res/a/slow.sh/result.json")).expect("result.json"),
    )
    .expect("json");
    assert_eq!(r["state"], "timeout", "{r:#}");
    assert!(
        r["output"]
            .as_str()
            .unwrap_or("")
            .contains("slow test started"),
        "{r:#}"
    );

    for args in [
        ["--timeout", "10s"],
        ["--timeout", "10"],
        ["--timeout-multiplier", "10"],
    ] {
        let o = netrig(&["list", "suite/net", args[0], args[1]], &s.0);
        assert_eq!(
            timeout_of(&String::from_utf8_lossy(&o.stdout), "slow.sh"),
            "10s",
            "{}",
            text(&o)
        );
    }
    let (code, rep, out) = run_json(
        &[
            "suite/net",
            "slow",
            "--results",
            "res",
            "--tag",
            "b",
            "--timeout",
            "10s",
        ],
        &s.0,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(case(&rep, "slow.sh")["state"], "pass", "{out}");
    let o = netrig(&["list", "suite/net", "--timeout", "0"], &s.0);
    assert_eq!(
        timeout_of(&String::from_utf8_lossy(&o.stdout), "slow.sh"),
        "none",
        "{}",
        text(&o)
    );
    // kselftest's timeout=0 (net/forwarding has it): no timeout at all.
    s.write("suite/net/settings", "timeout=0\n");
    let (code, rep, out) = run_json(
        &["suite/net", "slow", "--results", "res", "--tag", "c"],
        &s.0,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(case(&rep, "slow.sh")["state"], "pass", "{out}");

    // Bad values on the command line: usage errors that say what to write.
    for (args, says) in [
        (vec!["--timeout", "soon"], "not a duration"),
        (vec!["--timeout=-5s"], "not a duration"),
        (vec!["--timeout-multiplier", "0"], "not a factor"),
        (vec!["--timeout-multiplier", "nan"], "not a factor"),
        (
            vec!["--timeout", "5s", "--timeout-multiplier", "2"],
            "cannot be used with",
        ),
    ] {
        let mut a = vec!["run", "suite/net", "--results", "bad"];
        a.extend(args.iter().copied());
        let o = netrig(&a, &s.0);
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", text(&o));
        assert!(text(&o).contains(says), "{args:?}\n{}", text(&o));
    }

    // A settings value netrig cannot read: file:line:col, exit 2, nothing run.
    for (settings, at, says) in [
        ("# x\ntimeout=soon\n", ":2:9:", "malformed timeout `soon`"),
        ("timeout=-1\n", ":1:9:", "malformed timeout"),
        ("  timout=10\n", ":1:3:", "unknown setting `timout`"),
        ("timeout\n", ":1:1:", "not field=value"),
    ] {
        s.write("suite/net/settings", settings);
        for cmd in [
            &["run", "suite", "--results", "bad"][..],
            &["list", "suite"],
        ] {
            let o = netrig(cmd, &s.0);
            let all = text(&o);
            assert_eq!(o.status.code(), Some(2), "{settings:?}\n{all}");
            assert!(
                all.contains(&format!("suite/net/settings{at}")) && all.contains(says),
                "{settings:?}\n{all}"
            );
            // Reported once, not once per executable of the directory.
            assert_eq!(all.matches(says).count(), 1, "{all}");
        }
        assert!(!s.path("bad").exists(), "nothing may run");
    }
}
