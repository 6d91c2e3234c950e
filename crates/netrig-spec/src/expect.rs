//! Expectations: the `expect` table of a step, the checks it names, and their
//! validation. One table type ([`Expect`]) serves every step kind, so the
//! runner can carry it generically; which checks a kind accepts is declared
//! by the kind itself (`StepDef::CHECKS` in [`crate::steps`]).
//!
//! # Adding an expectation
//!
//! A field of [`Expect`], a [`Check`] variant (with its documentation line),
//! a line in [`Expect::given`], its validation in `validate` if it has
//! structure, and the step kinds that accept it list it in their `CHECKS`.
//! The runner judges it in that kind's execution module.

use crate::steps::StepCx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A check a step can fail by: an `expect` key, or a kind's default check
/// (`exit` for `run`, `reachable` for `ping`, `answered` for `probe`).
/// `expect.fail` names these, and failed steps report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    Exit,
    Stdout,
    StdoutNot,
    Stderr,
    Reachable,
    Value,
    Min,
    Max,
    Split,
    Affinity,
    Received,
    Answered,
    Resets,
    Streams,
    Ratio,
    Json,
    Packets,
}

impl Check {
    pub const ALL: &'static [Check] = &[
        Check::Exit,
        Check::Stdout,
        Check::StdoutNot,
        Check::Stderr,
        Check::Reachable,
        Check::Value,
        Check::Min,
        Check::Max,
        Check::Split,
        Check::Affinity,
        Check::Received,
        Check::Answered,
        Check::Resets,
        Check::Streams,
        Check::Ratio,
        Check::Json,
        Check::Packets,
    ];

    /// The `expect` key (and the name `expect.fail` and reports use).
    pub fn name(self) -> &'static str {
        match self {
            Check::Exit => "exit",
            Check::Stdout => "stdout",
            Check::StdoutNot => "stdout_not",
            Check::Stderr => "stderr",
            Check::Reachable => "reachable",
            Check::Value => "value",
            Check::Min => "min",
            Check::Max => "max",
            Check::Split => "split",
            Check::Affinity => "affinity",
            Check::Received => "received",
            Check::Answered => "answered",
            Check::Resets => "resets",
            Check::Streams => "streams",
            Check::Ratio => "ratio",
            Check::Json => "json",
            Check::Packets => "packets",
        }
    }

    /// How the key is written, for the reference table.
    pub fn doc(self) -> &'static str {
        match self {
            Check::Exit => "`exit` (default 0)",
            Check::Stdout => "`stdout` (substrings)",
            Check::StdoutNot => "`stdout_not`",
            Check::Stderr => "`stderr`",
            Check::Reachable => "`reachable` (default true)",
            Check::Value => "`value`",
            Check::Min => "`min` (e.g. `{ rx_packets = 3 }`)",
            Check::Max => "`max`",
            Check::Split => "`split = { over = [paths], weights = [..] }`",
            Check::Affinity => "`affinity = [paths]`",
            Check::Received => "`received = { \"h2:eth0\" = n }`",
            Check::Answered => "`answered` (default all)",
            Check::Resets => "`resets` (at most)",
            Check::Streams => {
                "`streams = { over = [paths], lost, duplicated, reordered, misrouted }`"
            }
            Check::Ratio => "`ratio = { tracepoint, per = [paths], counter, min, max }`",
            Check::Json => {
                "`json = [{ path = \"/a/0/b\", equals / len / contains / min / max }]` (stdout as JSON; path a JSON Pointer)"
            }
            Check::Packets => {
                "`packets = [{ at = \"h2:eth0\", match = \"eth() / ipv4(ttl=63)\", count / min, only }, { at, each = \"eth(src=*, dst=*) / ipv4(ttl=-1) / udp() / raw()\" }]` (frame patterns; see \"Checking what arrives\")"
            }
        }
    }

    pub fn parse(s: &str) -> Option<Check> {
        Check::ALL.iter().copied().find(|c| c.name() == s)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Check, D::Error> {
        let s = String::deserialize(d)?;
        Check::parse(&s).ok_or_else(|| {
            let all: Vec<_> = Check::ALL.iter().map(|c| c.name()).collect();
            serde::de::Error::custom(format!("unknown check `{s}` (checks: {})", all.join(", ")))
        })
    }
}

/// An interface of a lab node, written `node:iface`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct IfacePath {
    pub node: String,
    pub iface: String,
}

impl IfacePath {
    pub fn new(node: impl Into<String>, iface: impl Into<String>) -> IfacePath {
        IfacePath {
            node: node.into(),
            iface: iface.into(),
        }
    }

    /// `node:iface`, both parts non-empty.
    pub fn parse(s: &str) -> Result<IfacePath, String> {
        match s.split_once(':') {
            Some((n, i)) if !n.is_empty() && !i.is_empty() => Ok(IfacePath::new(n, i)),
            _ => Err(format!("`{s}` is not node:iface")),
        }
    }
}

impl fmt::Display for IfacePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.iface)
    }
}

impl From<IfacePath> for String {
    fn from(p: IfacePath) -> String {
        p.to_string()
    }
}

/// Expectations on a step's result. Which keys apply depends on the step kind;
/// absent keys mean the kind's default check (a `run` must exit 0, a `ping`
/// must be answered).
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
    /// sysctl, sysfs: the value read back.
    pub value: Option<String>,
    /// counters: lower bounds, e.g. `{ tx_packets = 100 }`.
    pub min: Option<BTreeMap<String, u64>>,
    /// counters: upper bounds.
    pub max: Option<BTreeMap<String, u64>>,
    /// traffic/probe: flows (traffic) or answers (probe) split over paths by weight.
    pub split: Option<SplitExpect>,
    /// traffic/probe: every flow stays on one of these paths (or servers).
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
    /// run, retry: stdout parsed as JSON, checked at JSON Pointer paths.
    pub json: Option<Vec<JsonExpect>>,
    /// send, replay: captured frames checked against frame patterns.
    pub packets: Option<Vec<PacketsExpect>>,
    /// Marks an expected failure of this step: the case becomes xfail.
    pub fail: Option<FailExpect>,
}

/// One check of `expect.json`: the value at `path` (a JSON Pointer, RFC
/// 6901: `/routes/198.18.0.0~124/0/nexthops`, `~1` for `/`) must equal a
/// value, have a length (array, object or string), contain a string or an
/// element, or be a number within bounds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonExpect {
    pub path: String,
    pub equals: Option<toml::Value>,
    pub len: Option<u64>,
    pub contains: Option<toml::Value>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// One entry of `expect.packets`: frames captured at `at` (`node:iface`,
/// both directions) checked against a pattern in the frame notation
/// ([`netrig_flow::frame::FramePattern`]).
///
/// - `match` with `count` (exactly) or `min` (at least; the default is 1):
///   how many captured frames match the pattern;
/// - `each`: every frame the step sent arrives at `at` as the transform
///   pattern describes it, paired with the sent frame by payload;
/// - `only`: besides, no interface of the topology other than the `at`s of
///   the step's `packets` receives a frame that matches (for `each`: that
///   has its shape, changes being don't-care).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PacketsExpect {
    pub at: String,
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    pub each: Option<String>,
    pub count: Option<u64>,
    pub min: Option<u64>,
    #[serde(default)]
    pub only: bool,
}

/// Most frames a step may send with an `each` expectation: each one is
/// paired with what came out, and reported one by one.
pub const MAX_EACH: u64 = 10_000;

impl PacketsExpect {
    /// The parsed pattern: `match`'s, or `each`'s transform pattern.
    pub fn parsed(
        &self,
    ) -> Result<netrig_flow::frame::FramePattern, netrig_flow::frame::FrameParseError> {
        use netrig_flow::frame::FramePattern;
        match (&self.pattern, &self.each) {
            (Some(p), _) => FramePattern::parse(p),
            (None, Some(e)) => FramePattern::parse_each(e),
            (None, None) => FramePattern::parse(""),
        }
    }

    /// Fewest and most matching frames `match` allows; `None` for `each`.
    pub fn bounds(&self) -> Option<(u64, Option<u64>)> {
        if self.each.is_some() {
            return None;
        }
        Some(match (self.count, self.min) {
            (Some(c), _) => (c, Some(c)),
            (None, Some(m)) => (m, None),
            (None, None) => (1, None),
        })
    }
}

impl Expect {
    /// The checks this table sets (`fail` is not a check).
    pub fn given(&self) -> Vec<Check> {
        [
            (self.exit.is_some(), Check::Exit),
            (!self.stdout.is_empty(), Check::Stdout),
            (!self.stdout_not.is_empty(), Check::StdoutNot),
            (!self.stderr.is_empty(), Check::Stderr),
            (self.reachable.is_some(), Check::Reachable),
            (self.value.is_some(), Check::Value),
            (self.min.is_some(), Check::Min),
            (self.max.is_some(), Check::Max),
            (self.split.is_some(), Check::Split),
            (self.affinity.is_some(), Check::Affinity),
            (self.received.is_some(), Check::Received),
            (self.answered.is_some(), Check::Answered),
            (self.resets.is_some(), Check::Resets),
            (self.streams.is_some(), Check::Streams),
            (self.ratio.is_some(), Check::Ratio),
            (self.json.is_some(), Check::Json),
            (self.packets.is_some(), Check::Packets),
        ]
        .into_iter()
        .filter_map(|(on, c)| on.then_some(c))
        .collect()
    }
}

/// `expect.fail`: `true` (any failure), or the checks that must fail.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum FailExpect {
    Any(bool),
    Checks(Vec<Check>),
}

impl<'de> Deserialize<'de> for FailExpect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FailExpect, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Any(bool),
            One(String),
            Many(Vec<String>),
        }
        let names = match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expect.fail takes true, a check name or a list of them (e.g. fail = \"split\")",
            )
        })? {
            Raw::Any(b) => return Ok(FailExpect::Any(b)),
            Raw::One(s) => vec![s],
            Raw::Many(v) => v,
        };
        let mut checks = Vec::new();
        for n in names {
            checks.push(Check::deserialize(serde::de::value::StrDeserializer::<
                D::Error,
            >::new(&n))?);
        }
        Ok(FailExpect::Checks(checks))
    }
}

impl FailExpect {
    /// Is a failure expected at all (`fail = false` means no)?
    pub fn expected(&self) -> bool {
        !matches!(self, FailExpect::Any(false))
    }

    /// The checks whose failure is expected; empty means any.
    pub fn checks(&self) -> &[Check] {
        match self {
            FailExpect::Any(_) => &[],
            FailExpect::Checks(v) => v,
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

/// What an impaired link did with the frames an end sent (`counters` on an
/// end of an impaired link): sent into the link, delivered, lost (loss
/// model), dropped by the queue limit, duplicated, reordered, corrupted,
/// delayed.
pub const IMPAIR_COUNTERS: &[&str] = &[
    "impair_sent",
    "impair_delivered",
    "impair_lost",
    "impair_queue_dropped",
    "impair_duplicated",
    "impair_reordered",
    "impair_corrupted",
    "impair_delayed",
];

/// Interface counters `counters` steps bound (`min`, `max`) and
/// `expect.ratio` divides by.
pub const COUNTERS: &[&str] = &[
    "rx_packets",
    "tx_packets",
    "rx_bytes",
    "tx_bytes",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
    "multicast",
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

/// One `expect.packets` entry: one of `match`/`each`, bounds that fit it,
/// and a pattern that parses (errors at the pattern's own column).
fn validate_packets(cx: &mut StepCx<'_>, p: &PacketsExpect) -> Option<()> {
    let index = cx.index;
    match IfacePath::parse(&p.at) {
        Ok(at) => cx.lab_iface(Some(at.node), &at.iface, "expect.packets at")?,
        Err(why) => {
            return cx.err_help(
                format!("step {index}: expect.packets at: {why}"),
                "e.g. at = \"r1:eth1\"",
            )
        }
    };
    const HELP: &str = "e.g. packets = [{ at = \"h2:eth0\", match = \"eth() / ipv4(ttl=63) / udp(dport=9)\", count = 10 }] or { at = \"h2:eth0\", each = \"eth(src=*, dst=*) / ipv4(ttl=-1) / udp() / raw()\" }";
    let text = match (&p.pattern, &p.each) {
        (Some(t), None) | (None, Some(t)) => t,
        _ => {
            return cx.err_help(
                format!(
                    "step {index}: expect.packets at `{}` needs one of `match` (a pattern) or `each` (a transform of every frame sent)",
                    p.at
                ),
                HELP,
            )
        }
    };
    if p.each.is_some() && (p.count.is_some() || p.min.is_some()) {
        return cx.err_help(
            format!(
                "step {index}: expect.packets at `{}`: `each` checks every frame sent; count and min are for `match`",
                p.at
            ),
            HELP,
        );
    }
    if p.count.is_some() && p.min.is_some() {
        return cx.err_help(
            format!(
                "step {index}: expect.packets at `{}` has both count (exactly) and min (at least)",
                p.at
            ),
            HELP,
        );
    }
    if let Err(e) = p.parsed() {
        let what = if p.each.is_some() { "each" } else { "match" };
        return cx.err_in_value(
            text,
            e.span.clone(),
            format!("step {index}: malformed expect.packets {what} pattern: {e}"),
            "a pattern in the frame notation of `send`: fields left out are don't-care, `*` any value, ranges as in frames; `each` also takes changes like ttl=-1",
        );
    }
    Some(())
}

/// The `each` expectations of a step that sends `count` frames, `frames`
/// being the different ones: at most [`MAX_EACH`] frames, and every
/// transform applies to every frame (a change needs a sent layer to change,
/// and a result in range), as `netrig run` will apply them.
pub(crate) fn check_each(
    cx: &mut StepCx<'_>,
    count: u64,
    frames: impl Iterator<Item = netrig_flow::frame::Frame>,
) -> Option<()> {
    let index = cx.index;
    let each: Vec<(String, netrig_flow::frame::FramePattern)> = cx
        .expect
        .packets
        .iter()
        .flatten()
        .filter_map(|p| Some((p.each.clone()?, p.parsed().ok()?)))
        .collect();
    if each.is_empty() {
        return Some(());
    }
    if count > MAX_EACH {
        return cx.err_help(
            format!(
                "step {index}: expect.packets `each` pairs every frame sent with what came out; this step sends {count}, more than {MAX_EACH}"
            ),
            "send fewer frames, or count matches with `match` and `count`",
        );
    }
    for f in frames {
        // As the runner sees it: the frame's bytes decoded.
        let f = netrig_flow::frame::Frame::decode(&f.build());
        for (text, pat) in &each {
            if let Err(e) = pat.expected_for(&f) {
                return cx.err_in_value(
                    text,
                    0..text.len(),
                    format!("step {index}: expect.packets each: {e}"),
                    "a layer the sent frame has keeps its values unless written; a change (ttl=-1) applies to a sent layer",
                );
            }
        }
    }
    Some(())
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

/// Validate a step's expectations against what its kind accepts
/// (`allowed`) and the lab: what `netrig run` would otherwise find wrong.
/// `paths_are_ifaces`: split and affinity name `node:iface` paths (traffic)
/// rather than server names (probe).
pub(crate) fn validate(
    cx: &mut StepCx<'_>,
    e: &Expect,
    keyword: &str,
    allowed: &[Check],
    paths_are_ifaces: bool,
) -> Option<()> {
    let index = cx.index;
    for k in e.given() {
        if !allowed.contains(&k) {
            let mut keys: Vec<&str> = allowed.iter().map(|c| c.name()).collect();
            keys.push("fail");
            return cx.err_help(
                format!("step {index}: `expect.{k}` does not apply to a `{keyword}` step"),
                format!("a `{keyword}` step takes expect keys: {}", keys.join(", ")),
            );
        }
    }
    if let Some(f) = &e.fail {
        for c in f.checks() {
            if !allowed.contains(c) {
                return cx.err_help(
                    format!(
                        "step {index}: expect.fail names `{c}`, which a `{keyword}` step cannot fail by"
                    ),
                    if allowed.is_empty() {
                        "this step kind only takes fail = true".to_string()
                    } else {
                        let names: Vec<_> = allowed.iter().map(|c| c.name()).collect();
                        format!("its checks: {}", names.join(", "))
                    },
                );
            }
        }
    }
    for j in e.json.iter().flatten() {
        let tests = [
            j.equals.is_some(),
            j.len.is_some(),
            j.contains.is_some(),
            j.min.is_some() || j.max.is_some(),
        ];
        if !(j.path.is_empty() || j.path.starts_with('/')) {
            return cx.err_help(
                format!("step {index}: expect.json path `{}` is not a JSON Pointer", j.path),
                "write /key/0/key (RFC 6901; ~1 stands for / in a key, ~0 for ~), or \"\" for the whole document",
            );
        }
        if tests.iter().filter(|t| **t).count() != 1 {
            return cx.err_help(
                format!("step {index}: expect.json at `{}` needs one test", j.path),
                "one of equals, len, contains, or min and/or max",
            );
        }
    }
    let mut paths: Vec<&String> = Vec::new();
    for p in e.packets.iter().flatten() {
        validate_packets(cx, p)?;
    }
    if let Some(st) = &e.streams {
        if st.over.is_empty() {
            return cx.err(format!(
                "step {index}: expect.streams needs paths in `over`"
            ));
        }
        paths.extend(&st.over);
    }
    if let Some(r) = &e.ratio {
        if r.per.is_empty() {
            return cx.err(format!(
                "step {index}: expect.ratio needs counters in `per`"
            ));
        }
        let bad_bound = |b: Option<f64>| b.is_some_and(|x| !x.is_finite() || x < 0.0);
        if (r.min.is_none() && r.max.is_none())
            || bad_bound(r.min)
            || bad_bound(r.max)
            || matches!((r.min, r.max), (Some(a), Some(b)) if a > b)
        {
            return cx.err_help(
                format!("step {index}: expect.ratio needs min and/or max, with 0 <= min <= max"),
                "e.g. ratio = { tracepoint = \"fib:fib_table_lookup\", per = [\"r1:eth1\", \"r1:eth2\"], min = 0.95 }",
            );
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
            return cx.err_help(
                format!("step {index}: malformed tracepoint `{}`", r.tracepoint),
                "write subsystem:event, e.g. fib:fib_table_lookup or fib6:fib6_table_lookup",
            );
        }
        if let Some(c) = &r.counter {
            if !COUNTERS.contains(&c.as_str()) {
                return cx.err_help(
                    format!("step {index}: unknown counter `{c}` in expect.ratio"),
                    format!("counters: {}", COUNTERS.join(", ")),
                );
            }
        }
        paths.extend(&r.per);
        paths.extend(&r.iif);
    }
    paths.extend(e.received.iter().flat_map(|m| m.keys()));
    if paths_are_ifaces {
        paths.extend(e.split.iter().flat_map(|s| &s.over));
        paths.extend(e.affinity.iter().flatten());
    }
    for p in paths {
        let path = match IfacePath::parse(p) {
            Ok(p) => p,
            Err(why) => return cx.err_help(format!("step {index}: {why}"), "e.g. \"r1:eth1\""),
        };
        cx.lab_iface(Some(path.node), &path.iface, "expect")?;
    }
    if let Some(s) = &e.split {
        if s.over.len() != s.weights.len() || s.over.len() < 2 {
            return cx.err_help(
                format!(
                    "step {index}: expect.split needs as many weights as paths, and at least two"
                ),
                "e.g. split = { over = [\"r1:eth1\", \"r1:eth2\"], weights = [11, 45] }",
            );
        }
        // As the split verdict (and `ip route`) take them.
        if let Some(w) = s.weights.iter().find(|w| !(1..=256).contains(*w)) {
            return cx.err_help(
                format!("step {index}: expect.split weight {w} is outside 1..=256"),
                "weights are relative shares, e.g. weights = [11, 45]",
            );
        }
    }
    Some(())
}
