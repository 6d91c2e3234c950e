//! Text from files reaches the terminal escaped: an interface name, a route
//! device, a variant value or a file name holding ESC, BEL or CR is printed
//! as `\u{1b}`, never as a control sequence that recolours, clears or
//! retitles the terminal of whoever runs `check`, `run` or `ls`. Interface
//! names follow the kernel's rules, control characters refused besides.

mod run_common;
use run_common::*;

/// No raw control character (but newline) in what netrig printed.
fn assert_no_controls(o: &std::process::Output, what: &str) {
    for (stream, b) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        let s = String::from_utf8_lossy(b);
        let bad: Vec<char> = s.chars().filter(|&c| c.is_control() && c != '\n').collect();
        assert!(bad.is_empty(), "{what}: raw {bad:?} on {stream}:\n{s}");
    }
}

const NO_COLOR: [(&str, &str); 1] = [("NO_COLOR", "1")];

#[test]
fn interface_names_follow_the_kernels_rules_and_errors_escape_them() {
    let s = Scratch::new("esc-iface");
    s.write(
        "bad.toml",
        "name = \"esc\"\n[nodes.a]\n[nodes.b]\n[[links]]\n\
         ends = [\"a:\\u001b[31mx 192.0.2.1/24\", \"b:eth0 192.0.2.2/24\"]\n\
         [[routes]]\nnode = \"b\"\nto = \"198.18.0.0/24\"\ndev = \"\\u001b]0;pwned\\u0007\"\n",
    );
    let o = netrig_env(&["check", "bad.toml"], &s.0, &NO_COLOR);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_no_controls(&o, "check");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:5:12: invalid interface name `\\u{1b}[31mx`"),
        "{err}"
    );
    assert!(
        err.contains("has no interface `\\u{1b}]0;pwned\\u{7}`"),
        "{err}"
    );
    // The kernel's rules (1 to 15 bytes; no `/`, no whitespace; not `.` or
    // `..`), plus control characters. (Whitespace separates the words of an
    // end, so it never reaches a name.)
    for bad in [
        ".",
        "..",
        "a/b",
        "a\\u0007b",
        "a\\u007fb",
        "a\\u009bb",
        "sixteen-bytes-xx",
    ] {
        s.write(
            "one.toml",
            &format!(
                "name = \"one\"\n[nodes.a]\n[nodes.b]\n[[links]]\n\
                 ends = [\"a:{bad} 192.0.2.1/24\", \"b:eth0 192.0.2.2/24\"]\n"
            ),
        );
        let o = netrig_env(&["check", "one.toml"], &s.0, &NO_COLOR);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert_no_controls(&o, bad);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("one.toml:5:") && err.contains("interface name"),
            "{bad}: {err}"
        );
    }
    // Fifteen bytes, and characters the kernel allows, are fine.
    s.write(
        "ok.toml",
        "name = \"ok\"\n[nodes.a]\n[nodes.b]\n[[links]]\n\
         ends = [\"a:fifteen-bytes-x 192.0.2.1/24\", \"b:v.lan-é 192.0.2.2/24\"]\n",
    );
    let o = netrig_env(&["check", "ok.toml"], &s.0, &NO_COLOR);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A variant value is anything; the case name it makes is printed escaped
/// by `check`, `list` and `run`.
#[test]
fn case_names_from_variant_values_are_printed_escaped() {
    let s = Scratch::new("esc-case");
    s.write(
        "sc.toml",
        "name = \"v\"\nvariants = { x = [\"\\u001b[2J\\u001b]0;t\\u0007\", \"b\"] }\n\
         [nodes.a]\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n",
    );
    let shown = "v[x=\\u{1b}[2J\\u{1b}]0;t\\u{7}]";
    let mut cmds: Vec<Vec<&str>> = vec![vec!["check", "sc.toml"], vec!["list", "sc.toml"]];
    if have_root() {
        cmds.push(vec!["run", "sc.toml", "--results", "res"]);
    }
    for args in cmds {
        let o = netrig_env(&args, &s.0, &NO_COLOR);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert_no_controls(&o, args[0]);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(shown),
            "{args:?}: {}",
            text(&o)
        );
    }
}

/// `ls` prints the path `up` was given, which may hold anything.
#[test]
fn ls_prints_the_topology_path_escaped() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("esc-ls");
    let seed = std::fs::read_to_string(workspace().join("examples/seed.toml")).expect("seed");
    let file = "s\u{1b}[2J\u{7}eed.toml";
    s.write(file, &seed);
    let name = format!("esc{}", std::process::id() % 100000);
    let state = s.path("state");
    let env = [("NETRIG_STATE_DIR", state.to_str().unwrap())];
    let o = netrig_env(&["up", file, "--name", &name], &s.0, &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ls = netrig_env(&["ls"], &s.0, &env);
    let down = netrig_env(&["down", &name], &s.0, &env);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert_no_controls(&ls, "ls");
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("s\\u{1b}[2J\\u{7}eed.toml"),
        "{}",
        text(&ls)
    );
}
