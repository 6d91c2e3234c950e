//! Console manners: shell completions, and colour only where a person reads
//! it (a terminal, NO_COLOR unset) unless `--color` says otherwise.

mod run_common;
use run_common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F _netrig"),
        ("zsh", "#compdef netrig"),
        ("fish", "complete -c netrig"),
    ] {
        let o = netrig(&["completions", shell], Path::new("."));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(marker), "{shell}: no {marker:?} in\n{out}");
        // Subcommands and their options are offered.
        assert!(
            out.contains("report") && out.contains("--partition"),
            "{shell}"
        );
    }
    let o = netrig(&["completions", "tcsh"], Path::new("."));
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// `netrig run` of a one-case suite, stdout a terminal when `tty` (through
/// util-linux's `script`), with `env` set.
fn run_console(s: &Scratch, args: &[&str], tty: bool, env: &[(&str, &str)]) -> String {
    let mut a = vec!["run", "suite", "--results", "res"];
    a.extend_from_slice(args);
    if !tty {
        let o = netrig_env(&a, &s.0, env);
        return String::from_utf8_lossy(&o.stdout).into_owned();
    }
    let line = std::iter::once(NETRIG)
        .chain(a.iter().copied())
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let o = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(&s.0)
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("running script");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("manners");
    s.write(
        "suite/ok.toml",
        "name = \"ok\"\n[[steps]]\nrun = \"true\"\n",
    );
    let green = "\x1b[32m[ OK ]\x1b[0m";
    // A pipe: plain text, unless asked.
    let out = run_console(&s, &[], false, &[]);
    assert!(out.contains("[ OK ]") && !out.contains('\x1b'), "{out:?}");
    let out = run_console(&s, &["--color", "always"], false, &[("NO_COLOR", "1")]);
    assert!(
        out.contains(green),
        "--color always beats NO_COLOR: {out:?}"
    );
    let has_script = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("script").is_file()));
    if !has_script {
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "script (util-linux) is needed to test a terminal"
        );
        eprintln!("SKIP (terminal part): script is not installed (apt-get install util-linux)");
        return;
    }
    let out = run_console(&s, &[], true, &[]);
    assert!(out.contains(green), "a terminal gets colour: {out:?}");
    let out = run_console(&s, &[], true, &[("NO_COLOR", "1")]);
    assert!(
        out.contains("[ OK ]") && !out.contains("\x1b[32m"),
        "NO_COLOR: {out:?}"
    );
    let out = run_console(&s, &["--color", "never"], true, &[]);
    assert!(
        out.contains("[ OK ]") && !out.contains("\x1b[32m"),
        "never: {out:?}"
    );
}
