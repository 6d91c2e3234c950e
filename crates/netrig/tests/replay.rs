//! `replay`: a capture another tool wrote (scapy, examples/replay/gen.py)
//! is sent through a lab and arrives intact, byte for byte, as scapy reads
//! it back from netrig's own capture at the far end.

mod run_common;
use run_common::*;
use std::path::Path;
use std::process::Command;

/// A python with scapy: `NETRIG_PYTHON` (the venv .ci/run makes) or
/// `python3`. Missing: a skip, or a failure under NETRIG_REQUIRE_TOOLS.
fn scapy() -> Option<String> {
    let py = std::env::var("NETRIG_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import scapy"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
        "`{py} -c 'import scapy'` fails, and NETRIG_REQUIRE_TOOLS is set (.ci/run installs it)"
    );
    eprintln!("skipped: no scapy for {py}");
    None
}

/// The frames of pcap or pcapng files, raw, as scapy reads them (one
/// python for all: importing scapy takes a second or two).
fn frames(py: &str, files: &[std::path::PathBuf]) -> Vec<Vec<Vec<u8>>> {
    let o = Command::new(py)
        .args([
            "-c",
            "import sys\nfrom scapy.utils import RawPcapReader\nfor f in sys.argv[1:]:\n    print('file')\n    with RawPcapReader(f) as r:\n        for d, _ in r: print(bytes(d).hex())",
        ])
        .args(files)
        .output()
        .expect("running python");
    assert!(o.status.success(), "reading {files:?}: {}", text(&o));
    let mut out: Vec<Vec<Vec<u8>>> = Vec::new();
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        if l == "file" {
            out.push(Vec::new());
            continue;
        }
        let frame = (0..l.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&l[i..i + 2], 16).expect("hex"))
            .collect();
        out.last_mut().expect("a file line first").push(frame);
    }
    assert_eq!(out.len(), files.len(), "{}", text(&o));
    out
}

fn gen(py: &str, out: &Path) {
    let script = workspace().join("examples/replay/gen.py");
    let o = Command::new(py)
        .arg(&script)
        .arg(out)
        .output()
        .expect("running gen.py");
    assert!(o.status.success(), "gen.py: {}", text(&o));
}

/// The capture files under examples/ are what their script writes (with
/// the scapy version .ci/run pins): nobody edited them by hand.
#[test]
fn the_example_captures_are_what_their_script_writes() {
    let Some(py) = scapy() else { return };
    let s = Scratch::new("replay-gen");
    gen(&py, &s.0);
    for f in ["mixed.pcap", "mixed.pcapng"] {
        let made = std::fs::read(s.path(f)).expect("generated");
        let kept = std::fs::read(workspace().join("examples/replay").join(f)).expect("committed");
        assert!(
            made == kept,
            "examples/replay/{f} differs from what gen.py writes"
        );
    }
}

const A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x0a];
const B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x0b];

/// Replayed from a, captured on b: with the lab's MACs (`lab`/`peer`) at
/// the file's timing, and with given ones back to back; from pcap and
/// pcapng. Every frame arrives once, in order, as the file has it but for
/// the MACs (VLAN tag, checksums, a 42-byte ARP frame and a full-size one
/// included).
#[test]
fn a_scapy_capture_arrives_intact() {
    if !have_root() {
        return;
    }
    let Some(py) = scapy() else { return };
    let s = Scratch::new("replay");
    gen(&py, &s.0);
    let topo = "[nodes.a]\n[nodes.b]\n[[links]]\nends = [\"a:eth0 192.0.2.1/24 2001:db8:1::1/64 mac=02:00:00:00:01:0a\", \"b:eth0 192.0.2.2/24 2001:db8:1::2/64 mac=02:00:00:00:01:0b\"]\n";
    let macs = [
        (
            "lab",
            "original",
            "src_mac = \"lab\", dst_mac = \"peer\"",
            A_MAC,
            B_MAC,
        ),
        (
            "given",
            "fast",
            "src_mac = \"02:00:00:00:02:0a\", dst_mac = \"b:eth0\"",
            [0x02, 0, 0, 0, 0x02, 0x0a],
            B_MAC,
        ),
    ];
    for (name, timing, rewrite, _, _) in &macs {
        s.write(
            &format!("{name}.toml"),
            &format!(
                "name = \"{name}\"\nvariants = {{ file = [\"mixed.pcap\", \"mixed.pcapng\"] }}\n{topo}\n\
                 [[steps]]\ncapture = {{ node = \"b\", iface = \"eth0\", keep = true }}\n\
                 [[steps]]\nreplay = {{ file = \"{{file}}\", node = \"a\", iface = \"eth0\", timing = \"{timing}\", {rewrite} }}\n"
            ),
        );
    }
    let (code, report, out) = run_json(&[".", "--results", "res"], &s.0);
    assert_eq!(code, 0, "{out}");
    let cases: Vec<(String, [u8; 6], [u8; 6])> = macs
        .iter()
        .flat_map(|(name, _, _, src, dst)| {
            ["mixed.pcap", "mixed.pcapng"].map(|f| (format!("{name}[file={f}]"), *src, *dst))
        })
        .collect();
    let mut paths = vec![s.path("mixed.pcap")];
    paths.extend(
        cases
            .iter()
            .map(|(c, _, _)| s.path(&format!("res/latest/{c}/b-eth0.pcapng"))),
    );
    let mut read = frames(&py, &paths).into_iter();
    let file = read.next().expect("the file's frames");
    assert_eq!(file.len(), 6, "gen.py writes six frames");
    for ((case_name, src, dst), captured) in cases.iter().zip(read) {
        let c = case(&report, case_name);
        assert_eq!(c["state"], "pass", "{out}");
        assert!(c.to_string().contains("sent 6 of 6 frames"), "{c:#}");
        let expected: Vec<Vec<u8>> = file
            .iter()
            .map(|fr| {
                let mut fr = fr.clone();
                fr[..6].copy_from_slice(dst);
                fr[6..12].copy_from_slice(src);
                fr
            })
            .collect();
        let got: Vec<Vec<u8>> = captured
            .into_iter()
            // b's own frames (its ARP and TCP answers) and a's router
            // solicitations are not the file's.
            .filter(|fr| expected.contains(fr))
            .collect();
        assert!(
            got == expected,
            "{case_name}: b received {} of the file's {} frames intact, in order",
            got.len(),
            expected.len()
        );
    }
}

/// Under load (one busy loop per core), the same: nothing is lost or
/// reordered on a veth however late the sender runs.
#[test]
fn a_scapy_capture_arrives_intact_under_load() {
    if !have_root() || scapy().is_none() {
        return;
    }
    let _busy = BusyLoops::start();
    a_scapy_capture_arrives_intact();
}
