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
//! `{scenario_dir}` in a step is the scenario file's folder (where steps
//! run), `[views.NODE]` (`files`, `tmpfs`: more of a node's own files, as
//! a topology's node takes them, relative to the scenario), `[matrix]` (`clients`/`servers` tables of name = command, `client_node`,
//! `server_node`, `port`; cases `name[client_x_server]`, `{client}`/`{server}`
//! substituted), `xfail = "reason"`, `tags`, and `[[steps]]`; `[[on_fail]]`
//! steps run when the case did not pass (to collect state, without changing
//! its verdict) and `[[finally]]` steps always run last.
//!
//! Each step has exactly one action, plus optional `name`, `node`, `timeout`
//! and `expect`. The step kinds, each defined in its own module with its
//! reference line, are in [`crate::steps`] (`netrig run --help` and the
//! README print the table generated from them); the expectations in
//! [`crate::expect`].
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
//! See [`crate::steps`]: a module there and one line in its registry.

pub use crate::expect::{
    Check, Expect, FailExpect, IfacePath, RatioExpect, SplitExpect, StreamsExpect, COUNTERS,
};
pub use crate::steps::StepKind;

use crate::error::{Checker, Source, SpecErrors};
use crate::model::Topology;
use crate::steps;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// `[[on_fail]]`: run after the steps when the case did not pass (collect
    /// state); they do not change its verdict.
    pub on_fail: Vec<Step>,
    /// `[[finally]]`: run last, whatever happened.
    pub finally: Vec<Step>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1-based position in the case.
    pub index: usize,
    /// Given by `name =`, or derived from the action (`run h1: ip route`).
    pub name: String,
    /// Line of the step in the scenario file.
    pub line: usize,
    /// Where the step is written (in the included file, for an included step).
    pub at: Location,
    /// Where each of its `expect` keys is written (`split`, `json`, `fail`,
    /// ...), so that a failure points at the check that failed.
    pub expect_at: Vec<(String, Location)>,
    pub kind: StepKind,
    pub expect: Expect,
    /// Bound for this step's own waiting (wait_port, wait_log, run). The
    /// scenario timeout, owned by the runner, still applies on top.
    pub timeout: Option<Duration>,
}

/// Where something is written: `file:line:col` (1-based; the column in
/// characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

impl Step {
    /// Where the `expect` key `key` of this step is written, if it is.
    pub fn expect_key_at(&self, key: &str) -> Option<&Location> {
        self.expect_at
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, at)| at)
    }
}

/// Parse `30s`, `500ms`, `100us`, `2m`, `1.5s`, `1h`: the flow notation's
/// parser (one for all of netrig), except that a scenario must say its unit.
/// How deep includes may nest: enough for a shared block that includes
/// another, not for a file that includes itself.
const MAX_INCLUDE_DEPTH: usize = 4;

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
    #[serde(default)]
    on_fail: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    finally: Vec<Spanned<toml::Value>>,
    variants: Option<Spanned<RawVariants>>,
    matrix: Option<Spanned<toml::Value>>,
    xfail: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    /// `[views.NODE]`: files and tmpfs this scenario adds to a node.
    #[serde(default)]
    views: BTreeMap<Spanned<String>, crate::parse::RawView>,
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
    let raw: RawScenario = toml::from_str(text).map_err(|e| SpecErrors {
        errors: vec![crate::parse::toml_error(&src, text, &e)],
    })?;
    let mut c = Checker::new(src.clone());

    // The topology: referenced or embedded, never both.
    let embedded = raw.nodes.is_some()
        || raw.links.is_some()
        || raw.lans.is_some()
        || raw.routes.is_some()
        || raw.neighbors.is_some();
    let mut topology_unreadable = false;
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
                    topology_unreadable = true;
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

    let mut topology = topology;
    c.add_views(&raw.views, topology.as_mut());

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

    // Steps name the nodes and interfaces of the topology: without it each
    // would be an error of its own, hiding the one that matters.
    if topology_unreadable {
        return Err(SpecErrors { errors: c.errors }.into());
    }

    let scenario_dir = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
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
            // `{scenario_dir}`: the folder steps run in, for paths given to
            // tools that start elsewhere.
            let mut step_params = params.clone();
            step_params.push((
                "scenario_dir".into(),
                toml::Value::String(scenario_dir.display().to_string()),
            ));
            let topo = topology.as_ref();
            // Numbered on from the steps before: each has its own log name.
            let (mut steps, mut spans) = c.parse_steps(&raw.steps, &step_params, 1, topo);
            let (on_fail, fail_spans) =
                c.parse_steps(&raw.on_fail, &step_params, steps.len() + 1, topo);
            let (finally, final_spans) = c.parse_steps(
                &raw.finally,
                &step_params,
                steps.len() + on_fail.len() + 1,
                topo,
            );
            // Once per file: every case has the same steps, give or take
            // substituted values.
            if cases.is_empty() {
                let all: Vec<Step> = steps
                    .iter()
                    .chain(&on_fail)
                    .chain(&finally)
                    .cloned()
                    .collect();
                spans.extend(fail_spans);
                spans.extend(final_spans);
                c.step_references(&all, &spans, topo);
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
                on_fail,
                finally,
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

impl Checker {
    /// `[views.NODE]`: more `files` and `tmpfs` for a node of the topology,
    /// relative to the scenario, checked as a topology's own are.
    fn add_views(
        &mut self,
        views: &BTreeMap<Spanned<String>, crate::parse::RawView>,
        topo: Option<&mut Topology>,
    ) {
        let Some(topo) = topo else {
            if let Some((node, _)) = views.iter().next() {
                self.err_help(
                    node.span(),
                    format!("[views.{}] but this scenario has no topology", node.get_ref()),
                    "views add files to a topology's nodes: set topology = \"file.toml\" or embed [nodes.*]",
                );
            }
            return;
        };
        for (node, view) in views {
            let Some(i) = topo.nodes.iter().position(|n| &n.name == node.get_ref()) else {
                let known: Vec<_> = topo.nodes.iter().map(|n| n.name.as_str()).collect();
                self.err_help(
                    node.span(),
                    format!("[views.{}]: unknown node", node.get_ref()),
                    format!("known nodes: {}", known.join(", ")),
                );
                continue;
            };
            let have = topo.nodes[i].mounts.clone();
            let mut more = self.check_mounts(&view.files, &view.tmpfs, &have);
            let mounts = &mut topo.nodes[i].mounts;
            mounts.append(&mut more);
            // Parents first, as a topology's own (see check_mounts).
            mounts.sort_by_key(|m| m.target.components().count());
        }
    }

    fn location(&self, offset: usize) -> Location {
        let (line, col) = self.src.line_col(offset);
        Location {
            file: self.src.name.clone(),
            line,
            col,
        }
    }

    /// The `expect` keys of the step whose table starts at `step_start`,
    /// with their spans. The file is read for them once, in the shape of
    /// step lists only, so that a key is found however it is written
    /// (`expect.split = ...`, `expect = { split = ... }`, `[steps.expect]`).
    fn expect_key_spans(&self, step_start: usize) -> Vec<(String, Range<usize>)> {
        #[derive(Deserialize)]
        struct StepKeys {
            expect: Option<BTreeMap<Spanned<String>, serde::de::IgnoredAny>>,
        }
        #[derive(Deserialize)]
        struct Lists {
            #[serde(default)]
            steps: Vec<Spanned<StepKeys>>,
            #[serde(default)]
            on_fail: Vec<Spanned<StepKeys>>,
            #[serde(default)]
            finally: Vec<Spanned<StepKeys>>,
            #[serde(default)]
            shared_steps: Vec<Spanned<StepKeys>>,
        }
        let keys = self.expect_keys.get_or_init(|| {
            // A file that does not read in this shape has errors of its own.
            let Ok(l) = toml::from_str::<Lists>(&self.src.text) else {
                return Default::default();
            };
            [l.steps, l.on_fail, l.finally, l.shared_steps]
                .into_iter()
                .flatten()
                .map(|s| {
                    let start = s.span().start;
                    let keys = s
                        .into_inner()
                        .expect
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| {
                            let span = k.span();
                            (k.into_inner(), span)
                        })
                        .collect();
                    (start, keys)
                })
                .collect()
        });
        keys.get(&step_start).cloned().unwrap_or_default()
    }

    /// Point at a key inside a step when serde names one, else at the step.
    pub(crate) fn key_span(&self, span: &Range<usize>, msg: &str) -> Range<usize> {
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

    /// Point at `key` written inside a step (its first occurrence), else at
    /// the step.
    pub(crate) fn find_in_step(&self, span: &Range<usize>, key: &str) -> Range<usize> {
        self.key_span(span, &format!("unknown field `{key}`"))
    }

    pub(crate) fn resolve_node(
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

    pub(crate) fn check_iface(
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

    /// Parse a list of step tables, numbering them from `first`.
    fn parse_steps(
        &mut self,
        raws: &[Spanned<toml::Value>],
        params: &[(String, toml::Value)],
        first: usize,
        topo: Option<&Topology>,
    ) -> (Vec<Step>, Vec<Range<usize>>) {
        self.parse_steps_in(raws, params, first, topo, 0)
    }

    fn parse_steps_in(
        &mut self,
        raws: &[Spanned<toml::Value>],
        params: &[(String, toml::Value)],
        first: usize,
        topo: Option<&Topology>,
        depth: usize,
    ) -> (Vec<Step>, Vec<Range<usize>>) {
        let (mut steps, mut spans) = (Vec::new(), Vec::new());
        // Numbered as written: a step refused does not renumber the next.
        let mut next = first;
        for raw_step in raws {
            if raw_step.get_ref().get("include").is_some() {
                let span = raw_step.span();
                let (line, _) = self.src.line_col(span.start);
                let (inc, _) = self.include(raw_step, params, next, topo, depth);
                next += inc.len();
                // Later checks (daemon names, say) point at the include line.
                spans.extend(inc.iter().map(|_| span.clone()));
                steps.extend(inc.into_iter().map(|st| Step { line, ..st }));
                continue;
            }
            let value = substitute(raw_step.get_ref(), params);
            let (span, index) = (raw_step.span(), next);
            next += 1;
            if let Some(p) = self.parse_step(&value, span.clone(), index, topo) {
                let (line, _) = self.src.line_col(span.start);
                let name = value.get("name").and_then(|n| n.as_str());
                let expect_at = self
                    .expect_key_spans(span.start)
                    .into_iter()
                    .map(|(k, r)| (k, self.location(r.start)))
                    .collect();
                steps.push(Step {
                    index,
                    name: name.map(str::to_string).unwrap_or(p.auto_name),
                    line,
                    at: self.location(span.start),
                    expect_at,
                    kind: p.kind,
                    expect: p.expect,
                    timeout: p.timeout,
                });
                spans.push(span);
            }
        }
        (steps, spans)
    }

    /// `{ include = "start.toml" }`: the `[[shared_steps]]` of another file
    /// (a start block written once), relative to this file's folder, parsed
    /// with this case's placeholders; its errors point into that file. Not
    /// `[[steps]]`, so that a suite folder does not run it as a scenario.
    fn include(
        &mut self,
        raw: &Spanned<toml::Value>,
        params: &[(String, toml::Value)],
        first: usize,
        topo: Option<&Topology>,
        depth: usize,
    ) -> (Vec<Step>, Vec<Range<usize>>) {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawInclude {
            include: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawSteps {
            #[serde(default)]
            shared_steps: Vec<Spanned<toml::Value>>,
        }
        let span = raw.span();
        let help = "a step `{ include = \"file.toml\" }` takes the [[shared_steps]] of that file, relative to this one";
        let file = match RawInclude::deserialize(raw.get_ref().clone()) {
            Ok(r) if r.include.ends_with(".toml") => r.include,
            Ok(r) => {
                let at = self.key_span(&span, "unknown field `include`");
                self.err_help(
                    at,
                    format!("include `{}` is not a .toml file", r.include),
                    help,
                );
                return Default::default();
            }
            Err(e) => {
                let at = self.key_span(&span, &e.to_string());
                self.err_help(at, format!("include: {}", e.message()), help);
                return Default::default();
            }
        };
        if depth >= MAX_INCLUDE_DEPTH {
            self.err_help(
                span,
                format!("includes nest deeper than {MAX_INCLUDE_DEPTH} (an include of itself?)"),
                help,
            );
            return Default::default();
        }
        let path = self.src.folder().join(&file);
        let text = match crate::files::read_spec_file(&path) {
            Ok(t) => t,
            Err(e) => {
                self.err_help(
                    span,
                    format!("cannot read include {}: {e}", path.display()),
                    help,
                );
                return Default::default();
            }
        };
        let mut inner_checker =
            Checker::new(Source::new(path.display().to_string(), text.as_str()));
        let out = match toml::from_str::<RawSteps>(&text) {
            Ok(r) => inner_checker.parse_steps_in(&r.shared_steps, params, first, topo, depth + 1),
            Err(e) => {
                let err = crate::parse::toml_error(&inner_checker.src, &text, &e);
                inner_checker.errors.push(err);
                Default::default()
            }
        };
        self.errors.append(&mut inner_checker.errors);
        out
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
        let at = self.location(span.start);
        let mut push = |kind: StepKind, name: String, expect: Expect| {
            steps.push(Step {
                index: steps.len() + 1,
                name,
                line,
                at: at.clone(),
                expect_at: Vec::new(),
                kind,
                expect,
                timeout: None,
            })
        };
        push(
            StepKind::Daemon(steps::daemon::Daemon {
                node: snode.clone(),
                cmd: sub(&mx.servers[server]),
                name: "server".into(),
                may_exit: false,
            }),
            format!("server {server}"),
            Expect::default(),
        );
        if let Some(port) = mx.port {
            push(
                StepKind::WaitPort(steps::wait_port::WaitPort {
                    node: snode,
                    port,
                    udp: false,
                }),
                format!("wait_port {port}"),
                Expect::default(),
            );
        }
        push(
            StepKind::Run(steps::run::Run {
                node: cnode,
                cmd: sub(&mx.clients[client]),
            }),
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

    /// Every scenario key is accepted beside an embedded topology (whose
    /// parser reads the same text).
    #[test]
    fn an_embedded_topology_takes_every_scenario_key() {
        let s = parse(&format!(
            "name = \"all\"\n{LAB}\n[views.a]\ntmpfs = [\"/tmp\"]\n[[steps]]\nnode = \"a\"\nrun = \"true\"\n[[on_fail]]\nnode = \"a\"\nrun = \"true\"\n[[finally]]\nnode = \"b\"\nrun = \"true\"\n"
        ))
        .unwrap();
        assert_eq!((s.cases[0].on_fail.len(), s.cases[0].finally.len()), (1, 1));
        let a = s.topology.as_ref().and_then(|t| t.node("a")).expect("a");
        assert_eq!(a.mounts[0].target, Path::new("/tmp"));
    }

    /// Each step knows where its `expect` keys are written, however they
    /// are written, in steps, on_fail and finally alike; and where it is.
    /// A refused step keeps its number, so the next error names the step
    /// the user counts to, not one less.
    #[test]
    fn steps_are_numbered_as_written_when_one_is_refused() {
        let err = parse("name = \"n\"\n[[steps]]\nbogus = 1\n[[steps]]\nrun = \"true\"\nzz = 2\n")
            .expect_err("two bad steps");
        assert!(err.contains("step 1: unknown field `bogus`"), "{err}");
        assert!(err.contains("step 2: unknown field `zz`"), "{err}");
    }

    #[test]
    fn steps_know_where_their_checks_are() {
        let s = parse(concat!(
            "name = \"at\"\n",
            "[[steps]]\n", // 2
            "run = \"echo x\"\n",
            "expect.stdout = \"x\"\n", // 4
            "expect.exit = 0\n",       // 5
            "[[steps]]\n",             // 6
            "run = \"true\"\n",
            "expect = { stderr = \"e\", fail = true }\n", // 8
            "[[steps]]\n",                                // 9
            "run = \"true\"\n",
            "[steps.expect]\n",
            "json = [{ path = \"/a\", equals = 1 }]\n", // 12
            "[[finally]]\n",                            // 13
            "run = \"true\"\n",
            "  expect.stdout_not = \"y\"\n", // 15
        ))
        .unwrap();
        let c = &s.cases[0];
        let at = |st: &Step| -> Vec<String> {
            st.expect_at
                .iter()
                .map(|(k, l)| format!("{k}@{l}"))
                .collect()
        };
        assert_eq!(at(&c.steps[0]), ["exit@t.toml:5:8", "stdout@t.toml:4:8"]);
        assert_eq!(at(&c.steps[1]), ["fail@t.toml:8:26", "stderr@t.toml:8:12"]);
        assert_eq!(at(&c.steps[2]), ["json@t.toml:12:1"]);
        assert_eq!(at(&c.finally[0]), ["stdout_not@t.toml:15:10"]);
        assert_eq!(c.steps[1].at.to_string(), "t.toml:6:1");
        assert_eq!(c.steps[0].expect_key_at("stdout").map(|l| l.line), Some(4));
        assert!(c.steps[0].expect_key_at("json").is_none());
    }

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
            StepKind::Run(r) => assert_eq!(r.cmd, "echo ipv4 2:1"),
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
            StepKind::Route(steps::route::Route { route }) => {
                assert_eq!(route.dst.to_string(), "198.18.0.0/24");
                let w: Vec<u16> = route.nexthops.iter().map(|h| h.weight).collect();
                assert_eq!(w, [2, 1]);
            }
            other => panic!("{other:?}"),
        }
        let f = s.cases[0].steps[1].expect.fail.clone().unwrap();
        assert_eq!(f.checks(), [Check::Split]);
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
