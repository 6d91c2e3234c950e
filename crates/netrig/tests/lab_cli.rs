//! The lab commands end to end: validation that creates nothing, persistent
//! labs in root and rootless mode, exit status pass-through, and cleanup when
//! the lab's owner is killed with SIGKILL before, during and after setup.
//! Needs root (the rootless cases run as root with NETRIG_ROOTLESS=1 and as
//! the `nobody` user).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn netrig() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netrig"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! need_root {
    () => {
        if !is_root() {
            assert!(
                std::env::var_os("CI").is_none(),
                "needs root, and CI is set: it must not pass without running"
            );
            eprintln!("skipped: needs root");
            return;
        }
    };
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("netrig runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every network namespace anything on the machine still refers to: processes'
/// namespaces, descriptors held open, and bind mounts.
fn netns_refs() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(l) = std::fs::read_link(format!("/proc/{pid}/ns/net")) {
            out.insert(l.to_string_lossy().to_string());
        }
        for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(l) = std::fs::read_link(fd.path()) {
                let l = l.to_string_lossy().to_string();
                if l.starts_with("net:[") {
                    out.insert(l);
                }
            }
        }
    }
    if let Ok(m) = std::fs::read_to_string("/proc/self/mountinfo") {
        for line in m.lines().filter(|l| l.contains(" nsfs ")) {
            out.insert(format!(
                "mount {}",
                line.split_whitespace().nth(4).unwrap_or("")
            ));
        }
    }
    out
}

/// Processes among `pids` that are still alive after they were killed.
fn leaked_by(pids: &[u32]) -> Vec<String> {
    let mut leaked = Vec::new();
    for pid in pids {
        if Path::new(&format!("/proc/{pid}")).exists() {
            leaked.push(format!("process {pid} still alive"));
        }
    }
    leaked
}

fn host_links() -> String {
    let o = Command::new("ip").args(["-br", "link"]).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id() % 100000)
}

/// A guard that runs `netrig down` however the test ends.
struct Down(String, Vec<(String, String)>);
impl Drop for Down {
    fn drop(&mut self) {
        let mut c = netrig();
        c.args(["down", &self.0]);
        for (k, v) in &self.1 {
            c.env(k, v);
        }
        let _ = c.output();
    }
}

#[test]
fn check_accepts_the_examples_and_refuses_bad_files_with_exit_2() {
    for f in ["seed.toml", "lan.toml"] {
        let o = run(netrig().arg("check").arg(examples().join(f)));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("valid"));
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../netrig-spec/tests/corpus");
    let bad = unique("bad");
    for f in [
        "long_ifname.toml",
        "gateway_unreachable.toml",
        "syntax_error.toml",
    ] {
        let o = run(netrig().arg("check").arg(corpus.join(f)));
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("{f}:")), "no location in {err}");
        // `up` of a bad file fails the same way and builds nothing.
        let o = run(netrig()
            .arg("up")
            .arg(corpus.join(f))
            .arg("--name")
            .arg(&bad));
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let o = run(netrig().arg("ls"));
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains(&bad),
            "{}",
            text(&o)
        );
    }
    let o = run(netrig().args(["check", "/nonexistent/topo.toml"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/topo.toml"));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&format!("/run/netns/{bad}-")),
        "a bad file mounted a namespace"
    );
}

#[test]
fn persistent_lab_in_root_mode_is_visible_to_ip_netns_and_goes_away() {
    need_root!();
    let name = unique("rt");
    let _guard = Down(name.clone(), vec![]);
    let links_before = host_links();
    let o = run(netrig()
        .arg("up")
        .arg(examples().join("seed.toml"))
        .args(["--name", &name]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let list = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    assert!(list.contains(&format!("{name}-r1")), "{list}");
    // iproute2 sees the multipath route through the bind mount.
    let o = Command::new("ip")
        .args([
            "-n",
            &format!("{name}-r1"),
            "route",
            "show",
            "198.18.0.0/24",
        ])
        .output()
        .unwrap();
    let r = String::from_utf8_lossy(&o.stdout);
    assert!(r.contains("weight 11") && r.contains("weight 45"), "{r}");
    // exec: output and exit status pass through.
    let o = run(netrig().args([
        "exec", &name, "h2", "--", "ip", "-br", "addr", "show", "dev", "lo",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("198.18.0.0/24"));
    // The node's own /sys, as with `ip netns exec`.
    let o = run(netrig().args(["exec", &name, "r1", "--", "ls", "/sys/class/net"]));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["eth0", "eth1", "eth2", "lo"]
    );
    let o = run(netrig().args(["exec", &name, "h1", "--", "sh", "-c", "exit 7"]));
    assert_eq!(o.status.code(), Some(7));
    let o = run(netrig().args(["exec", &name, "h1", "--", "no-such-command-xyz"]));
    assert_eq!(o.status.code(), Some(127));
    // shell: a shell in the node, reading commands from stdin here.
    let mut sh = netrig()
        .args(["shell", &name, "h3"])
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = sh.stdin.take().unwrap();
        stdin
            .write_all(b"echo node=$NETRIG_NODE; ip -br addr show dev eth0; exit 5\n")
            .unwrap();
    }
    let o = sh.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("node=h3") && out.contains("203.0.113.2/24"),
        "{out}"
    );
    let o = run(netrig().args(["exec", &name, "nosuchnode", "--", "true"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // A second lab of the same name is refused; `ls` shows the first.
    let o = run(netrig()
        .arg("up")
        .arg(examples().join("seed.toml"))
        .args(["--name", &name]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(netrig().arg("ls"));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&name));
    // Two labs of the same file side by side.
    let other = format!("{name}b");
    let _g2 = Down(other.clone(), vec![]);
    let o = run(netrig()
        .arg("up")
        .arg(examples().join("seed.toml"))
        .args(["--name", &other]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(netrig().args(["down", &other]));
    assert_eq!(o.status.code(), Some(0));

    let o = run(netrig().args(["down", &name]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let list = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    assert!(!list.contains(&name), "{list}");
    // Idempotent.
    let o = run(netrig().args(["down", &name]));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(host_links(), links_before);
}

fn rootless_roundtrip(env: &[(&str, &str)], setpriv_nobody: bool) {
    let name = unique(if setpriv_nobody { "nb" } else { "rl" });
    let cmd = |args: &[&str]| {
        let mut c = if setpriv_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg(env!("CARGO_BIN_EXE_netrig"));
            c
        } else {
            netrig()
        };
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    };
    let envs: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let _guard = Down(name.clone(), envs);
    let file = examples().join("lan.toml");
    let o = run(&mut cmd(&["up", file.to_str().unwrap(), "--name", &name]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("rootless mode"));
    let list = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    assert!(
        !list.contains(&name),
        "rootless labs are not mounted: {list}"
    );
    // Across the LAN and the router, through real packets (TCP connect
    // answered by a listener started in srv).
    let o = run(&mut cmd(&[
        "exec",
        &name,
        "srv",
        "--",
        "cat",
        "/proc/self/uid_map",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&mut cmd(&[
        "exec",
        &name,
        "h1",
        "--",
        "ip",
        "route",
        "get",
        "198.51.100.10",
    ]));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("via 192.0.2.1"),
        "{}",
        text(&o)
    );
    let o = run(&mut cmd(&["exec", &name, "h3", "--", "sh", "-c", "exit 3"]));
    assert_eq!(o.status.code(), Some(3));
    let o = run(&mut cmd(&["down", &name]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&mut cmd(&["exec", &name, "h1", "--", "true"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn rootless_mode_forced_as_root() {
    need_root!();
    let dir = std::env::temp_dir().join(unique("netrig-state-"));
    rootless_roundtrip(
        &[
            ("NETRIG_ROOTLESS", "1"),
            ("NETRIG_STATE_DIR", dir.to_str().unwrap()),
        ],
        false,
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rootless_mode_as_an_unprivileged_user() {
    need_root!();
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv is missing");
        return;
    }
    let dir = std::env::temp_dir().join(unique("netrig-nobody-"));
    std::fs::create_dir_all(&dir).unwrap();
    Command::new("chown")
        .args(["65534:65534", dir.to_str().unwrap()])
        .status()
        .unwrap();
    // The test binary's directories must be reachable for `nobody`.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_netrig"));
    let reachable = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !reachable {
        eprintln!("skipped: {} is not executable by nobody", exe.display());
        return;
    }
    rootless_roundtrip(
        &[
            ("NETRIG_STATE_DIR", dir.to_str().unwrap()),
            ("HOME", "/tmp"),
        ],
        true,
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A topology big enough that setup takes a while: a chain of routers.
fn chain_file(routers: usize) -> PathBuf {
    let mut s = String::from("name = \"chain\"\n");
    for i in 0..routers {
        s.push_str(&format!("[nodes.r{i}]\nforwarding = true\n"));
    }
    for i in 0..routers - 1 {
        let (hi, lo) = (i / 64, (i % 64) * 4);
        s.push_str(&format!(
            "[[links]]\nends = [\"r{i}:right 198.18.{hi}.{}/30 2001:db8:c:{i:x}::1/64\", \"r{}:left 198.18.{hi}.{}/30 2001:db8:c:{i:x}::2/64\"]\n",
            lo + 1,
            i + 1,
            lo + 2
        ));
    }
    let p = std::env::temp_dir().join(format!(
        "netrig-chain-{routers}-{}.toml",
        std::process::id()
    ));
    std::fs::write(&p, s).unwrap();
    p
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < within {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Kill an ephemeral lab's owner with SIGKILL at many moments during setup and
/// after it, in both modes: no namespace, link or process may remain.
#[test]
fn sigkill_of_the_owner_leaves_nothing_behind() {
    need_root!();
    let file = chain_file(120);
    let links_before = host_links();
    let host_ns = std::fs::read_link("/proc/self/ns/net")
        .unwrap()
        .to_string_lossy()
        .to_string();
    for rootless in [false, true] {
        // Kill after a delay during setup, or (None) once the lab says it is up.
        for delay in [
            Some(0u64),
            Some(2),
            Some(5),
            Some(10),
            Some(20),
            Some(40),
            Some(80),
            None,
        ] {
            let mut c = netrig();
            c.arg("up")
                .arg("--foreground")
                .arg(&file)
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            if rootless {
                c.env("NETRIG_ROOTLESS", "1");
            }
            let mut child = c.spawn().unwrap();
            match delay {
                Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
                None => {
                    use std::io::BufRead;
                    let mut line = String::new();
                    std::io::BufReader::new(child.stdout.as_mut().unwrap())
                        .read_line(&mut line)
                        .unwrap();
                    assert!(line.contains("is up"), "{line}");
                }
            }
            let when = delay.map_or("after setup".to_string(), |ms| format!("at {ms} ms"));
            // The namespaces the owner holds at the moment of the kill.
            let held: BTreeSet<String> = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .map(|l| l.to_string_lossy().to_string())
                .filter(|l| l.starts_with("net:["))
                .filter(|l| *l != host_ns)
                .collect();
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(leaked_by(&[child.id()]).is_empty());
            let still: Vec<_> = held.intersection(&netns_refs()).cloned().collect();
            assert!(
                still.is_empty(),
                "namespaces outlived their owner (kill {when}): {still:?}"
            );
            if delay.is_none() {
                // 120 nodes, plus its own home namespace in rootless mode.
                assert!(
                    held.len() >= 120,
                    "a lab that is up holds all its namespaces: {}",
                    held.len()
                );
            }
            assert_eq!(
                host_links(),
                links_before,
                "host links changed (rootless={rootless}, kill {when})"
            );
        }
    }
    let _ = std::fs::remove_file(file);
}

/// SIGKILL the holder of a persistent lab with a process running inside it:
/// the process dies with the holder (PID namespace); in rootless mode nothing
/// is left at all; in root mode the /run/netns mounts remain until `down`,
/// which then removes them and reports the dead holder.
#[test]
fn sigkill_of_a_persistent_holder_then_down_leaves_nothing() {
    need_root!();
    for rootless in [false, true] {
        let name = unique(if rootless { "kr" } else { "kh" });
        let dir = std::env::temp_dir().join(unique("netrig-kill-"));
        let mut envs = vec![(
            "NETRIG_STATE_DIR".to_string(),
            dir.to_str().unwrap().to_string(),
        )];
        if rootless {
            envs.push(("NETRIG_ROOTLESS".into(), "1".into()));
        }
        let _guard = Down(name.clone(), envs.clone());
        let cmd = |args: &[&str]| {
            let mut c = netrig();
            c.args(args);
            for (k, v) in &envs {
                c.env(k, v);
            }
            c
        };
        let o = run(&mut cmd(&[
            "up",
            examples().join("seed.toml").to_str().unwrap(),
            "--name",
            &name,
        ]));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let holder = state["holder_pid"].as_i64().unwrap() as i32;
        let mut sleeper = cmd(&["exec", &name, "h2", "--", "sleep", "300"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the sleeper is inside the lab.
        let t = Instant::now();
        let mut inner_pid = None;
        while inner_pid.is_none() && t.elapsed() < Duration::from_secs(5) {
            inner_pid = std::fs::read_to_string(format!(
                "/proc/{}/task/{}/children",
                sleeper.id(),
                sleeper.id()
            ))
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<u32>().ok())
            });
            std::thread::sleep(Duration::from_millis(5));
        }
        let inner_pid = inner_pid.expect("sleep started in the lab");
        // SAFETY: killing the holder we started, by its PID.
        unsafe { libc::kill(holder, libc::SIGKILL) };
        assert!(
            wait_gone(holder as u32, Duration::from_secs(5)),
            "holder survived SIGKILL"
        );
        assert!(
            wait_gone(inner_pid, Duration::from_secs(5)),
            "process in the lab outlived its holder"
        );
        let status = sleeper.wait().unwrap();
        assert!(!status.success());
        let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&format!("/run/netns/{name}-")))
            .map(String::from)
            .collect();
        if rootless {
            assert!(mounts.is_empty(), "{mounts:?}");
        } else {
            assert_eq!(
                mounts.len(),
                4,
                "root mode keeps the ip-netns mounts until down"
            );
        }
        let o = run(&mut cmd(&["ls"]));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("dead"),
            "{}",
            text(&o)
        );
        let o = run(&mut cmd(&["down", &name]));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("lost its holder"),
            "{}",
            text(&o)
        );
        let left = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !left.contains(&format!("/run/netns/{name}-")),
            "mounts left after down"
        );
        assert!(!Path::new(&format!("/run/netns/{name}-h1")).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn ip_netns_with(prefix: &str) -> Vec<String> {
    let o = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// Is `pid` running (alive and not a zombie)?
fn running(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s[i + 1..].trim().chars().next()))
        .is_some_and(|st| st != 'Z')
}

/// `n` `netrig up` of one name at once, `rounds` times: exactly one wins,
/// every loser is refused with a clear error (exit 2) and touches nothing of
/// the winner's lab, the state file names a live holder, and `down` leaves
/// no namespace, mount, holder or file behind.
fn ups_at_once(n: usize, rounds: usize) {
    let name = unique(&format!("race{n}x"));
    let dir = std::env::temp_dir().join(unique(&format!("netrig-race{n}-")));
    let env = [("NETRIG_STATE_DIR", dir.to_str().unwrap().to_string())];
    let _guard = Down(name.clone(), vec![(env[0].0.to_string(), env[0].1.clone())]);
    let seed = examples().join("seed.toml");
    let mut holders = Vec::new();
    let mut down_ms = Vec::new();
    for round in 0..rounds {
        let children: Vec<_> = (0..n)
            .map(|_| {
                netrig()
                    .arg("up")
                    .arg(&seed)
                    .args(["--name", &name])
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let winners: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: one `up` must win: {:#?}",
            outs.iter().map(text).collect::<Vec<_>>()
        );
        for o in outs.iter().filter(|o| !o.status.success()) {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "round {round}: {}", text(o));
            assert!(
                err.contains("is being created by another `netrig up`")
                    || err.contains("is already up"),
                "round {round}: unclear loser error: {}",
                text(o)
            );
        }
        // The winner's lab is whole: state names a live holder, all 4 mounts.
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json")))
                .unwrap_or_else(|e| panic!("round {round}: winner's state: {e}")),
        )
        .unwrap_or_else(|e| panic!("round {round}: corrupt state: {e}"));
        let holder = state["holder_pid"].as_i64().unwrap();
        assert!(
            running(holder),
            "round {round}: holder {holder} not running"
        );
        assert_eq!(
            ip_netns_with(&format!("{name}-")).len(),
            4,
            "round {round}: the winner's namespace mounts"
        );
        let o = run(netrig()
            .args(["exec", &name, "h1", "--", "true"])
            .envs(env.iter().map(|(k, v)| (k, v))));
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", text(&o));
        holders.push(holder);
        let t = Instant::now();
        let o = run(netrig()
            .args(["down", &name])
            .envs(env.iter().map(|(k, v)| (k, v))));
        down_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("is down"),
            "round {round}: {}",
            text(&o)
        );
        assert!(
            !running(holder),
            "round {round}: holder {holder} outlived down"
        );
        assert_eq!(ip_netns_with(&format!("{name}-")), Vec::<String>::new());
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            left.is_empty(),
            "round {round}: left in the state dir: {left:?}"
        );
    }
    for h in holders {
        assert!(
            wait_gone(h as u32, Duration::from_secs(5)),
            "holder {h} left"
        );
    }
    down_ms.sort_by(f64::total_cmp);
    eprintln!(
        "{n} ups at once x {rounds}: netrig down took median {:.1} ms, max {:.1} ms",
        down_ms[down_ms.len() / 2],
        down_ms[down_ms.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_ups_of_one_name_at_once() {
    need_root!();
    ups_at_once(2, 20);
}

#[test]
fn eight_ups_of_one_name_at_once() {
    need_root!();
    ups_at_once(8, 20);
}

/// SIGKILL `netrig up` itself (not the holder) while it builds: the holder
/// finds nobody to report to and removes the lab.
#[test]
fn sigkill_of_netrig_up_mid_setup_removes_the_lab() {
    need_root!();
    let file = chain_file(150);
    for delay_ms in [1u64, 5, 15, 30] {
        let name = unique(&format!("ku{delay_ms}x"));
        let dir = std::env::temp_dir().join(unique(&format!("netrig-ku{delay_ms}-")));
        let _guard = Down(
            name.clone(),
            vec![("NETRIG_STATE_DIR".into(), dir.to_str().unwrap().into())],
        );
        let mut child = netrig()
            .arg("up")
            .arg(&file)
            .args(["--name", &name])
            .env("NETRIG_STATE_DIR", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        let st = child.wait().unwrap();
        if st.success() {
            // The kill came after `up` had finished: a proper lab exists; take it down.
            let o = run(netrig().args(["down", &name]).env("NETRIG_STATE_DIR", &dir));
            assert_eq!(o.status.code(), Some(0));
        }
        // Give the orphaned holder time to finish building and notice.
        let t = Instant::now();
        let state = dir.join(format!("{name}.json"));
        let mounted = || {
            std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap()
                .contains(&format!("/run/netns/{name}-"))
        };
        while (state.exists() || mounted()) && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !state.exists(),
            "state left after killing `up` at {delay_ms} ms"
        );
        assert!(
            !mounted(),
            "namespace mounts left after killing `up` at {delay_ms} ms"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_file(file);
}

/// Everything of the host's network namespace a lab might touch by mistake.
fn host_snapshot() -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    for args in [
        &["-j", "link", "show"][..],
        &["-j", "addr", "show"],
        &["-j", "route", "show", "table", "all"],
        &["-6", "-j", "route", "show", "table", "all"],
        &["-j", "rule", "show"],
        &["-6", "-j", "rule", "show"],
    ] {
        let o = Command::new("ip").args(args).output().unwrap();
        m.insert(
            format!("ip {}", args.join(" ")),
            String::from_utf8_lossy(&o.stdout).to_string(),
        );
    }
    fn walk(dir: &Path, m: &mut std::collections::BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, m);
            } else if let Ok(v) = std::fs::read_to_string(&p) {
                m.insert(p.display().to_string(), v);
            }
        }
    }
    walk(Path::new("/proc/sys/net"), &mut m);
    m
}

#[test]
fn the_host_namespace_is_unchanged_by_labs() {
    need_root!();
    // Keep only what is stable on its own (some sysctls and route caches move).
    let a = host_snapshot();
    std::thread::sleep(Duration::from_millis(50));
    let b = host_snapshot();
    let stable: Vec<&String> = a.keys().filter(|k| b.get(*k) == a.get(*k)).collect();
    assert!(
        stable.len() > 100,
        "too little to compare: {}",
        stable.len()
    );

    let name = unique("hs");
    let dir = std::env::temp_dir().join(unique("netrig-hs-"));
    for rootless in [false, true] {
        let mut envs = vec![("NETRIG_STATE_DIR", dir.to_str().unwrap())];
        if rootless {
            envs.push(("NETRIG_ROOTLESS", "1"));
        }
        let _guard = Down(
            name.clone(),
            envs.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        for file in ["seed.toml", "lan.toml"] {
            let o = run(netrig()
                .arg("up")
                .arg(examples().join(file))
                .args(["--name", &name])
                .envs(envs.iter().copied()));
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            let o = run(netrig()
                .args([
                    "exec", &name, "h1", "--", "ip", "link", "set", "eth0", "mtu", "1400",
                ])
                .envs(envs.iter().copied()));
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
            let o = run(netrig().args(["down", &name]).envs(envs.iter().copied()));
            assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let c = host_snapshot();
    let changed: Vec<String> = stable
        .iter()
        .filter(|k| c.get(**k) != a.get(**k))
        .map(|k| format!("{k}: {:?} -> {:?}", a.get(*k), c.get(*k)))
        .collect();
    assert!(
        changed.is_empty(),
        "the host namespace changed:\n{}",
        changed.join("\n")
    );
}

#[test]
fn graph_prints_dot_and_svg() {
    let o = run(netrig().arg("graph").arg(examples().join("seed.toml")));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dot = String::from_utf8_lossy(&o.stdout);
    assert!(dot.starts_with("graph \"seed\" {"), "{dot}");
    assert!(dot.contains("\"r1\" -- \"h2\""), "{dot}");
    assert!(dot.contains("198.51.100.1/24"));
    assert!(
        dot.contains("shape=doubleoctagon"),
        "routers are drawn apart"
    );
    let o = run(netrig()
        .arg("graph")
        .arg("--svg")
        .arg(examples().join("lan.toml")));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let svg = String::from_utf8_lossy(&o.stdout);
    assert!(
        svg.contains("<svg") && svg.contains("lan0") && svg.contains("srv"),
        "{svg}"
    );
    // Both ends of a link are labelled, with every address.
    for a in [
        "198.51.100.1/24",
        "2001:db8:b::1/64",
        "198.51.100.10/24",
        "2001:db8:b::10/64",
    ] {
        assert!(svg.contains(a), "{a} missing from\n{svg}");
    }
}

#[test]
fn check_validates_scenario_files_too() {
    let o = run(netrig()
        .arg("check")
        .arg(examples().join("multipath-vip/udp-split.toml")));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("valid scenario") && out.contains("6 case(s)"),
        "{out}"
    );
    assert!(
        out.contains("mpvip-udp[family=ipv6,weights=11:45]"),
        "{out}"
    );
    assert!(out.contains("topology `seed`"), "{out}");
    let dir = std::env::temp_dir().join(unique("netrig-badsc-"));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[[steps]]\npng = { from = \"h1\" }\n").unwrap();
    let o = run(netrig().arg("check").arg(&bad));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.toml:3:1"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(dir);
}
