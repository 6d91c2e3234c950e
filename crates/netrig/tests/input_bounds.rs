//! Every input is bounded: what would take memory or time without end is a
//! clear error (exit 2), fast. None of these needs root.

mod run_common;
use run_common::*;
use std::time::{Duration, Instant};

/// `netrig args...` in `cwd`, which must end within `limit`.
fn quick(args: &[&str], cwd: &std::path::Path, limit: Duration) -> std::process::Output {
    let t = Instant::now();
    let o = netrig(args, cwd);
    assert!(t.elapsed() < limit, "took {:?}: {}", t.elapsed(), text(&o));
    o
}

#[test]
fn a_variant_explosion_is_refused_before_it_is_expanded() {
    let s = Scratch::new("bounds-variants");
    let keys: Vec<String> = (0..10)
        .map(|k| format!("k{k} = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"))
        .collect();
    let f = s.write(
        "many.toml",
        &format!(
            "name = \"many\"\nvariants = {{ {} }}\n{PAIR}\n[[steps]]\nrun = \"true\"\n",
            keys.join(", ")
        ),
    );
    for cmd in ["check", "list", "run"] {
        let o = quick(
            &[cmd, &f.display().to_string()],
            &s.0,
            Duration::from_secs(20),
        );
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        assert!(
            text(&o).contains("more than 10000 cases"),
            "{cmd}: {}",
            text(&o)
        );
        assert!(text(&o).contains("many.toml:2:"), "located: {}", text(&o));
    }
}

#[test]
fn a_topology_that_is_not_a_regular_file_is_refused() {
    let s = Scratch::new("bounds-files");
    let fifo = s.path("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|st| st.success());
    assert!(made, "mkfifo");
    for target in ["/dev/zero", fifo.to_str().unwrap_or_default()] {
        let f = s.write(
            "ref.toml",
            &format!("name = \"ref\"\ntopology = \"{target}\"\n\n[[steps]]\nrun = \"true\"\n"),
        );
        let o = quick(
            &["check", &f.display().to_string()],
            &s.0,
            Duration::from_secs(10),
        );
        assert_eq!(o.status.code(), Some(2), "{target}: {}", text(&o));
        // A FIFO named .toml is refused for its type, /dev/zero already for its name.
        assert!(
            text(&o).contains("not a regular file") || text(&o).contains("not a .toml file"),
            "{target}: {}",
            text(&o)
        );
        // Named directly too.
        let o = quick(&["check", target], &s.0, Duration::from_secs(10));
        assert_eq!(o.status.code(), Some(2), "{target}: {}", text(&o));
    }
}

#[test]
fn a_suite_folder_with_a_symlink_loop_is_walked_once() {
    let s = Scratch::new("bounds-loop");
    s.write(
        "suite/hello.toml",
        &format!("name = \"hello\"\n{PAIR}\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n"),
    );
    std::os::unix::fs::symlink(".", s.path("suite/loop")).expect("symlink");
    let o = quick(
        &["list", &s.path("suite").display().to_string()],
        &s.0,
        Duration::from_secs(10),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let listed = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with("hello"))
        .count();
    assert_eq!(listed, 1, "{}", text(&o));
}
