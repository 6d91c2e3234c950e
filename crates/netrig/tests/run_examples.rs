//! `netrig run examples`: the bundled suite passes, as root and rootless.

mod run_common;
use run_common::*;
use std::path::Path;

fn examples_pass(rootless: bool) {
    let s = Scratch::new(if rootless { "ex-rootless" } else { "ex-root" });
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    // A relative results folder, as a user types it, from a directory that is
    // not the scripts' own (executables run from theirs).
    let mut cmd = std::process::Command::new(NETRIG);
    cmd.arg("run")
        .arg(&examples)
        .arg("--results")
        .arg("res")
        .current_dir(s.path(""))
        .env_remove("CI");
    if rootless {
        cmd.env("NETRIG_ROOTLESS", "1");
    }
    let o = cmd.output().expect("netrig run");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("failed   0") && stdout.contains("broken   0"),
        "{out}"
    );
    assert!(
        stdout.contains(if rootless {
            "rootless mode"
        } else {
            "root mode"
        }),
        "{out}"
    );
    assert!(stdout.contains("TEST: echo-matrix[bash_x_py]"), "{out}");
}

#[test]
fn examples_pass_as_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "needs root, and CI is set: it must not pass without running"
        );
        eprintln!("not root: the rootless test covers this machine");
        return;
    }
    examples_pass(false);
}

#[test]
fn examples_pass_rootless() {
    examples_pass(true);
}
