//! Every input is bounded: what would take memory or time without end is a
//! clear error (exit 2) or a clean cut, fast. Only the output flood needs
//! root (it runs a case).

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

/// `netrig args...` in `cwd`; its status and the peak resident memory (KiB)
/// of it and every descendant it reaped (the case process, its steps).
fn run_measured(args: &[&str], cwd: &std::path::Path) -> (std::process::Output, i64) {
    let child = std::process::Command::new(NETRIG)
        .args(args)
        .current_dir(cwd)
        .env_remove("CI")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running netrig");
    let pid = child.id() as i32;
    // Read the pipes on threads so a chatty netrig cannot block on them.
    let mut child = child;
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut b);
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut b);
        b
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child; wait4 reports its resource use,
    // including (ru_maxrss) the largest of its reaped descendants.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let output = std::process::Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stdout: t1.join().expect("stdout reader"),
        stderr: t2.join().expect("stderr reader"),
    };
    (output, ru.ru_maxrss)
}

/// 500 MB without a newline, then 100 MB of short lines, from a `run` step
/// and from a daemon: each log is cut at its cap with the cut said (in the
/// log and in result.json, with the exact byte count), a long line is cut
/// at LINE_MAX, `wait_log` and `expect.stdout` still see the last line, and
/// the case stays well under 200 MB of memory. Before the bounds it held
/// all of it in memory and searched it from the start on every read
/// (quadratic): the case ran into its timeout.
#[test]
fn an_output_flood_is_cut_in_bounded_memory() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("bounds-flood");
    let flood = "head -c 500000000 /dev/zero | tr '\\\\0' x; echo; yes | head -c 100000000";
    s.write(
        "flood.toml",
        &format!(
            "name = \"flood\"\ntimeout = \"120s\"\n{PAIR}\n\
             [[steps]]\nname = \"talker\"\nnode = \"b\"\n\
             daemon = \"{flood}; echo flood-done; exec sleep 1000\"\n\
             [[steps]]\nwait_log = {{ daemon = \"talker\", pattern = \"flood-done\" }}\ntimeout = \"100s\"\n\
             [[steps]]\nname = \"burst\"\nnode = \"a\"\nrun = \"{flood}; echo run-done\"\n\
             expect = {{ stdout = [\"run-done\"] }}\n"
        ),
    );
    let t = Instant::now();
    let (o, maxrss_kib) = run_measured(&["run", "flood.toml", "--results", "res"], &s.0);
    eprintln!(
        "flood: {:.1} s, peak RSS {} MiB",
        t.elapsed().as_secs_f64(),
        maxrss_kib / 1024
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = s.path("res/latest/flood");
    let result: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("result.json")).expect("result.json"),
    )
    .expect("result.json parses");
    assert_eq!(result["state"], "pass", "{result:#}");
    // Everything printed, counted to the byte: 500 MB, a newline, 100 MB,
    // then the last line.
    for (proc, last) in [("talker", "flood-done\n"), ("burst", "run-done\n")] {
        let p = result["processes"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|p| p["name"].as_str().is_some_and(|n| n.contains(proc)))
            })
            .unwrap_or_else(|| panic!("no process {proc}: {result:#}"));
        assert_eq!(
            p["output_cut"].as_u64(),
            Some(600_000_001 + last.len() as u64),
            "{proc}: {p:#}"
        );
        let log = dir.join(p["log"].as_str().expect("log name"));
        let size = std::fs::metadata(&log).expect("log").len();
        assert!(size <= (16 << 20) + 1024, "{proc}: log of {size} bytes");
        let text = std::fs::read(&log).expect("log");
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.contains(" [netrig: line cut after 65536 bytes]\n"),
            "{proc}: the long line's cut is said"
        );
        assert!(
            text.contains("[netrig: output cut after "),
            "{proc}: the log's cut is said"
        );
        assert!(
            text.contains("[netrig: 600000")
                && text.trim_end().ends_with("bytes of output in all]"),
            "{proc}: the total is said last"
        );
    }
    assert!(
        maxrss_kib < 200 * 1024,
        "peak RSS {maxrss_kib} KiB for 1.2 GB of output"
    );
}
