//! Data-plane commands on a running persistent lab: `gen`, `ping`, `capture`,
//! `probe`, `counters`.
//!
//! Each command validates its input first (bad input exits 2 before anything
//! happens), then joins the node with `persist::enter` while the process is
//! still single-threaded (joining a rootless lab's user namespace requires
//! that), and only then opens sockets, which stay in that node's namespace.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use miette::{miette, LabeledSpan, NamedSource};
use netrig_lab::netlink::{LinkStats, Netlink};
use netrig_lab::persist::{self, error_chain, LabState, PersistError};
use netrig_lab::Mode;
use netrig_wire::flow::{parse_duration, IpRange, L4};
use netrig_wire::{
    neigh, Capture, CaptureOptions, Direction, FlowSpec, PcapngWriter, PingOptions,
    ProbeClientOptions, ProbeOutcome, ProbeProto, ProbeServer, SendStats, Sender, SenderOptions,
    TracepointCounter, TxMode, WireError,
};

use crate::{CliError, CliResult, EXIT_FAIL, EXIT_USAGE};

/// Set by SIGINT/SIGTERM while a long-running command should wind down
/// cleanly (write its file, print its totals) instead of dying.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn catch_stop_signals() {
    // SAFETY: installing an async-signal-safe handler (one atomic store).
    // No SA_RESTART: blocking calls return EINTR so loops see the flag soon.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_stop_signal as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
}

fn stopping() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// clap value parser for durations: `500ms`, `2s`, `1m`, or bare seconds (`0.2`).
fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

fn persist_err(e: PersistError) -> CliError {
    match e {
        PersistError::NoSuchLab(_)
        | PersistError::NoSuchNode { .. }
        | PersistError::BadName { .. } => CliError::usage(miette!("{e}")),
        other => CliError::fail(miette!("{}", error_chain(&other))),
    }
}

/// Load the lab's state and join `node`. Must run before any thread exists.
fn enter(lab: &str, node: &str) -> Result<LabState, CliError> {
    let state = persist::load(lab).map_err(persist_err)?;
    persist::enter(&state, node).map_err(persist_err)?;
    Ok(state)
}

/// `NODE` or `NODE:IFACE`.
fn split_target(t: &str) -> Result<(&str, Option<&str>), CliError> {
    match t.split_once(':') {
        None if !t.is_empty() => Ok((t, None)),
        Some((n, i)) if !n.is_empty() && !i.is_empty() => Ok((n, Some(i))),
        _ => Err(CliError::usage(miette!(
            "invalid target `{t}`: expected NODE or NODE:IFACE"
        ))),
    }
}

fn wire_err(what: &str, e: WireError) -> CliError {
    match e {
        // The spec or option was wrong, not the system.
        WireError::Flow(_)
        | WireError::InvalidOption(_)
        | WireError::NoSuchInterface(_)
        | WireError::BadInterfaceName(_) => CliError::usage(miette!("{what}: {e}")),
        other => CliError::fail(miette!("{what}: {}", error_chain(&other))),
    }
}

// ---------------------------------------------------------------- gen

/// `netrig gen`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
netrig gen seed h1 udp da=198.18.0.0,sp=1024,dp=0-32767\n  \
netrig gen seed h1:eth0 udp -B 2001:db8:2::2 --dp 1-1000 -c 100000 --pps 50000 --tag 1:1:2\n  \
netrig gen seed h1 tcp da=198.51.100.2,dp=80,flags=syn --duration 5s\n  \
netrig gen seed h1:eth0 frame \"eth() / dot1q(vid=10) / ipv4(dst=198.51.100.2) / udp(sport=1-9)\" --pps 100\n  \
netrig gen seed h1:eth0 replay examples/replay/mixed.pcapng                  # at the file's timing\n  \
netrig gen seed h1:eth0 replay trace.pcap --fast --smac lab --dmac 192.0.2.1 # the lab's MACs\n  \
netrig gen seed h1:eth0 replay trace.pcap --speed 10 -c 1000 -d 30s")]
pub struct GenArgs {
    /// Lab name.
    pub lab: String,
    /// Sending node, optionally with its interface (default: the route to the destination).
    pub target: String,
    /// udp, tcp (SYN), icmp or icmpv6; or `frame` for frames built from
    /// layers (the notation of the `send` step, in the arguments); or
    /// `replay` for the Ethernet frames of a pcap/pcapng file (the argument),
    /// at the file's timing (--speed scales it, --fast sends back to back).
    pub proto: String,
    /// For `replay`: the capture file.
    /// For `frame`: the layers, e.g. "eth() / ipv4(dst=198.51.100.2) / udp()".
    /// Otherwise mausezahn-style items: sa=, da= (address, a-b or CIDR), sp=, dp= (port or a-b),
    /// c=, pps=, d=, size=, ttl=, smac=, dmac=, flags=, seq=, id=, tag=stream[:src:dst].
    /// Several arguments are joined with commas.
    pub args: Vec<String>,
    /// Source addresses (default: the preferred source of the route to the destination).
    #[arg(short = 'A', long)]
    pub sa: Option<String>,
    /// Destination addresses.
    #[arg(short = 'B', long)]
    pub da: Option<String>,
    /// Source ports.
    #[arg(long)]
    pub sp: Option<String>,
    /// Destination ports.
    #[arg(long)]
    pub dp: Option<String>,
    /// Packets to send (default: one pass over all combinations).
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// Packets per second (default: as fast as possible).
    #[arg(long)]
    pub pps: Option<u64>,
    /// Stop after this long (e.g. 10s).
    #[arg(short = 'd', long)]
    pub duration: Option<String>,
    /// Frame size in bytes, without FCS.
    #[arg(long)]
    pub size: Option<usize>,
    /// Destination MAC (default: resolved through the neighbour table).
    /// For `replay`: a MAC, or an IP address: the MAC of the next hop towards
    /// it from the sending interface, resolved as flows do (default: the file's).
    #[arg(long)]
    pub dmac: Option<String>,
    /// For `replay`: source MAC, `lab` (the sending interface's) or a MAC
    /// (default: the file's).
    #[arg(long)]
    pub smac: Option<String>,
    /// For `replay`: play the file's timing this many times faster (0.5: slower).
    #[arg(long, conflicts_with = "fast")]
    pub speed: Option<f64>,
    /// For `replay`: send back to back instead of at the file's timing.
    #[arg(long)]
    pub fast: bool,
    /// Payload tag stream[:src:dst] (stream id, source id, intended destination id).
    #[arg(long)]
    pub tag: Option<String>,
    /// Use a TPACKET_V2 TX ring instead of sendmmsg.
    #[arg(long)]
    pub tx_ring: bool,
    /// Go through the interface's qdisc even when it is the kernel's default
    /// (a configured one, netem or a shaper, is never skipped).
    #[arg(long)]
    pub no_bypass: bool,
    /// Frames per system call.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Parallel senders, each with its own socket and a disjoint part of the
    /// larger port range (like trafgen -P). 1 keeps mausezahn's packet order.
    #[arg(short = 'P', long, default_value_t = 1)]
    pub workers: usize,
}

/// The spec text as the user sees it: positional items, then flags as items,
/// so that parse errors point at a column of one visible string.
fn gen_spec_text(a: &GenArgs) -> String {
    let mut items: Vec<String> = a
        .args
        .iter()
        .map(|s| s.trim_matches(',').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            items.push(format!("{k}={v}"));
        }
    };
    push("sa", a.sa.clone());
    push("da", a.da.clone());
    push("sp", a.sp.clone());
    push("dp", a.dp.clone());
    push("c", a.count.map(|c| c.to_string()));
    push("pps", a.pps.map(|c| c.to_string()));
    push("d", a.duration.clone());
    push("size", a.size.map(|c| c.to_string()));
    push("dmac", a.dmac.clone());
    push("tag", a.tag.clone());
    items.join(",")
}

fn has_key(text: &str, key: &str) -> bool {
    text.split(',')
        .filter_map(|i| i.split_once('='))
        .any(|(k, _)| k.trim() == key)
}

/// Parse `proto` + `text`; `sa` may be left out (filled from the route later,
/// reported by the `bool`). Errors carry the column and a labelled snippet.
pub fn parse_gen_spec(proto: &str, text: &str) -> Result<(FlowSpec, bool), CliError> {
    let spec_err = |e: netrig_wire::ParseError| {
        let report = miette!(
            labels = vec![LabeledSpan::at(e.span.clone(), e.kind.to_string())],
            help =
                "items are key=value separated by commas, e.g. da=198.51.100.2,sp=1024,dp=0-32767",
            "invalid flow spec: {e}"
        )
        .with_source_code(NamedSource::new("flow spec", text.to_string()));
        CliError::usage(report)
    };
    let proto_parsed: netrig_wire::Proto = proto
        .parse()
        .map_err(|k| CliError::usage(miette!("invalid protocol: {k}")))?;
    if !has_key(text, "da") {
        let end = text.len();
        return Err(spec_err(netrig_wire::ParseError {
            column: text.chars().count() + 1,
            span: end..end,
            item: String::new(),
            kind: netrig_wire::ParseErrorKind::Missing("da"),
        }));
    }
    if has_key(text, "sa") {
        return FlowSpec::parse(proto, text)
            .map(|s| (s, true))
            .map_err(spec_err);
    }
    let unspec = IpRange::single(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let spec = FlowSpec::new(L4::default_for(proto_parsed), unspec, unspec)
        .with_args(text)
        .map_err(spec_err)?;
    Ok((spec, false))
}

/// Progress on a terminal for runs that last; nothing otherwise.
struct GenProgress {
    tty: bool,
    last: Instant,
    shown: bool,
}

impl netrig_wire::Progress for GenProgress {
    fn update(&mut self, st: &SendStats) -> ControlFlow<()> {
        if stopping() {
            return ControlFlow::Break(());
        }
        if self.tty && self.last.elapsed() >= Duration::from_millis(250) {
            self.last = Instant::now();
            self.shown = true;
            eprint!(
                "\r\x1b[K{} sent in {:.1} s ({:.0} pps)",
                st.sent,
                st.elapsed.as_secs_f64(),
                st.pps()
            );
            let _ = std::io::stderr().flush();
        }
        ControlFlow::Continue(())
    }
}

pub fn gen(a: GenArgs) -> CliResult {
    let (node, iface) = split_target(&a.target)?;
    if a.proto == "replay" {
        return gen_replay(&a, node, iface);
    }
    // Replay options mean nothing to flows or built frames: refuse rather than ignore.
    let replay_only = [
        ("--smac", a.smac.is_some()),
        ("--speed", a.speed.is_some()),
        ("--fast", a.fast),
    ];
    if let Some((flag, _)) = replay_only.iter().find(|(_, set)| *set) {
        return Err(CliError::usage(miette!(
            "{flag} is for `gen LAB NODE:IFACE replay FILE`, not for {}",
            a.proto
        )));
    }
    if a.proto == "frame" {
        return gen_frames(&a, node, iface);
    }
    let text = gen_spec_text(&a);
    let (mut spec, has_sa) = parse_gen_spec(&a.proto, &text)?;
    let opts = SenderOptions {
        qdisc_bypass: !a.no_bypass,
        batch: a.batch,
        mode: if a.tx_ring {
            TxMode::TxRing
        } else {
            TxMode::Sendmmsg
        },
        ..Default::default()
    };
    if opts.batch == 0 || opts.batch > 4096 {
        return Err(CliError::usage(miette!(
            "--batch {} not in 1..=4096",
            opts.batch
        )));
    }
    if a.workers == 0 || a.workers > 64 {
        return Err(CliError::usage(miette!(
            "--workers {} not in 1..=64",
            a.workers
        )));
    }
    if a.workers > 1 && spec.tag.is_some() {
        return Err(CliError::usage(miette!(
            "--workers {} with a tag: tag sequence numbers count per sender, so tagged flows need one worker",
            a.workers
        )));
    }
    if a.workers > 1 {
        // Threads come next: join the node without its PID namespace.
        let state = persist::load(&a.lab).map_err(persist_err)?;
        persist::enter_net(&state, node).map_err(persist_err)?;
    } else {
        enter(&a.lab, node)?;
    }
    catch_stop_signals();

    let dst = spec.dst_ip.first();
    let route = || {
        neigh::route_get(dst, None)
            .map_err(|e| CliError::fail(miette!("node `{node}`: {}", error_chain(&e))))
    };
    if !has_sa {
        let r = route()?;
        let src = r.prefsrc.ok_or_else(|| {
            CliError::usage(miette!(
                "node `{node}` has no source address for {dst}: give sa="
            ))
        })?;
        spec.src_ip = IpRange::single(src);
    }
    spec.validate()
        .map_err(|e| CliError::usage(miette!("flow spec: {e}")))?;
    let ifname = match iface {
        Some(i) => i.to_string(),
        None => {
            let r = route()?;
            neigh::ifname_of(r.oif).ok_or_else(|| {
                CliError::fail(miette!("node `{node}`: no name for interface {}", r.oif))
            })?
        }
    };
    if a.workers > 1 {
        return gen_parallel(&spec, a.workers, &ifname, node, &opts);
    }
    let mut tx =
        Sender::open_with(&ifname, opts).map_err(|e| wire_err(&format!("{node}:{ifname}"), e))?;
    let mut progress = GenProgress {
        tty: std::io::stderr().is_terminal(),
        last: Instant::now(),
        shown: false,
    };
    let st = tx
        .send_flow(&spec, &mut progress)
        .map_err(|e| wire_err(&format!("sending on {node}:{ifname}"), e))?;
    if progress.shown {
        eprint!("\r\x1b[K");
    }
    println!(
        "{node}:{ifname}: sent {} packets ({} bytes) in {:.3} s = {:.0} pps{}{}",
        st.sent,
        st.bytes,
        st.elapsed.as_secs_f64(),
        st.pps(),
        if st.retries > 0 {
            format!(", {} retries", st.retries)
        } else {
            String::new()
        },
        if st.cancelled { " (interrupted)" } else { "" }
    );
    Ok(0)
}

/// `netrig gen LAB NODE:IFACE frame "eth() / ..."`: frames built from
/// layers, as the `send` step sends them.
fn gen_frames(a: &GenArgs, node: &str, iface: Option<&str>) -> CliResult {
    use netrig_spec::steps::send::MAX_COUNT;
    use netrig_wire::frame::FrameSpec;
    let text = a.args.join(" ");
    let spec = FrameSpec::parse(&text).map_err(|e| {
        CliError::usage(
            miette!(
                labels = vec![LabeledSpan::at(e.span.clone(), e.message.clone())],
                help =
                    "layers joined by `/`, e.g. \"eth() / ipv4(dst=198.51.100.2) / udp(dport=9)\"",
                "invalid frame: {e}"
            )
            .with_source_code(NamedSource::new("frame", text.clone())),
        )
    })?;
    // Flow options have no meaning for frames: refuse rather than ignore.
    let flow_only = [
        ("--sa", a.sa.is_some()),
        ("--da", a.da.is_some()),
        ("--sp", a.sp.is_some()),
        ("--dp", a.dp.is_some()),
        ("--duration", a.duration.is_some()),
        ("--size", a.size.is_some()),
        ("--dmac", a.dmac.is_some()),
        ("--tag", a.tag.is_some()),
        ("--tx-ring", a.tx_ring),
        ("--workers", a.workers != 1),
    ];
    if let Some((flag, _)) = flow_only.iter().find(|(_, set)| *set) {
        return Err(CliError::usage(miette!(
            "{flag} is for flows; a frame gives its fields in the notation"
        )));
    }
    let Some(ifname) = iface else {
        return Err(CliError::usage(miette!(
            "frames need the interface to send on: {node}:IFACE"
        )));
    };
    let count = a
        .count
        .unwrap_or_else(|| u64::try_from(spec.combinations()).unwrap_or(u64::MAX));
    if count == 0 || count > MAX_COUNT {
        return Err(CliError::usage(miette!(
            "{count} frames: give -c between 1 and {MAX_COUNT}"
        )));
    }
    let interval = match a.pps {
        Some(0) => return Err(CliError::usage(miette!("--pps must be at least 1"))),
        Some(p) => Some(Duration::from_secs_f64(1.0 / p as f64)),
        None => None,
    };
    enter(&a.lab, node)?;
    let opts = SenderOptions {
        qdisc_bypass: !a.no_bypass,
        ..Default::default()
    };
    let mut tx =
        Sender::open_with(ifname, opts).map_err(|e| wire_err(&format!("{node}:{ifname}"), e))?;
    let st = tx
        .send_frame_spec(&spec, count, interval)
        .map_err(|e| wire_err(&format!("sending on {node}:{ifname}"), e))?;
    println!(
        "{node}:{ifname}: sent {} frames ({} bytes) in {:.3} s",
        st.sent,
        st.bytes,
        st.elapsed.as_secs_f64()
    );
    Ok(0)
}

/// `netrig gen LAB NODE:IFACE replay FILE`: the frames of a capture file,
/// sent as the `replay` step sends them.
fn gen_replay(a: &GenArgs, node: &str, iface: Option<&str>) -> CliResult {
    use netrig_wire::{MacAddr, Pace, ReplayOptions};
    let [file] = a.args.as_slice() else {
        return Err(CliError::usage(miette!(
            "replay takes one capture file: netrig gen {} {node}:IFACE replay FILE",
            a.lab
        )));
    };
    let flow_only = [
        ("--sa", a.sa.is_some()),
        ("--da", a.da.is_some()),
        ("--sp", a.sp.is_some()),
        ("--dp", a.dp.is_some()),
        ("--pps", a.pps.is_some()),
        ("--size", a.size.is_some()),
        ("--tag", a.tag.is_some()),
        ("--tx-ring", a.tx_ring),
        ("--workers", a.workers != 1),
    ];
    if let Some((flag, _)) = flow_only.iter().find(|(_, set)| *set) {
        return Err(CliError::usage(miette!(
            "{flag} is for flows; replay sends the file's frames as they are"
        )));
    }
    let Some(ifname) = iface else {
        return Err(CliError::usage(miette!(
            "replay needs the interface to send on: {node}:IFACE"
        )));
    };
    if a.count == Some(0) {
        return Err(CliError::usage(miette!("-c must be at least 1")));
    }
    let duration = match a.duration.as_deref().map(duration_arg) {
        None => None,
        Some(Ok(d)) if !d.is_zero() => Some(d),
        Some(Ok(_)) => return Err(CliError::usage(miette!("--duration must be above 0"))),
        Some(Err(e)) => return Err(CliError::usage(miette!("--duration: {e}"))),
    };
    let pace = match (a.speed, a.fast) {
        (Some(s), _) if !(s.is_finite() && s > 0.0) => {
            return Err(CliError::usage(miette!(
                "--speed {s} is not a positive number (2 plays the file twice as fast)"
            )))
        }
        (Some(speed), _) => Pace::Recorded { speed },
        (None, true) => Pace::Fast,
        (None, false) => Pace::Recorded { speed: 1.0 },
    };
    // `None` inside: the sending interface's, known once it is open.
    let smac: Option<Option<MacAddr>> = match a.smac.as_deref() {
        None => None,
        Some("lab") => Some(None),
        Some(m) => Some(Some(m.parse().map_err(|_| {
            CliError::usage(miette!(
                "--smac `{m}` is neither `lab` (the sending interface's) nor a MAC"
            ))
        })?)),
    };
    enum Dst {
        Mac(MacAddr),
        Resolve(IpAddr),
    }
    let dmac = match a.dmac.as_deref() {
        None => None,
        Some(m) => Some(if let Ok(mac) = m.parse() {
            Dst::Mac(mac)
        } else if let Ok(ip) = m.parse() {
            Dst::Resolve(ip)
        } else {
            return Err(CliError::usage(miette!(
                "--dmac `{m}` is neither a MAC nor an IP address to resolve"
            )));
        }),
    };
    // Read and checked before the lab is joined: a bad file sends nothing.
    let frames = netrig_spec::capfile::read_capture(std::path::Path::new(file)).map_err(|e| {
        CliError::usage(miette!(
            help = "replay takes pcap or pcapng files of Ethernet frames captured whole",
            "cannot replay `{file}`: {e}"
        ))
    })?;
    enter(&a.lab, node)?;
    catch_stop_signals();
    let opts = SenderOptions {
        qdisc_bypass: !a.no_bypass,
        ..Default::default()
    };
    let resolve_timeout = opts.resolve_timeout;
    let mut tx =
        Sender::open_with(ifname, opts).map_err(|e| wire_err(&format!("{node}:{ifname}"), e))?;
    let dst_mac = match dmac {
        None => None,
        Some(Dst::Mac(m)) => Some(m),
        Some(Dst::Resolve(ip)) => Some(
            neigh::resolve_mac(tx.ifindex(), ifname, ip, resolve_timeout)
                .map_err(|e| wire_err(&format!("resolving {ip} from {node}:{ifname}"), e))?,
        ),
    };
    let ro = ReplayOptions {
        pace,
        count: a.count,
        duration,
        src_mac: smac.map(|m| m.unwrap_or(tx.mac())),
        dst_mac,
    };
    let mut progress = GenProgress {
        tty: std::io::stderr().is_terminal(),
        last: Instant::now(),
        shown: false,
    };
    let st = tx
        .replay(
            frames.iter().map(|f| (f.t_ns, f.data.as_slice())),
            &ro,
            &mut progress,
        )
        .map_err(|e| wire_err(&format!("replaying {file} on {node}:{ifname}"), e))?;
    if progress.shown {
        eprint!("\r\x1b[K");
    }
    println!(
        "{node}:{ifname}: sent {} of {} frames ({} bytes) in {:.3} s{}",
        st.sent,
        frames.len(),
        st.bytes,
        st.elapsed.as_secs_f64(),
        if st.cancelled { " (interrupted)" } else { "" }
    );
    Ok(0)
}

/// Several senders in threads (which inherit this thread's namespace), each
/// with its own socket and its share of the flows, count and rate.
fn gen_parallel(
    spec: &netrig_wire::FlowSpec,
    workers: usize,
    ifname: &str,
    node: &str,
    opts: &SenderOptions,
) -> CliResult {
    let parts = spec.split(workers);
    let start = Instant::now();
    let results: Vec<Result<SendStats, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let opts = opts.clone();
                s.spawn(move || {
                    let mut tx = Sender::open_with(ifname, opts).map_err(|e| error_chain(&e))?;
                    let mut progress = GenProgress {
                        tty: false,
                        last: Instant::now(),
                        shown: false,
                    };
                    tx.send_flow(part, &mut progress)
                        .map_err(|e| error_chain(&e))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a sender thread panicked".into()))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let mut sent = 0;
    let mut bytes = 0;
    let mut cancelled = false;
    for r in results {
        let st = r.map_err(|e| CliError::fail(miette!("sending on {node}:{ifname}: {e}")))?;
        sent += st.sent;
        bytes += st.bytes;
        cancelled |= st.cancelled;
    }
    println!(
        "{node}:{ifname}: sent {sent} packets ({bytes} bytes) in {:.3} s = {:.0} pps with {} workers{}",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64().max(1e-9),
        parts.len(),
        if cancelled { " (interrupted)" } else { "" }
    );
    Ok(0)
}

// ---------------------------------------------------------------- ping

/// `netrig ping`: exit 0 if any reply came back, 1 if none, 2 on error (as iputils).
#[derive(Args, Debug)]
pub struct PingArgs {
    pub lab: String,
    pub node: String,
    /// IPv4 or IPv6 address.
    pub dest: String,
    /// Echo requests to send.
    #[arg(short = 'c', long, default_value_t = 3)]
    pub count: u32,
    /// Interval between requests (seconds, or 200ms).
    #[arg(short = 'i', long, value_parser = duration_arg, default_value = "0.2")]
    pub interval: Duration,
    /// Hard limit for the whole run.
    #[arg(short = 'w', long, value_parser = duration_arg, default_value = "10")]
    pub deadline: Duration,
    /// How long to wait for replies after the last request.
    #[arg(short = 'W', long, value_parser = duration_arg, default_value = "1")]
    pub timeout: Duration,
    /// ICMP payload bytes.
    #[arg(short = 's', long, default_value_t = 56)]
    pub size: usize,
    /// Send through this interface.
    #[arg(short = 'I', long)]
    pub interface: Option<String>,
    /// IP TTL / hop limit.
    #[arg(short = 't', long)]
    pub ttl: Option<u32>,
}

pub fn ping(a: PingArgs) -> CliResult {
    let dest: IpAddr = a.dest.parse().map_err(|_| {
        CliError::usage(miette!(
            "invalid destination `{}`: give an IPv4 or IPv6 address",
            a.dest
        ))
    })?;
    if a.count == 0 {
        return Err(CliError::usage(miette!("-c must be at least 1")));
    }
    let opts = PingOptions {
        count: a.count,
        interval: a.interval,
        timeout: a.timeout,
        deadline: a.deadline,
        payload_size: a.size,
        ttl: a.ttl,
        interface: a.interface.clone(),
        ..Default::default()
    };
    enter(&a.lab, &a.node)?;
    // Errors are exit 2 here, as ping reports them, not 1 ("no reply").
    let r = netrig_wire::ping(dest, &opts).map_err(|e| CliError {
        report: miette!("ping {dest} from {}: {}", a.node, error_chain(&e)),
        code: EXIT_USAGE,
    })?;
    for (i, rtt) in r.rtts.iter().enumerate() {
        println!(
            "reply {} from {dest}: time={:.3} ms",
            i + 1,
            rtt.as_secs_f64() * 1e3
        );
    }
    for e in &r.errors {
        println!("{e}");
    }
    if r.duplicates > 0 {
        println!("{} duplicate replies", r.duplicates);
    }
    println!("{r}");
    Ok(if r.received > 0 { 0 } else { EXIT_FAIL })
}

// ---------------------------------------------------------------- capture

/// `netrig capture`.
#[derive(Args, Debug)]
pub struct CaptureArgs {
    pub lab: String,
    /// NODE:IFACE (IFACE `any` captures every interface of the node).
    pub target: String,
    /// Write packets to this pcapng file.
    #[arg(short = 'w', long = "write")]
    pub file: PathBuf,
    /// Stop after this many packets.
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// Stop after this long.
    #[arg(short = 'd', long, value_parser = duration_arg)]
    pub duration: Option<Duration>,
    /// Print a one-line summary of each packet.
    #[arg(long)]
    pub summary: bool,
    /// Keep only received (in) or sent (out) packets.
    #[arg(long, value_parser = ["in", "out", "both"], default_value = "both")]
    pub direction: String,
    /// Bytes kept per packet (1..=262144, as tcpdump -s takes them); the
    /// file's interfaces say this length, and each packet keeps its length on
    /// the wire.
    #[arg(long, default_value_t = 65535, value_parser = snaplen_arg)]
    pub snaplen: usize,
    /// Put the interface in promiscuous mode.
    #[arg(long)]
    pub promisc: bool,
    /// Keep only packets carrying a netrig tag of this stream id.
    #[arg(long)]
    pub stream: Option<u32>,
    /// Receive ring size in MiB (more absorbs longer bursts).
    #[arg(long, default_value_t = 8)]
    pub ring_mb: usize,
}

/// Largest snaplen: tcpdump's and libpcap's `MAXIMUM_SNAPLEN`.
const MAX_SNAPLEN: usize = 262_144;

fn snaplen_arg(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_SNAPLEN).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{s}` is not a snaplen: bytes kept per packet, 1..={MAX_SNAPLEN}"
        )),
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub fn capture(a: CaptureArgs) -> CliResult {
    let (node, iface) = split_target(&a.target)?;
    let iface = iface.ok_or_else(|| {
        CliError::usage(miette!(
            "capture needs NODE:IFACE (e.g. {node}:eth0, or {node}:any)"
        ))
    })?;
    if a.ring_mb == 0 || a.ring_mb > 4096 {
        return Err(CliError::usage(miette!("--ring-mb must be in 1..=4096")));
    }
    let label = format!("{node}:{iface}");
    let opts = CaptureOptions {
        block_size: 1 << 20,
        block_count: a.ring_mb,
        direction: match a.direction.as_str() {
            "in" => Direction::In,
            "out" => Direction::Out,
            _ => Direction::Both,
        },
        // The stream filter reads the tag in the payload, past a short
        // snaplen: then the cut comes after the match.
        snaplen: if a.stream.is_some() {
            a.snaplen.max(65535)
        } else {
            a.snaplen
        },
        promisc: a.promisc,
        label: Some(label.clone()),
        ..Default::default()
    };
    let latency = Duration::from_millis(u64::from(opts.block_timeout_ms) * 2);
    let file = std::fs::File::create(&a.file)
        .map_err(|e| CliError::usage(miette!("creating {}: {e}", a.file.display())))?;
    let state = enter(&a.lab, node)?;
    catch_stop_signals();
    let ifopt = (iface != "any").then_some(iface);
    let mut cap = Capture::open(ifopt, opts.clone())
        .map_err(|e| wire_err(&format!("capture on {label}"), e))?;
    let io_err = |e: std::io::Error| CliError::fail(miette!("writing {}: {e}", a.file.display()));
    let mut w = PcapngWriter::new(std::io::BufWriter::new(file)).map_err(io_err)?;
    // Interface id in the file and packets written for it, per name.
    let mut ids: HashMap<String, (u32, u64)> = HashMap::new();
    eprintln!(
        "capturing on {label} of lab `{}` into {}{}",
        state.name,
        a.file.display(),
        if a.count.is_none() && a.duration.is_none() {
            " (Ctrl-C to stop)"
        } else {
            ""
        }
    );
    let start = Instant::now();
    let start_ns = now_ns();
    let mut n = 0u64;
    let mut write_err: Option<std::io::Error> = None;
    let limit = a.count.unwrap_or(u64::MAX);
    let tagged = netrig_wire::Match::any().stream(a.stream.unwrap_or(0));
    let mut handle = |mut p: netrig_wire::Packet, n: &mut u64| -> std::io::Result<()> {
        if *n >= limit || (a.stream.is_some() && !tagged.matches_frame(&p.data)) {
            return Ok(());
        }
        p.data.truncate(a.snaplen);
        let id = match ids.get_mut(&p.ifname) {
            Some((id, k)) => {
                *k += 1;
                *id
            }
            None => {
                let desc = if ifopt.is_some() {
                    label.clone()
                } else {
                    format!("{node}:{}", p.ifname)
                };
                let id = w.add_interface(&p.ifname, Some(&desc), a.snaplen as u32)?;
                ids.insert(p.ifname.clone(), (id, 1));
                id
            }
        };
        w.write_packet(id, &p)?;
        *n += 1;
        if a.summary {
            let t = Duration::from_nanos(p.ts_ns);
            println!(
                "{}.{:06} {} {} {}",
                t.as_secs(),
                t.subsec_micros(),
                p.ifname,
                if p.pkttype.is_outgoing() {
                    "Out"
                } else {
                    "In "
                },
                netrig_wire::summary(&p.data)
            );
        }
        Ok(())
    };
    let mut draining_since: Option<Instant> = None;
    loop {
        cap.drain(&mut |p| {
            if write_err.is_none() {
                write_err = handle(p, &mut n).err();
            }
        });
        if n >= limit || write_err.is_some() {
            break;
        }
        let timed_out = a.duration.is_some_and(|d| start.elapsed() >= d);
        if (timed_out || stopping()) && draining_since.is_none() {
            // Packets already on the ring may sit in a block not yet retired:
            // keep draining for two block timeouts before stopping.
            draining_since = Some(Instant::now());
        }
        if draining_since.is_some_and(|t| t.elapsed() >= latency) {
            break;
        }
        let mut wait = Duration::from_millis(100);
        if let Some(d) = a.duration {
            wait = wait.min(
                d.saturating_sub(start.elapsed())
                    .max(Duration::from_millis(1)),
            );
        }
        if draining_since.is_some() {
            wait = Duration::from_millis(1);
        }
        cap.wait(wait)
            .map_err(|e| wire_err(&format!("capture on {label}"), e))?;
    }
    if let Some(e) = write_err {
        return Err(io_err(e));
    }
    if ids.is_empty() {
        // An empty capture still names its interface, so tools show where it came from.
        let id = w
            .add_interface(iface, Some(&label), a.snaplen as u32)
            .map_err(io_err)?;
        ids.insert(iface.to_string(), (id, 0));
    }
    let rs = cap
        .stats()
        .map_err(|e| wire_err(&format!("capture on {label}"), e))?;
    // The ring's counts go into the file too (Interface Statistics Blocks),
    // so a reader of the pcapng alone knows what the capture missed.
    let end_ns = now_ns();
    let mut per_if: Vec<(u32, u64)> = ids.values().copied().collect();
    per_if.sort_unstable();
    for (id, written) in per_if {
        let mut st = netrig_wire::InterfaceStats {
            ts_ns: end_ns,
            start_ns: Some(start_ns),
            end_ns: Some(end_ns),
            usrdeliv: Some(written),
            ..Default::default()
        };
        if ifopt.is_some() {
            st.ifrecv = Some(rs.packets);
            st.ifdrop = Some(rs.drops);
        } else {
            // One ring served every interface: its counts belong to none alone.
            st.comment = Some(format!(
                "one ring for every interface of {node}: {} packets received, {} dropped",
                rs.packets, rs.drops
            ));
        }
        w.write_interface_stats(id, &st).map_err(io_err)?;
    }
    w.into_inner().map_err(io_err)?;
    eprintln!(
        "{n} packets captured on {label} in {:.3} s; ring: {} packets, {} dropped",
        start.elapsed().as_secs_f64(),
        rs.packets,
        rs.drops
    );
    Ok(0)
}

// ---------------------------------------------------------------- probe

/// `netrig probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[command(subcommand)]
    pub cmd: ProbeCmd,
}

#[derive(Subcommand, Debug)]
pub enum ProbeCmd {
    /// Answer every TCP connection and UDP datagram with a name, until Ctrl-C.
    Server {
        lab: String,
        node: String,
        /// Address to listen on, e.g. 198.18.0.0:7000 or [::]:7000 (both families).
        addr: String,
        /// The name to answer with (default: the node's name).
        #[arg(long)]
        name: Option<String>,
        /// Serve TCP only.
        #[arg(long, conflicts_with = "udp_only")]
        tcp_only: bool,
        /// Serve UDP only.
        #[arg(long)]
        udp_only: bool,
        /// Stop after this long.
        #[arg(short = 'd', long, value_parser = duration_arg)]
        duration: Option<Duration>,
    },
    /// Open N connections from distinct source ports and report who answered each.
    /// Exit 0 if every probe was answered, 1 otherwise.
    Client {
        lab: String,
        node: String,
        /// Target, e.g. 198.18.0.0:7000 or [2001:db8:18::]:7000.
        addr: String,
        /// Number of probes.
        #[arg(short = 'n', long, default_value_t = 10)]
        count: u32,
        /// Probe over UDP instead of TCP.
        #[arg(long)]
        udp: bool,
        /// First source port (probe i uses START+i; default: the kernel chooses).
        #[arg(long)]
        sport: Option<u16>,
        /// Per-probe timeout.
        #[arg(long, value_parser = duration_arg, default_value = "1s")]
        timeout: Duration,
        /// Print only the summary.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
}

fn parse_sockaddr(s: &str) -> Result<SocketAddr, CliError> {
    s.parse().map_err(|_| {
        CliError::usage(miette!(
            "invalid address `{s}`: expected ADDR:PORT, e.g. 198.18.0.0:7000 or [2001:db8:18::]:7000"
        ))
    })
}

pub fn probe(a: ProbeArgs) -> CliResult {
    match a.cmd {
        ProbeCmd::Server {
            lab,
            node,
            addr,
            name,
            tcp_only,
            udp_only,
            duration,
        } => {
            let addr = parse_sockaddr(&addr)?;
            let name = name.unwrap_or_else(|| node.clone());
            enter(&lab, &node)?;
            catch_stop_signals();
            let srv = ProbeServer::bind(addr, &name, !udp_only, !tcp_only)
                .map_err(|e| wire_err(&format!("probe server on {node}"), e))?;
            let protos = match (!udp_only, !tcp_only) {
                (true, true) => "tcp+udp",
                (true, false) => "tcp",
                _ => "udp",
            };
            eprintln!("probe server `{name}` on {node} listening on {addr} ({protos})");
            let st = srv
                .serve(&STOP, duration)
                .map_err(|e| wire_err("probe server", e))?;
            println!(
                "probe server `{name}`: {} tcp connections, {} udp datagrams",
                st.tcp_connections, st.udp_datagrams
            );
            Ok(0)
        }
        ProbeCmd::Client {
            lab,
            node,
            addr,
            count,
            udp,
            sport,
            timeout,
            quiet,
        } => {
            let target = parse_sockaddr(&addr)?;
            if count == 0 {
                return Err(CliError::usage(miette!("-n must be at least 1")));
            }
            let mut opts = ProbeClientOptions::new(
                target,
                if udp {
                    ProbeProto::Udp
                } else {
                    ProbeProto::Tcp
                },
                count,
            );
            opts.timeout = timeout;
            if let Some(s) = sport {
                let end = u32::from(s) + count - 1;
                let end = u16::try_from(end).map_err(|_| {
                    CliError::usage(miette!("--sport {s} + {count} probes passes port 65535"))
                })?;
                opts.src_ports = netrig_wire::PortRange::new(s, end);
            }
            enter(&lab, &node)?;
            let rep = netrig_wire::probe_client(&opts)
                .map_err(|e| wire_err(&format!("probe client on {node}"), e))?;
            if !quiet {
                for r in &rep.records {
                    let what = match &r.outcome {
                        ProbeOutcome::Answered(n) => format!("answered by {n}"),
                        ProbeOutcome::Refused => "refused".into(),
                        ProbeOutcome::Reset => "reset".into(),
                        ProbeOutcome::Timeout => "timeout".into(),
                        ProbeOutcome::Error(e) => format!("error: {e}"),
                    };
                    println!(
                        "sport {:>5} -> {what} ({:.3} ms)",
                        r.src_port,
                        r.elapsed.as_secs_f64() * 1e3
                    );
                }
            }
            println!("{rep}");
            Ok(if rep.answered() == u64::from(count) {
                0
            } else {
                EXIT_FAIL
            })
        }
    }
}

// ---------------------------------------------------------------- counters

/// `netrig counters`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
netrig counters seed r1\n  \
netrig counters seed r1:eth1 --diff 2s\n  \
netrig counters seed r1 --diff 1s --tracepoint fib:fib_table_lookup --tracepoint fib6:fib6_table_lookup\n  \
netrig counters seed h2:eth0 --watch 1s")]
pub struct CountersArgs {
    pub lab: String,
    /// NODE or NODE:IFACE.
    pub target: String,
    /// Print the change over this window instead of totals.
    #[arg(long, value_parser = duration_arg, conflicts_with = "watch")]
    pub diff: Option<Duration>,
    /// Print the change every interval until Ctrl-C.
    #[arg(long, value_parser = duration_arg)]
    pub watch: Option<Duration>,
    /// With --watch, stop after this many intervals.
    #[arg(short = 'n', long)]
    pub iterations: Option<u64>,
    /// Count hits of a kernel tracepoint (sys:name) during the window (default 1s).
    /// System-wide: tracepoints are not per namespace.
    #[arg(long = "tracepoint", short = 't')]
    pub tracepoints: Vec<String>,
}

fn link_stats(iface: Option<&str>) -> Result<Vec<(String, LinkStats)>, CliError> {
    let mut nl = Netlink::open().map_err(|e| CliError::fail(miette!("netlink: {e}")))?;
    let mut links: Vec<(String, LinkStats)> = nl
        .links()
        .map_err(|e| CliError::fail(miette!("netlink: {}", error_chain(&e))))?
        .into_iter()
        .filter(|l| iface.is_none_or(|i| l.name == i))
        .map(|l| (l.name, l.stats))
        .collect();
    links.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(i) = iface {
        if links.is_empty() {
            return Err(CliError::usage(miette!("no interface `{i}` on this node")));
        }
    }
    Ok(links)
}

fn print_stats(
    header: &str,
    now: &[(String, LinkStats)],
    before: Option<&[(String, LinkStats)]>,
    secs: f64,
) {
    println!("{header}");
    println!(
        "{:<10} {:>12} {:>14} {:>9} {:>8} {:>12} {:>14} {:>9} {:>8}{}",
        "IFACE",
        "RX_PKTS",
        "RX_BYTES",
        "RX_DROP",
        "RX_ERR",
        "TX_PKTS",
        "TX_BYTES",
        "TX_DROP",
        "TX_ERR",
        if before.is_some() {
            "      RX_PPS      TX_PPS"
        } else {
            ""
        }
    );
    for (name, s) in now {
        let b = before
            .and_then(|b| b.iter().find(|(n, _)| n == name))
            .map(|(_, s)| *s)
            .unwrap_or_default();
        let d = |x: u64, y: u64| x.wrapping_sub(y);
        let rx = d(s.rx_packets, b.rx_packets);
        let tx = d(s.tx_packets, b.tx_packets);
        print!(
            "{:<10} {:>12} {:>14} {:>9} {:>8} {:>12} {:>14} {:>9} {:>8}",
            name,
            rx,
            d(s.rx_bytes, b.rx_bytes),
            d(s.rx_dropped, b.rx_dropped),
            d(s.rx_errors, b.rx_errors),
            tx,
            d(s.tx_bytes, b.tx_bytes),
            d(s.tx_dropped, b.tx_dropped),
            d(s.tx_errors, b.tx_errors),
        );
        if before.is_some() && secs > 0.0 {
            print!(" {:>11.0} {:>11.0}", rx as f64 / secs, tx as f64 / secs);
        }
        println!();
    }
}

/// Tracepoint counters, or the reason each one is skipped.
type Tracepoints = Vec<(String, Result<TracepointCounter, String>)>;

fn open_tracepoints(names: &[String], mode: Mode) -> Result<Tracepoints, CliError> {
    let mut out = Vec::new();
    for n in names {
        if mode == Mode::Rootless {
            out.push((
                n.clone(),
                Err("rootless mode: counting kernel tracepoints needs CAP_PERFMON in the initial user namespace".into()),
            ));
            continue;
        }
        match TracepointCounter::open(n) {
            Ok(c) => {
                c.reset()
                    .and_then(|_| c.enable())
                    .map_err(|e| CliError::fail(miette!("{e}")))?;
                out.push((n.clone(), Ok(c)));
            }
            Err(e) => match e.skip_reason() {
                Some(r) => out.push((n.clone(), Err(r))),
                None => return Err(CliError::usage(miette!("{e}"))),
            },
        }
    }
    Ok(out)
}

/// Print each tracepoint's hits since the last call (and restart it).
fn print_tracepoints(tps: &Tracepoints, secs: f64) -> Result<(), CliError> {
    for (name, c) in tps {
        match c {
            Ok(c) => {
                c.disable().map_err(|e| CliError::fail(miette!("{e}")))?;
                let v = c.read().map_err(|e| CliError::fail(miette!("{e}")))?;
                c.reset()
                    .and_then(|_| c.enable())
                    .map_err(|e| CliError::fail(miette!("{e}")))?;
                println!("tracepoint {name}: {v} hits in {secs:.3} s (system-wide, all CPUs)");
            }
            Err(reason) => println!("tracepoint {name}: SKIP ({reason})"),
        }
    }
    Ok(())
}

pub fn counters(a: CountersArgs) -> CliResult {
    let (node, iface) = split_target(&a.target)?;
    if a.watch.is_some_and(|w| w.is_zero()) || a.diff.is_some_and(|w| w.is_zero()) {
        return Err(CliError::usage(miette!("the window must be longer than 0")));
    }
    let state = enter(&a.lab, node)?;
    catch_stop_signals();
    let label = |i: Option<&str>| match i {
        Some(i) => format!("{node}:{i}"),
        None => node.to_string(),
    };
    let window = match (a.diff, a.watch) {
        (Some(d), _) => Some(d),
        (None, Some(w)) => Some(w),
        (None, None) if !a.tracepoints.is_empty() => Some(Duration::from_secs(1)),
        _ => None,
    };
    let Some(window) = window else {
        let now = link_stats(iface)?;
        print_stats(&format!("{} (totals)", label(iface)), &now, None, 0.0);
        return Ok(0);
    };
    let tps = open_tracepoints(&a.tracepoints, state.mode)?;
    let mut before = link_stats(iface)?;
    let mut t0 = Instant::now();
    let mut round = 0u64;
    loop {
        // Sleep in slices so Ctrl-C ends a long window promptly.
        let end = t0 + window;
        while Instant::now() < end && !stopping() {
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
        }
        let now = link_stats(iface)?;
        let secs = t0.elapsed().as_secs_f64();
        t0 = Instant::now();
        print_stats(
            &format!("{} (change over {secs:.3} s)", label(iface)),
            &now,
            Some(&before),
            secs,
        );
        print_tracepoints(&tps, secs)?;
        round += 1;
        if a.watch.is_none() || stopping() || a.iterations.is_some_and(|n| round >= n) {
            break;
        }
        before = now;
    }
    Ok(0)
}
