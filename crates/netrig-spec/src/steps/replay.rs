//! `replay`: send the frames of a pcap or pcapng file made elsewhere
//! (scapy, Wireshark, tcpdump) out of an interface, at the file's own timing
//! or as fast as possible, optionally with the lab's MAC addresses.
//!
//! The file is read and checked here, so `netrig check` refuses a missing,
//! malformed or non-Ethernet file; the frames travel with the step.

use super::{StepCx, StepDef};
use crate::capfile::{read_capture, Frame};
use crate::expect::{Check, IfacePath};
use netrig_flow::MacAddr;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    /// Absolute path of the file (given relative to the scenario's folder).
    pub file: PathBuf,
    pub at: IfacePath,
    pub timing: Timing,
    /// Send at most this many frames (default: all of them).
    pub count: Option<u64>,
    /// Stop sending after this long.
    pub duration: Option<Duration>,
    pub src_mac: MacChoice,
    pub dst_mac: MacChoice,
    /// The file's frames, read at check time.
    #[serde(skip)]
    pub frames: Arc<Vec<Frame>>,
}

/// When each frame leaves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// The gaps between the file's timestamps, divided by `speed`.
    Original { speed: f64 },
    /// Back to back.
    Fast,
}

/// What a frame's source or destination MAC becomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MacChoice {
    /// As in the file.
    Keep,
    /// This address.
    Mac(#[serde(serialize_with = "super::display")] MacAddr),
    /// The MAC of this interface of the lab (read when the step runs).
    Iface(IfacePath),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    file: String,
    node: Option<String>,
    iface: String,
    timing: Option<String>,
    speed: Option<f64>,
    count: Option<u64>,
    duration: Option<String>,
    src_mac: Option<String>,
    dst_mac: Option<String>,
}

/// File name endings a replay reads: a scenario must not make netrig (often
/// root) read, and describe in its errors, any file.
const ENDINGS: &[&str] = &[".pcap", ".pcapng", ".cap"];

impl StepDef for Replay {
    const KEYWORD: &'static str = "replay";
    const VALUE: &'static str = "`{ file = \"x.pcap\", node, iface, timing = \"original\"/\"fast\", speed, count, duration, src_mac = \"lab\"/MAC, dst_mac = \"peer\"/\"node:iface\"/MAC }`";
    const SUMMARY: &'static str =
        "send the Ethernet frames of a pcap/pcapng file (path relative to the scenario), optionally with the lab's MACs, and check what arrives where";
    const CHECKS: &'static [Check] = &[Check::Packets];

    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Replay, String)> {
        let r: Raw = cx.raw(value)?;
        let index = cx.index;
        let at = cx.lab_iface(r.node, &r.iface, "replay")?;
        let timing = match (r.timing.as_deref(), r.speed) {
            (None | Some("original"), None) => Timing::Original { speed: 1.0 },
            (None | Some("original"), Some(s)) if s.is_finite() && s > 0.0 => {
                Timing::Original { speed: s }
            }
            (None | Some("original"), Some(s)) => {
                return cx.err_help(
                    format!("step {index}: replay speed {s} is not a positive number"),
                    "speed = 2.0 replays twice as fast as the file's timestamps",
                )
            }
            (Some("fast"), None) => Timing::Fast,
            (Some("fast"), Some(_)) => {
                return cx.err_help(
                    format!("step {index}: replay takes `speed` with timing = \"original\" only"),
                    "timing = \"fast\" sends back to back; drop `speed`",
                )
            }
            (Some(t), _) => {
                return cx.err_help(
                    format!("step {index}: unknown replay timing `{t}`"),
                    "timing = \"original\" (the file's gaps) or \"fast\" (back to back)",
                )
            }
        };
        if r.count == Some(0) {
            return cx.err(format!("step {index}: replay count must be at least 1"));
        }
        let duration = match r.duration.as_deref() {
            None => None,
            Some(d) => match crate::scenario::parse_duration(d) {
                Some(v) if !v.is_zero() => Some(v),
                _ => {
                    return cx.err_help(
                        format!("step {index}: malformed replay duration `{d}`"),
                        "write e.g. duration = \"5s\"",
                    )
                }
            },
        };
        let src_mac = match r.src_mac.as_deref() {
            None => MacChoice::Keep,
            Some("lab") => MacChoice::Iface(at.clone()),
            Some(m) => match m.parse() {
                Ok(mac) => MacChoice::Mac(mac),
                Err(_) => {
                    return cx.err_help(
                        format!("step {index}: src_mac `{m}` is neither \"lab\" nor a MAC"),
                        "src_mac = \"lab\" (the sending interface's) or e.g. \"02:00:00:00:00:01\"",
                    )
                }
            },
        };
        let dst_mac = match r.dst_mac.as_deref() {
            None => MacChoice::Keep,
            Some("peer") => MacChoice::Iface(peer(cx, &at)?),
            Some(m) => match m.parse() {
                Ok(mac) => MacChoice::Mac(mac),
                Err(_) => match IfacePath::parse(m) {
                    Ok(p) => MacChoice::Iface(cx.lab_iface(Some(p.node), &p.iface, "dst_mac")?),
                    Err(_) => {
                        return cx.err_help(
                            format!("step {index}: dst_mac `{m}` is not \"peer\", node:iface or a MAC"),
                            "dst_mac = \"peer\" (the other end of the link), \"r1:eth0\" or e.g. \"02:00:00:00:00:02\"",
                        )
                    }
                },
            },
        };
        let shown = r.file.clone();
        if !ENDINGS.iter().any(|e| shown.ends_with(e)) {
            return cx.err_help(
                format!("step {index}: replay file `{shown}` is not a .pcap, .pcapng or .cap file"),
                "name a capture file, relative to the scenario's folder",
            );
        }
        let file = cx.scenario_dir().join(&r.file);
        let frames = match read_capture(&file) {
            Ok(f) => f,
            Err(e) => {
                return cx.err_help(
                    format!("step {index}: cannot replay `{shown}`: {e}"),
                    "replay takes pcap or pcapng files of Ethernet frames captured whole; the path is relative to the scenario's folder",
                )
            }
        };
        let limit = r.count.unwrap_or(u64::MAX).min(frames.len() as u64);
        crate::expect::check_each(
            cx,
            limit,
            frames
                .iter()
                .take(limit as usize)
                .map(|f| netrig_flow::frame::Frame::decode(&f.data)),
        )?;
        let name = format!("replay {shown} from {at}");
        Some((
            Replay {
                file,
                at,
                timing,
                count: r.count,
                duration,
                src_mac,
                dst_mac,
                frames: Arc::new(frames),
            },
            name,
        ))
    }
}

/// The other end of `at`'s point-to-point link.
fn peer(cx: &mut StepCx<'_>, at: &IfacePath) -> Option<IfacePath> {
    let index = cx.index;
    let link = cx.topo.and_then(|t| {
        t.links.iter().find(|l| {
            l.ends
                .iter()
                .any(|e| e.node == at.node && e.name == at.iface)
        })
    });
    match link {
        Some(l) => {
            let other = l
                .ends
                .iter()
                .find(|e| !(e.node == at.node && e.name == at.iface))?;
            Some(IfacePath::new(other.node.clone(), other.name.clone()))
        }
        None => cx.err_help(
            format!("step {index}: dst_mac = \"peer\": {at} is not an end of a point-to-point link"),
            "on a LAN name the receiver: dst_mac = \"node:iface\" or a MAC",
        ),
    }
}
