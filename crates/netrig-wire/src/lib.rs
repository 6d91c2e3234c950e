//! Packets for netrig: flow specs, frame templates, payload tags, AF_PACKET
//! send and capture, pcapng, ping and TCP/UDP probes.
//!
//! Every function that touches the network works in the **calling thread's**
//! network namespace, and sockets keep the namespace they were created in. The
//! lab crate enters a node with `setns` and then calls in here; a socket opened
//! that way may later be used from any thread.
//!
//! Nothing here forks or runs `ip`/`tcpdump`/`ping`: it is all sockets, so it
//! works in a bare namespace and costs microseconds, not process spawns.

pub mod checksum;
pub mod error;
pub mod flow;
pub mod tag;
pub mod template;

pub use error::{FlowError, ParseError, ParseErrorKind, WireError};
pub use flow::{FlowPoint, FlowSpec, IpRange, MacAddr, PortRange, Proto, TagSpec, TcpFlags, L4};
pub use tag::Tag;
pub use template::Template;
pub mod neigh;
pub mod sender;
mod sys;

pub use sender::{NoProgress, Progress, SendStats, Sender, SenderOptions, TxMode};
