//! `netrig graph`: the topology as Graphviz DOT, or as SVG drawn by
//! `netrig_run::graph` (the same drawing the HTML report shows).

use crate::labcmd::load;
use crate::CliResult;
use std::path::Path;

pub fn graph(file: &Path, as_svg: bool) -> CliResult {
    let topo = load(file)?;
    if as_svg {
        print!("{}", netrig_run::graph::svg(&topo));
    } else {
        print!("{}", netrig_run::graph::dot(&topo));
    }
    Ok(0)
}
