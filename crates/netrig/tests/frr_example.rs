//! The bundled FRR example (examples/frr): three routers running zebra and
//! bgpd started by netrig, each with its own /etc/frr, reach ECMP, split
//! traffic over it and fail over, with no wrapper script; and FRR leaves
//! nothing on the machine; and FRR peers with BIRD (r3 running BIRD instead).

mod run_common;
use run_common::*;
use std::path::Path;

#[test]
fn frr_example_passes_and_leaves_nothing() {
    if !have_root() {
        return;
    }
    if !Path::new("/usr/lib/frr/bgpd").exists() {
        // CI installs FRR and sets NETRIG_REQUIRE_TOOLS so this never skips there.
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "FRR (/usr/lib/frr/bgpd) is missing and NETRIG_REQUIRE_TOOLS is set"
        );
        eprintln!("SKIP: FRR is not installed");
        return;
    }
    let before = (
        dir_names("/run/frr"),
        dir_names("/var/tmp"),
        dir_names("/etc/frr"),
        dir_names("/run"),
    );
    let s = Scratch::new("frr");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/frr");
    let (code, report, out) =
        run_json(&[&examples.display().to_string(), "--results", "res"], &s.0);
    for name in ["frr-ecmp", "frr-failover"] {
        assert_eq!(case(&report, name)["state"], "pass", "{name}: {out}");
    }
    let interop = &case(&report, "frr-bird-interop")["state"];
    if Path::new("/usr/sbin/bird").exists() {
        assert_eq!(interop, "pass", "{out}");
        let bird = std::fs::read_to_string(s.path("res/latest/frr-bird-interop/r3-bird.log"))
            .unwrap_or_default();
        assert!(bird.contains("Started"), "{bird}");
    } else {
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "BIRD (/usr/sbin/bird) is missing and NETRIG_REQUIRE_TOOLS is set"
        );
        assert_eq!(interop, "skip", "{out}");
    }
    assert_eq!(code, 0, "{out}");
    // Each router read its own configuration: r2 and r3 announce from their
    // own AS (their bgpd.conf), which r1's log shows.
    let r1_bgpd =
        std::fs::read_to_string(s.path("res/latest/frr-ecmp/r1-bgpd.log")).unwrap_or_default();
    assert!(
        r1_bgpd.contains("198.51.100.2(r2)") && r1_bgpd.contains("203.0.113.2(r3)"),
        "{r1_bgpd}"
    );
    let after = (
        dir_names("/run/frr"),
        dir_names("/var/tmp"),
        dir_names("/etc/frr"),
        dir_names("/run"),
    );
    assert_eq!(before, after, "FRR left files on the machine");
}
