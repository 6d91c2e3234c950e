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
