//! Ping over a veth pair between two throwaway namespaces.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use netrig_wire::{ping, PingMode, PingOptions};
use support::Pair;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn fast(count: u32) -> PingOptions {
    PingOptions {
        count,
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(300),
        ..Default::default()
    }
}

#[test]
fn ping_v4_v6_raw_and_datagram() {
    require_netns!();
    Pair::with(|p| {
        // Fresh namespaces disallow ping sockets ("1 0"): Auto falls back to raw.
        let r = ping(ip(support::B_IP), &fast(5)).unwrap();
        assert_eq!(r.mode, PingMode::Raw);
        assert_eq!((r.sent, r.received, r.duplicates), (5, 5, 0), "{r}");
        assert_eq!(r.loss(), 0.0);
        let (mn, avg, mx) = (
            r.rtt_min().unwrap(),
            r.rtt_avg().unwrap(),
            r.rtt_max().unwrap(),
        );
        assert!(
            mn <= avg && avg <= mx && mx < Duration::from_millis(100),
            "{r}"
        );
        let r6 = ping(ip(support::B_IP6), &fast(4)).unwrap();
        assert_eq!((r6.sent, r6.received), (4, 4), "{r6} {:?}", r6.errors);

        // Allow datagram ping sockets in namespace A only.
        p.sysctl_a("net.ipv4.ping_group_range", "0 2147483647");
        let opts = PingOptions {
            mode: PingMode::Datagram,
            ..fast(3)
        };
        let r = ping(ip(support::B_IP), &opts).unwrap();
        assert_eq!(r.mode, PingMode::Datagram);
        assert_eq!(r.received, 3, "{r}");
        let r6 = ping(ip(support::B_IP6), &opts).unwrap();
        assert_eq!(r6.received, 3, "{r6}");
        assert!(r6.to_string().contains("0% packet loss"), "{r6}");
    });
}

#[test]
fn ping_reports_loss_and_stays_bounded() {
    require_netns!();
    Pair::with(|p| {
        // Nobody has this address: ARP fails, every request is lost.
        let r = ping(ip("192.0.2.77"), &fast(3)).unwrap();
        assert_eq!((r.sent, r.received), (3, 0), "{r}");
        assert_eq!(r.loss(), 1.0);
        assert!(r.rtt_avg().is_none());
        assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);
        // The deadline cuts a long run short (the last reply may be in flight).
        p.ip_b("ip addr add 198.51.100.2/24 dev vb");
        p.ip_a("ip addr add 198.51.100.1/24 dev va");
        let opts = PingOptions {
            count: 1000,
            interval: Duration::from_millis(10),
            deadline: Duration::from_millis(300),
            ..fast(0)
        };
        let r = ping(ip("198.51.100.2"), &opts).unwrap();
        assert!(r.sent < 1000 && r.sent > 10, "{r}");
        assert!(r.elapsed < Duration::from_millis(450), "{:?}", r.elapsed);
        assert!(r.received + 1 >= r.sent, "{r}");
    });
}
