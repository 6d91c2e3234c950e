//! TOML text to a validated [`Topology`]. Two passes: serde reads the shape
//! (syntax errors and unknown keys come out of toml with their spans), then
//! `Checker` resolves names and addresses, collecting every problem it finds.

use crate::error::{Checker, Source, SpecErrors};
use crate::model::*;
use crate::net::{self, IpNet};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use toml::Spanned;

/// Linux refuses interface names of 16 bytes or more (IFNAMSIZ includes the NUL).
pub const IFNAME_MAX: usize = 15;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    name: Option<Spanned<String>>,
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    dad: bool,
    #[serde(default)]
    nodes: BTreeMap<Spanned<String>, Spanned<RawNode>>,
    #[serde(default)]
    links: Vec<Spanned<RawLink>>,
    #[serde(default)]
    lans: Vec<Spanned<RawLan>>,
    #[serde(default)]
    routes: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    neighbors: Vec<Spanned<RawNeighbor>>,
    // Scenario keys, read by the scenario parser from the same text; accepted
    // here so that a scenario file is also a valid topology file.
    #[allow(dead_code)]
    topology: Option<toml::Value>,
    #[allow(dead_code)]
    timeout: Option<toml::Value>,
    #[allow(dead_code)]
    requires: Option<toml::Value>,
    #[allow(dead_code)]
    steps: Option<toml::Value>,
    #[allow(dead_code)]
    variants: Option<toml::Value>,
    #[allow(dead_code)]
    matrix: Option<toml::Value>,
    #[allow(dead_code)]
    xfail: Option<toml::Value>,
    #[allow(dead_code)]
    tags: Option<toml::Value>,
    #[allow(dead_code)]
    views: Option<toml::Value>,
    #[allow(dead_code)]
    on_fail: Option<toml::Value>,
    #[allow(dead_code)]
    finally: Option<toml::Value>,
}

/// A node's `files` and `tmpfs`, as a topology's node or a scenario's
/// `[views.NODE]` writes them.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawView {
    #[serde(default)]
    pub(crate) files: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub(crate) tmpfs: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNode {
    kind: Option<Spanned<String>>,
    forwarding: Option<bool>,
    #[serde(default)]
    sysctl: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    loopback: Vec<Spanned<String>>,
    #[serde(default)]
    files: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    tmpfs: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    ends: Spanned<Vec<Spanned<String>>>,
    mtu: Option<Spanned<i64>>,
    impair: Option<Spanned<crate::impair::RawImpair>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLan {
    name: Spanned<String>,
    ends: Spanned<Vec<Spanned<String>>>,
    mtu: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    node: Spanned<String>,
    to: Spanned<String>,
    via: Option<Spanned<String>>,
    dev: Option<Spanned<String>>,
    nexthops: Option<Spanned<Vec<Spanned<RawNexthop>>>>,
    metric: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNexthop {
    via: Option<Spanned<String>>,
    dev: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNeighbor {
    node: Spanned<String>,
    dev: Spanned<String>,
    addr: Spanned<String>,
    mac: Spanned<String>,
}

/// Parse and validate a topology. `name` is how errors name the file.
/// A TOML syntax or shape error as netrig reports it (topology and scenario
/// files alike): located, the duplicated key named, with a hint.
pub(crate) fn toml_error(src: &Source, text: &str, e: &toml::de::Error) -> crate::SpecError {
    let span = e.span().unwrap_or(0..0);
    let mut msg = e.message().trim().to_string();
    if msg == "duplicate key" {
        if let Some(key) = text
            .get(span.clone())
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            msg = format!("duplicate key `{key}`");
        }
    }
    let help = toml_hint(&msg);
    let mut err = src.error(span, msg);
    err.help = help;
    err
}

pub fn parse_topology(name: &str, text: &str) -> Result<Topology, SpecErrors> {
    let src = Source::new(name, text);
    let raw: RawTopology = toml::from_str(text).map_err(|e| SpecErrors {
        errors: vec![toml_error(&src, text, &e)],
    })?;
    let mut c = Checker::new(src);
    let topo = c.check(raw);
    if c.errors.is_empty() {
        Ok(topo)
    } else {
        Err(SpecErrors { errors: c.errors })
    }
}

/// Read and parse a topology file.
pub fn load_topology(path: &std::path::Path) -> Result<Topology, crate::LoadError> {
    let text = crate::files::read_spec_file(path).map_err(|source| crate::LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(parse_topology(&path.display().to_string(), &text)?)
}

const MOUNT_TARGET_RULE: &str = "a node's files and tmpfs cover an absolute path such as /etc/frr, outside /proc, /sys, /dev and /run/netns";

/// Paths no node may cover: the kernel's own views, and /run/netns, which
/// the case keeps private itself.
const RESERVED_PATHS: &[&str] = &["/proc", "/sys", "/dev", "/run/netns"];

/// An absolute path, with no `.` or `..`, that covers no reserved path.
fn check_mount_target(t: &str) -> Result<std::path::PathBuf, String> {
    use std::path::{Component, Path};
    let p = Path::new(t);
    let plain = p
        .components()
        .skip(1)
        .all(|c| matches!(c, Component::Normal(_)));
    if !p.is_absolute() || !plain || t.contains('\0') {
        return Err(format!(
            "`{}` is not an absolute path without `.` or `..`",
            t.escape_debug()
        ));
    }
    let p: std::path::PathBuf = p.components().collect();
    if p.parent().is_none() {
        return Err("a node cannot cover `/`".into());
    }
    if let Some(r) = RESERVED_PATHS
        .iter()
        .find(|r| p.starts_with(r) || Path::new(r).starts_with(&p))
    {
        return Err(format!("`{}` would cover {r}", p.display()));
    }
    Ok(p)
}

fn toml_hint(msg: &str) -> Option<String> {
    if msg.contains("unknown field") {
        Some(
            "check the spelling; `netrig check --help` lists the keys a topology file takes".into(),
        )
    } else if msg.contains("duplicate key") {
        Some("each node, and each key in a table, may appear only once".into())
    } else {
        None
    }
}

/// A nexthop as written: (via, dev, weight).
type RawHop<'a> = (
    Option<&'a Spanned<String>>,
    Option<&'a Spanned<String>>,
    Option<&'a Spanned<i64>>,
);

/// An interface end as written, before resolution: `node:iface addr... key=value...`.
struct EndText<'a> {
    node: (&'a str, Range<usize>),
    iface: Option<(&'a str, Range<usize>)>,
    addrs: Vec<(&'a str, Range<usize>)>,
    opts: Vec<(&'a str, &'a str, Range<usize>)>,
}

/// Split a string on whitespace, keeping byte spans into the file. The string's
/// own span includes its quotes, so the text starts one byte in (escapes are not
/// expected in these strings, so offsets stay exact).
fn tokens(s: &Spanned<String>) -> Vec<(&str, Range<usize>)> {
    let base = s.span().start + 1;
    let text = s.get_ref().as_str();
    let mut out = Vec::new();
    let mut start = None;
    for (i, ch) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (ch.is_whitespace(), start) {
            (true, Some(st)) => {
                out.push((&text[st..i], base + st..base + i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

fn inner(s: &Spanned<String>) -> Range<usize> {
    let sp = s.span();
    sp.start..sp.end
}

impl Checker {
    fn check(&mut self, raw: RawTopology) -> Topology {
        let name = match &raw.name {
            Some(n) => {
                self.check_name(n.get_ref(), inner(n), "topology");
                n.get_ref().clone()
            }
            None => "lab".to_string(),
        };
        let mut nodes = Vec::new();
        for (node_name, node) in &raw.nodes {
            self.check_name(node_name.get_ref(), inner(node_name), "node");
            nodes.push(self.check_node(node_name.get_ref(), node));
        }
        let node_names: HashSet<String> = nodes.iter().map(|n: &Node| n.name.clone()).collect();
        // Interface names already used per node, with where they were first used.
        let mut used: HashMap<(String, String), Range<usize>> = HashMap::new();
        let mut auto_index: HashMap<String, usize> = HashMap::new();

        let mut links = Vec::new();
        for link in &raw.links {
            let ends = link.get_ref().ends.get_ref();
            if ends.len() != 2 {
                self.err_help(
                    link.get_ref().ends.span(),
                    format!("a link has exactly two ends, this one has {}", ends.len()),
                    "join three or more nodes with a [[lans]] segment",
                );
                continue;
            }
            let mtu = self.check_mtu(link.get_ref().mtu.as_ref());
            let a = self.check_end(&ends[0], mtu, &node_names, &mut used, &mut auto_index);
            let b = self.check_end(&ends[1], mtu, &node_names, &mut used, &mut auto_index);
            if let (Some(a), Some(b)) = (a, b) {
                if a.node == b.node {
                    self.err(
                        inner(&ends[1]),
                        format!("both ends of this link are on node `{}`", a.node),
                    );
                } else {
                    let ends = [a, b];
                    let impair = match &link.get_ref().impair {
                        Some(raw) => match self.check_impair(raw, &ends) {
                            Some(i) => Some(i),
                            None => continue,
                        },
                        None => None,
                    };
                    links.push(Link { ends, impair });
                }
            }
        }

        let mut lans = Vec::new();
        let mut lan_names = HashSet::new();
        for lan in &raw.lans {
            let lan = lan.get_ref();
            self.check_name(lan.name.get_ref(), inner(&lan.name), "lan");
            if !lan_names.insert(lan.name.get_ref().clone()) {
                self.err(
                    inner(&lan.name),
                    format!("duplicate lan name `{}`", lan.name.get_ref()),
                );
            }
            if node_names.contains(lan.name.get_ref()) {
                self.err(
                    inner(&lan.name),
                    format!("lan `{}` has the name of a node", lan.name.get_ref()),
                );
            }
            if lan.ends.get_ref().len() < 2 {
                self.err(lan.ends.span(), "a lan joins at least two interfaces");
            }
            let mtu = self.check_mtu(lan.mtu.as_ref());
            let mut members = Vec::new();
            let mut seen_nodes = HashSet::new();
            for end in lan.ends.get_ref() {
                if let Some(i) = self.check_end(end, mtu, &node_names, &mut used, &mut auto_index) {
                    if !seen_nodes.insert(i.node.clone()) {
                        self.err(
                            inner(end),
                            format!("node `{}` is on this lan twice", i.node),
                        );
                    }
                    members.push(i);
                }
            }
            lans.push(Lan {
                name: lan.name.get_ref().clone(),
                members,
            });
        }

        let mut topo = Topology {
            name,
            dad: raw.dad,
            nodes,
            links,
            lans,
            routes: Vec::new(),
            neighbors: Vec::new(),
        };
        // The kernel keeps one route per (destination, metric) in a table.
        let mut seen_routes: HashMap<(String, IpNet, Option<u32>), Range<usize>> = HashMap::new();
        for r in &raw.routes {
            if let Some(route) = self.check_route(r, &topo) {
                let key = (route.node.clone(), route.dst, route.metric);
                if let Some(first) = seen_routes.get(&key) {
                    let (l, c) = self.src.line_col(first.start);
                    self.err_help(
                        inner(&r.get_ref().to),
                        format!("node `{}` already has a route to {} (line {l}, column {c})", route.node, route.dst),
                        "merge them into one route with `nexthops`, or give one a different `metric`",
                    );
                    continue;
                }
                seen_routes.insert(key, inner(&r.get_ref().to));
                topo.routes.push(route);
            }
        }
        for n in &raw.neighbors {
            if let Some(nb) = self.check_neighbor(n.get_ref(), &topo) {
                topo.neighbors.push(nb);
            }
        }
        topo
    }

    fn check_name(&mut self, name: &str, span: Range<usize>, what: &str) {
        if let Err(why) = crate::names::check_lab_name(name) {
            self.err_help(
                span,
                format!("invalid {what} name `{}`: {why}", name.escape_debug()),
                crate::names::LAB_NAME_RULE,
            );
        }
    }

    fn check_node(&mut self, name: &str, raw: &Spanned<RawNode>) -> Node {
        let r = raw.get_ref();
        let kind = match r.kind.as_ref().map(|k| (k.get_ref().as_str(), inner(k))) {
            None => None,
            Some(("host", _)) => Some(NodeKind::Host),
            Some(("router", _)) => Some(NodeKind::Router),
            Some((other, span)) => {
                self.err_help(
                    span,
                    format!("unknown node kind `{other}`"),
                    "kind is `host` or `router`",
                );
                None
            }
        };
        let forwarding = r.forwarding.unwrap_or(kind == Some(NodeKind::Router));
        let kind = kind.unwrap_or(if forwarding {
            NodeKind::Router
        } else {
            NodeKind::Host
        });
        let mut sysctls = Vec::new();
        for (key, value) in &r.sysctl {
            let k = key.get_ref();
            if !crate::nsonly::is_netns_sysctl(k) {
                self.err_help(
                    inner(key),
                    format!(
                        "sysctl `{}` is not a network namespace sysctl",
                        k.escape_debug()
                    ),
                    crate::nsonly::SYSCTL_RULE,
                );
                continue;
            }
            let v = match value.get_ref() {
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::String(s) if !s.contains(['\n', '/']) => s.clone(),
                toml::Value::Boolean(b) => (*b as u8).to_string(),
                _ => {
                    self.err(
                        value.span(),
                        format!("sysctl `{k}` needs an integer, a boolean or a one-line string"),
                    );
                    continue;
                }
            };
            sysctls.push((k.clone(), v));
        }
        let mut loopback = Vec::new();
        for a in &r.loopback {
            if let Some(net) = self.check_addr(a.get_ref(), inner(a)) {
                loopback.push(net);
            }
        }
        let mounts = self.check_mounts(&r.files, &r.tmpfs, &[]);
        Node {
            name: name.to_string(),
            kind,
            forwarding,
            sysctls,
            loopback,
            mounts,
        }
    }

    /// A node's `files` and `tmpfs`: targets that may be covered, sources
    /// that can be read (relative to this file's folder), each target once,
    /// none of those the node has already (`have`: its topology's, for a
    /// scenario's view).
    pub(crate) fn check_mounts(
        &mut self,
        files: &BTreeMap<Spanned<String>, Spanned<String>>,
        tmpfs: &[Spanned<String>],
        have: &[NodeMount],
    ) -> Vec<NodeMount> {
        let folder = self.src.folder();
        let mut mounts: Vec<NodeMount> = Vec::new();
        let mut seen: HashSet<_> = have.iter().map(|m| m.target.clone()).collect();
        let written = files
            .iter()
            .map(|(t, s)| (t, Some(s)))
            .chain(tmpfs.iter().map(|t| (t, None)));
        for (target, source) in written {
            let t = match check_mount_target(target.get_ref()) {
                Ok(t) => t,
                Err(why) => {
                    self.err_help(inner(target), why, MOUNT_TARGET_RULE);
                    continue;
                }
            };
            if !seen.insert(t.clone()) {
                let why = if have.iter().any(|m| m.target == t) {
                    "is given for this node by its topology already"
                } else {
                    "is given twice for this node"
                };
                self.err(inner(target), format!("`{}` {why}", t.display()));
                continue;
            }
            let source = match source {
                None => None,
                Some(s) => {
                    let path = folder.join(s.get_ref());
                    if let Err(e) = crate::files::check_tree(&path) {
                        self.err_help(
                            inner(s),
                            format!("cannot read `{}`: {e}", s.get_ref().escape_debug()),
                            "a node's files come from a file or directory, written relative to this file's folder",
                        );
                        continue;
                    }
                    Some(path)
                }
            };
            mounts.push(NodeMount { target: t, source });
        }
        // Parents first, so that `/etc/frr` may be covered inside a covered `/etc`.
        mounts.sort_by_key(|m| m.target.components().count());
        mounts
    }

    fn check_mtu(&mut self, mtu: Option<&Spanned<i64>>) -> Option<u32> {
        let m = mtu?;
        match u32::try_from(*m.get_ref()) {
            Ok(v) if (68..=65535).contains(&v) => Some(v),
            _ => {
                self.err(
                    m.span(),
                    format!("mtu {} is outside 68..=65535", m.get_ref()),
                );
                None
            }
        }
    }

    /// An interface address: `addr/len` inside the test prefixes.
    fn check_addr(&mut self, text: &str, span: Range<usize>) -> Option<IpNet> {
        match IpNet::parse(text) {
            Err(e) => {
                self.err_help(
                    span,
                    format!("malformed address `{text}`: {e}"),
                    "write e.g. 192.0.2.1/24 or 2001:db8:1::1/64",
                );
                None
            }
            Ok(n) if !net::is_test_address(n.addr) => {
                self.err_help(
                    span,
                    format!("address {n} is outside the test prefixes"),
                    format!("lab hosts may only use {}", net::TEST_PREFIXES.join(", ")),
                );
                None
            }
            Ok(n) => Some(n),
        }
    }

    fn parse_end<'a>(&mut self, s: &'a Spanned<String>) -> Option<EndText<'a>> {
        let toks = tokens(s);
        let Some(((first, fspan), rest)) = toks.split_first() else {
            self.err_help(
                inner(s),
                "empty link end",
                "write `node:iface addr...`, e.g. \"h1:eth0 192.0.2.2/24\"",
            );
            return None;
        };
        let (node, iface) = match first.split_once(':') {
            Some((n, i)) => {
                let ns = fspan.start..fspan.start + n.len();
                let is = fspan.start + n.len() + 1..fspan.end;
                ((n, ns), Some((i, is)))
            }
            None => ((*first, fspan.clone()), None),
        };
        let mut end = EndText {
            node,
            iface,
            addrs: Vec::new(),
            opts: Vec::new(),
        };
        for (tok, span) in rest {
            match tok.split_once('=') {
                Some((k, v)) => end.opts.push((k, v, span.clone())),
                None => end.addrs.push((tok, span.clone())),
            }
        }
        Some(end)
    }

    fn check_end(
        &mut self,
        s: &Spanned<String>,
        link_mtu: Option<u32>,
        nodes: &HashSet<String>,
        used: &mut HashMap<(String, String), Range<usize>>,
        auto_index: &mut HashMap<String, usize>,
    ) -> Option<Iface> {
        let end = self.parse_end(s)?;
        let (node, node_span) = end.node;
        let mut ok = true;
        if !nodes.contains(node) {
            let mut known: Vec<_> = nodes.iter().map(String::as_str).collect();
            known.sort();
            self.err_help(
                node_span.clone(),
                format!("link to unknown node `{node}`"),
                if known.is_empty() {
                    "declare nodes with [nodes.NAME] tables".to_string()
                } else {
                    format!("known nodes: {}", known.join(", "))
                },
            );
            ok = false;
        }
        let (iface, ispan) = match end.iface {
            Some((i, sp)) => (i.to_string(), sp),
            None => {
                // Unnamed ends get eth0, eth1, ... in file order on each node.
                let n = auto_index.entry(node.to_string()).or_insert(0);
                let mut name = format!("eth{n}");
                while used.contains_key(&(node.to_string(), name.clone())) {
                    *n += 1;
                    name = format!("eth{n}");
                }
                *n += 1;
                (name, node_span.clone())
            }
        };
        if iface.is_empty()
            || iface.len() > IFNAME_MAX
            || iface.contains(['/', ':'])
            || iface.chars().any(char::is_whitespace)
            || iface.chars().any(char::is_control)
            || iface == "lo"
            || iface == "."
            || iface == ".."
        {
            let msg = if iface.len() > IFNAME_MAX {
                format!(
                    "interface name `{}` is {} bytes, over the kernel's limit of {IFNAME_MAX}",
                    iface.escape_debug(),
                    iface.len()
                )
            } else {
                format!("invalid interface name `{}`", iface.escape_debug())
            };
            self.err_help(
                ispan.clone(),
                msg,
                "use 1 to 15 bytes, no `/`, `:`, spaces or control characters, and not `lo`, `.` or `..`",
            );
            ok = false;
        }
        let key = (node.to_string(), iface.clone());
        if let Some(first) = used.get(&key) {
            let (l, c) = self.src.line_col(first.start);
            self.err(
                ispan.clone(),
                format!("duplicate interface `{iface}` on node `{node}` (first used at line {l}, column {c})"),
            );
            ok = false;
        } else {
            used.insert(key, ispan.clone());
        }
        let mut addrs = Vec::new();
        for (a, sp) in &end.addrs {
            match self.check_addr(a, sp.clone()) {
                Some(n) if addrs.contains(&n) => {
                    self.err(sp.clone(), format!("address {n} is given twice"));
                    ok = false;
                }
                Some(n) => addrs.push(n),
                None => ok = false,
            }
        }
        let mut mac = None;
        let mut mtu = link_mtu;
        for (k, v, sp) in &end.opts {
            match *k {
                "mac" => match net::parse_mac(v) {
                    Some(m) if m[0] & 1 == 0 && m != [0; 6] => mac = Some(m),
                    Some(m) if m == [0; 6] => {
                        // The kernel refuses it as a device address.
                        self.err_help(
                            sp.clone(),
                            format!("mac {v} is all zeros"),
                            "use a locally administered one, e.g. mac=02:00:00:00:00:01",
                        );
                        ok = false;
                    }
                    Some(_) => {
                        self.err(sp.clone(), format!("mac {v} is a multicast address"));
                        ok = false;
                    }
                    None => {
                        self.err_help(
                            sp.clone(),
                            format!("malformed mac `{v}`"),
                            "write six hex bytes, e.g. mac=02:00:00:00:00:01",
                        );
                        ok = false;
                    }
                },
                "mtu" => match v.parse::<u32>() {
                    Ok(m) if (68..=65535).contains(&m) => mtu = Some(m),
                    _ => {
                        self.err(
                            sp.clone(),
                            format!("mtu `{v}` is not a number in 68..=65535"),
                        );
                        ok = false;
                    }
                },
                other => {
                    self.err_help(
                        sp.clone(),
                        format!("unknown option `{other}`"),
                        "an end takes `mac=` and `mtu=` options",
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| Iface {
            node: node.to_string(),
            name: iface,
            addrs,
            mac,
            mtu,
        })
    }

    fn node_exists(&mut self, topo: &Topology, node: &Spanned<String>) -> bool {
        if topo.node(node.get_ref()).is_some() {
            true
        } else {
            let known: Vec<&str> = topo.nodes.iter().map(|n| n.name.as_str()).collect();
            self.err_help(
                inner(node),
                format!("unknown node `{}`", node.get_ref()),
                format!("known nodes: {}", known.join(", ")),
            );
            false
        }
    }

    fn dev_exists(&mut self, topo: &Topology, node: &str, dev: &Spanned<String>) -> bool {
        let d = dev.get_ref();
        if d == "lo" || topo.ifaces_of(node).any(|i| &i.name == d) {
            true
        } else {
            let known: Vec<_> = topo.ifaces_of(node).map(|i| i.name.clone()).collect();
            self.err_help(
                inner(dev),
                format!("node `{node}` has no interface `{d}`"),
                format!(
                    "its interfaces: {}",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            false
        }
    }

    fn check_route(&mut self, raw: &Spanned<RawRoute>, topo: &Topology) -> Option<Route> {
        let r = raw.get_ref();
        if !self.node_exists(topo, &r.node) {
            return None;
        }
        let node = r.node.get_ref().as_str();
        let to = r.to.get_ref().as_str();
        let mut nexthops = Vec::new();
        let mut ok = true;
        // Collect (via, dev, weight) triples from either shape.
        let mut hops: Vec<RawHop> = Vec::new();
        match (&r.nexthops, &r.via, &r.dev) {
            (Some(list), None, None) => {
                if list.get_ref().is_empty() {
                    self.err(list.span(), "`nexthops` is empty");
                    return None;
                }
                for h in list.get_ref() {
                    let h = h.get_ref();
                    if h.via.is_none() && h.dev.is_none() {
                        self.err(list.span(), "each nexthop needs `via` or `dev`");
                        ok = false;
                    }
                    hops.push((h.via.as_ref(), h.dev.as_ref(), h.weight.as_ref()));
                }
            }
            (Some(list), _, _) => {
                self.err_help(
                    list.span(),
                    "a route has either `nexthops` or `via`/`dev`, not both",
                    "put `via` and `dev` inside each nexthop",
                );
                return None;
            }
            (None, None, None) => {
                self.err_help(
                    raw.span(),
                    format!("route to {to} on `{node}` has no `via`, `dev` or `nexthops`"),
                    "add `via = \"GATEWAY\"` or `dev = \"IFACE\"`",
                );
                return None;
            }
            (None, via, dev) => hops.push((via.as_ref(), dev.as_ref(), None)),
        }

        // The family comes from the destination, or for `default` from the first gateway.
        let gateways: Vec<Option<IpAddr>> = hops
            .iter()
            .map(|(via, _, _)| {
                via.and_then(|v| match v.get_ref().parse::<IpAddr>() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        self.err_help(
                            inner(v),
                            format!("malformed gateway `{}`", v.get_ref()),
                            "a gateway is a bare address, without /len",
                        );
                        ok = false;
                        None
                    }
                })
            })
            .collect();
        let dst = match to {
            "default" | "default4" | "default6" => {
                let v4 = match to {
                    "default4" => Some(true),
                    "default6" => Some(false),
                    _ => gateways.iter().flatten().next().map(|g| g.is_ipv4()),
                };
                match v4 {
                    Some(true) => IpNet::new(IpAddr::from([0u8; 4]), 0),
                    Some(false) => IpNet::new(IpAddr::from([0u16; 8]), 0),
                    None => {
                        self.err_help(
                            inner(&r.to),
                            "a default route through a device alone has no address family",
                            "write `to = \"default4\"` or `to = \"default6\"`",
                        );
                        return None;
                    }
                }
            }
            _ => match IpNet::parse(to) {
                Err(e) => {
                    self.err_help(
                        inner(&r.to),
                        format!("malformed destination `{to}`: {e}"),
                        "write a prefix such as 198.18.0.0/24, or `default`",
                    );
                    return None;
                }
                Ok(n) if n.has_host_bits() => {
                    self.err_help(
                        inner(&r.to),
                        format!("destination {n} has host bits set"),
                        format!("did you mean {}?", n.network()),
                    );
                    return None;
                }
                Ok(n) if !net::is_test_prefix(&n) => {
                    self.err_help(
                        inner(&r.to),
                        format!("destination {n} is outside the test prefixes"),
                        format!(
                            "routes may only point at default or inside {}",
                            net::TEST_PREFIXES.join(", ")
                        ),
                    );
                    return None;
                }
                Ok(n) => n,
            },
        };

        let node_ifaces: Vec<&Iface> = topo.ifaces_of(node).collect();
        for ((via, dev, weight), gw) in hops.iter().zip(&gateways) {
            let weight = match weight {
                None => 1,
                Some(w) => match u16::try_from(*w.get_ref()) {
                    Ok(v) if (1..=256).contains(&v) => v,
                    _ => {
                        self.err_help(
                            w.span(),
                            format!("weight {} is outside 1..=256", w.get_ref()),
                            "the kernel stores weight-1 in one byte",
                        );
                        ok = false;
                        1
                    }
                },
            };
            if let Some(d) = dev {
                if !self.dev_exists(topo, node, d) {
                    ok = false;
                    // The gateway check below would only repeat the problem.
                    continue;
                }
            }
            if let (Some(g), Some(v)) = (gw, via) {
                if g.is_ipv4() != dst.is_ipv4() {
                    self.err(
                        inner(v),
                        format!(
                            "gateway {g} is {} but the destination {dst} is {}",
                            fam(g.is_ipv4()),
                            fam(dst.is_ipv4())
                        ),
                    );
                    ok = false;
                } else if !net::is_link_local(*g) {
                    let candidates: Vec<&&Iface> = node_ifaces
                        .iter()
                        .filter(|i| dev.is_none_or(|d| d.get_ref() == &i.name))
                        .collect();
                    let connected = candidates
                        .iter()
                        .any(|i| i.addrs.iter().any(|a| a.contains(*g) && a.addr != *g));
                    if !connected {
                        let subnets: Vec<String> = candidates
                            .iter()
                            .flat_map(|i| {
                                i.addrs
                                    .iter()
                                    .map(move |a| format!("{} ({})", a.network(), i.name))
                            })
                            .collect();
                        self.err_help(
                            inner(v),
                            format!("gateway {g} is on no connected subnet of node `{node}`"),
                            if subnets.is_empty() {
                                format!("node `{node}` has no addressed interfaces")
                            } else {
                                format!("its subnets: {}", subnets.join(", "))
                            },
                        );
                        ok = false;
                    }
                } else if dev.is_none() {
                    self.err(inner(v), format!("link-local gateway {g} needs a `dev`"));
                    ok = false;
                }
            }
            nexthops.push(Nexthop {
                gateway: *gw,
                dev: dev.map(|d| d.get_ref().clone()),
                weight,
            });
        }
        let metric = match &r.metric {
            None => None,
            Some(m) => match u32::try_from(*m.get_ref()) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.err(
                        m.span(),
                        format!("metric {} is outside 0..=4294967295", m.get_ref()),
                    );
                    ok = false;
                    None
                }
            },
        };
        ok.then(|| Route {
            node: node.to_string(),
            dst,
            nexthops,
            metric,
        })
    }

    fn check_neighbor(&mut self, r: &RawNeighbor, topo: &Topology) -> Option<Neighbor> {
        if !self.node_exists(topo, &r.node) {
            return None;
        }
        let node = r.node.get_ref().clone();
        let dev_ok = self.dev_exists(topo, &node, &r.dev);
        let addr = match r.addr.get_ref().parse::<IpAddr>() {
            Ok(a) if net::is_test_address(a) || net::is_link_local(a) => Some(a),
            Ok(a) => {
                self.err(
                    inner(&r.addr),
                    format!("neighbour {a} is outside the test prefixes"),
                );
                None
            }
            Err(_) => {
                self.err(
                    inner(&r.addr),
                    format!("malformed neighbour address `{}`", r.addr.get_ref()),
                );
                None
            }
        };
        let mac = net::parse_mac(r.mac.get_ref()).filter(|m| *m != [0; 6]);
        if mac.is_none() {
            self.err_help(
                inner(&r.mac),
                format!("malformed mac `{}`", r.mac.get_ref()),
                "write six hex bytes, e.g. 02:00:00:00:00:01",
            );
        }
        match (dev_ok, addr, mac) {
            (true, Some(addr), Some(mac)) => Some(Neighbor {
                node,
                dev: r.dev.get_ref().clone(),
                addr,
                mac,
            }),
            _ => None,
        }
    }
}

fn fam(v4: bool) -> &'static str {
    if v4 {
        "IPv4"
    } else {
        "IPv6"
    }
}
