//! netrig-spec: the model of what a user asks for, and its parsing.
//!
//! TOML text goes in, a validated [`Topology`] comes out, or a list of
//! [`SpecError`]s that each point at `file:line:col` with a hint. Nothing here
//! touches the system, so everything is cheap to test and safe to fuzz: the lab
//! crate only ever sees a model that has passed every check.
//!
//! A `[[links]]` entry may carry `impair`: delay, jitter and its
//! distribution, loss (independent, or Gilbert-Elliott bursts),
//! duplication, reordering, corruption, rate and queue limit, with a seed and
//! an engine. Keys at the top apply to both directions; a sub-table named
//! after an end (`"node:iface"`, or the node) applies to what that end sends,
//! over them. The result is [`LinkImpair`], one [`Impairment`] per direction.

pub mod capfile;
mod error;
pub mod expect;
pub mod files;
mod impair;
mod model;
pub mod names;
pub mod net;
pub mod nsonly;
mod parse;
pub mod scenario;
pub mod steps;

pub use error::{Source, SpecError, SpecErrors};
pub use impair::{parse_impair_change, ImpairChange};
pub use model::*;
pub use net::IpNet;
pub use parse::{load_topology, parse_topology, IFNAME_MAX};

/// Failure to load a file: unreadable, or invalid.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] SpecErrors),
}
