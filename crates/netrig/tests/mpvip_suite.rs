//! The seed's multipath VIP suite (examples/multipath-vip): correct
//! configurations pass, each deliberately broken one fails by exactly the
//! check it is meant to break (never broken, never another check), an
//! expected failure that happens for the wrong reason is a failure, and
//! rootless runs skip the tracepoint cases with the reason. Needs root;
//! skips (passes with a note) otherwise.

mod run_common;
use run_common::*;

fn suite() -> String {
    workspace()
        .join("examples/multipath-vip")
        .display()
        .to_string()
}

fn cases(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["cases"].as_array().cloned().unwrap_or_default()
}

/// The subtests of a case that carry an expected failure, with their checks.
fn xfailed_checks(c: &serde_json::Value) -> Vec<Vec<String>> {
    c["subtests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["state"] == "xfail")
        .map(|s| {
            s["failed_checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .collect()
}

/// Broken configuration -> the one check that must fail it.
const BROKEN: [(&str, &str); 5] = [
    ("mpvip-broken-l3[", "split"),
    ("mpvip-broken-swapped[", "split"),
    ("mpvip-broken-nexthop[", "split"),
    ("mpvip-broken-drops[", "streams"),
    ("mpvip-broken-fib-hint[", "ratio"),
];

/// Every correct configuration passed, every broken one failed by exactly
/// its check (an xfail), nothing else happened.
fn assert_verdicts_hold(all: &[serde_json::Value]) {
    for c in all {
        let name = c["name"].as_str().unwrap_or_default();
        match BROKEN.iter().find(|(p, _)| name.starts_with(p)) {
            Some((_, check)) => {
                assert_eq!(c["state"], "xfail", "{name}: {c:#}");
                assert_eq!(
                    xfailed_checks(c),
                    vec![vec![check.to_string()]],
                    "{name} must fail by {check} alone: {c:#}"
                );
            }
            None => assert_eq!(c["state"], "pass", "{name}: {c:#}"),
        }
    }
}

#[test]
fn suite_passes_and_broken_configurations_fail_for_their_reason() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("mpvip");
    let (code, report, out) = run_json(&["-j", "2", &suite()], &scratch.0);
    assert_eq!(code, 0, "{out}");
    let all = cases(&report);
    assert_eq!(all.len(), 27, "{out}");
    assert_verdicts_hold(&all);
    // Every verdict says what it saw: the split ones name flows and the rule.
    let udp = case(&report, "mpvip-udp[family=ipv6,weights=11:45]");
    let msg = udp["subtests"][1]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("distinct flows over 2 paths, weights 11:45") && msg.contains("P(false fail)"),
        "{msg}"
    );
}

#[test]
fn an_expected_failure_for_the_wrong_reason_is_a_failure() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("mpvip-wrong");
    let seed = workspace().join("examples/seed.toml");
    // (case, hash policy on r1, the check claimed to fail): a correct split
    // claimed to fail; L3 hashing breaks the split while the file claims the
    // loss check; the same with the right claim.
    let mut files = Vec::new();
    for (k, policy, want) in [
        ("passes", 1, "split"),
        ("other-check", 0, "streams"),
        ("right-check", 0, "split"),
    ] {
        let text = format!(
            r#"name = "wrong-{k}"
topology = "{seed}"

[[steps]]
sysctl = {{ node = "r1", key = "net.ipv4.fib_multipath_hash_policy", value = {policy} }}

[[steps]]
traffic = {{ from = "h1", to = "198.18.0.1", udp = "sp=1024,dp=0-4095" }}
expect.split = {{ over = ["r1:eth1", "r1:eth2"], weights = [11, 45] }}
expect.streams = {{ over = ["r1:eth1", "r1:eth2"] }}
expect.fail = "{want}"
"#,
            seed = seed.display()
        );
        files.push(
            scratch
                .write(&format!("w-{k}.toml"), &text)
                .display()
                .to_string(),
        );
    }
    let mut a = vec!["-j", "2"];
    a.extend(files.iter().map(String::as_str));
    let (code, report, out) = run_json(&a, &scratch.0);
    assert_eq!(code, 1, "two cases must fail: {out}");
    let passes = case(&report, "wrong-passes");
    assert_eq!(passes["state"], "fail", "{passes:#}");
    assert!(
        passes["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("passed although marked expect.fail = split"),
        "{passes:#}"
    );
    let other = case(&report, "wrong-other-check");
    assert_eq!(other["state"], "fail", "{other:#}");
    assert!(
        other["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("expected to fail by streams, but failed by split"),
        "{other:#}"
    );
    let right = case(&report, "wrong-right-check");
    assert_eq!(right["state"], "xfail", "{right:#}");
}

#[test]
fn rootless_skips_tracepoint_cases_with_the_reason() {
    if !have_root() {
        return;
    }
    let scratch = Scratch::new("mpvip-rootless");
    let o = std::process::Command::new(NETRIG)
        .args(["run", "--format", "json", "-j", "2", &suite(), "fib"])
        .env("NETRIG_ROOTLESS", "1")
        .current_dir(&scratch.0)
        .output()
        .expect("running netrig");
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let all = cases(&report);
    assert_eq!(all.len(), 4, "{}", text(&o));
    for c in all {
        assert_eq!(c["state"], "skip", "{c:#}");
        let why = c["reason"].as_str().unwrap_or_default();
        assert!(
            why.contains("requires tracepoint") && why.contains("rootless"),
            "{why}"
        );
    }
    // The console shows the reason too.
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("needs root in the initial user namespace"),
        "{}",
        text(&o)
    );
}

#[test]
fn new_step_mistakes_are_located_input_errors() {
    let scratch = Scratch::new("mpvip-check");
    let seed = workspace().join("examples/seed.toml");
    let bad = [
        (
            "route = { node = \"r1\", to = \"198.18.0.0/24\", via = [\"198.51.100.2\", \"203.0.113.2\"], weights = [1] }",
            "2 gateways but 1 weights",
        ),
        (
            "route = { node = \"r1\", to = \"198.18.0.0/24\", via = \"198.51.100.2\", weights = [300] }",
            "outside 1..=256",
        ),
        (
            "probe = { from = \"h1\", to = \"198.18.0.1:7000\" }\nexpect.fail = \"ratio\"",
            "cannot fail by",
        ),
        (
            "traffic = { from = \"h1\", to = \"198.18.0.1\", udp = \"dp=1-10\" }\nexpect.ratio = { tracepoint = \"fib\", per = [\"r1:eth1\"], min = 1 }",
            "malformed tracepoint",
        ),
        (
            "traffic = { from = \"h1\", to = \"198.18.0.1\", udp = \"dp=1-10\" }\nexpect.streams = { over = [\"r1:eth9\"] }",
            "no interface `eth9`",
        ),
        (
            "offload = { node = \"r1\", iface = \"eth0\" }",
            "offload changes nothing",
        ),
        (
            "sysfs = { node = \"r1\", path = \"class/../x\", value = 1 }",
            "malformed sysfs path",
        ),
    ];
    for (i, (step, want)) in bad.iter().enumerate() {
        let f = scratch.write(
            &format!("bad{i}.toml"),
            &format!(
                "name = \"bad\"\ntopology = \"{}\"\n\n[[steps]]\n{step}\n",
                seed.display()
            ),
        );
        let o = netrig(&["run", &f.display().to_string()], &scratch.0);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(t.contains(want), "{want}: {t}");
        assert!(t.contains(&format!("bad{i}.toml:4:1")), "located: {t}");
    }
}

/// On a machine whose every core is busy (one busy loop per core, -j equal
/// to the cores: a shared CI runner), the verdicts are the same as idle:
/// correct configurations pass, broken ones fail for their stated reason,
/// and 20,000 tagged flows through r1 arrive without loss. A harness that
/// misses packets under load fails here. `NETRIG_LOAD_REPEAT=N` repeats the
/// whole suite N times in one run (default 1).
#[test]
fn verdicts_hold_under_cpu_load() {
    if !have_root() {
        return;
    }
    let repeat: usize = std::env::var("NETRIG_LOAD_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let scratch = Scratch::new("mpvip-load");
    let flows = workspace().join("examples/basic/flows-20k.toml");
    let _busy = BusyLoops::start();
    let (code, report, out) = run_json(
        &[
            "-j",
            &cores.to_string(),
            "--repeat",
            &repeat.to_string(),
            &suite(),
            &flows.display().to_string(),
        ],
        &scratch.0,
    );
    drop(_busy);
    let all = cases(&report);
    assert_eq!(all.len(), 28 * repeat, "{out}");
    assert_verdicts_hold(&all);
    assert_eq!(code, 0, "{out}");
    let flows = all
        .iter()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("flows-20k"))
        })
        .count();
    assert_eq!(flows, repeat, "{out}");
}
