//! Does the first packet after `Lab::build` arrive? Builds the seed topology
//! N times and sends one UDP datagram from h1 to each server right away.
//! `first_packet [N]`; prints the misses and the counters that explain them.
use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed.toml");
    let topo = netrig_spec::load_topology(&path).expect("seed parses");
    let mut misses = 0;
    for round in 0..n {
        let mut lab = netrig_lab::Lab::build(&topo, &Default::default()).expect("builds");
        for (node, dst) in [
            ("h2", "198.51.100.2"),
            ("h3", "203.0.113.2"),
            ("h2", "2001:db8:2::2"),
        ] {
            let ip: IpAddr = dst.parse().unwrap();
            let server = lab
                .run_in(node, || UdpSocket::bind((ip, 9000)))
                .unwrap()
                .unwrap();
            server
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let client = lab
                .run_in("h1", || {
                    UdpSocket::bind(if ip.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
                })
                .unwrap()
                .unwrap();
            client.send_to(b"x", (ip, 9000)).unwrap();
            let mut buf = [0u8; 4];
            if server.recv_from(&mut buf).is_err() {
                misses += 1;
                let mut report = format!("round {round}: {dst} missed;");
                for (nd, ifc) in [
                    ("h1", "eth0"),
                    ("r1", "eth0"),
                    ("r1", "eth1"),
                    ("r1", "eth2"),
                    (node, "eth0"),
                ] {
                    let s = lab.link_stats(nd, ifc).unwrap();
                    report.push_str(&format!(
                        " {nd}:{ifc} tx {} txdrop {} rx {} rxdrop {};",
                        s.tx_packets, s.tx_dropped, s.rx_packets, s.rx_dropped
                    ));
                }
                println!("{report}");
                for nd in ["h1", "r1", node] {
                    let out = lab
                        .command(nd, "ip")
                        .unwrap()
                        .args(["-s", "neigh"])
                        .output()
                        .unwrap();
                    println!(
                        "  {nd} neigh: {}",
                        String::from_utf8_lossy(&out.stdout).replace('\n', " | ")
                    );
                    let out = lab
                        .command(nd, "tc")
                        .unwrap()
                        .args(["-s", "qdisc"])
                        .output()
                        .unwrap();
                    println!(
                        "  {nd} qdisc: {}",
                        String::from_utf8_lossy(&out.stdout).replace('\n', " | ")
                    );
                }
                let late = server.recv_from(&mut buf).is_ok();
                println!("  arrived late (within another 300 ms): {late}");
            }
        }
    }
    println!("{misses} misses in {} sends", n * 3);
}
