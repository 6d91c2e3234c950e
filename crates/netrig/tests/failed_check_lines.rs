//! A failed case points the console (and result.json's `failed_at`) at the
//! line of the scenario that failed: the failing check's own `expect` key,
//! wherever it is written (a dotted key, an inline table, a
//! `[steps.expect]` table, an included file), or the step for a check it
//! makes by default.

mod run_common;
use run_common::*;

/// `(what, "file:line:col")` of each `failed_at` of a case's failed step.
fn failed_at(report: &serde_json::Value, name: &str) -> Vec<(String, String)> {
    let c = case(report, name);
    c["subtests"]
        .as_array()
        .expect("subtests")
        .iter()
        .flat_map(|st| st["failed_at"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            (
                a["what"].as_str().unwrap_or_default().to_string(),
                format!(
                    "{}:{}:{}",
                    a["file"].as_str().unwrap_or_default(),
                    a["line"],
                    a["col"]
                ),
            )
        })
        .collect()
}

#[test]
fn a_failed_check_points_at_its_own_line() {
    let s = Scratch::new("checklines");
    s.write(
        "json.toml",
        "name = \"json\"\n[[steps]]\nrun = \"true\"\n[[steps]]\nrun = \"echo '{\\\"peers\\\": 1}'\"\n[steps.expect]\nexit = 0\nstdout = \"peers\"\njson = [{ path = \"/peers\", equals = 2 }]\n",
    );
    s.write(
        "retry.toml",
        "name = \"retry\"\n[[steps]]\nretry = { cmd = \"echo no\" }\ntimeout = \"300ms\"\nexpect = { exit = 0, stdout = \"yes\" }\n",
    );
    s.write(
        "exit.toml",
        "name = \"exit\"\n\n[[steps]]\nrun = \"exit 3\"\n",
    );
    s.write(
        "inc.toml",
        "name = \"inc\"\n[[steps]]\ninclude = \"shared/block.toml\"\n",
    );
    s.write(
        "shared/block.toml",
        "# a shared block\n[[shared_steps]]\nrun = \"echo hello\"\nexpect.stdout = \"bye\"\n",
    );
    s.write(
        "xpass.toml",
        "name = \"xpass\"\n[[steps]]\nrun = \"true\"\nexpect.fail = true\n",
    );
    let mut want = vec![
        ("json", "expect.json", "./json.toml:9:1"),
        ("retry", "expect.stdout", "./retry.toml:5:22"),
        ("exit", "step 1", "./exit.toml:3:1"),
        ("inc", "expect.stdout", "./shared/block.toml:4:8"),
        ("xpass", "expect.fail", "./xpass.toml:4:8"),
    ];
    if have_root() {
        // A split verdict over a real lab, with the weights swapped.
        let seed = workspace().join("examples/seed.toml");
        s.write(
            "split.toml",
            &format!(
                "name = \"split\"\ntopology = \"{}\"\n[[steps]]\ntraffic = {{ from = \"h1\", to = \"198.18.0.1\", udp = \"sp=1024,dp=1-4000\" }}\nexpect.affinity = [\"r1:eth1\", \"r1:eth2\"]\nexpect.split = {{ over = [\"r1:eth1\", \"r1:eth2\"], weights = [45, 11] }}\n",
                seed.display()
            ),
        );
        want.push(("split", "expect.split", "./split.toml:6:8"));
    }
    let (code, report, out) = run_json(&[".", "--results", "res"], &s.0);
    assert_eq!(code, 1, "{out}");
    for (name, what, at) in want {
        assert_eq!(case(&report, name)["state"], "fail", "{out}");
        assert_eq!(
            failed_at(&report, name),
            [(what.to_string(), at.to_string())],
            "{name}: {out}"
        );
        // The console shows it under the case.
        let block = out
            .split("TEST: ")
            .find(|b| b.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no console block for {name}: {out}"));
        assert!(
            block.contains(&format!("\n      at {at} {what}\n")),
            "{block}"
        );
    }
    // So does the JUnit failure a CI page shows.
    let junit = std::fs::read_to_string(s.path("res/latest/junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("  at ./json.toml:9:1 expect.json\n"),
        "{junit}"
    );
}
