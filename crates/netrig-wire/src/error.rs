//! Typed errors. Parse errors of the flow notation live in netrig-flow and
//! are re-exported here; [`WireError`] is the I/O side.

use std::io;
use std::net::IpAddr;

pub use netrig_flow::error::{FlowError, ParseError, ParseErrorKind};

/// Errors of the I/O side of the crate.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("no interface named `{0}` in this network namespace")]
    NoSuchInterface(String),
    #[error("interface name `{0}` is invalid")]
    BadInterfaceName(String),
    #[error("no route to {0} in this network namespace")]
    NoRoute(IpAddr),
    #[error("could not resolve the MAC address of next hop {hop} on {ifname} (for {dst}): give dst_mac or check the link")]
    Unresolved {
        hop: IpAddr,
        dst: IpAddr,
        ifname: String,
    },
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("frame of {len} bytes is larger than the ring frame of {max}")]
    FrameTooLarge { len: usize, max: usize },
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

impl WireError {
    /// Wrap the current `errno` with the operation that failed.
    pub(crate) fn last_os(op: &'static str) -> Self {
        WireError::Io {
            op,
            source: io::Error::last_os_error(),
        }
    }
    pub(crate) fn io(op: &'static str, source: io::Error) -> Self {
        WireError::Io { op, source }
    }
}

/// Result alias for I/O operations of this crate.
pub type Result<T, E = WireError> = std::result::Result<T, E>;
