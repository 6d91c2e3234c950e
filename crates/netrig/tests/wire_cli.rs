//! The data-plane CLI (`gen`, `capture`, `ping`, `probe`, `counters`) on a
//! persistent seed lab, end to end through the built binary. A capture
//! written by `netrig capture` is read back by tshark.
//!
//! Lab tests need root; they print SKIP otherwise. Each lab has a unique
//! name and a guard that runs `netrig down` however the test ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NETRIG: &str = env!("CARGO_BIN_EXE_netrig");

fn netrig(args: &[&str]) -> Output {
    Command::new(NETRIG)
        .args(args)
        .output()
        .expect("run netrig")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A persistent seed lab, torn down on drop.
struct LabGuard {
    name: String,
}

impl LabGuard {
    fn up(tag: &str) -> Option<LabGuard> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "needs root, and CI is set: it must not pass without running"
            );
            eprintln!("SKIP: needs root to bring up a persistent lab");
            return None;
        }
        let name = format!("w{tag}{}", std::process::id());
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed.toml");
        let seed = seed.to_str().expect("utf-8 path");
        let o = netrig(&["up", seed, "--name", &name]);
        assert!(o.status.success(), "netrig up: {:?}", text(&o));
        Some(LabGuard { name })
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let o = netrig(&["down", &self.name]);
        if !o.status.success() {
            eprintln!("netrig down {}: {:?}", self.name, text(&o));
        }
    }
}

/// A temporary file path, removed on drop (also when an assertion fails).
struct TmpFile(PathBuf);

impl Drop for TmpFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Start `netrig capture LAB AT -w FILE ARGS` and return once its ring is
/// open (it says `capturing on AT` on stderr): only then may a test send.
fn start_capture(
    lab: &str,
    at: &str,
    file: &Path,
    args: &[&str],
    stdout: Stdio,
) -> (std::process::Child, BufReader<std::process::ChildStderr>) {
    let mut cap = Command::new(NETRIG)
        .args(["capture", lab, at, "-w"])
        .arg(file)
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capture");
    let mut err = BufReader::new(cap.stderr.take().expect("stderr"));
    let mut first = String::new();
    err.read_line(&mut first).expect("capture banner");
    assert!(first.starts_with(&format!("capturing on {at}")), "{first}");
    (cap, err)
}

fn tmpfile(name: &str) -> TmpFile {
    TmpFile(std::env::temp_dir().join(format!("netrig-{}-{name}", std::process::id())))
}

#[test]
fn malformed_flow_spec_exits_2_and_names_the_column() {
    // Parsed before the lab is looked up: no lab or privilege needed.
    let o = netrig(&[
        "gen",
        "nolab",
        "h1",
        "udp",
        "da=198.51.100.2,sp=1024,dp=1-70000",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("column 25"), "{err}");
    assert!(
        err.contains("dp=1-70000") && err.contains("out of range"),
        "{err}"
    );
    // Flags join the visible spec, so their errors point into it too.
    let o = netrig(&["gen", "nolab", "h1", "udp", "da=198.51.100.2", "--sp", "x"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("column 17") && err.contains("invalid port"),
        "{err}"
    );
    let o = netrig(&["gen", "nolab", "h1", "udq", "da=198.51.100.2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("unknown protocol `udq`"),
        "{:?}",
        text(&o)
    );
    let o = netrig(&["gen", "nolab", "h1", "udp", "sp=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("missing required key `da`"),
        "{:?}",
        text(&o)
    );
}

fn tshark() -> Option<&'static str> {
    let ok = Command::new("tshark")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // CI installs it and sets NETRIG_REQUIRE_TOOLS so this never skips there.
        assert!(
            std::env::var_os("NETRIG_REQUIRE_TOOLS").is_none(),
            "tshark is required (apt-get install -y tshark)"
        );
        eprintln!("SKIP: tshark is not installed (apt-get install -y tshark)");
        return None;
    }
    Some("tshark")
}

#[test]
fn capture_written_by_netrig_reads_back_in_tshark() {
    let Some(tshark) = tshark() else { return };
    let Some(lab) = LabGuard::up("cap") else {
        return;
    };
    let tmp = tmpfile("cap.pcapng");
    let file = &tmp.0;
    let (cap, mut err) = start_capture(
        &lab.name,
        "h2:eth0",
        file,
        &[
            "-c",
            "300",
            "--direction",
            "in",
            "--stream",
            "5",
            "--summary",
            "-d",
            "20s",
        ],
        Stdio::piped(),
    );
    let o = netrig(&[
        "gen",
        &lab.name,
        "h1",
        "udp",
        "da=198.51.100.2,sp=1024,dp=1000-1299,tag=5:1:2",
        "--pps",
        "100000",
    ]);
    let (out, e) = text(&o);
    assert!(o.status.success(), "gen: {out}{e}");
    assert!(out.contains("sent 300 packets"), "{out}");
    let done = cap.wait_with_output().expect("capture ends");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    assert!(done.status.success(), "capture: {rest}");
    assert!(
        rest.contains("300 packets captured on h2:eth0") && rest.contains(" 0 dropped"),
        "{rest}"
    );
    let summary = String::from_utf8_lossy(&done.stdout);
    assert_eq!(summary.lines().count(), 300, "{summary}");
    assert!(
        summary
            .lines()
            .next()
            .is_some_and(|l| l.contains("IP 192.0.2.2.1024 > 198.51.100.2.1000: UDP")),
        "{summary}"
    );

    let t = Command::new(tshark)
        .arg("-r")
        .arg(file)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-e",
            "frame.interface_description",
            "-e",
            "frame.len",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ip.ttl",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "udp.payload",
        ])
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .output()
        .expect("run tshark");
    let out = String::from_utf8_lossy(&t.stdout);
    assert!(
        t.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 300, "tshark saw {} packets:\n{out}", rows.len());
    for (i, r) in rows.iter().enumerate() {
        let dport = (1000 + i).to_string();
        // Tag: "NRTG", stream 5, seq i, source 1, destination 2.
        let tag = format!("4e525447{:08x}{:016x}{:04x}{:04x}", 5, i, 1, 2);
        assert_eq!(
            r[..9],
            [
                "h2:eth0",
                "62",
                "192.0.2.2",
                "198.51.100.2",
                "63",
                "1024",
                dport.as_str(),
                "1", // IP checksum good
                "1", // UDP checksum good
            ],
            "packet {i}: {r:?}"
        );
        assert_eq!(r[9], tag, "packet {i}");
    }
}

/// The --snaplen asked is the one kept (IDB and every packet), and the file
/// ends with an Interface Statistics Block holding the ring's counts that
/// netrig printed; snaplens it cannot honour are refused before anything.
#[test]
fn capture_keeps_its_snaplen_and_writes_the_ring_counts_into_the_file() {
    let Some(tshark) = tshark() else { return };
    for bad in ["0", "262145", "-1", "forty"] {
        let tmp = tmpfile("bad.pcapng");
        let o = netrig(&[
            "capture",
            "nolab",
            "h2:eth0",
            "-w",
            tmp.0.to_str().expect("utf-8"),
            &format!("--snaplen={bad}"),
        ]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {:?}", text(&o));
        assert!(text(&o).1.contains("is not a snaplen"), "{:?}", text(&o));
        assert!(!tmp.0.exists(), "nothing may be created");
    }
    let Some(lab) = LabGuard::up("snap") else {
        return;
    };
    let tmp = tmpfile("snap.pcapng");
    let file = &tmp.0;
    let (mut cap, mut err) = start_capture(
        &lab.name,
        "h2:eth0",
        file,
        &["-c", "100", "--stream", "7", "--snaplen", "40", "-d", "20s"],
        Stdio::null(),
    );
    let o = netrig(&[
        "gen",
        &lab.name,
        "h1",
        "udp",
        "da=198.51.100.2,sp=1024,dp=1000-1099,tag=7:1:2",
        "--pps",
        "50000",
    ]);
    assert!(o.status.success(), "gen: {:?}", text(&o));
    let done = cap.wait().expect("capture ends");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    assert!(done.success(), "capture: {rest}");
    // "... ring: N packets, D dropped"
    let ring: Vec<u64> = rest
        .split("ring: ")
        .nth(1)
        .map(|r| {
            r.split(|c: char| !c.is_ascii_digit())
                .filter(|w| !w.is_empty())
                .filter_map(|w| w.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ring.len(), 2, "{rest}");
    let (received, dropped) = (ring[0], ring[1]);
    assert!(received >= 100, "{rest}");

    // tshark: every frame cut at 40 bytes, its length on the wire kept.
    let t = Command::new(tshark)
        .arg("-r")
        .arg(file)
        .args(["-T", "fields", "-e", "frame.cap_len", "-e", "frame.len"])
        .output()
        .expect("run tshark");
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let rows = String::from_utf8_lossy(&t.stdout).into_owned();
    assert_eq!(rows.lines().count(), 100, "{rows}");
    assert!(rows.lines().all(|l| l == "40\t62"), "{rows}");
    // capinfos: the interface's capture length, and one statistics entry.
    let c = Command::new("capinfos")
        .arg(file)
        .output()
        .expect("run capinfos");
    let info = String::from_utf8_lossy(&c.stdout).into_owned();
    assert!(c.status.success(), "{info}");
    assert!(info.contains("Capture length = 40"), "{info}");
    assert!(info.contains("Number of stat entries = 1"), "{info}");

    // The statistics themselves, which neither tool prints: read with an
    // independent pcapng parser.
    use pcap_parser::traits::PcapReaderIterator;
    use pcap_parser::{Block, PcapBlockOwned, PcapError, PcapNGReader};
    let mut reader =
        PcapNGReader::new(1 << 16, std::fs::File::open(file).expect("open")).expect("pcapng");
    let (mut snaplens, mut isbs, mut ts) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        match reader.next() {
            Ok((n, block)) => {
                match block {
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        snaplens.push(idb.snaplen)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        ts.push(u64::from(epb.ts_high) << 32 | u64::from(epb.ts_low))
                    }
                    PcapBlockOwned::NG(Block::InterfaceStatistics(isb)) => {
                        let time = |t: Option<Result<(u32, u32), _>>| {
                            t.and_then(Result::ok)
                                .map(|(h, l)| u64::from(h) << 32 | u64::from(l))
                        };
                        isbs.push((
                            isb.if_id,
                            isb.isb_ifrecv().and_then(Result::ok),
                            isb.isb_ifdrop().and_then(Result::ok),
                            isb.isb_usrdeliv().and_then(Result::ok),
                            time(isb.isb_starttime()),
                            time(isb.isb_endtime()),
                        ))
                    }
                    _ => {}
                }
                reader.consume(n);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("pcapng: {e:?}"),
        }
    }
    assert_eq!(snaplens, [40]);
    assert_eq!(isbs.len(), 1, "{isbs:?}");
    let (if_id, ifrecv, ifdrop, usrdeliv, start, end) = isbs[0];
    assert_eq!(if_id, 0);
    assert_eq!(ifrecv, Some(received), "as printed: {rest}");
    assert_eq!(ifdrop, Some(dropped), "as printed: {rest}");
    assert_eq!(usrdeliv, Some(100));
    let (start, end) = (start.expect("isb_starttime"), end.expect("isb_endtime"));
    assert!(
        ts.iter().all(|&t| start <= t && t <= end),
        "packets outside [{start}, {end}]"
    );
}

#[test]
fn ping_probe_and_counters_on_a_running_lab() {
    let Some(lab) = LabGuard::up("ppc") else {
        return;
    };
    let l = lab.name.as_str();
    // ping's exit convention: 0 with replies, 1 without, 2 on error.
    let o = netrig(&["ping", l, "h1", "198.51.100.2", "-c", "2", "-i", "50ms"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(
        text(&o).0.contains("2 transmitted, 2 received"),
        "{:?}",
        text(&o)
    );
    let o = netrig(&["ping", l, "h1", "2001:db8:2::2", "-c", "1"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = netrig(&["ping", l, "h1", "192.0.2.99", "-c", "1", "-W", "200ms"]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let o = netrig(&["ping", l, "h1", "not-an-ip"]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    let o = netrig(&["ping", l, "nosuchnode", "192.0.2.1"]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));

    // Two probe servers behind the anycast VIP; the client says who answered.
    let servers: Vec<_> = ["h2", "h3"]
        .into_iter()
        .map(|n| {
            let mut c = Command::new(NETRIG)
                .args(["probe", "server", l, n, "198.18.0.0:7000", "-d", "20s"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn probe server");
            let mut line = String::new();
            BufReader::new(c.stderr.as_mut().expect("stderr"))
                .read_line(&mut line)
                .expect("server banner");
            assert!(line.contains("listening on 198.18.0.0:7000"), "{line}");
            c
        })
        .collect();
    let o = netrig(&[
        "probe",
        "client",
        l,
        "h1",
        "198.18.0.0:7000",
        "-n",
        "48",
        "--sport",
        "41000",
    ]);
    for mut s in servers {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(s.id() as i32, libc::SIGTERM) };
        let st = s.wait().expect("server exits");
        assert!(st.success(), "probe server exit: {st:?}");
    }
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(out.matches(" -> answered by ").count(), 48, "{out}");
    assert!(
        out.contains("answered by h2") && out.contains("answered by h3"),
        "{out}"
    );
    assert!(
        out.contains("refused 0, reset 0, timeout 0, error 0"),
        "{out}"
    );
    assert!(out.contains("sport 41047 -> answered by"), "{out}");

    // Counters over a window with known traffic through r1.
    let start = Instant::now();
    let counters = Command::new(NETRIG)
        .args([
            "counters",
            l,
            "r1:eth1",
            "--diff",
            "1s",
            "-t",
            "fib:fib_table_lookup",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn counters");
    std::thread::sleep(Duration::from_millis(200));
    let o = netrig(&["gen", l, "h1", "udp", "da=198.51.100.2,sp=7,dp=1-5000"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let out = counters.wait_with_output().expect("counters");
    assert!(start.elapsed() >= Duration::from_secs(1));
    let out = String::from_utf8_lossy(&out.stdout);
    let eth1 = out
        .lines()
        .find(|l| l.starts_with("eth1 "))
        .unwrap_or_else(|| panic!("{out}"));
    let tx: u64 = eth1
        .split_whitespace()
        .nth(5)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((5000..5100).contains(&tx), "r1:eth1 forwarded {tx}:\n{out}");
    let tp = out
        .lines()
        .find(|l| l.starts_with("tracepoint fib:fib_table_lookup:"))
        .unwrap_or_else(|| panic!("{out}"));
    if !tp.contains("SKIP") {
        let hits: u64 = tp
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(hits >= 5000, "{tp}");
    }
}

#[test]
fn parallel_gen_sends_every_flow_once() {
    let Some(lab) = LabGuard::up("pgen") else {
        return;
    };
    let l = lab.name.as_str();
    // Capture on h2 while two workers send 20,000 distinct flows to it.
    let pcap = tmpfile("pgen.pcapng");
    // Not a count: neighbour discovery shares the wire with the flows.
    let (mut cap, _err) = start_capture(
        l,
        "h2:eth0",
        &pcap.0,
        &["-d", "3s", "--direction", "in"],
        Stdio::piped(),
    );
    let o = netrig(&[
        "gen",
        l,
        "h1",
        "udp",
        "da=198.51.100.2,sp=1024,dp=10000-29999",
        "--pps",
        "100000",
        "-P",
        "2",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains("sent 20000 packets") && out.contains("2 workers"),
        "{out}"
    );
    let st = cap.wait().expect("capture exits");
    assert!(st.success());
    if let Some(tshark) = tshark() {
        let o = Command::new(tshark)
            .args(["-r"])
            .arg(&pcap.0)
            .args(["-Y", "udp", "-T", "fields", "-e", "udp.dstport"])
            .output()
            .expect("tshark");
        let ports: std::collections::BTreeSet<u32> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        assert_eq!(ports.len(), 20000, "every destination port exactly once");
        assert_eq!(ports.first(), Some(&10000));
        assert_eq!(ports.last(), Some(&29999));
    }
    // Tags count per sender: refused with more than one worker.
    let o = netrig(&[
        "gen",
        l,
        "h1",
        "udp",
        "da=198.51.100.2,dp=1-10",
        "-P",
        "2",
        "--tag",
        "1:1:2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
}

#[test]
fn malformed_frame_exits_2_and_names_the_column() {
    // Parsed before the lab is looked up: no lab or privilege needed.
    let o = netrig(&[
        "gen",
        "nolab",
        "h1:eth0",
        "frame",
        "eth() / dot1q(vid=4096) / ipv4()",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("column 19") && err.contains("does not fit in 12 bits"),
        "{err}"
    );
    let o = netrig(&["gen", "nolab", "h1:eth0", "frame", "eth()", "--dp", "9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--dp is for flows"), "{:?}", text(&o));
}

#[test]
fn gen_sends_frames_built_from_layers() {
    let Some(tshark) = tshark() else { return };
    let Some(lab) = LabGuard::up("frm") else {
        return;
    };
    let tmp = tmpfile("frm.pcapng");
    let file = &tmp.0;
    // For a fixed time, not a count: a new lab's nodes still send their MLD
    // reports for a second or so, and those are not this test's frames.
    let (cap, _err) = start_capture(
        &lab.name,
        "r1:eth0",
        file,
        &["--direction", "in", "-d", "5s"],
        Stdio::null(),
    );
    let o = netrig(&[
        "gen",
        &lab.name,
        "h1:eth0",
        "frame",
        "eth(dst=02:00:00:00:00:99) / dot1q(vid=10) / ipv4(src=192.0.2.2, dst=198.51.100.2) /",
        "udp(sport=7000-7003, dport=9) / raw(text='netrig')",
        "--pps",
        "1000",
    ]);
    let (out, e) = text(&o);
    assert!(o.status.success(), "gen: {out}{e}");
    assert!(out.contains("sent 4 frames"), "{out}");
    let done = cap.wait_with_output().expect("capture ends");
    assert!(done.status.success());
    let t = Command::new(tshark)
        .arg("-r")
        .arg(file)
        .args(["-Y", "vlan", "-T", "fields", "-E", "separator=,"])
        .args(["-e", "vlan.id", "-e", "udp.srcport", "-e", "data.data"])
        .output()
        .expect("run tshark");
    let rows = String::from_utf8_lossy(&t.stdout).into_owned();
    let want: String = (7000..7004)
        .map(|p| format!("10,{p},6e6574726967\n"))
        .collect();
    assert_eq!(rows, want);
}

/// The scapy-made capture committed under examples/replay (see its gen.py).
fn replay_example(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/replay")
        .join(name);
    p.to_str().expect("utf-8 path").to_string()
}

/// The Ethernet frames of a capture file, in order.
fn frames_of(file: &Path) -> Vec<Vec<u8>> {
    netrig_spec::capfile::read_capture(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .into_iter()
        .map(|f| f.data)
        .collect()
}

/// The frames of a capture whose bytes after the MACs are those of one of
/// `sent` (what a replay caused, whatever else the lab said meanwhile).
fn replayed(capture: &Path, sent: &[Vec<u8>]) -> Vec<Vec<u8>> {
    frames_of(capture)
        .into_iter()
        .filter(|f| f.len() >= 12 && sent.iter().any(|w| w[12..] == f[12..]))
        .collect()
}

/// The MAC of NODE's IFACE in the lab, as `ip link` shows it.
fn mac_of(lab: &str, node: &str, iface: &str) -> [u8; 6] {
    let o = netrig(&[
        "exec", lab, node, "--", "ip", "-o", "link", "show", "dev", iface,
    ]);
    let (out, e) = text(&o);
    assert!(o.status.success(), "ip link: {out}{e}");
    let hex = out
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {out}"));
    let mut mac = [0u8; 6];
    for (b, h) in mac.iter_mut().zip(hex.split(':')) {
        *b = u8::from_str_radix(h, 16).expect("hex");
    }
    mac
}

/// Seconds from gen's `... in X s` summary.
fn gen_seconds(out: &str) -> f64 {
    out.split(" in ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time in {out}"))
}

#[test]
fn replay_refuses_a_bad_file_before_the_lab() {
    // Checked before the lab is looked up: no lab or privilege needed.
    let missing = "/nonexistent/netrig-replay.pcap";
    let o = netrig(&["gen", "nolab", "h1:eth0", "replay", missing]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("cannot replay `{missing}`")), "{err}");
    let not_capture = replay_example("gen.py");
    let o = netrig(&["gen", "nolab", "h1:eth0", "replay", &not_capture]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("neither pcap nor pcapng"), "{err}");
    let good = replay_example("mixed.pcap");
    for bad in [
        &["--pps", "10"][..],
        &["--speed", "0"],
        &["--smac", "nonsense"],
        &["--dmac", "r1"],
        &["--fast", "--speed", "2"],
    ] {
        let mut args = vec!["gen", "nolab", "h1:eth0", "replay", &good];
        args.extend_from_slice(bad);
        let o = netrig(&args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {:?}", text(&o));
    }
    let o = netrig(&[
        "gen",
        "nolab",
        "h1:eth0",
        "udp",
        "da=198.51.100.2",
        "--fast",
    ]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("--fast is for"), "{:?}", text(&o));
}

#[test]
fn gen_replays_a_capture_file_intact() {
    let Some(lab) = LabGuard::up("rpl") else {
        return;
    };
    let pcapng = replay_example("mixed.pcapng");
    let want = frames_of(Path::new(&pcapng));
    assert_eq!(want.len(), 6);

    // Unknown node or interface: usage errors, nothing sent.
    for at in ["nosuch:eth0", "h1:eth9"] {
        let o = netrig(&["gen", &lab.name, at, "replay", &pcapng]);
        assert_eq!(o.status.code(), Some(2), "{at}: {:?}", text(&o));
    }

    // At the file's timing, MACs kept: r1 sees the file's frames as they
    // are. A new lab's own chatter (MLD reports) arrives too: the capture
    // runs for a while and keeps the frames that are replayed ones.
    let tmp = tmpfile("rpl.pcapng");
    let (cap, _err) = start_capture(
        &lab.name,
        "r1:eth0",
        &tmp.0,
        &["--direction", "in", "-d", "5s"],
        Stdio::null(),
    );
    let o = netrig(&["gen", &lab.name, "h1:eth0", "replay", &pcapng]);
    let (out, e) = text(&o);
    assert!(o.status.success(), "gen: {out}{e}");
    assert!(out.contains("h1:eth0: sent 6 of 6 frames"), "{out}");
    // The file's frames are 20 ms apart: the last cannot leave before 100 ms.
    assert!(gen_seconds(&out) >= 0.1, "{out}");
    assert!(cap
        .wait_with_output()
        .expect("capture ends")
        .status
        .success());
    assert_eq!(replayed(&tmp.0, &want), want, "frames changed on the way");

    // Back to back with the lab's MACs (the destination resolved from r1's
    // address).
    let h1 = mac_of(&lab.name, "h1", "eth0");
    let r1 = mac_of(&lab.name, "r1", "eth0");
    let rewritten: Vec<Vec<u8>> = want
        .iter()
        .map(|f| [&r1[..], &h1[..], &f[12..]].concat())
        .collect();
    let tmp = tmpfile("rpl-mac.pcapng");
    let (cap, _err) = start_capture(
        &lab.name,
        "r1:eth0",
        &tmp.0,
        &["--direction", "in", "-d", "5s"],
        Stdio::null(),
    );
    let pcap = replay_example("mixed.pcap");
    let o = netrig(&[
        "gen",
        &lab.name,
        "h1:eth0",
        "replay",
        &pcap,
        "--fast",
        "--smac",
        "lab",
        "--dmac",
        "192.0.2.1",
    ]);
    let (out, e) = text(&o);
    assert!(o.status.success(), "gen: {out}{e}");
    assert!(out.contains("sent 6 of 6 frames"), "{out}");
    assert!(cap
        .wait_with_output()
        .expect("capture ends")
        .status
        .success());
    assert_eq!(
        replayed(&tmp.0, &want),
        rewritten,
        "rewritten frames differ"
    );

    // -c and --speed: the first two frames, one gap of 20 ms at 2x speed.
    let o = netrig(&[
        "gen", &lab.name, "h1:eth0", "replay", &pcap, "-c", "2", "--speed", "2",
    ]);
    let (out, e) = text(&o);
    assert!(o.status.success(), "gen: {out}{e}");
    assert!(out.contains("sent 2 of 6 frames"), "{out}");
    assert!(gen_seconds(&out) >= 0.01, "{out}");
}
