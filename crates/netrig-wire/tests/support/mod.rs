//! Two throwaway network namespaces joined by a veth pair, for tests.
//!
//! A fresh thread unshares its network namespace (A) and a second one (B) is
//! held by an fd. Both vanish when the thread ends and the fd closes, even on
//! panic, so nothing is left in the host namespace.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sched::{setns, unshare, CloneFlags};

pub const A_IP: &str = "192.0.2.1";
pub const B_IP: &str = "192.0.2.2";
pub const A_IP6: &str = "2001:db8:1::1";
pub const B_IP6: &str = "2001:db8:1::2";

pub struct Pair {
    b: File,
}

fn run(cmd: &str, ns: Option<&File>) {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let mut c = Command::new(args[0]);
    c.args(&args[1..]);
    if let Some(f) = ns {
        let fd = f.as_raw_fd();
        // SAFETY: setns is async-signal-safe; runs in the forked child only.
        unsafe {
            c.pre_exec(move || {
                let b = std::os::fd::BorrowedFd::borrow_raw(fd);
                setns(b, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
            });
        }
    }
    let out = c.output().unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether we may create namespaces (root or CAP_SYS_ADMIN); tests skip otherwise.
pub fn can_unshare() -> bool {
    std::thread::spawn(|| unshare(CloneFlags::CLONE_NEWNET).is_ok())
        .join()
        .unwrap_or(false)
}

/// Skip (return) from a test with a printed reason when namespaces are unavailable.
#[macro_export]
macro_rules! require_netns {
    () => {
        if !support::can_unshare() {
            assert!(
                std::env::var_os("CI").is_none(),
                "needs root, and CI is set: it must not pass without running"
            );
            eprintln!("SKIP: cannot unshare a network namespace (need root/CAP_SYS_ADMIN)");
            return;
        }
    };
}

impl Pair {
    /// Run `f` on a fresh thread in namespace A, with `va` (A) -- `vb` (B)
    /// addressed and up. Panics in `f` propagate.
    pub fn with<R: Send>(f: impl FnOnce(&Pair) -> R + Send) -> R {
        std::thread::scope(|s| {
            s.spawn(|| {
                unshare(CloneFlags::CLONE_NEWNET).expect("unshare A");
                let b = std::thread::spawn(|| {
                    unshare(CloneFlags::CLONE_NEWNET).expect("unshare B");
                    File::open("/proc/thread-self/ns/net").expect("open ns B")
                })
                .join()
                .expect("ns B thread");
                let pair = Pair { b };
                // No DAD: link-local addresses usable at once, so the kernel
                // can send NS for neighbour resolution without delay (as a
                // lab that waits for DAD would have it).
                no_dad();
                pair.in_b(no_dad);
                let bpath = format!("/proc/{}/fd/{}", std::process::id(), pair.b.as_raw_fd());
                run(
                    &format!("ip link add va type veth peer name vb netns {bpath}"),
                    None,
                );
                // Links up first, then addresses: IPv6 then joins its
                // solicited-node groups right away instead of on carrier.
                run("ip link set lo up", None);
                run("ip link set va up", None);
                run("ip link set lo up", Some(&pair.b));
                run("ip link set vb up", Some(&pair.b));
                run(&format!("ip addr add {A_IP}/24 dev va"), None);
                run(&format!("ip addr add {A_IP6}/64 dev va nodad"), None);
                run(&format!("ip addr add {B_IP}/24 dev vb"), Some(&pair.b));
                run(
                    &format!("ip addr add {B_IP6}/64 dev vb nodad"),
                    Some(&pair.b),
                );
                // Ready when both ends listen on their solicited-node groups
                // (otherwise the first NS can go unanswered).
                wait_mcast("va", "ff0200000000000000000001ff000001");
                pair.in_b(|| wait_mcast("vb", "ff0200000000000000000001ff000002"));
                f(&pair)
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Write a sysctl in namespace A (the calling thread must be the one
    /// `with` runs on); refuses to touch the host namespace.
    pub fn sysctl_a(&self, key: &str, value: &str) {
        assert_not_host_netns();
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }

    /// Run `cmd` (an `ip ...` line) in namespace A / B.
    pub fn ip_a(&self, cmd: &str) {
        run(cmd, None);
    }
    pub fn ip_b(&self, cmd: &str) {
        run(cmd, Some(&self.b));
    }

    /// Run `f` on a thread inside namespace B.
    pub fn in_b<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(&self.b, CloneFlags::CLONE_NEWNET).expect("setns B");
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Spawn a thread inside namespace B that outlives this call (join it).
    pub fn spawn_in_b<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> std::thread::JoinHandle<R> {
        let b = self.b.try_clone().expect("dup ns fd");
        std::thread::spawn(move || {
            setns(&b, CloneFlags::CLONE_NEWNET).expect("setns B");
            drop(b);
            f()
        })
    }
}

/// (rx_packets, tx_packets) of `ifname` in the calling thread's namespace.
pub fn counters(ifname: &str) -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/thread-self/net/dev").expect("read net/dev");
    for line in s.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == ifname {
            let v: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            return (v[1], v[9]);
        }
    }
    panic!("no {ifname} in /proc/thread-self/net/dev");
}

/// MAC of `ifname` in the calling thread's namespace (via `ip -br link`).
pub fn mac_of(ifname: &str) -> String {
    let out = Command::new("ip")
        .args(["-br", "link", "show", ifname])
        .output()
        .expect("ip");
    let s = String::from_utf8_lossy(&out.stdout);
    s.split_whitespace().nth(2).expect("mac column").to_string()
}

/// Panic if the calling thread is in the namespace the test process started
/// in (the main thread's, which these helpers never change).
pub fn assert_not_host_netns() {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/thread-self/ns/net")
        .expect("own ns")
        .ino();
    let host = std::fs::metadata("/proc/self/ns/net")
        .expect("main thread ns")
        .ino();
    assert_ne!(me, host, "refusing to act in the host network namespace");
}

fn wait_mcast(ifname: &str, group: &str) {
    let t = std::time::Instant::now();
    loop {
        let s = std::fs::read_to_string("/proc/thread-self/net/igmp6").unwrap_or_default();
        if s.lines().any(|l| l.contains(ifname) && l.contains(group)) {
            return;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(3),
            "{ifname} never joined {group}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn no_dad() {
    assert_not_host_netns();
    for k in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{k}/accept_dad");
        std::fs::write(&path, "0").unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
}
