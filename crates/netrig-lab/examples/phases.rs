//! Print how long each build phase of a topology takes: `phases FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: phases FILE");
    let topo = netrig_spec::load_topology(std::path::Path::new(&path)).expect("valid topology");
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let lab = netrig_lab::Lab::build(&topo, &Default::default()).expect("builds");
        let up = t.elapsed();
        for (p, d) in &lab.timings {
            print!("{p}: {:.2} ms; ", d.as_secs_f64() * 1e3);
        }
        drop(lab);
        println!(
            "total {:.2} ms, down {:.2} ms",
            up.as_secs_f64() * 1e3,
            (t.elapsed() - up).as_secs_f64() * 1e3
        );
    }
}
