//! A case's processes see a /run/netns and a /proc of the case's own: named
//! namespaces made inside (`ip netns add`, as the kernel's selftests do)
//! never reach the host or another case, and `ps`/`pgrep` see the case.

mod run_common;
use run_common::*;

fn host_netns() -> Vec<String> {
    dir_names("/run/netns")
}

/// Two copies of a script that makes a namespace with a fixed name run at
/// once: both pass, each sees only its own, and the host's /run/netns never
/// shows it.
#[test]
fn named_namespaces_stay_in_their_case() {
    if !have_root()
        || !std::path::Path::new("/usr/bin/ip").exists()
            && !std::path::Path::new("/sbin/ip").exists()
    {
        return;
    }
    let s = Scratch::new("netnsadd");
    s.exec(
        "suite/fixed-ns.sh",
        "#!/bin/sh\nset -e\nip netns add netrig-fixed-ns\n\
         test \"$(ip netns list)\" = netrig-fixed-ns\n\
         ip netns exec netrig-fixed-ns ip link set lo up\n\
         # stay a while, so the two copies overlap\n\
         sleep 1\n\
         test \"$(ip netns list)\" = netrig-fixed-ns\n",
    );
    // Only this test's name is watched: other tests (persistent labs) may
    // add and remove their own meanwhile.
    let ours = || {
        host_netns()
            .into_iter()
            .filter(|n| n.contains("netrig-fixed"))
            .collect::<Vec<_>>()
    };
    assert!(ours().is_empty(), "left from an earlier run");
    // Should isolation break, the test must not leave the namespace behind.
    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if std::path::Path::new("/run/netns/netrig-fixed-ns").exists() {
                let _ = std::process::Command::new("ip")
                    .args(["netns", "del", "netrig-fixed-ns"])
                    .status();
            }
        }
    }
    let _cleanup = Cleanup;
    let cwd = s.0.clone();
    let run = std::thread::spawn(move || {
        run_json(
            &["suite", "--repeat", "2", "-j", "2", "--results", "res"],
            &cwd,
        )
    });
    let mut seen_on_host = Vec::new();
    while !run.is_finished() {
        seen_on_host.extend(ours());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, report, out) = run.join().expect("run thread");
    let states: Vec<&str> = report["cases"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["state"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(states, ["pass", "pass"], "{out}");
    assert_eq!(code, 0, "{out}");
    assert!(seen_on_host.is_empty(), "the host saw {seen_on_host:?}");
    assert!(ours().is_empty(), "the host's /run/netns kept {:?}", ours());
}

/// /proc in a step is the case's: PID 1 is the case supervisor, and the
/// host's processes (this test's, say) are not there.
#[test]
fn steps_see_the_cases_processes() {
    let s = Scratch::new("procns");
    let me = std::process::id();
    s.write(
        "proc.toml",
        &format!(
            "name = \"proc\"\n[[steps]]\nname = \"d\"\ndaemon = \"exec sleep 1000\"\n[[steps]]\nrun = \"cat /proc/1/comm; pgrep -x sleep; test ! -e /proc/{me}\"\nexpect.stdout = \"netrig\"\n"
        ),
    );
    let (code, report, out) = run_json(&["proc.toml", "--results", "res"], &s.0);
    assert_eq!(case(&report, "proc")["state"], "pass", "{out}");
    assert_eq!(code, 0, "{out}");
}

/// At its timeout a case gets SIGTERM before SIGKILL, passed on to every
/// process in it, so a script's cleanup trap runs (a named namespace it
/// made is deleted by its own trap, as the kernel's selftests do).
#[test]
fn a_timeout_lets_cleanup_traps_run() {
    let s = Scratch::new("termtrap");
    let marker = s.path("cleaned-up");
    s.exec(
        "suite/slow.sh",
        &format!(
            "#!/bin/sh\n# netrig: timeout=1s\ntrap 'echo trap-ran > {}; exit 1' TERM\nsleep 100 &\nwait\n",
            marker.display()
        ),
    );
    let (code, report, out) = run_json(&["suite", "--results", "res"], &s.0);
    assert_eq!(report["cases"][0]["state"], "timeout", "{out}");
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "trap-ran\n",
        "the script's TERM trap did not run: {out}"
    );
}

/// Two nodes see different files at the same path (`files`), writes to
/// a node's copy reach neither its source nor the host, a node's `tmpfs`
/// is shared by its own steps only, and `netrig exec` (from a step, or into
/// a persistent lab) sees the node's files too.
#[test]
fn nodes_see_their_own_files() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("nodefiles");
    let root = s.0.display().to_string();
    s.write("etc/name", "host\n");
    std::fs::create_dir_all(s.path("run")).expect("mkdir run");
    s.write("conf/a/name", "conf-a\n");
    s.write("conf/b/name", "conf-b\n");
    let lab = format!("nf{}", std::process::id());
    s.write(
        "topo.toml",
        &format!(
            "name = \"{lab}\"\n\
             [nodes.a]\nfiles = {{ \"{root}/etc\" = \"conf/a\" }}\ntmpfs = [\"{root}/run\"]\n\
             [nodes.b]\nfiles = {{ \"{root}/etc\" = \"conf/b\" }}\n\
             [[links]]\nends = [\"a:eth0 192.0.2.1/24\", \"b:eth0 192.0.2.2/24\"]\n"
        ),
    );
    s.write(
        "files.toml",
        &format!(
            "name = \"files\"\ntopology = \"topo.toml\"\n\
             [[steps]]\nnode = \"a\"\nrun = \"cat {root}/etc/name; echo changed > {root}/etc/name; echo mine > {root}/run/pid\"\nexpect.stdout = \"conf-a\"\n\
             [[steps]]\nnode = \"b\"\nrun = \"cat {root}/etc/name; ls {root}/run\"\nexpect = {{ stdout = \"conf-b\", stdout_not = \"pid\" }}\n\
             [[steps]]\nnode = \"a\"\nrun = \"cat {root}/etc/name {root}/run/pid; netrig exec $NETRIG_LAB b -- cat {root}/etc/name\"\nexpect.stdout = \"changed\\nmine\\nconf-b\"\n"
        ),
    );
    let (code, report, out) = run_json(&["files.toml", "--results", "res"], &s.0);
    assert_eq!(case(&report, "files")["state"], "pass", "{out}");
    assert_eq!(code, 0, "{out}");
    let read = |p: &str| std::fs::read_to_string(s.path(p)).unwrap_or_default();
    assert_eq!(read("etc/name"), "host\n", "the host's file changed");
    assert_eq!(read("conf/a/name"), "conf-a\n", "the node's source changed");
    assert!(
        !s.path("run/pid").exists(),
        "the node's tmpfs reached the host"
    );

    // A persistent lab: `netrig exec` enters the node's view.
    let up = netrig(&["up", "topo.toml"], &s.0);
    assert!(up.status.success(), "{}", text(&up));
    let exec = |node: &str| {
        let o = netrig(
            &["exec", &lab, node, "--", "cat", &format!("{root}/etc/name")],
            &s.0,
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (a, b) = (exec("a"), exec("b"));
    let down = netrig(&["down", &lab], &s.0);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!((a.trim(), b.trim()), ("conf-a", "conf-b"));
}

/// A scenario's `[views.NODE]` adds files to a node of the topology it
/// names, relative to the scenario: two scenarios of one topology show one
/// node different files at the same path, beside the topology's own tmpfs,
/// and the other node keeps the host's.
#[test]
fn scenarios_add_files_to_a_topology_s_nodes() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("views");
    let root = s.0.display().to_string();
    s.write("etc/name", "host\n");
    std::fs::create_dir_all(s.path("run")).expect("mkdir run");
    s.write("scen/conf/one/name", "one\n");
    s.write("scen/conf/two/name", "two\n");
    s.write(
        "topo.toml",
        &format!(
            "name = \"views\"\n[nodes.a]\ntmpfs = [\"{root}/run\"]\n[nodes.b]\n\
             [[links]]\nends = [\"a:eth0 192.0.2.1/24\", \"b:eth0 192.0.2.2/24\"]\n"
        ),
    );
    for n in ["one", "two"] {
        s.write(
            &format!("scen/{n}.toml"),
            &format!(
                "name = \"{n}\"\ntopology = \"../topo.toml\"\n\
                 [views.a]\nfiles = {{ \"{root}/etc\" = \"conf/{n}\" }}\n\
                 [[steps]]\nnode = \"a\"\nrun = \"cat {root}/etc/name; touch {root}/run/x; ls {root}/run\"\nexpect.stdout = \"{n}\\nx\"\n\
                 [[steps]]\nnode = \"b\"\nrun = \"cat {root}/etc/name; ls {root}/run\"\nexpect = {{ stdout = \"host\", stdout_not = \"x\" }}\n"
            ),
        );
    }
    for n in ["one", "two"] {
        let check = netrig(&["check", &format!("scen/{n}.toml")], &s.0);
        assert!(check.status.success(), "{}", text(&check));
    }
    let (code, report, out) = run_json(&["scen", "--results", "res"], &s.0);
    assert_eq!(case(&report, "one")["state"], "pass", "{out}");
    assert_eq!(case(&report, "two")["state"], "pass", "{out}");
    assert_eq!(code, 0, "{out}");
    assert!(
        !s.path("run/x").exists(),
        "the node's tmpfs reached the host"
    );
}
