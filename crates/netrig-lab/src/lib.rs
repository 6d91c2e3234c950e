//! netrig-lab: a validated topology made real on Linux.
//!
//! Each node is an anonymous network namespace held by a file descriptor, so a
//! lab disappears with the process that holds it, whatever way that process
//! ends. All configuration goes over netlink (no `ip` or `sysctl` processes),
//! batched per namespace. Labs are built from, and never change, the namespace
//! of the calling thread. Persistent labs (`netrig up`) are held by a small
//! holder process and, in root mode, also bind-mounted under /run/netns.
//! Impaired links are carried by [`impair`], netrig's user-space engine:
//! TAP devices joined by a thread of the lab's process.

pub mod gen;
pub mod impair;
mod lab;
pub mod netem;
pub mod netlink;
pub mod ns;
pub mod persist;
pub mod safefs;
pub mod tune;
pub mod view;

pub use impair::{DirStats, ImpairInfo};
pub use lab::{BuildOptions, ImpairedLink, Lab, LabError};
pub use netlink::{AddrInfo, LinkInfo, LinkStats, RouteHop, RouteInfo};
pub use ns::Mode;
