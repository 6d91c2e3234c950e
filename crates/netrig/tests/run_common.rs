// Shared helpers for the run_* integration tests (included with `mod`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const NETRIG: &str = env!("CARGO_BIN_EXE_netrig");

/// A scratch folder removed on drop, even when the test panics.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "netrig-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
    pub fn exec(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(name, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The pair topology used by most tests.
pub const PAIR: &str = r#"
[nodes.a]
[nodes.b]
[[links]]
ends = ["a:eth0 192.0.2.1/24 2001:db8:1::1/64", "b:eth0 192.0.2.2/24 2001:db8:1::2/64"]
"#;

pub fn netrig(args: &[&str], cwd: &Path) -> Output {
    netrig_env(args, cwd, &[])
}

/// [`netrig`] with extra environment variables.
pub fn netrig_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(NETRIG)
        .args(args)
        .current_dir(cwd)
        .env_remove("CI")
        .envs(env.iter().copied())
        .output()
        .expect("running netrig")
}

pub fn text(o: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run and parse `--format json` from stdout.
pub fn run_json(args: &[&str], cwd: &Path) -> (i32, serde_json::Value, String) {
    run_json_env(args, cwd, &[])
}

/// [`run_json`] with extra environment variables.
pub fn run_json_env(
    args: &[&str],
    cwd: &Path,
    env: &[(&str, &str)],
) -> (i32, serde_json::Value, String) {
    let mut a = vec!["run", "--format", "json"];
    a.extend_from_slice(args);
    let o = netrig_env(&a, cwd, env);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&o)));
    (o.status.code().unwrap_or(-1), v, text(&o))
}

pub fn case<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["cases"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no case {name} in {report:#}"))
}

/// Processes whose command line contains `marker`.
pub fn procs_with(marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let p = e.path().join("cmdline");
        if let Ok(b) = std::fs::read(&p) {
            let s = String::from_utf8_lossy(&b).replace('\0', " ");
            if s.contains(marker) && !s.contains("netrig-") {
                out.push(format!("{}: {s}", e.file_name().to_string_lossy()));
            }
        }
    }
    out
}

/// One busy loop per core (what a shared CI runner looks like), ended by PID
/// when dropped, even when the test panics.
pub struct BusyLoops(Vec<std::process::Child>);

impl BusyLoops {
    pub fn start() -> BusyLoops {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        BusyLoops(
            (0..cores)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("starting a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether a test that needs root can run: without root it is skipped with
/// a note, except under CI (`CI` set), where a missing root is a failure
/// rather than a silent pass.
pub fn have_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "this test needs root, and CI is set: it must not pass without running"
    );
    eprintln!("skipped: needs root");
    false
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The names in a folder, sorted (none if it cannot be read): to see what a
/// run left on the machine.
pub fn dir_names(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
