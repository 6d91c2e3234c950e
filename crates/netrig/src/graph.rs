//! `netrig graph`: the topology as Graphviz DOT, or SVG rendered in-process.

use crate::labcmd::load;
use crate::{CliError, CliResult};
use miette::miette;
use netrig_spec::{NodeKind, Topology};
use std::path::Path;

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn dot(topo: &Topology) -> String {
    let mut s = format!(
        "graph \"{}\" {{\n  node [fontname=\"monospace\"];\n",
        esc(&topo.name)
    );
    for n in &topo.nodes {
        let shape = match n.kind {
            NodeKind::Router => "doubleoctagon",
            NodeKind::Host => "box",
        };
        let mut label = esc(&n.name);
        for a in &n.loopback {
            label.push_str(&format!("\\nlo {a}"));
        }
        s.push_str(&format!(
            "  \"{}\" [shape={shape}, label=\"{label}\"];\n",
            esc(&n.name)
        ));
    }
    for lan in &topo.lans {
        s.push_str(&format!(
            "  \"lan:{}\" [shape=ellipse, style=dashed, label=\"{}\"];\n",
            esc(&lan.name),
            esc(&lan.name)
        ));
    }
    let side = |i: &netrig_spec::Iface| {
        let mut t = esc(&i.name);
        for a in &i.addrs {
            t.push_str(&format!("\\n{a}"));
        }
        t
    };
    for l in &topo.links {
        let [a, b] = &l.ends;
        s.push_str(&format!(
            "  \"{}\" -- \"{}\" [taillabel=\"{}\", headlabel=\"{}\"];\n",
            esc(&a.node),
            esc(&b.node),
            side(a),
            side(b)
        ));
    }
    for lan in &topo.lans {
        for m in &lan.members {
            s.push_str(&format!(
                "  \"{}\" -- \"lan:{}\" [taillabel=\"{}\"];\n",
                esc(&m.node),
                esc(&lan.name),
                side(m)
            ));
        }
    }
    s.push_str("}\n");
    s
}

pub fn svg(dot_text: &str) -> Result<String, String> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};
    let mut parser = DotParser::new(dot_text);
    let graph = parser.process()?;
    let mut gb = GraphBuilder::new();
    gb.visit_graph(&graph);
    let mut vg = gb.get();
    let mut w = SVGWriter::new();
    vg.do_it(false, false, false, &mut w);
    Ok(w.finalize())
}

pub fn graph(file: &Path, as_svg: bool) -> CliResult {
    let topo = load(file)?;
    let d = dot(&topo);
    if as_svg {
        // layout-rs draws edge labels only, so render a simplified graph.
        let simple = d
            .replace("taillabel", "label")
            .replace(", headlabel=", ", xlabel=");
        let out = svg(&simple).map_err(|e| CliError::fail(miette!("rendering SVG: {e}")))?;
        print!("{out}");
    } else {
        print!("{d}");
    }
    Ok(0)
}
