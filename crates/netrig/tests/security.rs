//! Issue 9, written as the attacks: another user plants links, state files
//! and directories where root's netrig looks; each attack must fail and leave
//! its victim unchanged. Needs root (to play the other user); skipped otherwise.

mod run_common;
use run_common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

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

/// Hand `p` to nobody, as if another user had made it.
fn give_away(p: &Path) {
    std::os::unix::fs::lchown(p, Some(65534), Some(65534)).expect("lchown");
}

/// The old lock was `$TMPDIR/netrig-tracepoint.lock`, opened through links
/// and chmod'ed 0666: a link planted there made a root-only file
/// world-writable. The lock no longer lives in a shared directory at all.
#[test]
fn a_link_planted_at_the_old_lock_path_is_not_followed() {
    if !root() {
        eprintln!("skipped: needs root");
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
