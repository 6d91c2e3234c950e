//! TCP/UDP probe pair across two throwaway namespaces.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use netrig_wire::{probe_client, PortRange, ProbeClientOptions, ProbeProto, ProbeServer};
use support::Pair;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn answers_with_name_from_distinct_source_ports() {
    require_netns!();
    Pair::with(|p| {
        let server = p
            .in_b(|| ProbeServer::bind(sa("[::]:7000"), "b1", true, true).unwrap())
            .spawn();
        for (proto, target) in [
            (ProbeProto::Tcp, "192.0.2.2:7000"),
            (ProbeProto::Udp, "192.0.2.2:7000"),
            (ProbeProto::Tcp, "[2001:db8:1::2]:7000"),
            (ProbeProto::Udp, "[2001:db8:1::2]:7000"),
        ] {
            let mut o = ProbeClientOptions::new(sa(target), proto, 40);
            o.src_ports = PortRange::new(40000, 40039);
            let rep = probe_client(&o).unwrap();
            assert_eq!(rep.answered(), 40, "{proto:?} {target}: {rep}");
            assert_eq!(rep.by_name().get("b1"), Some(&40));
            let ports: Vec<u16> = rep.records.iter().map(|r| r.src_port).collect();
            assert_eq!(ports, (40000..40040).collect::<Vec<u16>>());
        }
        // Kernel-chosen ports are reported too.
        let rep = probe_client(&ProbeClientOptions::new(
            sa("192.0.2.2:7000"),
            ProbeProto::Tcp,
            5,
        ))
        .unwrap();
        assert_eq!(rep.answered(), 5);
        assert!(rep.records.iter().all(|r| r.src_port != 0));
        let st = server.stop().unwrap();
        assert_eq!(st.tcp_connections, 85);
        assert_eq!(st.udp_datagrams, 80);
        // The server saw the source ports the client chose.
        let seen: HashSet<u16> = st.peers.iter().map(|(_, a)| a.port()).collect();
        assert!((40000..40040).all(|p| seen.contains(&p)));
    });
}

#[test]
fn refused_and_timeouts_are_recorded() {
    require_netns!();
    Pair::with(|_| {
        let t = Duration::from_millis(200);
        for proto in [ProbeProto::Tcp, ProbeProto::Udp] {
            // Nobody listens on 7001: RST / port unreachable.
            let mut o = ProbeClientOptions::new(sa("192.0.2.2:7001"), proto, 3);
            o.timeout = t;
            let rep = probe_client(&o).unwrap();
            assert_eq!(rep.refused(), 3, "{proto:?}: {rep}");
            // Nobody has this address: no answer at all.
            let mut o = ProbeClientOptions::new(sa("192.0.2.77:7000"), proto, 2);
            o.timeout = t;
            let rep = probe_client(&o).unwrap();
            assert_eq!(rep.timeouts(), 2, "{proto:?}: {rep}");
            assert!(rep
                .records
                .iter()
                .all(|r| r.elapsed < Duration::from_millis(400)));
        }
        // Too few source ports is a usage error, not a silent reuse.
        let mut o = ProbeClientOptions::new(sa("192.0.2.2:7000"), ProbeProto::Tcp, 10);
        o.src_ports = PortRange::new(1000, 1004);
        assert!(probe_client(&o).is_err());
    });
}

/// A server that accepts and then aborts (SO_LINGER 0: RST instead of FIN)
/// must show up as resets, so a "none reset" expectation can fail.
#[test]
fn resets_are_recorded() {
    require_netns!();
    Pair::with(|p| {
        let listener = p.in_b(|| std::net::TcpListener::bind("192.0.2.2:7100").unwrap());
        let count = 6;
        let server = p.spawn_in_b(move || {
            use std::os::fd::AsRawFd;
            for _ in 0..count {
                let (conn, _) = listener.accept().unwrap();
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: setting SO_LINGER on a socket we own.
                unsafe {
                    libc::setsockopt(
                        conn.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        &linger as *const libc::linger as *const libc::c_void,
                        std::mem::size_of::<libc::linger>() as u32,
                    );
                }
                drop(conn);
            }
        });
        let mut o = ProbeClientOptions::new(sa("192.0.2.2:7100"), ProbeProto::Tcp, count);
        o.timeout = Duration::from_secs(2);
        let rep = probe_client(&o).unwrap();
        server.join().unwrap();
        assert_eq!(rep.resets(), u64::from(count), "{rep}");
        assert_eq!(rep.answered(), 0, "{rep}");
    });
}
