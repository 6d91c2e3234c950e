//! Packets for netrig: flow specs, frame templates, payload tags, AF_PACKET
//! send and capture, pcapng, ping and TCP/UDP probes.
//!
//! Every function that touches the network works in the **calling thread's**
//! network namespace, and sockets keep the namespace they were created in. The
//! lab crate enters a node with `setns` and then calls in here; a socket opened
//! that way may later be used from any thread (e.g. captures opened in several
//! nodes drained together by one [`CaptureSet`]).
//!
//! Nothing here forks or runs `ip`/`tcpdump`/`ping`: it is all sockets and
//! rtnetlink, so it works in a bare namespace and costs microseconds.
//!
//! ```no_run
//! use netrig_wire::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // mausezahn notation on top of structured fields
//! let spec = FlowSpec::udp("192.0.2.2".parse::<std::net::IpAddr>()?, "198.18.0.0/24".parse::<IpRange>()?)
//!     .with_args("sp=1024,dp=0-32768,tag=1:1:2,pps=100000")?;
//! let mut cap = Capture::open(Some("eth1"), CaptureOptions::default())?; // in the receiving node
//! let stats = Sender::open("eth0")?.send_flow(&spec, &mut NoProgress)?;   // in the sending node
//! let pkts = cap.collect(StopWhen::quiet(std::time::Duration::from_millis(200), std::time::Duration::from_secs(10)))?;
//! let ok = Expect::exactly(stats.sent, Match::udp().stream(1), "eth1").check(&[("eth1", &pkts)]).ok;
//! # let _ = ok; Ok(()) }
//! ```
//!
//! Module map: [`flow`] (specs and notation) → [`template`] + [`checksum`]
//! (frames patched with RFC 1624 updates) → [`sender`] (sendmmsg or
//! TPACKET_V2 TX ring, pacing; [`replay`] sends ready-made frames at
//! their recorded times) → [`capture`] (TPACKET_V3 RX ring) →
//! [`decode`] (summaries, match predicates, expectations) and [`pcapng`].
//! [`mod@ping`] and [`probe`] work at the socket level; [`neigh`] resolves next
//! hops over rtnetlink. [`perf`] counts kernel tracepoint hits (system-wide,
//! not per namespace) through `perf_event_open`.

pub mod error;
pub mod template;

// The notation and value types, re-exported so `netrig_wire::flow::...` and
// `netrig_wire::tag::...` keep working.
pub use netrig_flow::{checksum, flow, frame, tag};

pub use error::{FlowError, ParseError, ParseErrorKind, WireError};
pub use flow::{FlowPoint, FlowSpec, IpRange, MacAddr, PortRange, Proto, TagSpec, TcpFlags, L4};
pub use tag::Tag;
pub use template::Template;
pub mod neigh;
pub mod replay;
pub mod sender;
mod sys;

pub use replay::{Pace, ReplayOptions};
pub use sender::{NoProgress, Progress, SendStats, Sender, SenderOptions, TxMode};
pub mod capture;
pub mod pcapng;

pub use capture::{
    Capture, CaptureOptions, CaptureSet, CsumStatus, Direction, Packet, PktType, RingStats,
    StopWhen,
};
pub use pcapng::{write_pcapng, InterfaceStats, PcapngWriter};
pub mod decode;

pub use decode::{
    summary, verify_checksums, ChecksumTally, Checksums, Decoded, Expect, Match, MatchProto,
    Outcome, Quantity, Scope,
};
pub mod ping;
pub mod softnet;

pub use softnet::{Softnet, SoftnetCpu};

pub use ping::{ping, PingMode, PingOptions, PingResult};
pub mod perf;
pub mod probe;

pub use perf::{PerfError, TracepointCounter};

pub use probe::{
    probe_client, ProbeClientOptions, ProbeOutcome, ProbeProto, ProbeRecord, ProbeReport,
    ProbeServer, ProbeServerHandle, ServeStats,
};
