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
