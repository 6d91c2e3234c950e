//! Scenarios: a topology plus ordered steps with expectations, requirements,
//! a timeout, variants and a client x server matrix.
//!
//! A scenario file either embeds a topology (the same top-level keys as a
//! topology file) or names one with `topology = "../seed.toml"` (relative to
//! the scenario file). Parsing expands variants and the matrix right away, so
//! every case is checked before anything runs: a typo in the third variant is
//! an input error (exit 2), not a broken case halfway through a suite.
//!
//! # Reference
//!
//! Top level: `name`, `topology`, `timeout` (`"30s"`, default 60 s),
//! `requires = { root, kconfig = [..], commands = [..], kernel = "5.10",
//! tracepoints = ["fib:fib_table_lookup"] }`,
//! `variants = { key = [values] }` (cartesian product; case names read
//! `name[key=value,...]`, arrays as `2:1`; `{key}` is substituted in step
//! strings, and a string that is exactly `"{key}"` takes the value's type),
//! `[matrix]` (`clients`/`servers` tables of name = command, `client_node`,
//! `server_node`, `port`; cases `name[client_x_server]`, `{client}`/`{server}`
//! substituted), `xfail = "reason"`, `tags`, and `[[steps]]`.
//!
//! Each step has exactly one action, plus optional `name`, `node`, `timeout`
//! and `expect`:
//!
//! | action | value | `expect` keys |
//! |---|---|---|
//! | `run` | shell command, in `node` | `exit` (default 0), `stdout`, `stdout_not`, `stderr` (substrings) |
//! | `daemon` | shell command left running; `name` names its log | |
//! | `wait_port` | `{ node, port, udp }` | |
//! | `wait_log` | `{ daemon, pattern }` | |
//! | `ping` | `{ from, to = addr or [addrs], count }` | `reachable` (default true) |
//! | `sysctl` | `{ node, key, value }` (no value: read) | `value` |
//! | `link` | `{ node, iface, state = "up"/"down" }` | |
//! | `counters` | `{ node, iface, save = "tag", since = "tag" }` | `min`, `max` (e.g. `{ rx_packets = 3 }`) |
//! | `sleep` | `"100ms"` | |
//! | `traffic` | `{ from, dev, to, udp/tcp = "sp=1024,dp=0-4000" }` | `split = { over = ["r1:eth1", ..], weights = [..] }`, `affinity = [paths]`, `received = { "h2:eth0" = n }`, `streams = { over = [paths], lost, duplicated, reordered, misrouted }` (from payload tags), `ratio = { tracepoint, per = [paths], counter, min, max }` |
//! | `serve` | `{ node, addr = "0.0.0.0:7000", name, tcp, udp }` | |
//! | `probe` | `{ from, to = "addr:port", udp, count, src_port, rounds }` | `answered`, `resets` (at most), `split` and `affinity` (over server names) |
//! | `capture` | `{ node, iface }` (pcapng kept if the case fails) | |
//! | `route` | `{ node, to = "prefix", via = addr or [addrs], weights = [..] }` or `nexthops = [{ via, dev, weight }]`: replace a route | |
//! | `offload` | `{ node, iface, gro, tso, gso, tx_checksum }` (booleans; absent ones untouched) | |
//! | `sysfs` | `{ node, path = "class/net/eth0/gro_flush_timeout", value }` (no value: read) | `value` |
//!
//! `expect.ratio` counts a kernel tracepoint (e.g. `fib:fib_table_lookup`)
//! while the traffic crosses the lab and divides it by the change of a
//! counter (default `tx_packets`) summed over `per`; where tracepoints cannot
//! be counted (rootless, no tracefs) the step, and so the case, is a SKIP with
//! the reason.
//!
//! Variant values may be tables: `{key.field}` substitutes one field, and the
//! case name shows the table's `name` field (e.g. `family = [{ name = "ipv4",
//! vip = "198.18.0.1" }, ...]`, then `to = "{family.vip}"`).
//!
//! Any step takes `expect.fail`: it is known to fail, and the case is xfail
//! when it does. `fail = true` accepts any failure; `fail = "split"` (or a
//! list) accepts only a failure of those checks (the `expect` keys, also for
//! defaults: `exit`, `reachable`, `answered`), so that a case which fails for
//! another reason, or is broken, is not mistaken for the expected failure.
//!
//! # Adding a step kind
//!
//! 1. Add an optional field for its action to `RawStep` (its value type is the
//!    action's own table or a string shorthand) and a variant to [`StepKind`].
//! 2. Build the variant in `Checker::step_kind` and list which `expect` keys it
//!    accepts in `allowed_expect` (anything else is rejected with a hint).
//! 3. Execute it in `netrig-run`'s `steps` module.
//!
//! Expectations share one table type ([`Expect`]) so that the runner can carry
//! them generically; which keys make sense is decided per kind here.

use crate::error::{Checker, Source, SpecErrors};
use crate::model::Topology;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Timeout of a scenario that does not set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A parsed scenario with its cases already expanded.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    /// The scenario file as given.
    pub file: PathBuf,
    /// The lab every case builds; `None` runs steps in an empty namespace.
    pub topology: Option<Topology>,
    pub timeout: Duration,
    pub requires: Requires,
    pub xfail: Option<String>,
    pub tags: Vec<String>,
    pub cases: Vec<ScenarioCase>,
}

/// Declarative requirements; an unmet one turns a case into a skip.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    #[serde(default)]
    pub root: bool,
    #[serde(default)]
    pub kconfig: Vec<String>,
    #[serde(default)]
    pub commands: Vec<String>,
    /// Minimum kernel version, e.g. `5.10`.
    #[serde(default)]
    pub kernel: Option<String>,
    /// Kernel tracepoints that must be countable (`fib:fib_table_lookup`):
    /// perf needs root in the initial user namespace, so rootless runs skip.
    #[serde(default)]
    pub tracepoints: Vec<String>,
}

/// One case of a scenario: one point of the variant x matrix product.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioCase {
    /// `name`, `name[family=ipv4,weights=2:1]` or `name[curl_x_nc]`.
    pub name: String,
    /// Parameter values as substituted into step strings.
    pub params: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1-based position in the case.
    pub index: usize,
    /// Given by `name =`, or derived from the action (`run h1: ip route`).
    pub name: String,
    /// Line of the step in the scenario file.
    pub line: usize,
    pub kind: StepKind,
    pub expect: Expect,
    /// Bound for this step's own waiting (wait_port, wait_log, run). The
    /// scenario timeout, owned by the runner, still applies on top.
    pub timeout: Option<Duration>,
}

/// What a step does. `node` is `None` when the scenario has no topology.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Run a shell command in a node and wait for it.
    Run {
        node: Option<String>,
        cmd: String,
    },
    /// Start a shell command in a node and leave it running until the case ends.
    Daemon {
        node: Option<String>,
        cmd: String,
        /// Name of its log and of `wait_log` references.
        name: String,
    },
    /// Wait until something listens on a TCP port (or binds a UDP port) in a node.
    WaitPort {
        node: Option<String>,
        port: u16,
        udp: bool,
    },
    /// Wait until a daemon's output contains a string.
    WaitLog {
        daemon: String,
        pattern: String,
    },
    /// ICMP echo from a node.
    Ping {
        from: Option<String>,
        to: Vec<IpAddr>,
        count: u32,
    },
    /// Set (with `value`) or read a sysctl in a node.
    Sysctl {
        node: Option<String>,
        key: String,
        value: Option<String>,
    },
    /// Bring an interface up or down.
    Link {
        node: String,
        iface: String,
        up: bool,
    },
    /// Read an interface's counters; `save` keeps them under a name, `since`
    /// turns the expectation into one about the difference to a saved set.
    Counters {
        node: String,
        iface: String,
        save: Option<String>,
        since: Option<String>,
    },
    Sleep {
        duration: Duration,
    },
    /// Send packets from a node with netrig-wire (mausezahn-like `args`),
    /// capturing on the interfaces the expectations name.
    Traffic {
        from: String,
        dev: String,
        to: String,
        /// `udp` or `tcp`.
        proto: String,
        /// Flow notation, e.g. `sp=1024,dp=0-32768`.
        args: String,
    },
    /// A probe server answering with `name` (TCP and/or UDP), until the case ends.
    Serve {
        node: String,
        addr: SocketAddr,
        name: String,
        tcp: bool,
        udp: bool,
    },
    /// Probes from a node to a server; answers are counted per server name.
    Probe {
        from: String,
        to: SocketAddr,
        udp: bool,
        count: u32,
        /// First source port; probe `i` uses `src_port + i`.
        src_port: Option<u16>,
        /// How many times each source port is probed (>= 2 makes affinity
        /// checkable: one flow, several connections).
        rounds: u32,
    },
    /// Capture on an interface until the case ends; the pcapng is kept when
    /// the case does not pass.
    Capture {
        node: String,
        iface: String,
    },
    /// Replace a route of a node (e.g. other weights for a variant, or a
    /// nexthop removed).
    Route {
        route: crate::model::Route,
    },
    /// Turn interface offloads on or off (`None`: leave as is).
    Offload {
        node: String,
        iface: String,
        gro: Option<bool>,
        tso: Option<bool>,
        gso: Option<bool>,
        tx_checksum: Option<bool>,
    },
    /// Write (with `value`) or read a sysfs attribute as a node sees it.
    Sysfs {
        node: String,
        path: String,
        value: Option<String>,
    },
}

impl StepKind {
    pub fn keyword(&self) -> &'static str {
        match self {
            StepKind::Run { .. } => "run",
            StepKind::Daemon { .. } => "daemon",
            StepKind::WaitPort { .. } => "wait_port",
            StepKind::WaitLog { .. } => "wait_log",
            StepKind::Ping { .. } => "ping",
            StepKind::Sysctl { .. } => "sysctl",
            StepKind::Link { .. } => "link",
            StepKind::Counters { .. } => "counters",
            StepKind::Sleep { .. } => "sleep",
            StepKind::Traffic { .. } => "traffic",
            StepKind::Serve { .. } => "serve",
            StepKind::Probe { .. } => "probe",
            StepKind::Capture { .. } => "capture",
            StepKind::Route { .. } => "route",
            StepKind::Offload { .. } => "offload",
            StepKind::Sysfs { .. } => "sysfs",
        }
    }
}

/// Expectations on a step's result. Which keys apply depends on the step kind
/// (see `allowed_expect`); absent keys mean the kind's default check (a `run`
/// must exit 0, a `ping` must be answered).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// run: exit status.
    pub exit: Option<i32>,
    /// run: strings stdout must contain.
    #[serde(default, deserialize_with = "one_or_many")]
    pub stdout: Vec<String>,
    /// run: strings stdout must not contain.
    #[serde(default, deserialize_with = "one_or_many")]
    pub stdout_not: Vec<String>,
    /// run: strings stderr must contain.
    #[serde(default, deserialize_with = "one_or_many")]
    pub stderr: Vec<String>,
    /// ping: whether replies must come back (false: none may).
    pub reachable: Option<bool>,
    /// sysctl: the value read back.
    pub value: Option<String>,
    /// counters (and traffic, per `node:iface`): lower bounds, e.g. `{ tx_packets = 100 }`.
    pub min: Option<BTreeMap<String, u64>>,
    /// counters: upper bounds.
    pub max: Option<BTreeMap<String, u64>>,
    /// traffic/probe: flows (traffic) or answers (probe) split over paths by weight.
    pub split: Option<SplitExpect>,
    /// traffic: every flow stays on one of these paths.
    pub affinity: Option<Vec<String>>,
    /// traffic: packets that must arrive on these `node:iface` captures.
    pub received: Option<BTreeMap<String, u64>>,
    /// probe: how many probes must be answered (default: all).
    pub answered: Option<u64>,
    /// probe: most connections that may be reset after being established.
    pub resets: Option<u64>,
    /// traffic: loss, duplication, reordering and misrouting from payload tags.
    pub streams: Option<StreamsExpect>,
    /// traffic: a tracepoint count per counted packet, within bounds.
    pub ratio: Option<RatioExpect>,
    /// Marks an expected failure of this step: the case becomes xfail.
    pub fail: Option<FailExpect>,
}

/// `expect.fail`: `true` (any failure), or the checks that must fail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum FailExpect {
    Any(bool),
    One(String),
    Many(Vec<String>),
}

impl FailExpect {
    /// Is a failure expected at all (`fail = false` means no)?
    pub fn expected(&self) -> bool {
        !matches!(self, FailExpect::Any(false))
    }

    /// The checks whose failure is expected; empty means any.
    pub fn checks(&self) -> Vec<String> {
        match self {
            FailExpect::Any(_) => Vec::new(),
            FailExpect::One(s) => vec![s.clone()],
            FailExpect::Many(v) => v.clone(),
        }
    }
}

/// `expect.streams`: tagged packets captured on `over` (`node:iface`); each
/// limit is the most packets allowed in that category. `lost` and
/// `duplicated` default to 0; `reordered` and `misrouted` are unchecked
/// unless given (multipath spreads a stream over paths, so arrival order
/// across captures means little).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StreamsExpect {
    pub over: Vec<String>,
    pub lost: Option<u64>,
    pub duplicated: Option<u64>,
    pub reordered: Option<u64>,
    pub misrouted: Option<u64>,
}

/// `expect.ratio`: hits of `tracepoint` during the traffic divided by the
/// change of `counter` (default `tx_packets`) summed over `per` (`node:iface`).
/// `iif = "r1:eth0"` counts only events whose `iif` field is that interface
/// (a router's lookups for packets it received there): tracepoints fire for
/// every namespace on the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RatioExpect {
    pub tracepoint: String,
    pub iif: Option<String>,
    /// Count only events of this routing table (`tb_id`; main is 254).
    pub table: Option<u32>,
    pub per: Vec<String>,
    pub counter: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Counters `expect.ratio` can divide by (those of `counters` steps).
pub const RATIO_COUNTERS: &[&str] = &[
    "rx_packets",
    "tx_packets",
    "rx_bytes",
    "tx_bytes",
    "rx_dropped",
    "tx_dropped",
];

/// `expect.split`: paths (`node:iface` for traffic, server names for probes)
/// and their configured weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SplitExpect {
    pub over: Vec<String>,
    pub weights: Vec<u32>,
    /// Probability bound of failing a correct system (default 1e-6).
    pub alpha: Option<f64>,
    /// Relative deviation to detect (default 0.25).
    pub tolerance: Option<f64>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Parse `30s`, `500ms`, `100us`, `2m`, `1.5s`, `1h`: the flow notation's
/// parser (one for all of netrig), except that a scenario must say its unit.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.ends_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    netrig_flow::parse_duration(s)
        .ok()
        .filter(|d| d.as_secs() < 1_000_000_000)
}

// ---------------------------------------------------------------------------
// Raw shapes, as serde reads them.

/// `variants = { key = [values] }`, keys with their spans (for file order).
type RawVariants = BTreeMap<Spanned<String>, Spanned<Vec<toml::Value>>>;

#[derive(Deserialize)]
struct RawScenario {
    name: Option<Spanned<String>>,
    topology: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    requires: Option<Spanned<toml::Value>>,
    #[serde(default)]
    steps: Vec<Spanned<toml::Value>>,
    variants: Option<Spanned<RawVariants>>,
    matrix: Option<Spanned<toml::Value>>,
    xfail: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    // Topology keys: present when the topology is embedded.
    nodes: Option<Spanned<toml::Value>>,
    links: Option<toml::Value>,
    lans: Option<toml::Value>,
    routes: Option<toml::Value>,
    neighbors: Option<toml::Value>,
    #[allow(dead_code)]
    description: Option<toml::Value>,
    #[allow(dead_code)]
    dad: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    clients: BTreeMap<String, String>,
    servers: BTreeMap<String, String>,
    client_node: Option<String>,
    server_node: Option<String>,
    /// TCP port the server listens on; the client starts once it is open.
    port: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    node: Option<String>,
    timeout: Option<String>,
    expect: Option<Expect>,
    run: Option<String>,
    daemon: Option<String>,
    wait_port: Option<RawWaitPort>,
    wait_log: Option<RawWaitLog>,
    ping: Option<RawPing>,
    sysctl: Option<RawSysctl>,
    link: Option<RawLink>,
    counters: Option<RawCounters>,
    sleep: Option<String>,
    traffic: Option<RawTraffic>,
    serve: Option<RawServe>,
    probe: Option<RawProbe>,
    capture: Option<RawCapture>,
    route: Option<RawRoute>,
    offload: Option<RawOffload>,
    sysfs: Option<RawSysfs>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    node: Option<String>,
    to: String,
    via: Option<StrOrList>,
    weights: Option<Vec<u32>>,
    nexthops: Option<Vec<RawNexthop>>,
    metric: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNexthop {
    via: Option<String>,
    dev: Option<String>,
    weight: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffload {
    node: Option<String>,
    iface: String,
    gro: Option<bool>,
    tso: Option<bool>,
    gso: Option<bool>,
    tx_checksum: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSysfs {
    node: Option<String>,
    path: String,
    value: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaitPort {
    node: Option<String>,
    port: u16,
    #[serde(default)]
    udp: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaitLog {
    daemon: String,
    pattern: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrList {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPing {
    from: Option<String>,
    to: StrOrList,
    count: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSysctl {
    node: Option<String>,
    key: String,
    value: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    node: Option<String>,
    iface: String,
    state: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCounters {
    node: Option<String>,
    iface: String,
    save: Option<String>,
    since: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTraffic {
    from: Option<String>,
    dev: Option<String>,
    to: String,
    udp: Option<String>,
    tcp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    node: Option<String>,
    addr: String,
    name: Option<String>,
    tcp: Option<bool>,
    udp: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    from: Option<String>,
    to: String,
    #[serde(default)]
    udp: bool,
    count: Option<u32>,
    src_port: Option<u16>,
    rounds: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    node: Option<String>,
    iface: String,
}

// ---------------------------------------------------------------------------

/// Most cases one scenario file may expand to (variants x matrix).
pub const MAX_CASES: usize = 10_000;

/// Read and parse a scenario file (and the topology file it names).
pub fn load_scenario(path: &Path) -> Result<Scenario, crate::LoadError> {
    let text = crate::files::read_spec_file(path).map_err(|source| crate::LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_scenario(path, &text)
}

/// Like [`load_scenario`], but expand only the case called `case` (the
/// others are skipped, not checked): what a case process needs, in constant
/// time however many variants the file has.
pub fn load_scenario_case(path: &Path, case: &str) -> Result<Scenario, crate::LoadError> {
    let text = crate::files::read_spec_file(path).map_err(|source| crate::LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_filtered(path, &text, Some(case))
}

/// Is this TOML text a scenario (as opposed to a bare topology)? True when it
/// has steps, a matrix or a topology reference. Cheap and forgiving: a file
/// that does not parse counts as a scenario so that its errors get reported.
pub fn is_scenario_text(text: &str) -> bool {
    match text.parse::<toml::Table>() {
        Ok(t) => t.contains_key("steps") || t.contains_key("matrix") || t.contains_key("topology"),
        Err(_) => true,
    }
}

/// Parse a scenario from `text`; `path` names it in errors and anchors a
/// relative `topology = "..."`.
pub fn parse_scenario(path: &Path, text: &str) -> Result<Scenario, crate::LoadError> {
    parse_filtered(path, text, None)
}

fn parse_filtered(
    path: &Path,
    text: &str,
    only: Option<&str>,
) -> Result<Scenario, crate::LoadError> {
    let name = path.display().to_string();
    let src = Source::new(name.clone(), text);
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        SpecErrors {
            errors: vec![src.error(span, e.message().trim().to_string())],
        }
    })?;
    let mut c = Checker {
        src: src.clone(),
        errors: Vec::new(),
    };

    // The topology: referenced or embedded, never both.
    let embedded = raw.nodes.is_some()
        || raw.links.is_some()
        || raw.lans.is_some()
        || raw.routes.is_some()
        || raw.neighbors.is_some();
    let topology = match &raw.topology {
        Some(t) if embedded => {
            c.err_help(
                inner(t),
                "this scenario both names a topology file and embeds nodes/links/routes",
                "keep one: either `topology = \"file.toml\"` or the topology tables here",
            );
            None
        }
        // Only a .toml file: a scenario someone else wrote must not make
        // netrig (often root) read, and quote in its errors, any file.
        Some(t) if !t.get_ref().ends_with(".toml") => {
            c.err_help(
                inner(t),
                format!("topology `{}` is not a .toml file", t.get_ref()),
                "name a topology file, e.g. topology = \"../seed.toml\"",
            );
            None
        }
        Some(t) => {
            let base = path.parent().unwrap_or(Path::new("."));
            let tpath = base.join(t.get_ref());
            match crate::load_topology(&tpath) {
                Ok(topo) => Some(topo),
                Err(crate::LoadError::Read { source, .. }) => {
                    c.err_help(
                        inner(t),
                        format!("cannot read topology {}: {source}", tpath.display()),
                        "the path is relative to the scenario file",
                    );
                    None
                }
                // Errors inside the topology file point into that file.
                Err(e) => return Err(e),
            }
        }
        None if embedded => Some(crate::parse_topology(&name, text)?),
        None => None,
    };

    let scenario_name = match (&raw.name, &raw.topology) {
        (Some(n), _) => n.get_ref().clone(),
        _ => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into()),
    };
    if scenario_name.is_empty() || scenario_name.contains(['#', '\n', '/']) {
        let span = raw.name.as_ref().map(inner).unwrap_or(0..0);
        c.err_help(
            span,
            format!("invalid scenario name `{scenario_name}`"),
            "use letters, digits, `-`, `_` and `.`",
        );
    }

    let timeout = match &raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) => match parse_duration(t.get_ref()) {
            Some(d) if !d.is_zero() => d,
            _ => {
                c.err_help(
                    inner(t),
                    format!("malformed timeout `{}`", t.get_ref()),
                    "write a duration such as \"30s\", \"500ms\" or \"2m\"",
                );
                DEFAULT_TIMEOUT
            }
        },
    };

    let requires = match &raw.requires {
        None => Requires::default(),
        Some(r) => match Requires::deserialize(r.get_ref().clone()) {
            Ok(req) => {
                if let Some(k) = &req.kernel {
                    if parse_version(k).is_none() {
                        c.err_help(
                            r.span(),
                            format!("malformed kernel version `{k}`"),
                            "write e.g. kernel = \"5.10\"",
                        );
                    }
                }
                req
            }
            Err(e) => {
                c.err_help(
                    r.span(),
                    format!("in `requires`: {}", e.message().trim()),
                    "requires takes root (bool), kconfig, commands, tracepoints (lists of strings), kernel (\"5.10\")",
                );
                Requires::default()
            }
        },
    };

    // Variants: cartesian product, in file order of the keys.
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    if let Some(v) = &raw.variants {
        let mut keys: Vec<_> = v.get_ref().iter().collect();
        keys.sort_by_key(|(k, _)| k.span().start);
        for (k, vals) in keys {
            if vals.get_ref().is_empty() {
                c.err(
                    vals.span(),
                    format!("variant `{}` has no values", k.get_ref()),
                );
                continue;
            }
            if matches!(k.get_ref().as_str(), "client" | "server") {
                c.err(
                    inner(k),
                    "`client` and `server` are reserved for the matrix",
                );
            }
            axes.push((k.get_ref().clone(), vals.get_ref().clone()));
        }
    }
    // Bounded before anything is expanded: 10 keys of 10 values would be
    // 10^10 cases.
    let matrix_size = raw
        .matrix
        .as_ref()
        .and_then(|m| RawMatrix::deserialize(m.get_ref().clone()).ok())
        .map_or(1, |mx| (mx.clients.len() * mx.servers.len()).max(1));
    let total = axes
        .iter()
        .try_fold(matrix_size, |n, (_, vals)| n.checked_mul(vals.len()))
        .filter(|n| *n <= MAX_CASES);
    if total.is_none() {
        let span = raw.variants.as_ref().map(|v| v.span()).unwrap_or(0..0);
        c.err_help(
            span,
            format!("variants and matrix expand to more than {MAX_CASES} cases"),
            "split the scenario, or drop values that test the same thing",
        );
        axes.clear();
    }
    let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (k, vals) in &axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                vals.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((k.clone(), v.clone()));
                    q
                })
            })
            .collect();
    }

    let matrix = raw.matrix.as_ref().and_then(|m| {
        match RawMatrix::deserialize(m.get_ref().clone()) {
            Ok(mx) => {
                if mx.clients.is_empty() || mx.servers.is_empty() {
                    c.err(m.span(), "a matrix needs at least one client and one server");
                    None
                } else {
                    Some((mx, m.span()))
                }
            }
            Err(e) => {
                c.err_help(
                    m.span(),
                    format!("in `matrix`: {}", e.message().trim()),
                    "matrix takes clients = { name = \"cmd\" }, servers = { name = \"cmd\" }, client_node, server_node, port",
                );
                None
            }
        }
    });

    let mut cases = Vec::new();
    let pairs: Vec<Option<(String, String)>> = match &matrix {
        None => vec![None],
        Some((mx, _)) => mx
            .clients
            .keys()
            .flat_map(|cl| {
                mx.servers
                    .keys()
                    .map(move |sv| Some((cl.clone(), sv.clone())))
            })
            .collect(),
    };
    for point in &points {
        for pair in &pairs {
            let mut params: Vec<(String, toml::Value)> = point.clone();
            let mut label: Vec<String> = point
                .iter()
                .map(|(k, v)| format!("{k}={}", display_value(v)))
                .collect();
            if let Some((cl, sv)) = pair {
                params.push(("client".into(), toml::Value::String(cl.clone())));
                params.push(("server".into(), toml::Value::String(sv.clone())));
                label.push(format!("{cl}_x_{sv}"));
            }
            let case_name = if label.is_empty() {
                scenario_name.clone()
            } else {
                format!("{scenario_name}[{}]", label.join(","))
            };
            if only.is_some_and(|o| o != case_name) {
                continue;
            }
            let mut steps = Vec::new();
            let mut spans = Vec::new();
            for raw_step in &raw.steps {
                let value = substitute(raw_step.get_ref(), &params);
                if let Some(s) = c.step(&value, raw_step.span(), steps.len() + 1, topology.as_ref())
                {
                    steps.push(s);
                    spans.push(raw_step.span());
                }
            }
            // Once per file: every case has the same steps, give or take
            // substituted values.
            if cases.is_empty() {
                c.step_references(&steps, &spans);
            }
            if let (Some((mx, span)), Some((cl, sv))) = (&matrix, pair) {
                c.matrix_steps(
                    mx,
                    span.clone(),
                    cl,
                    sv,
                    &params,
                    topology.as_ref(),
                    &mut steps,
                );
            }
            cases.push(ScenarioCase {
                name: case_name,
                params: params
                    .iter()
                    .map(|(k, v)| (k.clone(), display_value(v)))
                    .collect(),
                steps,
            });
        }
        // Errors are the same for every point: stop after the first one that has any.
        if !c.errors.is_empty() {
            break;
        }
    }
    if raw.steps.is_empty() && matrix.is_none() {
        c.err_help(
            0..0,
            "this scenario has no steps",
            "add [[steps]] tables, e.g. run = \"true\", or a [matrix]",
        );
    }

    if c.errors.is_empty() {
        Ok(Scenario {
            name: scenario_name,
            file: path.to_path_buf(),
            topology,
            timeout,
            requires,
            xfail: raw.xfail.map(|x| x.into_inner()),
            tags: raw.tags,
            cases,
        })
    } else {
        // Variants repeat the same mistake once per point; report it once.
        let mut seen = std::collections::HashSet::new();
        c.errors
            .retain(|e| seen.insert((e.line, e.col, e.message.clone())));
        Err(SpecErrors { errors: c.errors }.into())
    }
}

/// A version like `5.10` or `6.18.44-fc` as numbers.
pub fn parse_version(s: &str) -> Option<Vec<u32>> {
    let head: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: Option<Vec<u32>> = head
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect();
    v.filter(|v| !v.is_empty())
}

/// How a parameter value reads in a case name or a step string: arrays are
/// joined with `:` (weights `[2,1]` read `2:1`), tables by their `name` field.
pub fn display_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => a.iter().map(display_value).collect::<Vec<_>>().join(":"),
        toml::Value::Table(t) => t
            .get("name")
            .map(display_value)
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

/// `(placeholder, value)` pairs of the parameters: `{key}` for every value,
/// plus `{key.field}` for every field of a table value.
fn placeholders(params: &[(String, toml::Value)]) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (k, val) in params {
        out.push((format!("{{{k}}}"), val.clone()));
        if let toml::Value::Table(t) = val {
            for (f, fv) in t {
                out.push((format!("{{{k}.{f}}}"), fv.clone()));
            }
        }
    }
    out
}

/// Replace `{key}` (and `{key.field}` of table values) in every string of
/// `v`. A string that is exactly a placeholder becomes the value with its
/// type (so `weights = "{weights}"` yields an array). Unknown `{words}` are
/// left alone: shell text has braces.
fn substitute(v: &toml::Value, params: &[(String, toml::Value)]) -> toml::Value {
    subst(v, &placeholders(params))
}

fn subst(v: &toml::Value, ph: &[(String, toml::Value)]) -> toml::Value {
    match v {
        toml::Value::String(s) => {
            for (p, val) in ph {
                if s == p {
                    return val.clone();
                }
            }
            let mut out = s.clone();
            for (p, val) in ph {
                if out.contains(p.as_str()) {
                    out = out.replace(p.as_str(), &display_value(val));
                }
            }
            toml::Value::String(out)
        }
        toml::Value::Array(a) => toml::Value::Array(a.iter().map(|x| subst(x, ph)).collect()),
        toml::Value::Table(t) => {
            toml::Value::Table(t.iter().map(|(k, x)| (k.clone(), subst(x, ph))).collect())
        }
        other => other.clone(),
    }
}

fn inner<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

/// Which `expect` keys each step kind understands.
fn allowed_expect(kind: &StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::Run { .. } => &["exit", "stdout", "stdout_not", "stderr", "fail"],
        StepKind::Ping { .. } => &["reachable", "fail"],
        StepKind::Sysctl { .. } => &["value", "fail"],
        StepKind::Counters { .. } => &["min", "max", "fail"],
        StepKind::Traffic { .. } => &["split", "affinity", "received", "streams", "ratio", "fail"],
        StepKind::Probe { .. } => &["split", "answered", "resets", "affinity", "fail"],
        StepKind::Sysfs { .. } => &["value", "fail"],
        _ => &["fail"],
    }
}

fn expect_keys(e: &Expect) -> Vec<&'static str> {
    let mut k = Vec::new();
    let mut add = |on: bool, name: &'static str| {
        if on {
            k.push(name)
        }
    };
    add(e.exit.is_some(), "exit");
    add(!e.stdout.is_empty(), "stdout");
    add(!e.stdout_not.is_empty(), "stdout_not");
    add(!e.stderr.is_empty(), "stderr");
    add(e.reachable.is_some(), "reachable");
    add(e.value.is_some(), "value");
    add(e.min.is_some(), "min");
    add(e.max.is_some(), "max");
    add(e.split.is_some(), "split");
    add(e.affinity.is_some(), "affinity");
    add(e.received.is_some(), "received");
    add(e.answered.is_some(), "answered");
    add(e.resets.is_some(), "resets");
    add(e.streams.is_some(), "streams");
    add(e.ratio.is_some(), "ratio");
    add(e.fail.is_some(), "fail");
    k
}

const ACTIONS: &str = "run, daemon, wait_port, wait_log, ping, sysctl, link, counters, sleep, traffic, serve, probe, capture, route, offload, sysfs";

/// The checks a step kind can fail by, as `expect.fail` names them: its
/// expect keys, including the default checks (`exit`, `reachable`, `answered`).
pub fn failable_checks(kind: &StepKind) -> Vec<&'static str> {
    allowed_expect(kind)
        .iter()
        .copied()
        .filter(|k| *k != "fail")
        .collect()
}

impl Checker {
    /// What a step refers to must come from an earlier step, as `netrig run`
    /// needs it: `wait_log` a started daemon, `counters since` a saved name;
    /// and daemon names, which name their logs, are unique.
    fn step_references(&mut self, steps: &[Step], spans: &[Range<usize>]) {
        let mut daemons: Vec<&str> = Vec::new();
        let mut saved: Vec<&str> = Vec::new();
        for (s, span) in steps.iter().zip(spans) {
            match &s.kind {
                StepKind::Daemon { name, .. } => {
                    if daemons.contains(&name.as_str()) {
                        self.err_help(
                            span.clone(),
                            format!(
                                "step {}: a daemon named `{name}` was already started",
                                s.index
                            ),
                            "give each daemon its own name = \"...\" (it names its log)",
                        );
                    }
                    daemons.push(name);
                }
                StepKind::WaitLog { daemon, .. } if !daemons.contains(&daemon.as_str()) => {
                    self.err_help(
                        span.clone(),
                        format!(
                            "step {}: wait_log names daemon `{daemon}`, which no earlier step starts",
                            s.index
                        ),
                        if daemons.is_empty() {
                            "start it first with a daemon step (its name = \"...\")".to_string()
                        } else {
                            format!("daemons started before: {}", daemons.join(", "))
                        },
                    );
                }
                StepKind::Counters { save, since, .. } => {
                    if let Some(x) = since.as_deref().filter(|x| !saved.contains(x)) {
                        self.err_help(
                            span.clone(),
                            format!(
                                "step {}: counters since `{x}`, which no earlier counters step saves",
                                s.index
                            ),
                            "save them first: counters = { node, iface, save = \"before\" }",
                        );
                    }
                    if let Some(x) = save {
                        saved.push(x);
                    }
                }
                _ => {}
            }
        }
    }

    /// Point at a key inside a step when serde names one, else at the step.
    fn key_span(&self, span: &Range<usize>, msg: &str) -> Range<usize> {
        let key = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains("unknown field") || msg.contains("missing field"));
        // A table's span may cover only its `[[steps]]` header: search on to
        // the next header line.
        let rest = self.src.text.get(span.start..).unwrap_or("");
        let end = rest
            .match_indices("\n[")
            .map(|(i, _)| i)
            .find(|&i| i + 1 >= span.end - span.start)
            .unwrap_or(rest.len());
        if let (Some(k), Some(body)) = (key, rest.get(..end)) {
            if let Some(i) = body.find(k) {
                return span.start + i..span.start + i + k.len();
            }
        }
        span.clone()
    }

    fn resolve_node(
        &mut self,
        span: &Range<usize>,
        given: Option<String>,
        topo: Option<&Topology>,
        what: &str,
    ) -> Option<Option<String>> {
        match (given, topo) {
            (None, None) => Some(None),
            (Some(n), None) => {
                self.err_help(
                    span.clone(),
                    format!("{what} names node `{n}` but this scenario has no topology"),
                    "embed [nodes.*] tables or set topology = \"file.toml\"",
                );
                None
            }
            (Some(n), Some(t)) => {
                if t.node(&n).is_some() {
                    Some(Some(n))
                } else {
                    let known: Vec<_> = t.nodes.iter().map(|n| n.name.as_str()).collect();
                    self.err_help(
                        span.clone(),
                        format!("{what}: unknown node `{n}`"),
                        format!("known nodes: {}", known.join(", ")),
                    );
                    None
                }
            }
            (None, Some(t)) if t.nodes.len() == 1 => Some(Some(t.nodes[0].name.clone())),
            (None, Some(t)) if t.nodes.is_empty() => Some(None),
            (None, Some(_)) => {
                self.err_help(
                    span.clone(),
                    format!("{what} needs a node: this topology has several"),
                    "add node = \"NAME\"",
                );
                None
            }
        }
    }

    fn need_node(
        &mut self,
        span: &Range<usize>,
        given: Option<String>,
        topo: Option<&Topology>,
        what: &str,
    ) -> Option<String> {
        match self.resolve_node(span, given, topo, what)? {
            Some(n) => Some(n),
            None => {
                self.err(span.clone(), format!("{what} needs a lab node"));
                None
            }
        }
    }

    fn check_iface(
        &mut self,
        span: &Range<usize>,
        topo: Option<&Topology>,
        node: &str,
        iface: &str,
    ) -> bool {
        let Some(t) = topo else { return false };
        if iface == "lo" || t.ifaces_of(node).any(|i| i.name == iface) {
            return true;
        }
        let known: Vec<_> = t.ifaces_of(node).map(|i| i.name.clone()).collect();
        self.err_help(
            span.clone(),
            format!("node `{node}` has no interface `{iface}`"),
            format!("its interfaces: {}", known.join(", ")),
        );
        false
    }

    fn step(
        &mut self,
        value: &toml::Value,
        span: Range<usize>,
        index: usize,
        topo: Option<&Topology>,
    ) -> Option<Step> {
        let raw = match RawStep::deserialize(value.clone()) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.message().trim().to_string();
                let at = self.key_span(&span, &msg);
                self.err_help(
                    at,
                    format!("step {index}: {msg}"),
                    format!("a step has one action ({ACTIONS}) plus optional name, node, timeout, expect"),
                );
                return None;
            }
        };
        let timeout = match &raw.timeout {
            None => None,
            Some(t) => match parse_duration(t) {
                Some(d) => Some(d),
                None => {
                    self.err_help(
                        span.clone(),
                        format!("step {index}: malformed timeout `{t}`"),
                        "write e.g. \"5s\"",
                    );
                    return None;
                }
            },
        };
        let expect = raw.expect.clone().unwrap_or_default();
        let (kind, auto_name) = self.step_kind(raw, &span, index, topo)?;
        let allowed = allowed_expect(&kind);
        for k in expect_keys(&expect) {
            if !allowed.contains(&k) {
                self.err_help(
                    span.clone(),
                    format!(
                        "step {index}: `expect.{k}` does not apply to a `{}` step",
                        kind.keyword()
                    ),
                    format!(
                        "a `{}` step takes expect keys: {}",
                        kind.keyword(),
                        allowed.join(", ")
                    ),
                );
                return None;
            }
        }
        if let Some(f) = &expect.fail {
            let can = failable_checks(&kind);
            for c in f.checks() {
                if !can.contains(&c.as_str()) {
                    self.err_help(
                        span.clone(),
                        format!(
                            "step {index}: expect.fail names `{c}`, which a `{}` step cannot fail by",
                            kind.keyword()
                        ),
                        if can.is_empty() {
                            "this step kind only takes fail = true".to_string()
                        } else {
                            format!("its checks: {}", can.join(", "))
                        },
                    );
                    return None;
                }
            }
        }
        let mut paths: Vec<&String> = Vec::new();
        if let Some(st) = &expect.streams {
            if st.over.is_empty() {
                self.err(
                    span.clone(),
                    format!("step {index}: expect.streams needs paths in `over`"),
                );
                return None;
            }
            paths.extend(&st.over);
        }
        if let Some(r) = &expect.ratio {
            if r.per.is_empty() {
                self.err(
                    span.clone(),
                    format!("step {index}: expect.ratio needs counters in `per`"),
                );
                return None;
            }
            let bad_bound = |b: Option<f64>| b.is_some_and(|x| !x.is_finite() || x < 0.0);
            if (r.min.is_none() && r.max.is_none())
                || bad_bound(r.min)
                || bad_bound(r.max)
                || matches!((r.min, r.max), (Some(a), Some(b)) if a > b)
            {
                self.err_help(
                    span.clone(),
                    format!("step {index}: expect.ratio needs min and/or max, with 0 <= min <= max"),
                    "e.g. ratio = { tracepoint = \"fib:fib_table_lookup\", per = [\"r1:eth1\", \"r1:eth2\"], min = 0.95 }",
                );
                return None;
            }
            let tp_ok = r.tracepoint.split_once(':').is_some_and(|(a, b)| {
                let id = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                };
                id(a) && id(b)
            });
            if !tp_ok {
                self.err_help(
                    span.clone(),
                    format!("step {index}: malformed tracepoint `{}`", r.tracepoint),
                    "write subsystem:event, e.g. fib:fib_table_lookup or fib6:fib6_table_lookup",
                );
                return None;
            }
            if let Some(c) = &r.counter {
                if !RATIO_COUNTERS.contains(&c.as_str()) {
                    self.err_help(
                        span.clone(),
                        format!("step {index}: unknown counter `{c}` in expect.ratio"),
                        format!("counters: {}", RATIO_COUNTERS.join(", ")),
                    );
                    return None;
                }
            }
            paths.extend(&r.per);
            paths.extend(&r.iif);
        }
        for p in paths {
            let Some((n, i)) = p.split_once(':') else {
                self.err_help(
                    span.clone(),
                    format!("step {index}: `{p}` is not node:iface"),
                    "e.g. \"r1:eth1\"",
                );
                return None;
            };
            if self
                .need_node(&span, Some(n.to_string()), topo, "expect")
                .is_none()
                || !self.check_iface(&span, topo, n, i)
            {
                return None;
            }
        }
        if let Some(s) = &expect.split {
            if s.over.len() != s.weights.len() || s.over.len() < 2 {
                self.err_help(
                    span.clone(),
                    format!("step {index}: expect.split needs as many weights as paths, and at least two"),
                    "e.g. split = { over = [\"r1:eth1\", \"r1:eth2\"], weights = [11, 45] }",
                );
                return None;
            }
            // As the split verdict (and `ip route`) take them.
            if let Some(w) = s.weights.iter().find(|w| !(1..=256).contains(*w)) {
                self.err_help(
                    span.clone(),
                    format!("step {index}: expect.split weight {w} is outside 1..=256"),
                    "weights are relative shares, e.g. weights = [11, 45]",
                );
                return None;
            }
        }
        let (line, _) = self.src.line_col(span.start);
        Some(Step {
            index,
            name: value
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or(auto_name),
            line,
            kind,
            expect,
            timeout,
        })
    }

    fn step_kind(
        &mut self,
        raw: RawStep,
        span: &Range<usize>,
        index: usize,
        topo: Option<&Topology>,
    ) -> Option<(StepKind, String)> {
        let actions = [
            raw.run.is_some(),
            raw.daemon.is_some(),
            raw.wait_port.is_some(),
            raw.wait_log.is_some(),
            raw.ping.is_some(),
            raw.sysctl.is_some(),
            raw.link.is_some(),
            raw.counters.is_some(),
            raw.sleep.is_some(),
            raw.traffic.is_some(),
            raw.serve.is_some(),
            raw.probe.is_some(),
            raw.capture.is_some(),
            raw.route.is_some(),
            raw.offload.is_some(),
            raw.sysfs.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if actions != 1 {
            self.err_help(
                span.clone(),
                format!("step {index} has {actions} actions; a step has exactly one"),
                format!("actions: {ACTIONS}"),
            );
            return None;
        }
        let step_node = raw.node.clone();
        let pick = |inner: Option<String>| inner.or_else(|| step_node.clone());
        if let Some(cmd) = raw.run {
            let node = self.resolve_node(span, raw.node, topo, "run")?;
            let name = format!(
                "run{}: {cmd}",
                node.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
            );
            return Some((StepKind::Run { node, cmd }, name));
        }
        if let Some(cmd) = raw.daemon {
            let node = self.resolve_node(span, raw.node, topo, "daemon")?;
            let name = raw.name.clone().unwrap_or_else(|| format!("daemon{index}"));
            if name.contains('/') || name.starts_with('.') {
                self.err(
                    span.clone(),
                    format!("daemon name `{name}` is used as a file name: no `/`, no leading `.`"),
                );
                return None;
            }
            let label = format!("daemon {name}: {cmd}");
            return Some((StepKind::Daemon { node, cmd, name }, label));
        }
        if let Some(w) = raw.wait_port {
            let node = self.resolve_node(span, pick(w.node), topo, "wait_port")?;
            let name = format!("wait_port {}{}", if w.udp { "udp/" } else { "" }, w.port);
            return Some((
                StepKind::WaitPort {
                    node,
                    port: w.port,
                    udp: w.udp,
                },
                name,
            ));
        }
        if let Some(w) = raw.wait_log {
            let name = format!("wait_log {}: {}", w.daemon, w.pattern);
            return Some((
                StepKind::WaitLog {
                    daemon: w.daemon,
                    pattern: w.pattern,
                },
                name,
            ));
        }
        if let Some(p) = raw.ping {
            let from = self.resolve_node(span, pick(p.from), topo, "ping")?;
            let list = match p.to {
                StrOrList::One(s) => vec![s],
                StrOrList::Many(v) => v,
            };
            let mut to = Vec::new();
            for a in &list {
                match a.parse::<IpAddr>() {
                    Ok(ip) if crate::net::is_test_address(ip) || ip.is_loopback() => to.push(ip),
                    Ok(ip) => {
                        self.err_help(
                            span.clone(),
                            format!("step {index}: ping target {ip} is outside the test prefixes"),
                            format!("labs use only {}", crate::net::TEST_PREFIXES.join(", ")),
                        );
                        return None;
                    }
                    Err(_) => {
                        self.err(
                            span.clone(),
                            format!("step {index}: malformed address `{a}`"),
                        );
                        return None;
                    }
                }
            }
            if to.is_empty() {
                self.err(span.clone(), format!("step {index}: ping has no targets"));
                return None;
            }
            let name = format!("ping {}", list.join(" "));
            return Some((
                StepKind::Ping {
                    from,
                    to,
                    count: p.count.unwrap_or(2).max(1),
                },
                name,
            ));
        }
        if let Some(s) = raw.sysctl {
            let node = self.resolve_node(span, pick(s.node), topo, "sysctl")?;
            // The topology rule: a step must not change (or read) the host.
            if !crate::nsonly::is_netns_sysctl(&s.key) {
                self.err_help(
                    span.clone(),
                    format!(
                        "step {index}: sysctl `{}` is not a network namespace sysctl",
                        s.key.escape_debug()
                    ),
                    crate::nsonly::SYSCTL_RULE,
                );
                return None;
            }
            let value = s.value.map(|v| match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            });
            let name = match &value {
                Some(v) => format!("sysctl {}={v}", s.key),
                None => format!("sysctl {}", s.key),
            };
            return Some((
                StepKind::Sysctl {
                    node,
                    key: s.key,
                    value,
                },
                name,
            ));
        }
        if let Some(l) = raw.link {
            let node = self.need_node(span, pick(l.node), topo, "link")?;
            if !self.check_iface(span, topo, &node, &l.iface) {
                return None;
            }
            let up = match l.state.as_str() {
                "up" => true,
                "down" => false,
                other => {
                    self.err_help(
                        span.clone(),
                        format!("step {index}: link state `{other}`"),
                        "write state = \"up\" or \"down\"",
                    );
                    return None;
                }
            };
            let name = format!("link {node}:{} {}", l.iface, l.state);
            return Some((
                StepKind::Link {
                    node,
                    iface: l.iface,
                    up,
                },
                name,
            ));
        }
        if let Some(cn) = raw.counters {
            let node = self.need_node(span, pick(cn.node), topo, "counters")?;
            if !self.check_iface(span, topo, &node, &cn.iface) {
                return None;
            }
            let name = format!("counters {node}:{}", cn.iface);
            return Some((
                StepKind::Counters {
                    node,
                    iface: cn.iface,
                    save: cn.save,
                    since: cn.since,
                },
                name,
            ));
        }
        if let Some(d) = raw.sleep {
            let Some(duration) = parse_duration(&d) else {
                self.err_help(
                    span.clone(),
                    format!("step {index}: malformed duration `{d}`"),
                    "write e.g. sleep = \"100ms\"",
                );
                return None;
            };
            return Some((StepKind::Sleep { duration }, format!("sleep {d}")));
        }
        if let Some(t) = raw.traffic {
            let from = self.need_node(span, pick(t.from), topo, "traffic")?;
            let dev = match t.dev {
                Some(d) => d,
                None => match topo.and_then(|tp| tp.ifaces_of(&from).next()) {
                    Some(i) => i.name.clone(),
                    None => {
                        self.err(
                            span.clone(),
                            format!("step {index}: node `{from}` has no interface to send on"),
                        );
                        return None;
                    }
                },
            };
            if !self.check_iface(span, topo, &from, &dev) {
                return None;
            }
            let (proto, args) = match (t.udp, t.tcp) {
                (Some(a), None) => ("udp", a),
                (None, Some(a)) => ("tcp", a),
                _ => {
                    self.err_help(
                        span.clone(),
                        format!("step {index}: traffic needs exactly one of udp or tcp"),
                        "e.g. udp = \"sp=1024,dp=0-32768\"",
                    );
                    return None;
                }
            };
            // What `netrig run` would parse, parsed here with the same code.
            let dst: netrig_flow::IpRange = match t.to.parse() {
                Ok(d) => d,
                Err(e) => {
                    self.err_help(
                        span.clone(),
                        format!(
                            "step {index}: malformed traffic destination `{}`: {e}",
                            t.to
                        ),
                        "an address, a range a-b or a prefix, e.g. to = \"198.18.0.0/24\"",
                    );
                    return None;
                }
            };
            let l4 = netrig_flow::L4::default_for(if proto == "tcp" {
                netrig_flow::Proto::Tcp
            } else {
                netrig_flow::Proto::Udp
            });
            // The source is the sender's address of the destination's family.
            let src = match topo {
                None => Some(dst.first()),
                Some(tp) => tp
                    .ifaces_of(&from)
                    .find(|i| i.name == dev)
                    .and_then(|i| i.addrs.iter().find(|a| a.addr.is_ipv6() == dst.is_v6()))
                    .map(|a| a.addr),
            };
            let Some(src) = src else {
                self.err(
                    span.clone(),
                    format!(
                        "step {index}: {from}:{dev} has no {} address to send to `{}` from",
                        if dst.is_v6() { "IPv6" } else { "IPv4" },
                        t.to
                    ),
                );
                return None;
            };
            // A loss check tags the flow at run time when it has no tag.
            let tagged_by_run = raw.expect.as_ref().is_some_and(|e| e.streams.is_some());
            let flow = netrig_flow::FlowSpec::new(l4, src, dst)
                .with_args(&args)
                .map_err(|e| e.to_string())
                .and_then(|mut f| {
                    if tagged_by_run && f.tag.is_none() {
                        f.tag = Some(netrig_flow::TagSpec {
                            stream: 1,
                            ..netrig_flow::TagSpec::default()
                        });
                    }
                    f.validate().map_err(|e| e.to_string())
                });
            if let Err(e) = flow {
                self.err_help(
                    span.clone(),
                    format!("step {index}: malformed flow {proto} = \"{args}\": {e}"),
                    "keys: sp, dp, sa, da, c, pps, d, size, ttl, flags, seq, smac, dmac, tag; e.g. udp = \"sp=1024,dp=0-4095\"",
                );
                return None;
            }
            let name = format!("traffic {from} -> {} {proto} {args}", t.to);
            return Some((
                StepKind::Traffic {
                    from,
                    dev,
                    to: t.to,
                    proto: proto.into(),
                    args,
                },
                name,
            ));
        }
        if let Some(s) = raw.serve {
            let node = self.need_node(span, pick(s.node), topo, "serve")?;
            let Ok(addr) = s.addr.parse::<SocketAddr>() else {
                self.err_help(
                    span.clone(),
                    format!("step {index}: malformed address `{}`", s.addr),
                    "write e.g. \"[::]:7000\" or \"198.18.0.1:7000\"",
                );
                return None;
            };
            let name = s.name.unwrap_or_else(|| node.clone());
            let (tcp, udp) = (s.tcp.unwrap_or(true), s.udp.unwrap_or(false));
            let label = format!("serve {name} on {node} {addr}");
            return Some((
                StepKind::Serve {
                    node,
                    addr,
                    name,
                    tcp,
                    udp,
                },
                label,
            ));
        }
        if let Some(p) = raw.probe {
            let from = self.need_node(span, pick(p.from), topo, "probe")?;
            let Ok(to) = p.to.parse::<SocketAddr>() else {
                self.err_help(
                    span.clone(),
                    format!("step {index}: malformed address `{}`", p.to),
                    "write e.g. \"198.18.0.1:7000\"",
                );
                return None;
            };
            let count = p.count.unwrap_or(1).max(1);
            let rounds = p.rounds.unwrap_or(1).max(1);
            if let Some(sp) = p.src_port {
                if u32::from(sp) + count - 1 > u32::from(u16::MAX) {
                    self.err_help(
                        span.clone(),
                        format!("step {index}: source ports {sp}+{count} run past 65535"),
                        "lower src_port or count",
                    );
                    return None;
                }
            }
            let name = if rounds > 1 {
                format!("probe {from} -> {to} x{count} x{rounds} rounds")
            } else {
                format!("probe {from} -> {to} x{count}")
            };
            return Some((
                StepKind::Probe {
                    from,
                    to,
                    udp: p.udp,
                    count,
                    src_port: p.src_port,
                    rounds,
                },
                name,
            ));
        }
        if let Some(c) = raw.capture {
            let node = self.need_node(span, pick(c.node), topo, "capture")?;
            if !self.check_iface(span, topo, &node, &c.iface) {
                return None;
            }
            let name = format!("capture {node}:{}", c.iface);
            return Some((
                StepKind::Capture {
                    node,
                    iface: c.iface,
                },
                name,
            ));
        }
        if let Some(r) = raw.route {
            let node = self.need_node(span, pick(r.node.clone()), topo, "route")?;
            return self.route_step(span, index, topo, node, r);
        }
        if let Some(o) = raw.offload {
            let node = self.need_node(span, pick(o.node), topo, "offload")?;
            if !self.check_iface(span, topo, &node, &o.iface) {
                return None;
            }
            let mut parts = Vec::new();
            for (k, v) in [
                ("gro", o.gro),
                ("tso", o.tso),
                ("gso", o.gso),
                ("tx_checksum", o.tx_checksum),
            ] {
                if let Some(v) = v {
                    parts.push(format!("{k} {}", if v { "on" } else { "off" }));
                }
            }
            if parts.is_empty() {
                self.err_help(
                    span.clone(),
                    format!("step {index}: offload changes nothing"),
                    "set at least one of gro, tso, gso, tx_checksum = true/false",
                );
                return None;
            }
            let name = format!("offload {node}:{} {}", o.iface, parts.join(", "));
            return Some((
                StepKind::Offload {
                    node,
                    iface: o.iface,
                    gro: o.gro,
                    tso: o.tso,
                    gso: o.gso,
                    tx_checksum: o.tx_checksum,
                },
                name,
            ));
        }
        if let Some(f) = raw.sysfs {
            let node = self.need_node(span, pick(f.node), topo, "sysfs")?;
            let path = f.path.trim_start_matches("/sys/").to_string();
            // Only the node's own network devices: the rest of /sys is the host's.
            if let Err(why) = crate::nsonly::check_netdev_sysfs(&path) {
                let shown = f.path.escape_debug();
                let msg = match why {
                    crate::nsonly::SysfsRefusal::Malformed => {
                        format!("step {index}: malformed sysfs path `{shown}`")
                    }
                    _ => format!(
                        "step {index}: sysfs path `{shown}` is not a network device file: {why}"
                    ),
                };
                self.err_help(span.clone(), msg, crate::nsonly::SYSFS_RULE);
                return None;
            }
            let value = f.value.map(|v| match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            });
            let name = match &value {
                Some(v) => format!("sysfs {node} {path}={v}"),
                None => format!("sysfs {node} {path}"),
            };
            return Some((StepKind::Sysfs { node, path, value }, name));
        }
        None
    }

    fn route_step(
        &mut self,
        span: &Range<usize>,
        index: usize,
        topo: Option<&Topology>,
        node: String,
        r: RawRoute,
    ) -> Option<(StepKind, String)> {
        use crate::model::{Nexthop, Route};
        let dst = match crate::net::IpNet::parse(&r.to) {
            Ok(n) if !n.has_host_bits() && crate::net::is_test_prefix(&n) => n,
            Ok(n) if n.has_host_bits() => {
                self.err_help(
                    span.clone(),
                    format!(
                        "step {index}: route destination `{}` has host bits set",
                        r.to
                    ),
                    format!("write the network, {}", n.network()),
                );
                return None;
            }
            Ok(_) => {
                self.err_help(
                    span.clone(),
                    format!(
                        "step {index}: route destination `{}` is outside the test prefixes",
                        r.to
                    ),
                    format!("labs use only {}", crate::net::TEST_PREFIXES.join(", ")),
                );
                return None;
            }
            Err(_) => {
                self.err_help(
                    span.clone(),
                    format!("step {index}: malformed prefix `{}`", r.to),
                    "write e.g. to = \"198.18.0.0/24\"",
                );
                return None;
            }
        };
        // (via, dev, weight) in the given order.
        let mut hops: Vec<(Option<String>, Option<String>, u32)> = Vec::new();
        match (r.via, r.nexthops) {
            (Some(via), None) => {
                let list = match via {
                    StrOrList::One(s) => vec![s],
                    StrOrList::Many(v) => v,
                };
                let weights = r.weights.unwrap_or_else(|| vec![1; list.len()]);
                if weights.len() != list.len() {
                    self.err_help(
                        span.clone(),
                        format!(
                            "step {index}: route has {} gateways but {} weights",
                            list.len(),
                            weights.len()
                        ),
                        "give one weight per gateway, e.g. via = [\"198.51.100.2\", \"203.0.113.2\"], weights = [11, 45]",
                    );
                    return None;
                }
                hops.extend(
                    list.into_iter()
                        .zip(weights)
                        .map(|(v, w)| (Some(v), None, w)),
                );
            }
            (None, Some(nh)) if r.weights.is_none() => {
                hops.extend(
                    nh.into_iter()
                        .map(|h| (h.via, h.dev, h.weight.unwrap_or(1))),
                );
            }
            _ => {
                self.err_help(
                    span.clone(),
                    format!("step {index}: a route needs either via (with optional weights) or nexthops"),
                    "e.g. via = [\"198.51.100.2\", \"203.0.113.2\"], weights = [11, 45], or nexthops = [{ via = \"198.51.100.2\", weight = 11 }]",
                );
                return None;
            }
        }
        if hops.is_empty() {
            self.err(
                span.clone(),
                format!("step {index}: a route needs a nexthop"),
            );
            return None;
        }
        let mut nexthops = Vec::new();
        for (via, dev, weight) in hops {
            if !(1..=256).contains(&weight) {
                self.err_help(
                    span.clone(),
                    format!("step {index}: nexthop weight {weight} is outside 1..=256"),
                    "ip route accepts weights 1 to 256",
                );
                return None;
            }
            let gateway = match via.as_deref().map(str::parse::<IpAddr>) {
                None => None,
                Some(Ok(ip))
                    if ip.is_ipv4() == dst.is_ipv4()
                        && (crate::net::is_test_address(ip) || crate::net::is_link_local(ip)) =>
                {
                    Some(ip)
                }
                Some(Ok(ip)) if ip.is_ipv4() != dst.is_ipv4() => {
                    self.err(
                        span.clone(),
                        format!("step {index}: gateway {ip} is of another family than {dst}"),
                    );
                    return None;
                }
                Some(Ok(ip)) => {
                    self.err_help(
                        span.clone(),
                        format!("step {index}: gateway {ip} is outside the test prefixes"),
                        format!("labs use only {}", crate::net::TEST_PREFIXES.join(", ")),
                    );
                    return None;
                }
                Some(Err(_)) => {
                    self.err(
                        span.clone(),
                        format!(
                            "step {index}: malformed gateway `{}`",
                            via.unwrap_or_default()
                        ),
                    );
                    return None;
                }
            };
            if let Some(d) = &dev {
                if !self.check_iface(span, topo, &node, d) {
                    return None;
                }
            }
            if gateway.is_none() && dev.is_none() {
                self.err(
                    span.clone(),
                    format!("step {index}: a nexthop needs via or dev"),
                );
                return None;
            }
            nexthops.push(Nexthop {
                gateway,
                dev,
                // Checked above: 1..=256 fits.
                weight: weight as u16,
            });
        }
        let shown: Vec<String> = nexthops
            .iter()
            .map(|h| {
                let at = h
                    .gateway
                    .map(|g| g.to_string())
                    .or_else(|| h.dev.clone())
                    .unwrap_or_default();
                format!("{at} w{}", h.weight)
            })
            .collect();
        let name = format!("route {node} {dst} via {}", shown.join(", "));
        Some((
            StepKind::Route {
                route: Route {
                    node,
                    dst,
                    nexthops,
                    metric: r.metric,
                },
            },
            name,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn matrix_steps(
        &mut self,
        mx: &RawMatrix,
        span: Range<usize>,
        client: &str,
        server: &str,
        params: &[(String, toml::Value)],
        topo: Option<&Topology>,
        steps: &mut Vec<Step>,
    ) {
        let (line, _) = self.src.line_col(span.start);
        let first = topo.and_then(|t| t.nodes.first()).map(|n| n.name.clone());
        let last = topo.and_then(|t| t.nodes.last()).map(|n| n.name.clone());
        let Some(cnode) = self.resolve_node(
            &span,
            mx.client_node.clone().or(first),
            topo,
            "matrix client",
        ) else {
            return;
        };
        let Some(snode) = self.resolve_node(
            &span,
            mx.server_node.clone().or(last),
            topo,
            "matrix server",
        ) else {
            return;
        };
        let sub = |s: &str| match substitute(&toml::Value::String(s.to_string()), params) {
            toml::Value::String(s) => s,
            other => other.to_string(),
        };
        let mut push = |kind: StepKind, name: String, expect: Expect| {
            steps.push(Step {
                index: steps.len() + 1,
                name,
                line,
                kind,
                expect,
                timeout: None,
            })
        };
        push(
            StepKind::Daemon {
                node: snode.clone(),
                cmd: sub(&mx.servers[server]),
                name: "server".into(),
            },
            format!("server {server}"),
            Expect::default(),
        );
        if let Some(port) = mx.port {
            push(
                StepKind::WaitPort {
                    node: snode,
                    port,
                    udp: false,
                },
                format!("wait_port {port}"),
                Expect::default(),
            );
        }
        push(
            StepKind::Run {
                node: cnode,
                cmd: sub(&mx.clients[client]),
            },
            format!("client {client}"),
            Expect {
                exit: Some(0),
                ..Expect::default()
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, String> {
        parse_scenario(Path::new("t.toml"), text).map_err(|e| match e {
            crate::LoadError::Invalid(errs) => errs
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        })
    }

    const LAB: &str = "[nodes.a]\n[nodes.b]\n[[links]]\nends = [\"a:eth0 192.0.2.1/24\", \"b:eth0 192.0.2.2/24\"]\n";

    #[test]
    fn variants_expand_with_readable_names() {
        let s = parse(&format!(
            "name = \"v\"\nvariants = {{ family = [\"ipv4\", \"ipv6\"], weights = [[1,1],[2,1]] }}\n{LAB}\n[[steps]]\nnode = \"a\"\nrun = \"echo {{family}} {{weights}}\"\n"
        ))
        .unwrap();
        let names: Vec<_> = s.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "v[family=ipv4,weights=1:1]",
                "v[family=ipv4,weights=2:1]",
                "v[family=ipv6,weights=1:1]",
                "v[family=ipv6,weights=2:1]"
            ]
        );
        match &s.cases[1].steps[0].kind {
            StepKind::Run { cmd, .. } => assert_eq!(cmd, "echo ipv4 2:1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_substitution_of_whole_strings() {
        let s = parse(&format!(
            "name = \"w\"\nvariants = {{ w = [[11, 45]] }}\n{LAB}\n[[steps]]\ntraffic = {{ from = \"a\", to = \"192.0.2.2\", udp = \"dp=1-100\" }}\nexpect.split = {{ over = [\"b:eth0\", \"a:eth0\"], weights = \"{{w}}\" }}\n"
        ))
        .unwrap();
        assert_eq!(
            s.cases[0].steps[0].expect.split.as_ref().unwrap().weights,
            vec![11, 45]
        );
    }

    #[test]
    fn matrix_pairs_every_client_with_every_server() {
        let s = parse(&format!(
            "name = \"m\"\n{LAB}\n[matrix]\nclient_node = \"a\"\nserver_node = \"b\"\nport = 7\nclients = {{ c1 = \"x\", c2 = \"y\" }}\nservers = {{ s1 = \"z\", s2 = \"w\" }}\n"
        ))
        .unwrap();
        let names: Vec<_> = s.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["m[c1_x_s1]", "m[c1_x_s2]", "m[c2_x_s1]", "m[c2_x_s2]"]
        );
        assert_eq!(s.cases[0].steps.len(), 3);
    }

    #[test]
    fn errors_point_at_the_step_key() {
        let e = parse(&format!("{LAB}\n[[steps]]\nnode = \"a\"\nrnu = \"true\"\n")).unwrap_err();
        assert!(
            e.contains("t.toml:8:1") && e.contains("unknown field `rnu`"),
            "{e}"
        );
        let e = parse(&format!("{LAB}\n[[steps]]\nrun = \"true\"\n")).unwrap_err();
        assert!(e.contains("needs a node"), "{e}");
        let e = parse(&format!(
            "{LAB}\n[[steps]]\nnode = \"zz\"\nrun = \"true\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("unknown node `zz`"), "{e}");
        let e = parse(&format!(
            "{LAB}\n[[steps]]\nnode = \"a\"\nrun = \"true\"\nexpect.reachable = true\n"
        ))
        .unwrap_err();
        assert!(e.contains("does not apply to a `run` step"), "{e}");
        let e = parse(&format!(
            "timeout = \"soon\"\n{LAB}\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("t.toml:1:11") && e.contains("malformed timeout"),
            "{e}"
        );
    }

    #[test]
    fn table_variants_route_steps_and_named_failures() {
        let s = parse(&format!(
            "name = \"t\"\nvariants = {{ fam = [{{ name = \"v4\", net = \"198.18.0.0/24\", gw = [\"192.0.2.2\", \"192.0.2.3\"] }}], w = [[2, 1]] }}\n{LAB}\n[[steps]]\nroute = {{ node = \"a\", to = \"{{fam.net}}\", via = \"{{fam.gw}}\", weights = \"{{w}}\" }}\n[[steps]]\ntraffic = {{ from = \"a\", to = \"192.0.2.2\", udp = \"dp=1-10\" }}\nexpect.split = {{ over = [\"a:eth0\", \"b:eth0\"], weights = \"{{w}}\" }}\nexpect.fail = \"split\"\n"
        ))
        .unwrap();
        assert_eq!(s.cases[0].name, "t[fam=v4,w=2:1]");
        match &s.cases[0].steps[0].kind {
            StepKind::Route { route } => {
                assert_eq!(route.dst.to_string(), "198.18.0.0/24");
                let w: Vec<u16> = route.nexthops.iter().map(|h| h.weight).collect();
                assert_eq!(w, [2, 1]);
            }
            other => panic!("{other:?}"),
        }
        let f = s.cases[0].steps[1].expect.fail.clone().unwrap();
        assert_eq!(f.checks(), ["split"]);
        let e = parse(&format!(
            "{LAB}\n[[steps]]\ntraffic = {{ from = \"a\", to = \"192.0.2.2\", udp = \"dp=1-10\" }}\nexpect.fail = \"exit\"\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("cannot fail by") && e.contains("t.toml:6:1"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("6.18.44-fc-v595"), Some(vec![6, 18, 44]));
        assert_eq!(parse_version("5.10"), Some(vec![5, 10]));
        assert_eq!(parse_version("x"), None);
    }
}
