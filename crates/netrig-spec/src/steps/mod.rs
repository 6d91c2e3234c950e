//! Step kinds: each in its own module, with its model (a struct), its
//! parsing and validation ([`StepDef::parse`]), its documentation line
//! ([`StepDef::VALUE`], [`StepDef::SUMMARY`]) and the checks it accepts
//! ([`StepDef::CHECKS`]). The runner executes each in a module of the same
//! name under `netrig-run/src/steps/`.
//!
//! # Adding a step kind
//!
//! 1. A module here (`neigh.rs`, say) with a struct implementing [`StepDef`].
//! 2. One line in [`crate::with_step_kinds!`] (`Neigh: neigh`, say): this makes the
//!    [`StepKind`] variant, the dispatch of its keyword, its line in
//!    [`KINDS`] (the reference table `netrig run --help` prints and the
//!    README's step list is checked against), and requires the runner's
//!    `netrig-run/src/steps/neigh.rs` to execute it.
//! 3. The README's step table: `NETRIG_BLESS=1 cargo test -p netrig-spec
//!    --test reference` rewrites it.

use crate::error::Checker;
use crate::expect::{Check, Expect};
use crate::model::Topology;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The registry: every step kind as `Variant: module`, in the order the
/// reference lists them. The one place a new kind is registered; both the
/// spec (here) and the runner expand it.
#[macro_export]
macro_rules! with_step_kinds {
    ($m:ident) => {
        $m! {
            Run: run,
            Retry: retry,
            Daemon: daemon,
            WaitPort: wait_port,
            WaitLog: wait_log,
            Ping: ping,
            Sysctl: sysctl,
            Link: link,
            Counters: counters,
            Sleep: sleep,
            Traffic: traffic,
            SendFrames: send,
            Replay: replay,
            Serve: serve,
            Probe: probe,
            Capture: capture,
            Route: route,
            Offload: offload,
            Sysfs: sysfs,
            Neigh: neigh,
            Signal: signal,
            Impair: impair,
        }
    };
}

/// A step kind: the `[[steps]]` key that selects it and how its value is read.
pub trait StepDef: Sized {
    /// The action key, e.g. `ping`.
    const KEYWORD: &'static str;
    /// How its value is written (reference table).
    const VALUE: &'static str;
    /// What it does, briefly.
    const SUMMARY: &'static str;
    /// The checks it can fail by: its `expect` keys, default checks included.
    const CHECKS: &'static [Check] = &[];
    /// Whether `expect.split`/`affinity` name `node:iface` paths (traffic)
    /// rather than server names.
    const IFACE_PATHS: bool = false;

    /// Build the step from its action value, with a name for reports.
    /// `None` after reporting what is wrong through `cx`.
    fn parse(cx: &mut StepCx<'_>, value: toml::Value) -> Option<(Self, String)>;

    /// Check what this step refers to from earlier steps (and record what
    /// later ones may refer to), as `netrig run` needs it.
    fn check_references(&self, _refs: &mut References, _cx: &mut StepCx<'_>) {}
}

/// Names earlier steps made that later ones refer to.
#[derive(Default)]
pub struct References {
    /// Daemons started (their names name their logs).
    pub daemons: Vec<String>,
    /// Counter sets saved by `counters` steps.
    pub saved_counters: Vec<String>,
}

/// One line of the step reference.
#[derive(Debug, Clone, Copy)]
pub struct KindDoc {
    pub keyword: &'static str,
    pub value: &'static str,
    pub summary: &'static str,
    pub checks: &'static [Check],
}

impl KindDoc {
    const fn of<T: StepDef>() -> KindDoc {
        KindDoc {
            keyword: T::KEYWORD,
            value: T::VALUE,
            summary: T::SUMMARY,
            checks: T::CHECKS,
        }
    }
}

macro_rules! define_step_kinds {
    ($($variant:ident: $module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// What a step does, one variant per kind (see the kind's module).
        /// A `node` is `None` when the scenario has no topology.
        #[derive(Debug, Clone, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum StepKind {
            $($variant($module::$variant),)*
        }

        impl StepKind {
            pub fn keyword(&self) -> &'static str {
                match self {
                    $(StepKind::$variant(_) => <$module::$variant as StepDef>::KEYWORD,)*
                }
            }

            /// The checks this step can fail by, as `expect.fail` names them.
            pub fn checks(&self) -> &'static [Check] {
                match self {
                    $(StepKind::$variant(_) => <$module::$variant as StepDef>::CHECKS,)*
                }
            }

            fn iface_paths(&self) -> bool {
                match self {
                    $(StepKind::$variant(_) => <$module::$variant as StepDef>::IFACE_PATHS,)*
                }
            }

            fn check_references(&self, refs: &mut References, cx: &mut StepCx<'_>) {
                match self {
                    $(StepKind::$variant(s) => s.check_references(refs, cx),)*
                }
            }
        }

        /// Every step kind, in reference order.
        pub const KINDS: &[KindDoc] = &[$(KindDoc::of::<$module::$variant>(),)*];

        /// Parse the action `keyword`; `None` if no kind has that keyword.
        fn parse_action(
            keyword: &str,
            cx: &mut StepCx<'_>,
            value: toml::Value,
        ) -> Option<Option<(StepKind, String)>> {
            $(
                if keyword == <$module::$variant as StepDef>::KEYWORD {
                    return Some(
                        <$module::$variant as StepDef>::parse(cx, value)
                            .map(|(s, name)| (StepKind::$variant(s), name)),
                    );
                }
            )*
            None
        }
    };
}

with_step_kinds!(define_step_kinds);

/// The action keywords, comma-separated (for hints).
pub fn action_list() -> String {
    KINDS
        .iter()
        .map(|k| k.keyword)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The step reference as a Markdown table (README, crate docs).
pub fn reference_markdown() -> String {
    let mut s =
        String::from("| action | value | what it does | `expect` keys |\n|---|---|---|---|\n");
    for k in KINDS {
        let checks: Vec<_> = k.checks.iter().map(|c| c.doc()).collect();
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            k.keyword,
            k.value,
            k.summary,
            checks.join(", ")
        ));
    }
    s
}

/// The step reference as plain text (`netrig run --help`).
pub fn reference_text() -> String {
    let width = KINDS.iter().map(|k| k.keyword.len()).max().unwrap_or(0);
    let mut s = String::new();
    for k in KINDS {
        s.push_str(&format!(
            "  {:width$}  {}\n  {:width$}  = {}\n",
            k.keyword,
            k.summary,
            "",
            k.value.replace('`', "")
        ));
        if !k.checks.is_empty() {
            let names: Vec<_> = k.checks.iter().map(|c| c.name()).collect();
            s.push_str(&format!("  {:width$}  expect: {}\n", "", names.join(", ")));
        }
    }
    s
}

/// What a step kind's parser works with: the step's own keys, the lab, and
/// the error list (errors point at the step).
pub struct StepCx<'a> {
    pub(crate) checker: &'a mut Checker,
    pub span: Range<usize>,
    /// 1-based position of the step.
    pub index: usize,
    pub topo: Option<&'a Topology>,
    /// The step's `node =`: the default of the action's own node.
    pub node: Option<String>,
    /// The step's `name =`.
    pub name: Option<String>,
    pub expect: &'a Expect,
    /// The action being parsed (for hints).
    keyword: &'static str,
    value_doc: &'static str,
}

impl StepCx<'_> {
    /// Report an error at the step; returns `None` for `return cx.err(..)`.
    pub fn err<T>(&mut self, msg: impl Into<String>) -> Option<T> {
        self.checker.err(self.span.clone(), msg);
        None
    }

    pub fn err_help<T>(&mut self, msg: impl Into<String>, help: impl Into<String>) -> Option<T> {
        self.checker.err_help(self.span.clone(), msg, help);
        None
    }

    /// Report an error at `within` of the string value `literal` of this
    /// step: at that column of the file when the literal appears there as
    /// written (no escapes), else at the step.
    pub fn err_in_value<T>(
        &mut self,
        literal: &str,
        within: Range<usize>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) -> Option<T> {
        let text = &self.checker.src.text;
        let rest = text.get(self.span.start..).unwrap_or("");
        // The step's text runs to the next table header.
        let end = rest
            .match_indices("\n[")
            .map(|(i, _)| i)
            .find(|&i| i + 1 >= self.span.end - self.span.start)
            .unwrap_or(rest.len());
        let at = match rest.get(..end).and_then(|body| body.find(literal)) {
            Some(i) if !literal.is_empty() => {
                let s = self.span.start + i + within.start;
                s..(self.span.start + i + within.end).max(s + 1)
            }
            _ => self.span.clone(),
        };
        self.checker.err_help(at, msg, help);
        None
    }

    /// Read the action's value as `T` (a kind's raw shape); serde's errors
    /// point at the offending key.
    pub fn raw<T: DeserializeOwned>(&mut self, value: toml::Value) -> Option<T> {
        let help = format!("{} = {}", self.keyword, self.value_doc.replace('`', ""));
        self.raw_help(value, help)
    }

    fn raw_help<T: DeserializeOwned>(&mut self, value: toml::Value, help: String) -> Option<T> {
        match T::deserialize(value) {
            Ok(t) => Some(t),
            Err(e) => {
                let msg = e.message().trim().to_string();
                let at = self.checker.key_span(&self.span, &msg);
                self.checker
                    .err_help(at, format!("step {}: {msg}", self.index), help);
                None
            }
        }
    }

    /// The node an action runs in: `given` (or the step's `node`), the only
    /// node of a one-node lab, or none without a topology.
    pub fn node(&mut self, given: Option<String>, what: &str) -> Option<Option<String>> {
        let given = given.or_else(|| self.node.clone());
        let span = self.span.clone();
        self.checker.resolve_node(&span, given, self.topo, what)
    }

    /// Like [`StepCx::node`], but the action needs a lab node.
    pub fn lab_node(&mut self, given: Option<String>, what: &str) -> Option<String> {
        match self.node(given, what)? {
            Some(n) => Some(n),
            None => self.err(format!("{what} needs a lab node")),
        }
    }

    /// The scenario file's folder, absolute: where the files a step names
    /// are (as `topology = ".."` is relative to it).
    pub fn scenario_dir(&self) -> std::path::PathBuf {
        let dir = self.checker.src.folder();
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// The node a step sends from and its interface: `dev`, or the node's
    /// first interface.
    pub fn sending_iface(
        &mut self,
        from: Option<String>,
        dev: Option<String>,
        what: &str,
    ) -> Option<(String, String)> {
        let from = self.lab_node(from, what)?;
        let dev = match dev {
            Some(d) => d,
            None => match self.topo.and_then(|tp| tp.ifaces_of(&from).next()) {
                Some(i) => i.name.clone(),
                None => {
                    return self.err(format!(
                        "step {}: node `{from}` has no interface to send on",
                        self.index
                    ))
                }
            },
        };
        self.lab_iface(Some(from.clone()), &dev, what)?;
        Some((from, dev))
    }

    /// A lab node and one of its interfaces (`lo` included).
    pub fn lab_iface(
        &mut self,
        given: Option<String>,
        iface: &str,
        what: &str,
    ) -> Option<crate::expect::IfacePath> {
        let node = self.lab_node(given, what)?;
        let span = self.span.clone();
        if !self.checker.check_iface(&span, self.topo, &node, iface) {
            return None;
        }
        Some(crate::expect::IfacePath::new(node, iface))
    }
}

/// A string or a list of strings (`via = "a"` or `via = ["a", "b"]`).
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum StrOrList {
    One(String),
    Many(Vec<String>),
}

impl StrOrList {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            StrOrList::One(s) => vec![s],
            StrOrList::Many(v) => v,
        }
    }
}

/// A TOML value as a step writes it (`value = 1` and `value = "1"` alike).
pub(crate) fn value_string(v: toml::Value) -> String {
    match v {
        toml::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Serialize a value by its `Display` form.
pub(crate) fn display<T: std::fmt::Display, S: serde::Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A parsed step's kind with its report name, the step's keys read.
pub(crate) struct ParsedStep {
    pub kind: StepKind,
    pub auto_name: String,
    pub expect: Expect,
    pub timeout: Option<std::time::Duration>,
}

/// The keys every step may have besides its action.
const COMMON_KEYS: &[&str] = &["name", "node", "timeout", "expect"];

impl Checker {
    /// Parse one `[[steps]]` table: its common keys and its one action.
    pub(crate) fn parse_step(
        &mut self,
        value: &toml::Value,
        span: Range<usize>,
        index: usize,
        topo: Option<&Topology>,
    ) -> Option<ParsedStep> {
        let actions_hint = || {
            format!(
                "a step has one action ({}) plus optional name, node, timeout, expect",
                action_list()
            )
        };
        let Some(table) = value.as_table() else {
            self.err_help(span, format!("step {index}: not a table"), actions_hint());
            return None;
        };
        let mut actions = Vec::new();
        for (k, v) in table {
            if COMMON_KEYS.contains(&k.as_str()) {
                continue;
            }
            if !KINDS.iter().any(|d| d.keyword == k) {
                let msg = format!("unknown field `{k}`");
                let at = self.key_span(&span, &msg);
                self.err_help(at, format!("step {index}: {msg}"), actions_hint());
                return None;
            }
            actions.push((k.as_str(), v));
        }
        let [(keyword, action)] = actions[..] else {
            self.err_help(
                span,
                format!(
                    "step {index} has {} actions; a step has exactly one",
                    actions.len()
                ),
                format!("actions: {}", action_list()),
            );
            return None;
        };
        #[derive(Deserialize)]
        struct Common {
            name: Option<String>,
            node: Option<String>,
            timeout: Option<String>,
            expect: Option<Expect>,
        }
        let doc = KINDS.iter().find(|d| d.keyword == keyword)?;
        let empty = Expect::default();
        let mut cx = StepCx {
            checker: self,
            span: span.clone(),
            index,
            topo,
            node: None,
            name: None,
            expect: &empty,
            keyword: doc.keyword,
            value_doc: doc.value,
        };
        let common_only: toml::Table = table
            .iter()
            .filter(|(k, _)| COMMON_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let common: Common = cx.raw_help(
            toml::Value::Table(common_only),
            "besides its action a step takes name, node, timeout = \"5s\" and an expect table"
                .to_string(),
        )?;
        let timeout = match &common.timeout {
            None => None,
            Some(t) => match crate::scenario::parse_duration(t) {
                Some(d) => Some(d),
                None => {
                    return cx.err_help(
                        format!("step {index}: malformed timeout `{t}`"),
                        "write e.g. \"5s\"",
                    )
                }
            },
        };
        let expect = common.expect.unwrap_or_default();
        cx.node = common.node;
        cx.name = common.name;
        cx.expect = &expect;
        let (kind, auto_name) = parse_action(keyword, &mut cx, action.clone())??;
        crate::expect::validate(&mut cx, &expect, keyword, kind.checks(), kind.iface_paths())?;
        Some(ParsedStep {
            kind,
            auto_name,
            expect,
            timeout,
        })
    }

    /// What a step refers to must come from an earlier step, as `netrig run`
    /// needs it (a `wait_log`'s daemon, a `counters since`'s saved set).
    pub(crate) fn step_references(
        &mut self,
        steps: &[crate::scenario::Step],
        spans: &[Range<usize>],
        topo: Option<&Topology>,
    ) {
        let mut refs = References::default();
        for (s, span) in steps.iter().zip(spans) {
            let mut cx = StepCx {
                checker: self,
                span: span.clone(),
                index: s.index,
                topo,
                node: None,
                name: None,
                expect: &s.expect,
                keyword: s.kind.keyword(),
                value_doc: "",
            };
            s.kind.check_references(&mut refs, &mut cx);
        }
    }
}
