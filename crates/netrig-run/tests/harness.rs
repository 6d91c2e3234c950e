//! The libtest-compatible harness on itself: Rust tests with and without a
//! lab, plus the bundled basic scenarios, each in its own case process.

use netrig_run::case::RustCtx;
use netrig_run::harness::{Harness, Test};
use std::time::Duration;

const PAIR: &str = r#"
[nodes.a]
[nodes.b]
[[links]]
ends = ["a:eth0 192.0.2.1/24", "b:eth0 192.0.2.2/24"]
"#;

fn ping_in_lab(ctx: &mut RustCtx) -> Result<(), String> {
    let lab = ctx.lab.as_ref().ok_or("the test asked for a lab")?;
    let opts = netrig_wire::PingOptions {
        timeout: Duration::from_millis(2500),
        ..Default::default()
    };
    let dst = std::net::IpAddr::from([192, 0, 2, 2]);
    let r = lab
        .run_in("a", || netrig_wire::ping(dst, &opts))
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if r.received == 0 {
        return Err(format!("no reply from {dst}: {r:?}"));
    }
    Ok(())
}

fn isolated_without_lab(ctx: &mut RustCtx) -> Result<(), String> {
    // No lab: the case still runs in a network namespace of its own, and in
    // a PID namespace where it is PID 1.
    if ctx.lab.is_some() {
        return Err("unexpected lab".into());
    }
    let dev = std::fs::read_to_string("/proc/thread-self/net/dev").map_err(|e| e.to_string())?;
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    if ifaces != ["lo"] {
        return Err(format!("expected only lo, saw {ifaces:?}"));
    }
    if std::process::id() != 1 {
        return Err(format!("expected PID 1, am {}", std::process::id()));
    }
    Ok(())
}

fn main() {
    Harness::new()
        .test(Test::new("rust_ping_in_lab", ping_in_lab).topology(PAIR))
        .test(Test::new("rust_isolated_without_lab", isolated_without_lab))
        .suite(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/basic/ping.toml"
        ))
        .run()
}
