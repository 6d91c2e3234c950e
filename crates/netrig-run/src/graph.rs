//! A topology drawn: Graphviz DOT for other tools, and SVG laid out here, so
//! that `netrig graph --svg` and the HTML report show the same picture with
//! every node, link and address, without a layout engine.
//!
//! The SVG layout is layered: nodes (and LAN bridges) go into columns by
//! their distance from the first node, each drawn as a box listing its
//! interfaces with their addresses; a link joins the two interface rows it
//! connects. Labels never sit on lines, so nothing overlaps however many
//! addresses an interface has.

use netrig_spec::{Iface, NodeKind, Topology};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;

fn dot_esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The topology as Graphviz DOT (`netrig graph`).
pub fn dot(topo: &Topology) -> String {
    let mut s = format!(
        "graph \"{}\" {{\n  node [fontname=\"monospace\"];\n",
        dot_esc(&topo.name)
    );
    for n in &topo.nodes {
        let shape = match n.kind {
            NodeKind::Router => "doubleoctagon",
            NodeKind::Host => "box",
        };
        let mut label = dot_esc(&n.name);
        for a in &n.loopback {
            label.push_str(&format!("\\nlo {a}"));
        }
        let _ = writeln!(
            s,
            "  \"{}\" [shape={shape}, label=\"{label}\"];",
            dot_esc(&n.name)
        );
    }
    for lan in &topo.lans {
        let _ = writeln!(
            s,
            "  \"lan:{}\" [shape=ellipse, style=dashed, label=\"{}\"];",
            dot_esc(&lan.name),
            dot_esc(&lan.name)
        );
    }
    let side = |i: &Iface| {
        let mut t = dot_esc(&i.name);
        for a in &i.addrs {
            t.push_str(&format!("\\n{a}"));
        }
        t
    };
    for l in &topo.links {
        let [a, b] = &l.ends;
        // An impaired link is dashed, labelled with what each end sends through.
        let impaired = impair_lines(l)
            .map(|lines| {
                format!(
                    ", style=dashed, label=\"{}\"",
                    lines
                        .iter()
                        .map(|t| dot_esc(t))
                        .collect::<Vec<_>>()
                        .join("\\n")
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  \"{}\" -- \"{}\" [taillabel=\"{}\", headlabel=\"{}\"{impaired}];",
            dot_esc(&a.node),
            dot_esc(&b.node),
            side(a),
            side(b)
        );
    }
    for lan in &topo.lans {
        for m in &lan.members {
            let _ = writeln!(
                s,
                "  \"{}\" -- \"lan:{}\" [taillabel=\"{}\"];",
                dot_esc(&m.node),
                dot_esc(&lan.name),
                side(m)
            );
        }
    }
    s.push_str("}\n");
    s
}

/// Text for XML (SVG and XHTML-compatible HTML): the five special
/// characters escaped, and characters XML 1.0 forbids even escaped (most
/// controls, U+FFFE/U+FFFF) replaced by U+FFFD, so that output of any
/// process stays well-formed.
pub fn esc(s: &str) -> String {
    crate::report::xml(s)
}

// Geometry, in SVG user units (about pixels).
const CHAR_W: f64 = 7.3;
const LINE_H: f64 = 15.0;
const PAD: f64 = 8.0;
const COL_GAP: f64 = 110.0;
const ROW_GAP: f64 = 26.0;
const MARGIN: f64 = 14.0;

/// A box in the drawing: a node or a LAN's bridge.
struct Vertex {
    title: String,
    subtitle: String,
    lan: bool,
    /// Text lines under the title that belong to no interface (loopback).
    extra: Vec<String>,
    /// Interface rows: name and addresses (one line each).
    ifaces: Vec<(String, Vec<String>)>,
    layer: usize,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Vertex {
    fn lines(&self) -> usize {
        1 + self.extra.len()
            + self
                .ifaces
                .iter()
                .map(|(_, a)| a.len().max(1))
                .sum::<usize>()
    }
    /// The y of interface row `i`'s first line (its anchor for links).
    fn iface_y(&self, i: usize) -> f64 {
        let before: usize = 1
            + self.extra.len()
            + self.ifaces[..i]
                .iter()
                .map(|(_, a)| a.len().max(1))
                .sum::<usize>();
        self.y + PAD + LINE_H * before as f64 + LINE_H * 0.5
    }
}

fn iface_lines(i: &Iface) -> (String, Vec<String>) {
    (
        i.name.clone(),
        i.addrs.iter().map(|a| a.to_string()).collect(),
    )
}

/// What each end of an impaired link sends through, one line per impaired
/// direction (`r1 -> h2: delay 20ms (limit 1000)`); `None` for a plain link.
fn impair_lines(l: &netrig_spec::Link) -> Option<Vec<String>> {
    let imp = l.impair.as_ref()?;
    let [a, b] = &l.ends;
    let mut lines: Vec<String> = [(a, b, &imp.dirs[0]), (b, a, &imp.dirs[1])]
        .iter()
        .filter(|(_, _, d)| !d.is_noop())
        .map(|(from, to, d)| format!("{} -> {}: {d}", from.node, to.node))
        .collect();
    if lines.is_empty() {
        lines.push("user-space link, unimpaired".into());
    }
    Some(lines)
}

/// The topology as a standalone SVG document (no scripts, no external
/// references): every node with its loopback addresses, every interface
/// with its addresses, every link and LAN.
pub fn svg(topo: &Topology) -> String {
    let mut vs: Vec<Vertex> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for n in &topo.nodes {
        let mut ifaces: Vec<(String, Vec<String>)> = Vec::new();
        for l in &topo.links {
            for e in l.ends.iter().filter(|e| e.node == n.name) {
                ifaces.push(iface_lines(e));
            }
        }
        for lan in &topo.lans {
            for m in lan.members.iter().filter(|m| m.node == n.name) {
                ifaces.push(iface_lines(m));
            }
        }
        index.insert(n.name.clone(), vs.len());
        vs.push(Vertex {
            title: n.name.clone(),
            subtitle: match n.kind {
                NodeKind::Router => "router".into(),
                NodeKind::Host => "host".into(),
            },
            lan: false,
            extra: n.loopback.iter().map(|a| format!("lo {a}")).collect(),
            ifaces,
            layer: usize::MAX,
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0,
        });
    }
    for lan in &topo.lans {
        index.insert(format!("lan:{}", lan.name), vs.len());
        vs.push(Vertex {
            title: lan.name.clone(),
            subtitle: "lan".into(),
            lan: true,
            extra: Vec::new(),
            ifaces: Vec::new(),
            layer: usize::MAX,
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0,
        });
    }
    // Edges between vertices, each end anchored at an interface row (or at
    // a LAN's box).
    struct Edge {
        a: usize,
        ai: Option<usize>,
        b: usize,
        bi: Option<usize>,
        title: String,
    }
    let row =
        |vs: &[Vertex], v: usize, name: &str| vs[v].ifaces.iter().position(|(n, _)| n == name);
    let mut edges: Vec<Edge> = Vec::new();
    for l in &topo.links {
        let [x, y] = &l.ends;
        let (Some(&a), Some(&b)) = (index.get(&x.node), index.get(&y.node)) else {
            continue;
        };
        edges.push(Edge {
            a,
            ai: row(&vs, a, &x.name),
            b,
            bi: row(&vs, b, &y.name),
            title: match impair_lines(l) {
                None => format!("{}:{} \u{2014} {}:{}", x.node, x.name, y.node, y.name),
                Some(lines) => format!(
                    "{}:{} \u{2014} {}:{} ({})",
                    x.node,
                    x.name,
                    y.node,
                    y.name,
                    lines.join("; ")
                ),
            },
        });
    }
    for lan in &topo.lans {
        let Some(&b) = index.get(&format!("lan:{}", lan.name)) else {
            continue;
        };
        for m in &lan.members {
            let Some(&a) = index.get(&m.node) else {
                continue;
            };
            edges.push(Edge {
                a,
                ai: row(&vs, a, &m.name),
                b,
                bi: None,
                title: format!("{}:{} \u{2014} lan {}", m.node, m.name, lan.name),
            });
        }
    }
    // Layers: breadth-first from the first vertex not yet placed, so each
    // connected part starts again at the left.
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); vs.len()];
    for e in &edges {
        adj[e.a].push(e.b);
        adj[e.b].push(e.a);
    }
    for start in 0..vs.len() {
        if vs[start].layer != usize::MAX {
            continue;
        }
        vs[start].layer = 0;
        let mut q = VecDeque::from([start]);
        while let Some(v) = q.pop_front() {
            for &w in &adj[v] {
                if vs[w].layer == usize::MAX {
                    vs[w].layer = vs[v].layer + 1;
                    q.push_back(w);
                }
            }
        }
    }
    // Sizes.
    for v in &mut vs {
        let mut chars = v.title.chars().count() + v.subtitle.chars().count() + 2;
        for e in &v.extra {
            chars = chars.max(e.chars().count());
        }
        for (n, addrs) in &v.ifaces {
            let n = n.chars().count() + 1;
            chars = chars.max(n + addrs.iter().map(|a| a.chars().count()).max().unwrap_or(0));
        }
        v.w = (chars as f64 * CHAR_W + 2.0 * PAD).max(70.0);
        v.h = v.lines() as f64 * LINE_H + 2.0 * PAD;
    }
    // Columns: order each one by where its neighbours in earlier columns
    // sit (one barycentre pass), which untangles most crossings.
    let layers = vs.iter().map(|v| v.layer + 1).max().unwrap_or(0);
    let mut cols: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, v) in vs.iter().enumerate() {
        cols[v.layer].push(i);
    }
    let mut x = MARGIN;
    let mut height: f64 = 0.0;
    for (c, slot) in cols.iter_mut().enumerate() {
        let mut col = slot.clone();
        if c > 0 {
            let key = |v: usize| {
                let ys: Vec<f64> = adj[v]
                    .iter()
                    .filter(|&&w| vs[w].layer < c)
                    .map(|&w| vs[w].y)
                    .collect();
                if ys.is_empty() {
                    f64::MAX
                } else {
                    ys.iter().sum::<f64>() / ys.len() as f64
                }
            };
            col.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
        }
        let w = col.iter().map(|&v| vs[v].w).fold(0.0, f64::max);
        let mut y = MARGIN;
        for &v in &col {
            vs[v].x = x + (w - vs[v].w) / 2.0;
            vs[v].y = y;
            y += vs[v].h + ROW_GAP;
        }
        height = height.max(y - ROW_GAP + MARGIN);
        x += w + COL_GAP;
        *slot = col;
    }
    let width = (x - COL_GAP + MARGIN).max(2.0 * MARGIN);
    let height = height.max(2.0 * MARGIN);

    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"topology\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"monospace\" font-size=\"12\">"
    );
    let _ = write!(s, "<title>topology {}</title>", esc(&topo.name));
    // Links first, so boxes cover their ends.
    for e in &edges {
        let anchor = |v: usize, i: Option<usize>, toward: f64| {
            let vx = &vs[v];
            let y = match i {
                Some(i) => vx.iface_y(i),
                None => vx.y + vx.h / 2.0,
            };
            let right = toward >= vx.x + vx.w / 2.0;
            (if right { vx.x + vx.w } else { vx.x }, y, right)
        };
        let (bx, ax) = (vs[e.b].x + vs[e.b].w / 2.0, vs[e.a].x + vs[e.a].w / 2.0);
        let (x1, y1, r1) = anchor(e.a, e.ai, bx);
        let (x2, y2, r2) = anchor(e.b, e.bi, ax);
        let bend = ((x2 - x1).abs() / 2.0).max(40.0);
        let c1 = if r1 { x1 + bend } else { x1 - bend };
        let c2 = if r2 { x2 + bend } else { x2 - bend };
        let _ = write!(
            s,
            "<path class=\"link\" d=\"M{x1:.1},{y1:.1} C{c1:.1},{y1:.1} {c2:.1},{y2:.1} {x2:.1},{y2:.1}\" fill=\"none\" stroke=\"#5a6b7d\" stroke-width=\"1.6\"><title>{}</title></path>",
            esc(&e.title)
        );
    }
    for v in &vs {
        let (fill, stroke, dash) = if v.lan {
            ("#fff8e6", "#b7892b", " stroke-dasharray=\"5 3\"")
        } else if v.subtitle == "router" {
            ("#eef3fb", "#3d6bb3", "")
        } else {
            ("#f4f7f4", "#4a7a4a", "")
        };
        let _ = write!(
            s,
            "<g class=\"vertex\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.4\"{dash}/>",
            v.x, v.y, v.w, v.h
        );
        let tx = v.x + PAD;
        let mut ty = v.y + PAD + LINE_H * 0.8;
        let _ = write!(
            s,
            "<text x=\"{tx:.1}\" y=\"{ty:.1}\"><tspan font-weight=\"bold\">{}</tspan><tspan fill=\"#777\"> {}</tspan></text>",
            esc(&v.title),
            esc(&v.subtitle)
        );
        for e in &v.extra {
            ty += LINE_H;
            let _ = write!(
                s,
                "<text x=\"{tx:.1}\" y=\"{ty:.1}\" fill=\"#555\">{}</text>",
                esc(e)
            );
        }
        for (name, addrs) in &v.ifaces {
            ty += LINE_H;
            let indent = tx + (name.chars().count() + 1) as f64 * CHAR_W;
            let _ = write!(
                s,
                "<text x=\"{tx:.1}\" y=\"{ty:.1}\" fill=\"{stroke}\">{}</text>",
                esc(name)
            );
            for (k, a) in addrs.iter().enumerate() {
                if k > 0 {
                    ty += LINE_H;
                }
                let _ = write!(s, "<text x=\"{indent:.1}\" y=\"{ty:.1}\">{}</text>", esc(a));
            }
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impaired_link_is_dashed_and_says_what_each_end_sends_through() {
        let topo = netrig_spec::parse_topology(
            "t.toml",
            "[nodes.a]\n[nodes.b]\n[[links]]\nends = [\"a 192.0.2.1/24\", \"b 192.0.2.2/24\"]\n[links.impair.a]\nloss = \"1%\"\n",
        )
        .expect("valid");
        let d = dot(&topo);
        assert!(
            d.contains("style=dashed, label=\"a -> b: loss 1% (limit 1000)\""),
            "{d}"
        );
        // The unimpaired direction is not listed.
        assert!(!d.contains("b -> a"), "{d}");
        assert!(svg(&topo).contains("(a -&gt; b: loss 1% (limit 1000))"));
    }

    const TOPO: &str = r#"
name = "t"
[nodes.h1]
[nodes.r1]
forwarding = true
loopback = ["198.18.9.9/32"]
[nodes.h2]
[nodes.h3]
[[links]]
ends = ["h1:eth0 192.0.2.2/24 2001:db8:1::2/64", "r1:eth0 192.0.2.1/24 2001:db8:1::1/64"]
[[links]]
ends = ["r1:eth1 198.51.100.1/24", "h2:eth0 198.51.100.2/24"]
[[lans]]
name = "lan0"
ends = ["r1:eth2 203.0.113.1/24", "h3:eth0 203.0.113.2/24"]
"#;

    #[test]
    fn svg_shows_every_node_interface_and_address() {
        let topo = netrig_spec::parse_topology("t.toml", TOPO).expect("valid topology");
        let s = svg(&topo);
        for want in [
            "h1",
            "r1",
            "h2",
            "h3",
            "lan0",
            "eth2",
            "198.18.9.9/32",
            "192.0.2.2/24",
            "2001:db8:1::1/64",
            "198.51.100.2/24",
            "203.0.113.1/24",
        ] {
            assert!(s.contains(want), "{want} missing from\n{s}");
        }
        // Two links and two LAN members.
        assert_eq!(s.matches("class=\"link\"").count(), 4, "{s}");
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(!s.contains("NaN"), "{s}");
    }

    #[test]
    fn esc_keeps_xml_well_formed() {
        assert_eq!(
            esc("a<b>&\"c'\u{1}\u{ffff}é"),
            "a&lt;b&gt;&amp;&quot;c&#39;\u{fffd}\u{fffd}é"
        );
    }
}
