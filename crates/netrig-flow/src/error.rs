//! Typed errors. Parse errors carry the position in the spec string so a CLI or
//! a scenario loader can point at the faulty item.

use std::ops::Range;

use crate::flow::Proto;

/// What was wrong with one item of a flow spec string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("expected key=value")]
    ExpectedKeyValue,
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    #[error("key `{0}` given twice")]
    DuplicateKey(&'static str),
    #[error("empty value")]
    EmptyValue,
    #[error("missing required key `{0}`")]
    Missing(&'static str),
    #[error("unknown protocol `{0}` (udp, tcp, icmp, icmpv6)")]
    UnknownProto(String),
    #[error("`{key}` does not apply to {proto}")]
    NotForProto { key: &'static str, proto: Proto },
    #[error("invalid port `{0}`")]
    InvalidPort(String),
    #[error("port out of range 0..=65535")]
    PortOutOfRange(String),
    #[error("range start is above its end")]
    ReversedRange,
    #[error("invalid IP address `{0}`")]
    InvalidAddress(String),
    #[error("invalid prefix length `{0}`")]
    InvalidPrefix(String),
    #[error("range mixes IPv4 and IPv6")]
    MixedFamilies,
    #[error("invalid MAC address (expected aa:bb:cc:dd:ee:ff)")]
    InvalidMac,
    #[error("invalid number `{0}`")]
    InvalidNumber(String),
    #[error("invalid duration `{0}` (e.g. 500ms, 2s, 1m)")]
    InvalidDuration(String),
    #[error("invalid percentage `{0}` (e.g. 1%, 0.5%, 100%)")]
    InvalidPercent(String),
    #[error("invalid rate `{0}` (e.g. 10mbit, 512kbit, 1gbit)")]
    InvalidRate(String),
    #[error("unknown TCP flag `{0}` (fin syn rst psh ack urg ece cwr)")]
    UnknownFlag(String),
    #[error("invalid tag `{0}` (stream[:src:dst])")]
    InvalidTag(String),
}

/// A malformed flow spec string, with the 1-based column and byte span of the
/// offending `key=value` item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{kind} at column {column}", if item.is_empty() { String::new() } else { format!("{item}: ") })]
pub struct ParseError {
    pub column: usize,
    pub span: Range<usize>,
    pub item: String,
    pub kind: ParseErrorKind,
}

/// A flow spec that parses but cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("source {src} and destination {dst} are of different address families")]
    FamilyMismatch { src: String, dst: String },
    #[error("{0} echo cannot use {1} addresses")]
    IcmpFamily(&'static str, &'static str),
    #[error("frame size {size} is below the {need} bytes of headers and tag")]
    FrameTooSmall { need: usize, size: usize },
    #[error("frame size {size} is above the maximum of {max}")]
    FrameTooLarge { max: usize, size: usize },
    #[error("one pass over {0} combinations is unbounded in practice: set count or duration")]
    Unbounded(u128),
    #[error("rate must be at least 1 packet per second")]
    ZeroRate,
}
