//! Issue 9, written as the attacks: another user plants links, state files
//! and directories where root's netrig looks; each attack must fail and leave
//! its victim unchanged. Needs root (to play the other user); skipped otherwise.

mod run_common;
use run_common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A root-only 0600 file with known content: what the attacks aim at.
fn victim(p: &Path) {
    std::fs::write(p, "root's secret\n").expect("victim");
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn assert_untouched(p: &Path) {
    let md = std::fs::symlink_metadata(p).expect("victim still there");
    assert_eq!(md.mode() & 0o7777, 0o600, "{} changed mode", p.display());
    assert_eq!(md.uid(), 0);
    assert_eq!(
        std::fs::read_to_string(p).expect("read victim"),
        "root's secret\n",
        "{} changed content",
        p.display()
    );
}

/// A scenario `quick.toml` and what a results-folder attack aims at: a root
/// 0700 folder holding a case-named folder with a file in it, and a root
/// 0600 file. Returns (folder, file inside it, file).
fn victims(s: &Scratch) -> (PathBuf, PathBuf, PathBuf) {
    s.write("quick.toml", QUICK);
    let private = s.path("private");
    std::fs::create_dir(&private).expect("private");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::create_dir(private.join("quick")).expect("case-named dir");
    let kept = private.join("quick/keep");
    victim(&kept);
    let v = s.path("victim");
    victim(&v);
    (private, kept, v)
}

/// Hand `p` to nobody, as if another user had made it.
fn give_away(p: &Path) {
    std::os::unix::fs::lchown(p, Some(65534), Some(65534)).expect("lchown");
}

/// The old lock was `$TMPDIR/netrig-tracepoint.lock`, opened through links
/// and chmod'ed 0666: a link planted there made a root-only file
/// world-writable. The lock no longer lives in a shared directory at all.
#[test]
fn a_link_planted_at_the_old_lock_path_is_not_followed() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("sec-lock");
    let tmp = s.path("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let v = s.path("victim");
    victim(&v);
    let link = tmp.join("netrig-tracepoint.lock");
    std::os::unix::fs::symlink(&v, &link).expect("symlink");
    give_away(&link);
    s.write(
        "t.toml",
        &format!(
            "name = \"lockt\"\n{PAIR}\n[[steps]]\ntraffic = {{ from = \"a\", to = \"192.0.2.2\", udp = \"dp=1-10\" }}\n"
        ),
    );
    let o = std::process::Command::new(NETRIG)
        .args(["run", "t.toml", "--results", "res"])
        .current_dir(&s.0)
        .env("TMPDIR", &tmp)
        .env_remove("CI")
        .output()
        .expect("netrig");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_untouched(&v);
    let lock = std::fs::symlink_metadata("/run/netrig/tracepoint.lock").expect("the lock");
    assert!(lock.file_type().is_file());
    assert_eq!((lock.uid(), lock.mode() & 0o777), (0, 0o600));
}

/// A process to be the victim of a forged state file: its PID and start
/// time are what the forger writes. Killed by PID on drop.
struct Victim(std::process::Child);

impl Victim {
    fn spawn(as_uid: Option<u32>) -> Victim {
        let mut c = match as_uid {
            Some(u) => {
                let mut c = std::process::Command::new("setpriv");
                c.args([
                    &format!("--reuid={u}"),
                    &format!("--regid={u}"),
                    "--clear-groups",
                    "--",
                    "sleep",
                    "1000",
                ]);
                c
            }
            None => {
                let mut c = std::process::Command::new("sleep");
                c.arg("1000");
                c
            }
        };
        Victim(c.spawn().expect("victim process"))
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn start_time(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        rest.split_whitespace()
            .nth(19)
            .and_then(|t| t.parse().ok())
            .expect("start time")
    }
    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A lab state file as netrig writes it, naming `victim` as its holder and
/// `mount` as one of its namespace mounts.
fn forged_state(name: &str, victim: &Victim, mount: &Path) -> String {
    serde_json::json!({
        "name": name,
        "file": "x.toml",
        "mode": "root",
        "holder_pid": victim.pid(),
        "holder_start": victim.start_time(),
        "nodes": [["a", 3]],
        "netns_mounts": [mount.display().to_string()],
        "created_unix": 0
    })
    .to_string()
}

/// `netrig down ../../../tmp/x` read a state file from there, SIGTERMed the
/// PID it named and deleted the file it listed as a mount. Lab names are
/// names now: exit 2, nothing read, nobody signalled, nothing deleted.
#[test]
fn a_lab_name_that_is_a_path_is_refused() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("sec-name");
    let v = s.path("victim");
    victim(&v);
    let mut proc_victim = Victim::spawn(None);
    let planted = s.path("x.json");
    std::fs::write(&planted, forged_state("x", &proc_victim, &v)).expect("plant");
    give_away(&planted);
    // From /run/netrig/labs, three levels up is /.
    let name = format!("../../..{}/x", s.0.display());
    for args in [
        vec!["down", name.as_str()],
        vec!["exec", name.as_str(), "a", "--", "true"],
        vec!["shell", name.as_str(), "a"],
        vec!["up", "/nonexistent.toml", "--name", name.as_str()],
    ] {
        let o = netrig(&args, &s.0);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid lab name"), "{args:?}: {err}");
    }
    for bad in ["..", ".x", "-x", "a/b", "a\u{1b}[31m"] {
        let o = netrig(&["down", bad], &s.0);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
        assert!(!String::from_utf8_lossy(&o.stderr).contains('\u{1b}'));
    }
    assert!(proc_victim.alive(), "the named process was signalled");
    assert_untouched(&v);
    assert!(planted.exists());
}

/// A user id no test and no account uses, for playing an unprivileged user.
const USER: u32 = 47213;

fn as_user(args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={USER}"),
            &format!("--regid={USER}"),
            "--clear-groups",
            "--",
        ])
        .arg(NETRIG)
        .args(args)
        .current_dir("/")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NETRIG_STATE_DIR")
        .env("HOME", "/tmp")
        .output()
        .expect("setpriv netrig")
}

/// Removes the squatted directory whatever happens.
struct Cleanup(std::path::PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Without XDG_RUNTIME_DIR a user's state is in /tmp/netrig-UID, which any
/// user can create first: nobody squats it (0777) with a forged lab file
/// naming the user's own unrelated process and file. `netrig down` as that
/// user refuses the directory; the process lives, the file stays.
#[test]
fn a_squatted_state_dir_is_refused() {
    if !have_root()
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs setpriv");
        return;
    }
    let s = Scratch::new("sec-squat");
    std::fs::set_permissions(&s.0, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if !as_user(&["--version"]).status.success() {
        eprintln!("skipped: {NETRIG} is not executable by uid {USER}");
        return;
    }
    let squat = std::path::PathBuf::from(format!("/tmp/netrig-{USER}"));
    let _ = std::fs::remove_dir_all(&squat);
    let _cleanup = Cleanup(squat.clone());
    // The user's own file and process, the targets.
    let home = s.path("home");
    std::fs::create_dir(&home).expect("home");
    std::os::unix::fs::chown(&home, Some(USER), Some(USER)).expect("chown");
    let mine = home.join("mine");
    std::fs::write(&mine, "the user's file\n").expect("file");
    std::os::unix::fs::chown(&mine, Some(USER), Some(USER)).expect("chown");
    let mut target = Victim::spawn(Some(USER));
    std::thread::sleep(std::time::Duration::from_millis(50)); // exec'd as sleep
                                                              // nobody's squat: 0777 directories and a forged lab file.
    let labs = squat.join("labs");
    std::fs::create_dir_all(&labs).expect("squat");
    let forged = labs.join("mylab.json");
    std::fs::write(&forged, forged_state("mylab", &target, &mine)).expect("forge");
    for p in [&squat, &labs] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        give_away(p);
    }
    give_away(&forged);
    let o = as_user(&["down", "mylab"]);
    assert!(
        target.alive(),
        "the user's process was killed: {}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&mine).expect("the user's file is gone"),
        "the user's file\n"
    );
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("/tmp/netrig-{USER}")), "{err}");
    // Nor does `up` put a lab there, or `ls` list the forged one.
    let topo = s.write("t.toml", "name = \"t\"\n[nodes.a]\n");
    std::fs::set_permissions(&topo, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let o = as_user(&["up", topo.to_str().expect("utf-8"), "--name", "mylab2"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!labs.join("mylab2.json").exists());
    let o = as_user(&["ls"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    // The same directory made by the user, 0700, is used.
    std::fs::remove_dir_all(&squat).expect("unsquat");
    let o = as_user(&["ls"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A scenario that passes in an empty namespace, quickly.
const QUICK: &str = "name = \"quick\"\n[[steps]]\nrun = \"true\"\n";

fn run_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    let mut a = vec!["run", "quick.toml"];
    a.extend_from_slice(args);
    netrig(&a, cwd)
}

/// Another user's results folder, with links planted in it: `T -> a root
/// 0700 folder` (the case folder inside was deleted) and `.durations.json ->
/// a root 0600 file` (overwritten). The folder is refused (exit 2); nothing
/// is deleted or written.
#[test]
fn a_results_folder_of_another_user_is_refused() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("sec-res");
    let (private, kept, v) = victims(&s);
    let res = s.path("res");
    std::fs::create_dir(&res).expect("res");
    give_away(&res);
    let t = res.join("T");
    std::os::unix::fs::symlink(&private, &t).expect("symlink");
    give_away(&t);
    let d = res.join(".durations.json");
    std::os::unix::fs::symlink(&v, &d).expect("symlink");
    give_away(&d);
    for args in [
        vec!["--results", "res", "--tag", "T"],
        vec!["--results", "res"],
    ] {
        let o = run_in(&s.0, &args);
        assert_untouched(&kept);
        assert_untouched(&v);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("belongs to uid 65534"),
            "{}",
            text(&o)
        );
    }
}

/// In a sticky shared folder (like /tmp) other users may create entries but
/// not replace ours: a link planted at the tag is "in use" (exit 2), one at
/// `.durations.json` or `latest` is replaced, not written through.
#[test]
fn links_planted_in_a_sticky_results_folder_are_not_followed() {
    if !have_root() {
        return;
    }
    let s = Scratch::new("sec-sticky");
    let (private, kept, v) = victims(&s);
    let res = s.path("res");
    std::fs::create_dir(&res).expect("res");
    std::fs::set_permissions(&res, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    for (name, to) in [("T", &private), (".durations.json", &v), ("latest", &v)] {
        let l = res.join(name);
        std::os::unix::fs::symlink(to, &l).expect("symlink");
        give_away(&l);
    }
    let o = run_in(&s.0, &["--results", "res", "--tag", "T"]);
    assert_untouched(&kept);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("tag `T` is in use"),
        "{}",
        text(&o)
    );
    let o = run_in(&s.0, &["--results", "res", "--tag", "mine"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_untouched(&v);
    assert_untouched(&kept);
    let d = std::fs::symlink_metadata(res.join(".durations.json")).expect("durations");
    assert!(d.file_type().is_file(), "the planted link was replaced");
    assert_eq!(
        std::fs::read_link(res.join("latest")).expect("latest"),
        Path::new("mine")
    );
    assert!(res.join("mine/quick/result.json").is_file());
}

/// `--tag ../../x`, `--tag ..` and friends wrote outside the results root.
#[test]
fn tags_are_names_not_paths() {
    let s = Scratch::new("sec-tag");
    s.write("quick.toml", QUICK);
    std::fs::create_dir(s.path("a")).expect("a");
    for tag in [
        "../../x",
        "..",
        "../x",
        ".",
        "a/b",
        "",
        ".hidden",
        "x\u{1b}[2J",
    ] {
        let o = run_in(&s.0, &["--results", "a/res", "--tag", tag]);
        assert_eq!(o.status.code(), Some(2), "{tag:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid tag"), "{tag:?}: {err}");
        assert!(!err.contains('\u{1b}'), "escapes printed raw: {err:?}");
    }
    let long = "x".repeat(101);
    let o = run_in(&s.0, &["--results", "a/res", "--tag", &long]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!s.path("x").exists() && !s.path("a/x").exists() && !s.path("quick").exists());
    assert!(!s.path("a/quick").exists());
}

/// Two runs at once with one --results: without a tag each gets its own
/// folder (they used to share one when started in the same second); with
/// the same tag the second is refused instead of deleting the first's cases.
#[test]
fn parallel_runs_never_share_a_folder() {
    let s = Scratch::new("sec-par");
    s.write(
        "quick.toml",
        "name = \"quick\"\n[[steps]]\nrun = \"sleep 0.3\"\n",
    );
    let spawn = |args: &[&str]| {
        std::process::Command::new(NETRIG)
            .args(["run", "quick.toml", "--results", "res", "--format", "json"])
            .args(args)
            .current_dir(&s.0)
            .env_remove("CI")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("netrig run")
    };
    let (a, b) = (spawn(&[]), spawn(&[]));
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    let tag = |o: &std::process::Output| -> String {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v["tag"].as_str().expect("tag").to_string()
    };
    let (ta, tb) = (tag(&a), tag(&b));
    assert_ne!(ta, tb, "two runs shared one folder");
    for t in [&ta, &tb] {
        let r = std::fs::read_to_string(s.path(&format!("res/{t}/report.json"))).expect("report");
        serde_json::from_str::<serde_json::Value>(&r).expect("a whole report");
    }
    let (a, b) = (spawn(&["--tag", "same"]), spawn(&["--tag", "same"]));
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(codes, [Some(0), Some(2)], "{}\n{}", text(&a), text(&b));
    let loser = if a.status.code() == Some(2) { &a } else { &b };
    assert!(
        String::from_utf8_lossy(&loser.stderr).contains("tag `same` is in use"),
        "{}",
        text(loser)
    );
    let r = std::fs::read_to_string(s.path("res/same/report.json")).expect("report");
    let v: serde_json::Value = serde_json::from_str(&r).expect("a whole report");
    assert_eq!(v["cases"][0]["state"], "pass");
}

/// Puts a host sysctl back if a test changed it (only on a regression).
struct HostSysctl(&'static str, String);
impl Drop for HostSysctl {
    fn drop(&mut self) {
        if std::fs::read_to_string(self.0).ok().as_deref() != Some(self.1.as_str()) {
            let _ = std::fs::write(self.0, &self.1);
        }
    }
}

/// A scenario `sysctl` step changed `kernel.printk_ratelimit_burst` on the
/// host (a topology file refuses the key), and a `sysfs` step read a
/// host-wide file. Both are located input errors now, for `check` and
/// `run`, and the host's value stays.
#[test]
fn scenario_steps_touch_only_the_lab() {
    if !have_root() {
        return;
    }
    const KEY: &str = "/proc/sys/kernel/printk_ratelimit_burst";
    let before = std::fs::read_to_string(KEY).expect("host sysctl");
    let _restore = HostSysctl(KEY, before.clone());
    let other = before.trim().parse::<u32>().expect("a number") + 1;
    let s = Scratch::new("sec-host");
    let sysctl = "not a network namespace sysctl";
    let sysfs = "not a network device file";
    // (step, the error, whether the scenario has a lab: a node-less sysctl
    // runs in the case's own empty namespace)
    let steps = [
        (format!("sysctl = {{ node = \"a\", key = \"kernel.printk_ratelimit_burst\", value = {other} }}"), sysctl, true),
        (format!("sysctl = {{ key = \"kernel.printk_ratelimit_burst\", value = {other} }}"), sysctl, false),
        ("sysfs = { node = \"a\", path = \"kernel/mm/transparent_hugepage/enabled\" }".to_string(), sysfs, true),
        ("sysfs = { node = \"a\", path = \"/sys/class/net/lo/device/remove\", value = 1 }".to_string(), sysfs, true),
    ];
    for (i, (step, want, lab)) in steps.iter().enumerate() {
        let f = format!("host{i}.toml");
        let lab = if *lab { PAIR } else { "" };
        let text_ = format!("name = \"host{i}\"\n{lab}\n[[steps]]\n{step}\n");
        let line = text_.lines().position(|l| l == "[[steps]]").expect("steps") + 1;
        s.write(&f, &text_);
        for cmd in ["check", "run"] {
            let o = netrig(
                &[cmd, &f, "--results", "res"][..if cmd == "check" { 2 } else { 4 }],
                &s.0,
            );
            assert_eq!(o.status.code(), Some(2), "{cmd} {step}: {}", text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            // Unwrapped: miette breaks long lines at the terminal width.
            let flat = err
                .replace('│', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(flat.contains(want), "{cmd} {step}: {err}");
            assert!(err.contains(&format!("{f}:{line}:1")), "located: {err}");
            assert_eq!(std::fs::read_to_string(KEY).expect("host sysctl"), before);
        }
    }
}

/// The sysfs helper mounted sysfs on /tmp/.netrig-sysfs-PID-N, where PID is
/// 1 in every case: another user planting that name broke every sysfs step
/// (and parallel cases removed each other's mounts). It uses no directory of
/// /tmp now. Run in a mount namespace with a /tmp of its own, so that the
/// planted name bothers no other netrig on this machine.
#[test]
fn a_name_planted_in_tmp_does_not_break_sysfs_steps() {
    if !have_root()
        || std::process::Command::new("unshare")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs unshare");
        return;
    }
    // Everything the private /tmp would hide (the checkout and its target
    // dir may well live under /tmp) is put under /run instead: the scenario
    // and a copy of the binary, which the runner re-executes for each case.
    let dir =
        std::path::PathBuf::from("/run").join(format!("netrig-test-sysfs-{}", std::process::id()));
    let _cleanup = Cleanup(dir.clone());
    std::fs::create_dir_all(&dir).expect("dir");
    let netrig = dir.join("netrig");
    std::fs::copy(NETRIG, &netrig).expect("copying the netrig binary");
    std::fs::write(
        dir.join("s.toml"),
        format!(
            "name = \"sysfs\"\n{PAIR}\n[[steps]]\nsysfs = {{ node = \"a\", path = \"class/net/eth0/mtu\" }}\nexpect.value = \"1500\"\n"
        ),
    )
    .expect("scenario");
    let script = "mount -t tmpfs none /tmp && printf x > /tmp/.netrig-sysfs-1-0 \
        && chown 65534 /tmp/.netrig-sysfs-1-0 || exit 99; \
        \"$0\" run s.toml --results res; rc=$?; ls -A /tmp; exit $rc";
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(&netrig)
        .current_dir(&dir)
        .env_remove("CI")
        .output()
        .expect("unshare");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let left: Vec<&str> = out.lines().filter(|l| l.starts_with(".netrig")).collect();
    assert_eq!(left, [".netrig-sysfs-1-0"], "{out}");
}
