//! netrig's flow notation and the value types it is made of, with no I/O:
//! address and port ranges, MAC addresses, durations, percentages and bit rates, TCP flags, payload
//! tags, [`FlowSpec`] with its mausezahn-style notation
//! (`sp=1024,dp=0-32768,tag=1`), and [`frame`]: frames as layers, with their
//! scapy-like notation, builder and decoder.
//!
//! It sits below every crate that reads or writes the notation, so that
//! `netrig check` (netrig-spec) validates a scenario's flows with the very
//! parser that netrig-wire sends them with. Parse errors carry the column and
//! byte span of the faulty item.

pub mod checksum;
pub mod error;
pub mod flow;
pub mod frame;
pub mod tag;
pub mod units;

pub use error::{FlowError, ParseError, ParseErrorKind};
pub use flow::{
    parse_duration, FlowPoint, FlowSpec, IpRange, MacAddr, PortRange, Proto, TagSpec, TcpFlags, L4,
};
pub use frame::{Frame, FrameParseError, FrameSpec, Layer};
pub use tag::Tag;
pub use units::{parse_percent, parse_rate};
